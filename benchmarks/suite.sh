#!/usr/bin/env bash
# The benchmark suite: every workload against every system, repeated, with
# systems and workloads interleaved so machine drift hits all alike.
#
#   benchmarks/suite.sh [--size quick|full] [--repeat N] [--build DIR] [--out DIR]
#                       [--systems "vmgc-uffd boehm ..."] [--only WORKLOAD]
#
# Writes into the output directory (default bench-results/DATE-SIZE):
#   results.csv   one line per run (see harness.h's bench_csv_header)
#   summary.csv   one line per workload and system: medians over the repeats for
#                 time, CPU, memory, collections and MMU; pause percentiles over
#                 all pauses of all repeats pooled
#   table.md      the same as a Markdown table, with time and footprint relative
#                 to the best system of each row; printed at the end
#   pauses.png mmu.png time.png memory.png   (gnuplot; see plots.gp)
#   checkpoint.csv checkpoint.md checkpoint.png   checkpoints against a fork()
#                 child and dd, and restore times (benchmarks/ckptbench; --only
#                 checkpoint runs just these)
#   scheme/       the example interpreter (examples/scheme) on vmgc and on Boehm
#                 GC, running the same Scheme programs: the same files as above
#                 for those rows (--only scheme runs just these)
#   raw/          each run's pause list and MMU curve
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
size=quick
repeat=
build=.
out=
systems="vmgc-uffd vmgc-mprotect boehm boehm-incremental glibc jemalloc"
only=
while [ $# -gt 0 ]; do
    case "$1" in
    --size) size=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --systems) systems=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    *) echo "suite: unknown option '$1' (see the comment at the top of $0)" >&2; exit 2 ;;
    esac
done
case "$size" in
quick) repeat=${repeat:-3}; timeout_s=120 ;;
full) repeat=${repeat:-5}; timeout_s=900 ;;
*) echo "suite: --size must be quick or full, not '$size'" >&2; exit 2 ;;
esac
bin="$build/benchmarks"
[ -x "$bin/gcbench" ] || { echo "suite: $bin/gcbench is not built: run make in $build first" >&2; exit 1; }
out=${out:-bench-results/$(date +%Y%m%d-%H%M%S)-$size}
mkdir -p "$out/raw"

# Rows: label|program|arguments.  The label names the row in the table and plots;
# the workloads pick their own quick or full sizes, but for gcold the suite
# chooses two live sizes, to show pauses against live size.
if [ "$size" = quick ]; then gcold_sizes="50 200"; else gcold_sizes="100 1024"; fi
rows="gcbench|gcbench|
binary-trees|binary_trees|
mt-gcbench-1t|mt_gcbench|--threads 1
mt-gcbench-2t|mt_gcbench|--threads 2
$(for m in $gcold_sizes; do echo "gcold-${m}M|gcold|--live $m"; done)
mperm|mperm|
alloc|alloc|"
[ -z "$only" ] || rows=$(printf '%s\n' "$rows" | grep "^$only|" || true)
[ -n "$rows" ] || [ "$only" = checkpoint ] || [ "$only" = scheme ] ||
    { echo "suite: no workload matches '$only'" >&2; exit 2; }

failures=0
if [ -n "$rows" ]; then
echo "label,$("$bin/gcbench" --header)" >"$out/results.csv"
read -r -a sys_list <<<"$systems"
nsys=${#sys_list[@]}
for r in $(seq "$repeat"); do
    while IFS='|' read -r label prog args; do
        # rotate the order of the systems each repeat
        for k in $(seq 0 $((nsys - 1))); do
            sys=${sys_list[$(((k + r) % nsys))]}
            raw="$out/raw/$label.$sys.$r"
            # shellcheck disable=SC2086 # args holds several words on purpose
            if line=$(timeout "$timeout_s" "$bin/$prog" --gc "$sys" --size "$size" $args \
                      --pauses "$raw.pauses" --mmu "$raw.mmu" 2>"$raw.err"); then
                echo "$label,$line" >>"$out/results.csv"
                printf '  %-15s %-18s run %d: %s s\n' "$label" "$sys" "$r" "$(cut -d, -f4 <<<"$line")" >&2
            else
                failures=$((failures + 1))
                echo "suite: $label with $sys failed (run $r): $(tail -1 "$raw.err")" >&2
            fi
        done
    done <<<"$rows"
done

"$here/summarize.sh" "$out"
if command -v gnuplot >/dev/null; then
    (cd "$out" && gnuplot -e "systems='$systems'" "$here/plots.gp") ||
        echo "suite: gnuplot failed; the tables are complete" >&2
else
    echo "suite: gnuplot not installed (apt-get install gnuplot-nox): no plots" >&2
fi
fi # rows

# Checkpoints (benchmarks/ckptbench, vmgc only): the checkpoint's pause and
# write against a fork() child writing the same heap and dd, and restore
# times; 2 mutator threads write during every save.
if [ -z "$only" ] || [ "$only" = checkpoint ]; then
    if [ "$size" = quick ]; then ck_sizes="100"; else ck_sizes="100 1024"; fi
    ck_backends=""
    for sys in $systems; do
        case "$sys" in vmgc-uffd) ck_backends="$ck_backends uffd" ;; vmgc-mprotect) ck_backends="$ck_backends mprotect" ;; esac
    done
    "$bin/ckptbench" --header >"$out/checkpoint.csv"
    for b in $ck_backends; do
        for m in $ck_sizes; do
            printf '  %-15s %-18s %s MiB live\n' checkpoint "vmgc-$b" "$m" >&2
            if "$bin/ckptbench" --live "$m" --backend "$b" --repeat "$repeat" --dir "$out/raw" \
                >"$out/raw/checkpoint.$b.$m.csv" 2>"$out/raw/checkpoint.$b.$m.err"; then
                grep ',median$' "$out/raw/checkpoint.$b.$m.csv" | sed 's/,median$//' >>"$out/checkpoint.csv"
            else
                failures=$((failures + 1))
                echo "suite: ckptbench $b $m MiB failed: $(tail -1 "$out/raw/checkpoint.$b.$m.err")" >&2
            fi
        done
    done
    "$here/cktable.sh" "$out/checkpoint.csv" >"$out/checkpoint.md"
    if command -v gnuplot >/dev/null && [ "$(wc -l <"$out/checkpoint.csv")" -gt 1 ]; then
        (cd "$out" && gnuplot "$here/ckplots.gp") || echo "suite: gnuplot failed on checkpoint.png" >&2
    fi
fi

# The example interpreter on each collector (vmgc-scheme, vmgc-scheme-boehm):
# Scheme programs of examples/scheme/bench, one process per run, measured by
# the interpreter itself (SCHEME_REPORT: examples/scheme/report.h).
if [ -z "$only" ] || [ "$only" = scheme ]; then
    sbin="$build/examples/scheme"
    if [ -x "$sbin/vmgc-scheme" ]; then
        progs="$here/../examples/scheme/bench"
        # label|program|quick size|full size
        scheme_rows="scm-gcbench|gcbench|14|18
scm-binary-trees|binary-trees|14|18
scm-deriv|deriv|100000|2000000
scm-destruct|destruct|30|600
scm-mperm|mperm|8|9
scm-nboyer|nboyer|10|200
scm-strings|strings|4000|80000
scm-weak-table|weak-table|20000|200000"
        sout="$out/scheme"
        mkdir -p "$sout/raw"
        echo "label,$("$bin/gcbench" --header)" >"$sout/results.csv"
        scheme_systems=""
        for sys in $systems; do
            case "$sys" in vmgc-uffd | vmgc-mprotect | boehm) scheme_systems="$scheme_systems $sys" ;; esac
        done
        read -r -a ssys <<<"$scheme_systems"
        for r in $(seq "$repeat"); do
            while IFS='|' read -r label prog quick full; do
                n=$quick; [ "$size" = full ] && n=$full
                for k in $(seq 0 $((${#ssys[@]} - 1))); do
                    sys=${ssys[$(((k + r) % ${#ssys[@]}))]}
                    raw="$sout/raw/$label.$sys.$r"
                    exe="$sbin/vmgc-scheme"; [ "$sys" = boehm ] && exe="$sbin/vmgc-scheme-boehm"
                    [ -x "$exe" ] || continue
                    rm -f "$raw.csv"
                    if VMGC_BARRIER=${sys#vmgc-} SCHEME_REPORT="$raw.csv" SCHEME_REPORT_LABEL="$prog" \
                        SCHEME_REPORT_PARAMS="n=$n" SCHEME_REPORT_PAUSES="$raw.pauses" \
                        SCHEME_REPORT_MMU="$raw.mmu" timeout "$timeout_s" "$exe" "$progs/$prog.scm" \
                        -e "(run $n)" >"$raw.out" 2>"$raw.err" && [ -s "$raw.csv" ]; then
                        # the interpreter names the backend it used; the row says the system asked for
                        sed "s/^\([^,]*,[^,]*\),[^,]*,/$label,\1,$sys,/" "$raw.csv" >>"$sout/results.csv"
                        printf '  %-18s %-18s run %d: %s s\n' "$label" "$sys" "$r" "$(cut -d, -f4 <"$raw.csv")" >&2
                    else
                        failures=$((failures + 1))
                        echo "suite: $label with $sys failed (run $r): $(tail -1 "$raw.err")" >&2
                    fi
                done
            done <<<"$scheme_rows"
        done
        "$here/summarize.sh" "$sout"
        if command -v gnuplot >/dev/null; then
            (cd "$sout" && gnuplot -e "systems='$scheme_systems'" "$here/plots.gp") ||
                echo "suite: gnuplot failed on the scheme plots; the tables are complete" >&2
        fi
    else
        echo "suite: $sbin/vmgc-scheme is not built: no interpreter rows" >&2
    fi
fi

echo
echo "Results in $(cd "$out" && pwd) ($repeat runs each, $(nproc) cores, Linux $(uname -r))"
echo
[ ! -f "$out/table.md" ] || cat "$out/table.md"
[ ! -f "$out/checkpoint.md" ] || { echo; cat "$out/checkpoint.md"; }
[ ! -f "$out/scheme/table.md" ] || { echo; echo "The example interpreter (vmgc-scheme):"; cat "$out/scheme/table.md"; }
[ "$failures" -eq 0 ] || { echo "suite: $failures runs failed (see above)" >&2; exit 1; }

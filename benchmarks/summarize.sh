#!/usr/bin/env bash
# Summarize a suite run: benchmarks/summarize.sh DIR, where DIR holds
# results.csv and raw/ from suite.sh.  Writes summary.csv, table.md and the
# data files the plots read (DIR/plot/).  POSIX awk only (Debian's is mawk).
set -euo pipefail
dir=$1
res="$dir/results.csv"
[ -s "$res" ] || { echo "summarize: $res is missing or empty" >&2; exit 1; }
mkdir -p "$dir/plot"
order="vmgc-uffd vmgc-mprotect boehm boehm-incremental glibc jemalloc"
labels=$(tail -n +2 "$res" | cut -d, -f1 | awk '!seen[$0]++')
present=$(tail -n +2 "$res" | cut -d, -f4 | sort -u)
systems=$(for s in $order; do grep -qx -- "$s" <<<"$present" && echo "$s"; done || true)

# The median of field f over the n rows read into v[f, row] (insertion sort:
# POSIX awk has none), for the awk programs below.
med_awk='
    function med(f,   a, b, t, x) {
        for (a = 1; a <= n; a++) x[a] = v[f, a]
        for (a = 2; a <= n; a++) { t = x[a]; for (b = a - 1; b >= 1 && x[b] + 0 > t + 0; b--) x[b + 1] = x[b]; x[b + 1] = t }
        return n % 2 ? x[(n + 1) / 2] : (x[n / 2] + x[n / 2 + 1]) / 2
    }'

# Pooled pause percentiles (nearest rank) of every run of one label and system.
pooled() {
    cat "$dir/raw/$1.$2".*.pauses 2>/dev/null | cut -d, -f2 | sort -g |
        awk -v out="$dir/plot/pauses.$1.$2.dat" '
            { v[NR] = $1 }
            function rank(q,   k) { k = int(q * NR + 0.999999); if (k < 1) k = 1; return v[k] }
            END {
                if (NR == 0) { print "0,0,0,0"; printf "" > out; exit }
                printf "%s,%s,%s,%s\n", rank(0.5), rank(0.99), rank(0.999), v[NR]
                for (i = 1; i <= NR; i++) printf "%.6f %s\n", (i - 0.5) / NR, v[i] > out
            }'
}

# Medians of the footprint's parts at its peak, which a vmgc run prints on
# stderr (harness.c; doc/design/collector.md .sol.footprint): "live/floating/
# young/reserve/held" in MiB, or "" for the other systems.
parts() {
    cat "$dir/raw/$1.$2".*.err 2>/dev/null |
        sed -n 's/.*live after the last collection \([0-9.]*\), floating \([0-9.]*\), young \([0-9.]*\), copy reserve \([0-9.]*\),.*held for reuse \([0-9.]*\).*/\1 \2 \3 \4 \5/p' |
        awk "$med_awk"'
            { n++; for (f = 1; f <= 5; f++) v[f, n] = $f }
            END { if (n) printf "%.0f/%.0f/%.0f/%.0f/%.0f", med(1), med(2), med(3), med(4), med(5) }'
}

# Median MMU per window over the runs of one label and system.
mmu_curve() {
    cat "$dir/raw/$1.$2".*.mmu 2>/dev/null | awk -F, '
        { n[$1]++; v[$1, n[$1]] = $2; if (!($1 in seen)) { seen[$1] = 1; w[++nw] = $1 } }
        END {
            for (i = 1; i <= nw; i++) {
                k = w[i]; m = n[k]
                for (a = 1; a <= m; a++) x[a] = v[k, a]
                for (a = 2; a <= m; a++) { t = x[a]; for (b = a - 1; b >= 1 && x[b] > t; b--) x[b + 1] = x[b]; x[b + 1] = t }
                print k, (m % 2 ? x[(m + 1) / 2] : (x[m / 2] + x[m / 2 + 1]) / 2)
            }
        }' >"$dir/plot/mmu.$1.$2.dat"
}

{
    echo "label,workload,params,system,runs,wall_s,cpu_s,peak_rss_mib,peak_footprint_mib,collections,pause_total_ms,p50_us,p99_us,p999_us,max_us,mmu_1ms,mmu_10ms,mmu_100ms,extra,footprint_parts_mib"
    for label in $labels; do
        for sys in $systems; do
            grep -q "^$label,[^,]*,[^,]*,$sys," "$res" || continue
            mmu_curve "$label" "$sys"
            pct=$(pooled "$label" "$sys")
            fp=$(parts "$label" "$sys")
            grep "^$label,[^,]*,[^,]*,$sys," "$res" | awk -F, -v pct="$pct" -v fp="$fp" "$med_awk"'
                { n++; for (f = 5; f <= 19; f++) v[f, n] = $f; head = $1 "," $2 "," $3 "," $4 }
                END {
                    printf "%s,%d,%.3f,%.3f,%.1f,%.1f,%g,%.2f,%s,%.4f,%.4f,%.4f,%g,%s\n", head, n,
                        med(5), med(6), med(7), med(8), med(9), med(11), pct, med(16), med(17),
                        med(18), med(19), fp
                }'
        done
    done
} >"$dir/summary.csv"

# The table, with time and footprint relative to the best system of the row.
awk -F, '
    NR == 1 { next }
    { row[++n] = $0; l = $1
      if (!(l in best_t) || $6 < best_t[l]) best_t[l] = $6
      if (!(l in best_m) || $9 < best_m[l]) best_m[l] = $9 }
    END {
        print "| workload | params | system | wall s | x best | CPU s | footprint MiB | x best | peak RSS MiB | GCs | pause total ms | p50 us | p99 us | p99.9 us | max us | MMU 1ms | MMU 10ms | MMU 100ms | extra | footprint parts MiB: live/floating/young/reserve/held |"
        print "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
        for (i = 1; i <= n; i++) {
            split(row[i], f, ",")
            printf "| %s | %s | %s | %.3f | %.2f | %.3f | %.1f | %.2f | %.1f | %s | %.1f | %.0f | %.0f | %.0f | %.0f | %.3f | %.3f | %.3f | %s | %s |\n",
                f[1], f[3], f[4], f[6], f[6] / best_t[f[1]], f[7], f[9], f[9] / best_m[f[1]], f[8], f[10],
                f[11], f[12], f[13], f[14], f[15], f[16], f[17], f[18], (f[19] == 0 ? "" : f[19]), f[20]
        }
    }' "$dir/summary.csv" >"$dir/table.md"

# Bars: one line per label, one column per system (time, then footprint),
# relative to the row's best; "?" where a system has no result.
for what in 6:time 9:memory; do
    col=${what%%:*}
    name=${what##*:}
    {
        printf 'label'
        for sys in $systems; do printf ' %s' "$sys"; done
        echo
        for label in $labels; do
            printf '%s' "$label"
            for sys in $systems; do
                awk -F, -v l="$label" -v s="$sys" -v c="$col" '
                    NR > 1 && $1 == l { if (best == "" || $c + 0 < best) best = $c + 0; if ($4 == s) v = $c }
                    END { if (v == "") printf " ?"; else printf " %.3f", v / best }' "$dir/summary.csv"
            done
            echo
        done
    } >"$dir/plot/$name.dat"
done
printf '%s\n' $labels >"$dir/plot/labels"
printf '%s\n' $systems >"$dir/plot/systems"
for label in $labels; do # the systems with pauses to plot for each label
    for sys in $systems; do
        [ -s "$dir/plot/pauses.$label.$sys.dat" ] && echo "$sys"
    done >"$dir/plot/paused.$label" || true
done

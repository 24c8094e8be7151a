#!/usr/bin/env bash
# Run GCBench for every system, interleaved, REPEAT times (default 5), and
# print the median of each column per system as a Markdown table.
#   benchmarks/run-gcbench.sh [BUILD_DIR] [REPEAT]
set -euo pipefail
build=${1:-.}
repeat=${2:-5}
bin="$build/benchmarks/gcbench"
[ -x "$bin" ] || { echo "run-gcbench: $bin not built (make first)" >&2; exit 1; }
jemalloc=$(ls /usr/lib/*/libjemalloc.so.2 2>/dev/null | head -1 || true)
out=$(mktemp)
for r in $(seq "$repeat"); do
    VMGC_BARRIER=uffd "$bin" --gc vmgc >>"$out"
    VMGC_BARRIER=mprotect "$bin" --gc vmgc >>"$out"
    "$bin" --gc boehm >>"$out"
    "$bin" --gc boehm-incremental >>"$out"
    "$bin" --gc malloc | sed 's/^malloc,/glibc-malloc,/' >>"$out"
    if [ -n "$jemalloc" ]; then
        LD_PRELOAD="$jemalloc" "$bin" --gc malloc | sed 's/^malloc,/jemalloc,/' >>"$out"
    fi
done
echo "GCBench, median of $repeat interleaved runs ($(nproc) cores, Linux $(uname -r))"
echo
echo "| system | time s | cpu s | peak RSS MiB | collections | max pause us |"
echo "|---|---:|---:|---:|---:|---:|"
for sys in $(cut -d, -f1 "$out" | awk '!seen[$0]++'); do
    grep "^$sys," "$out" | awk -F, -v s="$sys" '
        { t[NR]=$2; c[NR]=$3; r[NR]=$4; g[NR]=$5; p[NR]=$6 }
        function med(a, n,   i, j, x) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
                                           if (a[j] < a[i]) { x = a[i]; a[i] = a[j]; a[j] = x }
                                       return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
        END { printf "| %s | %.3f | %.3f | %.0f | %.0f | %.0f |\n", s, med(t, NR), med(c, NR),
              med(r, NR) / 1024, med(g, NR), med(p, NR) }'
done
rm -f "$out"

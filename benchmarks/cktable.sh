#!/usr/bin/env bash
# cktable.sh CSV -- the checkpoint rows of the suite (ckptbench median lines,
# with ckptbench's header) as a Markdown table.
set -euo pipefail
awk -F, '
NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
function v(name) { return $(col[name]) }
BEGIN {
    print "| backend | live MiB | flip pause ms | checkpoint pause ms | image / live | checkpoint to durable s (MB/s, x dd) | fork() pause ms | fork child writes s | dd MB/s | restore usable ms (warm / cold) | first use ms (warm / cold) | all touched s (warm / cold) | private mmap, all read s (cold) |"
    print "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
}
{
    printf "| vmgc-%s | %.0f | %.2f | %.2f | %.3f | %.2f (%.0f, %.2f) | %.1f | %.2f | %.0f | %.1f / %.1f | %.1f / %.1f | %.2f / %.2f | %.2f |\n",
        v("backend"), v("live_mib"), v("flip_ms"), v("ck_pause_ms"), v("image_mib") / v("live_mib"),
        v("ck_write_s"), v("ck_mbs"), v("ck_mbs") / v("dd_mbs"), v("fork_pause_ms"), v("fork_write_s"),
        v("dd_mbs"), v("restore_ms"), v("cold_restore_ms"), v("first_use_ms"), v("cold_first_use_ms"),
        v("all_ms") / 1000, v("cold_all_ms") / 1000, v("mmap_all_ms") / 1000
}' "$1"

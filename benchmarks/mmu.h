/* mmu.h -- pause statistics and minimum mutator utilization (Cheng and
 * Blelloch): the least fraction of any window of a given length in which
 * the mutator ran.  Kept apart from the harness so a unit test can check the
 * arithmetic (tests/test_mmu.c). */
#ifndef VMGC_BENCH_MMU_H
#define VMGC_BENCH_MMU_H

#include <stddef.h>
#include <stdint.h>

struct pause {
    uint64_t start, length; /* nanoseconds */
};

struct pause_summary {
    uint64_t total_ns, p50_ns, p99_ns, p999_ns, max_ns; /* nearest-rank percentiles */
};

void pause_sort_by_start(struct pause *p, size_t n);
struct pause_summary pause_summarize(const struct pause *p, size_t n);

/* MMU of [t0, t1) for windows of w ns; pauses sorted by start (overlaps are
 * merged, parts outside [t0, t1) ignored).  A window as long as the run or
 * longer gives the run's overall utilization. */
double mmu(const struct pause *p, size_t n, uint64_t t0, uint64_t t1, uint64_t w);

/* The suite's raw files (benchmarks/summarize.sh reads them): the pause
 * list, "start_ms,length_us" per line from t0, and the MMU curve,
 * "window_ms,mmu" per line for windows of 0.1 ms to 10 s that fit in
 * [t0, t1).  0, or -1 when path cannot be written. */
int pause_write_list(const char *path, const struct pause *p, size_t n, uint64_t t0);
int mmu_write_curve(const char *path, const struct pause *p, size_t n, uint64_t t0, uint64_t t1);

#endif

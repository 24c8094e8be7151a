/* mmu.c -- see mmu.h. */
#include "config.h"

#include "mmu.h"

#include <stdio.h>
#include <stdlib.h>

static int by_start(const void *a, const void *b)
{
    const struct pause *x = a, *y = b;
    return (x->start > y->start) - (x->start < y->start);
}

static int by_value(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

void pause_sort_by_start(struct pause *p, size_t n)
{
    qsort(p, n, sizeof *p, by_start);
}

static uint64_t nearest_rank(const uint64_t *sorted, size_t n, double q)
{
    size_t rank = (size_t)(q * (double)n + 0.999999); /* ceil(q n), at least 1 */
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return sorted[rank - 1];
}

struct pause_summary pause_summarize(const struct pause *p, size_t n)
{
    struct pause_summary s = {0};
    if (!n)
        return s;
    uint64_t *len = malloc(n * sizeof *len);
    if (!len)
        return s;
    for (size_t i = 0; i < n; i++) {
        len[i] = p[i].length;
        s.total_ns += p[i].length;
    }
    qsort(len, n, sizeof *len, by_value);
    s.p50_ns = nearest_rank(len, n, 0.50);
    s.p99_ns = nearest_rank(len, n, 0.99);
    s.p999_ns = nearest_rank(len, n, 0.999);
    s.max_ns = len[n - 1];
    free(len);
    return s;
}

/* Intervals clipped to [t0, t1) and merged, with the paused time before
 * each: paused(t) is then one binary search. */
struct timeline {
    uint64_t *start, *end, *before;
    size_t n;
};

static uint64_t paused_until(const struct timeline *tl, uint64_t t)
{
    size_t lo = 0, hi = tl->n; /* first interval starting after t */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (tl->start[mid] <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return 0;
    size_t i = lo - 1;
    uint64_t in = t < tl->end[i] ? t - tl->start[i] : tl->end[i] - tl->start[i];
    return tl->before[i] + in;
}

double mmu(const struct pause *p, size_t n, uint64_t t0, uint64_t t1, uint64_t w)
{
    if (t1 <= t0 || w == 0)
        return 1.0;
    struct timeline tl = {malloc((n + 1) * sizeof(uint64_t)), malloc((n + 1) * sizeof(uint64_t)),
                          malloc((n + 1) * sizeof(uint64_t)), 0};
    if (!tl.start || !tl.end || !tl.before) {
        free(tl.start), free(tl.end), free(tl.before);
        return -1.0;
    }
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t a = p[i].start < t0 ? t0 : p[i].start;
        uint64_t b = p[i].start + p[i].length > t1 ? t1 : p[i].start + p[i].length;
        if (a >= b)
            continue;
        if (tl.n && a <= tl.end[tl.n - 1]) { /* overlaps the previous one: merge */
            if (b > tl.end[tl.n - 1]) {
                total += b - tl.end[tl.n - 1];
                tl.end[tl.n - 1] = b;
            }
            continue;
        }
        tl.start[tl.n] = a;
        tl.end[tl.n] = b;
        tl.before[tl.n] = total;
        total += b - a;
        tl.n++;
    }
    double worst;
    if (w >= t1 - t0) {
        worst = 1.0 - (double)total / (double)(t1 - t0);
    } else {
        /* the worst window starts where a pause starts or ends where one ends */
        uint64_t most = 0;
        for (size_t i = 0; i < tl.n; i++) {
            uint64_t from[2] = {tl.start[i], tl.end[i] > t0 + w ? tl.end[i] - w : t0};
            for (int k = 0; k < 2; k++) {
                uint64_t a = from[k] + w > t1 ? t1 - w : from[k];
                uint64_t in = paused_until(&tl, a + w) - paused_until(&tl, a);
                if (in > most)
                    most = in;
            }
        }
        worst = 1.0 - (double)most / (double)w;
    }
    free(tl.start), free(tl.end), free(tl.before);
    return worst;
}

int pause_write_list(const char *path, const struct pause *p, size_t n, uint64_t t0)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%.3f,%.3f\n", (double)(p[i].start - t0) / 1e6, (double)p[i].length / 1e3);
    return fclose(f) == 0 ? 0 : -1;
}

int mmu_write_curve(const char *path, const struct pause *p, size_t n, uint64_t t0, uint64_t t1)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    static const double windows_ms[] = {0.1, 0.2, 0.5, 1,   2,   5,    10,   20,  50,
                                        100, 200, 500, 1000, 2000, 5000, 10000};
    for (size_t i = 0; i < sizeof windows_ms / sizeof windows_ms[0]; i++) {
        uint64_t w = (uint64_t)(windows_ms[i] * 1e6);
        if (w <= t1 - t0)
            fprintf(f, "%g,%.4f\n", windows_ms[i], mmu(p, n, t0, t1, w));
    }
    return fclose(f) == 0 ? 0 : -1;
}

/* alloc.c -- the allocation fast path: --count small objects (quick 50
 * million, full 200 million) of 16 to 48 bytes, each kept for a while in a
 * ring of 1024 and then dropped (freed under malloc).  Nearly everything
 * dies young; extra is millions of objects per second. */
#include "config.h"

#include <stdio.h>

#include "harness.h"

enum { RING = 1024 };
static void *ring[RING];

int main(int argc, char **argv)
{
    bench_init(argc, argv, "alloc", "count");
    long count = bench_option("count", 50000000, 200000000, 1, 100000000000L);
    bench_type t_small = bench_type_bitmap("small", 1);
    bench_roots(ring, RING);
    bench_start();

    for (long i = 0; i < count; i++) {
        size_t size = 16 + (size_t)(i & 3) * 8 + (size_t)(i & 4) * 2; /* 16..48 */
        void **p = bench_alloc(t_small, size);
        p[0] = ring; /* a pointer word, to outside the heap: no chains keep garbage alive */
        p[1] = (void *)(uintptr_t)i;
        bench_free(ring[i % RING]);
        ring[i % RING] = p;
    }
    long ok = 0;
    for (int i = 0; i < RING; i++)
        ok += ring[i] != NULL && (uintptr_t)((void **)ring[i])[1] % RING == (uintptr_t)i;
    if (ok != RING)
        bench_fail("the ring of recent objects is corrupted");

    char params[32];
    snprintf(params, sizeof params, "count=%ldM", count / 1000000);
    bench_report(params, (double)count / bench_elapsed() / 1e6);
    return 0;
}

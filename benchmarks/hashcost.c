/* hashcost.c -- what identity hashing costs (doc/design/identity.md).
 *
 *   hashcost [--objects N] [--backend uffd|mprotect]
 *
 * N 24-byte objects (default 1,000,000) held by a vector.  Prints ns per
 * object for: an address hash computed in C (the floor: what a non-moving
 * collector's `eq?` table pays), the first vmgc_object_hash (a header CAS),
 * a second one (the object has not moved), one after a collection moved the
 * object (the stored word); and a collection's time and bytes copied with
 * no object hashed against every object hashed (the word each grows).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmgc.h"

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

struct box {
    uint64_t a, b, c;
};

static vmgc_heap *heap;
static vmgc_thread *me;
static vmgc_type t_box, t_vec;
static void *root;
static size_t n = 1000000;

static void fill(void)
{
    root = vmgc_alloc(me, t_vec, n * sizeof(void *));
    for (size_t i = 0; i < n; i++) {
        struct box *b = vmgc_alloc(me, t_box, sizeof *b);
        b->a = i;
        ((void **)root)[i] = b;
    }
}

static double per_object(double t0)
{
    return (now_ns() - t0) / (double)n;
}

static uint64_t sink;

static double hash_all(void)
{
    double t0 = now_ns();
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += vmgc_object_hash(((void **)root)[i]);
    sink += s;
    return per_object(t0);
}

static void collect(double *ms, uint64_t *copied)
{
    vmgc_stats a, b;
    vmgc_get_stats(heap, &a);
    double t0 = now_ns();
    vmgc_collect(heap, 1);
    *ms = (now_ns() - t0) / 1e6;
    vmgc_get_stats(heap, &b);
    *copied = b.bytes_copied - a.bytes_copied;
}

int main(int argc, char **argv)
{
    const char *backend = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--objects"))
            n = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--backend"))
            backend = argv[i + 1];
    }
    vmgc_config c;
    vmgc_config_init(&c);
    c.barrier = backend;
    c.no_background = 1;
    c.reserve_bytes = (size_t)8 << 30;
    if (vmgc_heap_create(&heap, &c) != VMGC_OK) {
        fprintf(stderr, "hashcost: %s\n", vmgc_last_error());
        return 1;
    }
    vmgc_thread_attach(heap, &me);
    vmgc_type_desc bd = {.name = "box", .layout = VMGC_LAYOUT_NO_POINTERS};
    vmgc_type_desc vd = {.name = "vec", .layout = VMGC_LAYOUT_ALL_POINTERS};
    vmgc_type_register(heap, &bd, &t_box);
    vmgc_type_register(heap, &vd, &t_vec);
    vmgc_root_add(heap, &root, 1);
    fill();
    double cold_ms, hot_ms;
    uint64_t cold_copied, hot_copied;
    collect(&cold_ms, &cold_copied); /* nothing hashed: the plain cost */
    double t0 = now_ns();
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += mix((uintptr_t)((void **)root)[i]);
    sink += s;
    double floor = per_object(t0);
    double first = hash_all(), again = hash_all();
    collect(&hot_ms, &hot_copied); /* every object hashed: each copy grows a word */
    double moved = hash_all();
    double steady_ms;
    uint64_t steady_copied;
    collect(&steady_ms, &steady_copied);
    printf("objects %zu (24 bytes), backend %s\n", n, backend ? backend : "default");
    printf("address hash in C (floor)        %6.2f ns\n", floor);
    printf("vmgc_object_hash, first          %6.2f ns\n", first);
    printf("vmgc_object_hash, again          %6.2f ns\n", again);
    printf("vmgc_object_hash, after a move   %6.2f ns\n", moved);
    printf("collection, none hashed          %7.1f ms, %llu bytes copied\n", cold_ms,
           (unsigned long long)cold_copied);
    printf("collection, all hashed (grow)    %7.1f ms, %llu bytes copied (+%.1f%%)\n", hot_ms,
           (unsigned long long)hot_copied, 100.0 * ((double)hot_copied / (double)cold_copied - 1));
    printf("collection, all hashed (stored)  %7.1f ms, %llu bytes copied\n", steady_ms,
           (unsigned long long)steady_copied);
    return sink == 42;
}

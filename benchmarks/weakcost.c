/* weakcost.c -- what weak references, ephemerons and finalization cost
 * (doc/design/weak.md).
 *
 *   weakcost [--entries N] [--backend uffd|mprotect] [--rounds R]
 *
 * A table of N entries (default 1,000,000), each a key (a 24-byte object
 * the table's owner also holds) and a value (another): once as strong
 * pairs, once as ephemerons.  Prints, medians of R rounds (default 3):
 * ns per read of a value (a plain load against vmgc_weak_load between
 * collections); a collection's time with the pairs against the ephemerons,
 * all keys held; the ephemerons again with half the keys dropped (the
 * cycle breaks those entries); and finalization: a collection that finds
 * N/10 registered objects unreachable, and ns per object handed out by
 * vmgc_finalize_next.  Collections run in this thread (no_background), so
 * a collection's time is its whole work.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmgc.h"

struct obj {
    uint64_t a, b, c;
};

static vmgc_heap *heap;
static vmgc_thread *me;
static vmgc_type t_obj, t_vec, t_pair, t_eph;
static void *roots[2]; /* keys, table */
static size_t n = 1000000;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int k)
{
    qsort(v, (size_t)k, sizeof *v, cmp_double);
    return v[k / 2];
}

static void heap_new(const char *backend)
{
    vmgc_config c;
    vmgc_config_init(&c);
    c.barrier = backend;
    c.no_background = 1;
    c.reserve_bytes = (size_t)8 << 30;
    if (vmgc_heap_create(&heap, &c) != VMGC_OK) {
        fprintf(stderr, "weakcost: %s\n", vmgc_last_error());
        exit(1);
    }
    vmgc_thread_attach(heap, &me);
    vmgc_type_desc od = {.name = "obj", .layout = VMGC_LAYOUT_NO_POINTERS};
    vmgc_type_desc vd = {.name = "vec", .layout = VMGC_LAYOUT_ALL_POINTERS};
    vmgc_type_desc pd = {.name = "pair", .layout = VMGC_LAYOUT_ALL_POINTERS};
    vmgc_type_desc ed = {.name = "eph", .layout = VMGC_LAYOUT_ALL_POINTERS,
                         .weakness = VMGC_EPHEMERON};
    vmgc_type_register(heap, &od, &t_obj);
    vmgc_type_register(heap, &vd, &t_vec);
    vmgc_type_register(heap, &pd, &t_pair);
    vmgc_type_register(heap, &ed, &t_eph);
    memset(roots, 0, sizeof roots);
    vmgc_root_add(heap, roots, 2);
}

static void heap_end(void)
{
    vmgc_root_remove(heap, roots);
    vmgc_thread_detach(me);
    vmgc_heap_destroy(heap);
}

static void fill(int ephemerons)
{
    roots[0] = vmgc_alloc(me, t_vec, n * sizeof(void *));
    roots[1] = vmgc_alloc(me, t_vec, n * sizeof(void *));
    for (size_t i = 0; i < n; i++) {
        struct obj *k = vmgc_alloc(me, t_obj, sizeof *k), *v = vmgc_alloc(me, t_obj, sizeof *v);
        k->a = i;
        v->a = i;
        void **e = vmgc_alloc(me, ephemerons ? t_eph : t_pair, 2 * sizeof(void *));
        vmgc_weak_store(&e[0], k);
        vmgc_weak_store(&e[1], v);
        ((void **)roots[0])[i] = k;
        ((void **)roots[1])[i] = e;
    }
}

static double collect_ms(void)
{
    double t0 = now_ns();
    vmgc_collect(heap, 1);
    return (now_ns() - t0) / 1e6;
}

static uint64_t sink;

static double read_ns(int weak)
{
    void **tab = roots[1];
    double t0 = now_ns();
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++) {
        void **e = tab[i];
        struct obj *v = weak ? vmgc_weak_load(me, &e[1]) : e[1];
        s += v->a;
    }
    sink += s;
    return (now_ns() - t0) / (double)n;
}

int main(int argc, char **argv)
{
    const char *backend = NULL;
    int rounds = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--entries"))
            n = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--backend"))
            backend = argv[i + 1];
        else if (!strcmp(argv[i], "--rounds"))
            rounds = atoi(argv[i + 1]);
    }
    if (rounds < 1 || rounds > 15)
        rounds = 3;
    double plain_read[15], weak_read[15], strong_gc[15], eph_gc[15], half_gc[15], fin_gc[15],
        nofin_gc[15], fin_next[15];
    uint64_t broken = 0, finalized = 0;
    for (int r = 0; r < rounds; r++) {
        heap_new(backend);
        fill(0);
        collect_ms(); /* the first copy of the table: the same for both */
        strong_gc[r] = collect_ms();
        plain_read[r] = read_ns(0);
        heap_end();

        heap_new(backend);
        fill(1);
        collect_ms();
        eph_gc[r] = collect_ms();
        weak_read[r] = read_ns(1);
        for (size_t i = 0; i < n; i += 2)
            ((void **)roots[0])[i] = NULL; /* half the keys go */
        vmgc_stats a, b;
        vmgc_get_stats(heap, &a);
        half_gc[r] = collect_ms();
        vmgc_get_stats(heap, &b);
        broken = b.ephemerons_broken - a.ephemerons_broken;
        heap_end();

        /* finalization: n/10 objects registered, then dropped */
        heap_new(backend);
        size_t nf = n / 10;
        roots[0] = vmgc_alloc(me, t_vec, nf * sizeof(void *));
        for (size_t i = 0; i < nf; i++) {
            struct obj *o = vmgc_alloc(me, t_obj, sizeof *o);
            o->a = i;
            ((void **)roots[0])[i] = o;
        }
        collect_ms();
        nofin_gc[r] = collect_ms(); /* held, not registered */
        for (size_t i = 0; i < nf; i++)
            vmgc_finalize_register(me, ((void **)roots[0])[i]);
        roots[0] = NULL;
        fin_gc[r] = collect_ms();
        double t0 = now_ns();
        uint64_t s = 0, got = 0;
        struct obj *o;
        while ((o = vmgc_finalize_next(me)) != NULL) {
            s += o->a;
            got++;
        }
        fin_next[r] = got ? (now_ns() - t0) / (double)got : 0;
        finalized = got;
        sink += s;
        heap_end();
    }
    printf("entries %zu, backend %s, medians of %d rounds\n", n, backend ? backend : "default",
           rounds);
    printf("read a value: plain load (strong pair)     %7.2f ns\n", median(plain_read, rounds));
    printf("read a value: vmgc_weak_load (ephemeron)   %7.2f ns\n", median(weak_read, rounds));
    printf("collection, strong pairs, keys held        %7.1f ms\n", median(strong_gc, rounds));
    printf("collection, ephemerons, keys held          %7.1f ms\n", median(eph_gc, rounds));
    printf("collection, ephemerons, half the keys gone %7.1f ms (%llu entries broken)\n",
           median(half_gc, rounds), (unsigned long long)broken);
    printf("collection, %zu objects held               %7.1f ms\n", n / 10,
           median(nofin_gc, rounds));
    printf("collection, %zu registered ones unreachable %7.1f ms (%llu queued)\n", n / 10,
           median(fin_gc, rounds), (unsigned long long)finalized);
    printf("vmgc_finalize_next                         %7.2f ns an object\n",
           median(fin_next, rounds));
    return sink == 42;
}

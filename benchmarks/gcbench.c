/* gcbench.c -- GCBench (Ellis, Kovac, Boehm), the classic C version's
 * shape: a stretch tree, a long-lived tree and array, then temporary trees
 * of depth 4..16 built top-down and bottom-up.
 *
 * One binary, one system per run:  --gc vmgc | boehm | boehm-incremental |
 * malloc  (malloc frees the temporary trees explicitly; jemalloc is
 * measured by running the malloc variant with LD_PRELOAD=libjemalloc).
 * Prints one CSV line: system,seconds,cpu_seconds,peak_rss_kib,collections,
 * max_pause_us.  See benchmarks/README.md.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "vmgc.h"
#ifdef HAVE_GC_H
#include <gc.h> /* Boehm */
#endif

enum { STRETCH_DEPTH = 18, LONG_LIVED_DEPTH = 16, ARRAY_SIZE = 500000, MIN_DEPTH = 4,
       MAX_DEPTH = 16 };

typedef struct node {
    struct node *left, *right;
    long i, j;
} node;

enum system { SYS_VMGC, SYS_BOEHM, SYS_BOEHM_INC, SYS_MALLOC };
static enum system sys;
static vmgc_heap *heap;
static vmgc_thread *me;
static vmgc_type t_node, t_doubles;

static node *new_node(node *l, node *r)
{
    node *n;
    switch (sys) {
    case SYS_VMGC:
        n = vmgc_alloc(me, t_node, sizeof *n);
        break;
#ifdef HAVE_GC_H
    case SYS_BOEHM:
    case SYS_BOEHM_INC:
        n = GC_MALLOC(sizeof *n);
        break;
#endif
    default:
        n = calloc(1, sizeof *n);
    }
    n->left = l;
    n->right = r;
    return n;
}

static void free_tree(node *n)
{
    if (sys != SYS_MALLOC || !n)
        return;
    free_tree(n->left);
    free_tree(n->right);
    free(n);
}

static int tree_size(int depth)
{
    return (1 << (depth + 1)) - 1;
}

static int num_iters(int depth)
{
    return 2 * tree_size(STRETCH_DEPTH) / tree_size(depth);
}

static void populate(int depth, node *n)
{
    if (depth <= 0)
        return;
    depth--;
    n->left = new_node(NULL, NULL);
    n->right = new_node(NULL, NULL);
    populate(depth, n->left);
    populate(depth, n->right);
}

static node *make_tree(int depth)
{
    if (depth <= 0)
        return new_node(NULL, NULL);
    node *l = make_tree(depth - 1);
    node *r = make_tree(depth - 1);
    return new_node(l, r);
}

static void time_construction(int depth)
{
    int iters = num_iters(depth);
    for (int i = 0; i < iters; i++) {
        node *t = new_node(NULL, NULL);
        populate(depth, t);
        free_tree(t);
    }
    for (int i = 0; i < iters; i++) {
        node *t = make_tree(depth);
        free_tree(t);
    }
}

#include <pthread.h>
#include <unistd.h>
static void *monitor(void *arg)
{
    (void)arg;
    size_t peak = 0;
    for (;;) {
        vmgc_stats s;
        vmgc_get_stats(heap, &s);
        if (s.heap_bytes > peak) {
            peak = s.heap_bytes;
            fprintf(stderr, "heap peak %zu MiB at collection %llu (live after last %zu MiB)\n",
                    peak >> 20, (unsigned long long)s.collections, s.live_bytes_after_last >> 20);
        }
        usleep(2000);
    }
    return NULL;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    const char *name = argc > 2 && !strcmp(argv[1], "--gc") ? argv[2] : "vmgc";
    if (!strcmp(name, "vmgc"))
        sys = SYS_VMGC;
    else if (!strcmp(name, "boehm"))
        sys = SYS_BOEHM;
    else if (!strcmp(name, "boehm-incremental"))
        sys = SYS_BOEHM_INC;
    else if (!strcmp(name, "malloc"))
        sys = SYS_MALLOC;
    else {
        fprintf(stderr, "usage: gcbench [--gc vmgc|boehm|boehm-incremental|malloc]\n");
        return 2;
    }
#ifndef HAVE_GC_H
    if (sys == SYS_BOEHM || sys == SYS_BOEHM_INC) {
        fprintf(stderr, "gcbench: built without Boehm GC (install libgc-dev)\n");
        return 2;
    }
#endif
    double t0 = now();
    if (sys == SYS_VMGC) {
        vmgc_config c;
        vmgc_config_init(&c);
        c.reserve_bytes = (size_t)4 << 30;
        if (vmgc_heap_create(&heap, &c) != VMGC_OK || vmgc_thread_attach(heap, &me) != VMGC_OK) {
            fprintf(stderr, "gcbench: %s\n", vmgc_last_error());
            return 1;
        }
        vmgc_type_desc nd = {.name = "node", .layout = VMGC_LAYOUT_BITMAP, .bitmap = 3};
        vmgc_type_desc dd = {.name = "doubles", .layout = VMGC_LAYOUT_NO_POINTERS};
        vmgc_type_register(heap, &nd, &t_node);
        vmgc_type_register(heap, &dd, &t_doubles);
        if (getenv("GCBENCH_VERBOSE")) {
            pthread_t th;
            pthread_create(&th, NULL, monitor, NULL);
        }
    }
#ifdef HAVE_GC_H
    if (sys == SYS_BOEHM || sys == SYS_BOEHM_INC) {
        GC_INIT();
        if (sys == SYS_BOEHM_INC)
            GC_enable_incremental();
    }
#endif
    node *stretch = make_tree(STRETCH_DEPTH);
    free_tree(stretch);
    stretch = NULL;

    node *long_lived = new_node(NULL, NULL);
    populate(LONG_LIVED_DEPTH, long_lived);
    double *array;
    if (sys == SYS_VMGC)
        array = vmgc_alloc(me, t_doubles, ARRAY_SIZE * sizeof(double));
#ifdef HAVE_GC_H
    else if (sys != SYS_MALLOC)
        array = GC_MALLOC_ATOMIC(ARRAY_SIZE * sizeof(double));
#endif
    else
        array = malloc(ARRAY_SIZE * sizeof(double));
    for (int i = 0; i < ARRAY_SIZE / 2; i++)
        array[i] = 1.0 / i;

    for (int d = MIN_DEPTH; d <= MAX_DEPTH; d += 2)
        time_construction(d);

    if (!long_lived || array[1000] != 1.0 / 1000)
        fprintf(stderr, "gcbench: failed\n");
    double elapsed = now() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    unsigned long long collections = 0;
    double max_pause_us = 0;
    if (sys == SYS_VMGC) {
        vmgc_stats s;
        vmgc_get_stats(heap, &s);
        collections = s.collections;
        max_pause_us = (double)s.pause_max_ns / 1e3;
    }
#ifdef HAVE_GC_H
    else if (sys != SYS_MALLOC)
        collections = (unsigned long long)GC_get_gc_no();
#endif
    const char *label = sys == SYS_VMGC ? (getenv("VMGC_BARRIER") && !strcmp(getenv("VMGC_BARRIER"), "mprotect") ? "vmgc-mprotect" : "vmgc-uffd") : name;
    if (sys == SYS_VMGC && getenv("GCBENCH_VERBOSE")) {
        vmgc_stats s;
        vmgc_get_stats(heap, &s);
        fprintf(stderr, "copied %llu bytes (%llu objects), pinned %llu pages, traps %llu, "
                "mutator scans %llu, collector scans %llu, live after last %zu KiB, heap %zu KiB, "
                "allocated %llu MiB\n",
                (unsigned long long)s.bytes_copied, (unsigned long long)s.objects_copied,
                (unsigned long long)s.pages_pinned, (unsigned long long)s.traps,
                (unsigned long long)s.pages_scanned_by_mutator,
                (unsigned long long)s.pages_scanned_by_collector, s.live_bytes_after_last >> 10,
                s.heap_bytes >> 10, (unsigned long long)(s.bytes_allocated >> 20));
    }
    printf("%s,%.3f,%.3f,%ld,%llu,%.1f\n", label, elapsed, cpu, ru.ru_maxrss, collections,
           max_pause_us);
    return 0;
}

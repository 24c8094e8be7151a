/* deeppause.c -- the flip's pause with a deep C stack (issue 17): a
 * recursion of --depth frames, each holding the only pointer to an object
 * on a page of its own (which points at its caller's object), so the flip pins --depth pages through the
 * conservatively scanned stack; side by side with the shallow case, the same
 * objects held in a root block (which the flip only protects).
 *
 *   deeppause [--depth N] [--cycles C] [--backend uffd|mprotect] [--mark 0|1]
 *
 * --mark 1: the cycles after the first mark the old generation in place
 * (doc/design/mark.md), where each frame's object is old and the flip
 * shades it instead of pinning its page.
 * Prints, for each case: pages pinned per flip, and the flip pause median
 * and max over C cycles (each a vmgc_collect from the recursion's bottom).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmgc.h"

static vmgc_heap *heap;
static vmgc_thread *me;
static vmgc_type t_obj;
static int depth = 30000, cycles = 10;

static int cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *label, uint64_t pinned_before)
{
    uint64_t ns[64];
    size_t n = vmgc_get_pauses(heap, ns, 64);
    if (n > (size_t)cycles)
        memmove(ns, ns + n - (size_t)cycles, (size_t)cycles * sizeof *ns), n = (size_t)cycles;
    qsort(ns, n, sizeof *ns, cmp);
    vmgc_stats s;
    vmgc_get_stats(heap, &s);
    printf("%-8s depth %6d: %7.0f pages pinned a flip, pause median %.3f ms, max %.3f ms\n", label,
           depth, (double)(s.pages_pinned - pinned_before) / cycles, ns[n / 2] / 1e6,
           ns[n - 1] / 1e6);
}

/* An interpreter's frame object: it points at its caller's, so pinned pages
 * hold pointers, as a recursive interpreter's would. */
static void *new_obj(void *parent)
{
    void **o = vmgc_alloc(me, t_obj, 64);
    o[0] = parent;
    (void)vmgc_alloc(me, t_obj, 2000); /* fillers: the next object is on another page */
    (void)vmgc_alloc(me, t_obj, 2000);
    return o;
}

static int mark; /* --mark 1: mark cycles after the first (doc/design/mark.md) */

static void collect_all(void)
{
    for (int c = 0; c < cycles; c++)
        if (mark && c > 0)
            vmgc_collect_mark(heap, 1);
        else
            vmgc_collect(heap, 1);
}

/* Each frame keeps its object's address in a stack slot. */
static __attribute__((noinline)) void descend(int d, void *parent, uint64_t pinned_before)
{
    void *volatile mine = new_obj(parent);
    if (d + 1 < depth)
        descend(d + 1, mine, pinned_before);
    else {
        collect_all();
        report("deep", pinned_before);
    }
    (void)mine;
}

int main(int argc, char **argv)
{
    const char *backend = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--depth"))
            depth = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--cycles"))
            cycles = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--backend"))
            backend = argv[i + 1];
        else if (!strcmp(argv[i], "--mark"))
            mark = atoi(argv[i + 1]);
    }
    if (depth < 1 || cycles < 1 || cycles > 64) {
        fprintf(stderr, "usage: deeppause [--depth N] [--cycles 1..64] [--backend B] [--mark 0|1]\n");
        return 2;
    }
    vmgc_config c;
    vmgc_config_init(&c);
    c.barrier = backend;
    c.reserve_bytes = (size_t)8 << 30;
    c.initial_size = (size_t)1 << 30; /* only the cycles we ask for */
    if (vmgc_heap_create(&heap, &c) != VMGC_OK) {
        fprintf(stderr, "deeppause: %s\n", vmgc_last_error());
        return 1;
    }
    vmgc_thread_attach(heap, &me);
    vmgc_type_desc d = {.name = "frame", .layout = VMGC_LAYOUT_BITMAP, .bitmap = 1};
    vmgc_type_register(heap, &d, &t_obj);
    vmgc_stats s;
    /* shallow: the same number of objects, held in a root block */
    void **block;
    vmgc_root_block_new(heap, (size_t)depth, &block);
    for (int i = 0; i < depth; i++)
        block[i] = new_obj(i ? block[i - 1] : NULL);
    vmgc_get_stats(heap, &s);
    collect_all();
    report("shallow", s.pages_pinned);
    vmgc_root_block_free(heap, block);
    vmgc_get_stats(heap, &s);
    descend(0, NULL, s.pages_pinned);
    vmgc_thread_detach(me);
    vmgc_heap_destroy(heap);
    return 0;
}

/* gcbench.c -- GCBench (Ellis, Kovac, Boehm) in the classic C version's
 * shape: a stretch tree, a long-lived tree and a long-lived array of
 * doubles, then temporary trees of depth 4..D built top-down and bottom-up,
 * as many of each depth as make up two stretch trees.  --depth D (quick 16,
 * the classic size; full 18); the stretch tree is D+2 deep.
 * Under malloc the temporary trees are freed explicitly. */
#include "config.h"

#include <stdio.h>

#include "trees.h"

enum { ARRAY_SIZE = 500000, MIN_DEPTH = 4 };

static int stretch_depth;

static long tree_size(int depth)
{
    return (1L << (depth + 1)) - 1;
}

static void time_construction(int depth)
{
    long iters = 2 * tree_size(stretch_depth) / tree_size(depth);
    for (long i = 0; i < iters; i++) {
        node *t = tree_node(NULL, NULL);
        tree_populate(depth, t);
        tree_free(t);
    }
    for (long i = 0; i < iters; i++) {
        node *t = tree_make(depth);
        tree_free(t);
    }
}

static node *long_lived;
static double *array;

int main(int argc, char **argv)
{
    bench_init(argc, argv, "gcbench", "depth");
    int depth = (int)bench_option("depth", 16, 18, 4, 24);
    stretch_depth = depth + 2;
    trees_init();
    bench_type t_doubles = bench_type_no_pointers("doubles");
    bench_roots((void **)&long_lived, 1);
    bench_roots((void **)&array, 1);
    bench_start();

    node *stretch = tree_make(stretch_depth);
    tree_free(stretch);
    long_lived = tree_node(NULL, NULL);
    tree_populate(depth, long_lived);
    array = bench_alloc(t_doubles, ARRAY_SIZE * sizeof(double));
    for (int i = 0; i < ARRAY_SIZE / 2; i++)
        array[i] = 1.0 / i;
    for (int d = MIN_DEPTH; d <= depth; d += 2)
        time_construction(d);
    if (tree_count(long_lived) != tree_size(depth) || array[1000] != 1.0 / 1000)
        bench_fail("the long-lived data did not survive intact");

    char params[32];
    snprintf(params, sizeof params, "depth=%d", depth);
    bench_report(params, 0);
    return 0;
}

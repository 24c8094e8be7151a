/* gcold.c -- a large live heap under steady mutation, in the spirit of
 * gcold: a forest of binary trees (depth 10, 2047 nodes each) holding
 * --live MiB (quick 50, full 100 and 1024), then steps that each replace one
 * random long-lived tree (the old generation changes) and build and drop
 * three short-lived trees, until --alloc-factor times the live size has
 * been allocated (quick 4, full 8).  Shows how pauses and throughput
 * behave as the live heap grows. */
#include "config.h"

#include <stdio.h>

#include "trees.h"

enum { TREE_DEPTH = 10, TREE_NODES = (1 << (TREE_DEPTH + 1)) - 1 };

static node **forest;

static uint64_t next_random(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

int main(int argc, char **argv)
{
    bench_init(argc, argv, "gcold", "live alloc-factor");
    long live_mib = bench_option("live", 50, 100, 1, 1 << 20);
    long factor = bench_option("alloc-factor", 4, 8, 1, 1000);
    trees_init();
    bench_type t_forest = bench_type_all_pointers("forest");
    size_t tree_bytes = TREE_NODES * sizeof(node);
    size_t ntrees = ((size_t)live_mib << 20) / tree_bytes;
    bench_roots((void **)&forest, 1);
    bench_start();

    forest = bench_alloc(t_forest, ntrees * sizeof *forest);
    for (size_t i = 0; i < ntrees; i++)
        forest[i] = tree_make(TREE_DEPTH);
    uint64_t rng = 0x2545f4914f6cdd1dull;
    size_t steps = (size_t)factor * ntrees / 4; /* a step allocates four trees */
    for (size_t s = 0; s < steps; s++) {
        size_t k = next_random(&rng) % ntrees;
        tree_free(forest[k]);
        forest[k] = tree_make(TREE_DEPTH);
        for (int t = 0; t < 3; t++) {
            node *tmp = tree_make(TREE_DEPTH);
            if (tree_count(tmp) != TREE_NODES)
                bench_fail("a short-lived tree is broken");
            tree_free(tmp);
        }
    }
    for (size_t i = 0; i < ntrees; i += ntrees / 64 + 1)
        if (tree_count(forest[i]) != TREE_NODES)
            bench_fail("a long-lived tree did not survive intact");

    char params[48];
    snprintf(params, sizeof params, "live=%ldMiB", live_mib);
    bench_report(params, 0);
    return 0;
}

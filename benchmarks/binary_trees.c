/* binary_trees.c -- the Computer Language Benchmarks Game's binary-trees:
 * a stretch tree of depth D+1, a long-lived tree of depth D, then for each
 * depth d = 4, 6, .. D, 2^(D-d+4) trees of depth d built bottom-up and
 * walked.  --depth D (quick 16, full 20).  Pure allocation of short-lived
 * small objects with a medium long-lived tree. */
#include "config.h"

#include <stdio.h>

#include "trees.h"

static node *long_lived;

int main(int argc, char **argv)
{
    bench_init(argc, argv, "binary-trees", "depth");
    int depth = (int)bench_option("depth", 16, 20, 4, 26);
    trees_init();
    bench_roots((void **)&long_lived, 1);
    bench_start();

    node *stretch = tree_make(depth + 1);
    long checks = tree_count(stretch);
    tree_free(stretch);
    long_lived = tree_make(depth);
    for (int d = 4; d <= depth; d += 2) {
        long iterations = 1L << (depth - d + 4);
        for (long i = 0; i < iterations; i++) {
            node *t = tree_make(d);
            checks += tree_count(t);
            tree_free(t);
        }
    }
    if (tree_count(long_lived) != (1L << (depth + 1)) - 1 || checks <= 0)
        bench_fail("the long-lived tree did not survive intact");

    char params[32];
    snprintf(params, sizeof params, "depth=%d", depth);
    bench_report(params, 0);
    return 0;
}

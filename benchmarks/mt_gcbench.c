/* mt_gcbench.c -- multi-threaded GCBench: a shared long-lived tree of
 * depth D, then T mutator threads each build GCBench's temporary trees
 * (depth 4..D, top-down and bottom-up, two stretch trees' worth per depth)
 * at once.  Each thread does the whole single-threaded amount, so on a
 * machine with T cores ideal scaling keeps the time flat.  --threads T
 * (quick and full 2), --depth D (quick 14, full 16). */
#include "config.h"

#include <pthread.h>
#include <stdio.h>

#include "trees.h"

static int depth;
static node *long_lived;

static long tree_size(int d)
{
    return (1L << (d + 1)) - 1;
}

static void *mutator(void *arg)
{
    (void)arg;
    bench_thread_begin();
    for (int d = 4; d <= depth; d += 2) {
        long iters = 2 * tree_size(depth + 2) / tree_size(d);
        for (long i = 0; i < iters; i++) {
            node *t = tree_node(NULL, NULL);
            tree_populate(d, t);
            tree_free(t);
            t = tree_make(d);
            if (t->left == NULL && d > 0)
                bench_fail("a bottom-up tree lost its children");
            tree_free(t);
        }
    }
    bench_thread_end();
    return NULL;
}

int main(int argc, char **argv)
{
    bench_init(argc, argv, "mt-gcbench", "threads depth");
    int threads = (int)bench_option("threads", 2, 2, 1, 64);
    depth = (int)bench_option("depth", 14, 16, 4, 24);
    trees_init();
    bench_roots((void **)&long_lived, 1);
    bench_start();

    long_lived = tree_make(depth);
    pthread_t th[64];
    for (int i = 0; i < threads; i++)
        if (pthread_create(&th[i], NULL, mutator, NULL) != 0)
            bench_fail("cannot create a mutator thread");
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    if (tree_count(long_lived) != tree_size(depth))
        bench_fail("the long-lived tree did not survive intact");

    char params[48];
    snprintf(params, sizeof params, "threads=%d depth=%d", threads, depth);
    bench_report(params, 0);
    return 0;
}

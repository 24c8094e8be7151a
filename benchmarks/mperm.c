/* mperm.c -- MpermNKL-style queue of permutations: each round builds every
 * permutation of N elements as a list of lists (one cell per element and
 * one per permutation), appends L such lists to a queue of K and drops the
 * L oldest.  The oldest fraction dies each round while the rest has lived
 * long: hard on collectors that assume most objects die young.
 * --n N --k K --l L --rounds R (quick 8 6 2 8, full 9 4 1 8). */
#include "config.h"

#include <stdio.h>

#include "harness.h"

typedef struct cell {
    struct cell *next;
    void *item; /* a cell list (a permutation) or a number as a plain word */
} cell;

static bench_type t_number_cell, t_list_cell;
static cell **queue;

static cell *cons(bench_type t, void *item, cell *next)
{
    cell *c = bench_alloc(t, sizeof *c);
    c->next = next;
    c->item = item;
    return c;
}

static void free_list(cell *c, int deep)
{
    while (c && !bench_is_gc()) {
        cell *next = c->next;
        if (deep)
            free_list(c->item, 0);
        bench_free(c);
        c = next;
    }
}

/* Heap's algorithm over a[0..n), each permutation consed as a fresh list. */
static cell *permutations(int n)
{
    int a[16], c[16] = {0};
    for (int i = 0; i < n; i++)
        a[i] = i + 1;
    cell *all = NULL;
    for (int i = 0;;) {
        cell *p = NULL;
        for (int j = n - 1; j >= 0; j--)
            p = cons(t_number_cell, (void *)(uintptr_t)a[j], p);
        all = cons(t_list_cell, p, all);
        while (i < n && c[i] >= i)
            c[i++] = 0;
        if (i >= n)
            return all;
        int k = i % 2 ? c[i] : 0, x = a[k];
        a[k] = a[i];
        a[i] = x;
        c[i]++;
        i = 0;
    }
}

static long check(const cell *all, int n)
{
    long perms = 0;
    for (; all; all = all->next, perms++) {
        long sum = 0;
        for (const cell *p = all->item; p; p = p->next)
            sum += (long)(uintptr_t)p->item;
        if (sum != (long)n * (n + 1) / 2)
            return -1;
    }
    return perms;
}

int main(int argc, char **argv)
{
    bench_init(argc, argv, "mperm", "n k l rounds");
    int n = (int)bench_option("n", 8, 9, 2, 11);
    int k = (int)bench_option("k", 6, 4, 1, 1000);
    int l = (int)bench_option("l", 2, 1, 1, 1000);
    int rounds = (int)bench_option("rounds", 8, 8, 1, 1000000);
    if (l > k)
        bench_fail("--l (lists replaced per round) cannot exceed --k (lists in the queue)");
    t_number_cell = bench_type_bitmap("number-cell", 1); /* next only */
    t_list_cell = bench_type_all_pointers("list-cell");
    bench_type t_queue = bench_type_all_pointers("queue");
    bench_roots((void **)&queue, 1);
    bench_start();

    queue = bench_alloc(t_queue, (size_t)k * sizeof *queue);
    for (int i = 0; i < k; i++)
        queue[i] = permutations(n);
    long factorial = 1;
    for (int i = 2; i <= n; i++)
        factorial *= i;
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < l; i++)
            free_list(queue[i], 1);
        for (int i = 0; i + l < k; i++) /* the oldest l leave the front */
            queue[i] = queue[i + l];
        for (int i = k - l; i < k; i++)
            queue[i] = permutations(n);
        if (check(queue[0], n) != factorial)
            bench_fail("the oldest permutation list is wrong");
    }
    for (int i = 0; i < k; i++)
        if (check(queue[i], n) != factorial)
            bench_fail("a permutation list is wrong");

    char params[48];
    snprintf(params, sizeof params, "n=%d k=%d l=%d", n, k, l);
    bench_report(params, 0);
    return 0;
}

/* trees.h -- the binary tree node shared by GCBench, multi-threaded
 * GCBench, binary-trees and the large-live-heap workload: built top-down
 * (populate) or bottom-up (make), freed explicitly under malloc. */
#ifndef VMGC_BENCH_TREES_H
#define VMGC_BENCH_TREES_H

#include "harness.h"

typedef struct node {
    struct node *left, *right;
    long i, j; /* GCBench's payload: two words that are not pointers */
} node;

extern bench_type t_node;

void trees_init(void); /* registers the node type: call after bench_init */

static inline node *tree_node(node *l, node *r)
{
    node *n = bench_alloc(t_node, sizeof *n);
    n->left = l;
    n->right = r;
    n->i = n->j = 0;
    return n;
}

void tree_populate(int depth, node *n); /* top-down: n gets two subtrees of depth-1 */
node *tree_make(int depth);             /* bottom-up */
void tree_free(node *n);                /* malloc systems only; nothing for collectors */
long tree_count(const node *n);         /* nodes, walking all of them */

#endif

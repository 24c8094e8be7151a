/* trees.c -- see trees.h. */
#include "config.h"

#include "trees.h"

bench_type t_node;

void trees_init(void)
{
    t_node = bench_type_bitmap("node", 3); /* words 0 and 1 are pointers */
}

void tree_populate(int depth, node *n)
{
    if (depth <= 0)
        return;
    depth--;
    n->left = tree_node(NULL, NULL);
    n->right = tree_node(NULL, NULL);
    tree_populate(depth, n->left);
    tree_populate(depth, n->right);
}

node *tree_make(int depth)
{
    if (depth <= 0)
        return tree_node(NULL, NULL);
    node *l = tree_make(depth - 1);
    node *r = tree_make(depth - 1);
    return tree_node(l, r);
}

void tree_free(node *n)
{
    if (bench_is_gc() || !n)
        return;
    tree_free(n->left);
    tree_free(n->right);
    bench_free(n);
}

long tree_count(const node *n)
{
    return n ? 1 + tree_count(n->left) + tree_count(n->right) : 0;
}

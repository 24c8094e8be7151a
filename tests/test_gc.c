/* test_gc.c -- the collector through the public API: roots, pinning,
 * moving, layouts, large objects, threads (gc/). */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"
#include "vmgc.h"

struct pair {
    struct pair *next;
    void *other;
    uintptr_t value;
};

static vmgc_heap *heap;
static vmgc_thread *me;
static vmgc_type t_pair, t_leaf, t_array, t_tagged;

/* tagged pair: word 0 is a pointer with tag bit 1 set; word 1 plain */
static void trace_tagged(void *obj, size_t size, vmgc_visit_fn visit, void *ctx)
{
    (void)size;
    uintptr_t *w = obj;
    if (w[0] & 1) {
        void *p = (void *)(w[0] & ~(uintptr_t)1);
        visit(&p, ctx);
        w[0] = (uintptr_t)p | 1;
    }
}

static void setup_heap(int backend, int background)
{
    vmgc_config c;
    vmgc_config_init(&c);
    c.reserve_bytes = (size_t)1 << 30;
    c.barrier = test_backends[backend];
    c.no_background = !background;
    c.verify = 1;
    ck_assert_msg(vmgc_heap_create(&heap, &c) == VMGC_OK, "%s", vmgc_last_error());
    ck_assert_int_eq(vmgc_thread_attach(heap, &me), VMGC_OK);
    vmgc_type_desc pd = {.name = "pair", .layout = VMGC_LAYOUT_BITMAP, .bitmap = 3};
    ck_assert_int_eq(vmgc_type_register(heap, &pd, &t_pair), VMGC_OK);
    vmgc_type_desc ld = {.name = "leaf", .layout = VMGC_LAYOUT_NO_POINTERS};
    ck_assert_int_eq(vmgc_type_register(heap, &ld, &t_leaf), VMGC_OK);
    vmgc_type_desc ad = {.name = "array", .layout = VMGC_LAYOUT_ALL_POINTERS};
    ck_assert_int_eq(vmgc_type_register(heap, &ad, &t_array), VMGC_OK);
    vmgc_type_desc td = {.name = "tagged", .layout = VMGC_LAYOUT_TRACE, .trace = trace_tagged};
    ck_assert_int_eq(vmgc_type_register(heap, &td, &t_tagged), VMGC_OK);
}

static void teardown_heap(void)
{
    ck_assert_int_eq(vmgc_thread_detach(me), VMGC_OK);
    ck_assert_int_eq(vmgc_heap_destroy(heap), VMGC_OK);
}

static struct pair *build_list(int n)
{
    struct pair *head = NULL;
    for (int i = 0; i < n; i++) {
        struct pair *p = vmgc_alloc(me, t_pair, sizeof *p);
        ck_assert_ptr_nonnull(p);
        ck_assert_ptr_null(p->next);
        p->value = (uintptr_t)i;
        p->next = head;
        head = p;
    }
    return head;
}

static void check_list(struct pair *p, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        ck_assert_ptr_nonnull(p);
        ck_assert_uint_eq(p->value, (uintptr_t)i);
        p = p->next;
    }
    ck_assert_ptr_null(p);
}

START_TEST(precise_roots_are_updated)
{
    setup_heap(_i, 0);
    static void *root;
    ck_assert_int_eq(vmgc_root_add(heap, &root, 1), VMGC_OK);
    root = build_list(20000);
    build_list(1000); /* move the allocation page past the list's head */
    /* kept disguised: a plain copy on the stack would pin the page */
    uintptr_t before = (uintptr_t)root ^ 0x5555555555555555u;
    for (int k = 0; k < 3; k++) {
        ck_assert_int_eq(vmgc_collect(heap, 1), VMGC_OK);
        check_list(root, 20000);
    }
    vmgc_stats s;
    vmgc_get_stats(heap, &s);
    ck_assert_uint_eq(s.collections, 3);
    ck_assert_uint_gt(s.objects_copied, 10000);
    (void)before;
    ck_assert_int_eq(vmgc_root_remove(heap, &root), VMGC_OK);
    ck_assert_int_eq(vmgc_root_remove(heap, &root), VMGC_ESTATE);
    teardown_heap();
}
END_TEST

static __attribute__((noinline)) uintptr_t stack_only(void)
{
    struct pair *volatile p = build_list(100);
    uintptr_t addr = (uintptr_t)p;
    for (int k = 0; k < 2; k++)
        vmgc_collect(heap, 1);
    ck_assert_uint_eq((uintptr_t)p, addr); /* pinned, not moved */
    check_list(p, 100);
    return addr;
}

/* Objects reachable only from precise roots move, and the roots follow;
 * old addresses are kept disguised so the stack scan does not pin them. */
START_TEST(precise_roots_move)
{
    enum { N = 1000 };
    setup_heap(_i, 0);
    static void *roots[N];
    uintptr_t *old = malloc(N * sizeof *old);
    ck_assert_int_eq(vmgc_root_add(heap, roots, N), VMGC_OK);
    for (int i = 0; i < N; i++) {
        struct pair *p = vmgc_alloc(me, t_pair, sizeof *p);
        p->value = (uintptr_t)i * 7;
        roots[i] = p;
        old[i] = (uintptr_t)p ^ 0xa5a5a5a5a5a5a5a5u;
    }
    build_list(2000); /* move the allocation page on */
    ck_assert_int_eq(vmgc_collect(heap, 1), VMGC_OK);
    int moved = 0;
    for (int i = 0; i < N; i++) {
        ck_assert_uint_eq(((struct pair *)roots[i])->value, (uintptr_t)i * 7);
        moved += (uintptr_t)roots[i] != (old[i] ^ 0xa5a5a5a5a5a5a5a5u);
    }
    ck_assert_msg(moved > N * 9 / 10, "only %d of %d rooted objects moved", moved, N);
    free(old);
    teardown_heap();
}
END_TEST

START_TEST(stack_roots_pin)
{
    setup_heap(_i, 0);
    stack_only();
    vmgc_stats s;
    vmgc_get_stats(heap, &s);
    ck_assert_uint_ge(s.pages_pinned, 1);
    teardown_heap();
}
END_TEST

START_TEST(garbage_is_reclaimed)
{
    setup_heap(_i, 0);
    for (int round = 0; round < 20; round++) {
        build_list(50000); /* 1.2 MB of garbage each round */
        vmgc_collect(heap, 1);
    }
    vmgc_stats s;
    vmgc_get_stats(heap, &s);
    ck_assert_msg(s.heap_bytes < (8u << 20), "heap holds %zu bytes after collecting garbage",
                  s.heap_bytes);
    teardown_heap();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gc");
    TCase *tc = tcase_create("both-backends");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, precise_roots_are_updated, 0, 2);
    tcase_add_loop_test(tc, precise_roots_move, 0, 2);
    tcase_add_loop_test(tc, stack_roots_pin, 0, 2);
    tcase_add_loop_test(tc, garbage_is_reclaimed, 0, 2);
    suite_add_tcase(s, tc);
    return test_run(s);
}

/* test_rootblock.c -- root blocks (gc/rootblock.c): precise root slots on
 * heap pages of their own, greyed by the flip and forwarded after it. */
#include "config.h"

#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testlib.h"
#include "vmgc.h"
#include "internal.h" /* the test hook, page states */

struct pair {
    struct pair *next;
    uintptr_t value;
};

static vmgc_heap *heap;
static vmgc_thread *me;
static vmgc_type t_pair;

static void setup_with(int backend, size_t limit, int background)
{
    vmgc_config c;
    vmgc_config_init(&c);
    c.reserve_bytes = (size_t)1 << 30;
    c.heap_limit = limit;
    c.barrier = test_backends[backend];
    c.no_background = !background; /* else the cycle (and hooks) run on this thread */
    c.verify = 1;        /* root block pages are checked at the flip and the end */
    ck_assert_msg(vmgc_heap_create(&heap, &c) == VMGC_OK, "%s", vmgc_last_error());
    ck_assert_int_eq(vmgc_thread_attach(heap, &me), VMGC_OK);
    vmgc_type_desc pd = {.name = "pair", .layout = VMGC_LAYOUT_BITMAP, .bitmap = 1};
    ck_assert_int_eq(vmgc_type_register(heap, &pd, &t_pair), VMGC_OK);
}

static void setup(int backend, size_t limit)
{
    setup_with(backend, limit, 0);
}

static void teardown(void)
{
    ck_assert_int_eq(vmgc_thread_detach(me), VMGC_OK);
    ck_assert_int_eq(vmgc_heap_destroy(heap), VMGC_OK);
}

enum { N = 3000, DISGUISE = 0x3c3c3c3c }; /* 6 pages of slots */
static uintptr_t old_addr[N];

/* Fills the block with two-node lists; old addresses kept disguised, so
 * the stack scan does not pin them. */
static __attribute__((noinline)) void fill(void **slots)
{
    for (int i = 0; i < N; i++) {
        struct pair *tail = vmgc_alloc(me, t_pair, sizeof *tail);
        tail->value = (uintptr_t)i * 3 + 1;
        struct pair *p = vmgc_alloc(me, t_pair, sizeof *p);
        p->value = (uintptr_t)i * 3;
        p->next = tail;
        slots[i] = p;
        old_addr[i] = (uintptr_t)p ^ DISGUISE;
    }
    for (int i = 0; i < 300; i++) /* move the allocation page on (a flip pins it) */
        (void)vmgc_alloc(me, t_pair, sizeof(struct pair));
}

static int check_and_count_moved(void **slots)
{
    int moved = 0;
    for (int i = 0; i < N; i++) {
        struct pair *p = slots[i];
        ck_assert_ptr_nonnull(p);
        ck_assert_uint_eq(p->value, (uintptr_t)i * 3);
        ck_assert_uint_eq(p->next->value, (uintptr_t)i * 3 + 1);
        moved += (uintptr_t)p != (old_addr[i] ^ DISGUISE);
    }
    return moved;
}

/* Objects held only by a root block move, and its slots follow, cycle
 * after cycle; a pointer into the block on the stack pins nothing. */
START_TEST(slots_move_and_are_updated)
{
    setup(_i, 0);
    void **slots;
    ck_assert_int_eq(vmgc_root_block_new(heap, N, &slots), VMGC_OK);
    for (int i = 0; i < N; i++)
        ck_assert_ptr_null(slots[i]);
    void **volatile inside = slots + 700; /* a stack word into the block */
    fill(slots);
    for (int k = 0; k < 3; k++) {
        ck_assert_int_eq(vmgc_collect(heap, 1), VMGC_OK);
        int moved = check_and_count_moved(slots);
        if (k == 0)
            ck_assert_msg(moved > N * 9 / 10, "only %d of %d objects moved", moved, N);
        for (int i = 0; i < N; i++)
            old_addr[i] = (uintptr_t)slots[i] ^ DISGUISE;
    }
    ck_assert_ptr_eq(inside, slots + 700);
    ck_assert_int_eq(vmgc_root_block_free(heap, slots), VMGC_OK);
    teardown();
}
END_TEST

/* The flip leaves the slots alone: right after it (from-space already
 * unmapped, nothing drained) every page of the block is grey, and the
 * first touch of a slot traps and forwards that page only. */
static void **hook_slots;
static int hook_ran;

static size_t block_page(void **slot)
{
    return pagetable_index(&heap->arena->pt, slot);
}

static void touch_one_page(struct vmgc_heap *h)
{
    h->test_after_from_space_unmapped = NULL;
    for (int i = 0; i < N; i += 512)
        ck_assert_uint_eq(PS_STATE(ps_load(h, block_page(&hook_slots[i]))), PS_GREY);
    vmgc_stats a, b;
    vmgc_get_stats(heap, &a);
    struct pair *p = hook_slots[1000]; /* page 1 of the block */
    vmgc_get_stats(heap, &b);
    ck_assert_uint_eq(b.traps, a.traps + 1);
    ck_assert_uint_eq(p->value, 3000);
    ck_assert_uint_eq(PS_STATE(ps_load(h, block_page(&hook_slots[1000]))), PS_BLACK);
    ck_assert_uint_eq(PS_STATE(ps_load(h, block_page(&hook_slots[0]))), PS_GREY);
    ck_assert_uint_eq(PS_STATE(ps_load(h, block_page(&hook_slots[2999]))), PS_GREY);
    /* the whole page was forwarded (no slot left pointing into from-space;
     * a page pinned by a stale stack word is not from-space either) */
    for (int i = 512; i < 1024; i++) {
        size_t target = pagetable_index(&h->arena->pt, hook_slots[i]);
        ck_assert_msg(!ps_is_from(h, ps_load(h, ps_head_of(h, target))),
                      "slot %d still points into from-space", i);
    }
    hook_ran = 1;
}

/* A heap with a filled block in hook_slots, and one cycle with hook run
 * right after from-space is unmapped. */
static void collect_with_hook(int backend, void (*hook)(struct vmgc_heap *))
{
    setup(backend, 0);
    ck_assert_int_eq(vmgc_root_block_new(heap, N, &hook_slots), VMGC_OK);
    fill(hook_slots);
    hook_ran = 0;
    heap->test_after_from_space_unmapped = hook;
    ck_assert_int_eq(vmgc_collect(heap, 1), VMGC_OK);
    ck_assert_int_eq(hook_ran, 1);
}

START_TEST(first_touch_forwards_its_page)
{
    collect_with_hook(_i, touch_one_page);
    ck_assert_int_gt(check_and_count_moved(hook_slots), N * 9 / 10);
    ck_assert_int_eq(vmgc_root_block_free(heap, hook_slots), VMGC_OK);
    teardown();
}
END_TEST

/* Freed in the middle of a cycle, with its pages grey: the cycle still
 * ends (nothing left pending; verify_end checks), and the pages are
 * reused. */
static void free_block_mid_cycle(struct vmgc_heap *h)
{
    h->test_after_from_space_unmapped = NULL;
    ck_assert_uint_eq(PS_STATE(ps_load(h, block_page(hook_slots))), PS_GREY);
    ck_assert_int_eq(vmgc_root_block_free(heap, hook_slots), VMGC_OK);
    hook_ran = 1;
}

START_TEST(freed_while_grey)
{
    collect_with_hook(_i, free_block_mid_cycle);
    void **again;
    ck_assert_int_eq(vmgc_root_block_new(heap, N, &again), VMGC_OK);
    for (int i = 0; i < N; i++)
        ck_assert_ptr_null(again[i]); /* a new block reads as NULL */
    ck_assert_int_eq(vmgc_collect(heap, 1), VMGC_OK);
    ck_assert_int_eq(vmgc_root_block_free(heap, again), VMGC_OK);
    teardown();
}
END_TEST

/* .sol.wait-refills: a trap on a block page copies what its 512 slots
 * reach, here 256 pages (2 KB objects), more than the copy reserve the flip
 * fills; the trap cannot refill it and waits for the collector.  The
 * collector meanwhile meets that page in the grey queue and waits for the
 * trap to finish it: it must refill while it waits (before, this deadlocked
 * until "copy reserve empty in a trap for too long").  The hook, on the
 * collector thread, lets the mutator trap first. */
enum { BIG = 2040, BIG_SLOTS = 512 };
static vmgc_type t_big;
static int toucher_go;
static uintptr_t toucher_sum;

static void *big_toucher(void *arg)
{
    (void)arg;
    vmgc_thread *t;
    ck_assert_int_eq(vmgc_thread_attach(heap, &t), VMGC_OK);
    while (!__atomic_load_n(&toucher_go, __ATOMIC_ACQUIRE))
        usleep(100);
    uintptr_t *first = hook_slots[0]; /* traps: the page is grey */
    toucher_sum = first[0];
    ck_assert_int_eq(vmgc_thread_detach(t), VMGC_OK);
    return NULL;
}

static void let_mutator_trap_first(struct vmgc_heap *h)
{
    h->test_after_from_space_unmapped = NULL;
    __atomic_store_n(&toucher_go, 1, __ATOMIC_RELEASE);
    size_t page = block_page(hook_slots);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do { /* until the trap holds the page; after 5 s the test fails below */
        sched_yield();
        clock_gettime(CLOCK_MONOTONIC, &t1);
    } while (PS_STATE(ps_load(h, page)) == PS_GREY && t1.tv_sec - t0.tv_sec < 5);
    hook_ran = PS_STATE(ps_load(h, page)) != PS_GREY;
}

START_TEST(trap_outgrows_the_copy_reserve)
{
    setup_with(_i, 0, 1);
    vmgc_type_desc bd = {.name = "big", .layout = VMGC_LAYOUT_NO_POINTERS};
    ck_assert_int_eq(vmgc_type_register(heap, &bd, &t_big), VMGC_OK);
    ck_assert_int_eq(vmgc_root_block_new(heap, BIG_SLOTS, &hook_slots), VMGC_OK);
    for (int i = 0; i < BIG_SLOTS; i++) {
        uintptr_t *b = vmgc_alloc(me, t_big, BIG);
        b[0] = (uintptr_t)i + 1;
        hook_slots[i] = b;
    }
    for (int i = 0; i < 300; i++) /* move the allocation page on (a flip pins it) */
        (void)vmgc_alloc(me, t_pair, sizeof(struct pair));
    toucher_go = 0;
    hook_ran = 0;
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, big_toucher, NULL), 0);
    heap->test_after_from_space_unmapped = let_mutator_trap_first;
    ck_assert_int_eq(vmgc_collect(heap, 1), VMGC_OK);
    pthread_join(th, NULL);
    ck_assert_msg(hook_ran, "the mutator did not trap on the block within 5 s");
    ck_assert_uint_eq(toucher_sum, 1);
    for (int i = 0; i < BIG_SLOTS; i++)
        ck_assert_uint_eq(*(uintptr_t *)hook_slots[i], (uintptr_t)i + 1);
    ck_assert_int_eq(vmgc_root_block_free(heap, hook_slots), VMGC_OK);
    teardown();
}
END_TEST

static void expect_error(vmgc_status got, vmgc_status want, const char *needle)
{
    ck_assert_int_eq(got, want);
    ck_assert_msg(strstr(vmgc_last_error(), needle), "message '%s' lacks '%s'",
                  vmgc_last_error(), needle);
}

START_TEST(misuse_gets_clear_errors)
{
    setup(_i, (size_t)8 << 20);
    void **slots;
    expect_error(vmgc_root_block_new(heap, 0, &slots), VMGC_EINVAL, "give 1 to");
    expect_error(vmgc_root_block_new(heap, 10, NULL), VMGC_EINVAL, "is NULL");
    expect_error(vmgc_root_block_new(NULL, 10, &slots), VMGC_EINVAL, "not a live heap");
    expect_error(vmgc_root_block_new(heap, (size_t)1 << 31, &slots), VMGC_EINVAL, "give 1 to");
    expect_error(vmgc_root_block_new(heap, (size_t)4 << 20, &slots), VMGC_ENOMEM,
                 "heap limit of 8388608 bytes reached");
    int local;
    expect_error(vmgc_root_block_free(heap, (void **)&local), VMGC_ESTATE,
                 "not a root block");
    ck_assert_int_eq(vmgc_root_block_new(heap, 10, &slots), VMGC_OK);
    ck_assert_int_eq(vmgc_root_block_free(heap, slots), VMGC_OK);
    expect_error(vmgc_root_block_free(heap, slots), VMGC_ESTATE, "not a root block");
    ck_assert_int_eq(vmgc_root_block_new(heap, 10, &slots), VMGC_OK);
    teardown(); /* a block still live goes with the heap */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rootblock");
    TCase *tc = tcase_create("both-backends");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, slots_move_and_are_updated, 0, 2);
    tcase_add_loop_test(tc, first_touch_forwards_its_page, 0, 2);
    tcase_add_loop_test(tc, freed_while_grey, 0, 2);
    tcase_add_loop_test(tc, misuse_gets_clear_errors, 0, 2);
    tcase_add_loop_test(tc, trap_outgrows_the_copy_reserve, 0, 2);
    suite_add_tcase(s, tc);
    return test_run(s);
}

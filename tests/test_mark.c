/* test_mark.c -- mark cycles: the old generation marked in place and swept
 * (gc/mark.c, doc/design/mark.md), verification on throughout: a live
 * object left pointing at a swept one aborts in verify. */
#include "config.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "vmgc.h"

static vmgc_heap *heap;
static vmgc_thread *me;
static vmgc_type t_node, t_vec;

struct node {
    struct node *next;
    uint64_t value, check;
};

static void **survivors, **doomed; /* rooted vectors */

#define BOXES 4096
#define CHAIN 16
#define ROUNDS 30
static struct {
    int quit, pause, armed;
    uint64_t moves, cycles_mutated;
    sem_t go, paused;
} mover;

static void on_flip(void *ctx, uint64_t start_ns, uint64_t pause_ns)
{
    (void)ctx;
    (void)start_ns;
    (void)pause_ns;
    if (__atomic_load_n(&mover.armed, __ATOMIC_ACQUIRE))
        sem_post(&mover.go); /* the snapshot test's mover: mutate while this cycle runs */
}

static void setup(int backend)
{
    vmgc_config c;
    vmgc_config_init(&c);
    c.reserve_bytes = (size_t)1 << 30;
    c.barrier = test_backends[backend];
    c.no_background = 1;
    c.generational = 1;
    c.mark_old = 1;
    c.verify = 1;
    c.on_pause = on_flip;
    ck_assert_msg(vmgc_heap_create(&heap, &c) == VMGC_OK, "%s", vmgc_last_error());
    ck_assert_int_eq(vmgc_thread_attach(heap, &me), VMGC_OK);
    vmgc_type_desc nd = VMGC_TYPE_STRUCT("node", struct node, VMGC_PTR_BIT(struct node, next));
    ck_assert_int_eq(vmgc_type_register(heap, &nd, &t_node), VMGC_OK);
    vmgc_type_desc vd = {.name = "vec", .layout = VMGC_LAYOUT_ALL_POINTERS};
    ck_assert_int_eq(vmgc_type_register(heap, &vd, &t_vec), VMGC_OK);
    ck_assert_int_eq(vmgc_root_add(heap, (void **)&survivors, 1), VMGC_OK);
    ck_assert_int_eq(vmgc_root_add(heap, (void **)&doomed, 1), VMGC_OK);
}

static void teardown(void)
{
    ck_assert_int_eq(vmgc_root_remove(heap, (void **)&survivors), VMGC_OK);
    ck_assert_int_eq(vmgc_root_remove(heap, (void **)&doomed), VMGC_OK);
    survivors = doomed = NULL;
    ck_assert_int_eq(vmgc_thread_detach(me), VMGC_OK);
    ck_assert_int_eq(vmgc_heap_destroy(heap), VMGC_OK);
}

static struct node *node(vmgc_thread *t, uint64_t v, struct node *next)
{
    struct node *n = vmgc_alloc(t, t_node, sizeof *n);
    ck_assert_ptr_nonnull(n);
    n->next = next;
    n->value = v;
    n->check = ~v * 0x9e3779b97f4a7c15u;
    return n;
}

static int node_ok(const struct node *n, uint64_t v)
{
    return n && n->value == v && n->check == ~v * 0x9e3779b97f4a7c15u;
}

#define SURVIVORS 20000
#define DOOMED 8192

/* Old data: every other survivor slot will be dropped (garbage scattered
 * among live objects), and the doomed ones all at once (whole pages). */
static __attribute__((noinline)) void make_old_data(void)
{
    survivors = vmgc_alloc(me, t_vec, SURVIVORS * sizeof(void *));
    doomed = vmgc_alloc(me, t_vec, DOOMED * sizeof(void *));
    for (size_t i = 0; i < SURVIVORS; i++) {
        /* pairs: the second is reached only through the first */
        survivors[i] = node(me, i, node(me, i + SURVIVORS, NULL));
    }
    for (size_t i = 0; i < DOOMED; i++)
        doomed[i] = node(me, i, NULL);
    ck_assert_int_eq(vmgc_collect(heap, 1), VMGC_OK); /* full: all of it old */
}

static void mark_sweeps_in_place(int backend)
{
    setup(backend);
    make_old_data();
    test_scrub_stack();
    /* where they were, kept where no conservative scan looks: malloc'd, as
     * addresses mangled (a plain copy in memory vmgc scans would keep the
     * dropped ones alive) */
    uintptr_t *where = malloc(SURVIVORS * sizeof *where);
    ck_assert_ptr_nonnull(where);
    for (size_t i = 0; i < SURVIVORS; i++) {
        where[i] = ~(uintptr_t)survivors[i];
        if (i % 2)
            survivors[i] = NULL;
    }
    doomed = NULL;
    vmgc_stats before, after;
    vmgc_get_stats(heap, &before);
    ck_assert_int_eq(vmgc_collect_mark(heap, 1), VMGC_OK);
    vmgc_get_stats(heap, &after);
    ck_assert_uint_eq(after.collections, before.collections + 1);
    for (size_t i = 0; i < SURVIVORS; i += 2) {
        struct node *n = survivors[i];
        ck_assert(node_ok(n, i) && node_ok(n->next, i + SURVIVORS));
    }
    if (strcmp(test_backends[backend], "uffd") == 0) {
        ck_assert_uint_eq(after.mark_collections, before.mark_collections + 1);
        /* nothing old moved */
        for (size_t i = 0; i < SURVIVORS; i += 2)
            ck_assert_ptr_eq(survivors[i], (void *)~where[i]);
        /* the dropped pairs, the doomed nodes and their vector */
        ck_assert_uint_ge(after.old_objects_swept - before.old_objects_swept,
                          SURVIVORS + DOOMED + 1 - 64);
        ck_assert_uint_ge(after.old_pages_swept - before.old_pages_swept,
                          DOOMED * 32 / 4096 / 2);
        ck_assert_uint_gt(after.old_hole_bytes, 0);
        /* dead pages went back: in runs to the pool, or to the OS and kept
         * empty (mark.md .sol.dead-runs) */
        ck_assert_uint_lt(after.old_bytes - after.old_empty_bytes, before.old_bytes);
        /* a full collection copies the survivors out of their holes */
        ck_assert_int_eq(vmgc_collect(heap, 1), VMGC_OK);
        vmgc_get_stats(heap, &after);
        ck_assert_uint_eq(after.old_hole_bytes, 0);
        for (size_t i = 0; i < SURVIVORS; i += 2) {
            struct node *n = survivors[i];
            ck_assert(node_ok(n, i) && node_ok(n->next, i + SURVIVORS));
        }
    } else {
        ck_assert_uint_eq(after.mark_collections, 0); /* a full one instead */
    }
    free(where);
    teardown();
}
BOTH(mark_sweeps_in_place)

/* ---- the snapshot: while a mark cycle runs, another thread swaps the
 * chains hanging from old boxes (box i's chain to box j and back) and
 * replaces some by new chains.  A chain moved from a box the marker has
 * not scanned yet into one it has is reached only through the snapshot:
 * without first-write shading (mark.md .sol.first-write) it is swept, and
 * verify aborts or a value goes missing. */
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static struct node *chain(vmgc_thread *t, uint64_t v)
{
    struct node *n = NULL;
    for (int k = CHAIN - 1; k >= 0; k--)
        n = node(t, v * CHAIN + (uint64_t)k, n);
    return n;
}

static void *mover_main(void *arg)
{
    uint64_t seed = (uint64_t)(uintptr_t)arg | 1;
    vmgc_thread *t;
    ck_assert_int_eq(vmgc_thread_attach(heap, &t), VMGC_OK);
    for (;;) {
        vmgc_blocking_enter(t);
        sem_wait(&mover.go);
        vmgc_blocking_leave(t);
        if (__atomic_load_n(&mover.quit, __ATOMIC_ACQUIRE))
            break;
        __atomic_fetch_add(&mover.cycles_mutated, 1, __ATOMIC_RELAXED);
        while (!__atomic_load_n(&mover.pause, __ATOMIC_ACQUIRE)) {
            struct node *bi = survivors[rnd(&seed) % BOXES], *bj = survivors[rnd(&seed) % BOXES];
            if (rnd(&seed) % 8) {
                struct node *a = bi->next, *b = bj->next;
                bi->next = b;
                bj->next = a;
            } else { /* a new chain of the same value: the old one dies */
                bi->next = chain(t, bi->next->value / CHAIN);
            }
            __atomic_fetch_add(&mover.moves, 1, __ATOMIC_RELAXED);
        }
        sem_post(&mover.paused);
    }
    ck_assert_int_eq(vmgc_thread_detach(t), VMGC_OK);
    return NULL;
}

static void check_chains(void)
{
    static unsigned char seen[BOXES];
    memset(seen, 0, sizeof seen);
    for (size_t i = 0; i < BOXES; i++) {
        struct node *n = ((struct node *)survivors[i])->next;
        ck_assert_ptr_nonnull(n);
        uint64_t v = n->value / CHAIN;
        ck_assert_uint_lt(v, BOXES);
        ck_assert_int_eq(seen[v], 0);
        seen[v] = 1;
        for (int k = 0; k < CHAIN; k++, n = n->next)
            ck_assert(node_ok(n, v * CHAIN + (uint64_t)k));
        ck_assert_ptr_null(n);
    }
}

static void snapshot_survives_mutation(int backend)
{
    setup(backend);
    survivors = vmgc_alloc(me, t_vec, BOXES * sizeof(void *));
    for (size_t i = 0; i < BOXES; i++)
        survivors[i] = node(me, UINT64_MAX, chain(me, i));
    ck_assert_int_eq(vmgc_collect(heap, 1), VMGC_OK); /* all old */
    memset(&mover, 0, sizeof mover);
    sem_init(&mover.go, 0, 0);
    sem_init(&mover.paused, 0, 0);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, mover_main, (void *)(uintptr_t)test_seed("mark")), 0);
    __atomic_store_n(&mover.armed, 1, __ATOMIC_RELEASE);
    for (int round = 0; round < ROUNDS; round++) {
        ck_assert_int_eq(round % 4 == 3 ? vmgc_collect_young(heap, 1) : vmgc_collect_mark(heap, 1),
                         VMGC_OK);
        __atomic_store_n(&mover.pause, 1, __ATOMIC_RELEASE);
        vmgc_blocking_enter(me);
        sem_wait(&mover.paused);
        vmgc_blocking_leave(me);
        __atomic_store_n(&mover.pause, 0, __ATOMIC_RELEASE);
        check_chains();
    }
    __atomic_store_n(&mover.armed, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&mover.quit, 1, __ATOMIC_RELEASE);
    sem_post(&mover.go);
    vmgc_blocking_enter(me);
    pthread_join(th, NULL);
    vmgc_blocking_leave(me);
    ck_assert_int_eq(vmgc_collect_mark(heap, 1), VMGC_OK);
    check_chains();
    vmgc_stats s;
    vmgc_get_stats(heap, &s);
    if (strcmp(test_backends[backend], "uffd") == 0)
        ck_assert_uint_ge(s.mark_collections, ROUNDS * 3 / 4);
    ck_assert_uint_eq(__atomic_load_n(&mover.cycles_mutated, __ATOMIC_RELAXED), ROUNDS);
    ck_assert_uint_gt(__atomic_load_n(&mover.moves, __ATOMIC_RELAXED), 0);
    teardown();
}
BOTH(snapshot_survives_mutation)

START_TEST(bad_setting_is_refused)
{
    vmgc_config c;
    vmgc_config_init(&c);
    c.mark_old = 2;
    vmgc_heap *h;
    ck_assert_int_eq(vmgc_heap_create(&h, &c), VMGC_EINVAL);
    ck_assert_ptr_nonnull(strstr(vmgc_last_error(), "mark_old"));
    ck_assert_int_eq(vmgc_collect_mark(NULL, 1), VMGC_EINVAL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("mark");
    TCase *tc = tcase_create("both-backends");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, mark_sweeps_in_place_t, 0, 2);
    tcase_add_loop_test(tc, snapshot_survives_mutation_t, 0, 2);
    tcase_add_test(tc, bad_setting_is_refused);
    suite_add_tcase(s, tc);
    return test_run(s);
}

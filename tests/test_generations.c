/* test_generations.c -- young and full cycles (gc/generations.c,
 * doc/design/generations.md): young pointers written into old objects on
 * every path a program has -- a plain store, memcpy, read(2) after
 * vmgc_prepare_io, another thread -- survive many young cycles, with
 * verification on (a missed old-to-young pointer is a black object pointing
 * into from-space, which verify_end reports); the young cycles copy only
 * what is young; old data the program drops goes back within a bounded
 * number of cycles.  Both barrier backends.
 */
#include "config.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"
#include "vmgc.h"

static vmgc_heap *heap;
static vmgc_thread *me;
static vmgc_type t_leaf, t_holder, t_vec;

struct leaf {
    uint64_t value, check;
};

struct holder {
    void *young; /* written with a young object's address, one path per holder */
    uint64_t tag;
};

#define HOLDERS 4096
#define ROUNDS 40
#define PATHS 4 /* plain store, memcpy, read(2), another thread */

static void **holders; /* a vector of HOLDERS holders, rooted */

static vmgc_config config_for(int backend, int generational)
{
    vmgc_config c;
    vmgc_config_init(&c);
    c.reserve_bytes = (size_t)1 << 30;
    c.barrier = test_backends[backend];
    c.no_background = 1;
    c.generational = generational;
    return c;
}

static void setup(int backend)
{
    vmgc_config c = config_for(backend, 1);
    c.verify = 1;
    ck_assert_msg(vmgc_heap_create(&heap, &c) == VMGC_OK, "%s", vmgc_last_error());
    ck_assert_int_eq(vmgc_thread_attach(heap, &me), VMGC_OK);
    vmgc_type_desc ld = {.name = "leaf", .layout = VMGC_LAYOUT_NO_POINTERS};
    ck_assert_int_eq(vmgc_type_register(heap, &ld, &t_leaf), VMGC_OK);
    vmgc_type_desc hd =
        VMGC_TYPE_STRUCT("holder", struct holder, VMGC_PTR_BIT(struct holder, young));
    ck_assert_int_eq(vmgc_type_register(heap, &hd, &t_holder), VMGC_OK);
    vmgc_type_desc vd = {.name = "vec", .layout = VMGC_LAYOUT_ALL_POINTERS};
    ck_assert_int_eq(vmgc_type_register(heap, &vd, &t_vec), VMGC_OK);
    ck_assert_int_eq(vmgc_root_add(heap, (void **)&holders, 1), VMGC_OK);
}

static void teardown(void)
{
    ck_assert_int_eq(vmgc_root_remove(heap, (void **)&holders), VMGC_OK);
    holders = NULL;
    ck_assert_int_eq(vmgc_thread_detach(me), VMGC_OK);
    ck_assert_int_eq(vmgc_heap_destroy(heap), VMGC_OK);
}

static uint64_t value_of(int round, size_t i)
{
    return ((uint64_t)round << 32) ^ (i * 0x9e3779b97f4a7c15u);
}

static __attribute__((noinline)) void *leaf(vmgc_thread *t, uint64_t v)
{
    struct leaf *l = vmgc_alloc(t, t_leaf, sizeof *l);
    ck_assert_ptr_nonnull(l);
    l->value = v;
    l->check = ~v;
    return l;
}

/* Old objects: the holders, made old by a full collection. */
static __attribute__((noinline)) void make_old_holders(void)
{
    holders = vmgc_alloc(me, t_vec, HOLDERS * sizeof(void *));
    for (size_t i = 0; i < HOLDERS; i++) {
        struct holder *h = vmgc_alloc(me, t_holder, sizeof *h);
        h->tag = i;
        holders[i] = h;
    }
    ck_assert_int_eq(vmgc_collect(heap, 1), VMGC_OK);
}

/* ---- the other thread: stores what it allocates into old holders ---- */
static struct {
    sem_t go, done;
    int round, quit;
} worker;

static void *worker_main(void *arg)
{
    (void)arg;
    vmgc_thread *t;
    ck_assert_int_eq(vmgc_thread_attach(heap, &t), VMGC_OK);
    for (;;) {
        vmgc_blocking_enter(t); /* a flip does not wait for a thread waiting here */
        sem_wait(&worker.go);
        vmgc_blocking_leave(t);
        if (worker.quit)
            break;
        for (size_t i = 3; i < HOLDERS; i += PATHS)
            ((struct holder *)holders[i])->young = leaf(t, value_of(worker.round, i));
        sem_post(&worker.done);
    }
    ck_assert_int_eq(vmgc_thread_detach(t), VMGC_OK);
    return NULL;
}

/* One round of writes, each path to its own holders; the young objects'
 * only references are the old holders' slots once this returns. */
static __attribute__((noinline)) void write_young_pointers(int round, int fds[2])
{
    for (size_t i = 0; i < HOLDERS; i += PATHS) {
        struct holder *h = holders[i];
        h->young = leaf(me, value_of(round, i)); /* plain store */
        void *p = leaf(me, value_of(round, i + 1));
        memcpy(&((struct holder *)holders[i + 1])->young, &p, sizeof p); /* memcpy */
        p = leaf(me, value_of(round, i + 2));
        ck_assert_int_eq(write(fds[1], &p, sizeof p), (ssize_t)sizeof p);
        void **slot = &((struct holder *)holders[i + 2])->young;
        ck_assert_int_eq(vmgc_prepare_io(slot, sizeof *slot), VMGC_OK);
        ck_assert_int_eq(read(fds[0], slot, sizeof *slot), (ssize_t)sizeof *slot); /* the kernel */
        p = NULL;
    }
    worker.round = round;
    sem_post(&worker.go);
    vmgc_blocking_enter(me);
    sem_wait(&worker.done);
    vmgc_blocking_leave(me);
}

/* Dead stack words and registers would pin the young objects (ambiguous
 * roots), hiding a missed old-to-young pointer: overwrite them. */
static __attribute__((noinline)) void scrub_stack(void)
{
    volatile char junk[32 << 10];
    memset((char *)junk, 0, sizeof junk);
}

static __attribute__((noinline)) void write_plain(int round)
{
    for (size_t i = 0; i < HOLDERS; i++)
        ((struct holder *)holders[i])->young = leaf(me, value_of(round, i));
}

static int holders_intact(int round)
{
    for (size_t i = 0; i < HOLDERS; i++) {
        const struct holder *h = holders[i];
        const struct leaf *l = h->young;
        uint64_t v = value_of(round, i);
        if (h->tag != i || !l || l->value != v || l->check != ~v)
            return 0;
    }
    return 1;
}

static void old_to_young_on_every_path(int backend)
{
    setup(backend);
    make_old_holders();
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    sem_init(&worker.go, 0, 0);
    sem_init(&worker.done, 0, 0);
    worker.quit = 0;
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, worker_main, NULL), 0);
    vmgc_stats before, after;
    vmgc_get_stats(heap, &before);
    for (int round = 0; round < ROUNDS; round++) {
        write_young_pointers(round, fds);
        for (int k = 0; k < 2000; k++) /* young garbage around them */
            (void)leaf(me, 0);
        scrub_stack();
        ck_assert_int_eq(vmgc_collect_young(heap, 1), VMGC_OK);
        ck_assert_msg(holders_intact(round), "round %d: a young object written into an old "
                                             "one was lost", round);
    }
    vmgc_get_stats(heap, &after);
    worker.quit = 1;
    sem_post(&worker.go);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    close(fds[0]);
    close(fds[1]);
    uint64_t young = after.young_collections - before.young_collections;
    uint64_t cycles = after.collections - before.collections;
    /* full cycles come after 8 young ones in a row, or when what the
     * young ones promoted doubled the old data (.sol.policy) */
    ck_assert_uint_ge(young, (uint64_t)ROUNDS / 2);
    ck_assert_uint_eq(cycles, (uint64_t)ROUNDS);
    /* every round wrote into every holder page */
    ck_assert_uint_ge(after.remembered_pages - before.remembered_pages, young);
    ck_assert_uint_gt(after.write_traps, before.write_traps);
    printf("generations(%s): %llu cycles, %llu young, %llu old pages remembered, %llu first "
           "writes caught, %.1f KiB copied a cycle\n",
           test_backends[backend], (unsigned long long)cycles, (unsigned long long)young,
           (unsigned long long)(after.remembered_pages - before.remembered_pages),
           (unsigned long long)(after.write_traps - before.write_traps),
           (double)(after.bytes_copied - before.bytes_copied) / 1024.0 / (double)cycles);
    teardown();
}
BOTH(old_to_young_on_every_path)

/* A young cycle copies what is young and live, not the old data. */
static void young_cycle_leaves_old_in_place(int backend)
{
    setup(backend);
    make_old_holders();
    /* not as a pointer: a stack word pointing at it would pin its page */
    uintptr_t first = (uintptr_t)holders[0] ^ 1;
    vmgc_stats before, after;
    vmgc_get_stats(heap, &before);
    for (int k = 0; k < 2000; k++)
        (void)leaf(me, 0);
    ck_assert_int_eq(vmgc_collect_young(heap, 1), VMGC_OK);
    vmgc_get_stats(heap, &after);
    ck_assert_uint_eq(after.young_collections, before.young_collections + 1);
    ck_assert_uint_eq((uintptr_t)holders[0] ^ 1, first); /* old objects do not move */
    ck_assert_uint_lt(after.bytes_copied - before.bytes_copied, 4096);
    ck_assert_uint_ge(after.old_bytes, (size_t)HOLDERS * sizeof(struct holder));
    /* a full one copies them (those no stack word pins) */
    ck_assert_int_eq(vmgc_collect(heap, 1), VMGC_OK);
    vmgc_stats full;
    vmgc_get_stats(heap, &full);
    ck_assert_uint_eq(full.young_collections, before.young_collections + 1);
    ck_assert_uint_ge(full.bytes_copied - after.bytes_copied,
                      (uint64_t)HOLDERS * sizeof(struct holder) / 2);
    teardown();
}
BOTH(young_cycle_leaves_old_in_place)

/* Old data dropped goes back within a bounded number of cycles, young
 * ones only asked for (a full one comes after 8 in a row). */
static void dropped_old_data_goes_back(int backend)
{
    setup(backend);
    holders = vmgc_alloc(me, t_vec, 8 * sizeof(void *));
    void **list = NULL;
    ck_assert_int_eq(vmgc_root_add(heap, (void **)&list, 1), VMGC_OK);
    for (int i = 0; i < 200000; i++) { /* ~10 MB of pairs */
        void **cell = vmgc_alloc(me, t_vec, 4 * sizeof(void *));
        cell[0] = list;
        list = cell;
    }
    ck_assert_int_eq(vmgc_collect(heap, 1), VMGC_OK);
    vmgc_stats s;
    vmgc_get_stats(heap, &s);
    size_t old_full = s.old_bytes;
    ck_assert_uint_gt(old_full, (size_t)6 << 20);
    list = NULL;
    int k;
    for (k = 0; k < 10; k++) {
        for (int j = 0; j < 2000; j++)
            (void)leaf(me, 0);
        ck_assert_int_eq(vmgc_collect_young(heap, 1), VMGC_OK);
        vmgc_get_stats(heap, &s);
        if (s.old_bytes < old_full / 8)
            break;
    }
    ck_assert_msg(k < 10, "old data dropped is still held after 10 collections (%zu bytes)",
                  s.old_bytes);
    ck_assert_int_eq(vmgc_root_remove(heap, (void **)&list), VMGC_OK);
    teardown();
}
BOTH(dropped_old_data_goes_back)

/* A fork write-protects the parent's heap until the child has its copy;
 * the parent's first write to an old, write-tracked page is then both a
 * fork's fault and a remembered write (before the fix: the fork's handler
 * showed the page read-only again, for ever: "a heap fault keeps
 * recurring", found by the checkpoint benchmark's fork() row). */
static void fork_then_write_old(int backend)
{
    setup(backend);
    make_old_holders();
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        usleep(300000); /* the parent writes while this child still owes pages */
        _exit(0);
    }
    write_plain(0);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    scrub_stack();
    ck_assert_int_eq(vmgc_collect_young(heap, 1), VMGC_OK);
    for (size_t i = 0; i < HOLDERS; i++) {
        const struct leaf *l = ((struct holder *)holders[i])->young;
        ck_assert_msg(l && l->value == value_of(0, i) && l->check == ~value_of(0, i),
                      "holder %zu lost its young object", i);
    }
    teardown();
}
BOTH(fork_then_write_old)

/* .sol.weak-pages: old weak objects and ephemerons are write-tracked like
 * any other, and scanned by a young cycle only when written.  Young objects
 * stored into their slots after they turned old: a live one must be
 * forwarded (verification reports a slot left in from-space), a dead one
 * cleared, an ephemeron whose key lives keeps its value.  WEAKS of each,
 * spread over pages; slot 0 of the holders vector keeps the live ones. */
#define WEAKS 512
static vmgc_type t_weak, t_eph;

static __attribute__((noinline)) void weak_fill(void **weaks, void **ephs, void **keep,
                                                int round)
{
    for (size_t i = 0; i < WEAKS; i++) {
        void *live = leaf(me, value_of(round, i)), *key = leaf(me, ~value_of(round, i));
        keep[2 * i] = live;
        keep[2 * i + 1] = key;
        void **w = weaks[i], **e = ephs[i];
        vmgc_weak_store(&w[0], live);
        vmgc_weak_store(&w[1], leaf(me, 1)); /* dead at once */
        vmgc_weak_store(&e[0], key);
        e[1] = leaf(me, value_of(round, i) + 1); /* the value: kept by the key */
    }
}

static void weak_slots_in_old_pages(int backend)
{
    setup(backend);
    vmgc_type_desc wd = {.name = "weak", .layout = VMGC_LAYOUT_ALL_POINTERS, .weakness = VMGC_WEAK};
    ck_assert_int_eq(vmgc_type_register(heap, &wd, &t_weak), VMGC_OK);
    vmgc_type_desc ed = {
        .name = "eph", .layout = VMGC_LAYOUT_ALL_POINTERS, .weakness = VMGC_EPHEMERON};
    ck_assert_int_eq(vmgc_type_register(heap, &ed, &t_eph), VMGC_OK);
    holders = vmgc_alloc(me, t_vec, 3 * sizeof(void *));
    holders[0] = vmgc_alloc(me, t_vec, 2 * WEAKS * sizeof(void *)); /* what stays live */
    holders[1] = vmgc_alloc(me, t_vec, WEAKS * sizeof(void *));
    holders[2] = vmgc_alloc(me, t_vec, WEAKS * sizeof(void *));
    for (size_t i = 0; i < WEAKS; i++) {
        ((void **)holders[1])[i] = vmgc_alloc(me, t_weak, 2 * sizeof(void *));
        ((void **)holders[2])[i] = vmgc_alloc(me, t_eph, 2 * sizeof(void *));
    }
    ck_assert_int_eq(vmgc_collect(heap, 1), VMGC_OK); /* all old now */
    int young_rounds = 0;
    for (int round = 0; round < 6; round++) {
        weak_fill(holders[1], holders[2], holders[0], round);
        scrub_stack();
        vmgc_stats before, after;
        vmgc_get_stats(heap, &before);
        ck_assert_int_eq(vmgc_collect_young(heap, 1), VMGC_OK);
        vmgc_get_stats(heap, &after);
        /* the policy may make it a mark cycle, which keeps what weak slots
         * name (mark.md .sol.weak-strong), or a full one */
        int marked = after.mark_collections > before.mark_collections;
        young_rounds += !marked && after.young_collections > before.young_collections;
        size_t dead_kept = 0;
        for (size_t i = 0; i < WEAKS; i++) {
            void **keep = holders[0], **w = ((void **)holders[1])[i], **e = ((void **)holders[2])[i];
            const struct leaf *live = vmgc_weak_load(me, &w[0]), *value = e[1];
            ck_assert_msg(live == keep[2 * i] && live->value == value_of(round, i),
                          "round %d: weak slot %zu lost its live young object", round, i);
            ck_assert_msg(vmgc_weak_load(me, &e[0]) == keep[2 * i + 1],
                          "round %d: ephemeron %zu lost its live young key", round, i);
            ck_assert_msg(value && value->value == value_of(round, i) + 1,
                          "round %d: ephemeron %zu lost the value its key keeps", round, i);
            dead_kept += vmgc_weak_load(me, &w[1]) != NULL;
        }
        /* a stale word may pin a page of them (conservative stacks), not most */
        ck_assert_msg(marked || dead_kept < WEAKS / 8,
                      "round %d: %zu of %d dead young objects kept", round, dead_kept, WEAKS);
    }
    ck_assert_int_ge(young_rounds, 3);
    teardown();
}
BOTH(weak_slots_in_old_pages)

/* The default: generational with the uffd backend, not with mprotect
 * (.sol.default); a bad setting is refused with a message. */
static void default_follows_backend(int backend)
{
    unsetenv("VMGC_GENERATIONAL");
    vmgc_config c = config_for(backend, 2);
    ck_assert_int_eq(vmgc_heap_create(&heap, &c), VMGC_EINVAL);
    ck_assert_ptr_nonnull(strstr(vmgc_last_error(), "generational"));
    setenv("VMGC_GENERATIONAL", "yes", 1);
    c.generational = 0;
    ck_assert_int_eq(vmgc_heap_create(&heap, &c), VMGC_EINVAL);
    ck_assert_ptr_nonnull(strstr(vmgc_last_error(), "VMGC_GENERATIONAL"));
    unsetenv("VMGC_GENERATIONAL");
    ck_assert_msg(vmgc_heap_create(&heap, &c) == VMGC_OK, "%s", vmgc_last_error());
    ck_assert_int_eq(vmgc_thread_attach(heap, &me), VMGC_OK);
    ck_assert_int_eq(vmgc_collect(heap, 1), VMGC_OK);
    ck_assert_int_eq(vmgc_collect_young(heap, 1), VMGC_OK);
    vmgc_stats s;
    vmgc_get_stats(heap, &s);
    ck_assert_uint_eq(s.collections, 2);
    ck_assert_uint_eq(s.young_collections, backend == 0 ? 1 : 0);
    ck_assert_int_eq(vmgc_thread_detach(me), VMGC_OK);
    ck_assert_int_eq(vmgc_heap_destroy(heap), VMGC_OK);
}
BOTH(default_follows_backend)

int main(void)
{
    Suite *s = suite_create("generations");
    TCase *tc = tcase_create("generations");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, old_to_young_on_every_path_t, 0, 2);
    tcase_add_loop_test(tc, young_cycle_leaves_old_in_place_t, 0, 2);
    tcase_add_loop_test(tc, dropped_old_data_goes_back_t, 0, 2);
    tcase_add_loop_test(tc, fork_then_write_old_t, 0, 2);
    tcase_add_loop_test(tc, default_follows_backend_t, 0, 2);
    tcase_add_loop_test(tc, weak_slots_in_old_pages_t, 0, 2);
    suite_add_tcase(s, tc);
    return test_run(s);
}

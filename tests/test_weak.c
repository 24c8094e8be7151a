/* test_weak.c -- weak slots, ephemerons and finalization (gc/weak.c,
 * gc/finalize.c): a weak slot is cleared once its object is unreachable and
 * follows it when it moves; an ephemeron keeps its value only while its key
 * is reachable otherwise (chains of them included); a load during a
 * collection's scan keeps the object; finalization queues unreachable
 * registered objects intact, in the documented order, once each; weak
 * slots survive a checkpoint; mutator threads keep weak tables consistent
 * while collections run back to back.  Both barrier backends, with
 * verification. */
#include "config.h"

#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/wait.h>

#include "testlib.h"
#include "internal.h"
#include "vmgc.h"

#if defined(__SANITIZE_THREAD__)
#define BASE ((void *)0x006000000000ull)
#else
#define BASE ((void *)0x580000000000ull)
#endif

struct obj {
    struct obj *ref;
    uint64_t stamp;
};

static const vmgc_type_desc descs[] = {
    {.name = "obj", .layout = VMGC_LAYOUT_BITMAP, .bitmap = 1, .size = sizeof(struct obj)},
    {.name = "vec", .layout = VMGC_LAYOUT_ALL_POINTERS},
    {.name = "wvec", .layout = VMGC_LAYOUT_ALL_POINTERS, .weakness = VMGC_WEAK},
    {.name = "eph", .layout = VMGC_LAYOUT_ALL_POINTERS, .weakness = VMGC_EPHEMERON},
    /* key, value, and the key's stamp (not a pointer) */
    {.name = "entry", .layout = VMGC_LAYOUT_BITMAP, .bitmap = 3, .size = 24,
     .weakness = VMGC_EPHEMERON},
};
enum { T_OBJ, T_VEC, T_WVEC, T_EPH, T_ENTRY, NTYPES };

static vmgc_heap *heap;
static vmgc_thread *me;
static vmgc_type types[NTYPES];
static void *roots[8];

static vmgc_config config_for(int backend)
{
    vmgc_config c;
    vmgc_config_init(&c);
    c.reserve_bytes = (size_t)2 << 30;
    c.fixed_base = BASE;
    c.initial_size = (size_t)4 << 20;
    c.barrier = test_backends[backend];
    c.verify = 1;
    return c;
}

static void setup(int backend)
{
    vmgc_config c = config_for(backend);
    ck_assert_msg(vmgc_heap_create(&heap, &c) == VMGC_OK, "%s", vmgc_last_error());
    ck_assert_int_eq(vmgc_thread_attach(heap, &me), VMGC_OK);
    for (int i = 0; i < NTYPES; i++)
        ck_assert_int_eq(vmgc_type_register(heap, &descs[i], &types[i]), VMGC_OK);
    memset(roots, 0, sizeof roots);
    ck_assert_int_eq(vmgc_root_add(heap, roots, 8), VMGC_OK);
}

static void teardown(void)
{
    ck_assert_int_eq(vmgc_root_remove(heap, roots), VMGC_OK);
    ck_assert_int_eq(vmgc_thread_detach(me), VMGC_OK);
    ck_assert_int_eq(vmgc_heap_destroy(heap), VMGC_OK);
}

static struct obj *obj_new(vmgc_thread *t, uint64_t stamp, struct obj *ref)
{
    struct obj *o = vmgc_alloc(t, types[T_OBJ], sizeof *o);
    o->stamp = stamp;
    o->ref = ref;
    return o;
}

static void **vec_new(vmgc_thread *t, int type, size_t n)
{
    return vmgc_alloc(t, types[type], n * sizeof(void *));
}

static void **eph_new(vmgc_thread *t, void *key, void *value)
{
    void **e = vec_new(t, T_EPH, 2);
    vmgc_weak_store(&e[0], key);
    vmgc_weak_store(&e[1], value);
    return e;
}

/* Garbage enough that the thread's allocation page (pinned in each flip,
 * .sol.tlab) is not where the test's objects are; then the dead stack
 * slots are overwritten, so only registered roots keep anything. */
static __attribute__((noinline)) void forget(void)
{
    for (int i = 0; i < 600; i++)
        (void)obj_new(me, 0, NULL);
    test_scrub_stack();
}

static void collect(int n)
{
    for (int i = 0; i < n; i++) {
        forget();
        ck_assert_int_eq(vmgc_collect(heap, 1), VMGC_OK);
    }
}

static void *wload(void **vec, size_t i)
{
    return vmgc_weak_load(me, &vec[i]);
}

/* ---- weak slots ---- */

#define WN 1000

static __attribute__((noinline)) void make_weak_vector(void)
{
    void **w = vec_new(me, T_WVEC, WN);
    roots[0] = w;
    void **keep = vec_new(me, T_VEC, WN / 2);
    roots[1] = keep;
    for (size_t i = 0; i < WN; i++) {
        struct obj *o = obj_new(me, 1000 + i, NULL);
        vmgc_weak_store(&w[i], o);
        if (i % 2 == 0)
            keep[i / 2] = o;
    }
}

/* In a frame of its own, as every check here: a heap address left in the
 * frame that collects would pin its page, and every object on it. */
static __attribute__((noinline)) void check_weak_vector(int round)
{
    void **w = roots[0], **keep = roots[1];
    for (size_t i = 0; i < WN; i++) {
        struct obj *o = wload(w, i);
        if (i % 2) {
            ck_assert_msg(o == NULL, "round %d: slot %zu kept a dead object", round, i);
        } else {
            ck_assert_msg(o == keep[i / 2], "round %d: slot %zu does not follow its object",
                          round, i);
            ck_assert_uint_eq(o->stamp, 1000 + i);
        }
    }
}

/* Odd slots lose their objects; even ones follow theirs as they move. */
static void weak_vector_clears_and_follows(int backend)
{
    setup(backend);
    make_weak_vector();
    for (int round = 0; round < 3; round++) {
        collect(2);
        check_weak_vector(round);
    }
    vmgc_stats st;
    vmgc_get_stats(heap, &st);
    ck_assert_uint_ge(st.weak_slots_cleared, WN / 2);
    ck_assert_uint_ge(st.objects_copied, WN / 2);
    teardown();
}
BOTH(weak_vector_clears_and_follows)

/* ---- ephemerons ---- */

static __attribute__((noinline)) void make_ephemerons(void)
{
    void **tab = vec_new(me, T_VEC, 8);
    roots[0] = tab;
    void **keys = vec_new(me, T_VEC, 8);
    roots[1] = keys;
    /* 0: a value that refers back to its unreachable key keeps nothing */
    struct obj *k0 = obj_new(me, 10, NULL);
    tab[0] = eph_new(me, k0, obj_new(me, 11, k0));
    /* 1: a reachable key keeps a value reachable from nothing else */
    keys[1] = obj_new(me, 20, NULL);
    tab[1] = eph_new(me, keys[1], obj_new(me, 21, NULL));
    /* 2, 3: a chain: a kept value reaches the next ephemeron's key */
    keys[2] = obj_new(me, 30, NULL);
    struct obj *k3 = obj_new(me, 40, NULL);
    tab[2] = eph_new(me, keys[2], obj_new(me, 31, k3));
    tab[3] = eph_new(me, k3, obj_new(me, 41, NULL));
    /* 4, 5: the same chain from an unreachable key: all of it goes */
    struct obj *k4 = obj_new(me, 50, NULL), *k5 = obj_new(me, 60, NULL);
    tab[4] = eph_new(me, k4, obj_new(me, 51, k5));
    tab[5] = eph_new(me, k5, obj_new(me, 61, NULL));
    /* 6: built in the reverse order of the chain 2, 3 */
    struct obj *k7 = obj_new(me, 80, NULL);
    tab[7] = eph_new(me, k7, obj_new(me, 81, NULL));
    keys[6] = obj_new(me, 70, NULL);
    tab[6] = eph_new(me, keys[6], obj_new(me, 71, k7));
}

/* Checks in a frame of their own: the caller's frame then holds no
 * pointer that would pin a page of the test's objects when it collects. */
static __attribute__((noinline)) void check_ephemerons(int round)
{
    void **tab = roots[0], **keys = roots[1];
    static const int alive[8] = {0, 1, 1, 1, 0, 0, 1, 1};
    for (int i = 0; i < 8; i++) {
        struct obj *k = wload(tab[i], 0), *v = wload(tab[i], 1);
        if (!alive[i]) {
            ck_assert_msg(!k && !v, "round %d: ephemeron %d was not broken", round, i);
            continue;
        }
        ck_assert_msg(k && v, "round %d: ephemeron %d lost its key or value", round, i);
        ck_assert_uint_eq(k->stamp, 10 * (i + 1));
        ck_assert_uint_eq(v->stamp, 10 * (i + 1) + 1);
        if (keys[i])
            ck_assert_ptr_eq(k, keys[i]);
    }
    ck_assert_ptr_eq(((struct obj *)wload(tab[2], 1))->ref, wload(tab[3], 0));
    ck_assert_ptr_eq(((struct obj *)wload(tab[6], 1))->ref, wload(tab[7], 0));
}

/* (a helper: the keys vector's address in this frame would pin its page,
 * and with it the key's) */
static __attribute__((noinline)) void drop_chain_key(void)
{
    ((void **)roots[1])[2] = NULL;
}

static __attribute__((noinline)) int chain_is_broken(void)
{
    return !wload(((void **)roots[0])[2], 0) && !wload(((void **)roots[0])[3], 1);
}

static void ephemeron_semantics(int backend)
{
    setup(backend);
    make_ephemerons();
    for (int round = 0; round < 2; round++) {
        collect(2);
        check_ephemerons(round);
    }
    vmgc_stats st;
    vmgc_get_stats(heap, &st);
    ck_assert_uint_eq(st.ephemerons_broken, 3);
    /* dropping the chain's first key breaks the whole chain */
    drop_chain_key();
    collect(2);
    ck_assert_msg(chain_is_broken(), "a chain of ephemerons outlived its first key");
    teardown();
}
BOTH(ephemeron_semantics)

/* ---- a load during the scan keeps the object ---- */

static int hook_state; /* 1: the cycle waits in the hook; 2: the load is done */

static void hold_cycle(struct vmgc_heap *h)
{
    (void)h;
    __atomic_store_n(&hook_state, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 10000 && __atomic_load_n(&hook_state, __ATOMIC_ACQUIRE) != 2; i++)
        usleep(1000);
}

static __attribute__((noinline)) void make_weak_box(void)
{
    void **w = vec_new(me, T_WVEC, 1);
    roots[1] = obj_new(me, 77, NULL); /* held for the first collection only */
    vmgc_weak_store(&w[0], roots[1]);
    roots[0] = w;
}

static __attribute__((noinline)) int load_during_scan(void)
{
    struct obj *o = wload(roots[0], 0);
    return o && o->stamp == 77;
}

static __attribute__((noinline)) int box_is_empty(void)
{
    return wload(roots[0], 0) == NULL;
}

static void load_during_scan_keeps(int backend)
{
    setup(backend);
    make_weak_box();
    collect(1); /* the box and its object are in to-space pages of their own now */
    ck_assert_msg(!box_is_empty(), "a held object was cleared");
    roots[1] = NULL;
    forget();
    __atomic_store_n(&heap->test_after_from_space_unmapped, hold_cycle, __ATOMIC_RELEASE);
    hook_state = 0;
    vmgc_stats st0;
    vmgc_get_stats(heap, &st0);
    uint64_t before = st0.collections;
    ck_assert_int_eq(vmgc_collect(heap, 0), VMGC_OK);
    while (__atomic_load_n(&hook_state, __ATOMIC_ACQUIRE) != 1)
        sched_yield();
    __atomic_store_n(&heap->test_after_from_space_unmapped, NULL, __ATOMIC_RELEASE);
    int ok = load_during_scan(); /* nothing else reaches it: the load copies it */
    __atomic_store_n(&hook_state, 2, __ATOMIC_RELEASE);
    ck_assert_msg(ok, "a load during the scan did not give the object");
    vmgc_stats st;
    do { /* the held cycle's end */
        sched_yield();
        vmgc_get_stats(heap, &st);
    } while (st.collections < before + 1);
    ck_assert_msg(!box_is_empty(), "the cycle of the load cleared what it loaded");
    collect(2);
    ck_assert_msg(box_is_empty(), "the object outlived the cycles after the load");
    teardown();
}
BOTH(load_during_scan_keeps)

/* ---- finalization ---- */

static __attribute__((noinline)) void make_finalizable(void)
{
    /* a alone; b -> c (b first, then c); d <-> e (a cycle: d, registered
     * first, goes first, as if e -> d were not there) */
    struct obj *a = obj_new(me, 1, NULL), *c = obj_new(me, 3, NULL), *b = obj_new(me, 2, c);
    struct obj *d = obj_new(me, 4, NULL), *e = obj_new(me, 5, d);
    d->ref = e;
    struct obj *all[] = {a, b, c, d, e};
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(vmgc_finalize_register(me, all[i]), VMGC_OK);
}

/* Stamps of what the queue holds now, as a bit set. */
static __attribute__((noinline)) unsigned drain_queue(int keep_first)
{
    unsigned got = 0;
    struct obj *o;
    while ((o = vmgc_finalize_next(me)) != NULL) {
        ck_assert_uint_lt(o->stamp, 32);
        ck_assert_msg(!(got >> o->stamp & 1), "object %llu queued twice",
                      (unsigned long long)o->stamp);
        got |= 1u << o->stamp;
        if (o->stamp == 2 && o->ref)
            ck_assert_uint_eq(o->ref->stamp, 3); /* what it reaches is intact */
        if (o->stamp == 4)
            ck_assert_uint_eq(o->ref->stamp, 5);
        if (o->stamp == 5)
            ck_assert_uint_eq(o->ref->stamp, 4);
        if (keep_first && !roots[2])
            roots[2] = o; /* resurrected */
    }
    return got;
}

static void finalization_order(int backend)
{
    setup(backend);
    make_finalizable();
    vmgc_stats st;
    vmgc_get_stats(heap, &st);
    ck_assert_uint_eq(st.finalize_registered, 5);
    collect(1);
    unsigned first = drain_queue(1);
    ck_assert_msg(first == (1u << 1 | 1u << 2 | 1u << 4),
                  "first collection queued %#x: want a, b and d (c waits for b, e for d)", first);
    collect(1);
    unsigned second = drain_queue(0);
    ck_assert_msg(second == (1u << 3 | 1u << 5), "second collection queued %#x: want c and e",
                  second);
    collect(2);
    ck_assert_uint_eq(drain_queue(0), 0);
    /* the resurrected object (a, queued first) lives on, not queued again */
    struct obj *r = roots[2];
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(r->stamp, 1);
    vmgc_get_stats(heap, &st);
    ck_assert_uint_eq(st.objects_finalized, 5);
    ck_assert_uint_eq(st.finalize_registered, 0);
    ck_assert_uint_eq(st.finalize_queued, 0);
    teardown();
}
BOTH(finalization_order)

/* ---- misuse ---- */

static void bad_desc(vmgc_type_desc d, const char *want)
{
    vmgc_type t;
    ck_assert_int_eq(vmgc_type_register(heap, &d, &t), VMGC_EINVAL);
    ck_assert_msg(strstr(vmgc_last_error(), want), "%s", vmgc_last_error());
}

static void trace_none(void *obj, size_t size, vmgc_visit_fn visit, void *ctx)
{
    (void)obj, (void)size, (void)visit, (void)ctx;
}

START_TEST(misuse_is_refused)
{
    setup(0);
    bad_desc((vmgc_type_desc){.name = "w1", .layout = VMGC_LAYOUT_TRACE, .trace = trace_none,
                              .weakness = VMGC_WEAK},
             "not a trace callback");
    bad_desc((vmgc_type_desc){.name = "w2", .layout = VMGC_LAYOUT_BITMAP, .bitmap = 2,
                              .weakness = VMGC_EPHEMERON},
             "key is word 0");
    bad_desc((vmgc_type_desc){.name = "w3", .layout = VMGC_LAYOUT_ALL_POINTERS, .weakness = 7},
             "unknown weakness");
    vmgc_type t;
    vmgc_type_desc strong = {.name = "wvec", .layout = VMGC_LAYOUT_ALL_POINTERS};
    ck_assert_int_eq(vmgc_type_register(heap, &strong, &t), VMGC_ESTATE);
    void **w = vec_new(me, T_WVEC, 1);
    ck_assert_int_eq(vmgc_finalize_register(me, w), VMGC_EINVAL);
    ck_assert_msg(strstr(vmgc_last_error(), "weak type 'wvec'"), "%s", vmgc_last_error());
    static int not_heap;
    ck_assert_int_eq(vmgc_finalize_register(me, &not_heap), VMGC_EINVAL);
    ck_assert_int_eq(vmgc_finalize_register(NULL, w), VMGC_EINVAL);
    ck_assert_ptr_null(vmgc_finalize_next(me));
    teardown();
}
END_TEST

/* ---- concurrent mutators ---- */

#define MUTATORS 2
#define KEYS 256
#define ENTRIES 1024

static int stop_mutators;

struct mut_result {
    uint64_t checks, broken_seen, registered;
    char failure[200];
};

/* Each thread keeps a weak-key table (entries[i] = ephemeron(key, value),
 * value->ref = key: the value refers back to its key) and a weak vector of
 * the values, replaces keys at random, and checks every entry it reads: a
 * key comes with its own value; a key still held is never lost. */
static void *mutator_main(void *arg)
{
    struct mut_result *res = arg;
    uint64_t seed = (uint64_t)(uintptr_t)arg * 0x9E3779B97F4A7C15ull;
    vmgc_thread *t;
    if (vmgc_thread_attach(heap, &t) != VMGC_OK) {
        snprintf(res->failure, sizeof res->failure, "attach: %s", vmgc_last_error());
        return NULL;
    }
    void *mine[3] = {NULL, NULL, NULL}; /* keys, entries, weak values */
    if (vmgc_root_add(heap, mine, 3) != VMGC_OK) {
        snprintf(res->failure, sizeof res->failure, "vmgc_root_add: %s", vmgc_last_error());
        vmgc_thread_detach(t);
        return NULL;
    }
    mine[0] = vec_new(t, T_VEC, KEYS);
    mine[1] = vec_new(t, T_VEC, ENTRIES);
    mine[2] = vec_new(t, T_WVEC, ENTRIES);
    uint64_t next_stamp = 1;
    while (!__atomic_load_n(&stop_mutators, __ATOMIC_ACQUIRE)) {
        size_t i = test_rand(&seed) % ENTRIES, k = i % KEYS;
        void **keys = mine[0], **entries = mine[1], **wvals = mine[2];
        void **e = entries[i];
        if (e) {
            struct obj *key = vmgc_weak_load(t, &e[0]), *val = vmgc_weak_load(t, &e[1]);
            struct obj *wv = vmgc_weak_load(t, &wvals[i]);
            struct obj *held = keys[k];
            uint64_t key_stamp = ((uint64_t *)e)[2];
            res->checks++;
            if (!key != !val || (key && (val->ref != key || val->stamp != key->stamp + 1 ||
                                         key->stamp != key_stamp))) {
                snprintf(res->failure, sizeof res->failure,
                         "entry %zu (%p): key %p (stamp %llu) and value %p (stamp %llu, ref %p) "
                         "do not belong together; the entry's key stamp %llu",
                         i, (void *)e, (void *)key,
                         key ? (unsigned long long)key->stamp : 0ull, (void *)val,
                         val ? (unsigned long long)val->stamp : 0ull,
                         val ? (void *)val->ref : NULL, (unsigned long long)key_stamp);
                break;
            }
            if (!key && held && held->stamp == key_stamp) {
                snprintf(res->failure, sizeof res->failure, "entry %zu lost a key still held", i);
                break;
            }
            if (key && held && held->stamp == key_stamp && held != key) {
                snprintf(res->failure, sizeof res->failure, "entry %zu: the key did not follow", i);
                break;
            }
            if (wv && val && wv != val) {
                snprintf(res->failure, sizeof res->failure,
                         "weak value %zu is not the entry's: %p (stamp %llu, ref %p) against %p "
                         "(stamp %llu, ref %p)",
                         i, (void *)wv, (unsigned long long)wv->stamp, (void *)wv->ref,
                         (void *)val, (unsigned long long)val->stamp, (void *)val->ref);
                break;
            }
            if (!key)
                res->broken_seen++;
        }
        if (test_rand(&seed) % 4 == 0) { /* a new key for this slot: older entries may die */
            keys[k] = obj_new(t, next_stamp, NULL);
            next_stamp += 2;
        }
        struct obj *key = keys[k];
        if (key) {
            struct obj *val = obj_new(t, key->stamp + 1, key);
            void **ne = vmgc_alloc(t, types[T_ENTRY], 3 * sizeof(void *));
            vmgc_weak_store(&ne[0], key);
            vmgc_weak_store(&ne[1], val);
            ((uint64_t *)ne)[2] = key->stamp;
            ((void **)mine[1])[i] = ne;
            vmgc_weak_store(&((void **)mine[2])[i], val);
        }
        if (test_rand(&seed) % 64 == 0) {
            /* no ck_assert in the loop: Check's assertions take a mutex of
             * its own, and under TSan (which holds signals back until a
             * call returns) a thread stopped holding it kept another from
             * answering the stop: a deadlock of the test, not of vmgc */
            if (vmgc_finalize_register(t, obj_new(t, 0xF1, NULL)) != VMGC_OK) {
                snprintf(res->failure, sizeof res->failure, "vmgc_finalize_register: %s",
                         vmgc_last_error());
                break;
            }
            res->registered++;
        }
        for (int g = 0; g < 4; g++)
            (void)obj_new(t, 0, NULL); /* garbage: cycles come often */
    }
    if (vmgc_root_remove(heap, mine) != VMGC_OK || vmgc_thread_detach(t) != VMGC_OK)
        snprintf(res->failure, sizeof res->failure, "leaving: %s", vmgc_last_error());
    return NULL;
}

/* Two threads for two seconds, collections back to back (a small trigger
 * and explicit ones), the main thread draining the finalization queue. */
static void mutators_with_weak_tables(int backend)
{
    setup(backend);
    stop_mutators = 0;
    pthread_t th[MUTATORS];
    static struct mut_result res[MUTATORS];
    memset(res, 0, sizeof res);
    for (int i = 0; i < MUTATORS; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, mutator_main, &res[i]), 0);
    uint64_t finalized = 0;
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        ck_assert_int_eq(vmgc_collect(heap, 1), VMGC_OK);
        struct obj *o;
        while ((o = vmgc_finalize_next(me)) != NULL) {
            ck_assert_uint_eq(o->stamp, 0xF1);
            finalized++;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (now.tv_sec - t0.tv_sec < 2);
    __atomic_store_n(&stop_mutators, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < MUTATORS; i++)
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
    collect(3);
    struct obj *o;
    while ((o = vmgc_finalize_next(me)) != NULL) {
        ck_assert_uint_eq(o->stamp, 0xF1);
        finalized++;
    }
    uint64_t checks = 0, broken = 0, registered = 0;
    for (int i = 0; i < MUTATORS; i++) {
        ck_assert_msg(!res[i].failure[0], "thread %d: %s", i, res[i].failure);
        checks += res[i].checks;
        broken += res[i].broken_seen;
        registered += res[i].registered;
    }
    vmgc_stats st;
    vmgc_get_stats(heap, &st);
    fprintf(stderr,
            "mutators_with_weak_tables(%s): %llu cycles, %llu entries checked, %llu seen broken, "
            "%llu slots cleared, %llu ephemerons broken, %llu of %llu finalized\n",
            test_backends[backend], (unsigned long long)st.collections,
            (unsigned long long)checks, (unsigned long long)broken,
            (unsigned long long)st.weak_slots_cleared, (unsigned long long)st.ephemerons_broken,
            (unsigned long long)finalized, (unsigned long long)registered);
    ck_assert_uint_ge(st.collections, 10);
    ck_assert_uint_gt(checks, 1000);
    ck_assert_uint_gt(st.ephemerons_broken, 100);
    /* the threads' stacks are gone: every registered object is unreachable
     * (a few may sit on a page a conservative word still pins) */
    ck_assert_uint_eq(st.objects_finalized, finalized);
    ck_assert_uint_ge(finalized * 10, registered * 9);
    teardown();
}
BOTH(mutators_with_weak_tables)

/* ---- checkpoints ---- */

static char img_dir[64], img_path[128];

/* roots: 0 a weak vector (slot 0 held by root 1, slot 1 by nothing), 1
 * the held object, 2 an ephemeron keyed by root 1's object */
static __attribute__((noinline)) int restored_as_saved(void)
{
    void **w = roots[0];
    struct obj *held = roots[1];
    if (wload(w, 0) != held || held->stamp != 5)
        return 0;
    struct obj *v = wload(roots[2], 1), *dropped = wload(w, 1);
    /* the checkpoint's cycle kept what the weak slots held (.sol.weak-image) */
    return wload(roots[2], 0) == held && v && v->stamp == 6 && dropped && dropped->stamp == 9;
}

static __attribute__((noinline)) int decided_after_restore(void)
{
    struct obj *v = wload(roots[2], 1), *dropped = wload(roots[0], 1);
    if (dropped)
        fprintf(stderr, "restored: slot 1 still holds %p (stamp %llu)\n", (void *)dropped,
                (unsigned long long)dropped->stamp);
    return !dropped && wload(roots[0], 0) == roots[1] && v && v->stamp == 6;
}

/* In a frame of its own: the configuration holds the heap's base, a
 * word that would pin the first page for the conservative stack scan. */
static __attribute__((noinline)) vmgc_status restore_heap(void)
{
    vmgc_config c = config_for(0);
    return vmgc_heap_restore(&heap, &c, img_path, descs, NTYPES, VMGC_RESTORE_VERIFY);
}

static int restored_child(void *unused)
{
    (void)unused;
    if (restore_heap() != VMGC_OK) {
        fprintf(stderr, "restore: %s\n", vmgc_last_error());
        return 1;
    }
    if (vmgc_thread_attach(heap, &me) != VMGC_OK)
        return 2;
    memset(roots, 0, sizeof roots);
    if (vmgc_root_restore(heap, "weak-test", roots, 4) != VMGC_OK) {
        fprintf(stderr, "%s\n", vmgc_last_error());
        return 3;
    }
    if (!restored_as_saved())
        return 4;
    collect(2); /* the restored heap decides: slot 1 has nothing holding it */
    if (!decided_after_restore())
        return 5;
    return 0;
}

static __attribute__((noinline)) void make_for_image(void)
{
    void **w = vec_new(me, T_WVEC, 2);
    roots[0] = w;
    roots[1] = obj_new(me, 5, NULL);
    vmgc_weak_store(&w[0], roots[1]);
    vmgc_weak_store(&w[1], obj_new(me, 9, NULL));
    roots[2] = eph_new(me, roots[1], obj_new(me, 6, NULL));
}

static void weak_slots_survive_an_image(int backend)
{
    setup(backend); /* (its frame, with the heap's base in the config, is gone: the child
                       forked below must not find that word on its stack) */
    ck_assert_int_eq(vmgc_root_remove(heap, roots), VMGC_OK);
    memset(roots, 0, sizeof roots);
    ck_assert_int_eq(vmgc_root_add_named(heap, "weak-test", roots, 4), VMGC_OK);
    make_for_image();
    forget();
    snprintf(img_dir, sizeof img_dir, "/tmp/vmgc-weak-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(img_dir));
    snprintf(img_path, sizeof img_path, "%s/heap.img", img_dir);
    vmgc_checkpoint *ck;
    ck_assert_msg(vmgc_checkpoint_start(heap, img_path, &ck) == VMGC_OK, "%s", vmgc_last_error());
    ck_assert_msg(vmgc_checkpoint_wait(ck, NULL) == VMGC_OK, "%s", vmgc_last_error());
    ck_assert_int_eq(vmgc_thread_detach(me), VMGC_OK);
    ck_assert_int_eq(vmgc_heap_destroy(heap), VMGC_OK);
    fflush(stderr);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(restored_child(NULL));
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", img_dir);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "the restored heap's weak slots are wrong (child status %d)", status);
}
BOTH(weak_slots_survive_an_image)

int main(void)
{
    Suite *s = suite_create("weak");
    TCase *tc = tcase_create("weak");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, weak_vector_clears_and_follows_t, 0, 2);
    tcase_add_loop_test(tc, ephemeron_semantics_t, 0, 2);
    tcase_add_loop_test(tc, load_during_scan_keeps_t, 0, 2);
    tcase_add_loop_test(tc, finalization_order_t, 0, 2);
    tcase_add_test(tc, misuse_is_refused);
    tcase_add_loop_test(tc, mutators_with_weak_tables_t, 0, 2);
    tcase_add_loop_test(tc, weak_slots_survive_an_image_t, 0, 2);
    suite_add_tcase(s, tc);
    return test_run(s);
}

/* test_stress.c -- randomized stress: several mutator threads build and
 * mutate object graphs carrying checksums while collections run back to
 * back; every thread verifies everything it can reach after every cycle.
 * The graphs hold weak vectors, ephemerons (whose value refers back to
 * the key) and finalizable nodes, whose queue the threads drain and
 * check.
 * The heap is generational: the cycles alternate between young and full
 * ones (the background collector's own choice in between).
 * VMGC_STRESS_CYCLES sets the number of cycles (default 40; the long
 * setting is 10000), VMGC_STRESS_THREADS the mutators (default 3, up to
 * 8), VMGC_TEST_SEED replays.  Both barrier backends. */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testlib.h"
#include "image.h"
#include "vmgc.h"

#define SLOTS 256
#define MAX_THREADS 8

struct node {
    struct node *left, *right; /* plain pointers (bitmap words 0, 1) */
    uintptr_t tagged;          /* pointer | 1, or 0 (trace callback) */
    uint64_t id, value, check;
    uint64_t hash, hashed; /* vmgc_object_hash taken (hashed != 0): it must never change */
};

static vmgc_heap *heap;
static vmgc_type t_node, t_array, t_bytes, t_weak, t_eph;
static __thread vmgc_thread *cur_thread; /* for weak loads inside verify_obj */
static uint64_t finalized_seen;          /* Synchronization: atomic. */
static uint64_t cycles_target;
static int stop_flag;
static int mutators_started; /* cycles begin only once every mutator has built something */

/* Check's assertions are not safe off the main thread: fail loudly here. */
#define REQUIRE(cond, ...)                                                          \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "stress: %s:%d: ", __FILE__, __LINE__);                 \
            fprintf(stderr, __VA_ARGS__);                                           \
            fprintf(stderr, "\n");                                                  \
            abort();                                                                \
        }                                                                           \
    } while (0)

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

static void trace_node(void *obj, size_t size, vmgc_visit_fn visit, void *ctx)
{
    (void)size;
    struct node *n = obj;
    visit((void **)&n->left, ctx);
    visit((void **)&n->right, ctx);
    if (n->tagged & 1) {
        void *p = (void *)(n->tagged & ~(uintptr_t)1);
        visit(&p, ctx);
        n->tagged = (uintptr_t)p | 1;
    }
}

struct mutator {
    int id;
    uint64_t rng;
    void **slots;            /* precise roots: slot_array, or a root block for odd ids */
    void *slot_array[SLOTS]; /* registered with vmgc_root_add */
    uint64_t next_id;
    uint64_t verified;
    uint64_t cycles_seen; /* cycles after which this thread verified its graph */
    vmgc_thread *t;
};

static struct node *new_node(struct mutator *m)
{
    struct node *n = vmgc_alloc(m->t, t_node, sizeof *n);
    n->id = (uint64_t)m->id << 48 | m->next_id++;
    n->value = mix(n->id);
    n->check = mix(n->id ^ n->value);
    if (n->id % 4 == 0) { /* identity hashes: taken where the node is born */
        n->hash = vmgc_object_hash(n);
        n->hashed = 1;
    }
    return n;
}

static uint32_t type_of(const void *p);
static void *some_leaf(struct mutator *m);

/* A random slot's object, but never an array: arrays hang only off slots,
 * so what the graph keeps alive stays bounded. */
static void *some_leaf(struct mutator *m)
{
    void *p = m->slots[test_rand(&m->rng) % SLOTS];
    return p && type_of(p) == t_array ? NULL : p;
}

static void *new_array(struct mutator *m, size_t len)
{
    void **a = vmgc_alloc(m->t, t_array, len * sizeof(void *));
    for (size_t i = 0; i < len; i++)
        a[i] = some_leaf(m);
    return a;
}

/* A weak vector over random leaves: they die when their slots are
 * overwritten, and the vector's slots with them. */
static void *new_weak(struct mutator *m, size_t len)
{
    void **w = vmgc_alloc(m->t, t_weak, len * sizeof(void *));
    for (size_t i = 0; i < len; i++)
        vmgc_weak_store(&w[i], some_leaf(m));
    return w;
}

static struct node *new_node(struct mutator *m);

/* An ephemeron keyed by a random node, its value a new node pointing back
 * at the key (which must not keep the key alive). */
static void *new_ephemeron(struct mutator *m)
{
    void *key = some_leaf(m);
    if (!key || type_of(key) != t_node)
        return NULL;
    struct node *val = new_node(m);
    val->left = key;
    void **e = vmgc_alloc(m->t, t_eph, 2 * sizeof(void *));
    vmgc_weak_store(&e[0], key);
    vmgc_weak_store(&e[1], val);
    return e;
}

static void *new_bytes(struct mutator *m, size_t len)
{
    unsigned char *b = vmgc_alloc(m->t, t_bytes, len);
    uint64_t seed = test_rand(&m->rng) | 1;
    memcpy(b, &seed, 8);
    for (size_t i = 8; i < len; i++)
        b[i] = (unsigned char)(mix(seed + i) & 0xff);
    return b;
}

static uint32_t type_of(const void *p)
{
    /* atomic: another thread may be hashing the object (a CAS on its header) */
    uint64_t h = __atomic_load_n((const uint64_t *)((const char *)p - 8), __ATOMIC_RELAXED);
    return (uint32_t)(h >> VMGC_TYPE_SHIFT) & 0xfffff;
}

static void verify_obj(const void *p, int depth, uint64_t *count)
{
    if (!p || depth > 12 || *count > 4000)
        return;
    (*count)++;
    uint32_t t = type_of(p);
    if (t == t_node) {
        const struct node *n = p;
        REQUIRE(n->value == mix(n->id) && n->check == mix(n->id ^ n->value),
                      "node %p corrupted (id %llx)", p, (unsigned long long)n->id);
        REQUIRE(!n->hashed || vmgc_object_hash(n) == n->hash,
                "node %p (id %llx): its identity hash changed", p, (unsigned long long)n->id);
        if (!n->hashed && n->id % 7 == 0) { /* ... and after it may have moved */
            struct node *w = (struct node *)(uintptr_t)p;
            w->hash = vmgc_object_hash(w);
            w->hashed = 1;
        }
        verify_obj(n->left, depth + 1, count);
        verify_obj(n->right, depth + 1, count);
        if (n->tagged)
            verify_obj((void *)(n->tagged & ~(uintptr_t)1), depth + 1, count);
    } else if (t == t_array) {
        size_t len = vmgc_object_size(p) / sizeof(void *);
        for (size_t i = 0; i < len; i++)
            verify_obj(((void *const *)p)[i], depth + 1, count);
    } else if (t == t_bytes) {
        const unsigned char *b = p;
        size_t len = vmgc_object_size(p);
        uint64_t seed;
        memcpy(&seed, b, 8);
        for (size_t i = 8; i < len; i++)
            REQUIRE(b[i] == (unsigned char)(mix(seed + i) & 0xff), "bytes %p corrupted", p);
    } else if (t == t_weak) {
        size_t len = vmgc_object_size(p) / sizeof(void *);
        for (size_t i = 0; i < len; i++)
            verify_obj(vmgc_weak_load(cur_thread, &((void *const *)p)[i]), depth + 1, count);
    } else if (t == t_eph) {
        void *const *e = p;
        struct node *key = vmgc_weak_load(cur_thread, &e[0]);
        struct node *val = vmgc_weak_load(cur_thread, &e[1]);
        REQUIRE(!key == !val, "ephemeron %p: key %p without value %p or the reverse", p,
                (void *)key, (void *)val);
        if (key) {
            REQUIRE(type_of(val) == t_node && val->left == key,
                    "ephemeron %p: its value %p does not point back at its key %p", p,
                    (void *)val, (void *)key);
            verify_obj(val, depth + 1, count);
        }
    } else {
        REQUIRE(0, "object %p has unknown type %u", p, t);
    }
}

/* Finalized nodes come back intact, whichever thread drains them.  Only
 * the fields no thread writes after a node's birth are read: the thread
 * that made it may still reach it through a weak slot (weak.md: weak slots
 * see objects queued for finalization), and verify_obj hashes what it
 * visits. */
static void drain_finalized(void)
{
    void *p;
    while ((p = vmgc_finalize_next(cur_thread)) != NULL) {
        REQUIRE(type_of(p) == t_node, "a finalized object %p is not a node", p);
        const struct node *n = p;
        REQUIRE(n->value == mix(n->id) && n->check == mix(n->id ^ n->value),
                "finalized node %p corrupted (id %llx)", p, (unsigned long long)n->id);
        __atomic_fetch_add(&finalized_seen, 1, __ATOMIC_RELAXED);
    }
}

static void verify_all(struct mutator *m)
{
    uint64_t count = 0;
    for (int i = 0; i < SLOTS; i++)
        verify_obj(m->slots[i], 0, &count);
    m->verified += count;
}

static void step(struct mutator *m)
{
    uint64_t r = test_rand(&m->rng);
    int a = (int)(r % SLOTS);
    switch ((r >> 32) % 13) {
    case 0: case 1: case 2:
        m->slots[a] = new_node(m);
        break;
    case 3:
        if (m->slots[a] && type_of(m->slots[a]) == t_node)
            ((struct node *)m->slots[a])->left = some_leaf(m);
        break;
    case 4:
        if (m->slots[a] && type_of(m->slots[a]) == t_node) {
            void *leaf = some_leaf(m);
            ((struct node *)m->slots[a])->tagged = leaf ? (uintptr_t)leaf | 1 : 0;
        }
        break;
    case 5:
        m->slots[a] = new_array(m, 1 + (r >> 40) % ((r >> 50) & 1 ? 8 : 700)); /* some large */
        break;
    case 6:
        m->slots[a] = new_bytes(m, 8 + (r >> 40) % 300);
        break;
    case 7: { /* a chain kept only on the stack for a moment */
        struct node *volatile local = new_node(m);
        local->right = new_node(m);
        m->slots[a] = local;
        break;
    }
    case 8:
        m->slots[a] = NULL;
        break;
    case 10:
        m->slots[a] = new_weak(m, 1 + (r >> 40) % 16);
        break;
    case 11: {
        void *e = new_ephemeron(m);
        if (e)
            m->slots[a] = e;
        break;
    }
    case 12: { /* finalized once the slot is overwritten */
        struct node *n = new_node(m);
        REQUIRE(vmgc_finalize_register(m->t, n) == VMGC_OK, "%s", vmgc_last_error());
        m->slots[a] = n;
        break;
    }
    default: {
        uint64_t count = 0;
        verify_obj(m->slots[a], 0, &count);
    }
    }
}

static void *mutator_main(void *arg)
{
    struct mutator *m = arg;
    REQUIRE(vmgc_thread_attach(heap, &m->t) == VMGC_OK, "%s", vmgc_last_error());
    cur_thread = m->t;
    /* both kinds of precise roots, side by side: the flip forwards a range,
     * a root block is scanned after it (or in a trap) */
    if (m->id & 1) {
        REQUIRE(vmgc_root_block_new(heap, SLOTS, &m->slots) == VMGC_OK, "%s", vmgc_last_error());
    } else {
        m->slots = m->slot_array;
        REQUIRE(vmgc_root_add(heap, m->slots, SLOTS) == VMGC_OK, "%s", vmgc_last_error());
    }
    vmgc_stats s;
    vmgc_get_stats(heap, &s);
    uint64_t seen = s.collections;
    for (int k = 0; k < 200; k++)
        step(m);
    __atomic_add_fetch(&mutators_started, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&stop_flag, __ATOMIC_ACQUIRE)) {
        for (int k = 0; k < 200; k++)
            step(m);
        vmgc_get_stats(heap, &s);
        if (s.collections != seen) { /* verify everything after every cycle */
            seen = s.collections;
            verify_all(m);
            m->cycles_seen++;
        }
        uint64_t r = test_rand(&m->rng) % 100;
        if (r == 0) { /* detach and come back (data stays in precise roots) */
            REQUIRE(vmgc_thread_detach(m->t) == VMGC_OK, "%s", vmgc_last_error());
            REQUIRE(vmgc_thread_attach(heap, &m->t) == VMGC_OK, "%s", vmgc_last_error());
            cur_thread = m->t;
        } else if (r < 10) {
            drain_finalized();
        } else if (r == 10) {
            vmgc_blocking_enter(m->t);
            usleep(200);
            vmgc_blocking_leave(m->t);
        }
    }
    vmgc_get_stats(heap, &s);
    if (s.collections != seen)
        m->cycles_seen++;
    verify_all(m);
    if (m->id & 1)
        REQUIRE(vmgc_root_block_free(heap, m->slots) == VMGC_OK, "%s", vmgc_last_error());
    else
        REQUIRE(vmgc_root_remove(heap, m->slots) == VMGC_OK, "%s", vmgc_last_error());
    REQUIRE(vmgc_thread_detach(m->t) == VMGC_OK, "%s", vmgc_last_error());
    return NULL;
}

static void stress_run(int backend, unsigned collector_threads)
{
    uint64_t seed = test_seed("stress");
    const char *env = getenv("VMGC_STRESS_CYCLES");
    cycles_target = env && *env ? strtoull(env, NULL, 10) : 40;
    vmgc_config c;
    vmgc_config_init(&c);
    c.reserve_bytes = (size_t)2 << 30;
    c.initial_size = 1 << 20;
    c.barrier = test_backends[backend];
    c.collector_threads = collector_threads;
    c.verify = 1;
    c.generational = 1;
    ck_assert_msg(vmgc_heap_create(&heap, &c) == VMGC_OK, "%s", vmgc_last_error());
    vmgc_type_desc nd = {.name = "node", .layout = VMGC_LAYOUT_TRACE, .trace = trace_node};
    vmgc_type_desc ad = {.name = "array", .layout = VMGC_LAYOUT_ALL_POINTERS};
    vmgc_type_desc bd = {.name = "bytes", .layout = VMGC_LAYOUT_NO_POINTERS};
    vmgc_type_desc wd = {.name = "weak", .layout = VMGC_LAYOUT_ALL_POINTERS,
                         .weakness = VMGC_WEAK};
    vmgc_type_desc ed = {.name = "ephemeron", .layout = VMGC_LAYOUT_ALL_POINTERS,
                         .weakness = VMGC_EPHEMERON};
    ck_assert_int_eq(vmgc_type_register(heap, &wd, &t_weak), VMGC_OK);
    ck_assert_int_eq(vmgc_type_register(heap, &ed, &t_eph), VMGC_OK);
    finalized_seen = 0;
    ck_assert_int_eq(vmgc_type_register(heap, &nd, &t_node), VMGC_OK);
    ck_assert_int_eq(vmgc_type_register(heap, &ad, &t_array), VMGC_OK);
    ck_assert_int_eq(vmgc_type_register(heap, &bd, &t_bytes), VMGC_OK);
    const char *tenv = getenv("VMGC_STRESS_THREADS");
    int nthreads = tenv && *tenv ? atoi(tenv) : 3;
    if (nthreads < 1 || nthreads > MAX_THREADS)
        nthreads = 3;
    static struct mutator m[MAX_THREADS];
    pthread_t th[MAX_THREADS];
    stop_flag = 0;
    mutators_started = 0;
    for (int i = 0; i < nthreads; i++) {
        memset(&m[i], 0, sizeof m[i]);
        m[i].id = i + 1;
        m[i].rng = seed + (uint64_t)i * 0x9e3779b97f4a7c15ull;
        ck_assert_int_eq(pthread_create(&th[i], NULL, mutator_main, &m[i]), 0);
    }
    /* Without this wait a fast machine runs every cycle before the mutators
     * have attached, and the test would verify an empty heap. */
    while (__atomic_load_n(&mutators_started, __ATOMIC_ACQUIRE) < nthreads)
        usleep(100);
    /* every 10th cycle (VMGC_STRESS_CHECKPOINT_EVERY; 0: none) is a
     * checkpoint, whose image must open, match every checksum, and hold
     * only objects of known types */
    const char *cenv = getenv("VMGC_STRESS_CHECKPOINT_EVERY");
    uint64_t ck_every = cenv && *cenv ? strtoull(cenv, NULL, 10) : 10, ck_done = 0;
    char ck_path[64];
    snprintf(ck_path, sizeof ck_path, "/tmp/vmgc-stress-%d.img", (int)getpid());
    vmgc_stats s;
    vmgc_get_stats(heap, &s);
    do {
        if (ck_every && s.collections % ck_every == ck_every - 1) {
            vmgc_checkpoint *ck;
            ck_assert_msg(vmgc_checkpoint_start(heap, ck_path, &ck) == VMGC_OK, "%s",
                          vmgc_last_error());
            ck_assert_msg(vmgc_checkpoint_wait(ck, NULL) == VMGC_OK, "%s", vmgc_last_error());
            struct image *img;
            ck_assert_msg(image_open(ck_path, &img) == VMGC_OK, "%s", vmgc_last_error());
            ck_assert_msg(image_verify_pages(img, NULL, NULL) == VMGC_OK, "%s", vmgc_last_error());
            ck_assert_msg(image_count_objects(img) == VMGC_OK, "%s", vmgc_last_error());
            image_close(img);
            ck_done++;
        } else {
            /* young, mark (doc/design/mark.md), young, full */
            vmgc_status st = s.collections % 2   ? vmgc_collect_young(heap, 1)
                             : s.collections % 4 ? vmgc_collect_mark(heap, 1)
                                                 : vmgc_collect(heap, 1);
            ck_assert_int_eq(st, VMGC_OK);
        }
        vmgc_get_stats(heap, &s);
    } while (s.collections < cycles_target);
    unlink(ck_path);
    __atomic_store_n(&stop_flag, 1, __ATOMIC_RELEASE);
    uint64_t verified = 0, least_cycles_seen = UINT64_MAX;
    for (int i = 0; i < nthreads; i++) {
        pthread_join(th[i], NULL);
        verified += m[i].verified;
        if (m[i].cycles_seen < least_cycles_seen)
            least_cycles_seen = m[i].cycles_seen;
    }
    vmgc_get_stats(heap, &s);
    fprintf(stderr,
            "stress(%s, %u collector threads): weak slots cleared %llu, ephemerons broken %llu, "
            "%llu finalized, %llu of them checked; %llu young cycles, %llu old pages remembered; "
            "%llu mark cycles, %llu old objects swept\n",
            test_backends[backend], collector_threads ? collector_threads : 1,
            (unsigned long long)s.weak_slots_cleared, (unsigned long long)s.ephemerons_broken,
            (unsigned long long)s.objects_finalized, (unsigned long long)finalized_seen,
            (unsigned long long)s.young_collections, (unsigned long long)s.remembered_pages,
            (unsigned long long)s.mark_collections, (unsigned long long)s.old_objects_swept);
    fprintf(stderr,
            "stress(%s, %u collector threads): %llu cycles, %llu objects verified, %llu copied, %llu traps, %llu pages "
            "scanned by mutators, %llu pinned, %llu large promoted, max pause %.1f us, live after "
            "last %zu KiB\n",
            test_backends[backend], collector_threads ? collector_threads : 1,
            (unsigned long long)s.collections, (unsigned long long)verified,
            (unsigned long long)s.objects_copied, (unsigned long long)s.traps,
            (unsigned long long)s.pages_scanned_by_mutator, (unsigned long long)s.pages_pinned,
            (unsigned long long)s.large_promoted, (double)s.pause_max_ns / 1e3,
            s.live_bytes_after_last >> 10);
    ck_assert_uint_ge(s.collections, cycles_target);
    ck_assert_uint_eq(s.checkpoints, ck_done);
    ck_assert_uint_gt(verified, 0);
    ck_assert_uint_gt(least_cycles_seen, 0); /* every thread verified across a cycle */
    /* weak slots, ephemerons and finalization were exercised */
    ck_assert_uint_gt(s.weak_slots_cleared, 0);
    ck_assert_uint_gt(s.ephemerons_broken, 0);
    ck_assert_uint_gt(finalized_seen, 0);
    ck_assert_uint_le(finalized_seen, s.objects_finalized);
    ck_assert_int_eq(vmgc_heap_destroy(heap), VMGC_OK);
}

START_TEST(stress)
{
    stress_run(_i, 0); /* 0: $VMGC_COLLECTOR_THREADS or 1 */
}
END_TEST

/* Two drain helpers (.sol.helpers) racing the collector thread, the
 * mutators' traps and their pacing for the same pages. */
START_TEST(stress_with_helpers)
{
    const char *skip = getenv("VMGC_STRESS_NO_HELPERS"); /* the long soak runs one kind */
    if (!(skip && *skip && strcmp(skip, "0") != 0))
        stress_run(_i, 3);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("stress");
    TCase *tc = tcase_create("both-backends");
    tcase_set_timeout(tc, 3600);
    /* VMGC_STRESS_BACKEND=uffd|mprotect runs one only */
    const char *only = getenv("VMGC_STRESS_BACKEND");
    int lo = only && !strcmp(only, "mprotect") ? 1 : 0, hi = only && !strcmp(only, "uffd") ? 1 : 2;
    tcase_add_loop_test(tc, stress, lo, hi);
    tcase_add_loop_test(tc, stress_with_helpers, lo, hi);
    suite_add_tcase(s, tc);
    return test_run(s);
}

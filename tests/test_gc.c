/* test_gc.c -- the collector through the public API: roots, pinning,
 * moving, layouts, large objects, threads (gc/). */
#include "config.h"

#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"
#include "vmgc.h"
#include "internal.h" /* the test hook in struct vmgc_heap */

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

static unsigned test_collector_threads; /* 0: the default */

static unsigned idle_release_ms; /* for the next setup_heap; 0: the default */
static int no_verify; /* for the next setup_heap: verification reads every page through the
                         collector view */

static void setup_heap_with(int backend, int background, vmgc_pause_fn on_pause)
{
    vmgc_config c;
    vmgc_config_init(&c);
    c.idle_release_ms = idle_release_ms;
    c.reserve_bytes = (size_t)1 << 30;
    c.barrier = test_backends[backend];
    c.no_background = !background;
    c.verify = !no_verify;
    c.on_pause = on_pause;
    c.collector_threads = test_collector_threads;
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

static void setup_heap(int backend, int background)
{
    setup_heap_with(backend, background, NULL);
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


/* .sol.resident-target: what a cycle used at its peak stays resident for
 * the next GC_PEAK_WINDOW cycles (giving it back only to fault it in again
 * cost GCBench a punch and a fresh page per page), then goes back to the OS.
 * The garbage may survive the first collection (a stale stack word pins
 * it), so the peak is the first or the second cycle. */
START_TEST(peak_memory_is_kept_for_a_window_then_returned)
{
    setup_heap(_i, 0);
    const size_t garbage = (size_t)400000 * sizeof(struct pair); /* ~9.2 MiB */
    build_list(400000);
    build_list(2000); /* move the allocation page on */
    vmgc_collect(heap, 1);
    vmgc_collect(heap, 1);
    vmgc_stats s;
    for (int k = 0; k < GC_PEAK_WINDOW - 2; k++) {
        vmgc_get_stats(heap, &s);
        ck_assert_msg(s.resident_bytes >= garbage, "cycle %d after the peak: resident %zu < %zu",
                      k, s.resident_bytes, garbage);
        /* the footprint's parts (.sol.footprint): the dropped list's pages
         * are held for reuse, not in use; nothing was allocated since the
         * collection, and what is in use covers live, floating and reserve */
        ck_assert_msg(s.held_bytes >= garbage / 2 && s.heap_bytes < garbage / 2,
                      "cycle %d after the peak: held %zu, in use %zu (garbage %zu)", k,
                      s.held_bytes, s.heap_bytes, garbage);
        ck_assert_uint_eq(s.young_bytes, 0);
        ck_assert_msg(s.reserve_bytes > 0 && s.live_bytes_after_last > 0 &&
                          s.live_bytes_after_last + s.floating_bytes + s.reserve_bytes <=
                              s.heap_bytes,
                      "live %zu + floating %zu + reserve %zu > in use %zu",
                      s.live_bytes_after_last, s.floating_bytes, s.reserve_bytes, s.heap_bytes);
        ck_assert_msg(s.heap_bytes + s.held_bytes <= s.resident_bytes + (64u << 10),
                      "in use %zu + held %zu > resident %zu", s.heap_bytes, s.held_bytes,
                      s.resident_bytes);
        build_list(1000);
        vmgc_collect(heap, 1);
    }
    build_list(1000);
    vmgc_collect(heap, 1);
    vmgc_collect(heap, 1);
    vmgc_get_stats(heap, &s);
    ck_assert_msg(s.resident_bytes < garbage / 4, "%d cycles after the peak: resident %zu",
                  GC_PEAK_WINDOW, s.resident_bytes);
    ck_assert_msg(s.held_bytes < garbage / 4, "%d cycles after the peak: held %zu",
                  GC_PEAK_WINDOW, s.held_bytes);
    build_list(1000);
    vmgc_get_stats(heap, &s);
    ck_assert_msg(s.young_bytes >= 1000 * sizeof(struct pair), "young %zu after 1000 pairs",
                  s.young_bytes);
    teardown_heap();
}
END_TEST

/* .sol.idle-release: a program that stops allocating runs no more cycles;
 * the pages held for reuse go back once the collector has been idle for
 * idle_release_ms (without it they stay: the window needs cycles). */
START_TEST(idle_heap_gives_back_held_pages)
{
    idle_release_ms = 200;
    setup_heap(_i, 1);
    idle_release_ms = 0;
    const size_t garbage = (size_t)400000 * sizeof(struct pair);
    build_list(400000);
    build_list(2000);
    vmgc_collect(heap, 1);
    vmgc_collect(heap, 1);
    vmgc_stats s;
    int waited = 0;
    for (vmgc_get_stats(heap, &s); s.held_bytes >= garbage / 4 && waited < 5000; waited += 20) {
        usleep(20000);
        vmgc_get_stats(heap, &s);
    }
    ck_assert_msg(s.held_bytes < garbage / 4 && s.resident_bytes < garbage / 2,
                  "idle for %d ms: held %zu, resident %zu (garbage %zu; in use %zu, live %zu, "
                  "floating %zu, old %zu, pinned pages %llu, collections %llu)",
                  waited, s.held_bytes, s.resident_bytes, garbage, s.heap_bytes,
                  s.live_bytes_after_last, s.floating_bytes, s.old_bytes,
                  (unsigned long long)s.pages_pinned, (unsigned long long)s.collections);
    ck_assert_uint_ge(__atomic_load_n(&heap->st_idle_releases, __ATOMIC_ACQUIRE), 1);
    teardown_heap();
}
END_TEST

/* collector.c .sol.next-cycle: a vmgc_collect made while the cycle before
 * it is ending (cycle_running cleared, cycles_done not counted yet) waits
 * for a cycle that flips after it.  The hook holds the ending cycle in that
 * window while the test asks; before the fix the call returned with the
 * ending cycle, and the collection count did not move. */
static sem_t in_window;
static int window_hits;

static void hold_ending_cycle(struct vmgc_heap *h)
{
    (void)h;
    if (__atomic_fetch_add(&window_hits, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    sem_post(&in_window);
    usleep(100000);
}

START_TEST(collect_waits_for_a_cycle_after_the_call)
{
    setup_heap(_i, 1);
    ck_assert_int_eq(sem_init(&in_window, 0, 0), 0);
    window_hits = 0;
    __atomic_store_n(&heap->test_before_cycle_counted, hold_ending_cycle, __ATOMIC_RELEASE);
    ck_assert_int_eq(vmgc_collect(heap, 0), VMGC_OK);
    while (sem_wait(&in_window) != 0)
        ;
    vmgc_stats s;
    vmgc_get_stats(heap, &s);
    uint64_t ending = s.collections; /* counted already, not done */
    ck_assert_int_eq(vmgc_collect(heap, 1), VMGC_OK);
    vmgc_get_stats(heap, &s);
    ck_assert_msg(s.collections >= ending + 1,
                  "vmgc_collect returned after %llu collections: the one ending when it was called "
                  "counted as the one it waited for",
                  (unsigned long long)s.collections);
    __atomic_store_n(&heap->test_before_cycle_counted, NULL, __ATOMIC_RELEASE);
    sem_destroy(&in_window);
    teardown_heap();
}
END_TEST

/* Run fn in a child with stderr captured; returns the wait status. */
static int run_captured(void (*fn)(void), char *out, size_t cap)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        fn();
        _exit(0);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < cap && (r = read(fds[0], out + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    out[n] = '\0';
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    return status;
}

static int backend_for_child;

static void child_setup(void)
{
    setup_heap(backend_for_child, 0);
}

static void misuse_unattached(void)
{
    child_setup();
    vmgc_alloc(NULL, t_pair, 16);
}

static void misuse_unknown_type(void)
{
    child_setup();
    vmgc_alloc(me, 999, 16);
}

static void misuse_oversized(void)
{
    child_setup();
    vmgc_alloc(me, t_leaf, (size_t)1 << 45);
}

static void misuse_detached(void)
{
    child_setup();
    vmgc_thread *t = me;
    vmgc_thread_detach(me);
    vmgc_alloc(t, t_leaf, 5000);
}

static void *alloc_large_with_foreign_handle(void *arg)
{
    (void)arg;
    vmgc_alloc(me, t_leaf, 5000); /* me belongs to the main thread */
    return NULL;
}

/* Large allocations take the same owner check as small ones: the slow path
 * records the owner's registers and stack pointer while it waits for the
 * page lock. */
static void misuse_foreign_handle_large(void)
{
    child_setup();
    pthread_t th;
    pthread_create(&th, NULL, alloc_large_with_foreign_handle, NULL);
    pthread_join(th, NULL);
}

/* A fault handler replaced behind libvmgc's interposed sigaction (a raw
 * system call) must end the next collection with the reason. */
static void misuse_replaced_handler(void)
{
    child_setup();
    build_list(1000);
    test_raw_ignore(SIGSEGV);
    test_raw_ignore(SIGBUS);
    vmgc_collect(heap, 1);
}

static uintptr_t *hidden_slot;

static int from_space_unmapped; /* set by the hook; the toucher waits for it */

/* Not attached: its reads are invisible to the collector.  It touches the
 * disguised pointer once, after from-space is unmapped; the access must end
 * the process with the diagnostic. */
static void *unattached_toucher(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&from_space_unmapped, __ATOMIC_ACQUIRE))
        usleep(100);
    uintptr_t enc = *(volatile uintptr_t *)hidden_slot;
    volatile uintptr_t v = *(volatile uintptr_t *)&((struct pair *)(enc ^ 1))->value;
    (void)v;
    __atomic_store_n(&from_space_unmapped, 2, __ATOMIC_RELEASE); /* not caught */
    return NULL;
}

/* Holds the first cycle after from-space is unmapped until the toucher has
 * touched; later cycles pass through. */
static void after_from_space_unmapped(struct vmgc_heap *h)
{
    h->test_after_from_space_unmapped = NULL;
    __atomic_store_n(&from_space_unmapped, 1, __ATOMIC_RELEASE);
    while (__atomic_load_n(&from_space_unmapped, __ATOMIC_ACQUIRE) != 2)
        usleep(100);
}

static __attribute__((noinline)) void hide_one(void)
{
    struct pair *p = vmgc_alloc(me, t_pair, sizeof *p);
    p->value = 42;
    *hidden_slot = (uintptr_t)p ^ 1; /* disguised: no scan recognises it */
}

static void touch_hidden_pointer(void)
{
    vmgc_config c;
    vmgc_config_init(&c);
    c.reserve_bytes = (size_t)1 << 30;
    c.barrier = test_backends[backend_for_child];
    if (vmgc_heap_create(&heap, &c) != VMGC_OK || vmgc_thread_attach(heap, &me) != VMGC_OK)
        _exit(3);
    vmgc_type_desc pd = {.name = "pair", .layout = VMGC_LAYOUT_BITMAP, .bitmap = 3};
    vmgc_type_register(heap, &pd, &t_pair);
    hidden_slot = malloc(sizeof *hidden_slot);
    hide_one();
    build_list(2000); /* moves the allocation page on: the hidden object's page is not pinned */
    pthread_t th;
    pthread_create(&th, NULL, unattached_toucher, NULL);
    heap->test_after_from_space_unmapped = after_from_space_unmapped;
    vmgc_collect(heap, 1);
    fprintf(stderr, "no from-space access was caught\n");
}

START_TEST(misuse_gets_clear_errors)
{
    char out[2048];
    backend_for_child = _i;
    struct {
        void (*fn)(void);
        const char *want;
    } cases[] = {
        {misuse_unattached, "not attached"},
        {misuse_unknown_type, "unknown type"},
        {misuse_oversized, "heap limit"},
        {misuse_detached, "not attached"},
        {misuse_foreign_handle_large, "other than its owner"},
        {misuse_replaced_handler, "handler that vmgc installed was replaced"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int status = run_captured(cases[k].fn, out, sizeof out);
        ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
                      "case %zu: status %#x, stderr: %s", k, status, out);
        ck_assert_msg(strstr(out, cases[k].want), "case %zu: stderr lacks '%s': %s", k,
                      cases[k].want, out);
    }
}
END_TEST

START_TEST(from_space_access_is_diagnosed)
{
    char out[2048];
    backend_for_child = _i;
    int status = run_captured(touch_hidden_pointer, out, sizeof out);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "status %#x: %s", status,
                  out);
    ck_assert_msg(strstr(out, "touched from-space") && strstr(out, "type 'pair'"),
                  "diagnostic missing: %s", out);
}
END_TEST

START_TEST(interior_pointer_pins)
{
    setup_heap(_i, 0);
    struct pair *p = vmgc_alloc(me, t_pair, sizeof *p);
    p->value = 77;
    char *volatile interior = (char *)p + 12;
    uintptr_t hidden = (uintptr_t)p ^ 0x33;
    p = NULL;
    build_list(2000);
    vmgc_collect(heap, 1);
    vmgc_collect(heap, 1);
    ck_assert_uint_eq((uintptr_t)(interior - 12), hidden ^ 0x33); /* not moved */
    ck_assert_uint_eq(((struct pair *)(interior - 12))->value, 77);
    teardown_heap();
}
END_TEST

START_TEST(tagged_pointers_stay_tagged)
{
    enum { N = 500 };
    setup_heap(_i, 0);
    static void *roots[N];
    uintptr_t *old = malloc(N * sizeof *old);
    ck_assert_int_eq(vmgc_root_add(heap, roots, N), VMGC_OK);
    for (int i = 0; i < N; i++) {
        uintptr_t *tagged = vmgc_alloc(me, t_tagged, 2 * sizeof(uintptr_t));
        struct pair *target = vmgc_alloc(me, t_pair, sizeof *target);
        target->value = (uintptr_t)i + 4242;
        tagged[0] = (uintptr_t)target | 1;
        tagged[1] = 0x1234; /* not a pointer: never touched */
        roots[i] = tagged;
        old[i] = (uintptr_t)target ^ 0x77;
    }
    build_list(2000);
    vmgc_collect(heap, 1);
    int moved = 0;
    for (int i = 0; i < N; i++) {
        uintptr_t *t2 = roots[i];
        ck_assert_uint_eq(t2[0] & 1, 1); /* still tagged */
        ck_assert_uint_eq(((struct pair *)(t2[0] & ~(uintptr_t)1))->value, (uintptr_t)i + 4242);
        ck_assert_uint_eq(t2[1], 0x1234);
        moved += (t2[0] & ~(uintptr_t)1) != (old[i] ^ 0x77);
    }
    ck_assert_msg(moved > N * 9 / 10, "only %d of %d tagged targets moved", moved, N);
    free(old);
    teardown_heap();
}
END_TEST

START_TEST(large_objects_do_not_move)
{
    enum { N = 3000 }; /* 24 KB: a large object over 6 pages */
    setup_heap(_i, 0);
    static void *root;
    ck_assert_int_eq(vmgc_root_add(heap, &root, 1), VMGC_OK);
    void **arr = vmgc_alloc(me, t_array, N * sizeof(void *));
    ck_assert_uint_eq((uintptr_t)arr & 4095, 8); /* own pages, header first */
    for (int i = 0; i < N; i++) {
        struct pair *p = vmgc_alloc(me, t_pair, sizeof *p);
        p->value = (uintptr_t)i;
        arr[i] = p;
    }
    root = arr;
    uintptr_t where = (uintptr_t)arr ^ 0x99;
    arr = NULL;
    build_list(2000);
    for (int k = 0; k < 3; k++)
        vmgc_collect(heap, 1);
    ck_assert_uint_eq((uintptr_t)root, where ^ 0x99);
    for (int i = 0; i < N; i++)
        ck_assert_uint_eq(((struct pair *)((void **)root)[i])->value, (uintptr_t)i);
    ck_assert_uint_eq(vmgc_object_size(root), N * sizeof(void *));
    /* only an interior pointer into the last page keeps a large object */
    void **big = vmgc_alloc(me, t_array, N * sizeof(void *));
    big[N - 1] = (void *)0x5;
    char *volatile inside = (char *)&big[N - 1];
    big = NULL;
    root = NULL;
    vmgc_collect(heap, 1);
    ck_assert_ptr_eq(*(void **)inside, (void *)0x5);
    vmgc_stats s;
    vmgc_get_stats(heap, &s);
    ck_assert_uint_ge(s.large_promoted + s.pages_pinned, 1);
    teardown_heap();
}
END_TEST

/* .sol.leaf-large: a pointer-free large object is black from the moment
 * it is promoted, pinned or forwarded as a root: reading it never traps. */
static unsigned char *leaf_by_root_slot, *leaf_by_stack_seen;
static uint64_t leaf_traps_in_cycle;
static unsigned leaf_sum_in_cycle;

static unsigned sum_bytes(const unsigned char *p, size_t n)
{
    unsigned sum = 0;
    for (size_t i = 0; i < n; i += 512)
        sum += p[i];
    return sum;
}

enum { LEAF_BYTES = 12000 };

static void read_leaves_mid_cycle(struct vmgc_heap *h)
{
    vmgc_stats a, b;
    vmgc_get_stats(h, &a);
    leaf_sum_in_cycle = sum_bytes(leaf_by_root_slot, LEAF_BYTES) +
                        sum_bytes(leaf_by_stack_seen, LEAF_BYTES);
    vmgc_get_stats(h, &b);
    leaf_traps_in_cycle = b.traps - a.traps;
    h->test_after_from_space_unmapped = NULL;
}

static unsigned char *new_leaf_large(unsigned char fill)
{
    unsigned char *p = vmgc_alloc(me, t_leaf, LEAF_BYTES);
    ck_assert_ptr_nonnull(p);
    memset(p, fill, LEAF_BYTES);
    return p;
}

START_TEST(leaf_large_objects_are_never_protected)
{
    setup_heap(_i, 0);
    ck_assert_int_eq(vmgc_root_add(heap, (void **)&leaf_by_root_slot, 1), VMGC_OK);
    leaf_by_root_slot = new_leaf_large(1);
    unsigned char *volatile on_stack = new_leaf_large(2);
    leaf_by_stack_seen = on_stack;
    static struct pair *holder;
    ck_assert_int_eq(vmgc_root_add(heap, (void **)&holder, 1), VMGC_OK);
    holder = vmgc_alloc(me, t_pair, sizeof *holder);
    holder->other = new_leaf_large(3); /* reached only by scanning, after from-space is protected */
    build_list(2000);
    heap->test_after_from_space_unmapped = read_leaves_mid_cycle;
    vmgc_collect(heap, 1);
    unsigned per_leaf = (LEAF_BYTES + 511) / 512;
    ck_assert_uint_eq(leaf_sum_in_cycle, per_leaf * 3);
    ck_assert_uint_eq(leaf_traps_in_cycle, 0);
    vmgc_stats a, b;
    vmgc_get_stats(heap, &a);
    ck_assert_uint_eq(sum_bytes(holder->other, LEAF_BYTES), per_leaf * 3);
    ck_assert_uint_eq(sum_bytes(on_stack, LEAF_BYTES), per_leaf * 2);
    vmgc_get_stats(heap, &b);
    ck_assert_uint_eq(b.traps - a.traps, 0);
    /* a leaf is promoted, or pinned if a register or stack slot still
     * holds it (seen under ThreadSanitizer) */
    ck_assert_uint_ge(b.large_promoted + b.pages_pinned, 3);
    ck_assert_ptr_eq(on_stack, leaf_by_stack_seen); /* not moved */
    vmgc_root_remove(heap, (void **)&holder);
    vmgc_root_remove(heap, (void **)&leaf_by_root_slot);
    teardown_heap();
}
END_TEST

START_TEST(bitmap_skips_non_pointer_words)
{
    setup_heap(_i, 0);
    static void *root;
    ck_assert_int_eq(vmgc_root_add(heap, &root, 1), VMGC_OK);
    vmgc_type t_half;
    vmgc_type_desc d = {.name = "half", .layout = VMGC_LAYOUT_BITMAP, .bitmap = 1};
    ck_assert_int_eq(vmgc_type_register(heap, &d, &t_half), VMGC_OK);
    void **obj = vmgc_alloc(me, t_half, 2 * sizeof(void *));
    struct pair *p = vmgc_alloc(me, t_pair, sizeof *p);
    obj[0] = p;
    obj[1] = p; /* looks like a pointer, but word 1 is declared data */
    root = obj;
    uintptr_t old = (uintptr_t)p;
    p = NULL;
    obj = NULL;
    build_list(2000);
    vmgc_collect(heap, 1);
    void **o = root;
    ck_assert_uint_eq((uintptr_t)o[1], old); /* data is left alone */
    teardown_heap();
}
END_TEST

/* The flip forwards precise roots a fixed distance behind its walk
 * (.sol.lookahead): more roots than that distance, the same target many
 * times, and values that are not heap pointers must all come out right;
 * so must the same slots in an array, scanned as a page. */
enum { LA_SLOTS = 3 * LOOKAHEAD_SLOTS + 5, LA_DISGUISE = 0x5a5a5a5a };
static int la_outside;

static void *la_expected_other(int i)
{
    return i % 2 ? (void *)&la_outside : NULL;
}

/* Moves this thread's allocation page on (a flip pins it) with objects
 * that reach nothing to copy. */
static void move_allocation_page(void)
{
    for (int i = 0; i < 200; i++)
        (void)vmgc_alloc(me, t_leaf, 64);
}

/* A heap without a background collector, so the cycle runs in vmgc_collect
 * on this thread; fill builds what *root keeps, and hook runs once
 * from-space is unmapped.  The statistics before and after the cycle. */
static void collect_with_hook(int backend, void **root, void (*fill)(void),
                              void (*hook)(struct vmgc_heap *), vmgc_stats *a, vmgc_stats *b)
{
    setup_heap(backend, 0);
    ck_assert_int_eq(vmgc_root_add(heap, root, 1), VMGC_OK);
    fill();
    vmgc_get_stats(heap, a);
    heap->test_after_from_space_unmapped = hook;
    ck_assert_int_eq(vmgc_collect(heap, 1), VMGC_OK);
    vmgc_get_stats(heap, b);
}

/* Copies made by a mutator in its traps are counted in the statistics,
 * not only the collector's: the array is scanned, and its pairs copied, in
 * the trap the walk below takes, before the collector drains anything. */
#define COUNTED_PAIRS 4000 /* 32 pages: within the copy reserve the flip fills (64 pages), as a
                            * trap here cannot wait for this thread to refill it */
static struct pair **counted_root;
static uintptr_t counted_sum;

static void walk_counted_pairs(struct vmgc_heap *h)
{
    h->test_after_from_space_unmapped = NULL;
    uintptr_t sum = 0;
    for (int i = 0; i < COUNTED_PAIRS; i++)
        sum += counted_root[i]->value;
    counted_sum = sum;
}

static __attribute__((noinline)) void counted_fill(void)
{
    counted_root = vmgc_alloc(me, t_array, COUNTED_PAIRS * sizeof(void *));
    for (int i = 0; i < COUNTED_PAIRS; i++) {
        counted_root[i] = vmgc_alloc(me, t_pair, sizeof(struct pair));
        counted_root[i]->value = (uintptr_t)i;
    }
    move_allocation_page();
}

START_TEST(copies_in_traps_are_counted)
{
    vmgc_stats a, b;
    collect_with_hook(_i, (void **)&counted_root, counted_fill, walk_counted_pairs, &a, &b);
    ck_assert_uint_eq(counted_sum, (uintptr_t)COUNTED_PAIRS * (COUNTED_PAIRS - 1) / 2);
    ck_assert_uint_gt(b.traps, a.traps);
    /* every pair was copied once, except those on pinned pages (at most a
     * page's worth each: 4096 / 32-byte objects) */
    uint64_t copied = b.objects_copied - a.objects_copied;
    uint64_t pinned = b.pages_pinned - a.pages_pinned;
    ck_assert_msg(copied + pinned * (4096 / 32) >= COUNTED_PAIRS,
                  "%llu objects counted as copied, %llu pages pinned",
                  (unsigned long long)copied, (unsigned long long)pinned);
    ck_assert_uint_le(copied, COUNTED_PAIRS);
    ck_assert_uint_eq(b.bytes_copied - a.bytes_copied, copied * (sizeof(struct pair) + VMGC_HEADER_BYTES));
    vmgc_root_remove(heap, (void **)&counted_root);
    teardown_heap();
}
END_TEST

/* A thread walking a freshly flipped list ahead of the collector: each
 * trap scans one page's worth of the list in place (.sol.trap-cheney), so
 * the copies fill pages and the walk traps about once a page, not once a
 * node with a page per node (which would also empty the copy reserve: the
 * walk runs where the reserve cannot be refilled). */
#define WALKED_NODES 4000
static struct pair *walked_root;
static uintptr_t walked_sum;

static void walk_list_mid_cycle(struct vmgc_heap *h)
{
    h->test_after_from_space_unmapped = NULL;
    uintptr_t sum = 0;
    for (struct pair *p = walked_root; p; p = p->next)
        sum += p->value;
    walked_sum = sum;
}

static __attribute__((noinline)) void walked_fill(void)
{
    walked_root = build_list(WALKED_NODES);
    move_allocation_page();
}

START_TEST(list_walk_in_traps_fills_pages)
{
    vmgc_stats a, b;
    collect_with_hook(_i, (void **)&walked_root, walked_fill, walk_list_mid_cycle, &a, &b);
    ck_assert_uint_eq(walked_sum, (uintptr_t)WALKED_NODES * (WALKED_NODES - 1) / 2);
    /* 4000 nodes of 32 bytes fill ~32 pages; allow for pinned pages and
     * the pages a trap only starts */
    ck_assert_msg(b.traps - a.traps <= 100, "%llu traps for %d nodes",
                  (unsigned long long)(b.traps - a.traps), WALKED_NODES);
    ck_assert_msg(b.live_bytes_after_last <= (size_t)100 * 4096, "%zu bytes survived",
                  b.live_bytes_after_last);
    check_list(walked_root, WALKED_NODES);
    vmgc_root_remove(heap, (void **)&walked_root);
    teardown_heap();
}
END_TEST

/* In its own frame, so no stale copy of these addresses pins them. */
static __attribute__((noinline)) void la_fill(void **roots, uintptr_t *disguised)
{
    struct pair *shared = vmgc_alloc(me, t_pair, sizeof *shared);
    shared->value = 4242;
    void **arr = vmgc_alloc(me, t_array, LA_SLOTS * sizeof(void *));
    for (int i = 0; i < LA_SLOTS; i++) {
        if (i % 3 == 0) {
            arr[i] = shared;
        } else if (i % 3 == 1) {
            arr[i] = la_expected_other(i);
        } else {
            struct pair *p = vmgc_alloc(me, t_pair, sizeof *p);
            p->value = (uintptr_t)i;
            arr[i] = p;
        }
        disguised[i] = (uintptr_t)arr[i] ^ LA_DISGUISE;
        roots[i] = i % 2 ? arr[i] : (void *)arr;
    }
}

START_TEST(forwarding_behind_the_scan)
{
    setup_heap(_i, 0);
    static void *roots[LA_SLOTS];
    static uintptr_t disguised[LA_SLOTS];
    ck_assert_int_eq(vmgc_root_add(heap, roots, LA_SLOTS), VMGC_OK);
    la_fill(roots, disguised);
    build_list(2000); /* move the allocation page on, overwrite la_fill's frame */
    ck_assert_int_eq(vmgc_collect(heap, 1), VMGC_OK);
    void **a = roots[0];
    int moved = 0;
    for (int i = 0; i < LA_SLOTS; i++) {
        if (i % 3 == 0)
            ck_assert_ptr_eq(a[i], a[0]);
        else if (i % 3 == 1)
            ck_assert_ptr_eq(a[i], la_expected_other(i));
        else
            ck_assert_uint_eq(((struct pair *)a[i])->value, (uintptr_t)i);
        ck_assert_ptr_eq(roots[i], i % 2 ? a[i] : (void *)a);
        moved += i % 3 != 1 && (uintptr_t)a[i] != (disguised[i] ^ LA_DISGUISE);
    }
    ck_assert_uint_eq(((struct pair *)a[0])->value, 4242);
    ck_assert_msg(moved > LA_SLOTS / 2, "only %d of the array's targets moved", moved);
    ck_assert_int_eq(vmgc_root_remove(heap, roots), VMGC_OK);
    teardown_heap();
}
END_TEST

START_TEST(type_registration_rules)
{
    setup_heap(_i, 0);
    vmgc_type t;
    vmgc_type_desc again = {.name = "pair", .layout = VMGC_LAYOUT_BITMAP, .bitmap = 3};
    ck_assert_int_eq(vmgc_type_register(heap, &again, &t), VMGC_OK);
    ck_assert_uint_eq(t, t_pair);
    ck_assert_str_eq(vmgc_type_name(heap, t_pair), "pair");
    vmgc_type_desc clash = {.name = "pair", .layout = VMGC_LAYOUT_ALL_POINTERS};
    ck_assert_int_eq(vmgc_type_register(heap, &clash, &t), VMGC_ESTATE);
    ck_assert_ptr_nonnull(strstr(vmgc_last_error(), "different layout"));
    vmgc_type_desc notrace = {.name = "x", .layout = VMGC_LAYOUT_TRACE};
    ck_assert_int_eq(vmgc_type_register(heap, &notrace, &t), VMGC_EINVAL);
    vmgc_type_desc noname = {.layout = VMGC_LAYOUT_NO_POINTERS};
    ck_assert_int_eq(vmgc_type_register(heap, &noname, &t), VMGC_EINVAL);
    ck_assert_ptr_null(vmgc_type_name(heap, 12345));
    teardown_heap();
}
END_TEST

static int oom_calls;
static void count_oom(vmgc_heap *h, size_t request, void *ctx)
{
    (void)h, (void)request, (void)ctx;
    oom_calls++;
}

START_TEST(out_of_memory_handler)
{
    vmgc_config c;
    vmgc_config_init(&c);
    c.reserve_bytes = (size_t)64 << 20;
    c.heap_limit = (size_t)4 << 20;
    c.barrier = test_backends[_i];
    c.no_background = 1;
    c.out_of_memory = count_oom;
    ck_assert_int_eq(vmgc_heap_create(&heap, &c), VMGC_OK);
    ck_assert_int_eq(vmgc_thread_attach(heap, &me), VMGC_OK);
    vmgc_type_desc ld = {.name = "leaf", .layout = VMGC_LAYOUT_NO_POINTERS};
    ck_assert_int_eq(vmgc_type_register(heap, &ld, &t_leaf), VMGC_OK);
    ck_assert_ptr_null(vmgc_alloc(me, t_leaf, (size_t)8 << 20));
    ck_assert_int_eq(oom_calls, 1);
    ck_assert_ptr_nonnull(strstr(vmgc_last_error(), "heap limit"));
    ck_assert_ptr_nonnull(vmgc_alloc(me, t_leaf, 100)); /* small still fits */
    teardown_heap();
}
END_TEST

START_TEST(bad_configuration)
{
    vmgc_config c;
    vmgc_config_init(&c);
    c.growth_factor = 0.5;
    ck_assert_int_eq(vmgc_heap_create(&heap, &c), VMGC_EINVAL);
    ck_assert_ptr_nonnull(strstr(vmgc_last_error(), "growth_factor"));
    vmgc_config_init(&c);
    c.reserve_bytes = 1 << 20;
    c.heap_limit = 2 << 20;
    ck_assert_int_eq(vmgc_heap_create(&heap, &c), VMGC_EINVAL);
    ck_assert_ptr_nonnull(strstr(vmgc_last_error(), "heap_limit"));
    vmgc_config_init(&c);
    c.collector_threads = GC_MAX_COLLECTORS + 1;
    ck_assert_int_eq(vmgc_heap_create(&heap, &c), VMGC_EINVAL);
    ck_assert_ptr_nonnull(strstr(vmgc_last_error(), "collector_threads"));
    vmgc_config_init(&c);
    setenv("VMGC_COLLECTOR_THREADS", "two", 1);
    ck_assert_int_eq(vmgc_heap_create(&heap, &c), VMGC_EINVAL);
    ck_assert_ptr_nonnull(strstr(vmgc_last_error(), "VMGC_COLLECTOR_THREADS is 'two'"));
    unsetenv("VMGC_COLLECTOR_THREADS");
    ck_assert_int_eq(vmgc_thread_attach(NULL, &me), VMGC_EINVAL);
    ck_assert_int_eq(vmgc_collect(NULL, 1), VMGC_EINVAL);
}
END_TEST

/* .sol.helpers: with three collector threads, the two helpers drain while
 * the first one protects from-space, and here, where it waits in the test
 * hook (this thread waits in vmgc_collect, so nothing else scans): the
 * list must be copied and black before the hook gives up.  With no helpers
 * the hook waits out its 10 s and the test fails. */
#define HELPED_NODES 20000
static struct pair *helped_root;
static int helpers_drained; /* Synchronization: set by the hook before the cycle ends. */

static void wait_for_helpers(struct vmgc_heap *h)
{
    h->test_after_from_space_unmapped = NULL;
    for (int ms = 0; ms < 10000 && __atomic_load_n(&h->pending, __ATOMIC_ACQUIRE); ms++)
        usleep(1000);
    helpers_drained = __atomic_load_n(&h->pending, __ATOMIC_ACQUIRE) == 0;
}

static __attribute__((noinline)) void helped_fill(void)
{
    helped_root = build_list(HELPED_NODES);
    move_allocation_page();
}

START_TEST(helper_threads_drain)
{
    test_collector_threads = 3;
    setup_heap(_i, 1);
    test_collector_threads = 0;
    ck_assert_uint_eq(heap->nhelpers, 2);
    ck_assert_int_eq(vmgc_root_add(heap, (void **)&helped_root, 1), VMGC_OK);
    helped_fill();
    vmgc_stats a, b;
    vmgc_get_stats(heap, &a);
    helpers_drained = 0;
    heap->test_after_from_space_unmapped = wait_for_helpers;
    ck_assert_int_eq(vmgc_collect(heap, 1), VMGC_OK);
    vmgc_get_stats(heap, &b);
    ck_assert_msg(helpers_drained, "the helpers left pages to scan for 10 s");
    uint64_t copied = b.objects_copied - a.objects_copied;
    uint64_t pinned = b.pages_pinned - a.pages_pinned;
    ck_assert_msg(copied + pinned * (4096 / 32) >= HELPED_NODES,
                  "%llu objects copied, %llu pages pinned", (unsigned long long)copied,
                  (unsigned long long)pinned);
    check_list(helped_root, HELPED_NODES);
    ck_assert_int_eq(vmgc_collect(heap, 1), VMGC_OK); /* and the helpers come back */
    check_list(helped_root, HELPED_NODES);
    vmgc_root_remove(heap, (void **)&helped_root);
    teardown_heap();
}
END_TEST

/* A thread blocked in a long system call does not delay the flip. */
static int blocked_ready; /* Synchronization: atomic. */
static void *blocked_thread(void *arg)
{
    (void)arg;
    vmgc_thread *t;
    vmgc_thread_attach(heap, &t);
    struct pair *volatile mine = vmgc_alloc(t, t_pair, sizeof(struct pair));
    mine->value = 99;
    vmgc_blocking_enter(t);
    __atomic_store_n(&blocked_ready, 1, __ATOMIC_RELEASE);
    sleep(2);
    vmgc_blocking_leave(t);
    int ok = mine->value == 99;
    vmgc_thread_detach(t);
    return (void *)(intptr_t)ok;
}

START_TEST(blocked_thread_does_not_delay_flip)
{
    setup_heap(_i, 1);
    pthread_t th;
    __atomic_store_n(&blocked_ready, 0, __ATOMIC_RELEASE);
    pthread_create(&th, NULL, blocked_thread, NULL);
    while (!__atomic_load_n(&blocked_ready, __ATOMIC_ACQUIRE))
        usleep(1000);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    vmgc_collect(heap, 1);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
    ck_assert_msg(ms < 1000, "collection took %.0f ms with a blocked thread", ms);
    void *ok;
    pthread_join(th, &ok);
    ck_assert_ptr_eq(ok, (void *)1);
    teardown_heap();
}
END_TEST

static uint64_t pause_start[8], pause_length[8];
static unsigned pauses_told;

static void note_pause(void *ctx, uint64_t start_ns, uint64_t duration_ns)
{
    (void)ctx;
    if (pauses_told < 8) {
        pause_start[pauses_told] = start_ns;
        pause_length[pauses_told] = duration_ns;
    }
    pauses_told++;
}

static uint64_t monotonic_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Every flip is told to on_pause with the figures the statistics keep, and
 * resident_bytes counts heap memory once although two views map it. */
START_TEST(pauses_are_told_and_memory_counted_once)
{
    pauses_told = 0;
    setup_heap_with(_i, 0, note_pause);
    static void *root;
    ck_assert_int_eq(vmgc_root_add(heap, &root, 1), VMGC_OK);
    root = build_list(100000); /* 100k x 24 bytes: ~2.3 MiB live */
    uint64_t before = monotonic_ns();
    for (int k = 0; k < 3; k++)
        vmgc_collect(heap, 1);
    uint64_t after = monotonic_ns();
    vmgc_stats s;
    vmgc_get_stats(heap, &s);
    uint64_t kept[3];
    ck_assert_uint_eq(pauses_told, 3);
    ck_assert_uint_eq(s.pause_count, 3);
    ck_assert_uint_eq(vmgc_get_pauses(heap, kept, 3), 3);
    for (int k = 0; k < 3; k++) {
        ck_assert_uint_eq(pause_length[k], kept[k]);
        ck_assert_uint_ge(pause_start[k], k ? pause_start[k - 1] + pause_length[k - 1] : before);
        ck_assert_uint_le(pause_start[k] + pause_length[k], after);
    }
    size_t live = (size_t)100000 * 24;
    ck_assert_msg(s.resident_bytes >= live, "resident %zu < live %zu", s.resident_bytes, live);
    /* each page once: the copies of the last cycle and what was not yet
     * returned fit well within 8x the live data */
    ck_assert_msg(s.resident_bytes <= 8 * live + ((size_t)8 << 20), "resident %zu for %zu live",
                  s.resident_bytes, live);
    ck_assert_int_eq(vmgc_root_remove(heap, &root), VMGC_OK);
    teardown_heap();
}
END_TEST

/* n pairs that nothing keeps, even if a stale stack word pins the page of
 * one of them: the links are cut. */
static __attribute__((noinline)) void make_garbage(int n)
{
    for (struct pair *p = build_list(n), *next; p; p = next) {
        next = p->next;
        p->next = NULL;
    }
}

/* pool.md .sol.zero-in-place: pages recycled from from-space are zeroed
 * through the mutator view, which maps them already, so they are not mapped
 * in the collector view too (the kernel counts a page in RSS once per view
 * that maps it).  The mprotect backend zeroes through the collector view. */
START_TEST(recycled_pages_are_mapped_in_one_view)
{
    no_verify = 1;
    setup_heap(_i, 0);
    no_verify = 0;
    static void *root;
    ck_assert_int_eq(vmgc_root_add(heap, &root, 1), VMGC_OK);
    make_garbage(200000);
    test_scrub_stack();
    vmgc_collect(heap, 1); /* the garbage's pages go back to the pool, resident */
    root = build_list(200000);
    size_t pages = 0, in_both = 0;
    uintptr_t last = 0;
    for (struct pair *p = root; p; p = p->next) {
        uintptr_t page = (uintptr_t)p & ~(uintptr_t)VM_PAGE_MASK;
        if (page == last)
            continue;
        last = page;
        pages++;
        in_both += (size_t)test_page_mapped(vm_alias_of(&heap->arena->vm, (void *)page));
    }
    ck_assert_uint_ge(pages, 1000);
    /* a few neighbours of what the cycle read through the collector view
     * are mapped there by the kernel's fault-around */
    if (strcmp(test_backends[_i], "uffd") == 0)
        ck_assert_msg(in_both <= pages / 10, "%zu of %zu recycled pages mapped in both views",
                      in_both, pages);
    else
        ck_assert_msg(in_both >= pages - pages / 10, "%zu of %zu recycled pages mapped in both views",
                      in_both, pages);
    check_list(root, 200000);
    ck_assert_int_eq(vmgc_root_remove(heap, &root), VMGC_OK);
    teardown_heap();
}
END_TEST

/* Threads attach, allocate, detach while background cycles run. */
static int churners_running, attachments_spanning_a_cycle;

static void *churn(void *arg)
{
    (void)arg;
    for (int k = 0; k < 100; k++) {
        vmgc_thread *t;
        vmgc_stats before, after;
        if (vmgc_thread_attach(heap, &t) != VMGC_OK)
            abort();
        vmgc_get_stats(heap, &before);
        struct pair *l = NULL;
        for (int i = 0; i < 300; i++) {
            struct pair *p = vmgc_alloc(t, t_pair, sizeof *p);
            p->value = (uintptr_t)i;
            p->next = l;
            l = p;
        }
        /* every tenth attachment stays, allocating, until a cycle has ended */
        for (int spin = 0; k % 10 == 0 && spin < 1000000; spin++) {
            vmgc_alloc(t, t_pair, sizeof *l);
            vmgc_get_stats(heap, &after);
            if (after.collections != before.collections)
                break;
        }
        for (int i = 299; i >= 0; i--, l = l->next)
            if (l->value != (uintptr_t)i)
                abort();
        vmgc_get_stats(heap, &after);
        if (after.collections != before.collections)
            __atomic_add_fetch(&attachments_spanning_a_cycle, 1, __ATOMIC_RELAXED);
        if (vmgc_thread_detach(t) != VMGC_OK)
            abort();
    }
    __atomic_sub_fetch(&churners_running, 1, __ATOMIC_RELEASE);
    return NULL;
}

START_TEST(attach_detach_during_cycles)
{
    setup_heap(_i, 1);
    pthread_t th[2];
    churners_running = 2;
    attachments_spanning_a_cycle = 0;
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, churn, NULL), 0);
    /* cycles for as long as threads come and go, and at least 20 */
    for (int k = 0; k < 20 || __atomic_load_n(&churners_running, __ATOMIC_ACQUIRE); k++)
        vmgc_collect(heap, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    /* 2 threads x 10 attachments wait (bounded) for a cycle end */
    ck_assert_int_ge(attachments_spanning_a_cycle, 10);
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
    tcase_add_loop_test(tc, peak_memory_is_kept_for_a_window_then_returned, 0, 2);
    tcase_add_loop_test(tc, idle_heap_gives_back_held_pages, 0, 2);
    tcase_add_loop_test(tc, collect_waits_for_a_cycle_after_the_call, 0, 2);
    tcase_add_loop_test(tc, misuse_gets_clear_errors, 0, 2);
    tcase_add_loop_test(tc, from_space_access_is_diagnosed, 0, 2);
    tcase_add_loop_test(tc, interior_pointer_pins, 0, 2);
    tcase_add_loop_test(tc, tagged_pointers_stay_tagged, 0, 2);
    tcase_add_loop_test(tc, large_objects_do_not_move, 0, 2);
    tcase_add_loop_test(tc, leaf_large_objects_are_never_protected, 0, 2);
    tcase_add_loop_test(tc, bitmap_skips_non_pointer_words, 0, 2);
    tcase_add_loop_test(tc, forwarding_behind_the_scan, 0, 2);
    tcase_add_loop_test(tc, type_registration_rules, 0, 2);
    tcase_add_loop_test(tc, out_of_memory_handler, 0, 2);
    tcase_add_test(tc, bad_configuration);
    tcase_add_loop_test(tc, blocked_thread_does_not_delay_flip, 0, 2);
    tcase_add_loop_test(tc, attach_detach_during_cycles, 0, 2);
    tcase_add_loop_test(tc, pauses_are_told_and_memory_counted_once, 0, 2);
    tcase_add_loop_test(tc, recycled_pages_are_mapped_in_one_view, 0, 2);
    tcase_add_loop_test(tc, copies_in_traps_are_counted, 0, 2);
    tcase_add_loop_test(tc, list_walk_in_traps_fills_pages, 0, 2);
    tcase_add_loop_test(tc, helper_threads_drain, 0, 2);
    suite_add_tcase(s, tc);
    return test_run(s);
}

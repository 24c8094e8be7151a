/* test_prot.c -- protection and traps, with both backends (src/prot*.c). */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <unistd.h>

#include "prot.h"
#include "sys.h"
#include "testlib.h"

#define PG VM_PAGE_SIZE

/* The callback records what it was called for; the counters are atomics
 * because it runs in signal handlers of several threads. */
static struct arena *cb_arena;
static unsigned long cb_calls;
static unsigned char *cb_seen; /* per page: times called */
static void *cb_last;
static unsigned cb_delay_us;

static int count_cb(void *ctx, void *page)
{
    (void)ctx;
    __atomic_fetch_add(&cb_calls, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&cb_last, page, __ATOMIC_RELAXED);
    size_t i = pagetable_index(&cb_arena->pt, page);
    __atomic_fetch_add(&cb_seen[i], 1, __ATOMIC_RELAXED);
    if (cb_delay_us) {
        struct timespec ts = {0, (long)cb_delay_us * 1000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

static struct arena *make(int backend, size_t pages)
{
    struct arena *a = test_arena(backend, pages * PG);
    cb_arena = a;
    cb_calls = 0;
    cb_delay_us = 0;
    cb_seen = calloc(pages, 1);
    arena_set_trap_fn(a, count_cb, NULL);
    return a;
}

static void unmake(struct arena *a)
{
    arena_destroy(a);
    free(cb_seen);
}

static char *pages_of(struct arena *a, size_t n)
{
    void *p;
    int zero;
    ck_assert_int_eq(arena_alloc_pages(a, n, 0, &p, &zero), VMGC_OK);
    return p;
}

START_TEST(protect_trap_unprotect)
{
    struct arena *a = make(_i, 256);
    char *p = pages_of(a, 8);
    for (int k = 0; k < 8; k++)
        memset(p + k * PG, 'a' + k, PG);
    ck_assert_int_eq(prot_protect(a, p, 8 * PG), VMGC_OK);
    for (int k = 0; k < 8; k++)
        ck_assert(prot_is_protected(a, p + k * PG));
    ck_assert_uint_eq(cb_calls, 0);
    /* reading page 3 traps once, runs the callback for page 3 only */
    ck_assert_int_eq(((volatile char *)p)[3 * PG + 100], 'a' + 3);
    ck_assert_uint_eq(cb_calls, 1);
    ck_assert_ptr_eq(cb_last, p + 3 * PG);
    ck_assert(!prot_is_protected(a, p + 3 * PG));
    ck_assert(prot_is_protected(a, p + 4 * PG));
    ck_assert_int_eq(((volatile char *)p)[3 * PG + 200], 'a' + 3);
    ck_assert_uint_eq(cb_seen[pagetable_index(&a->pt, p + 3 * PG)], 1);
    /* a write traps too, and lands */
    p[5 * PG] = 'Z';
    ck_assert_int_eq(((char *)vm_alias_of(&a->vm, p))[5 * PG], 'Z');
    ck_assert_uint_ge(arena_get_stats(a).traps, 2);
    /* unprotect the rest: no more callbacks */
    unsigned long before = cb_calls;
    ck_assert_int_eq(prot_unprotect(a, p, 8 * PG), VMGC_OK);
    for (int k = 0; k < 8; k++)
        ck_assert_int_eq(((volatile char *)p)[k * PG + 1], k == 5 ? 'a' + 5 : 'a' + k);
    ck_assert_uint_eq(cb_calls, before);
    unmake(a);
}
END_TEST

START_TEST(bad_arguments)
{
    struct arena *a = make(_i, 64);
    char *p = pages_of(a, 4);
    ck_assert_int_eq(prot_protect(a, p + 1, PG), VMGC_EINVAL);
    ck_assert_ptr_nonnull(strstr(vmgc_last_error(), "not aligned"));
    ck_assert_int_eq(prot_protect(a, p, PG + 10), VMGC_EINVAL);
    ck_assert_int_eq(prot_protect(a, p, 0), VMGC_EINVAL);
    ck_assert_ptr_nonnull(strstr(vmgc_last_error(), "empty"));
    ck_assert_int_eq(prot_protect(a, a->vm.base - PG, PG), VMGC_ERANGE);
    ck_assert_ptr_nonnull(strstr(vmgc_last_error(), "outside the heap"));
    ck_assert_int_eq(prot_protect(a, a->vm.base + 64 * PG, PG), VMGC_ERANGE);
    ck_assert_int_eq(prot_protect(a, a->vm.base + 63 * PG, 2 * PG), VMGC_ERANGE);
    ck_assert_int_eq(prot_unprotect(a, (void *)PG, PG), VMGC_ERANGE);
    ck_assert_int_eq(arena_release_pages(a, p, 4), VMGC_OK);
    ck_assert_int_eq(arena_release_pages(a, p, 4), VMGC_ESTATE);
    ck_assert_ptr_nonnull(strstr(vmgc_last_error(), "double release"));
    unmake(a);
}
END_TEST

/* Several threads protect, trap on and unprotect their own pages at once. */
struct worker {
    struct arena *a;
    char *pages;
    int n;
    int rounds;
    int id;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    for (int r = 0; r < w->rounds; r++) {
        for (int k = 0; k < w->n; k++)
            w->pages[k * PG + r % 64] = (char)(w->id + r);
        ck_assert_int_eq(prot_protect(w->a, w->pages, (size_t)w->n * PG), VMGC_OK);
        for (int k = 0; k < w->n; k++) {
            ck_assert_int_eq(((volatile char *)w->pages)[k * PG + r % 64], (char)(w->id + r));
            ck_assert(!prot_is_protected(w->a, w->pages + k * PG));
        }
        ck_assert_int_eq(prot_unprotect(w->a, w->pages, (size_t)w->n * PG), VMGC_OK);
    }
    return NULL;
}

START_TEST(threads_protect_and_trap)
{
    enum { THREADS = 4, N = 32, ROUNDS = 40 };
    struct arena *a = make(_i, 1024);
    pthread_t t[THREADS];
    struct worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){a, pages_of(a, N), N, ROUNDS, i * 10};
        pthread_create(&t[i], NULL, worker_main, &w[i]);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    ck_assert_uint_eq(cb_calls, THREADS * N * ROUNDS);
    unmake(a);
}
END_TEST

/* Many threads trap on the same page at once: all see the data, the
 * callback ran before any of them went on. */
static int go; /* Synchronization: atomic. */
static char *shared_page;

static void *toucher(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE))
        ;
    long sum = 0;
    for (int k = 0; k < 8; k++)
        sum += ((volatile char *)shared_page)[k * 512];
    return (void *)sum;
}

START_TEST(threads_trap_one_page)
{
    enum { THREADS = 6 };
    struct arena *a = make(_i, 64);
    shared_page = pages_of(a, 1);
    for (int round = 0; round < 50; round++) {
        memset(shared_page, 3, PG);
        ck_assert_int_eq(prot_protect(a, shared_page, PG), VMGC_OK);
        __atomic_store_n(&go, 0, __ATOMIC_RELEASE);
        cb_delay_us = 200;
        pthread_t t[THREADS];
        for (int i = 0; i < THREADS; i++)
            pthread_create(&t[i], NULL, toucher, NULL);
        __atomic_store_n(&go, 1, __ATOMIC_RELEASE);
        for (int i = 0; i < THREADS; i++) {
            void *sum;
            pthread_join(t[i], &sum);
            ck_assert_int_eq((long)sum, 24);
        }
        ck_assert(!prot_is_protected(a, shared_page));
    }
    ck_assert_uint_ge(cb_calls, 50);
    unmake(a);
}
END_TEST

/* 100k scattered protected pages: far past the VMA limit for the mprotect
 * backend, which must degrade, not fail. */
START_TEST(scattered_100k_pages)
{
    enum { PAGES = 400000, PROTECT = 100000 };
    uint64_t seed = test_seed("scattered_100k_pages");
    struct arena *a = make(_i, PAGES);
    char *base = pages_of(a, PAGES);
    unsigned char *chosen = calloc(PAGES, 1);
    size_t *list = malloc(PROTECT * sizeof *list);
    for (size_t got = 0; got < PROTECT;) {
        size_t k = test_rand(&seed) % PAGES;
        if (chosen[k])
            continue;
        chosen[k] = 1;
        list[got++] = k;
        base[k * PG] = (char)(k % 127 + 1);
    }
    for (size_t j = 0; j < PROTECT; j++)
        ck_assert_msg(prot_protect(a, base + list[j] * PG, PG) == VMGC_OK, "page %zu: %s", j,
                      vmgc_last_error());
    struct arena_stats s = arena_get_stats(a);
    fprintf(stderr, "scattered_100k_pages(%s): granule 2^%u pages, %llu PROT_NONE runs, %llu coarsenings\n",
            test_backends[_i], s.granule_shift, (unsigned long long)s.protected_runs,
            (unsigned long long)s.coarsenings);
    if (_i == PROT_MPROTECT) {
        ck_assert_uint_gt(s.coarsenings, 0);
        ck_assert_uint_le(s.protected_runs, a->mp.run_budget);
    }
    /* the process can still map memory */
    void *m = mmap(NULL, 64 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(m, MAP_FAILED);
    munmap(m, 64 << 20);
    /* every protected page traps with its callback, and keeps its data */
    for (int t = 0; t < 2000; t++) {
        size_t k = list[test_rand(&seed) % PROTECT];
        ck_assert_int_eq(((volatile char *)base)[k * PG], (char)(k % 127 + 1));
        ck_assert_uint_ge(cb_seen[k], 1);
        ck_assert(!prot_is_protected(a, base + k * PG));
    }
    /* and an unprotected page in a coarse granule reads right too */
    for (size_t k = 0; k < 2000; k++)
        if (!chosen[k])
            ck_assert_int_eq(((volatile char *)base)[k * PG], 0);
    free(chosen);
    free(list);
    unmake(a);
}
END_TEST

/* mprotect failing with ENOMEM on small ranges (as at the VMA limit) makes
 * the backend coarsen; traps still work. */
static int small_prot_none_fails(void *addr, size_t len, int prot)
{
    if (prot == PROT_NONE && len < 64 * PG) {
        errno = ENOMEM;
        return -1;
    }
    return mprotect(addr, len, prot);
}

START_TEST(enomem_makes_mprotect_coarsen)
{
    struct arena *a = make(PROT_MPROTECT, 4096);
    char *p = pages_of(a, 4096);
    for (int k = 0; k < 4096; k += 100)
        p[k * PG] = 9;
    sys.mprotect = small_prot_none_fails;
    for (int k = 0; k < 4096; k += 100)
        ck_assert_int_eq(prot_protect(a, p + k * PG, PG), VMGC_OK);
    sys_reset();
    ck_assert_uint_ge(arena_get_stats(a).granule_shift, 6);
    for (int k = 0; k < 4096; k += 100) {
        ck_assert_int_eq(((volatile char *)p)[k * PG], 9);
        ck_assert_uint_eq(cb_seen[pagetable_index(&a->pt, p + k * PG)], 1);
    }
    ck_assert_uint_eq(cb_calls, 41);
    unmake(a);
}
END_TEST

static int fallocate_enospc(int fd, int mode, off_t off, off_t len)
{
    (void)fd, (void)mode, (void)off, (void)len;
    errno = ENOSPC;
    return -1;
}

START_TEST(uffd_protect_failure_is_reported)
{
    struct arena *a = make(PROT_UFFD, 64);
    char *p = pages_of(a, 1);
    sys.fallocate = fallocate_enospc;
    vmgc_status st = prot_protect(a, p, PG);
    sys_reset();
    ck_assert_int_eq(st, VMGC_ESYSTEM);
    ck_assert_ptr_nonnull(strstr(vmgc_last_error(), "fallocate"));
    unmake(a);
}
END_TEST

/* .sol.hide: hidden pages are protected (and, on uffd, PROT_NONE while the
 * heap is not registered for write-protect); a touch runs the barrier and
 * shows the page; prot_unhide shows the rest, writable.  At the VMA limit
 * (ENOMEM) and once registered for write-protect, uffd unmaps instead. */
static int prot_none_enomem(void *addr, size_t len, int prot)
{
    if (prot == PROT_NONE) {
        errno = ENOMEM;
        return -1;
    }
    return mprotect(addr, len, prot);
}

static int count_vma_hidden(struct arena *a, char *p, size_t n)
{
    int k = 0;
    for (size_t i = 0; i < n; i++)
        k += (pagetable_lookup(&a->pt, p + i * PG)->prot & PD_VMA_HIDDEN) != 0;
    return k;
}

static void hide_touch_show(struct arena *a, char *p, int expect_hidden)
{
    unsigned long before = cb_calls;
    ck_assert_int_eq(prot_hide_resident(a, p, 8 * PG), VMGC_OK);
    for (int k = 0; k < 8; k++)
        ck_assert(prot_is_protected(a, p + k * PG));
    ck_assert_int_eq(count_vma_hidden(a, p, 8), expect_hidden ? 8 : 0);
    ck_assert_int_eq(((volatile char *)p)[3 * PG + 7], 'a' + 3);
    ck_assert_uint_eq(cb_calls, before + 1);
    ck_assert_ptr_eq(cb_last, p + 3 * PG);
    ck_assert(!prot_is_protected(a, p + 3 * PG));
    ck_assert_int_eq(prot_unhide(a, p, 8 * PG), VMGC_OK);
    ck_assert_int_eq(count_vma_hidden(a, p, 8), 0);
    for (int k = 0; k < 8; k++) {
        ck_assert(!prot_is_protected(a, p + k * PG));
        ck_assert_int_eq(((volatile char *)p)[k * PG + 9], 'a' + k);
        p[k * PG + 10] = 'W';
        ck_assert_int_eq(((char *)vm_alias_of(&a->vm, p))[k * PG + 10], 'W');
    }
    ck_assert_uint_eq(cb_calls, before + 1);
}

START_TEST(hidden_pages_trap_and_show_again)
{
    struct arena *a = make(_i, 64);
    char *p = pages_of(a, 8);
    for (int k = 0; k < 8; k++)
        memset(p + k * PG, 'a' + k, PG);
    hide_touch_show(a, p, _i == PROT_UFFD);
    if (_i == PROT_UFFD) {
        sys.mprotect = prot_none_enomem;
        hide_touch_show(a, p, 0);
        sys_reset();
        if (a->uffd.wp_async) {
            ck_assert_int_eq(prot_uffd_register_wp(a), VMGC_OK);
            hide_touch_show(a, p, 0);
        }
    }
    unmake(a);
}
END_TEST

START_TEST(replaced_handler_is_detected)
{
    struct arena *a = make(_i, 64);
    char *p = pages_of(a, 1);
    /* signal() no longer can (sigchain.c); a raw system call still can */
    ck_assert_int_eq(test_raw_ignore(_i == PROT_UFFD ? SIGBUS : SIGSEGV), 0);
    ck_assert_int_eq(prot_protect(a, p, PG), VMGC_EHANDLER);
    ck_assert_ptr_nonnull(strstr(vmgc_last_error(), _i == PROT_UFFD ? "SIGBUS" : "SIGSEGV"));
    ck_assert_ptr_nonnull(strstr(vmgc_last_error(), "replaced"));
    ck_assert(!prot_is_protected(a, p)); /* nothing was hidden */
    p[0] = 1;
    unmake(a);
}
END_TEST

/* SIGPROF fires often while traps are handled: it must never run inside
 * the trap path (it is deferred to the handler's return), and nothing
 * breaks. */
static volatile sig_atomic_t in_callback, prof_inside, prof_count;

static int slow_cb(void *ctx, void *page)
{
    in_callback = 1;
    count_cb(ctx, page);
    for (volatile int spin = 0; spin < 200000; spin++)
        ;
    in_callback = 0;
    return 0;
}

static void on_prof(int sig)
{
    (void)sig;
    prof_count++;
    if (in_callback)
        prof_inside++;
}

START_TEST(sigprof_during_traps)
{
    struct arena *a = make(_i, 512);
    arena_set_trap_fn(a, slow_cb, NULL);
    char *p = pages_of(a, 256);
    memset(p, 1, 256 * PG);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_prof;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGPROF, &sa, NULL);
    struct itimerval it = {{0, 200}, {0, 200}};
    setitimer(ITIMER_PROF, &it, NULL);
    long sum = 0;
    for (int round = 0; round < 8; round++) {
        ck_assert_int_eq(prot_protect(a, p, 256 * PG), VMGC_OK);
        for (int k = 0; k < 256; k++)
            sum += ((volatile char *)p)[k * PG];
    }
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_PROF, &off, NULL);
    ck_assert_int_eq(sum, 8 * 256);
    ck_assert_uint_eq(cb_calls, 8 * 256);
    ck_assert_int_gt(prof_count, 0);
    ck_assert_int_eq(prof_inside, 0);
    unmake(a);
}
END_TEST

/* The kernel cannot take our traps: read(2) into a protected page fails
 * with EFAULT, and vmgc_prepare_io is the way around it. */
START_TEST(read_into_protected_page)
{
    struct arena *a = make(_i, 64);
    char *p = pages_of(a, 2);
    memset(p, '.', 2 * PG);
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    ck_assert_int_eq(write(fds[1], "hello", 5), 5);
    ck_assert_int_eq(prot_protect(a, p, 2 * PG), VMGC_OK);
    errno = 0;
    ck_assert_int_eq(read(fds[0], p + PG + 10, 5), -1);
    ck_assert_int_eq(errno, EFAULT);
    ck_assert_uint_eq(cb_calls, 0);
    /* a range spanning both pages, not page-aligned */
    ck_assert_int_eq(vmgc_prepare_io(p + PG - 3, 20), VMGC_OK);
    ck_assert_uint_eq(cb_calls, 2);
    ck_assert_int_eq(read(fds[0], p + PG + 10, 5), 5);
    ck_assert_int_eq(memcmp(p + PG + 10, "hello", 5), 0);
    ck_assert_int_eq(p[PG + 9], '.');
    /* memory outside every heap is fine; NULL is not */
    char stack_buf[64];
    ck_assert_int_eq(vmgc_prepare_io(stack_buf, sizeof stack_buf), VMGC_OK);
    ck_assert_int_eq(vmgc_prepare_io(NULL, 10), VMGC_EINVAL);
    close(fds[0]);
    close(fds[1]);
    unmake(a);
}
END_TEST

START_TEST(release_exposes_protected_pages)
{
    struct arena *a = make(_i, 64);
    char *p = pages_of(a, 4);
    memset(p, 1, 4 * PG);
    ck_assert_int_eq(prot_protect(a, p, 4 * PG), VMGC_OK);
    ck_assert_int_eq(arena_release_pages(a, p, 4), VMGC_OK);
    void *q;
    int zero;
    ck_assert_int_eq(arena_alloc_pages(a, 4, 0, &q, &zero), VMGC_OK);
    ck_assert_ptr_eq(q, p);
    for (int k = 0; k < 4; k++)
        ((volatile char *)q)[k * PG] = 2;
    ck_assert_uint_eq(cb_calls, 0);
    unmake(a);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("prot");
    TCase *tc = tcase_create("both-backends");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, protect_trap_unprotect, 0, 2);
    tcase_add_loop_test(tc, bad_arguments, 0, 2);
    tcase_add_loop_test(tc, threads_protect_and_trap, 0, 2);
    tcase_add_loop_test(tc, threads_trap_one_page, 0, 2);
    tcase_add_loop_test(tc, scattered_100k_pages, 0, 2);
    tcase_add_loop_test(tc, replaced_handler_is_detected, 0, 2);
    tcase_add_loop_test(tc, sigprof_during_traps, 0, 2);
    tcase_add_loop_test(tc, read_into_protected_page, 0, 2);
    tcase_add_loop_test(tc, release_exposes_protected_pages, 0, 2);
    tcase_add_loop_test(tc, hidden_pages_trap_and_show_again, 0, 2);
    tcase_add_test(tc, enomem_makes_mprotect_coarsen);
    tcase_add_test(tc, uffd_protect_failure_is_reported);
    suite_add_tcase(s, tc);
    return test_run(s);
}

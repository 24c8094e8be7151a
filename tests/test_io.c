/* test_io.c -- system calls on heap memory (gc/io.c): inside a
 * vmgc_io_begin bracket a read(2) blocked on a pipe, a write(2) from an
 * unbuffered stdio stream and an open(2) of a heap path succeed while a
 * collection has the page's neighbours protected, and a fork write-protects
 * the heap; without the bracket the same calls fail with EFAULT (the
 * controls, which show the scenario reaches the kernel's fault).  A
 * bracketed buffer does not move through collections forced between the
 * bracket and the call, many times.  Both barrier backends, verification
 * on. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "testlib.h"
#include "internal.h"
#include "vmgc.h"

#define LEN 256

static vmgc_heap *heap;
static vmgc_thread *me;
static vmgc_type t_str, t_pair;
static void *roots[4];

static void setup(int backend)
{
    vmgc_config c;
    vmgc_config_init(&c);
    c.reserve_bytes = (size_t)1 << 30;
    c.initial_size = (size_t)64 << 20; /* no cycle but the test's own */
    c.barrier = test_backends[backend];
    c.verify = 1;
    ck_assert_msg(vmgc_heap_create(&heap, &c) == VMGC_OK, "%s", vmgc_last_error());
    ck_assert_int_eq(vmgc_thread_attach(heap, &me), VMGC_OK);
    vmgc_type_desc sd = {.name = "str", .layout = VMGC_LAYOUT_NO_POINTERS};
    vmgc_type_desc pd = {.name = "pair", .layout = VMGC_LAYOUT_ALL_POINTERS};
    ck_assert_int_eq(vmgc_type_register(heap, &sd, &t_str), VMGC_OK);
    ck_assert_int_eq(vmgc_type_register(heap, &pd, &t_pair), VMGC_OK);
    memset(roots, 0, sizeof roots);
    ck_assert_int_eq(vmgc_root_add(heap, roots, 4), VMGC_OK);
}

static void teardown(void)
{
    ck_assert_int_eq(vmgc_root_remove(heap, roots), VMGC_OK);
    ck_assert_int_eq(vmgc_thread_detach(me), VMGC_OK);
    ck_assert_int_eq(vmgc_heap_destroy(heap), VMGC_OK);
}

/* A string between objects with pointers, on a page of mixed objects: the
 * bracket must keep the page without breaking its neighbours. */
static char *mixed_string(const char *text)
{
    void **p = vmgc_alloc(me, t_pair, 2 * sizeof(void *));
    char *s = vmgc_alloc(me, t_str, LEN);
    void **q = vmgc_alloc(me, t_pair, 2 * sizeof(void *));
    p[0] = s;
    q[0] = p;
    q[1] = vmgc_alloc(me, t_str, 16);
    strcpy(s, text);
    roots[0] = q;
    roots[1] = s;
    return s;
}

static int neighbours_ok(const char *s)
{
    void **q = roots[0], **p = q[0];
    return p[0] == s && q[1] != NULL;
}

/* ---- a cycle held after its flip: pinned pages grey and protected ---- */

static int hook_state; /* 1: the collector waits in the hook; 2: let it go */

static void hold(struct vmgc_heap *h)
{
    (void)h;
    __atomic_store_n(&hook_state, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 20000 && __atomic_load_n(&hook_state, __ATOMIC_ACQUIRE) != 2; i++)
        usleep(500);
}

static void hold_cycle(void)
{
    hook_state = 0;
    __atomic_store_n(&heap->test_after_from_space_unmapped, hold, __ATOMIC_RELEASE);
    ck_assert_int_eq(vmgc_collect(heap, 0), VMGC_OK);
    while (__atomic_load_n(&hook_state, __ATOMIC_ACQUIRE) != 1)
        sched_yield();
    __atomic_store_n(&heap->test_after_from_space_unmapped, NULL, __ATOMIC_RELEASE);
}

static void release_cycle(void)
{
    vmgc_stats st;
    vmgc_get_stats(heap, &st);
    __atomic_store_n(&hook_state, 2, __ATOMIC_RELEASE);
    vmgc_stats now;
    do {
        sched_yield();
        vmgc_get_stats(heap, &now);
    } while (now.collections == st.collections);
}

/* ---- a read blocked in another thread ---- */

struct reader {
    char *buf;
    int fd, bracket;
    int state; /* 1: about to read; 2: read returned */
    ssize_t got;
    int err;
};

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    vmgc_thread *t;
    ck_assert_int_eq(vmgc_thread_attach(heap, &t), VMGC_OK);
    char *volatile buf = r->buf; /* on this stack: the flip pins its page */
    if (r->bracket)
        ck_assert_int_eq(vmgc_io_begin(t, buf, LEN), VMGC_OK);
    __atomic_store_n(&r->state, 1, __ATOMIC_RELEASE);
    /* a read that may block for long: in a blocking section, so flips do
     * not wait for it (only the kernel touches the heap meanwhile) */
    vmgc_blocking_enter(t);
    do
        r->got = read(r->fd, buf, LEN);
    while (r->got < 0 && errno == EINTR);
    r->err = errno;
    vmgc_blocking_leave(t);
    __atomic_store_n(&r->state, 2, __ATOMIC_RELEASE);
    if (r->bracket)
        ck_assert_int_eq(vmgc_io_end(t, buf), VMGC_OK);
    ck_assert_int_eq(vmgc_thread_detach(t), VMGC_OK);
    return NULL;
}

enum disturbance { BY_CYCLE, BY_FORK };

/* The reader blocks in read(2) into a heap string; meanwhile a cycle is
 * held after its flip (or the process forks, which write-protects the
 * heap until the child has its copy); then the pipe gets its data. */
static void blocked_read(int backend, int bracket, enum disturbance how)
{
    setup(backend);
    if (how == BY_FORK) {
        /* 48 MiB in use below the string: the parent's copy for the child
         * (in the background, from the lowest page up) reaches the
         * string's page well after the pipe gets its data */
        static void *ballast[48];
        ck_assert_int_eq(vmgc_root_add(heap, ballast, 48), VMGC_OK);
        for (int i = 0; i < 48; i++) {
            ballast[i] = vmgc_alloc(me, t_str, (size_t)1 << 20);
            memset(ballast[i], i, (size_t)1 << 20);
        }
    }
    int fd[2];
    ck_assert_int_eq(pipe(fd), 0);
    struct reader r = {.buf = mixed_string("old"), .fd = fd[0], .bracket = bracket};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, reader_main, &r), 0);
    while (__atomic_load_n(&r.state, __ATOMIC_ACQUIRE) != 1)
        sched_yield();
    usleep(20000); /* in read(2) by now */
    pid_t child = -1;
    if (how == BY_CYCLE) {
        hold_cycle();
    } else {
        child = fork();
        ck_assert_int_ge(child, 0);
        if (child == 0) {
            usleep(300000); /* the parent's copy for it runs meanwhile */
            _exit(0);
        }
    }
    char data[LEN];
    memset(data, 'x', sizeof data);
    data[LEN - 1] = '\0';
    ck_assert_int_eq(write(fd[1], data, LEN), LEN);
    for (int i = 0; i < 2000 && __atomic_load_n(&r.state, __ATOMIC_ACQUIRE) != 2; i++)
        usleep(1000);
    ck_assert_int_eq(__atomic_load_n(&r.state, __ATOMIC_ACQUIRE), 2);
    if (how == BY_CYCLE)
        release_cycle();
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    if (child > 0) {
        int status;
        ck_assert_int_eq(waitpid(child, &status, 0), child);
    }
    if (bracket) {
        ck_assert_msg(r.got == LEN, "read(2) into a bracketed heap string: %zd (%s)", r.got,
                      strerror(r.err));
        ck_assert_ptr_eq(roots[1], r.buf); /* it did not move */
        ck_assert_int_eq(memcmp(roots[1], data, LEN), 0);
        ck_assert(neighbours_ok(roots[1]));
    } else {
        ck_assert_msg(r.got < 0 && r.err == EFAULT,
                      "the control read(2) did not fail with EFAULT (%zd, %s): the test does "
                      "not reach a protected page",
                      r.got, strerror(r.err));
    }
    close(fd[0]);
    close(fd[1]);
    teardown();
}

static void blocked_read_during_cycle(int backend)
{
    blocked_read(backend, 1, BY_CYCLE);
}
BOTH(blocked_read_during_cycle)

static void blocked_read_during_cycle_control(int backend)
{
    blocked_read(backend, 0, BY_CYCLE);
}
BOTH(blocked_read_during_cycle_control)

static void blocked_read_during_fork(int backend)
{
    blocked_read(backend, 1, BY_FORK);
}
BOTH(blocked_read_during_fork)

static void blocked_read_during_fork_control(int backend)
{
    blocked_read(backend, 0, BY_FORK);
}
BOTH(blocked_read_during_fork_control)

/* ---- stdio and open(2) from heap strings during a held cycle ---- */

static char path_dir[64];

static __attribute__((noinline)) void unbuffered_and_open(int backend, int bracket)
{
    setup(backend);
    snprintf(path_dir, sizeof path_dir, "/tmp/vmgc-io-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(path_dir));
    char file[128];
    snprintf(file, sizeof file, "%s/f", path_dir);
    char *volatile s = mixed_string(file); /* held by this stack: its page is pinned */
    int fd[2];
    ck_assert_int_eq(pipe(fd), 0);
    FILE *out = fdopen(fd[1], "w");
    ck_assert_ptr_nonnull(out);
    setvbuf(out, NULL, _IONBF, 0); /* like stderr: write(2) straight from the string */
    size_t n = strlen(file);
    if (bracket)
        ck_assert_int_eq(vmgc_io_begin(me, s, LEN), VMGC_OK);
    hold_cycle();
    size_t wrote = fwrite(s, 1, n, out); /* no user-space read of s before the call */
    int werr = errno;
    errno = 0;
    int ofd = open(s, O_CREAT | O_WRONLY, 0600);
    int oerr = errno;
    release_cycle();
    if (bracket)
        ck_assert_int_eq(vmgc_io_end(me, s), VMGC_OK);
    if (bracket) {
        ck_assert_msg(wrote == n, "fwrite of a bracketed heap string: %zu of %zu (%s)", wrote, n,
                      strerror(werr));
        ck_assert_msg(ofd >= 0, "open(2) of a bracketed heap path: %s", strerror(oerr));
        char back[128] = {0};
        ck_assert_int_eq(read(fd[0], back, n), (ssize_t)n);
        ck_assert_str_eq(back, file);
        struct stat stt;
        ck_assert_int_eq(stat(file, &stt), 0);
    } else {
        ck_assert_msg(wrote == 0 && werr == EFAULT,
                      "the control fwrite did not fail with EFAULT (%zu, %s)", wrote,
                      strerror(werr));
        ck_assert_msg(ofd < 0 && oerr == EFAULT,
                      "the control open(2) did not fail with EFAULT (%d, %s)", ofd,
                      strerror(oerr));
    }
    if (ofd >= 0)
        close(ofd);
    fclose(out);
    close(fd[0]);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", path_dir);
    ck_assert_int_eq(system(cmd), 0);
    teardown();
}

static void stdio_and_open(int backend)
{
    unbuffered_and_open(backend, 1);
}
BOTH(stdio_and_open)

static void stdio_and_open_control(int backend)
{
    unbuffered_and_open(backend, 0);
}
BOTH(stdio_and_open_control)

/* Buffered stdio needs no bracket (trap.md .sol.io-bracket): a small heap
 * string is copied into the stream's buffer in user space (a touch the
 * trap resolves), and a large one (written straight from the string) is a
 * leaf large object, never protected.  Both during a held cycle, with the
 * small string's page pinned and protected. */
static __attribute__((noinline)) void buffered(int backend)
{
    setup(backend);
    char *volatile s = mixed_string("a small heap string, copied by stdio");
    size_t big_len = (size_t)64 << 10;
    char *volatile big = vmgc_alloc(me, t_str, big_len);
    memset(big, 'b', big_len);
    roots[2] = big;
    int fd[2];
    ck_assert_int_eq(pipe(fd), 0);
    ck_assert_int_eq(fcntl(fd[1], F_SETPIPE_SZ, 1 << 20) > 0, 1);
    FILE *out = fdopen(fd[1], "w");
    ck_assert_ptr_nonnull(out);
    size_t n = strlen("a small heap string, copied by stdio");
    hold_cycle();
    size_t w1 = fwrite(s, 1, n, out);
    size_t w2 = fwrite(big, 1, big_len, out);
    int flushed = fflush(out);
    int err = errno;
    release_cycle();
    ck_assert_msg(w1 == n && w2 == big_len && flushed == 0,
                  "buffered fwrite of heap strings: %zu of %zu, %zu of %zu, flush %d (%s)", w1,
                  n, w2, big_len, flushed, strerror(err));
    char *back = malloc(n + big_len);
    size_t got = 0;
    while (got < n + big_len) {
        ssize_t r = read(fd[0], back + got, n + big_len - got);
        ck_assert_int_gt(r, 0);
        got += (size_t)r;
    }
    ck_assert_int_eq(memcmp(back, s, n), 0);
    ck_assert_int_eq(memcmp(back + n, big, big_len), 0);
    free(back);
    fclose(out);
    close(fd[0]);
    teardown();
}

static void buffered_stdio_needs_no_bracket(int backend)
{
    buffered(backend);
}
BOTH(buffered_stdio_needs_no_bracket)

/* ---- collections forced between the bracket and the call ---- */

#define ROUNDS 200

static void collections_between(int backend)
{
    setup(backend);
    int fd[2];
    ck_assert_int_eq(pipe(fd), 0);
    for (int i = 0; i < ROUNDS; i++) {
        char *s = mixed_string("round");
        ck_assert_int_eq(vmgc_io_begin(me, s, LEN), VMGC_OK);
        ck_assert_int_eq(vmgc_collect(heap, 1), VMGC_OK);
        if (i % 2) { /* and a garbage-making, flip-making second one */
            for (int g = 0; g < 2000; g++)
                (void)vmgc_alloc(me, t_pair, 16);
            ck_assert_int_eq(vmgc_collect(heap, 1), VMGC_OK);
        }
        char msg[LEN];
        snprintf(msg, sizeof msg, "message %d", i);
        ck_assert_int_eq(write(fd[1], msg, sizeof msg), (ssize_t)sizeof msg);
        ck_assert_int_eq(read(fd[0], s, LEN), LEN);
        ck_assert_int_eq(write(fd[1], s, LEN), LEN); /* and back out from the heap */
        char back[LEN];
        ck_assert_int_eq(read(fd[0], back, LEN), LEN);
        ck_assert_int_eq(vmgc_io_end(me, s), VMGC_OK);
        ck_assert_ptr_eq(roots[1], s);
        ck_assert_str_eq(back, msg);
        ck_assert_str_eq(s, msg);
        ck_assert(neighbours_ok(s));
    }
    vmgc_stats st;
    vmgc_get_stats(heap, &st);
    ck_assert_uint_ge(st.collections, ROUNDS);
    close(fd[0]);
    close(fd[1]);
    teardown();
}
BOTH(collections_between)

/* ---- misuse ---- */

static void *other_thread_end(void *arg)
{
    return (void *)(intptr_t)vmgc_io_end(me, arg);
}

START_TEST(misuse_is_refused)
{
    setup(0);
    char *s = mixed_string("x");
    ck_assert_int_eq(vmgc_io_begin(me, NULL, 1), VMGC_EINVAL);
    ck_assert_int_eq(vmgc_io_begin(NULL, s, 1), VMGC_EINVAL);
    ck_assert_int_eq(vmgc_io_begin(me, (void *)UINTPTR_MAX, 16), VMGC_EINVAL);
    ck_assert_int_eq(vmgc_io_end(me, s), VMGC_ESTATE);
    ck_assert_msg(strstr(vmgc_last_error(), "no vmgc_io_begin"), "%s", vmgc_last_error());
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(vmgc_io_begin(me, s + i, 1), VMGC_OK);
    ck_assert_int_eq(vmgc_io_begin(me, s, 1), VMGC_ESTATE);
    pthread_t th;
    void *ret;
    ck_assert_int_eq(pthread_create(&th, NULL, other_thread_end, s), 0);
    ck_assert_int_eq(pthread_join(th, &ret), 0);
    ck_assert_int_eq((int)(intptr_t)ret, VMGC_EINVAL);
    for (int i = 7; i >= 0; i--)
        ck_assert_int_eq(vmgc_io_end(me, s + i), VMGC_OK);
    static char outside[8];
    ck_assert_int_eq(vmgc_io_begin(me, outside, sizeof outside), VMGC_OK);
    ck_assert_int_eq(vmgc_io_end(me, outside), VMGC_OK);
    teardown();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("io");
    TCase *tc = tcase_create("io");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, blocked_read_during_cycle_t, 0, 2);
    tcase_add_loop_test(tc, blocked_read_during_cycle_control_t, 0, 2);
    tcase_add_loop_test(tc, blocked_read_during_fork_t, 0, 2);
    tcase_add_loop_test(tc, blocked_read_during_fork_control_t, 0, 2);
    tcase_add_loop_test(tc, stdio_and_open_t, 0, 2);
    tcase_add_loop_test(tc, stdio_and_open_control_t, 0, 2);
    tcase_add_loop_test(tc, buffered_stdio_needs_no_bracket_t, 0, 2);
    tcase_add_loop_test(tc, collections_between_t, 0, 2);
    tcase_add_test(tc, misuse_is_refused);
    suite_add_tcase(s, tc);
    return test_run(s);
}

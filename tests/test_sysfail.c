/* test_sysfail.c -- every system call can fail (src/sys.c injection).
 *
 * A short multi-threaded workload (a heap, two mutators with checksummed
 * lists in a root block and a root range, collections, a helper collector
 * thread) runs in a child once per call kind, errno and position: the Nth
 * call of that kind fails with that errno.  Every outcome must be one of:
 *   ok      the workload finished and its lists checked (the failure was
 *           retried, or was best-effort, or did not matter);
 *   error   a vmgc call returned an error with a message;
 *   fatal   the process ended (abort) with "vmgc: fatal"/"vmgc: ..." naming
 *           the failed call;
 * never a hang, a crash by another signal, an abort without such a
 * message, or a list that fails its check.  The tally is printed.
 * VMGC_SYSFAIL_POINTS (default 6) caps the positions tried per kind and
 * errno: the first two, the last, and evenly between; VMGC_SYSFAIL_KIND
 * tries one kind, VMGC_SYSFAIL_BACKEND one backend, VMGC_SYSFAIL_CASE
 * replays one injection.  A child still running after 30 s is a hang: its
 * stacks go to sysfail-hang-PID.txt (gdb) before it is killed. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"
#include "sys.h"
#include "vmgc.h"

static vmgc_heap *heap;
static vmgc_type t_node;

struct node {
    struct node *next;
    uint64_t value;
};

static void fail_with(int code, const char *what)
{
    fprintf(stderr, "workload: %s: %s\n", what, vmgc_last_error());
    fflush(stderr);
    _exit(code);
}

static uint64_t list_sum(struct node *l, size_t *n)
{
    uint64_t s = 0;
    *n = 0;
    for (; l; l = l->next, (*n)++)
        s = s * 31 + l->value;
    return s;
}

struct mutator {
    int index;
    void **block;     /* a root block slot holds one list */
    struct node *ranged; /* a vmgc_root_add range holds the other */
};

static void *mutate(void *arg)
{
    struct mutator *m = arg;
    vmgc_thread *t;
    if (vmgc_thread_attach(heap, &t) != VMGC_OK)
        fail_with(2, "vmgc_thread_attach");
    if (vmgc_root_block_new(heap, 4, &m->block) != VMGC_OK)
        fail_with(2, "vmgc_root_block_new");
    if (vmgc_root_add(heap, (void **)&m->ranged, 1) != VMGC_OK)
        fail_with(2, "vmgc_root_add");
    uint64_t want_a = 0, want_b = 0;
    size_t na = 0, nb = 0;
    for (int round = 0; round < 6; round++) {
        for (int i = 0; i < 3000; i++) {
            struct node *x = vmgc_alloc(t, t_node, sizeof *x);
            if (!x)
                fail_with(2, "vmgc_alloc");
            x->value = (uint64_t)(m->index * 1000003 + round * 7919 + i);
            if (i & 1) {
                x->next = m->block[0];
                m->block[0] = x;
            } else {
                x->next = m->ranged;
                m->ranged = x;
            }
            (void)vmgc_alloc(t, t_node, 200); /* garbage */
        }
        size_t k;
        want_a = list_sum(m->block[0], &na);
        want_b = list_sum(m->ranged, &nb);
        if (list_sum(m->block[0], &k) != want_a || k != na)
            _exit(3);
    }
    vmgc_blocking_enter(t);
    usleep(1000);
    vmgc_blocking_leave(t);
    size_t k;
    if (list_sum(m->block[0], &k) != want_a || k != na || list_sum(m->ranged, &k) != want_b ||
        k != nb || na != 9000 || nb != 9000)
        _exit(3);
    vmgc_root_remove(heap, (void **)&m->ranged);
    if (vmgc_root_block_free(heap, m->block) != VMGC_OK)
        fail_with(2, "vmgc_root_block_free");
    if (vmgc_thread_detach(t) != VMGC_OK)
        fail_with(2, "vmgc_thread_detach");
    return NULL;
}

static int workload_backend;

static void workload(void)
{
    vmgc_config c;
    vmgc_config_init(&c);
    c.reserve_bytes = (size_t)1 << 30;
    c.initial_size = (size_t)1 << 20;
    c.barrier = test_backends[workload_backend];
    c.collector_threads = 2;
    if (vmgc_heap_create(&heap, &c) != VMGC_OK)
        fail_with(2, "vmgc_heap_create");
    vmgc_thread *me;
    if (vmgc_thread_attach(heap, &me) != VMGC_OK)
        fail_with(2, "vmgc_thread_attach");
    vmgc_type_desc nd = {.name = "node", .layout = VMGC_LAYOUT_BITMAP, .bitmap = 1};
    if (vmgc_type_register(heap, &nd, &t_node) != VMGC_OK)
        fail_with(2, "vmgc_type_register");
    struct mutator m[2] = {{.index = 1}, {.index = 2}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        if (pthread_create(&th[i], NULL, mutate, &m[i]) != 0)
            _exit(4);
    vmgc_blocking_enter(me);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    vmgc_blocking_leave(me);
    if (vmgc_collect(heap, 1) != VMGC_OK)
        fail_with(2, "vmgc_collect");
    vmgc_thread_detach(me);
    if (vmgc_heap_destroy(heap) != VMGC_OK)
        fail_with(2, "vmgc_heap_destroy");
}

/* ---- running it ---- */

enum outcome { OUT_OK, OUT_ERROR, OUT_FATAL, OUT_BAD, OUT_KINDS };
static const char *const outcome_names[OUT_KINDS] = {"ok", "error returned", "fatal, named",
                                                     "BAD"};

/* Words a message naming each call may use. */
static const char *const call_words[SYS_CALL_COUNT][4] = {
    [SYS_CALL_MMAP] = {"mmap"},
    [SYS_CALL_MUNMAP] = {"munmap"},
    [SYS_CALL_MPROTECT] = {"mprotect"},
    [SYS_CALL_MADVISE] = {"madvise"},
    [SYS_CALL_FALLOCATE] = {"fallocate"},
    [SYS_CALL_FTRUNCATE] = {"ftruncate"},
    [SYS_CALL_MEMFD_CREATE] = {"memfd_create"},
    [SYS_CALL_IOCTL] = {"UFFDIO_", "PAGEMAP_SCAN", "ioctl", "userfaultfd"},
    [SYS_CALL_CLOSE] = {"close"},
    [SYS_CALL_FSTAT] = {"fstat"},
    [SYS_CALL_USERFAULTFD] = {"userfaultfd"},
    [SYS_CALL_OPEN] = {"open"},
    [SYS_CALL_READ] = {"read("},
    [SYS_CALL_PREAD] = {"pread"},
    [SYS_CALL_PTHREAD_CREATE] = {"thread"},
    [SYS_CALL_PTHREAD_KILL] = {"pthread_kill", "stop signal"},
    [SYS_CALL_SCHED_GETAFFINITY] = {"affinity"},
    [SYS_CALL_SCHED_SETAFFINITY] = {"affinity"},
    [SYS_CALL_FUTEX] = {"futex"},
    [SYS_CALL_SIGACTION] = {"sigaction"},
    [SYS_CALL_PWRITE] = {"writ"},
    [SYS_CALL_FDATASYNC] = {"sync"},
    [SYS_CALL_RENAME] = {"renam"},
    [SYS_CALL_SYNC_FILE_RANGE] = {"sync"},
};

static const int call_errnos[SYS_CALL_COUNT][3] = {
    [SYS_CALL_MMAP] = {ENOMEM, EAGAIN},
    [SYS_CALL_MUNMAP] = {ENOMEM},
    [SYS_CALL_MPROTECT] = {ENOMEM, EAGAIN},
    [SYS_CALL_MADVISE] = {ENOMEM, EAGAIN, EINTR},
    [SYS_CALL_FALLOCATE] = {ENOSPC, ENOMEM, EINTR},
    [SYS_CALL_FTRUNCATE] = {EPERM, ENOSPC},
    [SYS_CALL_MEMFD_CREATE] = {EMFILE, ENOMEM},
    [SYS_CALL_IOCTL] = {EAGAIN, ENOMEM, EINTR},
    [SYS_CALL_CLOSE] = {EINTR},
    [SYS_CALL_FSTAT] = {ENOMEM},
    [SYS_CALL_USERFAULTFD] = {EPERM, EMFILE},
    [SYS_CALL_OPEN] = {EMFILE, EACCES},
    [SYS_CALL_READ] = {EINTR},
    [SYS_CALL_PREAD] = {EINTR},
    [SYS_CALL_PTHREAD_CREATE] = {EAGAIN, EPERM},
    [SYS_CALL_PTHREAD_KILL] = {EAGAIN},
    [SYS_CALL_SCHED_GETAFFINITY] = {EPERM},
    [SYS_CALL_SCHED_SETAFFINITY] = {EPERM, EINVAL},
    [SYS_CALL_FUTEX] = {EINTR, EAGAIN},
    [SYS_CALL_SIGACTION] = {EINVAL},
    [SYS_CALL_PWRITE] = {ENOSPC, EIO, EINTR},
    [SYS_CALL_FDATASYNC] = {EIO},
    [SYS_CALL_RENAME] = {EACCES},
    [SYS_CALL_SYNC_FILE_RANGE] = {EIO},
};

/* Runs the workload in a child, injecting (which, nth, err) unless nth is
 * 0; counts[] gets the child's call counts when not NULL. */
static enum outcome run_child(int backend, enum sys_call which, uint64_t nth, int err,
                              uint64_t *counts, char *out, size_t outlen, int *fired)
{
    int errpipe[2], cnt[2];
    ck_assert_int_eq(pipe(errpipe), 0);
    ck_assert_int_eq(pipe(cnt), 0);
    fflush(stderr);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(errpipe[0]);
        close(cnt[0]);
        dup2(errpipe[1], STDERR_FILENO);
        workload_backend = backend;
        sys_inject_begin();
        if (nth)
            sys_inject_fail_nth(which, nth, err);
        workload();
        uint64_t c[SYS_CALL_COUNT + 1];
        for (int k = 0; k < SYS_CALL_COUNT; k++)
            c[k] = sys_inject_count((enum sys_call)k);
        c[SYS_CALL_COUNT] = (uint64_t)sys_inject_fired();
        if (write(cnt[1], c, sizeof c) != (ssize_t)sizeof c)
            _exit(5);
        _exit(0);
    }
    close(errpipe[1]);
    close(cnt[1]);
    fcntl(errpipe[0], F_SETFL, O_NONBLOCK);
    size_t n = 0;
    int status = 0, hung = 0;
    /* a hang is 30 s without an exit: the child's stacks are kept
     * (gdb, when there is one) before it is killed */
    for (unsigned ms = 0;; ms++) {
        ssize_t r;
        while (n < outlen - 1 && (r = read(errpipe[0], out + n, outlen - 1 - n)) > 0)
            n += (size_t)r;
        if (waitpid(pid, &status, WNOHANG) == pid)
            break;
        if (ms == 30000) {
            char cmd[256];
            snprintf(cmd, sizeof cmd,
                     "gdb -batch -p %d -ex 'thread apply all bt' >sysfail-hang-%d.txt 2>&1",
                     (int)pid, (int)pid);
            if (system(cmd) != 0)
                fprintf(stderr, "  (no gdb for the hung child's stacks)\n");
            kill(pid, SIGKILL);
            hung = 1;
        }
        usleep(1000);
    }
    while (n < outlen - 1) {
        ssize_t r = read(errpipe[0], out + n, outlen - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    out[n] = '\0';
    uint64_t c[SYS_CALL_COUNT + 1];
    int have = read(cnt[0], c, sizeof c) == (ssize_t)sizeof c;
    close(errpipe[0]);
    close(cnt[0]);
    if (hung) {
        snprintf(out + n, outlen - n, " [hung 30 s: stacks in sysfail-hang-%d.txt]", (int)pid);
        return OUT_BAD;
    }
    *fired = have ? (int)c[SYS_CALL_COUNT] : 1;
    if (counts && have)
        memcpy(counts, c, sizeof(uint64_t) * SYS_CALL_COUNT);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && have)
        return OUT_OK;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 2 && strstr(out, "vmgc: "))
        return OUT_ERROR;
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT && strstr(out, "vmgc: ") && nth)
        for (int w = 0; w < 4 && call_words[which][w]; w++)
            if (strstr(out, call_words[which][w]))
                return OUT_FATAL;
    size_t len = strlen(out);
    snprintf(out + len, outlen - len, " [status %#x]", status);
    return OUT_BAD;
}

/* VMGC_SYSFAIL_CASE=kind,nth,ERRNO (e.g. ioctl,113,EAGAIN) replays one
 * injection in the foreground (no child, no timeout: for a debugger). */
static int replay_case(int backend)
{
    const char *spec = getenv("VMGC_SYSFAIL_CASE");
    if (!spec || !*spec)
        return 0;
    char kind[32], err[32];
    unsigned long long nth;
    ck_assert_msg(sscanf(spec, "%31[^,],%llu,%31s", kind, &nth, err) == 3,
                  "VMGC_SYSFAIL_CASE='%s': give kind,nth,ERRNO", spec);
    int which = -1, e = 0;
    for (int c = 0; c < SYS_CALL_COUNT; c++)
        if (!strcmp(sys_call_name((enum sys_call)c), kind))
            which = c;
    for (int k = 1; k < 134; k++)
        if (strerrorname_np(k) && !strcmp(strerrorname_np(k), err))
            e = k;
    ck_assert_msg(which >= 0 && e, "VMGC_SYSFAIL_CASE='%s': unknown call or errno", spec);
    workload_backend = backend;
    sys_inject_begin();
    sys_inject_fail_nth((enum sys_call)which, nth, e);
    workload();
    fprintf(stderr, "replayed %s: ok (fired %d)\n", spec, sys_inject_fired());
    return 1;
}

static void every_call_can_fail(int backend)
{
    const char *only = getenv("VMGC_SYSFAIL_BACKEND");
    if (only && *only && strcmp(only, test_backends[backend]) != 0)
        return;
    if (replay_case(backend))
        return;
    char out[4096];
    uint64_t counts[SYS_CALL_COUNT] = {0};
    int fired;
    enum outcome o = run_child(backend, SYS_CALL_MMAP, 0, 0, counts, out, sizeof out, &fired);
    ck_assert_msg(o == OUT_OK, "the workload fails without injection: %s", out);
    const char *env = getenv("VMGC_SYSFAIL_POINTS");
    uint64_t points = env && *env ? strtoull(env, NULL, 10) : 6;
    if (points < 2)
        points = 2;
    unsigned tally[OUT_KINDS] = {0}, injected = 0, bad = 0;
    char first_bad[1024] = "";
    const char *kind = getenv("VMGC_SYSFAIL_KIND"); /* one kind only */
    for (int c = 0; c < SYS_CALL_COUNT; c++) {
        uint64_t n = counts[c];
        if (!n || (kind && *kind && strcmp(kind, sys_call_name((enum sys_call)c)) != 0))
            continue;
        unsigned by_kind[OUT_KINDS] = {0};
        for (int e = 0; e < 3 && call_errnos[c][e]; e++) {
            int err = call_errnos[c][e];
            uint64_t prev = 0;
            for (uint64_t p = 0; p < points; p++) {
                uint64_t nth = p == 0 ? 1 : p == points - 1 ? n : 1 + (n - 1) * p / (points - 1);
                if (nth <= prev || nth > n)
                    continue;
                prev = nth;
                o = run_child(backend, (enum sys_call)c, nth, err, NULL, out, sizeof out, &fired);
                if (!fired && o == OUT_OK)
                    continue; /* the run made fewer calls: nothing injected */
                injected++;
                tally[o]++;
                by_kind[o]++;
                if (o == OUT_BAD) {
                    bad++;
                    fprintf(stderr, "  BAD: %s #%llu %s: %.300s\n", sys_call_name((enum sys_call)c),
                            (unsigned long long)nth, strerrorname_np(err), out);
                    if (!first_bad[0])
                        snprintf(first_bad, sizeof first_bad, "%s #%llu %s: %.600s",
                                 sys_call_name((enum sys_call)c), (unsigned long long)nth,
                                 strerrorname_np(err), out);
                }
            }
        }
        fprintf(stderr, "%s %-18s calls %6llu: ok %u, error %u, fatal %u, bad %u\n",
                test_backends[backend], sys_call_name((enum sys_call)c), (unsigned long long)n,
                by_kind[OUT_OK], by_kind[OUT_ERROR], by_kind[OUT_FATAL], by_kind[OUT_BAD]);
    }
    fprintf(stderr, "%s: %u failures injected: %s %u, %s %u, %s %u, %s %u\n",
            test_backends[backend], injected, outcome_names[0], tally[0], outcome_names[1],
            tally[1], outcome_names[2], tally[2], outcome_names[3], tally[3]);
    ck_assert_msg(bad == 0, "%u injections ended badly; first: %s", bad, first_bad);
}

BOTH(every_call_can_fail)

int main(void)
{
    Suite *s = suite_create("sysfail");
    TCase *tc = tcase_create("sysfail");
    tcase_set_timeout(tc, 900);
    tcase_add_loop_test(tc, every_call_can_fail_t, 0, 2);
    suite_add_tcase(s, tc);
    return test_run(s);
}

/* test_hostile.c -- hostile environments, each in a child process:
 * userfaultfd blocked by a seccomp filter (the automatic choice falls back
 * to mprotect and says why in one line), a user without privilege (the
 * barrier still works), and more runnable threads than CPUs (cycles
 * finish, pauses are reported).  The VMA limit lowered to 1000 is a
 * system-wide setting: scripts/test.sh runs the stress test under it. */
#include "config.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"
#include "uffd_compat.h"
#include "vmgc.h"

static vmgc_heap *heap;
static vmgc_type t_node;

struct node {
    struct node *next;
    uint64_t value;
};

static void child_fail(const char *what)
{
    fprintf(stderr, "child: %s: %s\n", what, vmgc_last_error());
    _exit(2);
}

/* A heap with the automatic barrier choice (whatever the suite was run
 * with) and the node type; config NULL: the defaults. */
static void hostile_heap(const vmgc_config *c)
{
    unsetenv("VMGC_BARRIER");
    if (vmgc_heap_create(&heap, c) != VMGC_OK)
        child_fail("vmgc_heap_create");
    vmgc_type_desc nd = {.name = "node", .layout = VMGC_LAYOUT_BITMAP, .bitmap = 1};
    if (vmgc_type_register(heap, &nd, &t_node) != VMGC_OK)
        child_fail("vmgc_type_register");
}

/* A heap with the automatic barrier choice, a list, `cycles` collections
 * with allocation between them, the list checked after each. */
static vmgc_stats small_workload(int cycles, size_t nodes)
{
    vmgc_config c;
    vmgc_config_init(&c);
    c.reserve_bytes = (size_t)1 << 30;
    c.initial_size = (size_t)2 << 20;
    hostile_heap(&c);
    vmgc_thread *me;
    if (vmgc_thread_attach(heap, &me) != VMGC_OK)
        child_fail("vmgc_thread_attach");
    struct node *l = NULL;
    vmgc_root_add(heap, (void **)&l, 1);
    for (size_t i = 0; i < nodes; i++) {
        struct node *x = vmgc_alloc(me, t_node, sizeof *x);
        x->next = l;
        x->value = i;
        l = x;
    }
    for (int k = 0; k < cycles; k++) {
        for (int g = 0; g < 20000; g++)
            (void)vmgc_alloc(me, t_node, 100);
        vmgc_collect(heap, 1);
        size_t i = nodes;
        for (struct node *x = l; x; x = x->next)
            if (x->value != --i)
                _exit(3);
        if (i != 0)
            _exit(3);
    }
    vmgc_stats s;
    vmgc_get_stats(heap, &s);
    vmgc_root_remove(heap, (void **)&l);
    return s;
}

/* Run fn in a child; its stderr into out; returns the wait status. */
static int in_child(void (*fn)(void), char *out, size_t outlen)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(p[0]);
        dup2(p[1], STDERR_FILENO);
        fn();
        _exit(0);
    }
    close(p[1]);
    size_t n = 0;
    ssize_t r;
    while (n < outlen - 1 && (r = read(p[0], out + n, outlen - 1 - n)) > 0)
        n += (size_t)r;
    out[n] = '\0';
    close(p[0]);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return status;
}

/* Run fn in a child that must exit 0; its stderr into out. */
static void child_ok(void (*fn)(void), char *out, size_t outlen)
{
    int st = in_child(fn, out, outlen);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x (SIGKILL: the OOM killer?): %s",
                  st, out);
}

/* ---- userfaultfd blocked: the fallback, with one line saying why ---- */

static void block_userfaultfd(void)
{
    /* userfaultfd(2) and /dev/userfaultfd's USERFAULTFD_IOC_NEW fail with EPERM */
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_userfaultfd, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_ioctl, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)USERFAULTFD_IOC_NEW, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof f / sizeof f[0], .filter = f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
        fprintf(stderr, "child: seccomp: %s\n", strerror(errno));
        _exit(4);
    }
}

static void seccomp_child(void)
{
    block_userfaultfd();
    unsetenv("VMGC_QUIET");
    vmgc_stats s = small_workload(5, 20000);
    if (strcmp(s.barrier, "mprotect") != 0 || !strstr(s.barrier_note, "userfaultfd"))
        _exit(5);
}

START_TEST(uffd_blocked_falls_back_with_one_line)
{
    char out[2048];
    child_ok(seccomp_child, out, sizeof out);
    ck_assert_msg(strstr(out, "vmgc: using the mprotect barrier: userfaultfd is unavailable"),
                  "no fallback line: %s", out);
    ck_assert_msg(strstr(out, "Operation not permitted"), "the line lacks the reason: %s", out);
    ck_assert_msg(strchr(out, '\n') == out + strlen(out) - 1, "more than one line: %s", out);
    fprintf(stderr, "seccomp child said: %s", out);
}
END_TEST

/* ---- a user without privilege: the barrier still works ---- */

static void unprivileged_child(void)
{
    if (getuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) {
        fprintf(stderr, "child: setuid: %s\n", strerror(errno));
        _exit(4);
    }
    vmgc_stats s = small_workload(5, 20000);
    /* uffd with UFFD_USER_MODE_ONLY (allowed with vm.unprivileged_userfaultfd=0),
     * or the fallback with its reason */
    if (strcmp(s.barrier, "uffd") != 0 && !s.barrier_note[0])
        _exit(5);
    fprintf(stderr, "barrier %s%s%s\n", s.barrier, s.barrier_note[0] ? ": " : "", s.barrier_note);
}

START_TEST(unprivileged_user_gets_a_barrier)
{
    char out[2048];
    child_ok(unprivileged_child, out, sizeof out);
    fprintf(stderr, "unprivileged child (vm.unprivileged_userfaultfd as set here): %s", out);
}
END_TEST

/* ---- more runnable threads than CPUs ---- */

static int hogs_stop;

static void *hog(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&hogs_stop, __ATOMIC_RELAXED))
        ;
    return NULL;
}

static void *hog_mutator(void *arg)
{
    (void)arg;
    vmgc_thread *t;
    if (vmgc_thread_attach(heap, &t) != VMGC_OK)
        _exit(6);
    while (!__atomic_load_n(&hogs_stop, __ATOMIC_RELAXED))
        (void)vmgc_alloc(t, t_node, 64);
    vmgc_thread_detach(t);
    return NULL;
}

static void crowded_child(void)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int nhogs = (int)(ncpu > 0 && ncpu < 16 ? 2 * ncpu : 4);
    pthread_t h[32], m[2];
    for (int i = 0; i < nhogs; i++)
        pthread_create(&h[i], NULL, hog, NULL);
    vmgc_config c;
    vmgc_config_init(&c);
    c.reserve_bytes = (size_t)1 << 30;
    c.initial_size = (size_t)1 << 20;
    hostile_heap(&c);
    for (int i = 0; i < 2; i++)
        pthread_create(&m[i], NULL, hog_mutator, NULL);
    vmgc_stats s;
    do {
        usleep(10000);
        vmgc_get_stats(heap, &s);
    } while (s.collections < 20);
    __atomic_store_n(&hogs_stop, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < 2; i++)
        pthread_join(m[i], NULL);
    for (int i = 0; i < nhogs; i++)
        pthread_join(h[i], NULL);
    uint64_t p[4096];
    size_t n = vmgc_get_pauses(heap, p, 4096);
    if (n < 20 || s.pause_count < 20 || !s.pause_max_ns)
        _exit(7);
    uint64_t over = 0;
    for (size_t i = 0; i < n; i++)
        over += p[i] > 500000;
    fprintf(stderr, "%d CPU hogs on %ld CPUs, 2 mutators: %llu collections, %zu pauses reported, "
                    "max %.3f ms, %llu over 0.5 ms, %llu stop pulls\n",
            nhogs, ncpu, (unsigned long long)s.collections, n, s.pause_max_ns / 1e6,
            (unsigned long long)over, (unsigned long long)s.stop_pulls);
}

START_TEST(more_threads_than_cpus)
{
    char out[2048];
    child_ok(crowded_child, out, sizeof out);
    fprintf(stderr, "%s", out);
}
END_TEST

/* ---- a cgroup memory limit: collections come sooner ---- */

/* ThreadSanitizer's shadow memory is charged to the cgroup too: it covers
 * both views of every heap page ever touched and is never given back (the
 * 512 MiB run reached a 2 GiB limit).  AddressSanitizer's shadow and its
 * quarantine are charged as well, outside the budget (OOM-killed once in
 * session 16's CI runs).  There the test only checks that the budget is
 * read from the cgroup, under a limit it cannot reach.  Without the budget
 * the 64 MiB run is OOM-killed (checked on the plain build). */
#define LIST_NODES 500000
#define LIVE_BYTES ((size_t)LIST_NODES * 24) /* ~11.4 MiB */
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif
static size_t cgroup_limit; /* bytes */

static char cgroup_dir[256];

/* A memory cgroup of our own (v2 if mounted, else v1), limit bytes. */
static int make_cgroup(size_t limit)
{
    int v2 = access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0;
    snprintf(cgroup_dir, sizeof cgroup_dir, "%s/vmgc-test-%d",
             v2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/memory", (int)getpid());
    if (mkdir(cgroup_dir, 0755) != 0)
        return -1;
    char path[300], val[32];
    snprintf(path, sizeof path, "%s/%s", cgroup_dir, v2 ? "memory.max" : "memory.limit_in_bytes");
    snprintf(val, sizeof val, "%zu", limit);
    FILE *f = fopen(path, "w");
    if (!f || fputs(val, f) < 0 || fclose(f) != 0)
        return -1;
    if (v2) { /* no swap either, so the limit is the limit */
        snprintf(path, sizeof path, "%s/memory.swap.max", cgroup_dir);
        f = fopen(path, "w");
        if (f) {
            fputs("0", f);
            fclose(f);
        }
    }
    return 0;
}

/* The most memory the cgroup held (v2 memory.peak, v1 max_usage_in_bytes),
 * 0 if the kernel does not say. */
static unsigned long long cgroup_peak(void)
{
    static const char *const names[2] = {"memory.peak", "memory.max_usage_in_bytes"};
    unsigned long long peak = 0;
    for (int k = 0; k < 2 && !peak; k++) {
        char path[300];
        snprintf(path, sizeof path, "%s/%s", cgroup_dir, names[k]);
        FILE *f = fopen(path, "r");
        if (f) {
            if (fscanf(f, "%llu", &peak) != 1)
                peak = 0;
            fclose(f);
        }
    }
    return peak;
}

static void limited_child(void)
{
    char path[300];
    snprintf(path, sizeof path, "%s/cgroup.procs", cgroup_dir);
    FILE *f = fopen(path, "w");
    if (!f || fprintf(f, "%d", (int)getpid()) < 0 || fclose(f) != 0) {
        fprintf(stderr, "child: joining %s: %s\n", cgroup_dir, strerror(errno));
        _exit(4);
    }
    /* ~11.4 MiB live (a list of 24-byte nodes), 512 MiB allocated in all,
     * the default configuration (the first collection after 64 MiB): only
     * the triggers decide when to collect */
    hostile_heap(NULL);
    vmgc_thread *me;
    if (vmgc_thread_attach(heap, &me) != VMGC_OK)
        child_fail("vmgc_thread_attach");
    struct node *l = NULL;
    vmgc_root_add(heap, (void **)&l, 1);
    for (size_t i = 0; i < LIST_NODES; i++) {
        struct node *x = vmgc_alloc(me, t_node, sizeof *x);
        x->next = l;
        x->value = i;
        l = x;
    }
    for (size_t done = 0; done < ((size_t)512 << 20); done += 128)
        (void)vmgc_alloc(me, t_node, 120);
    size_t i = LIST_NODES;
    for (struct node *x = l; x; x = x->next)
        if (x->value != --i)
            _exit(3);
    vmgc_stats s;
    vmgc_get_stats(heap, &s);
    if (!s.memory_budget)
        _exit(8);
    fprintf(stderr,
            "cgroup limit %.1f MiB (%.2fx the live data), peak use %.1f MiB, budget %.1f MiB, "
            "%llu collections (%llu marked the old generation in place), heap resident %.1f MiB, "
            "barrier %s\n",
            cgroup_limit / 1048576.0, (double)cgroup_limit / LIVE_BYTES, cgroup_peak() / 1048576.0,
            s.memory_budget / 1048576.0, (unsigned long long)s.collections,
            (unsigned long long)s.mark_collections, s.resident_bytes / 1048576.0, s.barrier);
}

/* The limit the test sets: 1.5x the live data where old collections mark
 * in place (the uffd barrier: doc/design/mark.md .sol.budget); a copying
 * collector needs room for two copies, so 64 MiB otherwise
 * (doc/design/memlimit.md).  Under the sanitizers, a limit it cannot reach
 * (above). */
static size_t limit_for_this_machine(void)
{
    if (SANITIZED)
        return (size_t)65536 << 20;
    vmgc_config c;
    vmgc_config_init(&c);
    c.reserve_bytes = (size_t)1 << 30;
    char *quiet = getenv("VMGC_QUIET") ? strdup(getenv("VMGC_QUIET")) : NULL;
    setenv("VMGC_QUIET", "1", 1);
    char *saved = getenv("VMGC_BARRIER") ? strdup(getenv("VMGC_BARRIER")) : NULL;
    unsetenv("VMGC_BARRIER"); /* the child's choice (hostile_heap) */
    vmgc_heap *probe;
    ck_assert_int_eq(vmgc_heap_create(&probe, &c), VMGC_OK);
    vmgc_stats s;
    vmgc_get_stats(probe, &s);
    int marks = strcmp(s.barrier, "uffd") == 0;
    ck_assert_int_eq(vmgc_heap_destroy(probe), VMGC_OK);
    if (saved) {
        setenv("VMGC_BARRIER", saved, 1);
        free(saved);
    }
    if (quiet) {
        setenv("VMGC_QUIET", quiet, 1);
        free(quiet);
    } else {
        unsetenv("VMGC_QUIET");
    }
    return marks ? LIVE_BYTES * 3 / 2 : (size_t)64 << 20;
}

START_TEST(cgroup_limit_collects_sooner)
{
    ck_assert_msg(getuid() == 0, "creating a memory cgroup needs root (the README's commands run "
                                 "as root)");
    cgroup_limit = limit_for_this_machine();
    ck_assert_msg(make_cgroup(cgroup_limit) == 0, "cannot create a memory cgroup at %s: %s",
                  cgroup_dir, strerror(errno));
    char out[2048];
    int st = in_child(limited_child, out, sizeof out);
    rmdir(cgroup_dir);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x (SIGKILL: the OOM killer): %s",
                  st, out);
    fprintf(stderr, "%s", out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hostile");
    TCase *tc = tcase_create("hostile");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, uffd_blocked_falls_back_with_one_line);
    tcase_add_test(tc, unprivileged_user_gets_a_barrier);
    tcase_add_test(tc, more_threads_than_cpus);
    tcase_add_test(tc, cgroup_limit_collects_sooner);
    suite_add_tcase(s, tc);
    return test_run(s);
}

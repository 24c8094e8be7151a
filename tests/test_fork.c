/* test_fork.c -- heaps across fork() (src/forksnap.c, gc/fork.c): parent
 * and child each keep the heap as of the fork, whoever writes first; the
 * child collects and allocates; a fork waits out a collection; an exec'ing
 * child costs the parent little; a failed setup is reported in the child.
 * Every test runs with both barrier backends. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"
#include "internal.h"
#include "sys.h"
#include "vmgc.h"

static vmgc_heap *heap;
static vmgc_thread *me;
static vmgc_type t_leaf, t_node;

struct node {
    struct node *next;
    uint64_t value;
    uint64_t pad[6];
};

static void setup_with(int backend, int background)
{
    vmgc_config c;
    vmgc_config_init(&c);
    c.reserve_bytes = (size_t)2 << 30;
    c.initial_size = (size_t)4 << 20; /* many cycles */
    c.barrier = test_backends[backend];
    c.no_background = !background;
    c.verify = 1;
    ck_assert_msg(vmgc_heap_create(&heap, &c) == VMGC_OK, "%s", vmgc_last_error());
    ck_assert_int_eq(vmgc_thread_attach(heap, &me), VMGC_OK);
    vmgc_type_desc ld = {.name = "leaf", .layout = VMGC_LAYOUT_NO_POINTERS};
    ck_assert_int_eq(vmgc_type_register(heap, &ld, &t_leaf), VMGC_OK);
    vmgc_type_desc nd = {.name = "node", .layout = VMGC_LAYOUT_BITMAP, .bitmap = 1};
    ck_assert_int_eq(vmgc_type_register(heap, &nd, &t_node), VMGC_OK);
}

static void teardown(void)
{
    ck_assert_int_eq(vmgc_thread_detach(me), VMGC_OK);
    ck_assert_int_eq(vmgc_heap_destroy(heap), VMGC_OK);
}

static struct node *list_make(size_t n, uint64_t base)
{
    struct node *head = NULL;
    for (size_t i = 0; i < n; i++) {
        struct node *x = vmgc_alloc(me, t_node, sizeof *x);
        x->next = head;
        x->value = base + i;
        head = x;
    }
    return head;
}

/* 0 when the list holds base + n-1 .. base, in that order */
static int list_check(struct node *l, size_t n, uint64_t base)
{
    for (size_t i = n; i-- > 0; l = l->next)
        if (!l || l->value != base + i)
            return 1;
    return l != NULL;
}

static void list_set(struct node *l, uint64_t base, size_t n)
{
    for (size_t i = n; i-- > 0; l = l->next)
        l->value = base + i;
}

static void churn(size_t bytes)
{
    for (size_t done = 0; done < bytes; done += 256)
        (void)vmgc_alloc(me, t_leaf, 248);
}

static int wait_child(pid_t pid)
{
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ---- the program: the child's writes stay in the child ---- */

static void child_writes_stay_in_child(int backend)
{
    setup_with(backend, 1);
    char *s = vmgc_alloc(me, t_leaf, 64);
    strcpy(s, "parent");
    struct node *l = list_make(20000, 7);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int bad = strcmp(s, "parent") != 0;
        strcpy(s, "child");
        churn((size_t)16 << 20);
        struct node *mine = list_make(5000, 100);
        bad |= vmgc_collect(heap, 1) != VMGC_OK;
        bad |= strcmp(s, "child") != 0;
        bad |= list_check(l, 20000, 7) << 1;
        bad |= list_check(mine, 5000, 100) << 2;
        vmgc_stats st;
        vmgc_get_stats(heap, &st);
        bad |= (st.collections == 0) << 3;
        _exit(bad);
    }
    ck_assert_int_eq(wait_child(pid), 0);
    ck_assert_str_eq(s, "parent");
    for (int i = 0; i < 1000; i++) { /* no child allocation shows through */
        uint64_t *p = vmgc_alloc(me, t_leaf, 64);
        for (int k = 0; k < 8; k++)
            ck_assert_int_eq(p[k], 0);
    }
    ck_assert_int_eq(vmgc_collect(heap, 1), VMGC_OK);
    ck_assert_str_eq(s, "parent");
    ck_assert_int_eq(list_check(l, 20000, 7), 0);
    teardown();
}

/* ---- the parent writes first: the child still sees the fork's state ---- */

static void parent_writes_first(int backend)
{
    setup_with(backend, backend == 0);
    struct node *l = list_make(30000, 1000);
    int go[2];
    ck_assert_int_eq(pipe(go), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char c;
        if (read(go[0], &c, 1) != 1)
            _exit(9);
        _exit(list_check(l, 30000, 1000));
    }
    list_set(l, 50000, 30000); /* every page of the list, before the child looks */
    ck_assert_int_eq(write(go[1], "g", 1), 1);
    ck_assert_int_eq(wait_child(pid), 0);
    ck_assert_int_eq(list_check(l, 30000, 50000), 0);
    ck_assert_int_eq(vmgc_collect(heap, 1), VMGC_OK);
    ck_assert_int_eq(list_check(l, 30000, 50000), 0);
    close(go[0]);
    close(go[1]);
    teardown();
}

/* ---- threads running through the fork: the child's copy is one instant ---- */

struct pair_arg {
    uint64_t *x, *y;
    int stop;
};

static void *pair_writer(void *arg)
{
    struct pair_arg *p = arg;
    vmgc_thread *t;
    ck_assert_int_eq(vmgc_thread_attach(heap, &t), VMGC_OK);
    for (uint64_t k = 1; !__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE); k++) {
        __atomic_store_n(p->x, k, __ATOMIC_RELEASE);
        __atomic_store_n(p->y, k, __ATOMIC_RELEASE);
        if (!(k & 1023))
            (void)vmgc_alloc(t, t_leaf, 512); /* and allocate, so flips stop it */
    }
    ck_assert_int_eq(vmgc_thread_detach(t), VMGC_OK);
    return NULL;
}

static void threads_through_fork(int backend)
{
    setup_with(backend, 1);
    enum { W = 2 };
    struct pair_arg args[W];
    pthread_t th[W];
    for (int w = 0; w < W; w++) {
        /* x and y on different pages, in that order */
        args[w].x = vmgc_alloc(me, t_leaf, 3000);
        args[w].y = vmgc_alloc(me, t_leaf, 3000);
        vmgc_root_add(heap, (void **)&args[w].x, 2); /* x and y are adjacent fields */
        args[w].stop = 0;
        ck_assert_int_eq(pthread_create(&th[w], NULL, pair_writer, &args[w]), 0);
    }
    for (int round = 0; round < 5; round++) {
        usleep(20000);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            int bad = 0;
            uint64_t seen[W][2];
            for (int w = 0; w < W; w++) {
                seen[w][0] = *args[w].x;
                seen[w][1] = *args[w].y;
                /* stopped between the two stores, or after both */
                bad |= !(seen[w][0] == seen[w][1] || seen[w][0] == seen[w][1] + 1);
            }
            usleep(30000); /* the parent goes on writing meanwhile */
            for (int w = 0; w < W; w++)
                bad |= (*args[w].x != seen[w][0] || *args[w].y != seen[w][1]) << 1;
            bad |= (vmgc_collect(heap, 1) != VMGC_OK) << 2;
            for (int w = 0; w < W; w++)
                bad |= (*args[w].x != seen[w][0] || *args[w].y != seen[w][1]) << 3;
            _exit(bad);
        }
        ck_assert_int_eq(wait_child(pid), 0);
    }
    for (int w = 0; w < W; w++) {
        __atomic_store_n(&args[w].stop, 1, __ATOMIC_RELEASE);
        pthread_join(th[w], NULL);
        vmgc_root_remove(heap, (void **)&args[w].x);
    }
    teardown();
}

/* ---- a fork during a collection waits for its end ---- */

static int in_cycle;

static void hold_the_cycle(struct vmgc_heap *h)
{
    (void)h;
    __atomic_store_n(&in_cycle, 1, __ATOMIC_RELEASE);
    usleep(50000);
}

static void fork_waits_for_a_collection(int backend)
{
    setup_with(backend, 1);
    struct node *l = list_make(20000, 3);
    __atomic_store_n(&heap->test_after_from_space_unmapped, hold_the_cycle, __ATOMIC_RELEASE);
    in_cycle = 0;
    vmgc_stats before, after;
    vmgc_get_stats(heap, &before);
    ck_assert_int_eq(vmgc_collect(heap, 0), VMGC_OK);
    while (!__atomic_load_n(&in_cycle, __ATOMIC_ACQUIRE))
        usleep(100);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        __atomic_store_n(&heap->test_after_from_space_unmapped, NULL, __ATOMIC_RELEASE);
        int bad = list_check(l, 20000, 3);
        churn((size_t)8 << 20);
        bad |= (vmgc_collect(heap, 1) != VMGC_OK) << 1;
        bad |= list_check(l, 20000, 3) << 2;
        _exit(bad);
    }
    /* the fork returned after the cycle ended */
    vmgc_get_stats(heap, &after);
    ck_assert_uint_gt(after.collections, before.collections);
    __atomic_store_n(&heap->test_after_from_space_unmapped, NULL, __ATOMIC_RELEASE);
    ck_assert_int_eq(wait_child(pid), 0);
    ck_assert_int_eq(list_check(l, 20000, 3), 0);
    teardown();
}

/* ---- fork + exec: the parent stops copying once the child let go ---- */

static void exec_child_ends_the_copy(int backend)
{
    setup_with(backend, 0); /* no drainer: only the parent's own settle copies */
    struct node *l = list_make(200000, 11); /* ~15 MiB */
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        execl("/bin/true", "true", (char *)NULL);
        _exit(127);
    }
    ck_assert_int_eq(wait_child(pid), 0);
    vmgc_stats st;
    vmgc_get_stats(heap, &st);
    ck_assert_int_eq(st.fork_copy_pending, 1);
    ck_assert_int_eq(vmgc_collect(heap, 1), VMGC_OK); /* settles: the child let go */
    vmgc_get_stats(heap, &st);
    ck_assert_int_eq(st.fork_copy_pending, 0);
    uint64_t owed = heap->arena->fs.owed, copied = heap->arena->fs.copied;
    ck_assert_uint_gt(owed, 3000);
    ck_assert_msg(copied < owed / 10, "copied %llu of %llu owed pages for an exec'd child",
                  (unsigned long long)copied, (unsigned long long)owed);
    ck_assert_int_eq(list_check(l, 200000, 11), 0);
    list_set(l, 5, 200000);
    ck_assert_int_eq(list_check(l, 200000, 5), 0);
    teardown();
}

/* ---- forks one after another, and a grandchild ---- */

static void forks_in_a_row_and_nested(int backend)
{
    setup_with(backend, 1);
    struct node *l = list_make(20000, 1);
    int go[2];
    ck_assert_int_eq(pipe(go), 0);
    pid_t first = fork();
    ck_assert_int_ge(first, 0);
    if (first == 0) {
        char c;
        if (read(go[0], &c, 1) != 1)
            _exit(9);
        int bad = list_check(l, 20000, 1);
        pid_t g = fork(); /* a grandchild, from a child that has copied */
        if (g == 0) {
            list_set(l, 77, 20000);
            _exit(list_check(l, 20000, 77));
        }
        int status;
        waitpid(g, &status, 0);
        bad |= (!WIFEXITED(status) || WEXITSTATUS(status)) << 1;
        bad |= list_check(l, 20000, 1) << 2;
        _exit(bad);
    }
    list_set(l, 2, 20000);
    pid_t second = fork(); /* the first child may not have copied yet */
    ck_assert_int_ge(second, 0);
    if (second == 0)
        _exit(list_check(l, 20000, 2));
    list_set(l, 3, 20000);
    ck_assert_int_eq(write(go[1], "g", 1), 1);
    ck_assert_int_eq(wait_child(second), 0);
    ck_assert_int_eq(wait_child(first), 0);
    ck_assert_int_eq(list_check(l, 20000, 3), 0);
    close(go[0]);
    close(go[1]);
    teardown();
}

/* ---- root blocks and kernel I/O across the fork ---- */

static void root_block_and_io_after_fork(int backend)
{
    setup_with(backend, 1);
    void **slots;
    ck_assert_int_eq(vmgc_root_block_new(heap, 4, &slots), VMGC_OK);
    slots[0] = list_make(5000, 40);
    char *buf = vmgc_alloc(me, t_leaf, 100);
    int fd[2];
    ck_assert_int_eq(pipe(fd), 0);
    ck_assert_int_eq(write(fd[1], "kernel", 7), 7);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int bad = vmgc_prepare_io(buf, 100) != VMGC_OK;
        bad |= (read(fd[0], buf, 7) != 7 || strcmp(buf, "kernel")) << 1;
        churn((size_t)8 << 20);
        bad |= (vmgc_collect(heap, 1) != VMGC_OK) << 2;
        bad |= list_check(slots[0], 5000, 40) << 3;
        _exit(bad);
    }
    ck_assert_int_eq(wait_child(pid), 0);
    /* the parent's pages are write-protected for the child until copied */
    ck_assert_int_eq(write(fd[1], "parent", 7), 7);
    ck_assert_int_eq(vmgc_prepare_io(buf, 100), VMGC_OK);
    ck_assert_int_eq(read(fd[0], buf, 7), 7);
    ck_assert_str_eq(buf, "parent");
    ck_assert_int_eq(list_check(slots[0], 5000, 40), 0);
    ck_assert_int_eq(vmgc_root_block_free(heap, slots), VMGC_OK);
    close(fd[0]);
    close(fd[1]);
    teardown();
}

/* ---- fork() from inside a blocking section stays in it, both sides ---- */

static void fork_while_blocked(int backend)
{
    setup_with(backend, 1);
    struct node *l = list_make(5000, 8);
    vmgc_blocking_enter(me);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    int blocked = __atomic_load_n(&me->state, __ATOMIC_ACQUIRE) == TS_BLOCKED;
    vmgc_blocking_leave(me);
    if (pid == 0) {
        churn((size_t)4 << 20);
        _exit((blocked ? 0 : 1) | (vmgc_collect(heap, 1) != VMGC_OK) << 1 | list_check(l, 5000, 8) << 2);
    }
    ck_assert_int_eq(blocked, 1);
    ck_assert_int_eq(wait_child(pid), 0);
    churn((size_t)4 << 20);
    ck_assert_int_eq(vmgc_collect(heap, 1), VMGC_OK);
    ck_assert_int_eq(list_check(l, 5000, 8), 0);
    teardown();
}

/* ---- two heaps: each is the child's own ---- */

static void two_heaps(int backend)
{
    setup_with(backend, 1);
    vmgc_config c;
    vmgc_config_init(&c);
    c.reserve_bytes = (size_t)1 << 30;
    c.barrier = test_backends[backend];
    vmgc_heap *other;
    ck_assert_int_eq(vmgc_heap_create(&other, &c), VMGC_OK);
    vmgc_type_desc ld = {.name = "leaf", .layout = VMGC_LAYOUT_NO_POINTERS};
    vmgc_type t2;
    ck_assert_int_eq(vmgc_type_register(other, &ld, &t2), VMGC_OK);
    struct node *l = list_make(10000, 5);
    /* this thread is attached to `heap` only; `other` has its collector thread alone */
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int bad = list_check(l, 10000, 5);
        list_set(l, 6, 10000);
        churn((size_t)4 << 20);
        bad |= (vmgc_collect(heap, 1) != VMGC_OK) << 1;
        bad |= (vmgc_collect(other, 1) != VMGC_OK) << 2;
        bad |= list_check(l, 10000, 6) << 3;
        vmgc_stats s;
        vmgc_get_stats(other, &s);
        bad |= (s.fork_copy_pending != 0) << 4;
        _exit(bad);
    }
    ck_assert_int_eq(wait_child(pid), 0);
    ck_assert_int_eq(list_check(l, 10000, 5), 0);
    ck_assert_int_eq(vmgc_collect(other, 1), VMGC_OK);
    ck_assert_int_eq(vmgc_heap_destroy(other), VMGC_OK);
    teardown();
}

/* ---- a setup that fails at the fork: the child is told, the parent is fine ---- */

static int fail_memfd(const char *name, unsigned flags)
{
    (void)name, (void)flags;
    errno = EMFILE;
    return -1;
}

static void failed_setup_is_reported_in_the_child(int backend)
{
    setup_with(backend, 0);
    struct node *l = list_make(1000, 9);
    int err[2];
    ck_assert_int_eq(pipe(err), 0);
    sys.memfd_create = fail_memfd;
    pid_t pid = fork();
    sys_reset();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(err[1], STDERR_FILENO);
        _exit(list_check(l, 1000, 9) ? 3 : 4); /* the touch must not return */
    }
    close(err[1]);
    char msg[512] = {0};
    ssize_t n = 0, r;
    while ((r = read(err[0], msg + n, sizeof msg - 1 - (size_t)n)) > 0)
        n += r;
    ck_assert_int_eq(wait_child(pid), 128 + SIGABRT);
    ck_assert_msg(strstr(msg, "memfd_create") && strstr(msg, "EMFILE") && strstr(msg, "fork"),
                  "child said: %s", msg);
    ck_assert_int_eq(list_check(l, 1000, 9), 0);
    list_set(l, 1, 1000);
    ck_assert_int_eq(vmgc_collect(heap, 1), VMGC_OK);
    ck_assert_int_eq(list_check(l, 1000, 1), 0);
    close(err[0]);
    teardown();
}

BOTH(child_writes_stay_in_child)
BOTH(parent_writes_first)
BOTH(threads_through_fork)
BOTH(fork_waits_for_a_collection)
BOTH(exec_child_ends_the_copy)
BOTH(forks_in_a_row_and_nested)
BOTH(root_block_and_io_after_fork)
BOTH(failed_setup_is_reported_in_the_child)
BOTH(two_heaps)
BOTH(fork_while_blocked)

int main(void)
{
    Suite *s = suite_create("fork");
    TCase *tc = tcase_create("fork");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, child_writes_stay_in_child_t, 0, 2);
    tcase_add_loop_test(tc, parent_writes_first_t, 0, 2);
    tcase_add_loop_test(tc, threads_through_fork_t, 0, 2);
    tcase_add_loop_test(tc, fork_waits_for_a_collection_t, 0, 2);
    tcase_add_loop_test(tc, exec_child_ends_the_copy_t, 0, 2);
    tcase_add_loop_test(tc, forks_in_a_row_and_nested_t, 0, 2);
    tcase_add_loop_test(tc, root_block_and_io_after_fork_t, 0, 2);
    tcase_add_loop_test(tc, failed_setup_is_reported_in_the_child_t, 0, 2);
    tcase_add_loop_test(tc, two_heaps_t, 0, 2);
    tcase_add_loop_test(tc, fork_while_blocked_t, 0, 2);
    suite_add_tcase(s, tc);
    return test_run(s);
}

/* test_signal.c -- fault handlers in any order (src/sigchain.c): a program
 * that installs SIGSEGV/SIGBUS handlers before, after, or during a
 * collection keeps a working heap and gets every fault that is not vmgc's,
 * with the semantics of its sigaction: SA_SIGINFO, masks, SA_RESETHAND,
 * SA_NODEFER, SIG_IGN, SIG_DFL, SA_ONSTACK for a real stack overflow.
 * Every test runs with both barrier backends. */
#include "config.h"

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"
#include "internal.h"
#include "vmgc.h"

static vmgc_heap *heap;
static vmgc_thread *me;
static vmgc_type t_node;

struct node {
    struct node *next;
    uint64_t value;
};

static void setup(int backend)
{
    vmgc_config c;
    vmgc_config_init(&c);
    c.reserve_bytes = (size_t)1 << 30;
    c.initial_size = (size_t)2 << 20;
    c.barrier = test_backends[backend];
    c.verify = 1;
    ck_assert_msg(vmgc_heap_create(&heap, &c) == VMGC_OK, "%s", vmgc_last_error());
    ck_assert_int_eq(vmgc_thread_attach(heap, &me), VMGC_OK);
    vmgc_type_desc nd = {.name = "node", .layout = VMGC_LAYOUT_BITMAP, .bitmap = 1};
    ck_assert_int_eq(vmgc_type_register(heap, &nd, &t_node), VMGC_OK);
}

static void teardown(void)
{
    ck_assert_int_eq(vmgc_thread_detach(me), VMGC_OK);
    ck_assert_int_eq(vmgc_heap_destroy(heap), VMGC_OK);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGSEGV, &dfl, NULL);
    sigaction(SIGBUS, &dfl, NULL);
}

static struct node *list_make(size_t n)
{
    struct node *head = NULL;
    for (size_t i = 0; i < n; i++) {
        struct node *x = vmgc_alloc(me, t_node, sizeof *x);
        x->next = head;
        x->value = i;
        head = x;
    }
    return head;
}

static int flipped, walked, in_cycle_hook_installs;
static void install_during_cycle(void);

/* The collector thread, after the flip and before it scans: waits for the
 * main thread's walk, so the walk meets grey pages and traps. */
static void hold_for_walk(struct vmgc_heap *h)
{
    (void)h;
    if (__atomic_load_n(&in_cycle_hook_installs, __ATOMIC_ACQUIRE))
        install_during_cycle();
    __atomic_store_n(&flipped, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&walked, __ATOMIC_ACQUIRE))
        usleep(100);
}

/* collections whose concurrent phase meets the mutator's traps */
static void cycles_with_traps(struct node **root, int cycles)
{
    __atomic_store_n(&heap->test_after_from_space_unmapped, hold_for_walk, __ATOMIC_RELEASE);
    for (int c = 0; c < cycles; c++) {
        vmgc_stats before, after;
        vmgc_get_stats(heap, &before);
        __atomic_store_n(&flipped, 0, __ATOMIC_RELEASE);
        __atomic_store_n(&walked, 0, __ATOMIC_RELEASE);
        vmgc_collect(heap, 0);
        while (!__atomic_load_n(&flipped, __ATOMIC_ACQUIRE))
            usleep(100);
        /* a few nodes while the collector waits (a trap copies what a page
         * points at: the whole list would empty the copy reserve it
         * refills), the rest after */
        size_t n = 0, k = 0;
        struct node *x = *root;
        for (; x && k < 16; x = x->next, k++)
            n += x->value == 0;
        __atomic_store_n(&walked, 1, __ATOMIC_RELEASE);
        for (; x; x = x->next)
            n += x->value == 0;
        ck_assert_uint_eq(n, 1);
        vmgc_collect(heap, 1);
        vmgc_get_stats(heap, &after);
        ck_assert_uint_gt(after.traps, before.traps); /* vmgc's own traps resolved */
    }
    __atomic_store_n(&heap->test_after_from_space_unmapped, NULL, __ATOMIC_RELEASE);
}

/* ---- a foreign fault, handled by the program's SA_SIGINFO handler ---- */

static char *foreign;                  /* a PROT_NONE page outside the heap */
static void *seen_addr;
static volatile sig_atomic_t calls, segv_blocked_inside, usr1_blocked_inside;

static void fixing_handler(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    sigset_t now;
    pthread_sigmask(SIG_BLOCK, NULL, &now);
    segv_blocked_inside = sigismember(&now, sig);
    usr1_blocked_inside = sigismember(&now, SIGUSR1);
    seen_addr = si->si_addr;
    calls++;
    mprotect(foreign, 4096, PROT_READ | PROT_WRITE); /* the access goes on */
}

static void install(int sig, void (*fn)(int, siginfo_t *, void *), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fn;
    sa.sa_flags = SA_SIGINFO | flags;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGUSR1);
    ck_assert_int_eq(sigaction(sig, &sa, NULL), 0);
}

static void touch_foreign(void)
{
    ck_assert_int_eq(mprotect(foreign, 4096, PROT_NONE), 0);
    seen_addr = NULL;
    ((volatile char *)foreign)[8] = 1;
}

static void new_foreign(void)
{
    foreign = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(foreign, MAP_FAILED);
}

static void handler_installed_after_the_heap(int backend)
{
    setup(backend);
    new_foreign();
    calls = 0;
    install(SIGSEGV, fixing_handler, 0);
    struct node *l = list_make(20000);
    vmgc_root_add(heap, (void **)&l, 1);
    cycles_with_traps(&l, 3);
    touch_foreign();
    ck_assert_int_eq(calls, 1);
    ck_assert_ptr_eq(seen_addr, foreign + 8);
    ck_assert_int_eq(foreign[8], 1);
    ck_assert_int_eq(segv_blocked_inside, 1); /* no SA_NODEFER: sig blocked in its handler */
    ck_assert_int_eq(usr1_blocked_inside, 1); /* and its sa_mask */
    /* the program reads back its own action, not vmgc's */
    struct sigaction cur;
    ck_assert_int_eq(sigaction(SIGSEGV, NULL, &cur), 0);
    ck_assert_ptr_eq((void *)cur.sa_sigaction, (void *)fixing_handler);
    vmgc_root_remove(heap, (void **)&l);
    munmap(foreign, 4096);
    teardown();
}

/* ---- the action before the heap is kept, and is the "old" of the next ---- */

static void other_handler(int sig, siginfo_t *si, void *uc)
{
    (void)sig, (void)si, (void)uc;
    calls += 100;
    mprotect(foreign, 4096, PROT_READ | PROT_WRITE);
}

static void install_during_cycle(void)
{
    install(SIGSEGV, other_handler, SA_NODEFER);
    __atomic_store_n(&in_cycle_hook_installs, 0, __ATOMIC_RELEASE);
}

static void before_and_replaced_during_a_cycle(int backend)
{
    new_foreign();
    calls = 0;
    install(SIGSEGV, fixing_handler, 0); /* before the heap */
    setup(backend);
    struct node *l = list_make(20000);
    vmgc_root_add(heap, (void **)&l, 1);
    touch_foreign();
    ck_assert_int_eq(calls, 1);
    /* replaced while a collection runs (the collector thread's hook) */
    __atomic_store_n(&in_cycle_hook_installs, 1, __ATOMIC_RELEASE);
    cycles_with_traps(&l, 2);
    ck_assert_int_eq(__atomic_load_n(&in_cycle_hook_installs, __ATOMIC_ACQUIRE), 0);
    struct sigaction cur, old;
    ck_assert_int_eq(sigaction(SIGSEGV, NULL, &cur), 0);
    ck_assert_ptr_eq((void *)cur.sa_sigaction, (void *)other_handler);
    ck_assert_int_ne(cur.sa_flags & SA_NODEFER, 0);
    touch_foreign();
    ck_assert_int_eq(calls, 101);
    /* sigaction returns the previous action and installs the next */
    ck_assert_int_eq(sigaction(SIGSEGV, &cur, &old), 0);
    ck_assert_ptr_eq((void *)old.sa_sigaction, (void *)other_handler);
    vmgc_root_remove(heap, (void **)&l);
    munmap(foreign, 4096);
    teardown();
}

/* ---- SA_RESETHAND, signal()'s family, and SIGBUS ---- */

static sigjmp_buf bus_escape;

static void bus_handler(int sig)
{
    (void)sig;
    calls++;
    siglongjmp(bus_escape, 1);
}

static void resethand_and_the_signal_family(int backend)
{
    setup(backend);
    new_foreign();
    calls = 0;
    install(SIGSEGV, fixing_handler, SA_RESETHAND);
    touch_foreign();
    ck_assert_int_eq(calls, 1);
    struct sigaction cur;
    sigaction(SIGSEGV, NULL, &cur);
    ck_assert_ptr_eq((void *)cur.sa_handler, (void *)SIG_DFL); /* reset after one delivery */
    /* signal(): BSD semantics, previous handler returned */
    ck_assert_ptr_eq((void *)signal(SIGBUS, bus_handler), (void *)SIG_DFL);
    ck_assert_ptr_eq((void *)signal(SIGBUS, bus_handler), (void *)bus_handler);
    /* a real SIGBUS outside the heap: a page past the end of a file */
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    char *m = mmap(NULL, 8192, PROT_READ, MAP_SHARED, fileno(f), 0);
    ck_assert_ptr_ne(m, MAP_FAILED);
    struct node *l = list_make(10000);
    vmgc_root_add(heap, (void **)&l, 1);
    if (sigsetjmp(bus_escape, 1) == 0) {
        vmgc_collect(heap, 0); /* a cycle may run meanwhile */
        volatile char c = m[4096];
        (void)c;
        ck_abort_msg("no SIGBUS");
    }
    ck_assert_int_eq(calls, 2);
    cycles_with_traps(&l, 1);
    munmap(m, 8192);
    fclose(f);
    /* sysv_signal(): one shot */
    ck_assert_ptr_eq((void *)sysv_signal(SIGBUS, bus_handler), (void *)bus_handler);
    sigaction(SIGBUS, NULL, &cur);
    ck_assert_int_ne(cur.sa_flags & SA_RESETHAND, 0);
    vmgc_root_remove(heap, (void **)&l);
    munmap(foreign, 4096);
    teardown();
}

/* ---- SIG_IGN and SIG_DFL, in children ---- */

static int child_status(void (*fn)(void))
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        fn();
        _exit(0);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return status;
}

static void ignore_then_raise(void)
{
    signal(SIGSEGV, SIG_IGN);
    raise(SIGSEGV); /* sent: ignored */
    kill(getpid(), SIGBUS); /* SIGBUS still default: this one kills */
}

static void ignore_then_fault(void)
{
    signal(SIGSEGV, SIG_IGN);
    touch_foreign(); /* a fault cannot be ignored */
}

static void default_then_fault(void)
{
    signal(SIGSEGV, SIG_DFL);
    touch_foreign();
}

static void ignored_and_default_dispositions(int backend)
{
    setup(backend);
    new_foreign();
    int st = child_status(ignore_then_raise);
    ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS, "status %#x", st);
    st = child_status(ignore_then_fault);
    ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "status %#x", st);
    st = child_status(default_then_fault);
    ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "status %#x", st);
    munmap(foreign, 4096);
    teardown();
}

/* ---- a real stack overflow, caught on an alternate stack, while cycles run ---- */

static __thread sigjmp_buf overflow_escape;
static volatile sig_atomic_t overflows;

static void overflow_handler(int sig, siginfo_t *si, void *uc)
{
    (void)sig, (void)si, (void)uc;
    overflows++;
    siglongjmp(overflow_escape, 1);
}

static volatile int recurse_forever = 1;

static __attribute__((noinline)) int recurse(volatile char *prev, int depth)
{
    volatile char frame[512];
    frame[0] = (char)depth;
    frame[511] = prev ? prev[0] : 0;
    if (!recurse_forever)
        return 0;
    return recurse(frame, depth + 1) + frame[1];
}

static int overflow_done;

/* Attached: the collector stops it by signal, and a stop signal that
 * arrives at the end of its stack is lost (the kernel cannot push the
 * frame, and raises the SIGSEGV that the handler escapes from); the
 * stopper's resend finds it back on its stack (threads.md .sol.resend). */
static void *overflower(void *arg)
{
    (void)arg;
    vmgc_thread *t;
    ck_assert_int_eq(vmgc_thread_attach(heap, &t), VMGC_OK);
    stack_t ss = {.ss_sp = malloc(1 << 16), .ss_size = 1 << 16, .ss_flags = 0};
    ck_assert_int_eq(sigaltstack(&ss, NULL), 0);
    for (int k = 0; k < 20; k++)
        if (sigsetjmp(overflow_escape, 1) == 0)
            recurse(NULL, 0);
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, NULL);
    ck_assert_int_eq(vmgc_thread_detach(t), VMGC_OK);
    __atomic_store_n(&overflow_done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void stack_overflow_on_an_alternate_stack(int backend)
{
    setup(backend);
    install(SIGSEGV, overflow_handler, SA_ONSTACK);
    struct node *l = list_make(20000);
    vmgc_root_add(heap, (void **)&l, 1);
    overflows = 0;
    overflow_done = 0;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 1 << 20);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, &attr, overflower, NULL), 0);
    while (!__atomic_load_n(&overflow_done, __ATOMIC_ACQUIRE))
        cycles_with_traps(&l, 1);
    pthread_join(th, NULL);
    ck_assert_int_eq(overflows, 20);
    cycles_with_traps(&l, 1);
    vmgc_root_remove(heap, (void **)&l);
    teardown();
}

BOTH(handler_installed_after_the_heap)
BOTH(before_and_replaced_during_a_cycle)
BOTH(resethand_and_the_signal_family)
BOTH(ignored_and_default_dispositions)
BOTH(stack_overflow_on_an_alternate_stack)

int main(void)
{
    Suite *s = suite_create("signal");
    TCase *tc = tcase_create("signal");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, handler_installed_after_the_heap_t, 0, 2);
    tcase_add_loop_test(tc, before_and_replaced_during_a_cycle_t, 0, 2);
    tcase_add_loop_test(tc, resethand_and_the_signal_family_t, 0, 2);
    tcase_add_loop_test(tc, ignored_and_default_dispositions_t, 0, 2);
    tcase_add_loop_test(tc, stack_overflow_on_an_alternate_stack_t, 0, 2);
    suite_add_tcase(s, tc);
    return test_run(s);
}

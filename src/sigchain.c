/* sigchain.c -- sigaction() and the signal() family, interposed: see
 * sigchain.h.  Design: doc/design/sigchain.md.
 *
 * The program's actions for the signals vmgc owns live here, under a spin
 * lock (.sol.chain-lock) that the interposed calls hold with every signal
 * blocked, so a handler (which takes it too) never finds it held by the
 * thread it interrupted.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <ucontext.h>

#include "error.h"
#include "sigchain.h"
#include "stop.h"
#include "sys.h"

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);
typedef sighandler_t (*signal_fn)(int, sighandler_t);

/* The C library's entry points, found once (.sol.next).
 * Synchronization: atomic (set at load, or on first use). */
static sigaction_fn next_sigaction;
static signal_fn next_signal, next_sysv_signal, next_sigset;

static struct sigaction chain_action[2]; /* SIGSEGV, SIGBUS: the program's */
static int chain_owned[2];               /* vmgc's handler is installed.  Synchronization: atomic. */
static int chain_lock;                   /* Synchronization: atomic. */

/* ThreadSanitizer's start-up installs its own signal handlers through
 * sigaction before the runtime is initialized: with libvmgc shared, that
 * call lands here, and an instrumented function's entry hook crashes then
 * (every program linked to a TSan build of libvmgc.so died before main).
 * The path such a call takes, a signal other than SIGSEGV/SIGBUS straight
 * to the next sigaction, is left uninstrumented. */
#if defined(__SANITIZE_THREAD__)
#define BEFORE_TSAN_INIT __attribute__((no_sanitize("thread")))
#else
#define BEFORE_TSAN_INIT
#endif

BEFORE_TSAN_INIT static int slot(int sig)
{
    return sig == SIGSEGV ? 0 : sig == SIGBUS ? 1 : -1;
}

BEFORE_TSAN_INIT static void *next_symbol(const char *name)
{
    void *p = dlsym(RTLD_NEXT, name);
    return p ? p : dlsym(RTLD_DEFAULT, name); /* a static program: libc's own */
}

BEFORE_TSAN_INIT static __attribute__((constructor)) void chain_resolve(void)
{
    __atomic_store_n(&next_signal, (signal_fn)next_symbol("signal"), __ATOMIC_RELEASE);
    __atomic_store_n(&next_sysv_signal, (signal_fn)next_symbol("sysv_signal"), __ATOMIC_RELEASE);
    __atomic_store_n(&next_sigset, (signal_fn)next_symbol("sigset"), __ATOMIC_RELEASE);
    /* __sigaction is libc's own name for it, and not interposed here */
    sigaction_fn sa = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
    if (!sa)
        sa = (sigaction_fn)dlsym(RTLD_DEFAULT, "__sigaction");
    __atomic_store_n(&next_sigaction, sa, __ATOMIC_RELEASE);
}

BEFORE_TSAN_INIT int sigchain_real_sigaction(int sig, const struct sigaction *act,
                                              struct sigaction *old)
{
    sigaction_fn f = __atomic_load_n(&next_sigaction, __ATOMIC_ACQUIRE);
    if (!f) {
        chain_resolve(); /* called before our constructor ran */
        f = __atomic_load_n(&next_sigaction, __ATOMIC_ACQUIRE);
    }
    if (!f) {
        errno = ENOSYS;
        return -1;
    }
    return f(sig, act, old);
}

/* .sol.async-under-tsan: vmgc's own handler for a signal it does not
 * chain (the stop signal) goes through the first sigaction in the program,
 * so that under ThreadSanitizer its interceptor wraps the handler.  TSan
 * then delivers the signal only outside its runtime; delivered straight
 * from the kernel, it stopped a thread inside TSan holding the lock of an
 * atomic's clock, and the collector's next atomic on the same word waited
 * for ever (vmgc-scheme, libvmgc.so after libtsan in lookup order).  The
 * interceptor's own next call is libvmgc's sigaction, which passes the
 * signal on to the C library. */
int sigchain_own_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
#if defined(__SANITIZE_THREAD__)
    if (slot(sig) < 0) {
        sigaction_fn first = (sigaction_fn)dlsym(RTLD_DEFAULT, "sigaction");
        if (first)
            return first(sig, act, old);
    }
#endif
    return sigchain_real_sigaction(sig, act, old);
}

static void lock_spin(void)
{
    int expected = 0;
    while (!__atomic_compare_exchange_n(&chain_lock, &expected, 1, 0, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED)) {
        expected = 0;
        sched_yield();
    }
}

static void unlock_spin(void)
{
    __atomic_store_n(&chain_lock, 0, __ATOMIC_RELEASE);
}

/* Writers block every signal, then take the lock. */
static void write_begin(sigset_t *saved)
{
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, saved);
    lock_spin();
}

static void write_end(const sigset_t *saved)
{
    unlock_spin();
    pthread_sigmask(SIG_SETMASK, saved, NULL);
}

/* Lock held. */
static void action_store(int k, const struct sigaction *act)
{
    chain_action[k] = *act;
}

vmgc_status sigchain_install(int sig, const struct sigaction *ours)
{
    int k = slot(sig);
    if (k < 0)
        return error_set(VMGC_EINVAL, "sigchain_install: signal %d is not SIGSEGV or SIGBUS", sig);
    sigset_t saved;
    write_begin(&saved);
    vmgc_status st = VMGC_OK;
    if (!__atomic_load_n(&chain_owned[k], __ATOMIC_ACQUIRE)) {
        struct sigaction before;
        if (sys.sigaction(sig, ours, &before) != 0) {
            st = error_sys(sig == SIGSEGV ? "installing the SIGSEGV handler (sigaction)"
                                          : "installing the SIGBUS handler (sigaction)",
                           errno);
        } else {
            action_store(k, &before);
            __atomic_store_n(&chain_owned[k], 1, __ATOMIC_RELEASE);
        }
    }
    write_end(&saved);
    return st;
}

/* ---- delivery ---- */

/* .sol.default: reinstate the default action and let the fault happen
 * again (a hardware fault re-executes); a sent signal is re-raised. */
static void deliver_default(int sig, siginfo_t *si)
{
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sys.sigaction(sig, &dfl, NULL);
    if (si->si_code <= 0)
        raise(sig);
}

void sigchain_deliver(int sig, siginfo_t *si, void *uctx)
{
    int k = slot(sig);
    struct sigaction act;
    lock_spin(); /* in a handler: no writer holds it on this thread */
    act = chain_action[k];
    if ((act.sa_flags & SA_RESETHAND) && act.sa_handler != SIG_IGN && act.sa_handler != SIG_DFL) {
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigemptyset(&dfl.sa_mask);
        action_store(k, &dfl);
    }
    unlock_spin();
    void (*h)(int) = act.sa_handler;
    if (h == SIG_IGN) {
        if (si->si_code <= 0) /* sent with kill(): ignored */
            return;
        h = SIG_DFL; /* the kernel does not let a program ignore a fault either */
    }
    if (h == SIG_DFL) {
        deliver_default(sig, si);
        return;
    }
    /* .sol.mask: the mask the kernel would have set for the program's
     * handler: the interrupted one, its sa_mask, and sig unless SA_NODEFER */
    sigset_t mask = ((ucontext_t *)uctx)->uc_sigmask, saved;
    sigorset(&mask, &mask, &act.sa_mask);
    if (!(act.sa_flags & SA_NODEFER))
        sigaddset(&mask, sig);
    /* .sol.stop-held: but not the collector's stop signal.  Taken in the
     * program's handler it would record a stack pointer on the alternate
     * stack that vmgc's handler runs on (SA_ONSTACK; ASan gives every
     * thread one), and the flip would scan from there to the thread's
     * stack base.  It is delivered when the handler returns or jumps out
     * (siglongjmp restores the mask). */
    sigaddset(&mask, STOP_SIGNAL);
    pthread_sigmask(SIG_SETMASK, &mask, &saved);
    if (act.sa_flags & SA_SIGINFO)
        act.sa_sigaction(sig, si, uctx);
    else
        h(sig);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
}

/* ---- the interposed calls ---- */

/* Declared by <signal.h> only in some feature modes. */
sighandler_t bsd_signal(int sig, sighandler_t h);
sighandler_t ssignal(int sig, sighandler_t h);
sighandler_t sysv_signal(int sig, sighandler_t h);
sighandler_t __sysv_signal(int sig, sighandler_t h);
sighandler_t sigset(int sig, sighandler_t h);

BEFORE_TSAN_INIT VMGC_API int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    int k = slot(sig);
    if (k < 0)
        return sigchain_real_sigaction(sig, act, old);
    /* the caller's structures are read and written outside the lock: a
     * bad pointer faults there, not with every signal blocked */
    struct sigaction want, was;
    if (act)
        want = *act;
    sigset_t saved;
    write_begin(&saved);
    int r = 0, owned = __atomic_load_n(&chain_owned[k], __ATOMIC_ACQUIRE);
    if (!owned) {
        r = sigchain_real_sigaction(sig, act ? &want : NULL, &was);
    } else {
        was = chain_action[k];
        if (act)
            action_store(k, &want);
    }
    int err = errno;
    write_end(&saved);
    if (r == 0 && old)
        *old = was;
    errno = err;
    return r;
}

static sighandler_t set_handler(int sig, sighandler_t h, int flags, int self_masked)
{
    struct sigaction act, old;
    memset(&act, 0, sizeof act);
    act.sa_handler = h;
    act.sa_flags = flags;
    sigemptyset(&act.sa_mask);
    if (self_masked)
        sigaddset(&act.sa_mask, sig);
    if (sigaction(sig, &act, &old) != 0)
        return SIG_ERR;
    return old.sa_handler;
}

static sighandler_t call_next(signal_fn *p, int sig, sighandler_t h)
{
    signal_fn f = __atomic_load_n(p, __ATOMIC_ACQUIRE);
    if (!f) {
        chain_resolve();
        f = __atomic_load_n(p, __ATOMIC_ACQUIRE);
    }
    if (!f) {
        errno = ENOSYS;
        return SIG_ERR;
    }
    return f(sig, h);
}

/* BSD semantics, as glibc's signal(): restartable, the signal masked in
 * its handler, the handler kept. */
VMGC_API sighandler_t signal(int sig, sighandler_t h)
{
    if (slot(sig) < 0)
        return call_next(&next_signal, sig, h);
    return set_handler(sig, h, SA_RESTART, 1);
}

VMGC_API sighandler_t bsd_signal(int sig, sighandler_t h)
{
    return signal(sig, h);
}

VMGC_API sighandler_t ssignal(int sig, sighandler_t h)
{
    return signal(sig, h);
}

/* System V semantics: one shot, not masked in its handler. */
VMGC_API sighandler_t sysv_signal(int sig, sighandler_t h)
{
    if (slot(sig) < 0)
        return call_next(&next_sysv_signal, sig, h);
    return set_handler(sig, h, SA_RESETHAND | SA_NODEFER, 0);
}

VMGC_API sighandler_t __sysv_signal(int sig, sighandler_t h)
{
    return sysv_signal(sig, h);
}

VMGC_API sighandler_t sigset(int sig, sighandler_t h)
{
    if (slot(sig) < 0)
        return call_next(&next_sigset, sig, h);
    sigset_t one, before;
    sigemptyset(&one);
    sigaddset(&one, sig);
    pthread_sigmask(SIG_BLOCK, NULL, &before);
    int was_held = sigismember(&before, sig);
    struct sigaction old;
    sigaction(sig, NULL, &old);
    if (h == SIG_HOLD) {
        pthread_sigmask(SIG_BLOCK, &one, NULL);
    } else {
        if (set_handler(sig, h, 0, 0) == SIG_ERR)
            return SIG_ERR;
        pthread_sigmask(SIG_UNBLOCK, &one, NULL);
    }
    return was_held ? SIG_HOLD : old.sa_handler;
}

/* trap.c -- fault dispatch and signal hygiene.  Design: doc/design/trap.md.
 *
 * Everything reachable from trap_handler is async-signal-safe: no malloc,
 * no stdio, no lock that code outside the trap path may hold
 * (.req.signal-safe).
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include "dirty.h"
#include "error.h"
#include "forksnap.h"
#include "imageload.h"
#include "prot.h"
#include "sigchain.h"
#include "sys.h"
#include "trap.h"

/* .sol.table: a fixed table read with acquire loads, so the handler finds
 * an arena without a lock.  Synchronization: atomic; writers hold
 * trap_lock. */
static struct arena *trap_arenas[TRAP_MAX_ARENAS];
static pthread_mutex_t trap_lock = PTHREAD_MUTEX_INITIALIZER;
static int trap_installed;                /* Synchronization: trap_lock. */

/* .sol.loop-guard: a fault that resolution does not cure repeats forever;
 * count repeats per thread (initial-exec TLS: no allocation in a handler). */
static __thread const void *trap_last_addr __attribute__((tls_model("initial-exec")));
static __thread unsigned trap_repeats __attribute__((tls_model("initial-exec")));
static __thread const void *trap_fault __attribute__((tls_model("initial-exec")));

const void *trap_fault_address(void)
{
    return trap_fault;
}
#define TRAP_MAX_REPEATS 100000u

struct arena *trap_arena_of(const void *p)
{
    for (int i = 0; i < TRAP_MAX_ARENAS; i++) {
        struct arena *a = __atomic_load_n(&trap_arenas[i], __ATOMIC_ACQUIRE);
        if (a && vm_contains(&a->vm, p))
            return a;
    }
    return NULL;
}

static size_t fmt_hex(char *buf, uintptr_t v)
{
    char tmp[2 + 16];
    size_t n = 0;
    do {
        tmp[n++] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    buf[0] = '0';
    buf[1] = 'x';
    for (size_t i = 0; i < n; i++)
        buf[2 + i] = tmp[n - 1 - i];
    return n + 2;
}

void trap_fatal(const char *msg, const void *addr)
{
    char buf[256];
    size_t len = 0, m = strlen(msg);
    if (m > sizeof buf - 40)
        m = sizeof buf - 40;
    memcpy(buf, "vmgc: fatal: ", 13);
    len = 13;
    memcpy(buf + len, msg, m);
    len += m;
    if (addr) {
        memcpy(buf + len, " (address ", 10);
        len += 10;
        len += fmt_hex(buf + len, (uintptr_t)addr);
        buf[len++] = ')';
    }
    buf[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, buf, len);
    (void)w;
    abort();
}

/* x86-64 reports the access in the page-fault error code; elsewhere assume
 * a write, which is the conservative answer for dirty tracking. */
static int fault_is_write(void *uctx)
{
#if defined(__x86_64__) && defined(REG_ERR)
    const ucontext_t *uc = uctx;
    return (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0;
#else
    (void)uctx;
    return 1;
#endif
}

static int trap_dispatch(int sig, siginfo_t *si, void *uctx)
{
    /* A signal sent with kill() or sigqueue() is not a fault. */
    if (si->si_code <= 0)
        return 0;
    struct arena *a = trap_arena_of(si->si_addr);
    if (!a)
        return 0;
    size_t i = pagetable_index(&a->pt, si->si_addr);
    int handled = 0;
    trap_fault = si->si_addr;
    if (sig == SIGSEGV && imageload_on_fault(a, i))
        handled = 1; /* a restored page not loaded yet (imageload.c) */
    else if (sig == SIGBUS && a->prot == &prot_uffd_backend)
        handled = a->prot->resolve(a, i, 1);
    else if (sig == SIGSEGV &&
             (__atomic_load_n(&a->pt.desc[i].prot, __ATOMIC_ACQUIRE) & PD_VMA_HIDDEN))
        handled = a->prot->resolve(a, i, 1); /* uffd, hidden: the barrier diagnoses (.sol.hide) */
    else if (sig == SIGSEGV) {
        int write = fault_is_write(uctx);
        /* both: a page saved for a fork child is shown again with the
         * protection write tracking wants, read-only if tracked, and the
         * write must then still be recorded (generations.md) */
        int saved = forksnap_on_fault(a, i, write);
        handled = dirty_on_write_fault(a, i, write) || saved;
        if (!handled && a->prot == &prot_mprotect_backend)
            handled = a->prot->resolve(a, i, 1);
        if (!handled)
            handled = forksnap_recently_ended(a, i);
    }
    if (handled) {
        __atomic_fetch_add(&a->n_traps, 1, __ATOMIC_RELAXED);
        if (si->si_addr == trap_last_addr) {
            if (++trap_repeats > TRAP_MAX_REPEATS)
                trap_fatal("a heap fault keeps recurring after vmgc resolved it; the page's "
                           "protection was changed behind vmgc's back",
                           si->si_addr);
        } else {
            trap_last_addr = si->si_addr;
            trap_repeats = 0;
        }
    }
    trap_fault = NULL;
    return handled;
}

static void trap_handler(int sig, siginfo_t *si, void *uctx)
{
    int saved_errno = errno; /* .req.errno */
    if (!trap_dispatch(sig, si, uctx))
        sigchain_deliver(sig, si, uctx); /* .req.chain */
    errno = saved_errno;
}

/* .req.mask: async signals are blocked while we handle a fault, so a
 * SIGPROF (or the collector's stop signal) never lands in the middle of a
 * resolution; they are delivered when the handler returns.  Synchronous
 * fault signals stay open (SA_NODEFER), so a fault inside a callback is
 * dispatched rather than killing the process. */
static void trap_fill_mask(sigset_t *set)
{
    sigfillset(set);
    sigdelset(set, SIGSEGV);
    sigdelset(set, SIGBUS);
    sigdelset(set, SIGILL);
    sigdelset(set, SIGFPE);
    sigdelset(set, SIGTRAP);
    sigdelset(set, SIGABRT);
}

static vmgc_status trap_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = trap_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK | SA_NODEFER;
    trap_fill_mask(&sa.sa_mask);
    /* .sol.sigchain: the actions in force become the program's, and the
     * program's later calls for these signals are recorded, not applied */
    vmgc_status st = sigchain_install(SIGSEGV, &sa);
    return st == VMGC_OK ? sigchain_install(SIGBUS, &sa) : st;
}

vmgc_status trap_register(struct arena *a)
{
    vmgc_status st = VMGC_OK;
    pthread_mutex_lock(&trap_lock);
    if (!trap_installed) {
        st = trap_install();
        trap_installed = st == VMGC_OK;
    }
    int slot = -1;
    for (int i = 0; st == VMGC_OK && i < TRAP_MAX_ARENAS; i++)
        if (!trap_arenas[i]) {
            slot = i;
            break;
        }
    if (st == VMGC_OK && slot < 0)
        st = error_set(VMGC_ENOMEM, "too many heaps: at most %d may exist at once",
                       TRAP_MAX_ARENAS);
    if (st == VMGC_OK) {
        a->slot = slot;
        __atomic_store_n(&trap_arenas[slot], a, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&trap_lock);
    return st;
}

void trap_unregister(struct arena *a)
{
    pthread_mutex_lock(&trap_lock);
    if (a->slot >= 0 && trap_arenas[a->slot] == a)
        __atomic_store_n(&trap_arenas[a->slot], NULL, __ATOMIC_RELEASE);
    a->slot = -1;
    pthread_mutex_unlock(&trap_lock);
}

void trap_fork_prepare(void)
{
    pthread_mutex_lock(&trap_lock);
}

void trap_fork_parent(void)
{
    pthread_mutex_unlock(&trap_lock);
}

void trap_fork_child(void)
{
    pthread_mutex_init(&trap_lock, NULL);
}

vmgc_status trap_handlers_intact(void)
{
    static const int sigs[2] = {SIGSEGV, SIGBUS};
    for (int k = 0; k < 2; k++) {
        struct sigaction cur;
        if (sys.sigaction(sigs[k], NULL, &cur) != 0)
            return error_sys("reading the fault handler (sigaction)", errno);
        if (!(cur.sa_flags & SA_SIGINFO) || cur.sa_sigaction != trap_handler)
            return error_set(VMGC_EHANDLER,
                             "the %s handler that vmgc installed was replaced behind the C "
                             "library (a raw rt_sigaction system call, or a sigaction that did "
                             "not reach libvmgc's); vmgc cannot resolve heap traps any more. "
                             "Install handlers with sigaction() or signal(): vmgc keeps its own "
                             "first and passes every other fault to yours",
                             sigs[k] == SIGSEGV ? "SIGSEGV" : "SIGBUS");
    }
    return VMGC_OK;
}

void trap_block_async(sigset_t *saved)
{
    sigset_t set;
    trap_fill_mask(&set);
    pthread_sigmask(SIG_BLOCK, &set, saved);
}

void trap_restore_mask(const sigset_t *saved)
{
    pthread_sigmask(SIG_SETMASK, saved, NULL);
}

VMGC_API vmgc_status vmgc_prepare_io(const void *addr, size_t len)
{
    if (len == 0)
        return VMGC_OK;
    if (!addr)
        return error_set(VMGC_EINVAL, "vmgc_prepare_io: addr is NULL");
    uintptr_t lo = (uintptr_t)addr & ~(uintptr_t)VM_PAGE_MASK;
    uintptr_t hi = ((uintptr_t)addr + len + VM_PAGE_MASK) & ~(uintptr_t)VM_PAGE_MASK;
    if (hi < lo)
        return error_set(VMGC_EINVAL, "vmgc_prepare_io: range %p+%zu wraps around", addr, len);
    for (int s = 0; s < TRAP_MAX_ARENAS; s++) {
        struct arena *a = __atomic_load_n(&trap_arenas[s], __ATOMIC_ACQUIRE);
        if (!a)
            continue;
        uintptr_t b = (uintptr_t)a->vm.base, e = b + a->vm.size;
        uintptr_t from = lo > b ? lo : b, to = hi < e ? hi : e;
        if (from >= to)
            continue;
        imageload_ready(a, (from - b) >> VM_PAGE_SHIFT, (to - from) >> VM_PAGE_SHIFT);
        vmgc_status st = prot_ready(a, (from - b) >> VM_PAGE_SHIFT, (to - from) >> VM_PAGE_SHIFT);
        if (st != VMGC_OK)
            return st;
    }
    return VMGC_OK;
}

/* threads.c -- attached threads: attach/detach, blocking, and stopping the
 * world by signal.  Design: doc/design/threads.md.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "internal.h"
#include "meta.h"
#include "stop.h"
#include "trap.h"
#include "lock.h"

/* The calling thread's handle.  initial-exec: read in signal handlers. */
__thread struct vmgc_thread *gc_tls_thread __attribute__((tls_model("initial-exec")));

/* .sol.stop-handler: async-signal-safe (src/stop.c saves errno).  The
 * interrupted registers are in the signal frame on this thread's stack,
 * below which nothing is live, so scanning from here to the stack base
 * covers registers and stack. */
static void stop_here(void)
{
    struct vmgc_thread *t = gc_tls_thread;
    if (!t || t->sig != THREAD_SIG)
        return;
    struct vmgc_heap *h = t->heap;
    volatile char here = 0;
    int blocked = __atomic_load_n(&t->state, __ATOMIC_ACQUIRE) == TS_BLOCKED;
    /* .sol.stop-altstack: on an alternate signal stack (inside a fault
     * handler with SA_ONSTACK, or a siglongjmp out of one that has just
     * unblocked this signal), &here says nothing about the thread's stack:
     * scanning from it to the stack base would read unrelated memory.  Not
     * acknowledged here; the stopper signals again (.sol.resend), and the
     * thread answers once it is back on its stack. */
    if (!blocked && ((char *)&here < t->stack_lo || (char *)&here >= t->stack_base))
        return;
    /* .sol.resend: a second signal for a stop may arrive after this thread
     * answered it and the world was released (an even generation): nothing
     * to do then.  Answering it would post the semaphore with no stop in
     * progress, and park the thread until the next stop begins: hangs of a
     * workload whose only allocating threads were parked so, and a next
     * stop that counts a stale answer (6 in 8346 test_sysfail runs under
     * load, before this check). */
    uint32_t gen = __atomic_load_n(&h->world_stopped, __ATOMIC_ACQUIRE);
    if (!(gen & 1))
        return;
    /* .sol.stop-blocked: a thread signalled while running can take the
     * signal after it entered the blocked state (a lock wait).  Its saved
     * registers and stack pointer describe it completely then (nothing
     * below that sp holds heap pointers), and they must stay as they are
     * for the stops that skip it later. */
    if (!blocked)
        __atomic_store_n(&t->stack_sp, (char *)&here, __ATOMIC_RELAXED);
    /* .sol.stop-generation: wait for the end of *this* stop.  Waiting for
     * "not stopped" would let a thread still leaving one stop sleep through
     * the next one without acknowledging it.  Each stop is answered once,
     * however many signals it sent. */
    if (__atomic_exchange_n(&t->stop_acked, gen, __ATOMIC_ACQ_REL) != gen)
        sem_post(&h->stop_ack);
    while (__atomic_load_n(&h->world_stopped, __ATOMIC_ACQUIRE) == gen)
        stop_park(&h->world_stopped, gen);
}

static void thread_key_destructor(void *p)
{
    /* .sol.exit: a thread that exits attached is detached here */
    struct vmgc_thread *t = p;
    if (t && t->sig == THREAD_SIG) {
        gc_tls_thread = t; /* TLS may already be torn down in this order */
        vmgc_thread_detach(t);
    }
}

vmgc_status threads_init(struct vmgc_heap *h)
{
    if (sem_init(&h->stop_ack, 0, 0) != 0)
        return error_sys("sem_init", errno);
    if (pthread_key_create(&h->thread_key, thread_key_destructor) != 0)
        return error_set(VMGC_ENOMEM, "no pthread key left for vmgc's thread registry");
    return stop_install(stop_here);
}

void threads_fini(struct vmgc_heap *h)
{
    pthread_key_delete(h->thread_key);
    sem_destroy(&h->stop_ack);
}

struct vmgc_thread *threads_self(struct vmgc_heap *h)
{
    struct vmgc_thread *t = gc_tls_thread;
    return t && t->heap == h ? t : NULL;
}

VMGC_API vmgc_thread *vmgc_thread_current(vmgc_heap *h)
{
    return h ? threads_self(h) : NULL;
}

VMGC_API vmgc_status vmgc_thread_attach(vmgc_heap *h, vmgc_thread **out)
{
    if (!h || h->sig != HEAP_SIG)
        return error_set(VMGC_EINVAL, "vmgc_thread_attach: not a live heap (NULL or destroyed)");
    if (!out)
        return error_set(VMGC_EINVAL, "vmgc_thread_attach: out is NULL");
    if (gc_tls_thread) {
        if (gc_tls_thread->heap != h)
            return error_set(VMGC_ESTATE, "this thread is attached to another heap already");
        *out = gc_tls_thread;
        return VMGC_OK;
    }
    /* .sol.dead-handles: a detached handle is kept (and reused here), so
     * using it afterwards is caught by its signature, not a use-after-free */
    lock_take(&h->threads_lock);
    struct vmgc_thread *t = h->dead_threads;
    if (t)
        h->dead_threads = t->next;
    pthread_mutex_unlock(&h->threads_lock);
    if (t)
        memset(t, 0, sizeof *t);
    else if (!(t = meta_calloc(1, sizeof *t)))
        return VMGC_ENOMEM;
    pthread_attr_t attr;
    void *addr;
    size_t size;
    if (pthread_getattr_np(pthread_self(), &attr) != 0 ||
        pthread_attr_getstack(&attr, &addr, &size) != 0) {
        meta_free(t);
        return error_set(VMGC_ESYSTEM, "cannot find this thread's stack (pthread_getattr_np)");
    }
    pthread_attr_destroy(&attr);
    t->stack_base = (char *)addr + size;
    t->stack_lo = addr;
    t->sig = THREAD_SIG;
    t->heap = h;
    t->pthread = pthread_self();
    t->tid = stop_gettid();
    t->tlab_page = PD_NONE;
    /* .sol.attach-order: the handle is this thread's before it is in the
     * list, so a stop signal that finds it listed finds it in TLS too. */
    gc_tls_thread = t;
    pthread_setspecific(h->thread_key, t);
    lock_take(&h->threads_lock);
    t->next = h->threads;
    h->threads = t;
    pthread_mutex_unlock(&h->threads_lock);
    *out = t;
    return VMGC_OK;
}

void threads_retire_tlab(struct vmgc_heap *h, struct vmgc_thread *t)
{
    if (t->tlab_page != PD_NONE) {
        char *page = pagetable_page_addr(&h->arena->pt, t->tlab_page);
        __atomic_store_n(&h->arena->pt.desc[t->tlab_page].gc_word[1],
                         (uint32_t)(t->buf.cursor - page), __ATOMIC_RELEASE);
    }
}

VMGC_API vmgc_status vmgc_thread_detach(vmgc_thread *t)
{
    if (!t || t->sig != THREAD_SIG)
        return error_set(VMGC_EINVAL, "vmgc_thread_detach: not an attached thread handle");
    if (t != gc_tls_thread)
        return error_set(VMGC_ESTATE, "vmgc_thread_detach: a thread may only detach itself");
    struct vmgc_heap *h = t->heap;
    lock_take(&h->threads_lock);
    threads_retire_tlab(h, t);
    copier_retire(h, &t->copier);
    struct vmgc_thread **pp = &h->threads;
    while (*pp && *pp != t)
        pp = &(*pp)->next;
    if (*pp)
        *pp = t->next;
    t->sig = THREAD_DEAD;
    t->buf.cursor = t->buf.limit = NULL; /* the inline fast path goes slow, and fails */
    t->next = h->dead_threads;
    h->dead_threads = t;
    pthread_mutex_unlock(&h->threads_lock);
    pthread_setspecific(h->thread_key, NULL);
    gc_tls_thread = NULL;
    return VMGC_OK;
}

/* .sol.blocking: a blocked thread saves its registers into its handle and
 * its stack pointer, and the collector scans both without stopping it.  On
 * leaving, it waits out a flip in progress.  noinline: the saved stack
 * pointer must lie below every frame of the caller. */
static __attribute__((noinline)) void enter_blocked(struct vmgc_thread *t)
{
    getcontext(&t->regs);
    volatile char here = 0;
    __atomic_store_n(&t->stack_sp, (char *)&here, __ATOMIC_RELAXED);
    __atomic_store_n(&t->state, TS_BLOCKED, __ATOMIC_SEQ_CST);
}

static void leave_blocked(struct vmgc_thread *t)
{
    struct vmgc_heap *h = t->heap;
    __atomic_store_n(&t->state, TS_RUNNING, __ATOMIC_SEQ_CST);
    for (;;) {
        uint32_t gen = __atomic_load_n(&h->world_stopped, __ATOMIC_SEQ_CST);
        if (!(gen & 1))
            break;
        stop_park(&h->world_stopped, gen);
    }
}

VMGC_API void vmgc_blocking_enter(vmgc_thread *t)
{
    if (!t || t->sig != THREAD_SIG)
        gc_fatal("vmgc_blocking_enter: not an attached thread handle");
    enter_blocked(t);
}

VMGC_API void vmgc_blocking_leave(vmgc_thread *t)
{
    if (!t || t->sig != THREAD_SIG)
        gc_fatal("vmgc_blocking_leave: not an attached thread handle");
    leave_blocked(t);
}

/* .sol.lock-blocked: a mutator that has to wait for pages_lock is most
 * often waiting for the flip itself, which holds it across the stop.
 * Stopping such a thread only wakes it for nothing, and a woken thread
 * queued behind another task on a busy CPU acknowledged 0.7-2.5 ms late
 * (traced with perf sched events: the other CPU idle, no migration).  So
 * it waits as a blocked thread, which the stop skips.  Leaving waits out
 * a stop in progress; with pages_lock held none can be (every stop holds
 * it), so the wait never holds the lock against a stopper. */
void threads_lock_blocked(struct vmgc_thread *t, pthread_mutex_t *m)
{
    if (pthread_mutex_trylock(m) == 0)
        return;
    enter_blocked(t);
    lock_take(m);
    leave_blocked(t);
}

#define STOP_SPIN_NS 50000u

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* .sol.pull: a signalled thread that has not answered is most often
 * queued behind another task on the other CPU, while this one is about to
 * go idle: the kernel did not move it (traced with perf sched events:
 * 0.7-2.5 ms behind the agent or perf itself, this CPU idle meanwhile).
 * So it is moved here; threads_start_world gives it its mask back. */
static void pull_laggards(struct vmgc_heap *h, struct vmgc_thread *self, uint32_t gen)
{
    for (struct vmgc_thread *t = h->threads; t; t = t->next)
        if (t != self && t->stop_sent == gen &&
            __atomic_load_n(&t->stop_acked, __ATOMIC_ACQUIRE) != gen &&
            stop_pull_here(t->tid, &t->pull))
            __atomic_fetch_add(&h->st_stop_pulls, 1, __ATOMIC_RELAXED);
}

/* .sol.resend: a stop signal can be lost: the kernel drops it when it
 * cannot push its frame (a thread at the end of its stack; the SIGSEGV
 * that replaces it goes to the program's stack-overflow handler, which
 * jumps out).  A thread still silent after this long is signalled again;
 * the handler acknowledges each stop once. */
#define STOP_RESEND_NS 20000000

static void resend_laggards(struct vmgc_heap *h, struct vmgc_thread *self, uint32_t gen)
{
    for (struct vmgc_thread *t = h->threads; t; t = t->next)
        if (t != self && t->stop_sent == gen &&
            __atomic_load_n(&t->stop_acked, __ATOMIC_ACQUIRE) != gen)
            stop_send(t->pthread);
}

/* Stop every attached thread but self.  Takes threads_lock until
 * threads_start_world.  Callers must not hold a lock a mutator may hold. */
void threads_stop_world(struct vmgc_heap *h, struct vmgc_thread *self)
{
    lock_take(&h->threads_lock);
    uint32_t gen = __atomic_add_fetch(&h->world_stopped, 1, __ATOMIC_SEQ_CST); /* odd: stopped */
    unsigned n = 0;
    for (struct vmgc_thread *t = h->threads; t; t = t->next) {
        if (t == self || __atomic_load_n(&t->state, __ATOMIC_SEQ_CST) == TS_BLOCKED)
            continue;
        int err = stop_send(t->pthread);
        if (err) {
            error_sys("sending the stop signal to an attached thread (pthread_kill)", err);
            gc_fatal_status("stopping the world failed (a thread that exits must detach "
                            "first)");
        }
        t->stop_sent = gen;
        n++;
    }
    /* .sol.stop-spin: the acknowledgements usually come within tens of
     * microseconds; sleeping for them costs a wake-up of this CPU (~30-60
     * us on this VM) inside the pause.  So poll first, for a bounded time
     * (a thread that has not run yet may need this CPU), then sleep. */
    uint64_t spin_until = gc_now_ns() + STOP_SPIN_NS;
    unsigned acked = 0;
    while (acked < n) {
        if (sem_trywait(&h->stop_ack) == 0)
            acked++;
        else if (gc_now_ns() < spin_until)
            cpu_relax();
        else
            break;
    }
    if (acked < n)
        pull_laggards(h, self, gen);
    while (acked < n) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += STOP_RESEND_NS;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        if (sem_timedwait(&h->stop_ack, &until) == 0)
            acked++;
        else if (errno == ETIMEDOUT)
            resend_laggards(h, self, gen);
    }
}

/* Returns when the world was released.  .sol.pause-end: the stopped
 * threads may run from the store on; the futex wake that follows hands the
 * CPU to the woken threads, and this thread then got it back 2.5-4 ms later
 * in some flips (pause benchmark, 3 mutators on 2 cores) while the
 * mutators ran.  So the pause ends at the store, not after the wake. */
uint64_t threads_start_world(struct vmgc_heap *h)
{
    __atomic_fetch_add(&h->world_stopped, 1, __ATOMIC_SEQ_CST); /* even: running */
    uint64_t released = gc_now_ns();
    stop_wake_all(&h->world_stopped);
    for (struct vmgc_thread *t = h->threads; t; t = t->next)
        stop_pull_undo(t->tid, &t->pull);
    pthread_mutex_unlock(&h->threads_lock);
    return released;
}

/* fork.c -- heaps across fork(): the collector's side of forksnap.
 *
 * pthread_atfork handlers, for every live heap: before the fork, wait out a
 * running collection (and a previous fork's copy), take every lock the
 * child will need in a consistent state, stop the attached threads and
 * let the VM layer write-protect the heap (forksnap_prepare); after it,
 * the parent lets the world go and its collector thread drains the copy in
 * the background; the child, single-threaded, re-initializes the locks,
 * keeps the forking thread as its only attached thread, and starts its
 * collector threads on its first call that needs them.
 * Design: doc/design/fork.md.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "forksnap.h"
#include "internal.h"
#include "lock.h"
#include "trap.h"

#define FORK_MAX_HEAPS TRAP_MAX_ARENAS

/* Synchronization: fork_lock, which the prepare handler holds across the
 * fork, so no heap is created or destroyed half-way through it. */
static pthread_mutex_t fork_lock = PTHREAD_MUTEX_INITIALIZER;
static struct vmgc_heap *fork_heaps[FORK_MAX_HEAPS];
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
static int fork_atfork_failed;

static void fork_prepare_heap(struct vmgc_heap *h)
{
    struct vmgc_thread *self = threads_self(h);
    /* .sol.fork-wait: a collection in progress, or a copy owed to an
     * earlier child, is waited out; meanwhile this thread counts as
     * blocked, so a flip does not wait for it */
    h->fork_self_was_blocked = self && __atomic_load_n(&self->state, __ATOMIC_ACQUIRE) == TS_BLOCKED;
    if (self && !h->fork_self_was_blocked) /* fork() inside a blocking section stays in it */
        vmgc_blocking_enter(self);
    lock_take(&h->cycle_lock);
    /* .sol.fork-restore: a restored heap still loading is loaded first; the
     * child's copy of the heap is made from the memfd */
    restore_settle(h);
    if (!forksnap_broken(h->arena))
        forksnap_settle(h->arena);
    /* .sol.fork-locks: the flip's order, then the pool; a thread stopped
     * inside one of these critical sections would leave the child a
     * half-updated list */
    lock_take(&h->trigger_lock);
    lock_take(&h->types_lock);
    lock_take(&h->roots_lock);
    lock_take(&h->pages_lock);
    pool_lock(&h->arena->pool);
    h->fork_pause_start = gc_now_ns();
    threads_stop_world(h, self);
    for (struct vmgc_thread *t = h->threads; t; t = t->next)
        threads_retire_tlab(h, t);
    /* .sol.keep-io: pages the kernel may be writing into (a blocked read
     * in a vmgc_io_begin bracket) are saved now, not write-protected */
    forksnap_prepare(h->arena, h->io_keep, io_keep_runs(h, h->io_keep, GC_IO_KEEP));
}

static void fork_parent_heap(struct vmgc_heap *h)
{
    struct vmgc_thread *self = threads_self(h);
    forksnap_parent(h->arena);
    uint64_t pause = threads_start_world(h) - h->fork_pause_start;
    pool_unlock(&h->arena->pool);
    pthread_mutex_unlock(&h->pages_lock);
    pthread_mutex_unlock(&h->roots_lock);
    pthread_mutex_unlock(&h->types_lock);
    __atomic_fetch_add(&h->st_forks, 1, __ATOMIC_RELAXED);
    if (pause > h->st_fork_pause_max)
        h->st_fork_pause_max = pause;
    /* the collector thread drains the copy (collector.c) */
    pthread_cond_signal(&h->trigger_cond);
    pthread_mutex_unlock(&h->trigger_lock);
    pthread_mutex_unlock(&h->cycle_lock);
    if (self && !h->fork_self_was_blocked)
        vmgc_blocking_leave(self);
}

/* .sol.fork-child: only the forking thread exists here.  Every lock is
 * held by it (or by a thread that is gone) and every condition variable
 * may count waiters that are gone: all are made new. */
static void fork_child_heap(struct vmgc_heap *h)
{
    struct vmgc_thread *self = threads_self(h);
    heap_init_locks(h);
    sem_init(&h->stop_ack, 0, 0);
    pool_fork_child(&h->arena->pool);
    if (h->world_stopped & 1)
        h->world_stopped++;
    /* the other threads' handles stay readable, as detached ones */
    struct vmgc_thread *t = h->threads, *next;
    h->threads = NULL;
    for (; t; t = next) {
        next = t->next;
        if (t == self) {
            t->next = h->threads;
            h->threads = t;
            continue;
        }
        t->sig = THREAD_DEAD;
        t->next = h->dead_threads;
        h->dead_threads = t;
    }
    if (self) {
        self->state = h->fork_self_was_blocked ? TS_BLOCKED : TS_RUNNING;
        self->tid = stop_gettid();
        self->pull.pulled = 0;
    }
    h->cycles_thread_started = 0;
    h->collector_threads_running = 0;
    h->nhelpers = 0;
    h->helpers_draining = 0;
    h->drain_is_open = 0;
    h->shutting_down = 0;
    h->cycles_requested = h->cycles_done;
    h->cycles_started = h->cycles_done; /* equal already: fork_prepare holds cycle_lock */
    h->collector_restart = !h->config.no_background;
    forksnap_child(h->arena);
    if (self) /* its open brackets: the kernel may use them at once (completes the copy) */
        io_ready_thread(self);
}

static void fork_prepare(void)
{
    lock_take(&fork_lock);
    trap_fork_prepare();
    for (int i = 0; i < FORK_MAX_HEAPS; i++)
        if (fork_heaps[i])
            fork_prepare_heap(fork_heaps[i]);
}

static void fork_parent(void)
{
    for (int i = FORK_MAX_HEAPS - 1; i >= 0; i--)
        if (fork_heaps[i])
            fork_parent_heap(fork_heaps[i]);
    trap_fork_parent();
    pthread_mutex_unlock(&fork_lock);
}

static void fork_child(void)
{
    pthread_mutex_init(&fork_lock, NULL);
    trap_fork_child();
    for (int i = 0; i < FORK_MAX_HEAPS; i++)
        if (fork_heaps[i])
            fork_child_heap(fork_heaps[i]);
}

static void fork_install(void)
{
    fork_atfork_failed = pthread_atfork(fork_prepare, fork_parent, fork_child) != 0;
}

vmgc_status fork_register(struct vmgc_heap *h)
{
    pthread_once(&fork_once, fork_install);
    if (fork_atfork_failed)
        return error_set(VMGC_ENOMEM, "registering vmgc's fork handlers (pthread_atfork) failed: "
                                      "out of memory");
    int slot = -1;
    lock_take(&fork_lock);
    for (int i = 0; i < FORK_MAX_HEAPS; i++)
        if (!fork_heaps[i]) {
            fork_heaps[i] = h;
            slot = i;
            break;
        }
    pthread_mutex_unlock(&fork_lock);
    if (slot < 0)
        return error_set(VMGC_ENOMEM, "too many heaps: at most %d may exist at once",
                         FORK_MAX_HEAPS);
    return VMGC_OK;
}

void fork_unregister(struct vmgc_heap *h)
{
    lock_take(&fork_lock);
    for (int i = 0; i < FORK_MAX_HEAPS; i++)
        if (fork_heaps[i] == h)
            fork_heaps[i] = NULL;
    pthread_mutex_unlock(&fork_lock);
}

/* In a child: complete the copy before the collector or the pool touches
 * the heap, and start the collector threads. */
void fork_settle_slow(struct vmgc_heap *h)
{
    if (forksnap_child_pending(h->arena))
        forksnap_settle(h->arena);
    if (!__atomic_load_n(&h->collector_restart, __ATOMIC_ACQUIRE))
        return;
    lock_take(&h->cycle_lock);
    if (h->collector_restart) {
        if (collector_start(h) != VMGC_OK)
            gc_fatal_status("starting the collector threads in a forked child failed");
        __atomic_store_n(&h->collector_restart, 0, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&h->cycle_lock);
}

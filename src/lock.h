/* lock.h -- taking the mutexes that a thread may wait on while the
 * collector stops the world.
 *
 * .sol.tsan-lock: ThreadSanitizer defers asynchronous signals to its own
 * safe points, and a thread blocked in pthread_mutex_lock never reaches one:
 * it would never acknowledge a stop signal, and the flip would wait forever.
 * Under TSan these locks are taken by spinning on trylock with an atomic
 * load (a point where TSan delivers pending signals).  Elsewhere a real
 * signal interrupts the futex wait, and this is pthread_mutex_lock.
 * Design: doc/design/threads.md.
 */
#ifndef VMGC_LOCK_H
#define VMGC_LOCK_H

#include <pthread.h>
#include <sched.h>

#if defined(__SANITIZE_THREAD__)
extern int lock_tsan_tick;
static inline void lock_take(pthread_mutex_t *m)
{
    while (pthread_mutex_trylock(m) != 0) {
        (void)__atomic_load_n(&lock_tsan_tick, __ATOMIC_ACQUIRE);
        sched_yield();
    }
}
#else
static inline void lock_take(pthread_mutex_t *m)
{
    pthread_mutex_lock(m);
}
#endif

#endif

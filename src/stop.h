/* stop.h -- the OS side of stopping threads: a signal that interrupts a
 * thread wherever it is, and a futex to park it on.  The collector's policy
 * (who is stopped, when, what is scanned) is in gc/threads.c.
 * Design: doc/design/threads.md.
 */
#ifndef VMGC_STOP_H
#define VMGC_STOP_H

#include <pthread.h>
#include <sched.h>
#include <sys/types.h>
#include <stdint.h>

#include "vmgc.h"

/* The stop signal (a real-time-free, rarely used one). */
#define STOP_SIGNAL SIGPWR

/* Install fn as the handler of the stop signal (SIGPWR).  fn runs with
 * every async signal blocked and errno preserved around it; it must be
 * async-signal-safe. */
vmgc_status stop_install(void (*fn)(void));

/* Interrupt thread with the stop signal (a full queue is retried).
 * Returns 0 or an errno value. */
int stop_send(pthread_t thread);

/* The calling thread's kernel id, for stop_pull_here. */
pid_t stop_gettid(void);

/* .sol.pull: move thread tid onto the calling thread's CPU (its affinity
 * narrowed to that one CPU), remembering its mask in *p; returns 1 when
 * moved.  Not where the thread may not run, nor where it may only run
 * there anyway.  stop_pull_undo restores the mask unless someone set
 * another one meanwhile. */
struct stop_pull {
    cpu_set_t saved;
    int cpu;
    int pulled;
};
int stop_pull_here(pid_t tid, struct stop_pull *p);
void stop_pull_undo(pid_t tid, struct stop_pull *p);

/* Sleep while *word == value (FUTEX_WAIT); wake every sleeper on word.
 * Async-signal-safe. */
void stop_park(uint32_t *word, uint32_t value);
void stop_wake_all(uint32_t *word);

#endif

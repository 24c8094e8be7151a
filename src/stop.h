/* stop.h -- the OS side of stopping threads: a signal that interrupts a
 * thread wherever it is, and a futex to park it on.  The collector's policy
 * (who is stopped, when, what is scanned) is in gc/threads.c.
 * Design: doc/design/threads.md.
 */
#ifndef VMGC_STOP_H
#define VMGC_STOP_H

#include <pthread.h>
#include <stdint.h>

#include "vmgc.h"

/* Install fn as the handler of the stop signal (SIGPWR).  fn runs with
 * every async signal blocked and errno preserved around it; it must be
 * async-signal-safe. */
vmgc_status stop_install(void (*fn)(void));

/* Interrupt thread with the stop signal.  Returns 0 or an errno value. */
int stop_send(pthread_t thread);

/* Sleep while *word == value (FUTEX_WAIT); wake every sleeper on word.
 * Async-signal-safe. */
void stop_park(uint32_t *word, uint32_t value);
void stop_wake_all(uint32_t *word);

#endif

/* error.h -- status codes with a per-thread message.
 *
 * Functions that can fail return a vmgc_status and record what happened and
 * what to do in a thread-local buffer (design: doc/design/error.md).
 * Not async-signal-safe: never called from the trap path.
 */
#ifndef VMGC_ERROR_H
#define VMGC_ERROR_H

#include "vmgc.h"

#if defined(__GNUC__)
#define VMGC_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define VMGC_PRINTF(f, a)
#endif

/* Record a failure for this thread and return code, so a caller can write
 *   return error_set(VMGC_EINVAL, "...", ...);                             */
vmgc_status error_set(vmgc_status code, const char *fmt, ...) VMGC_PRINTF(2, 3);

/* Record a failed system call: message gets strerror(errno) appended.      */
vmgc_status error_sys(const char *what, int err);
/* Set a message saved earlier from vmgc_last_error() (another thread's, or
 * before calls that overwrote it) as this thread's, prefix not doubled. */
vmgc_status error_restore(vmgc_status code, const char *message);

/* Clear this thread's message. */
void error_clear(void);

#endif

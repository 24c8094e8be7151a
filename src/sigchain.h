/* sigchain.h -- vmgc's fault handlers stay first, whatever the program
 * installs later.
 *
 * libvmgc defines sigaction() and the signal() family.  Once vmgc owns a
 * signal (SIGSEGV, SIGBUS: sigchain_install), a program's or a library's
 * call for it does not reach the kernel: its action is recorded and
 * returned as the "old" action, and vmgc's handler passes every fault that
 * is not vmgc's to it (sigchain_deliver) with the semantics the kernel
 * would have given it: SA_SIGINFO or not, its mask, SA_NODEFER,
 * SA_RESETHAND, SIG_IGN and SIG_DFL.  Every other signal, and every call
 * before vmgc owns one, goes to the C library unchanged.  The idea of
 * Android's sigchain and the JVM's libjsig.  Design: doc/design/sigchain.md.
 */
#ifndef VMGC_SIGCHAIN_H
#define VMGC_SIGCHAIN_H

#include <signal.h>

#include "vmgc.h"

/* Install ours for sig (SIGSEGV or SIGBUS); the action in force becomes
 * the program's, to chain to.  Idempotent.  Not async-signal-safe. */
vmgc_status sigchain_install(int sig, const struct sigaction *ours);

/* The C library's sigaction, bypassing the interposition (reading the
 * kernel's real action, or setting one for a signal vmgc does not own). */
int sigchain_real_sigaction(int sig, const struct sigaction *act, struct sigaction *old);

/* The sigaction vmgc installs its own handlers with (sys.sigaction): the
 * C library's, but under ThreadSanitizer its interceptor for a signal vmgc
 * does not chain (.sol.async-under-tsan). */
int sigchain_own_sigaction(int sig, const struct sigaction *act, struct sigaction *old);

/* Pass a signal that vmgc's handler did not handle to the program's action
 * for it.  Async-signal-safe. */
void sigchain_deliver(int sig, siginfo_t *si, void *uctx);

#endif

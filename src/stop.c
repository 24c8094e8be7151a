/* stop.c -- stop signal and futex parking.  Design: doc/design/threads.md. */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "stop.h"
#include "sys.h"


static void (*stop_fn)(void); /* Synchronization: set before any thread is signalled. */

static void stop_handler(int sig, siginfo_t *si, void *uc)
{
    (void)sig, (void)si, (void)uc;
    int saved = errno;
    if (stop_fn)
        stop_fn();
    errno = saved;
}

vmgc_status stop_install(void (*fn)(void))
{
    stop_fn = fn;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = stop_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigfillset(&sa.sa_mask);
    sigdelset(&sa.sa_mask, SIGSEGV); /* heap traps stay deliverable */
    sigdelset(&sa.sa_mask, SIGBUS);
    if (sys.sigaction(STOP_SIGNAL, &sa, NULL) != 0)
        return error_sys("installing the thread-stop handler (sigaction SIGPWR)", errno);
    return VMGC_OK;
}

/* .sol.send-retry: EAGAIN (the signal queue is full for a moment) is
 * tried again; a thread that cannot be signalled is a fatal error for the
 * caller, never one left running through a stop. */
int stop_send(pthread_t thread)
{
    int err;
    for (int k = 0; (err = sys.pthread_kill(thread, STOP_SIGNAL)) == EAGAIN && k < 1000; k++)
        sched_yield();
    return err;
}

pid_t stop_gettid(void)
{
    return (pid_t)syscall(SYS_gettid);
}

int stop_pull_here(pid_t tid, struct stop_pull *p)
{
    p->pulled = 0;
    int cpu = sched_getcpu();
    if (cpu < 0 || cpu >= CPU_SETSIZE || sys.sched_getaffinity(tid, sizeof p->saved, &p->saved) != 0)
        return 0;
    if (!CPU_ISSET(cpu, &p->saved) || CPU_COUNT(&p->saved) == 1)
        return 0;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    if (sys.sched_setaffinity(tid, sizeof one, &one) != 0)
        return 0;
    p->cpu = cpu;
    p->pulled = 1;
    return 1;
}

void stop_pull_undo(pid_t tid, struct stop_pull *p)
{
    if (!p->pulled)
        return;
    p->pulled = 0;
    cpu_set_t now;
    if (sys.sched_getaffinity(tid, sizeof now, &now) == 0 && CPU_COUNT(&now) == 1 &&
        CPU_ISSET(p->cpu, &now))
        (void)sys.sched_setaffinity(tid, sizeof p->saved, &p->saved);
}

void stop_park(uint32_t *word, uint32_t value)
{
#if defined(__SANITIZE_THREAD__)
    /* .sol.tsan-park: ThreadSanitizer runs a signal's handler only at its
     * own safe points (interceptors, atomics), and a futex wait that the
     * kernel restarts after the signal is none: a thread parked here until
     * the end of a stop (vmgc_blocking_leave) that was signalled for that
     * stop would never acknowledge it (a hang found in test_stress).  So
     * it wakes every millisecond and its caller's atomic load lets TSan
     * run the handler. */
    struct timespec ms = {0, 1000000};
    sys.futex(word, FUTEX_WAIT_PRIVATE, value, &ms);
#else
    sys.futex(word, FUTEX_WAIT_PRIVATE, value, NULL);
#endif
}

void stop_wake_all(uint32_t *word)
{
    /* a wake that failed would leave every stopped thread parked */
    while (sys.futex(word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL) < 0 &&
           (errno == EINTR || errno == EAGAIN))
        ;
}

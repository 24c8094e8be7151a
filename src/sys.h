/* sys.h -- the system calls of vmgc, through replaceable pointers.
 *
 * Every OS primitive vmgc uses goes through this table (SQLite's VFS idea),
 * so a test can make any of them fail (mprotect returning ENOMEM, the Nth
 * mmap failing) without a special build: replace an entry, or count every
 * call and fail the Nth of one kind with a chosen errno (sys_inject_*).
 * The pointers are read on the trap path, so replacements must be
 * async-signal-safe.  Design: doc/design/sys.md.
 */
#ifndef VMGC_SYS_H
#define VMGC_SYS_H

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

struct sys_table {
    void *(*mmap)(void *addr, size_t len, int prot, int flags, int fd, off_t off);
    int (*munmap)(void *addr, size_t len);
    int (*mprotect)(void *addr, size_t len, int prot);
    int (*madvise)(void *addr, size_t len, int advice);
    int (*fallocate)(int fd, int mode, off_t off, off_t len);
    int (*ftruncate)(int fd, off_t len);
    int (*memfd_create)(const char *name, unsigned int flags);
    int (*ioctl)(int fd, unsigned long request, void *arg);
    int (*close)(int fd);
    int (*fstat)(int fd, struct stat *st);
    long (*userfaultfd)(int flags);
    int (*open)(const char *path, int flags, ...);
    ssize_t (*read)(int fd, void *buf, size_t n);
    ssize_t (*pread)(int fd, void *buf, size_t n, off_t off);
    ssize_t (*pwrite)(int fd, const void *buf, size_t n, off_t off);
    int (*fdatasync)(int fd);
    int (*sync_file_range)(int fd, off_t off, off_t len, unsigned int flags);
    int (*rename)(const char *from, const char *to);
    /* returns 0 or an error number, as pthread_create */
    int (*pthread_create)(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg);
    int (*pthread_kill)(pthread_t t, int sig);
    int (*sched_getaffinity)(pid_t tid, size_t size, cpu_set_t *set);
    int (*sched_setaffinity)(pid_t tid, size_t size, const cpu_set_t *set);
    /* FUTEX_WAIT / FUTEX_WAKE (private); -1 and errno on failure */
    long (*futex)(uint32_t *word, int op, uint32_t value, const struct timespec *timeout);
    /* the C library's, behind libvmgc's interposed sigaction (sigchain.c) */
    int (*sigaction)(int sig, const struct sigaction *act, struct sigaction *old);
};

/* Synchronization: written only by tests before any heap exists, or by a
 * test that owns every thread; read without synchronization elsewhere. */
extern struct sys_table sys;

/* .sol.retry: EINTR and EAGAIN from the memory calls (mprotect, madvise,
 * fallocate) are transient (a signal, a page the kernel could not take
 * now): their callers try again, up to 100 times, through this.  For calls
 * that return 0 or -1 and errno.  Async-signal-safe. */
#define SYS_RETRY(call)                                                                        \
    __extension__({                                                                            \
        int sys_r_, sys_k_ = 0;                                                                \
        while ((sys_r_ = (call)) != 0 && (errno == EINTR || errno == EAGAIN) && ++sys_k_ < 100) \
            ;                                                                                  \
        sys_r_;                                                                                \
    })

/* Restore the real system calls (and end any injection). */
void sys_reset(void);

/* ---- fault injection (tests) ---- */
enum sys_call {
    SYS_CALL_MMAP, SYS_CALL_MUNMAP, SYS_CALL_MPROTECT, SYS_CALL_MADVISE, SYS_CALL_FALLOCATE,
    SYS_CALL_FTRUNCATE, SYS_CALL_MEMFD_CREATE, SYS_CALL_IOCTL, SYS_CALL_CLOSE, SYS_CALL_FSTAT,
    SYS_CALL_USERFAULTFD, SYS_CALL_OPEN, SYS_CALL_READ, SYS_CALL_PREAD, SYS_CALL_PTHREAD_CREATE,
    SYS_CALL_PTHREAD_KILL, SYS_CALL_SCHED_GETAFFINITY, SYS_CALL_SCHED_SETAFFINITY,
    SYS_CALL_FUTEX, SYS_CALL_SIGACTION, SYS_CALL_PWRITE, SYS_CALL_FDATASYNC, SYS_CALL_RENAME,
    SYS_CALL_SYNC_FILE_RANGE,
    SYS_CALL_COUNT
};

/* From now on every call is counted, per kind (the table points at
 * counting shims); with fail_nth, the nth call of `which` from now (1 is
 * the next) fails with err, once.  Async-signal-safe shims. */
void sys_inject_begin(void);
void sys_inject_fail_nth(enum sys_call which, uint64_t nth, int err);
uint64_t sys_inject_count(enum sys_call which);
/* 1 once the armed failure has been returned. */
int sys_inject_fired(void);
const char *sys_call_name(enum sys_call which);

#endif

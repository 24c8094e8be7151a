/* sys.c -- the real system calls behind sys.h, and the counting shims
 * that inject failures.  Design: doc/design/sys.md. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sigchain.h"
#include "sys.h"
#include "uffd_compat.h"

static int sys_ioctl_real(int fd, unsigned long request, void *arg)
{
    return ioctl(fd, request, arg);
}

/* The system call, else /dev/userfaultfd (Linux 6.1+), which access
 * rights on the device node can open to users without privilege. */
static long sys_userfaultfd_real(int flags)
{
    long fd = -1;
    int err = ENOSYS;
#ifdef SYS_userfaultfd
    fd = syscall(SYS_userfaultfd, flags);
    err = errno;
#endif
    if (fd < 0) {
        int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
        if (dev >= 0) {
            fd = ioctl(dev, USERFAULTFD_IOC_NEW, flags);
            close(dev);
        }
        if (fd < 0)
            errno = err;
    }
    return fd;
}

static long sys_futex_real(uint32_t *word, int op, uint32_t value, const struct timespec *timeout)
{
    return syscall(SYS_futex, word, op, value, timeout, NULL, 0);
}

static int sys_open_real(const char *path, int flags, ...)
{
    return open(path, flags); /* vmgc never creates files */
}

/* The real calls, twice: clang does not take a const object as a static
 * initializer. */
#define SYS_REAL_CALLS {\
    .mmap = mmap, \
    .munmap = munmap, \
    .mprotect = mprotect, \
    .madvise = madvise, \
    .fallocate = fallocate, \
    .ftruncate = ftruncate, \
    .memfd_create = memfd_create, \
    .ioctl = sys_ioctl_real, \
    .close = close, \
    .fstat = fstat, \
    .userfaultfd = sys_userfaultfd_real, \
    .open = sys_open_real, \
    .read = read, \
    .pread = pread, \
    .pwrite = pwrite, \
    .fdatasync = fdatasync, \
    .sync_file_range = sync_file_range, \
    .rename = rename, \
    .pthread_create = pthread_create, \
    .pthread_kill = pthread_kill, \
    .sched_getaffinity = sched_getaffinity, \
    .sched_setaffinity = sched_setaffinity, \
    .futex = sys_futex_real, \
    .sigaction = sigchain_own_sigaction, \
}

static const struct sys_table sys_real = SYS_REAL_CALLS;

struct sys_table sys = SYS_REAL_CALLS;

#if defined(__SANITIZE_THREAD__)
int lock_tsan_tick; /* lock.h */
#endif

/* ---- injection ---- */

static const char *const call_names[SYS_CALL_COUNT] = {
    "mmap", "munmap", "mprotect", "madvise", "fallocate", "ftruncate", "memfd_create", "ioctl",
    "close", "fstat", "userfaultfd", "open", "read", "pread", "pthread_create", "pthread_kill",
    "sched_getaffinity", "sched_setaffinity", "futex", "sigaction", "pwrite", "fdatasync",
    "rename", "sync_file_range",
};

/* Synchronization: atomic. */
static uint64_t call_count[SYS_CALL_COUNT];
static uint64_t fail_at[SYS_CALL_COUNT];
static int fail_errno[SYS_CALL_COUNT];
static int fired;

static int should_fail(enum sys_call c)
{
    uint64_t n = __atomic_add_fetch(&call_count[c], 1, __ATOMIC_RELAXED);
    if (n != __atomic_load_n(&fail_at[c], __ATOMIC_RELAXED))
        return 0;
    __atomic_store_n(&fired, 1, __ATOMIC_RELEASE);
    errno = __atomic_load_n(&fail_errno[c], __ATOMIC_RELAXED);
    return 1;
}

static void *shim_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    return should_fail(SYS_CALL_MMAP) ? MAP_FAILED : sys_real.mmap(addr, len, prot, flags, fd, off);
}
static int shim_munmap(void *addr, size_t len)
{
    return should_fail(SYS_CALL_MUNMAP) ? -1 : sys_real.munmap(addr, len);
}
static int shim_mprotect(void *addr, size_t len, int prot)
{
    return should_fail(SYS_CALL_MPROTECT) ? -1 : sys_real.mprotect(addr, len, prot);
}
static int shim_madvise(void *addr, size_t len, int advice)
{
    return should_fail(SYS_CALL_MADVISE) ? -1 : sys_real.madvise(addr, len, advice);
}
static int shim_fallocate(int fd, int mode, off_t off, off_t len)
{
    return should_fail(SYS_CALL_FALLOCATE) ? -1 : sys_real.fallocate(fd, mode, off, len);
}
static int shim_ftruncate(int fd, off_t len)
{
    return should_fail(SYS_CALL_FTRUNCATE) ? -1 : sys_real.ftruncate(fd, len);
}
static int shim_memfd_create(const char *name, unsigned int flags)
{
    return should_fail(SYS_CALL_MEMFD_CREATE) ? -1 : sys_real.memfd_create(name, flags);
}
static int shim_ioctl(int fd, unsigned long request, void *arg)
{
    return should_fail(SYS_CALL_IOCTL) ? -1 : sys_real.ioctl(fd, request, arg);
}
static int shim_close(int fd)
{
    if (should_fail(SYS_CALL_CLOSE)) {
        sys_real.close(fd); /* as Linux does: the descriptor is gone whatever close says */
        return -1;
    }
    return sys_real.close(fd);
}
static int shim_fstat(int fd, struct stat *st)
{
    return should_fail(SYS_CALL_FSTAT) ? -1 : sys_real.fstat(fd, st);
}
static long shim_userfaultfd(int flags)
{
    return should_fail(SYS_CALL_USERFAULTFD) ? -1 : sys_real.userfaultfd(flags);
}
static int shim_open(const char *path, int flags, ...)
{
    return should_fail(SYS_CALL_OPEN) ? -1 : sys_real.open(path, flags);
}
static ssize_t shim_read(int fd, void *buf, size_t n)
{
    return should_fail(SYS_CALL_READ) ? -1 : sys_real.read(fd, buf, n);
}
static ssize_t shim_pread(int fd, void *buf, size_t n, off_t off)
{
    return should_fail(SYS_CALL_PREAD) ? -1 : sys_real.pread(fd, buf, n, off);
}
static ssize_t shim_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    return should_fail(SYS_CALL_PWRITE) ? -1 : sys_real.pwrite(fd, buf, n, off);
}
static int shim_fdatasync(int fd)
{
    return should_fail(SYS_CALL_FDATASYNC) ? -1 : sys_real.fdatasync(fd);
}
static int shim_sync_file_range(int fd, off_t off, off_t len, unsigned int flags)
{
    return should_fail(SYS_CALL_SYNC_FILE_RANGE) ? -1 : sys_real.sync_file_range(fd, off, len, flags);
}
static int shim_rename(const char *from, const char *to)
{
    return should_fail(SYS_CALL_RENAME) ? -1 : sys_real.rename(from, to);
}
static int shim_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *),
                               void *arg)
{
    return should_fail(SYS_CALL_PTHREAD_CREATE) ? errno : sys_real.pthread_create(t, attr, fn, arg);
}
static int shim_pthread_kill(pthread_t t, int sig)
{
    return should_fail(SYS_CALL_PTHREAD_KILL) ? errno : sys_real.pthread_kill(t, sig);
}
static int shim_sched_getaffinity(pid_t tid, size_t size, cpu_set_t *set)
{
    return should_fail(SYS_CALL_SCHED_GETAFFINITY) ? -1 : sys_real.sched_getaffinity(tid, size, set);
}
static int shim_sched_setaffinity(pid_t tid, size_t size, const cpu_set_t *set)
{
    return should_fail(SYS_CALL_SCHED_SETAFFINITY) ? -1 : sys_real.sched_setaffinity(tid, size, set);
}
static long shim_futex(uint32_t *word, int op, uint32_t value, const struct timespec *timeout)
{
    return should_fail(SYS_CALL_FUTEX) ? -1 : sys_real.futex(word, op, value, timeout);
}
static int shim_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    return should_fail(SYS_CALL_SIGACTION) ? -1 : sys_real.sigaction(sig, act, old);
}

static const struct sys_table sys_shims = {
    .mmap = shim_mmap,
    .munmap = shim_munmap,
    .mprotect = shim_mprotect,
    .madvise = shim_madvise,
    .fallocate = shim_fallocate,
    .ftruncate = shim_ftruncate,
    .memfd_create = shim_memfd_create,
    .ioctl = shim_ioctl,
    .close = shim_close,
    .fstat = shim_fstat,
    .userfaultfd = shim_userfaultfd,
    .open = shim_open,
    .read = shim_read,
    .pread = shim_pread,
    .pwrite = shim_pwrite,
    .fdatasync = shim_fdatasync,
    .sync_file_range = shim_sync_file_range,
    .rename = shim_rename,
    .pthread_create = shim_pthread_create,
    .pthread_kill = shim_pthread_kill,
    .sched_getaffinity = shim_sched_getaffinity,
    .sched_setaffinity = shim_sched_setaffinity,
    .futex = shim_futex,
    .sigaction = shim_sigaction,
};

void sys_inject_begin(void)
{
    for (int c = 0; c < SYS_CALL_COUNT; c++) {
        __atomic_store_n(&call_count[c], 0, __ATOMIC_RELAXED);
        __atomic_store_n(&fail_at[c], 0, __ATOMIC_RELAXED);
    }
    __atomic_store_n(&fired, 0, __ATOMIC_RELAXED);
    sys = sys_shims;
}

void sys_inject_fail_nth(enum sys_call which, uint64_t nth, int err)
{
    __atomic_store_n(&fail_errno[which], err, __ATOMIC_RELAXED);
    __atomic_store_n(&fail_at[which], __atomic_load_n(&call_count[which], __ATOMIC_RELAXED) + nth,
                     __ATOMIC_RELEASE);
}

uint64_t sys_inject_count(enum sys_call which)
{
    return __atomic_load_n(&call_count[which], __ATOMIC_RELAXED);
}

int sys_inject_fired(void)
{
    return __atomic_load_n(&fired, __ATOMIC_ACQUIRE);
}

const char *sys_call_name(enum sys_call which)
{
    return (unsigned)which < SYS_CALL_COUNT ? call_names[which] : "?";
}

void sys_reset(void)
{
    sys = sys_real;
    for (int c = 0; c < SYS_CALL_COUNT; c++)
        __atomic_store_n(&fail_at[c], 0, __ATOMIC_RELAXED);
}

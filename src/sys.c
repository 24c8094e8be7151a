/* sys.c -- the real system calls behind sys.h.  Design: doc/design/sys.md. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

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

static const struct sys_table sys_real = {
    .mmap = mmap,
    .munmap = munmap,
    .mprotect = mprotect,
    .madvise = madvise,
    .fallocate = fallocate,
    .ftruncate = ftruncate,
    .memfd_create = memfd_create,
    .ioctl = sys_ioctl_real,
    .close = close,
    .fstat = fstat,
    .userfaultfd = sys_userfaultfd_real,
    .open = open,
    .pread = pread,
};

struct sys_table sys = sys_real;

#if defined(__SANITIZE_THREAD__)
int lock_tsan_tick; /* lock.h */
#endif

void sys_reset(void)
{
    sys = sys_real;
}

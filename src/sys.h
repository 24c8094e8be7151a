/* sys.h -- the system calls of the VM layer, through replaceable pointers.
 *
 * Every OS primitive the VM layer uses goes through this table, so a test can
 * inject a failure (mprotect returning ENOMEM, mmap failing) without a
 * special build.  The pointers are read on the trap path, so replacements
 * must be async-signal-safe.  Design: doc/design/sys.md.
 */
#ifndef VMGC_SYS_H
#define VMGC_SYS_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

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
    ssize_t (*pread)(int fd, void *buf, size_t n, off_t off);
};

/* Synchronization: written only by tests before any heap exists, or by a
 * test that owns every thread; read without synchronization elsewhere. */
extern struct sys_table sys;

/* Restore the real system calls. */
void sys_reset(void);

#endif

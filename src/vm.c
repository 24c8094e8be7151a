/* vm.c -- reservation and MAP2 over a memfd.  Design: doc/design/vm.md. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#include "error.h"
#include "sys.h"
#include "vm.h"

int vm_check(const struct vm_space *vm)
{
    return vm && vm->sig == VM_SIG && vm->fd >= 0 && vm->base && vm->alias &&
           vm_is_aligned((uintptr_t)vm->base) && vm_is_aligned(vm->size);
}

/* .sol.reserve: the memfd is sized to the whole reservation at once.  A
 * shmem file's size costs nothing; pages exist only where written. */
vmgc_status vm_create(struct vm_space *vm, size_t size, void *fixed_base)
{
    memset(vm, 0, sizeof *vm);
    vm->fd = -1;
    if ((size_t)sysconf(_SC_PAGESIZE) != VM_PAGE_SIZE)
        return error_set(VMGC_EUNAVAILABLE,
                         "the system page size is %ld bytes; vmgc is built for %zu-byte pages",
                         sysconf(_SC_PAGESIZE), VM_PAGE_SIZE);
    if (size == 0)
        return error_set(VMGC_EINVAL, "heap reservation size is 0; give a size of at least one page");
    if (size > ((size_t)1 << 46))
        return error_set(VMGC_EINVAL, "heap reservation of %zu bytes exceeds the 64 TiB limit", size);
    size = (size + VM_PAGE_MASK) & ~VM_PAGE_MASK;
    if (fixed_base && !vm_is_aligned((uintptr_t)fixed_base))
        return error_set(VMGC_EINVAL, "fixed heap base %p is not aligned to %zu bytes", fixed_base,
                         VM_PAGE_SIZE);

    int fd = sys.memfd_create("vmgc-heap", MFD_CLOEXEC);
    if (fd < 0)
        return error_sys("memfd_create for the heap", errno);
    if (sys.ftruncate(fd, (off_t)size) != 0) {
        int err = errno;
        sys.close(fd);
        return error_sys("sizing the heap memfd (ftruncate)", err);
    }

    int flags = MAP_SHARED | MAP_NORESERVE;
    if (fixed_base)
        flags |= MAP_FIXED_NOREPLACE;
    void *base = sys.mmap(fixed_base, size, PROT_READ | PROT_WRITE, flags, fd, 0);
    if (base == MAP_FAILED) {
        int err = errno;
        sys.close(fd);
        if (fixed_base && err == EEXIST)
            return error_set(VMGC_EBUSY,
                             "the fixed heap range %p..%p is already mapped; choose another base "
                             "or unmap what is there",
                             fixed_base, (void *)((char *)fixed_base + size));
        return error_sys("reserving the heap's mutator view (mmap)", err);
    }
    if (fixed_base && base != fixed_base) {
        /* A kernel older than 4.17 ignores MAP_FIXED_NOREPLACE and places
         * the mapping elsewhere: treat it as taken, never overwrite. */
        sys.munmap(base, size);
        sys.close(fd);
        return error_set(VMGC_EBUSY, "the fixed heap base %p could not be reserved (range in use)",
                         fixed_base);
    }
    void *alias = sys.mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
    if (alias == MAP_FAILED) {
        int err = errno;
        sys.munmap(base, size);
        sys.close(fd);
        return error_sys("mapping the heap's collector view (mmap)", err);
    }
    vm->fd = fd;
    vm->base = base;
    vm->alias = alias;
    vm->size = size;
    vm->sig = VM_SIG;
    return VMGC_OK;
}

void vm_destroy(struct vm_space *vm)
{
    if (!vm || vm->sig != VM_SIG)
        return;
    sys.munmap(vm->alias, vm->size);
    sys.munmap(vm->base, vm->size);
    sys.close(vm->fd);
    vm->sig = 0;
}

vmgc_status vm_punch(struct vm_space *vm, size_t offset, size_t len)
{
    if (!vm_is_aligned(offset) || !vm_is_aligned(len) || offset > vm->size ||
        len > vm->size - offset)
        return error_set(VMGC_EINVAL, "punch of [%zu, +%zu) is misaligned or outside the heap",
                         offset, len);
    if (len == 0)
        return VMGC_OK;
    if (SYS_RETRY(sys.fallocate(vm->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset,
                      (off_t)len)) != 0)
        return error_sys("returning heap pages to the OS (fallocate PUNCH_HOLE)", errno);
    return VMGC_OK;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

size_t vm_resident_bytes(const struct vm_space *vm)
{
    struct stat st;
    if (sys.fstat(vm->fd, &st) != 0)
        return 0;
    return (size_t)st.st_blocks * 512; /* st_blocks is in 512-byte units */
}

void vm_prefault_alias(struct vm_space *vm, size_t offset, size_t len)
{
    if (offset < vm->size && len <= vm->size - offset)
        SYS_RETRY(sys.madvise(vm->alias + offset, len, MADV_POPULATE_WRITE));
}

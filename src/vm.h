/* vm.h -- address-space reservation and the two views (MAP2).
 *
 * A vm_space is one contiguous range of address space backed by a memfd and
 * mapped twice: the mutator view (where the program's pointers point) and the
 * collector view (an alias, always readable and writable).  The same offset
 * in both views is the same physical page.  Nothing costs memory until it is
 * touched.  Design: doc/design/vm.md.
 */
#ifndef VMGC_VM_H
#define VMGC_VM_H

#include <stddef.h>
#include <stdint.h>

#include "vmgc.h"

#define VM_PAGE_SHIFT 12
#define VM_PAGE_SIZE ((size_t)1 << VM_PAGE_SHIFT)
#define VM_PAGE_MASK (VM_PAGE_SIZE - 1)

#define VM_SIG 0x564d5350u /* "VMSP" */

struct vm_space {
    uint32_t sig;
    int fd;          /* the memfd behind both views */
    char *base;      /* mutator view */
    char *alias;     /* collector view */
    size_t size;     /* bytes, a multiple of VM_PAGE_SIZE */
};

/* Reserve size bytes (rounded up to pages) and map both views.  fixed_base,
 * when not NULL, must be page-aligned and free: a taken range is refused with
 * VMGC_EBUSY, never silently moved or overwritten. */
vmgc_status vm_create(struct vm_space *vm, size_t size, void *fixed_base);
void vm_destroy(struct vm_space *vm);
int vm_check(const struct vm_space *vm);

/* Return [offset, offset+len) to the OS: the pages read back as zero in both
 * views and cost no memory.  offset and len page-aligned. */
vmgc_status vm_punch(struct vm_space *vm, size_t offset, size_t len);

/* Map [offset, +len) of the collector view now (MADV_POPULATE_WRITE,
 * Linux 5.14+), so the collector's first writes there do not fault.
 * Best effort: an older kernel just faults later. */
void vm_prefault_alias(struct vm_space *vm, size_t offset, size_t len);

/* Bytes of memory the memfd holds now: each page once, however many views
 * map it (RSS counts a page once per view).  0 if the kernel will not say. */
size_t vm_resident_bytes(const struct vm_space *vm);

static inline int vm_contains(const struct vm_space *vm, const void *p)
{
    return (uintptr_t)p - (uintptr_t)vm->base < vm->size;
}

/* The collector-view address of a mutator-view address. */
static inline void *vm_alias_of(const struct vm_space *vm, const void *p)
{
    return vm->alias + ((const char *)p - vm->base);
}

static inline int vm_is_aligned(uintptr_t x)
{
    return (x & VM_PAGE_MASK) == 0;
}

#endif

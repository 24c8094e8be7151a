/* pagetable.c -- the page table's lazily touched storage.
 * Design: doc/design/pagetable.md. */
#include "config.h"

#include <errno.h>
#include <sys/mman.h>

#include "error.h"
#include "pagetable.h"
#include "sys.h"

/* .sol.lazy: MAP_NORESERVE anonymous memory reads as zero, and zero is the
 * state of a never-used page (PD_FREE_ZERO, no protection), so the table
 * needs no initialisation pass: creating it is O(1). */
vmgc_status pagetable_create(struct pagetable *pt, const struct vm_space *vm)
{
    size_t pages = vm->size >> VM_PAGE_SHIFT;
    if (pages >= PD_NONE)
        return error_set(VMGC_EINVAL, "heap of %zu pages exceeds the page table's %u-page limit",
                         pages, PD_NONE - 1);
    size_t bytes = (pages * sizeof(struct page_desc) + VM_PAGE_MASK) & ~VM_PAGE_MASK;
    void *p = sys.mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return error_sys("reserving the page table (mmap)", errno);
    pt->desc = p;
    pt->pages = pages;
    pt->table_bytes = bytes;
    pt->base = vm->base;
    return VMGC_OK;
}

void pagetable_destroy(struct pagetable *pt)
{
    if (pt->desc)
        sys.munmap(pt->desc, pt->table_bytes);
    pt->desc = NULL;
}

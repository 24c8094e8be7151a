/* pagetable.h -- one descriptor per heap page, O(1) from an address.
 *
 * The table lives in its own reserved, lazily touched anonymous range: a
 * descriptor costs memory only when its page of the table is first written,
 * so a mostly unused 32 GiB reservation pays for nothing (the MPS VM-arena
 * idea).  Design: doc/design/pagetable.md.
 */
#ifndef VMGC_PAGETABLE_H
#define VMGC_PAGETABLE_H

#include <stddef.h>
#include <stdint.h>

#include "vm.h"

/* Bits of page_desc.prot.  Synchronization: atomic (read on the trap path). */
enum {
    PD_READ_BARRIER = 1u << 0, /* logically protected: a touch calls the trap handler */
    PD_PHYS_NONE = 1u << 1,    /* mprotect backend: PROT_NONE is in force here */
    PD_WRITE_TRACK = 1u << 2,  /* dirty fallback: write-protected, not written yet */
    PD_WRITTEN = 1u << 3,      /* dirty fallback: written since tracking began */
    PD_VMA_HIDDEN = 1u << 4    /* uffd backend: hidden by PROT_NONE (prot_hide_resident) */
};
/* Bits 8..31 of page_desc.prot count protections (prot.md .sol.mark-gen). */
#define PD_GEN_SHIFT 8
#define PD_GEN_ONE (1u << PD_GEN_SHIFT)

/* Pool states of page_desc.pool_state.  Only the first and last page of a
 * run carry a tag; every other page is PD_INTERIOR, the zero state, so the
 * untouched table is one big run's interior.  Synchronization: the pool lock. */
enum {
    PD_INTERIOR = 0, /* not the first or last page of a run */
    PD_FREE_ZERO,    /* end of a free run that reads as zero and costs nothing */
    PD_FREE_DIRTY,   /* end of a free run that is resident, contents stale */
    PD_RUN_HEAD,     /* first page of an allocated run */
    PD_RUN_TAIL      /* last page of an allocated run of 2+ pages */
};

#define PD_NONE UINT32_MAX

struct page_desc {
    uint32_t prot;       /* PD_* protection bits.  Synchronization: atomic. */
    uint8_t pool_state;  /* PD_FREE_*, PD_RUN_*.  Synchronization: pool lock. */
    uint8_t space;       /* owner space, for the collector.  Synchronization: atomic (relaxed;
                            the page state word orders it). */
    uint16_t gc_info;    /* first-object offset etc., for the collector. */
    uint32_t run_pages;  /* pool: run length, on a run's first and last page. */
    uint32_t next, prev; /* pool: free-list links (page indices, PD_NONE ends). */
    uint32_t gc_word[3]; /* room for the collector (page state machine). */
};

_Static_assert(sizeof(struct page_desc) == 32, "page_desc should stay 32 bytes");

struct pagetable {
    struct page_desc *desc;
    size_t pages;
    size_t table_bytes;
    const char *base; /* the mutator view it describes */
};

vmgc_status pagetable_create(struct pagetable *pt, const struct vm_space *vm);
void pagetable_destroy(struct pagetable *pt);

/* Index of the page holding p; p must be inside the heap. */
static inline size_t pagetable_index(const struct pagetable *pt, const void *p)
{
    return (size_t)((const char *)p - pt->base) >> VM_PAGE_SHIFT;
}

/* Descriptor of the page holding p, or NULL when p is outside the heap. */
static inline struct page_desc *pagetable_lookup(const struct pagetable *pt, const void *p)
{
    size_t i = (size_t)((uintptr_t)p - (uintptr_t)pt->base) >> VM_PAGE_SHIFT;
    return i < pt->pages ? &pt->desc[i] : NULL;
}

static inline char *pagetable_page_addr(const struct pagetable *pt, size_t index)
{
    return (char *)pt->base + (index << VM_PAGE_SHIFT);
}

#endif

/* rootblock.c -- root blocks: precise root slots kept on heap pages of
 * their own, so the flip only greys and protects them; the slots are
 * forwarded by the concurrent scan, or by the first thread that touches
 * a page of them (it traps and scans that page, like any grey page).
 * Design: doc/design/roots.md (.sol.root-block).
 *
 * Synchronization: the list and the pages' life are under roots_lock,
 * which the flip holds across the stop, so no block appears, goes or
 * changes state in the middle of a flip.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "error.h"
#include "internal.h"
#include "meta.h"
#include "prot.h"
#include "lock.h"

/* A block's slots fit a 32-bit page index range with room to spare; more
 * than this is surely a size computed wrongly. */
#define ROOT_BLOCK_MAX_SLOTS ((size_t)1 << 30)

VMGC_API vmgc_status vmgc_root_block_new(vmgc_heap *h, size_t count, void ***slots)
{
    if (!h || h->sig != HEAP_SIG)
        return error_set(VMGC_EINVAL, "vmgc_root_block_new: not a live heap");
    fork_settle(h);
    if (!slots)
        return error_set(VMGC_EINVAL, "vmgc_root_block_new: slots (the result) is NULL");
    if (count == 0 || count > ROOT_BLOCK_MAX_SLOTS)
        return error_set(VMGC_EINVAL, "vmgc_root_block_new: count is %zu; give 1 to %zu slots",
                         count, ROOT_BLOCK_MAX_SLOTS);
    size_t npages = (count * sizeof(void *) + VM_PAGE_MASK) >> VM_PAGE_SHIFT, first;
    struct root_block *b = meta_calloc(1, sizeof *b);
    if (!b)
        return error_set(VMGC_ENOMEM, "vmgc_root_block_new: out of memory for its record");
    int zero;
    lock_take(&h->roots_lock);
    vmgc_status st = pool_alloc(&h->arena->pool, npages, POOL_NEED_ZERO | POOL_WITHIN_LIMIT,
                                &first, &zero);
    if (st != VMGC_OK) {
        pthread_mutex_unlock(&h->roots_lock);
        meta_free(b);
        char why[256]; /* the pool's reason: the limit, or the reservation */
        const char *pool_says = vmgc_last_error();
        if (!strncmp(pool_says, "vmgc: ", 6))
            pool_says += 6;
        snprintf(why, sizeof why, "%s", pool_says);
        return error_set(st, "vmgc_root_block_new: %zu slots (%zu pages) do not fit: %s "
                             "(vmgc_config.heap_limit / reserve_bytes); free blocks or give "
                             "the heap more room", count, npages, why);
    }
    /* Black in the running epoch: like a new object, it can only be given
     * pointers the mutator holds, which are never from-space. */
    uint32_t e = __atomic_load_n(&h->epoch, __ATOMIC_ACQUIRE) & 0xffffffu;
    for (size_t i = first; i < first + npages; i++) {
        __atomic_store_n(&h->arena->pt.desc[i].space, PK_ROOTS, __ATOMIC_RELAXED);
        ps_set(h, i, PS_MAKE(PS_BLACK, e));
    }
    b->slots = (void **)pagetable_page_addr(&h->arena->pt, first);
    b->first = first;
    b->npages = npages;
    b->count = count;
    b->next = h->root_blocks;
    h->root_blocks = b;
    pthread_mutex_unlock(&h->roots_lock);
    *slots = b->slots;
    return VMGC_OK;
}

VMGC_API vmgc_status vmgc_root_block_free(vmgc_heap *h, void **slots)
{
    if (!h || h->sig != HEAP_SIG)
        return error_set(VMGC_EINVAL, "vmgc_root_block_free: not a live heap");
    fork_settle(h);
    lock_take(&h->roots_lock);
    struct root_block **pp = &h->root_blocks;
    while (*pp && (*pp)->slots != slots)
        pp = &(*pp)->next;
    struct root_block *b = *pp;
    if (!b) {
        pthread_mutex_unlock(&h->roots_lock);
        return error_set(VMGC_ESTATE, "vmgc_root_block_free: %p is not a root block of this "
                                      "heap (give what vmgc_root_block_new returned, once)",
                         (void *)slots);
    }
    *pp = b->next;
    /* Its slots are dead now: a grey page is finished without a scan. */
    for (size_t i = b->first; i < b->first + b->npages; i++)
        scan_discard_grey(h, i);
    for (size_t i = b->first; i < b->first + b->npages; i++) {
        __atomic_store_n(&h->arena->pt.desc[i].space, PK_NONE, __ATOMIC_RELAXED);
        ps_set(h, i, PS_MAKE(PS_FREE, 0));
    }
    vmgc_status st = arena_release_pages(h->arena, b->slots, b->npages);
    pthread_mutex_unlock(&h->roots_lock);
    meta_free(b);
    if (st != VMGC_OK)
        gc_fatal_status("giving back a root block's pages failed");
    return VMGC_OK;
}

/* The flip, world stopped, roots_lock held: every page of every block
 * turns grey (to be scanned this cycle) and is protected, one system call
 * per block.  O(blocks + pages), no slot is read. */
void root_blocks_grey(struct vmgc_heap *h)
{
    uint32_t e = __atomic_load_n(&h->epoch, __ATOMIC_ACQUIRE) & 0xffffffu;
    for (struct root_block *b = h->root_blocks; b; b = b->next) {
        __atomic_fetch_add(&h->pending, b->npages, __ATOMIC_ACQ_REL);
        for (size_t i = b->first; i < b->first + b->npages; i++)
            ps_set(h, i, PS_MAKE(PS_GREY, e));
        if (prot_protect(h->arena, b->slots, b->npages << VM_PAGE_SHIFT) != VMGC_OK)
            gc_fatal_status("protecting a root block failed");
        for (size_t i = b->first; i < b->first + b->npages; i++)
            grey_push(h, i);
    }
}

/* Heap destruction: the pages go with the arena. */
void root_blocks_free_all(struct vmgc_heap *h)
{
    for (struct root_block *b = h->root_blocks, *n; b; b = n) {
        n = b->next;
        meta_free(b);
    }
    h->root_blocks = NULL;
}

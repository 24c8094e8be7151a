/* pages.c -- where the collector's pages come from: the pool (mutator
 * pages, large objects), the stash of protected copy targets (usable in a
 * trap), the in-use list and the grey queue.  Design: doc/design/collector.md.
 */
#include "config.h"

#include <sched.h>
#include <string.h>

#include "error.h"
#include "internal.h"
#include "meta.h"
#include "prot.h"
#include "lock.h"

/* pages_lock held. */
void pages_note_inuse_locked(struct vmgc_heap *h, size_t first)
{
    if (h->ninuse == h->inuse_cap) {
        size_t cap = h->inuse_cap ? h->inuse_cap * 2 : 1024;
        uint32_t *n = meta_calloc(cap, sizeof *n);
        if (!n)
            gc_fatal("out of memory for the collector's page list");
        if (h->inuse)
            memcpy(n, h->inuse, h->ninuse * sizeof *n);
        meta_free(h->inuse);
        h->inuse = n;
        h->inuse_cap = cap;
    }
    h->inuse[h->ninuse++] = (uint32_t)first;
}

void pages_note_inuse(struct vmgc_heap *h, size_t first)
{
    lock_take(&h->pages_lock);
    pages_note_inuse_locked(h, first);
    pthread_mutex_unlock(&h->pages_lock);
}

/* .sol.stamp: a new mutator page gets the current epoch under pages_lock,
 * which the flip holds while it stops the world and advances the epoch, so
 * a page can never be born into from-space.  With as_tlab, the page
 * becomes self's allocation page in the same critical section, so a flip
 * finds it as the thread's page (and pins it) or not at all.  self (the
 * allocating thread) waits for the lock as a blocked thread
 * (threads.c .sol.lock-blocked). */
void pages_stamp_black(struct vmgc_heap *h, size_t page, struct vmgc_thread *self, int as_tlab)
{
    threads_lock_blocked(self, &h->pages_lock);
    ps_set(h, page, PS_MAKE(PS_BLACK, __atomic_load_n(&h->epoch, __ATOMIC_ACQUIRE) & 0xffffffu));
    pages_note_inuse_locked(h, page);
    if (as_tlab) {
        char *p = pagetable_page_addr(&h->arena->pt, page);
        self->buf.cursor = p;
        self->buf.limit = p + VM_PAGE_SIZE;
        self->tlab_page = (uint32_t)page;
    }
    pthread_mutex_unlock(&h->pages_lock);
}

void pages_each_inuse(struct vmgc_heap *h, size_t limit,
                      void (*fn)(struct vmgc_heap *h, size_t head, void *ctx), void *ctx)
{
    /* in blocks: mutators take pages_lock for every page they allocate, and
     * a lock round per entry was ~5% of GCBench (perf: pthread_mutex_unlock) */
    uint32_t block[512];
    for (size_t k = 0; k < limit;) {
        size_t n = 0;
        lock_take(&h->pages_lock);
        while (n < 512 && k + n < limit && k + n < h->ninuse) {
            block[n] = h->inuse[k + n];
            n++;
        }
        pthread_mutex_unlock(&h->pages_lock);
        if (n == 0)
            break;
        for (size_t i = 0; i < n; i++)
            fn(h, block[i], ctx);
        k += n;
    }
}

/* The heap limit is checked by the pool under its lock (pool_set_limit in
 * heap.c): one lock round per page taken, not two. */
vmgc_status pages_take(struct vmgc_heap *h, size_t n, size_t *first)
{
    int zero;
    return pool_alloc(&h->arena->pool, n, POOL_NEED_ZERO | POOL_WITHIN_LIMIT, first, &zero);
}

/* ---- the stash: a Treiber stack with a tag against ABA ---- */

static void stash_push(struct vmgc_heap *h, size_t page)
{
    uint64_t old = __atomic_load_n(&h->stash_head, __ATOMIC_ACQUIRE), nw;
    do {
        h->arena->pt.desc[page].gc_word[2] = (uint32_t)old;
        nw = ((old >> 32) + 1) << 32 | (uint32_t)page;
    } while (!__atomic_compare_exchange_n(&h->stash_head, &old, nw, 0, __ATOMIC_ACQ_REL,
                                          __ATOMIC_ACQUIRE));
    __atomic_fetch_add(&h->stash_count, 1, __ATOMIC_RELAXED);
}

size_t stash_pop(struct vmgc_heap *h)
{
    uint64_t old = __atomic_load_n(&h->stash_head, __ATOMIC_ACQUIRE), nw;
    do {
        uint32_t top = (uint32_t)old;
        if (top == PD_NONE)
            return PD_NONE;
        uint32_t next = __atomic_load_n(&h->arena->pt.desc[top].gc_word[2], __ATOMIC_RELAXED);
        nw = ((old >> 32) + 1) << 32 | next;
    } while (!__atomic_compare_exchange_n(&h->stash_head, &old, nw, 0, __ATOMIC_ACQ_REL,
                                          __ATOMIC_ACQUIRE));
    __atomic_fetch_sub(&h->stash_count, 1, __ATOMIC_RELAXED);
    return (uint32_t)old;
}

/* .sol.stash: copy targets are taken in traps, where the pool's mutex may
 * not be taken; so the collector keeps a stack of free pages that a trap
 * pops without a lock.  They are protected in runs ahead of time (one
 * PROTN per run); a copier renews the protection when it takes one
 * (scan.c .sol.copy-protect). */
vmgc_status stash_refill(struct vmgc_heap *h, unsigned want)
{
    while (__atomic_load_n(&h->stash_count, __ATOMIC_RELAXED) < want) {
        size_t n = 32, first;
        int zero;
        /* .sol.reserve-over-limit: copies need to-space before from-space
         * is freed, so the copy reserve is not held to the heap limit. */
        vmgc_status st = pool_alloc(&h->arena->pool, n, 0, &first, &zero);
        if (st != VMGC_OK)
            return st;
        /* split into single-page runs the pool can take back one by one */
        for (size_t i = 0; i < n; i++) {
            struct page_desc *d = &h->arena->pt.desc[first + i];
            __atomic_store_n(&d->space, PK_SMALL, __ATOMIC_RELAXED);
            __atomic_store_n(&d->gc_word[1], 0, __ATOMIC_RELAXED); /* pinned_resident reads it */
            ps_set(h, first + i, PS_MAKE(PS_STASH, 0));
        }
        pool_split_run(&h->arena->pool, first, n);
        /* .sol.prefault: copies write through the collector view; map it
         * now, not in the flip's pause or in a trap.  That also makes the
         * pages resident, so protecting them needs no fallocate (and if
         * populating failed, a copy's write makes the page resident before
         * any mutator can hold a pointer into it). */
        vm_prefault_alias(&h->arena->vm, first << VM_PAGE_SHIFT, n << VM_PAGE_SHIFT);
        /* one PROTN for the run; a copier renews or redoes it on use
         * (scan.c .sol.copy-protect) */
        st = prot_protect_resident(h->arena, pagetable_page_addr(&h->arena->pt, first),
                                   n * VM_PAGE_SIZE);
        if (st != VMGC_OK)
            return st;
        gen_stash_refilled(h, first, n);
        for (size_t i = 0; i < n; i++) {
            pages_note_inuse(h, first + i);
            stash_push(h, first + i);
        }
    }
    return VMGC_OK;
}

/* The collector refills below this; a trap may take a page's worth of
 * copy pages per page it scans (a root block page: up to 512 objects). */
#define STASH_LOW 32

/* Top the copy reserve up if it runs low.  Not in a signal handler, and
 * not with pages_lock or the pool's lock held. */
void stash_keep_up(struct vmgc_heap *h)
{
    if (__atomic_load_n(&h->stash_count, __ATOMIC_RELAXED) < STASH_LOW)
        (void)stash_refill(h, STASH_LOW * 4); /* a failure shows where a copy needs it */
}

/* .sol.wait-refills: a thread waiting for another to finish a page may be
 * what that one waits for: a trap scanning the page that has emptied the
 * copy reserve waits for a refill, as it cannot take the pool's lock.
 * So a waiter outside a signal handler refills before it yields; not in
 * the flip, which holds pages_lock (and where no page is waited for). */
void stash_wait_turn(struct vmgc_heap *h, int in_signal)
{
    if (!in_signal && !__atomic_load_n(&h->flipping, __ATOMIC_ACQUIRE))
        stash_keep_up(h);
    sched_yield();
}

/* ---- the grey queue: each page is pushed at most once per cycle ---- */

void grey_push(struct vmgc_heap *h, size_t page)
{
    uint64_t i = __atomic_fetch_add(&h->grey_tail, 1, __ATOMIC_ACQ_REL);
    if (i >= h->grey_cap)
        gc_fatal("grey queue overflow");
    __atomic_store_n(&h->grey[i], (uint32_t)page + 1, __ATOMIC_RELEASE);
}

size_t grey_pop(struct vmgc_heap *h)
{
    uint64_t head = __atomic_load_n(&h->grey_head, __ATOMIC_ACQUIRE);
    for (;;) {
        if (head >= __atomic_load_n(&h->grey_tail, __ATOMIC_ACQUIRE))
            return PD_NONE;
        if (__atomic_compare_exchange_n(&h->grey_head, &head, head + 1, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            break;
    }
    uint32_t v;
    while ((v = __atomic_load_n(&h->grey[head], __ATOMIC_ACQUIRE)) == 0)
        sched_yield();
    __atomic_store_n(&h->grey[head], 0, __ATOMIC_RELAXED);
    return v - 1;
}

int grey_pop_peek_empty(struct vmgc_heap *h)
{
    return __atomic_load_n(&h->grey_head, __ATOMIC_ACQUIRE) >=
           __atomic_load_n(&h->grey_tail, __ATOMIC_ACQUIRE);
}

void grey_reset(struct vmgc_heap *h)
{
    __atomic_store_n(&h->grey_head, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&h->grey_tail, 0, __ATOMIC_RELEASE);
}

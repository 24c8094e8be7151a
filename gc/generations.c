/* generations.c -- young and full cycles, and the remembered set they need,
 * on the DIRTY primitive (Appel and Li): an old page's first write after it
 * was scanned faults once and marks it; a young cycle scans the marked old
 * pages in place and condemns only the pages allocated since the last flip.
 * Design: doc/design/generations.md.
 *
 * The page-level calls may run in a trap (in_signal): no locks, no
 * allocation.
 */
#include "config.h"

#include "dirty.h"
#include "internal.h"
#include "lock.h"

static int young_enabled(struct vmgc_heap *h)
{
    return __atomic_load_n(&h->young_cycle, __ATOMIC_RELAXED);
}

/* .sol.policy: full when asked (vmgc_collect, a checkpoint), for the first
 * cycle; a mark cycle when asked (vmgc_collect_mark), and instead of a full
 * one when the old pages have grown by growth_factor since the last full
 * or mark cycle, or after GEN_MAX_YOUNG young ones in a row, or as many as
 * fit in what a full-only collector would allocate between two cycles (old
 * data the program dropped goes back within a bounded number of cycles,
 * and a large heap is not traced more often than without generations);
 * young otherwise.  A mark cycle is full instead where marking cannot
 * work (mark.md .sol.when) or when the holes it left are a quarter of the
 * old pages (.sol.compact). */
#define GEN_MAX_YOUNG 8
int gen_marks_old(struct vmgc_heap *h)
{
    return h->generational && h->mark.supported && h->config.mark_old == 1 &&
           !__atomic_load_n(&h->st_track_failures, __ATOMIC_RELAXED);
}

/* .sol.compact (mark.md): holes are a quarter of the old pages; not where
 * a memory budget leaves no room for a copy of the old generation
 * (.sol.budget) */
static int mark_possible(struct vmgc_heap *h)
{
    size_t old = h->old_pages << VM_PAGE_SHIFT;
    int copy_fits = !h->mem_budget || 2 * old < h->mem_budget;
    return gen_marks_old(h) &&
           (__atomic_load_n(&h->mark.hole_bytes, __ATOMIC_RELAXED) < old / 4 || !copy_fits);
}

int gen_choose(struct vmgc_heap *h)
{
    if (!h->generational || checkpoint_active(h) || !h->old_pages_after_full)
        return GEN_FULL;
    lock_take(&h->trigger_lock);
    int asked = h->full_requested > h->cycles_done;
    int asked_mark = h->mark_requested > h->cycles_done;
    pthread_mutex_unlock(&h->trigger_lock);
    if (asked)
        return GEN_FULL;
    if (asked_mark)
        return gen_marks_old(h) ? GEN_MARK : GEN_FULL;
    /* as many young cycles as a full-only collector would allocate between
     * two cycles of this heap, and at least GEN_MAX_YOUNG */
    size_t between = (size_t)((double)(h->old_pages_after_full << VM_PAGE_SHIFT) *
                              (h->config.growth_factor - 1.0)) /
                     h->config.initial_size;
    size_t grown = (size_t)((double)h->old_pages_after_full * h->config.growth_factor);
    if (h->young_in_a_row >= (between > GEN_MAX_YOUNG ? between : GEN_MAX_YOUNG) ||
        h->old_pages >= grown)
        return mark_possible(h) ? GEN_MARK : GEN_FULL;
    return GEN_YOUNG;
}

/* The next cycle to start (the one after a running one, whose flip may
 * predate the request) must be of the kind asked for.  trigger_lock held. */
static void request_next(struct vmgc_heap *h, uint64_t *requested)
{
    uint64_t target = collector_next_cycle(h);
    if (*requested < target)
        *requested = target;
}

void gen_request_mark(struct vmgc_heap *h)
{
    request_next(h, &h->mark_requested);
}

void gen_request_full(struct vmgc_heap *h)
{
    request_next(h, &h->full_requested);
}

static void remember(void *ctx, size_t page)
{
    struct vmgc_heap *h = ctx;
    unsigned space = __atomic_load_n(&h->arena->pt.desc[page].space, __ATOMIC_RELAXED);
    if (space != PK_SMALL && space != PK_LARGE_HEAD && space != PK_LARGE_BODY)
        return; /* freed since, or a root block (scanned every flip anyway) */
    size_t head = ps_head_of(h, page);
    uint32_t w = ps_load(h, head);
    /* young pages are condemned whole; a page pinned or greyed already is
     * scanned anyway */
    if (PS_STATE(w) != PS_BLACK || !(w & PS_OLD) ||
        PS_EPOCH(w) == (__atomic_load_n(&h->epoch, __ATOMIC_ACQUIRE) & 0xffffffu))
        return;
    h->pin_tally.remembered++;
    roots_grey_old(h, head);
}

static void forget(void *ctx, size_t page)
{
    (void)ctx;
    (void)page;
}

/* .sol.remembered: in the flip (world stopped, so no write fault is half
 * done: the trap handler blocks the stop signal), after the pins: the old
 * pages written since the last flip become grey in place.  A full cycle
 * condemns them with the rest and only clears the marks.  O(summary words
 * + written pages). */
void gen_flip(struct vmgc_heap *h)
{
    if (!h->generational)
        return;
    dirty_each_written(h->arena, 1, young_enabled(h) ? remember : forget, h);
    __atomic_fetch_add(&h->st_remembered_pages, h->pin_tally.remembered, __ATOMIC_RELAXED);
    h->pin_tally.remembered = 0;
}

/* .sol.arm: a page that survived is old from now on; it is write-tracked
 * before it is exposed, so its first write is seen.  Pages holding weak
 * objects too (.sol.weak-pages). */
void gen_page_survived(struct vmgc_heap *h, size_t page, size_t npages, int in_signal)
{
    if (!h->generational)
        return;
    struct page_desc *d = &h->arena->pt.desc[page];
    unsigned space = __atomic_load_n(&d->space, __ATOMIC_RELAXED);
    if (space != PK_SMALL && space != PK_LARGE_HEAD)
        return;
    if (space == PK_LARGE_HEAD && large_is_leaf(h, page))
        return; /* no pointers: nothing to remember */
    if (dirty_track_pages(h->arena, page, npages, in_signal) != 0)
        __atomic_fetch_add(&h->st_track_failures, 1, __ATOMIC_RELAXED); /* counted written */
}

/* .sol.arm-early: copy targets are write-tracked when they enter the copy
 * reserve, 32 at a time, while no mutator can reach them: tracking a page
 * is an mprotect, which takes mmap_lock for writing, and one per survivor
 * page held up the mutators' page faults (generations.md, Measured).  When
 * such a page turns black, gen_page_survived finds it tracked already. */
void gen_stash_refilled(struct vmgc_heap *h, size_t first, size_t n)
{
    if (h->generational && dirty_track_pages(h->arena, first, n, 0) != 0)
        __atomic_fetch_add(&h->st_track_failures, 1, __ATOMIC_RELAXED); /* counted written */
}

/* A page kept open to the kernel (io.c) cannot be write-protected: it
 * counts as written, so each young cycle scans it. */
void gen_page_kept_open(struct vmgc_heap *h, size_t page, size_t npages)
{
    if (!h->generational)
        return;
    for (size_t i = page; i < page + npages; i++)
        dirty_mark_written(h->arena, i);
}

/* From-space going back to the pool: untracked before it is shown again,
 * so the pool hands it out writable. */
void gen_page_freed(struct vmgc_heap *h, size_t first, size_t n)
{
    struct page_desc *desc = h->arena->pt.desc;
    int tracked = 0;
    for (size_t i = first; i < first + n; i++) {
        __atomic_store_n(&desc[i].gc_info, 0, __ATOMIC_RELAXED);
        tracked |= (ps_load(h, i) & PS_OLD) ||
                   (__atomic_load_n(&desc[i].prot, __ATOMIC_ACQUIRE) & (PD_WRITE_TRACK | PD_WRITTEN));
    }
    /* an old page's bits may be clear and its protection still read-only
     * (dirty.c, two faults at once); a page with tracking bits left must
     * not carry them to its next life, where dirty_track_pages would take
     * them for a protection in force */
    if (tracked && dirty_untrack_pages(h->arena, first, n) != 0)
        gc_fatal("making freed heap pages writable again (mprotect) failed");
}

/* cycle_lock held, after release: old_pages = pages of old objects now. */
void gen_cycle_end(struct vmgc_heap *h, size_t old_pages)
{
    h->old_pages = old_pages;
    __atomic_store_n(&h->st_old_pages, old_pages, __ATOMIC_RELAXED);
    if (young_enabled(h) && !h->mark_cycle) {
        __atomic_fetch_add(&h->st_young_collections, 1, __ATOMIC_RELAXED);
        h->young_in_a_row++;
    } else {
        /* a mark cycle frees what died in the old generation, as a full
         * one does (it leaves holes, which a full one takes back) */
        if (!h->mark_cycle)
            mark_full_cycle_done(h);
        h->old_pages_after_full = old_pages ? old_pages : 1;
        h->young_in_a_row = 0;
    }
}

/* .sol.trigger-young: the allocation before the next cycle.  Without
 * generations, growth_factor times what survived; with them the nursery
 * is initial_size, whatever the old data: a young cycle's work follows
 * what survives it, not the heap. */
size_t gen_next_trigger(struct vmgc_heap *h, size_t live)
{
    size_t next = h->generational ? 0 : (size_t)((double)live * (h->config.growth_factor - 1.0));
    return next > h->config.initial_size ? next : h->config.initial_size;
}

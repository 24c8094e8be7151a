/* collector.c -- one collection: the flip (the only pause), the concurrent
 * scan, termination, and giving from-space back; plus triggering and pacing.
 * Design: doc/design/collector.md.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "forksnap.h"
#include "internal.h"
#include "meta.h"
#include "prot.h"
#include "sys.h"
#include "lock.h"

static uint32_t cur_epoch(struct vmgc_heap *h)
{
    return __atomic_load_n(&h->epoch, __ATOMIC_ACQUIRE) & 0xffffffu;
}

static size_t count_roots(struct vmgc_heap *h)
{
    size_t n = 0;
    for (struct root_range *r = h->roots; r; r = r->next)
        n += r->count;
    return n;
}

/* .sol.prefault-roots: the flip copies what precise roots point at, reading
 * it through the collector view; touch those pages there first, so the
 * page faults happen before the pause.  roots_lock held. */
static void prefault_root_targets(struct vmgc_heap *h)
{
#if defined(__SANITIZE_THREAD__)
    /* .sol.prefault-race: the slots are read while mutators may write
     * them; a stale value only costs a useless touch.  Deliberate, so not
     * done where ThreadSanitizer would rightly report it. */
    (void)h;
    return;
#endif
    struct vm_space *vm = &h->arena->vm;
    uintptr_t last = 0;
    for (struct root_range *r = h->roots; r; r = r->next)
        for (size_t i = 0; i < r->count; i++) {
            void *p = r->slots[i];
            uintptr_t page = (uintptr_t)p & ~(uintptr_t)VM_PAGE_MASK;
            if (page != last && vm_contains(vm, p)) {
                (void)*(volatile const char *)vm_alias_of(vm, (void *)page);
                last = page;
            }
        }
}

static void record_pause(struct vmgc_heap *h, uint64_t ns)
{
    uint64_t k = __atomic_fetch_add(&h->st_pause_count, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&h->pauses[k % GC_PAUSE_RING], ns, __ATOMIC_RELAXED);
    __atomic_fetch_add(&h->st_pause_total, ns, __ATOMIC_RELAXED);
    __atomic_store_n(&h->st_last_pause, ns, __ATOMIC_RELAXED);
    if (ns > __atomic_load_n(&h->st_pause_max, __ATOMIC_RELAXED))
        __atomic_store_n(&h->st_pause_max, ns, __ATOMIC_RELAXED);
}

/* .sol.flip: stop, advance the epoch (every allocated page is now
 * from-space), pin what stacks and registers point at, forward precise
 * roots, resume.  O(threads + stack words + roots + pinned pages). */
static size_t flip(struct vmgc_heap *h, int young, int mark)
{
    struct vmgc_thread *self = threads_self(h);
    /* No lock a stopped mutator could hold may be taken while the world is
     * stopped: take the roots lock first, and fill the copy reserve now. */
    lock_take(&h->roots_lock);
    h->flip_young = young;
    roots_preprotect(h);
    checkpoint_prepare_roots(h);
    size_t nroots = count_roots(h);
    if (stash_refill(h, (unsigned)(64 + nroots / 2)) != VMGC_OK)
        gc_fatal_status("filling the copy reserve at the start of a collection failed");
    prefault_root_targets(h);
    /* .sol.stamp: held across the stop, so no page is stamped with the
     * epoch we are about to retire (pages.c). */
    lock_take(&h->pages_lock);
    size_t snapshot = h->ninuse;

    uint64_t t0 = gc_now_ns();
    threads_stop_world(h, self);
    __atomic_store_n(&h->flipping, 1, __ATOMIC_RELEASE);
    grey_reset(h);
    __atomic_store_n(&h->pending, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&h->survivor_pages, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&h->young_cycle, young, __ATOMIC_SEQ_CST); /* with the epoch */
    __atomic_store_n(&h->epoch, (cur_epoch(h) + 1) & 0xffffffu, __ATOMIC_SEQ_CST);
    __atomic_store_n(&h->cycle_running, 1, __ATOMIC_SEQ_CST);
    __atomic_fetch_add(&h->cycles_started, 1, __ATOMIC_SEQ_CST);
    mark_flip(h, mark); /* before weak_flip and the roots: both shade */
    weak_flip(h);
    for (struct vmgc_thread *t = h->threads; t; t = t->next) {
        /* .sol.tlab: a thread keeps allocating where it was, so its page is
         * pinned: whatever the thread had half-done there stays valid. */
        threads_retire_tlab(h, t);
        if (t->tlab_page != PD_NONE)
            roots_pin_word(h, (uintptr_t)pagetable_page_addr(&h->arena->pt, t->tlab_page));
    }
    roots_pin_ambiguous(h, self);
    identity_pin_objects(h);
    gen_flip(h); /* before io_flip, which makes the open pages black again */
    io_flip(h);
    roots_protect_pinned(h);
    root_blocks_grey(h);
    roots_forward_precise(h, &h->main_copier);
    checkpoint_record_roots(h);
    if (h->config.verify)
        verify_flip(h);
    __atomic_store_n(&h->flipping, 0, __ATOMIC_RELEASE);
    uint64_t pause = threads_start_world(h) - t0;
    pthread_mutex_unlock(&h->pages_lock);
    pthread_mutex_unlock(&h->roots_lock);
    record_pause(h, pause);
    if (h->config.on_pause)
        h->config.on_pause(h->config.on_pause_ctx, t0, pause);
    return snapshot;
}

/* .sol.promoted-meanwhile: a large object read as from-space may be
 * promoted (by a trap or a pacing mutator) before its run is protected;
 * the promoter's exposure can then come before our protection.  So after
 * protecting, a large object that is no longer from-space is made black
 * (scanned here if still grey; promotion happens once per cycle) and
 * exposed again.  Small from-space pages cannot change until release. */
static void protect_from_space_run(struct vmgc_heap *h, size_t first, size_t n)
{
    struct arena *a = h->arena;
    stash_keep_up(h); /* traps wait for it meanwhile (.sol.wait-refills) */
    /* .sol.resident-from-space: a small page holds objects, so it was
     * written and is resident; a large object's body may be holes */
    int resident = 1;
    for (size_t i = first; i < first + n && resident; i++)
        resident = a->pt.desc[i].space == PK_SMALL;
    char *addr = pagetable_page_addr(&a->pt, first);
    vmgc_status st = resident ? prot_hide_resident(a, addr, n << VM_PAGE_SHIFT)
                              : prot_protect(a, addr, n << VM_PAGE_SHIFT);
    if (st != VMGC_OK)
        gc_fatal_status("unmapping from-space from the mutator view failed");
    for (size_t i = first; i < first + n;) {
        struct page_desc *d = &a->pt.desc[i];
        size_t span = d->space == PK_LARGE_HEAD ? d->gc_word[1] : 1;
        if (d->space == PK_LARGE_HEAD && !ps_is_from(h, ps_load(h, i))) {
            scan_make_black(h, &h->main_copier, i, 0);
            if (prot_unprotect(a, pagetable_page_addr(&a->pt, i), span << VM_PAGE_SHIFT) != VMGC_OK)
                gc_fatal_status("exposing a large object promoted meanwhile failed");
        }
        i += span;
    }
}

typedef void (*run_fn)(struct vmgc_heap *, size_t, size_t);

/* Gathers neighbouring pages into runs (.sol.batch: one system call per
 * run, not per page; allocation order keeps from-space mostly in long
 * runs) and calls fn on each. */
struct run_acc {
    size_t first, n;
    run_fn fn;
};

static void run_add(struct vmgc_heap *h, struct run_acc *r, size_t page, size_t n)
{
    if (r->n && page == r->first + r->n) {
        r->n += n;
        return;
    }
    if (r->n)
        r->fn(h, r->first, r->n);
    r->first = page;
    r->n = n;
}

static void run_flush(struct vmgc_heap *h, struct run_acc *r)
{
    if (r->n)
        r->fn(h, r->first, r->n);
    r->n = 0;
}

static size_t run_head_pages(struct vmgc_heap *h, size_t page)
{
    struct page_desc *d = &h->arena->pt.desc[page];
    return d->space == PK_LARGE_HEAD ? d->gc_word[1] : 1;
}

static void add_if_from_space(struct vmgc_heap *h, size_t head, void *ctx)
{
    if (ps_is_from(h, ps_load(h, head)))
        run_add(h, ctx, head, run_head_pages(h, head));
}

/* Calls fn on each run of neighbouring from-space pages among the first
 * `limit` in-use entries. */
static void for_each_from_space_run(struct vmgc_heap *h, size_t limit, run_fn fn)
{
    struct run_acc run = {.fn = fn};
    pages_each_inuse(h, limit, add_if_from_space, &run);
    run_flush(h, &run);
}

/* .sol.unmap-from-space: in the background, from-space pages leave the
 * mutator view; a touch there is a root the collector never saw. */
static void protect_from_space(struct vmgc_heap *h, size_t snapshot)
{
    for_each_from_space_run(h, snapshot, protect_from_space_run);
}

static void expose_from_space_run(struct vmgc_heap *h, size_t first, size_t n)
{
    struct arena *a = h->arena;
    gen_page_freed(h, first, n);
    if (prot_unhide(a, pagetable_page_addr(&a->pt, first), n << VM_PAGE_SHIFT) != VMGC_OK)
        gc_fatal_status("exposing from-space for release failed");
}

/* Marked free and given to the pool as one run: a pool lock round per run,
 * not per page. */
static void free_from_space_run(struct vmgc_heap *h, size_t first, size_t n)
{
    struct arena *a = h->arena;
    for (size_t i = first; i < first + n; i++) {
        __atomic_store_n(&a->pt.desc[i].space, PK_NONE, __ATOMIC_RELAXED);
        ps_set(h, i, PS_MAKE(PS_FREE, 0));
    }
    if (arena_release_pages_deferred(a, pagetable_page_addr(&a->pt, first), n) != VMGC_OK)
        gc_fatal_status("releasing from-space pages failed");
}

/* Moves the from-space entries of the in-use list to h->released and
 * returns how many; *inuse_pages counts the pages left in use (the stash
 * not counted).  pages_lock held. */
static size_t take_from_space_locked(struct vmgc_heap *h, size_t *inuse_pages,
                                     size_t *old_pages)
{
    if (h->released_cap < h->ninuse) {
        meta_free(h->released);
        h->released = meta_calloc(h->inuse_cap, sizeof *h->released);
        if (!h->released)
            gc_fatal("out of memory for the collector's page list");
        h->released_cap = h->inuse_cap;
    }
    size_t kept = 0, nfrom = 0;
    *inuse_pages = *old_pages = 0;
    for (size_t k = 0; k < h->ninuse; k++) {
        uint32_t page = h->inuse[k], w = ps_load(h, page);
        if (ps_is_from(h, w)) {
            h->released[nfrom++] = page;
            continue;
        }
        h->inuse[kept++] = page;
        if (PS_STATE(w) != PS_STASH)
            *inuse_pages += run_head_pages(h, page);
        /* mark.md .sol.dead-runs: an empty old page holds no memory */
        if ((w & PS_OLD) && h->arena->pt.desc[page].space != PK_ROOTS &&
            !(__atomic_load_n(&h->arena->pt.desc[page].gc_info, __ATOMIC_RELAXED) & GI_EMPTY))
            *old_pages += run_head_pages(h, page);
    }
    h->ninuse = kept;
    return nfrom;
}

/* .sol.release-batch: from-space is exposed first, one system call per
 * run, without pages_lock (only this thread changes from-space pages now,
 * so the runs cannot go stale); then, under pages_lock, it leaves the
 * in-use list and goes back to the pool a run at a time. */
static void release_from_space(struct vmgc_heap *h)
{
    size_t inuse_pages, old_pages;
    lock_take(&h->pages_lock);
    size_t ninuse = h->ninuse;
    pthread_mutex_unlock(&h->pages_lock);
    for_each_from_space_run(h, ninuse, expose_from_space_run);
    lock_take(&h->pages_lock);
    size_t nfrom = take_from_space_locked(h, &inuse_pages, &old_pages);
    struct run_acc run = {.fn = free_from_space_run};
    for (size_t k = 0; k < nfrom; k++)
        run_add(h, &run, h->released[k], run_head_pages(h, h->released[k]));
    run_flush(h, &run);
    pthread_mutex_unlock(&h->pages_lock);
    /* .sol.live: live is what survived (copied into, pinned, promoted);
     * pages allocated during the cycle are in use but were never traced,
     * and counting them made a long cycle raise the next trigger */
    size_t live_pages = __atomic_load_n(&h->survivor_pages, __ATOMIC_RELAXED);
    /* generations.md: with young cycles, the old pages are live as far as
     * anyone knows until the next full cycle */
    __atomic_store_n(&h->st_live_after, (h->generational ? old_pages : live_pages) << VM_PAGE_SHIFT,
                     __ATOMIC_RELAXED);
    gen_cycle_end(h, old_pages);
    __atomic_store_n(&h->st_inuse_after, inuse_pages << VM_PAGE_SHIFT, __ATOMIC_RELAXED);
}

/* .sol.cgroup-budget: under a cgroup memory limit, the next cycle must
 * fit: the live data, its copy, what is allocated until the cycle starts
 * and what is allocated while it runs stay within the budget
 * (memlimit.md): half of what the two copies leave is allocated before the
 * cycle.  Before the first cycle nothing is known: a quarter of the
 * budget.  When nothing fits, collections come back to back, at least
 * every 256 KiB. */
static size_t room_within_budget(struct vmgc_heap *h, size_t live)
{
    /* mark.md .sol.budget: where the old generation is marked, not copied,
     * a cycle copies what survives of the nursery only: half of what the
     * live data leaves is the nursery, half its copy */
    size_t copied = gen_marks_old(h) ? 0 : live;
    size_t room = !live ? h->mem_budget / 4
                        : h->mem_budget > live + copied ? (h->mem_budget - live - copied) / 2 : 0;
    return room < ((size_t)256 << 10) ? (size_t)256 << 10 : room;
}

static size_t trigger_within_budget(struct vmgc_heap *h, size_t want, size_t live)
{
    if (!h->mem_budget)
        return want;
    size_t room = room_within_budget(h, live);
    return want < room ? want : room;
}

/* The pages in use now, before from-space goes back, are the cycle's peak. */
static void note_cycle_peak(struct vmgc_heap *h)
{
    h->cycle_peak_pages[h->cycle_peak_next++ % GC_PEAK_WINDOW] =
        pool_get_stats(&h->arena->pool).allocated_pages;
}

/* .sol.resident-target: keep resident what the recent cycles used at their
 * peak, and an eighth more; a page given back and faulted in again costs a
 * punch and a fresh page's zeroing (~7 us in GCBench) */
static size_t resident_target_pages(struct vmgc_heap *h)
{
    size_t peak = 0;
    for (unsigned k = 0; k < GC_PEAK_WINDOW; k++)
        if (h->cycle_peak_pages[k] > peak)
            peak = h->cycle_peak_pages[k];
    return peak + peak / 8;
}

/* .sol.cgroup-limit: under a budget, the pages mutators may hold (the
 * pool's allocation limit, which the copy reserve is not held to) leave
 * room for a copy of what the last cycle found live, and the resident
 * pages kept for reuse stay within the budget: a cycle's peak is then at
 * most the budget.  A thread that meets the limit collects and tries
 * again (heap.c take_pages); if live data outgrows half the budget, it
 * gets vmgc's out-of-memory report instead of the kernel's OOM kill. */
void collector_apply_budget(struct vmgc_heap *h, size_t live)
{
    if (!h->mem_budget)
        return;
    size_t budget_pages = h->mem_budget >> VM_PAGE_SHIFT;
    size_t live_pages = live ? live >> VM_PAGE_SHIFT : budget_pages / 2;
    size_t limit = budget_pages > 2 * live_pages ? budget_pages - live_pages : budget_pages / 2;
    if (live && gen_marks_old(h)) { /* mark.md .sol.budget: room for the nursery's copy only */
        size_t room_pages = room_within_budget(h, live) >> VM_PAGE_SHIFT;
        limit = budget_pages > room_pages ? budget_pages - room_pages : budget_pages / 2;
    }
    /* the pool counts empty old pages in use; their memory went back */
    limit += __atomic_load_n(&h->mark.empty_pages, __ATOMIC_RELAXED);
    pool_set_limit(&h->arena->pool, limit < h->limit_pages ? limit : h->limit_pages);
    size_t target = resident_target_pages(h);
    pool_set_target(&h->arena->pool, target < budget_pages ? target : budget_pages);
}

void collector_cycle(struct vmgc_heap *h)
{
    lock_take(&h->cycle_lock);
    /* .sol.fork-settle: the cycle writes through the collector view and
     * punches pages, so what a fork child is owed is copied first */
    forksnap_settle(h->arena);
    /* .sol.restore-settle: the cycle reads pages through the collector
     * view, where an image page not loaded yet would read as zero */
    restore_settle(h);
    checkpoint_cycle_begin(h);
    int kind = gen_choose(h);
    if (kind == GEN_MARK)
        mark_prepare(h);
    size_t snapshot = flip(h, kind != GEN_FULL, kind == GEN_MARK);
    checkpoint_flipped(h);
    mark_flipped(h);
    struct copier *c = &h->main_copier;
    drain_open(h); /* helpers scan while this thread protects from-space */
    finalize_cycle_marking(h, c);
    protect_from_space(h, snapshot);
    void (*hook)(struct vmgc_heap *) =
        __atomic_load_n(&h->test_after_from_space_unmapped, __ATOMIC_ACQUIRE);
    if (hook) /* tests may set it while a cycle runs */
        hook(h);
    drain_close(h, c);
    weak_cycle_end(h, c);
    if (h->mark_cycle)
        mark_finish(h); /* the young part is drained: only first writes shade now */
    if (h->config.verify) {
        struct vmgc_thread *self = threads_self(h);
        /* before the stop: a mutator may hold them; roots_lock for the root
         * blocks, taken first as in the flip */
        lock_take(&h->roots_lock);
        lock_take(&h->pages_lock);
        threads_stop_world(h, self);
        for (struct vmgc_thread *t = h->threads; t; t = t->next)
            threads_retire_tlab(h, t);
        verify_end(h);
        verify_unrooted_globals(h);
        (void)threads_start_world(h);
        pthread_mutex_unlock(&h->pages_lock);
        pthread_mutex_unlock(&h->roots_lock);
        verify_report_unrooted(h);
    }
    checkpoint_cycle_end(h);
    __atomic_store_n(&h->cycle_running, 0, __ATOMIC_SEQ_CST);
    note_cycle_peak(h);
    release_from_space(h);
    copier_flush_stats(h, c); /* the flip's root copies */
    __atomic_fetch_add(&h->st_collections, 1, __ATOMIC_RELAXED);
    void (*counted_hook)(struct vmgc_heap *) =
        __atomic_load_n(&h->test_before_cycle_counted, __ATOMIC_ACQUIRE);
    if (counted_hook)
        counted_hook(h);
    lock_take(&h->trigger_lock);
    size_t live = __atomic_load_n(&h->st_live_after, __ATOMIC_RELAXED);
    size_t next = gen_next_trigger(h, live);
    __atomic_store_n(&h->trigger_bytes, trigger_within_budget(h, next, live), __ATOMIC_RELAXED);
    __atomic_store_n(&h->allocated_since_cycle, 0, __ATOMIC_RELAXED);
    pool_set_target(&h->arena->pool, resident_target_pages(h));
    collector_apply_budget(h, live);
    h->cycles_done++;
    pthread_cond_broadcast(&h->done_cond);
    pthread_mutex_unlock(&h->trigger_lock);
    /* from-space was released without punching (.sol.trim-to-target) */
    if (pool_trim_to_target(&h->arena->pool) != VMGC_OK)
        gc_fatal_status("returning released pages to the OS failed");
    pthread_mutex_unlock(&h->cycle_lock);
}

/* A new collector thread says it runs (collector_start waits for it). */
void collector_thread_running_locked(struct vmgc_heap *h)
{
    h->collector_threads_running++;
    pthread_cond_broadcast(&h->done_cond);
}

/* .sol.idle-release: the free pages the pool keeps for reuse go back only
 * when GC_PEAK_WINDOW cycles in a row needed less (.sol.resident-target);
 * a program that stops allocating runs no more cycles and would keep them
 * for ever.  So the collector thread, idle for idle_release_ms since the
 * last cycle, gives back every free page the pool holds (the next cycle
 * sets its target again).  cycle_lock, as a cycle's own trim. */
static void idle_release(struct vmgc_heap *h)
{
    lock_take(&h->cycle_lock);
    __atomic_fetch_add(&h->st_idle_releases, 1, __ATOMIC_RELEASE); /* counted first: a
                                                                       * test sees the pages go */
    struct pool *pool = &h->arena->pool;
    pool_set_target(pool, pool_get_stats(pool).allocated_pages);
    if (pool_trim_to_target(pool) != VMGC_OK)
        gc_fatal_status("returning idle pages to the OS failed");
    pthread_mutex_unlock(&h->cycle_lock);
}

/* Waits for a cycle request (trigger_lock held); once per idle spell of
 * idle_release_ms after a cycle, releases the held pages. */
static void wait_for_request(struct vmgc_heap *h, uint64_t *released_after)
{
    while (!h->shutting_down && h->cycles_requested <= h->cycles_done &&
           !forksnap_parent_pending(h->arena)) {
        if (*released_after == h->cycles_done || h->config.idle_release_ms == UINT_MAX) {
            pthread_cond_wait(&h->trigger_cond, &h->trigger_lock);
            continue;
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        uint64_t ns = (uint64_t)until.tv_nsec + (uint64_t)h->config.idle_release_ms * 1000000u;
        until.tv_sec += (time_t)(ns / 1000000000u);
        until.tv_nsec = (long)(ns % 1000000000u);
        uint64_t done = h->cycles_done;
        if (pthread_cond_timedwait(&h->trigger_cond, &h->trigger_lock, &until) == ETIMEDOUT &&
            h->cycles_done == done && h->cycles_requested <= h->cycles_done && !h->shutting_down) {
            *released_after = done;
            pthread_mutex_unlock(&h->trigger_lock);
            idle_release(h);
            lock_take(&h->trigger_lock);
        }
    }
}

static void *collector_main(void *arg)
{
    struct vmgc_heap *h = arg;
    uint64_t released_after = 0; /* the cycle count at the last idle release */
    lock_take(&h->trigger_lock);
    collector_thread_running_locked(h);
    for (;;) {
        wait_for_request(h, &released_after);
        if (h->shutting_down)
            break;
        if (h->cycles_requested <= h->cycles_done) {
            /* .sol.fork-drain: copy for a fork child in slices, so a
             * requested cycle is not kept waiting behind the whole copy */
            pthread_mutex_unlock(&h->trigger_lock);
            lock_take(&h->cycle_lock);
            forksnap_drain(h->arena, 4096);
            pthread_mutex_unlock(&h->cycle_lock);
            lock_take(&h->trigger_lock);
            continue;
        }
        pthread_mutex_unlock(&h->trigger_lock);
        collector_cycle(h);
        lock_take(&h->trigger_lock);
    }
    pthread_mutex_unlock(&h->trigger_lock);
    return NULL;
}

vmgc_status collector_start(struct vmgc_heap *h)
{
    __atomic_store_n(&h->trigger_bytes, trigger_within_budget(h, h->config.initial_size, 0),
                     __ATOMIC_RELAXED);
    if (h->config.no_background)
        return VMGC_OK;
    /* helpers first: the first thread may start a cycle at once, and reads
     * how many there are */
    vmgc_status st = drain_helpers_start(h, h->config.collector_threads);
    if (st == VMGC_OK) {
        if (sys.pthread_create(&h->collector[0], NULL, collector_main, h) == 0)
            h->cycles_thread_started = 1;
        else
            st = error_set(VMGC_ESYSTEM, "cannot start the collector thread");
    }
    if (st != VMGC_OK) {
        collector_stop(h);
        return st;
    }
    /* .sol.started: return once every thread runs its own code.  A fork
     * right after would otherwise copy a thread half-way through its
     * start-up, which under AddressSanitizer holds the allocator's lock:
     * the child's first malloc waited on it for ever (test_fork two_heaps,
     * a heap created just before the fork) */
    lock_take(&h->trigger_lock);
    while (h->collector_threads_running < h->nhelpers + 1)
        pthread_cond_wait(&h->done_cond, &h->trigger_lock);
    pthread_mutex_unlock(&h->trigger_lock);
    return VMGC_OK;
}

void collector_stop(struct vmgc_heap *h)
{
    lock_take(&h->trigger_lock);
    h->shutting_down = 1;
    pthread_cond_broadcast(&h->trigger_cond);
    pthread_cond_broadcast(&h->drain_cond);
    pthread_mutex_unlock(&h->trigger_lock);
    if (h->cycles_thread_started)
        pthread_join(h->collector[0], NULL);
    for (unsigned i = 1; i <= h->nhelpers; i++)
        pthread_join(h->collector[i], NULL);
    h->cycles_thread_started = 0;
    h->nhelpers = 0;
}

/* .sol.trigger */
void collector_note_alloc(struct vmgc_heap *h, struct vmgc_thread *t, size_t bytes)
{
    (void)t;
    size_t since = __atomic_add_fetch(&h->allocated_since_cycle, bytes, __ATOMIC_RELAXED);
    __atomic_fetch_add(&h->st_bytes_allocated, bytes, __ATOMIC_RELAXED);
    if (h->config.no_background || since < __atomic_load_n(&h->trigger_bytes, __ATOMIC_RELAXED))
        return;
    lock_take(&h->trigger_lock);
    if (h->cycles_requested <= h->cycles_done && !__atomic_load_n(&h->cycle_running, __ATOMIC_RELAXED)) {
        h->cycles_requested = h->cycles_done + 1;
        pthread_cond_signal(&h->trigger_cond);
    }
    pthread_mutex_unlock(&h->trigger_lock);
}

/* .sol.pacing: while a cycle runs, a thread that allocates a page helps
 * scan one grey page first, so allocation cannot outrun the collector. */
void collector_help(struct vmgc_heap *h, struct vmgc_thread *t)
{
    if (!__atomic_load_n(&h->cycle_running, __ATOMIC_ACQUIRE))
        return;
    size_t page = grey_pop(h);
    if (page == PD_NONE)
        return;
    __atomic_fetch_add(&h->st_mutator_scans, 1, __ATOMIC_RELAXED);
    scan_make_black(h, &t->copier, page, 0);
    copier_retire(h, &t->copier);
}

static vmgc_status collect(struct vmgc_heap *h, int wait, int kind);

VMGC_API vmgc_status vmgc_collect(vmgc_heap *h, int wait)
{
    if (!h || h->sig != HEAP_SIG)
        return error_set(VMGC_EINVAL, "vmgc_collect: not a live heap");
    fork_settle(h);
    return collect(h, wait, GEN_FULL);
}

VMGC_API vmgc_status vmgc_collect_young(vmgc_heap *h, int wait)
{
    if (!h || h->sig != HEAP_SIG)
        return error_set(VMGC_EINVAL, "vmgc_collect_young: not a live heap");
    fork_settle(h);
    return collect(h, wait, GEN_YOUNG);
}

VMGC_API vmgc_status vmgc_collect_mark(vmgc_heap *h, int wait)
{
    if (!h || h->sig != HEAP_SIG)
        return error_set(VMGC_EINVAL, "vmgc_collect_mark: not a live heap");
    fork_settle(h);
    return collect(h, wait, GEN_MARK);
}

/* kind: what the caller asks for; GEN_YOUNG leaves it to the policy */
static void request_kind(struct vmgc_heap *h, int kind)
{
    if (kind == GEN_FULL)
        gen_request_full(h);
    else if (kind == GEN_MARK)
        gen_request_mark(h);
}

/* .sol.next-cycle: the number cycles_done reaches when the first cycle to
 * flip after this call ends.  Not cycle_running: it is cleared before
 * cycles_done counts the cycle, and a request read between the two took
 * the ending cycle, whose flip predated it, for the next one (vmgc_collect
 * returned with the caller's garbage still in the heap, and a full cycle
 * asked for became a young one). */
uint64_t collector_next_cycle(struct vmgc_heap *h)
{
    return __atomic_load_n(&h->cycles_started, __ATOMIC_SEQ_CST) + 1;
}

static vmgc_status collect(struct vmgc_heap *h, int wait, int kind)
{
    if (h->config.no_background) {
        lock_take(&h->trigger_lock);
        request_kind(h, kind);
        pthread_mutex_unlock(&h->trigger_lock);
        collector_cycle(h);
        return VMGC_OK;
    }
    struct vmgc_thread *self = threads_self(h);
    lock_take(&h->trigger_lock);
    request_kind(h, kind);
    uint64_t target = collector_next_cycle(h);
    if (h->cycles_requested < target)
        h->cycles_requested = target;
    pthread_cond_signal(&h->trigger_cond);
    if (wait) {
        if (self)
            vmgc_blocking_enter(self);
        while (h->cycles_done < target)
            pthread_cond_wait(&h->done_cond, &h->trigger_lock);
        pthread_mutex_unlock(&h->trigger_lock);
        if (self)
            vmgc_blocking_leave(self);
        return VMGC_OK;
    }
    pthread_mutex_unlock(&h->trigger_lock);
    return VMGC_OK;
}

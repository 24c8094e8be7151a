/* pool.c -- free runs with boundary tags and size-segregated lists.
 * Design: doc/design/pool.md. */
#include "config.h"

#include <string.h>

#include "error.h"
#include "pool.h"
#include "lock.h"

static unsigned bin_of(size_t n)
{
    unsigned b = 63u - (unsigned)__builtin_clzll((unsigned long long)n);
    return b < POOL_BINS ? b : POOL_BINS - 1;
}

static struct page_desc *D(struct pool *pool, size_t i)
{
    return &pool->pt->desc[i];
}

static void list_push(struct pool *pool, int kind, size_t head, size_t n)
{
    uint32_t *bin = &pool->bins[kind][bin_of(n)];
    struct page_desc *d = D(pool, head);
    d->prev = PD_NONE;
    d->next = *bin;
    if (*bin != PD_NONE)
        D(pool, *bin)->prev = (uint32_t)head;
    *bin = (uint32_t)head;
}

static void list_remove(struct pool *pool, int kind, size_t head, size_t n)
{
    struct page_desc *d = D(pool, head);
    if (d->prev != PD_NONE)
        D(pool, d->prev)->next = d->next;
    else
        pool->bins[kind][bin_of(n)] = d->next;
    if (d->next != PD_NONE)
        D(pool, d->next)->prev = d->prev;
}

/* Tag [first, first+n) as one free run of kind and list it. */
static void free_run_make(struct pool *pool, int kind, size_t first, size_t n)
{
    uint8_t tag = kind == POOL_ZERO ? PD_FREE_ZERO : PD_FREE_DIRTY;
    D(pool, first)->pool_state = tag;
    D(pool, first)->run_pages = (uint32_t)n;
    D(pool, first + n - 1)->pool_state = tag;
    D(pool, first + n - 1)->run_pages = (uint32_t)n;
    list_push(pool, kind, first, n);
}

static void run_untag(struct pool *pool, size_t first, size_t n)
{
    D(pool, first)->pool_state = PD_INTERIOR;
    D(pool, first + n - 1)->pool_state = PD_INTERIOR;
}

vmgc_status pool_init(struct pool *pool, struct vm_space *vm, struct pagetable *pt,
                      size_t target_pages)
{
    memset(pool, 0, sizeof *pool);
    pthread_mutex_init(&pool->lock, NULL);
    pool->vm = vm;
    pool->pt = pt;
    pool->target_pages = target_pages;
    pool->limit_pages = SIZE_MAX;
    for (int k = 0; k < 2; k++)
        for (int b = 0; b < POOL_BINS; b++)
            pool->bins[k][b] = PD_NONE;
    free_run_make(pool, POOL_ZERO, 0, pt->pages);
    pool->sig = POOL_SIG;
    return VMGC_OK;
}

void pool_finish(struct pool *pool)
{
    pthread_mutex_destroy(&pool->lock);
    pool->sig = 0;
}

int pool_check(struct pool *pool)
{
    return pool && pool->sig == POOL_SIG && pool->pt && pool->vm;
}

static void run_tag_allocated(struct pool *pool, size_t head, size_t npages);
static vmgc_status release_checked(struct pool *pool, size_t first, size_t npages);

/* First run of kind with at least n pages, or PD_NONE.  Lists hold runs of
 * [2^b, 2^(b+1)) pages, so only the first list searched needs a size test. */
static size_t find_run(struct pool *pool, int kind, size_t n)
{
    for (unsigned b = bin_of(n); b < POOL_BINS; b++)
        for (uint32_t i = pool->bins[kind][b]; i != PD_NONE; i = D(pool, i)->next)
            if (D(pool, i)->run_pages >= n)
                return i;
    return PD_NONE;
}

/* .sol.zero-in-place: a page is zeroed through the view that maps it
 * already.  A recycled page was the mutator's (a nursery page, mostly), so
 * zeroing it through the collector view would map it there too, and the
 * kernel counts a page in RSS once per view that maps it.  Pages with any
 * protection bit go through the collector view, which never traps. */
static int zero_through_mutator_view(const struct pool *pool, size_t page)
{
    return pool->zero_in_place &&
           (__atomic_load_n(&pool->pt->desc[page].prot, __ATOMIC_ACQUIRE) &
            ((1u << PD_GEN_SHIFT) - 1)) == 0;
}

static void zero_run(struct pool *pool, size_t head, size_t npages)
{
    for (size_t i = head, end = head + npages; i < end;) {
        int mutator = zero_through_mutator_view(pool, i);
        size_t j = i + 1;
        while (j < end && zero_through_mutator_view(pool, j) == mutator)
            j++;
        char *view = mutator ? pool->vm->base : pool->vm->alias;
        memset(view + (i << VM_PAGE_SHIFT), 0, (j - i) << VM_PAGE_SHIFT);
        i = j;
    }
}

vmgc_status pool_alloc(struct pool *pool, size_t npages, unsigned flags, size_t *first,
                       int *is_zero)
{
    if (npages == 0)
        return error_set(VMGC_EINVAL, "page run request of 0 pages; ask for at least 1");
    if (npages >= PD_NONE || npages > pool->pt->pages)
        return error_set(VMGC_ENOMEM, "page run request of %zu pages exceeds the heap of %zu pages",
                         npages, pool->pt->pages);
    lock_take(&pool->lock);
    if ((flags & POOL_WITHIN_LIMIT) && pool->stats.allocated_pages + npages > pool->limit_pages) {
        size_t limit = pool->limit_pages;
        pthread_mutex_unlock(&pool->lock);
        return error_set(VMGC_ENOMEM, "heap limit of %zu bytes reached",
                         limit << VM_PAGE_SHIFT);
    }
    /* .sol.prefer-dirty: a resident page is reused first, zeroed through
     * the alias if need be (~0.3 us a page) rather than faulting in a fresh
     * one (~3 us), which would also let stale pages pile up resident. */
    int order[2] = {POOL_DIRTY, POOL_ZERO};
    size_t head = PD_NONE;
    int kind = 0;
    for (int k = 0; k < 2 && head == PD_NONE; k++) {
        kind = order[k];
        head = find_run(pool, kind, npages);
    }
    if (head == PD_NONE && pool->stats.dirty_free_pages) {
        /* .sol.defragment: free runs of the two kinds do not merge, so a
         * request may fit only across a zero/dirty border.  Returning the
         * dirty runs to the OS turns them zero, and they merge. */
        pthread_mutex_unlock(&pool->lock);
        pool_trim(pool);
        lock_take(&pool->lock);
        kind = POOL_ZERO;
        head = find_run(pool, kind, npages);
    }
    if (head == PD_NONE) {
        struct pool_stats s = pool->stats;
        pthread_mutex_unlock(&pool->lock);
        return error_set(VMGC_ENOMEM,
                         "no free run of %zu pages in the heap (%zu of %zu pages allocated); "
                         "reserve a larger heap",
                         npages, s.allocated_pages, pool->pt->pages);
    }
    size_t have = D(pool, head)->run_pages;
    list_remove(pool, kind, head, have);
    run_untag(pool, head, have);
    if (have > npages)
        free_run_make(pool, kind, head + npages, have - npages);
    run_tag_allocated(pool, head, npages);
    pool->stats.allocated_pages += npages;
    if (head + npages > pool->hwm_pages)
        pool->hwm_pages = head + npages;
    if (kind == POOL_DIRTY)
        pool->stats.dirty_free_pages -= npages;
    int zero = kind == POOL_ZERO;
    if (!zero && (flags & POOL_NEED_ZERO)) {
        zero_run(pool, head, npages);
        pool->stats.zeroed_pages += npages;
        zero = 1;
    }
    pthread_mutex_unlock(&pool->lock);
    *first = head;
    *is_zero = zero;
    return VMGC_OK;
}

static void run_tag_allocated(struct pool *pool, size_t head, size_t npages)
{
    D(pool, head)->pool_state = PD_RUN_HEAD;
    D(pool, head)->run_pages = (uint32_t)npages;
    if (npages > 1) {
        D(pool, head + npages - 1)->pool_state = PD_RUN_TAIL;
        D(pool, head + npages - 1)->run_pages = (uint32_t)npages;
    }
}

vmgc_status pool_claim_fresh(struct pool *pool, size_t first, size_t npages)
{
    size_t pages = pool->pt->pages;
    if (npages == 0 || first >= pages || npages > pages - first)
        return error_set(VMGC_ERANGE, "pool_claim_fresh: %zu pages at page %zu are outside the "
                                      "heap",
                         npages, first);
    lock_take(&pool->lock);
    size_t whole = pool->bins[POOL_ZERO][bin_of(pages)];
    if (pool->stats.allocated_pages || whole == PD_NONE || D(pool, whole)->run_pages != pages) {
        pthread_mutex_unlock(&pool->lock);
        return error_set(VMGC_ESTATE, "pool_claim_fresh: the pool has handed out pages already");
    }
    list_remove(pool, POOL_ZERO, whole, pages);
    run_untag(pool, whole, pages);
    if (first)
        free_run_make(pool, POOL_ZERO, 0, first);
    run_tag_allocated(pool, first, npages);
    if (first + npages < pages)
        free_run_make(pool, POOL_ZERO, first + npages, pages - first - npages);
    pool->stats.allocated_pages = npages;
    pool->hwm_pages = first + npages;
    pthread_mutex_unlock(&pool->lock);
    return VMGC_OK;
}

vmgc_status pool_carve_run(struct pool *pool, size_t first, size_t npages,
                           const struct pool_run *runs, size_t count)
{
    size_t cursor = first;
    for (size_t k = 0; k < count; k++) {
        if (runs[k].n == 0 || runs[k].first < cursor || runs[k].n > first + npages - runs[k].first)
            return error_set(VMGC_EINVAL, "pool_carve_run: run %zu (%zu pages at page %zu) is "
                                          "empty, out of order or outside the run",
                             k, runs[k].n, runs[k].first);
        cursor = runs[k].first + runs[k].n;
    }
    lock_take(&pool->lock);
    vmgc_status st = release_checked(pool, first, npages);
    if (st != VMGC_OK) {
        pthread_mutex_unlock(&pool->lock);
        return st;
    }
    run_untag(pool, first, npages);
    cursor = first;
    for (size_t k = 0; k <= count; k++) {
        size_t next = k < count ? runs[k].first : first + npages;
        if (next > cursor) { /* a gap: free, and never written (a hole) */
            free_run_make(pool, POOL_ZERO, cursor, next - cursor);
            pool->stats.allocated_pages -= next - cursor;
        }
        if (k < count) {
            run_tag_allocated(pool, runs[k].first, runs[k].n);
            cursor = runs[k].first + runs[k].n;
        }
    }
    pthread_mutex_unlock(&pool->lock);
    return VMGC_OK;
}

/* Merge [*first, +*n) of kind with free neighbours of the same kind. */
static void coalesce(struct pool *pool, int kind, size_t *first, size_t *n)
{
    uint8_t tag = kind == POOL_ZERO ? PD_FREE_ZERO : PD_FREE_DIRTY;
    if (*first > 0 && D(pool, *first - 1)->pool_state == tag) {
        size_t ln = D(pool, *first - 1)->run_pages;
        size_t lf = *first - ln;
        list_remove(pool, kind, lf, ln);
        run_untag(pool, lf, ln);
        *first = lf;
        *n += ln;
    }
    size_t after = *first + *n;
    if (after < pool->pt->pages && D(pool, after)->pool_state == tag) {
        size_t rn = D(pool, after)->run_pages;
        list_remove(pool, kind, after, rn);
        run_untag(pool, after, rn);
        *n += rn;
    }
}

static vmgc_status release_checked(struct pool *pool, size_t first, size_t npages)
{
    struct page_desc *h = D(pool, first);
    if (h->pool_state != PD_RUN_HEAD) {
        const char *why = h->pool_state == PD_FREE_ZERO || h->pool_state == PD_FREE_DIRTY
                              ? "it is free already (double release?)"
                              : "it is not the first page of an allocated run";
        return error_set(VMGC_ESTATE, "cannot release pages at %p: %s",
                         (void *)pagetable_page_addr(pool->pt, first), why);
    }
    if (h->run_pages != npages)
        return error_set(VMGC_ESTATE,
                         "cannot release %zu pages at %p: the run allocated there has %u pages",
                         npages, (void *)pagetable_page_addr(pool->pt, first), h->run_pages);
    return VMGC_OK;
}

/* [first, first+npages) must be allocated runs side by side, each whole. */
static vmgc_status runs_checked(struct pool *pool, size_t first, size_t npages)
{
    for (size_t i = first, end = first + npages; i < end;) {
        size_t left = end - i, n = D(pool, i)->run_pages;
        vmgc_status st = release_checked(pool, i, D(pool, i)->pool_state == PD_RUN_HEAD &&
                                                          n <= left ? n : left);
        if (st != VMGC_OK)
            return st;
        i += n;
    }
    return VMGC_OK;
}

/* several: the range may hold several whole runs (pool_release_deferred) */
static vmgc_status release(struct pool *pool, size_t first, size_t npages, int may_punch,
                           int several)
{
    if (npages == 0 || first >= pool->pt->pages || npages > pool->pt->pages - first)
        return error_set(VMGC_ERANGE, "release of %zu pages at page %zu is outside the heap",
                         npages, first);
    lock_take(&pool->lock);
    vmgc_status st = several ? runs_checked(pool, first, npages)
                             : release_checked(pool, first, npages);
    if (st != VMGC_OK) {
        pthread_mutex_unlock(&pool->lock);
        return st;
    }
    for (size_t i = first, n; i < first + npages; i += n) {
        n = D(pool, i)->run_pages;
        run_untag(pool, i, n);
    }
    pool->stats.allocated_pages -= npages;
    int kind = POOL_DIRTY;
    /* .sol.target: over the target, a released run goes back to the OS. */
    if (may_punch &&
        pool->stats.allocated_pages + pool->stats.dirty_free_pages + npages > pool->target_pages &&
        vm_punch(pool->vm, first << VM_PAGE_SHIFT, npages << VM_PAGE_SHIFT) == VMGC_OK) {
        kind = POOL_ZERO;
        pool->stats.punched_pages += npages;
    }
    if (kind == POOL_DIRTY)
        pool->stats.dirty_free_pages += npages;
    size_t f = first, n = npages;
    coalesce(pool, kind, &f, &n);
    free_run_make(pool, kind, f, n);
    pthread_mutex_unlock(&pool->lock);
    return VMGC_OK;
}

vmgc_status pool_release(struct pool *pool, size_t first, size_t npages)
{
    return release(pool, first, npages, 1, 0);
}

vmgc_status pool_release_deferred(struct pool *pool, size_t first, size_t npages)
{
    return release(pool, first, npages, 0, 1);
}

vmgc_status pool_split_run(struct pool *pool, size_t first, size_t npages)
{
    if (npages == 0 || first >= pool->pt->pages || npages > pool->pt->pages - first)
        return error_set(VMGC_ERANGE, "split of %zu pages at page %zu is outside the heap", npages,
                         first);
    lock_take(&pool->lock);
    vmgc_status st = release_checked(pool, first, npages);
    if (st == VMGC_OK)
        for (size_t i = first; i < first + npages; i++) {
            D(pool, i)->pool_state = PD_RUN_HEAD;
            D(pool, i)->run_pages = 1;
        }
    pthread_mutex_unlock(&pool->lock);
    return st;
}

/* Punch dirty free runs until the resident pages (allocated + dirty free)
 * are down to keep: from the longest runs down, the last one only as far
 * as needed (its tail).  .sol.trim-to-target: a punch costs ~20 us whatever
 * its length (it unmaps the range from both views), and one per released
 * page was 30% of the collector thread's time in GCBench. */
static vmgc_status trim_to(struct pool *pool, size_t keep)
{
    vmgc_status st = VMGC_OK;
    lock_take(&pool->lock);
    for (int b = POOL_BINS - 1; b >= 0 && st == VMGC_OK; b--) {
        while (pool->bins[POOL_DIRTY][b] != PD_NONE) {
            size_t resident = pool->stats.allocated_pages + pool->stats.dirty_free_pages;
            if (resident <= keep)
                goto done;
            size_t f = pool->bins[POOL_DIRTY][b], n = D(pool, f)->run_pages;
            size_t k = resident - keep < n ? resident - keep : n;
            st = vm_punch(pool->vm, (f + n - k) << VM_PAGE_SHIFT, k << VM_PAGE_SHIFT);
            if (st != VMGC_OK)
                break;
            list_remove(pool, POOL_DIRTY, f, n);
            run_untag(pool, f, n);
            if (k < n)
                free_run_make(pool, POOL_DIRTY, f, n - k);
            pool->stats.dirty_free_pages -= k;
            pool->stats.punched_pages += k;
            size_t zf = f + n - k, zn = k;
            coalesce(pool, POOL_ZERO, &zf, &zn);
            free_run_make(pool, POOL_ZERO, zf, zn);
        }
    }
done:
    pthread_mutex_unlock(&pool->lock);
    return st;
}

vmgc_status pool_trim(struct pool *pool)
{
    return trim_to(pool, 0); /* every dirty run */
}

vmgc_status pool_trim_to_target(struct pool *pool)
{
    lock_take(&pool->lock);
    size_t keep = pool->target_pages;
    pthread_mutex_unlock(&pool->lock);
    return trim_to(pool, keep);
}

void pool_lock(struct pool *pool)
{
    lock_take(&pool->lock);
}

void pool_unlock(struct pool *pool)
{
    pthread_mutex_unlock(&pool->lock);
}

void pool_fork_child(struct pool *pool)
{
    pthread_mutex_init(&pool->lock, NULL);
}

/* Every run starts with a tagged page (a head, or a free run's end tag)
 * that carries its length, so the walk steps from run to run. */
size_t pool_each_allocated_locked(struct pool *pool, void (*fn)(void *ctx, size_t first, size_t n),
                                  void *ctx)
{
    for (size_t i = 0; fn && i < pool->hwm_pages;) {
        struct page_desc *d = D(pool, i);
        size_t n = d->run_pages ? d->run_pages : 1;
        if (d->pool_state == PD_RUN_HEAD)
            fn(ctx, i, n);
        i += n;
    }
    return pool->hwm_pages;
}

void pool_set_limit(struct pool *pool, size_t limit_pages)
{
    lock_take(&pool->lock);
    pool->limit_pages = limit_pages;
    pthread_mutex_unlock(&pool->lock);
}

void pool_set_target(struct pool *pool, size_t target_pages)
{
    lock_take(&pool->lock);
    pool->target_pages = target_pages;
    pthread_mutex_unlock(&pool->lock);
}

struct pool_stats pool_get_stats(struct pool *pool)
{
    lock_take(&pool->lock);
    struct pool_stats s = pool->stats;
    pthread_mutex_unlock(&pool->lock);
    return s;
}

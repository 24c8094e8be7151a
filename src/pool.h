/* pool.h -- the page pool: runs of heap pages handed out and taken back.
 *
 * Free runs are kept in two kinds: known-zero (never touched, or returned to
 * the OS) and dirty (resident, stale contents).  A caller that needs zeroed
 * pages is told whether the run is already zero, so nothing is zeroed twice.
 * When resident pages exceed the target, released runs go back to the OS.
 * Thread safety: every call takes the pool lock; never call from the trap
 * path.  Design: doc/design/pool.md.
 */
#ifndef VMGC_POOL_H
#define VMGC_POOL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "pagetable.h"
#include "vm.h"

#define POOL_BINS 32
#define POOL_SIG 0x504f4f4cu /* "POOL" */

enum pool_kind { POOL_ZERO = 0, POOL_DIRTY = 1 };

/* pool_alloc flags */
enum {
    POOL_NEED_ZERO = 1u << 0,   /* the caller needs the pages to read as zero */
    POOL_WITHIN_LIMIT = 1u << 1 /* refuse (VMGC_ENOMEM) past the allocation limit */
};

struct pool_stats {
    size_t allocated_pages;  /* in allocated runs */
    size_t dirty_free_pages; /* free but resident */
    size_t punched_pages;    /* returned to the OS, over the pool's life */
    size_t zeroed_pages;     /* zeroed by memset because no zero run fitted */
};

struct pool {
    uint32_t sig;
    pthread_mutex_t lock;
    struct vm_space *vm;
    struct pagetable *pt;
    uint32_t bins[2][POOL_BINS]; /* free-list heads.  Synchronization: lock. */
    size_t target_pages;         /* resident limit.  Synchronization: lock. */
    size_t limit_pages;          /* for POOL_WITHIN_LIMIT.  Synchronization: lock. */
    struct pool_stats stats;     /* Synchronization: lock. */
    size_t hwm_pages;            /* 1 + the highest page ever allocated.  Synchronization: lock. */
    int zero_in_place;           /* .sol.zero-in-place: zero free pages through the mutator view
                                    where it maps them writable.  Immutable after arena_create. */
};

vmgc_status pool_init(struct pool *pool, struct vm_space *vm, struct pagetable *pt,
                      size_t target_pages);
void pool_finish(struct pool *pool);
int pool_check(struct pool *pool);

/* Hand out a run of npages.  On success *first is its first page index and
 * *is_zero tells whether it reads as zero (always 1 with POOL_NEED_ZERO).
 * A dirty run is preferred: it is resident already.  With POOL_WITHIN_LIMIT,
 * a request that would take the allocated pages past the limit
 * (pool_set_limit) is refused. */
vmgc_status pool_alloc(struct pool *pool, size_t npages, unsigned flags, size_t *first,
                       int *is_zero);

/* A pool that has handed out nothing yet hands out [first, first+npages)
 * as one run: a restored heap's span, its pages at their own addresses.
 * Errors: VMGC_ERANGE, VMGC_ESTATE (not fresh); the pool is unchanged. */
vmgc_status pool_claim_fresh(struct pool *pool, size_t first, size_t npages);

/* A run of pages, for pool_carve_run. */
struct pool_run {
    size_t first, n;
};

/* Replace the allocated run [first, +npages) by the runs given (ascending,
 * apart, inside it), its other pages becoming free zero runs (they must be
 * holes: never written).  O(count).  Errors: VMGC_EINVAL (bad runs),
 * VMGC_ESTATE (not an allocated run); the pool is unchanged then. */
vmgc_status pool_carve_run(struct pool *pool, size_t first, size_t npages,
                           const struct pool_run *runs, size_t count);

/* Take back the run that pool_alloc handed out at first with npages.  A
 * partial, unknown or already released run is refused (VMGC_ESTATE) and the
 * pool is left unchanged. */
vmgc_status pool_release(struct pool *pool, size_t first, size_t npages);

/* pool_release that keeps the pages resident whatever the target, and takes
 * several allocated runs side by side at once (each must be whole; else
 * VMGC_ESTATE and nothing is released); follow a batch of these with
 * pool_trim_to_target. */
vmgc_status pool_release_deferred(struct pool *pool, size_t first, size_t npages);

/* Return dirty free pages to the OS until the resident pages (allocated +
 * dirty free) are down to the target: longest runs first, in few calls. */
vmgc_status pool_trim_to_target(struct pool *pool);

/* Turn the allocated run at first (npages) into npages one-page runs, so
 * they can be released one by one. */
vmgc_status pool_split_run(struct pool *pool, size_t first, size_t npages);

/* Return every dirty free run to the OS. */
vmgc_status pool_trim(struct pool *pool);

/* .sol.fork (forksnap.c): the lock is held across fork() so no other
 * thread is half-way through a list update, and the allocated runs are
 * walked under it: fn(ctx, first, npages) for each run below the
 * high-water mark, O(runs).  pool_fork_child re-initializes the lock in
 * the child, whose copy is held by a thread that does not exist there. */
void pool_lock(struct pool *pool);
void pool_unlock(struct pool *pool);
void pool_fork_child(struct pool *pool);
size_t pool_each_allocated_locked(struct pool *pool, void (*fn)(void *ctx, size_t first, size_t n),
                                  void *ctx); /* returns the high-water mark */

void pool_set_target(struct pool *pool, size_t target_pages);
void pool_set_limit(struct pool *pool, size_t limit_pages); /* initially: no limit */
struct pool_stats pool_get_stats(struct pool *pool);

#endif

/* arena.h -- one heap's VM layer: reservation, views, page table, page pool,
 * protection backend and dirty tracking, as one object the collector owns.
 * Design: doc/design/arena.md.
 */
#ifndef VMGC_ARENA_H
#define VMGC_ARENA_H

#include <stddef.h>
#include <stdint.h>

#include "pagetable.h"
#include "pool.h"
#include "vm.h"

#define ARENA_SIG 0x4152454eu /* "AREN" */

struct arena;

/* Called when the program touches a page protected with prot_protect(), in
 * the faulting thread, inside a signal handler, with async signals blocked
 * (doc/design/trap.md .req.callback).  It must make the page safe to expose
 * and return 0; a non-zero return is a fatal error (the callback should have
 * written its own diagnostic).  page is the mutator-view page address.  The
 * callback may be called for the same page by two threads at once and must
 * return in both only when the page is safe. */
typedef int (*arena_trap_fn)(void *ctx, void *page);

enum prot_backend_kind { PROT_UFFD = 0, PROT_MPROTECT = 1 };
enum dirty_mode_kind { DIRTY_PAGEMAP = 0, DIRTY_WP_FAULTS = 1 };

struct arena_config {
    size_t reserve_bytes;  /* address space; 0: ARENA_DEFAULT_RESERVE */
    void *fixed_base;      /* NULL: anywhere */
    size_t target_bytes;   /* resident pages kept for reuse; 0: no limit */
    const char *barrier;   /* "uffd", "mprotect", NULL: $VMGC_BARRIER or best */
    const char *dirty;     /* "pagemap", "faults", NULL: $VMGC_DIRTY or best */
};

#define ARENA_DEFAULT_RESERVE ((size_t)32 << 30)

struct arena_stats {
    uint64_t traps;          /* faults handled in a heap page */
    uint64_t barrier_calls;  /* trap callbacks made */
    uint64_t spurious;       /* traps on a page already resolved by another thread */
    uint64_t write_traps;    /* dirty fallback write faults */
    uint64_t coarsenings;    /* mprotect backend: granule size increases */
    unsigned granule_shift;  /* mprotect backend: log2 pages per protection unit */
    uint64_t protected_runs; /* mprotect backend: runs of PROT_NONE pages now */
};

/* Backend state; see protuffd.c and protmprotect.c. */
struct prot_uffd_state {
    int fd;
    int wp_async;      /* the fd has async write-protect (DIRTY_PAGEMAP can use it) */
    int wp_registered; /* the heap is registered for it (from the first dirty_begin on).
                          Synchronization: atomic. */
};

struct prot_mprotect_state {
    void *owner;          /* spin lock holder.  Synchronization: atomic. */
    unsigned level;       /* log2 pages per granule.  Synchronization: owner. */
    size_t runs;          /* PROT_NONE runs in force.  Synchronization: owner. */
    size_t run_budget;    /* coarsen above this.  Synchronization: immutable. */
    size_t hwm;           /* 1 + highest page ever protected.  Synchronization: owner. */
    uint64_t coarsenings; /* Synchronization: owner. */
};

struct dirty_state {
    int mode;        /* enum dirty_mode_kind */
    int active;      /* tracking in progress.  Synchronization: caller (one tracker). */
    int overflowed;  /* faults mode gave up at the VMA limit: all pages count as written */
    size_t first, n; /* the tracked page range */
    int pagemap_fd;
    /* .sol.page-track: a bit per 64 pages that may hold a page marked
     * PD_WRITTEN, so the collector finds the written ones without walking
     * the table.  Synchronization: atomic. */
    uint64_t *written_summary;
    size_t summary_words;
};

/* fork() support; see forksnap.c.  phase: enum in forksnap.c. */
struct forksnap_shared;
struct forksnap_state {
    int phase;        /* Synchronization: atomic. */
    int users;        /* trap handlers reading `shared`.  Synchronization: atomic. */
    int completing;   /* child: one thread copies, others wait.  Synchronization: atomic. */
    int s_fd;         /* the child's memfd */
    int pagemap_fd;   /* parent: /proc/self/pagemap, to see the child let go */
    struct forksnap_shared *shared; /* MAP_SHARED: header + a state byte per page */
    size_t shared_bytes;
    char *staging;    /* parent: S mapped, pages [0, hi) */
    char *src, *dst;  /* copy from src + offset to dst + offset */
    char *source_map; /* child: the parent's memfd (the old collector view), until complete */
    size_t hi;        /* pages [0, hi) may be owed; kept after the end (retry rule) */
    size_t cursor;    /* parent drain position.  Synchronization: the drainer. */
    uint64_t owed, copied; /* pages owed at the last fork, and copied by this process
                              for it.  Synchronization: atomic. */
    pid_t parent_pid;
    const char *failed; /* prepare: the call that failed (child's heap unusable) */
    int failed_errno;
};

struct prot_backend;

struct arena {
    uint32_t sig;
    struct vm_space vm;
    struct pagetable pt;
    struct pool pool;
    const struct prot_backend *prot;
    struct prot_uffd_state uffd;
    struct prot_mprotect_state mp;
    struct dirty_state dirty;
    struct forksnap_state fs;
    struct imageload *load; /* a restored heap's pages still loading, or NULL (imageload.c).
                               Synchronization: atomic. */
    arena_trap_fn trap_fn; /* Synchronization: set before any protection. */
    void *trap_ctx;
    /* Called with a write-tracked page's index at its first write, before it
     * is made writable (dirty.c); async-signal-safe.  Synchronization: set
     * before any tracking. */
    void (*first_write_fn)(void *ctx, size_t page);
    void *first_write_ctx;
    int slot;              /* index in the trap dispatch table */
    char prot_note[256];   /* why the automatic choice is not uffd, or "" (prot.c) */
    /* Statistics.  Synchronization: atomic (updated on the trap path). */
    uint64_t n_traps, n_barrier_calls, n_spurious, n_write_traps;
};

/* Create a heap's VM layer.  Errors: VMGC_EINVAL (bad config),
 * VMGC_EBUSY (fixed base taken), VMGC_EUNAVAILABLE (requested backend
 * unavailable: the message says why and what to do), VMGC_ENOMEM. */
vmgc_status arena_create(struct arena **out, const struct arena_config *config);
void arena_destroy(struct arena *a);
int arena_check(const struct arena *a);

/* Install the read-barrier callback.  Call before protecting anything. */
void arena_set_trap_fn(struct arena *a, arena_trap_fn fn, void *ctx);
void arena_set_first_write_fn(struct arena *a, void (*fn)(void *ctx, size_t page), void *ctx);

/* Page runs, as mutator-view addresses.  *is_zero as in pool_alloc. */
vmgc_status arena_alloc_pages(struct arena *a, size_t npages, unsigned flags, void **pages,
                              int *is_zero);
vmgc_status arena_release_pages(struct arena *a, void *pages, size_t npages);
/* Release without returning memory to the OS now; the range may hold
 * several whole runs side by side (pool_release_deferred).  A batch of
 * these is followed by pool_trim_to_target(&a->pool) (pool.h). */
vmgc_status arena_release_pages_deferred(struct arena *a, void *pages, size_t npages);

const char *arena_backend_name(const struct arena *a);
const char *arena_dirty_mode_name(const struct arena *a);
struct arena_stats arena_get_stats(struct arena *a);

/* Validate a byte range: page-aligned, non-empty, inside the heap.  On
 * success *first and *n are its page index and count. */
vmgc_status arena_range(const struct arena *a, const void *addr, size_t len, size_t *first,
                        size_t *n);

#endif

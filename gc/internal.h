/* internal.h -- the collector's internal interfaces (policy layer; reaches the OS
 * only through src/).  Design: doc/design/collector.md, pagestate.md.
 */
#ifndef VMGC_GC_H
#define VMGC_GC_H

#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <ucontext.h>
#include <stdint.h>

#include "arena.h"
#include "forksnap.h"
#include "stop.h"
#include "vmgc.h"

#define HEAP_SIG 0x48454150u   /* "HEAP" */
#define THREAD_SIG 0x54485244u /* "THRD" */
#define THREAD_DEAD 0x44454144u /* "DEAD": a detached handle */
#define GC_MAX_TYPES (1u << 20)
#define GC_MAX_COLLECTORS 8
#define GC_PAUSE_RING 4096
#define GC_PEAK_WINDOW 8 /* cycles whose peak the resident target remembers */

/* ---- page states (pagestate.md) ------------------------------------- *
 * page_desc.gc_word[0], atomic: epoch << 8 | flags << 4 | state.
 * A BLACK page of an older epoch is from-space: the flip makes every page
 * allocated so far from-space by advancing the epoch, in O(1). */
enum page_state {
    PS_FREE = 0,   /* in the pool */
    PS_STASH,      /* protected, waiting to become a copy target */
    PS_COPY,       /* copy target of one copier; protected */
    PS_SEALED,     /* copy target taken over by a trap or the terminator */
    PS_GREY,       /* to-space, not scanned; protected */
    PS_SCANNING,   /* being scanned by one thread */
    PS_BLACK,      /* scanned or allocated black (from-space if epoch is old) */
    PS_PROMOTING   /* large object being promoted in place (protect in progress) */
};
#define PS_INFLIGHT 0x10u /* flag: the owner is copying into this COPY page */
#define PS_OLD 0x20u      /* flag on BLACK: survived a collection (generations.md); a young
                             cycle does not condemn it */
#define PS_STATE(w) ((w) & 0xfu)
#define PS_EPOCH(w) ((w) >> 8)
#define PS_MAKE(state, epoch) ((uint32_t)(state) | ((uint32_t)(epoch) << 8))

/* page_desc.space: what the page holds. */
enum page_kind { PK_NONE = 0, PK_SMALL, PK_LARGE_HEAD, PK_LARGE_BODY,
                 PK_ROOTS /* a page of a root block: slots, no objects (rootblock.c) */ };
/* page_desc.gc_word[1]: small page: bytes used (parse limit);
 *                        large head: pages in the run.
 * page_desc.gc_word[2]: large body: index of the head page;
 *                        stash: next page in the stash stack;
 *                        small page: bytes already scanned (a copier's
 *                        in-place Cheney scan, .sol.cheney). */

struct gc_type {
    char *name;
    vmgc_layout layout;
    uint64_t bitmap;
    vmgc_trace_fn trace;
    size_t fixed_bytes; /* VMGC_LAYOUT_VECTOR */
    vmgc_weakness weakness; /* weak.c */
};

/* A copier: a thread that copies objects (collector threads, and mutators
 * inside a trap).  Owns at most one COPY page.  Synchronization: owner. */
struct copier {
    uint32_t page1;  /* 0, or 1 + the COPY page (so a zeroed copier has none).
                        Synchronization: written by the owner (atomic), read by the terminator. */
    uint32_t used;   /* bytes used in it */
    uint32_t hold1;  /* 0, or 1 + the page whose PS_INFLIGHT we hold while scanning it */
    int world_stopped; /* .sol.sole-copier: set by the flip around root forwarding; no
                          other copier or sealer can run, so copies take no lock'd steps */
    struct ck_batch *ck_batch; /* a collector thread's page writes for a checkpoint, batched
                                  (checkpoint.c .sol.batch); NULL elsewhere.  Synchronization:
                                  set and cleared by the cycle while the copier is idle. */
    uint64_t bytes_copied, objects_copied;
};

enum thread_state { TS_RUNNING = 0, TS_BLOCKED = 1 };

/* A vmgc_io_begin bracket (io.c): the heap pages of [buf, buf+len). */
#define GC_IO_MAX 8 /* open brackets a thread may nest */
struct io_range {
    const void *buf;
    size_t first, n; /* pages in the heap; n 0 for memory outside it */
};

struct vmgc_thread {
    struct vmgc_alloc_buffer buf; /* first: the inline fast path's view */
    uint32_t sig;
    struct vmgc_heap *heap;
    pthread_t pthread;
    uint32_t tlab_page;           /* PD_NONE or the page buf points into */
    int state;                    /* enum thread_state.  Synchronization: atomic. */
    char *stack_base;             /* highest address of the stack */
    char *stack_lo;               /* lowest (for the main thread: as far as it may grow) */
    char *stack_sp;               /* lowest live address, saved when stopped/blocked */
    char *recent_sp;              /* a frame of the allocation slow path, lately (roots.c
                                     .sol.preprotect-sample).  Synchronization: atomic. */
    ucontext_t regs;              /* registers, saved when blocked (getcontext: unmangled) */
    pid_t tid;                    /* kernel thread id */
    uint32_t stop_sent;           /* the stop generation last signalled to this thread */
    uint32_t stop_acked;          /* ... and last acknowledged.  Synchronization: atomic. */
    struct stop_pull pull;        /* .sol.pull; Synchronization: heap->threads_lock. */
    struct copier copier;         /* used inside traps */
    size_t alloc_since_help;      /* pacing */
    struct io_range io[GC_IO_MAX]; /* open I/O brackets.  Synchronization: roots_lock. */
    unsigned nio;
    struct vmgc_thread *next;     /* Synchronization: heap->threads_lock. */
};

/* .sol.region: an ambiguous root range (vmgc_root_add_region): every word in
 * it that points into the heap pins its page, as a stack's words do. */
struct root_region {
    const char *lo, *hi;
    struct root_region *next;
};

struct root_range {
    void **slots;
    size_t count;
    char *name; /* vmgc_root_add_named: kept in checkpoints under it; else NULL */
    int owned;  /* slots are vmgc's (a restored root not taken back yet, restore.c) */
    struct root_range *next;
};

/* .sol.root-block: root slots on heap pages of their own, greyed at the
 * flip and scanned like any grey page (rootblock.c). */
struct root_block {
    void **slots;      /* mutator-view address of the first page */
    size_t first, npages, count;
    struct root_block *next;
};

/* page_desc.gc_info of a run's head page */
#define GI_SWEEP 2u /* old at a mark cycle's flip: swept at its end (mark.md .sol.candidates) */
#define GI_HOLES 4u /* a mark cycle left holes here (mark.md .sol.hole) */
#define GI_KEEP 8u  /* a thread's allocation page at a mark cycle's flip: traced, not swept
                       (mark.md .sol.tlab-kept) */
#define GI_EMPTY 16u /* swept whole and given back to the OS, but kept as an old page
                        (mark.md .sol.dead-runs) */

/* mark.c: a mark cycle's state (doc/design/mark.md). */
struct mark_state {
    int supported;     /* immutable after creation */
    int active;        /* shading is on.  Synchronization: atomic. */
    uint32_t shading;  /* first writes shading now.  Synchronization: atomic. */
    uint64_t *bits;    /* marked: a bit per 8-byte granule, at an object's payload.
                          Synchronization: atomic; cleared by the sweep. */
    uint64_t *scanned; /* the marker's own: scanned objects */
    uint64_t *grey;    /* a bit per page: marked there by others, not scanned yet.
                          Synchronization: atomic. */
    size_t words;      /* of bits and scanned */
    void **stack;      /* the marker's */
    size_t sp, cap;
    size_t hole_bytes; /* in old pages since the last sweep (none after a full cycle).
                          Synchronization: cycle_lock. */
    uint64_t *dead;    /* a bit per page: swept whole this cycle.  The collector's. */
    uintptr_t *later;  /* conservative roots of the flip, resolved after it
                          (.sol.ambiguous-later).  The flip's, then the collector's. */
    size_t nlater, later_cap, later_seen; /* seen: words the last flip had */
    size_t empty_pages; /* GI_EMPTY pages now.  Synchronization: atomic. */
    uint64_t st_cycles, st_objects_marked, st_pages_freed, st_objects_freed, st_bytes_freed;
};

struct helper_arg {
    struct vmgc_heap *h;
    unsigned index;
};

struct vmgc_heap {
    uint32_t sig;
    struct arena *arena;
    vmgc_config config;
    size_t limit_pages;

    uint32_t epoch;        /* Synchronization: atomic; changes only in the flip. */
    int cycle_running;     /* Synchronization: atomic. */
    int flipping;          /* the world is stopped for a flip.  Synchronization: atomic. */
    uint32_t pending;      /* non-black to-space pages this cycle.  Synchronization: atomic. */
    size_t survivor_pages; /* pages copied into, pinned or promoted this cycle (.sol.live).
                              Synchronization: atomic; reset in the flip. */

    /* types.  Synchronization: types_lock for writers; readers index
     * types[] (entries never move: fixed array reserved at creation). */
    pthread_mutex_t types_lock;
    struct gc_type *types;
    uint32_t ntypes;

    /* threads.  Synchronization: threads_lock. */
    pthread_mutex_t threads_lock;
    struct vmgc_thread *threads;
    struct vmgc_thread *dead_threads; /* detached handles, reused by attach, freed with the heap */
    pthread_key_t thread_key;
    uint32_t world_stopped; /* stop generation, odd while stopped; futex word.  Synchronization: atomic. */
    sem_t stop_ack;

    /* roots.  Synchronization: roots_lock. */
    pthread_mutex_t roots_lock;
    struct root_range *roots;
    struct pin_table *pins; /* vmgc_pin'd objects (identity.c) */
    /* .sol.pin-batch: pages pinned in the flip, protected in runs at its
     * end.  A bit per heap page; the flip's. */
    uint64_t *pin_bits;
    size_t pin_lo, pin_hi;  /* words of pin_bits that may be set: [lo, hi) */
    /* .sol.preprotect: the small pages the last flip pinned, protected
     * before the next flip stops the world.  Same shape as pin_bits;
     * roots_lock. */
    uint64_t *prepin_bits;
    size_t prepin_lo, prepin_hi;
    uint64_t st_pins_preprotected; /* pins found protected already.  Synchronization: atomic. */
    uint64_t st_idle_releases;     /* collector.c .sol.idle-release.  Synchronization: atomic. */
    /* .sol.pin-tally: what the flip's pins add to the shared counters,
     * counted in plain fields (the world is stopped and one thread pins)
     * and added once, when the pinning is over (roots_protect_pinned). */
    struct {
        uint64_t pins, survivor_pages, pending, preprotected, remembered;
    } pin_tally;
    struct root_region *regions;
    int data_segments_rooted; /* vmgc_root_add_data_segments was called */
    /* verification: the main program's writable segments, looked up at
     * creation (not in a stopped world: dl_iterate_phdr takes the loader's
     * lock), for naming globals that are not roots (verify.c).  Immutable. */
    struct root_region *verify_globals;
#define VERIFY_UNROOTED 16
    struct {
        const char *global;
        void *object;
        uint32_t type;
    } unrooted[VERIFY_UNROOTED]; /* found in a stopped world, told after it (verify.c) */
    unsigned n_unrooted;
    struct root_block *root_blocks;

    /* pages in use: run heads, appended under pages_lock. */
    pthread_mutex_t pages_lock;
    uint32_t *inuse;
    size_t ninuse, inuse_cap;
    uint32_t *released;   /* from-space run heads taken off inuse; the collector's */
    size_t released_cap;

    /* protected free pages for copiers (lock-free stack: tag << 32 | index). */
    uint64_t stash_head;   /* Synchronization: atomic. */
    uint32_t stash_count;  /* Synchronization: atomic. */

    /* grey queue: page indices + 1; head/tail atomic. */
    uint32_t *grey;
    size_t grey_cap;
    uint64_t grey_head, grey_tail;

    /* the collector */
    pthread_mutex_t cycle_lock;  /* one cycle at a time */
    pthread_mutex_t trigger_lock;
    pthread_cond_t trigger_cond; /* wakes the collector */
    pthread_cond_t done_cond;    /* a cycle finished */
    uint64_t cycles_requested, cycles_done; /* Synchronization: trigger_lock. */
    uint64_t cycles_started; /* flips so far (collector_next_cycle).  Synchronization: atomic,
                                written in the flip with the world stopped. */
    int shutting_down;
    pthread_t collector[GC_MAX_COLLECTORS]; /* [0] runs cycles, [1..nhelpers] help drain */
    int cycles_thread_started;
    unsigned collector_threads_running; /* started and past their start-up (collector_start
                                           waits for them).  Synchronization: trigger_lock. */
    unsigned nhelpers; /* written before collector[0] starts */
    struct copier main_copier;   /* the flip's and the collector thread's */
    /* drain helpers (.sol.helpers).  Synchronization: trigger_lock, except
     * the copiers (their owner; page1 atomic for sealers). */
    pthread_cond_t drain_cond;   /* a drain opened, or the last helper left it */
    uint64_t drain_generation;
    int drain_is_open;
    unsigned helpers_draining;
    struct copier helper_copier[GC_MAX_COLLECTORS];
    struct helper_arg helper_arg[GC_MAX_COLLECTORS];
    /* generations (generations.c).  young_cycle: the cycle running (or
     * the last) is young.  Synchronization: atomic, set in the flip. */
    int generational; /* Synchronization: immutable after creation. */
    int young_cycle;
    int flip_young;           /* the coming flip's choice.  Synchronization: roots_lock. */
    uint64_t full_requested;  /* a full cycle must run before cycles_done reaches this.
                                 Synchronization: trigger_lock. */
    size_t old_pages;         /* pages of old objects after the last cycle.  Synchronization:
                                 cycle_lock. */
    size_t old_pages_after_full; /* and after the last full one.  Synchronization: cycle_lock. */
    unsigned young_in_a_row;  /* young cycles since the last full one.  Synchronization:
                                 cycle_lock. */
    int mark_cycle;           /* the cycle running (or the last) marks the old generation
                                 (mark.c).  Synchronization: set in the flip. */
    uint64_t mark_requested;  /* like full_requested, for a mark cycle.  Synchronization:
                                 trigger_lock. */
    struct mark_state mark;
    uint64_t st_young_collections, st_remembered_pages, st_old_pages, st_track_failures;
                              /* Synchronization: atomic. */
    size_t allocated_since_cycle; /* bytes.  Synchronization: atomic. */
    size_t trigger_bytes;         /* Synchronization: trigger_lock. */
    size_t mem_budget;            /* .sol.cgroup-budget: bytes of heap the cgroup leaves us, 0: no
                                     limit.  Synchronization: immutable after creation. */
    /* pages in use at the end of each of the last cycles (their peak), for
     * the pool's resident target.  Synchronization: cycle_lock. */
    size_t cycle_peak_pages[GC_PEAK_WINDOW];
    unsigned cycle_peak_next;

    /* statistics.  Synchronization: atomic. */
    uint64_t st_collections, st_bytes_allocated, st_bytes_copied, st_objects_copied;
    uint64_t st_pages_pinned, st_large_promoted, st_traps, st_mutator_scans, st_collector_scans;
    uint64_t st_pause_count, st_pause_total, st_pause_max, st_last_pause;
    uint64_t st_stop_pulls;
    uint64_t st_forks, st_fork_pause_max; /* Synchronization: fork handlers (fork_lock). */
    uint64_t fork_pause_start;
#define GC_IO_KEEP 64
    struct forksnap_keep io_keep[GC_IO_KEEP]; /* open brackets' pages, for the fork's
                                                 prepare (io.c).  Synchronization: fork
                                                 handlers. */
    int fork_self_was_blocked; /* the forking thread was in a blocking section.
                                  Synchronization: fork handlers. */
    int collector_restart; /* a fork child starts its collector threads on demand.
                              Synchronization: atomic; cycle_lock to act on it. */
    size_t st_live_after, st_inuse_after;
    uint64_t pauses[GC_PAUSE_RING];

    /* checkpoints (checkpoint.c): one waiting for a cycle, the one the
     * running cycle saves, and the one not waited for yet.  Synchronization:
     * atomic (pending, active); trigger_lock (unfinished). */
    struct vmgc_checkpoint *ck_pending, *ck_active, *ck_unfinished;
    uint64_t st_checkpoints; /* Synchronization: atomic. */
    /* a heap made from an image (restore.c), or NULL.  Synchronization:
     * immutable after creation. */
    struct restored *restored;

    /* weak references (weak.c).  weak_phase, weak_readers: atomic;
     * weak_as_strong: set in the flip; weak_bits: a bit per heap page,
     * set atomically by scans (traps too), read and cleared by the
     * collector thread at the cycle's end. */
    int weak_phase;        /* enum weak_phase */
    uint32_t weak_readers; /* loads that may still copy (.sol.weak-handshake) */
    int weak_as_strong;    /* a checkpoint's cycle: weak slots are traced (.sol.weak-image) */
    uint64_t *weak_bits;
    int weak_marked;       /* a bit of weak_bits is set */
    uint64_t st_weak_cleared, st_ephemerons_broken; /* Synchronization: atomic. */
    /* finalization (finalize.c).  Synchronization: fin_lock. */
    pthread_mutex_t fin_lock;
    void **fin_registered, **fin_queue;
    size_t fin_nregistered, fin_registered_cap, fin_nqueue, fin_queue_cap, fin_queue_head;
    uint64_t st_finalized;

    /* Tests only: runs in the collector once from-space is unmapped, so a
     * test can touch from-space at a known moment instead of racing a timer. */
    void (*test_after_from_space_unmapped)(struct vmgc_heap *h);
    void (*test_before_cycle_counted)(struct vmgc_heap *h); /* cycle_running is 0 already */
};

/* ---- the page state's primitives: async-signal-safe; inline, as the
 * flip calls them for every pinned page (roots.md .sol.pin-tally) ---- */
static inline uint32_t *ps_word(struct vmgc_heap *h, size_t page)
{
    return &h->arena->pt.desc[page].gc_word[0];
}

static inline uint32_t ps_load(struct vmgc_heap *h, size_t page)
{
    return __atomic_load_n(ps_word(h, page), __ATOMIC_ACQUIRE);
}

static inline int ps_cas(struct vmgc_heap *h, size_t page, uint32_t expect, uint32_t desired)
{
    return __atomic_compare_exchange_n(ps_word(h, page), &expect, desired, 0, __ATOMIC_ACQ_REL,
                                       __ATOMIC_ACQUIRE);
}

static inline void ps_set(struct vmgc_heap *h, size_t page, uint32_t value)
{
    __atomic_store_n(ps_word(h, page), value, __ATOMIC_RELEASE);
}

/* .sol.epoch: from-space is "black, but from an older epoch"; in a young
 * cycle, not old (generations.md .sol.young). */
static inline int ps_is_from(struct vmgc_heap *h, uint32_t word)
{
    return PS_STATE(word) == PS_BLACK &&
           PS_EPOCH(word) != (__atomic_load_n(&h->epoch, __ATOMIC_ACQUIRE) & 0xffffffu) &&
           !((word & PS_OLD) && __atomic_load_n(&h->young_cycle, __ATOMIC_RELAXED));
}

/* a large object's body page -> its head */
static inline size_t ps_head_of(struct vmgc_heap *h, size_t page)
{
    struct page_desc *d = &h->arena->pt.desc[page];
    return __atomic_load_n(&d->space, __ATOMIC_RELAXED) == PK_LARGE_BODY ? d->gc_word[2] : page;
}
int large_is_leaf(struct vmgc_heap *h, size_t head); /* no pointers: black when promoted */

/* ---- pages.c: page supply ---- */
vmgc_status pages_take(struct vmgc_heap *h, size_t n, size_t *first); /* zeroed, counted in use */
void pages_note_inuse(struct vmgc_heap *h, size_t first);
void pages_note_inuse_locked(struct vmgc_heap *h, size_t first);
void pages_stamp_black(struct vmgc_heap *h, size_t page, struct vmgc_thread *self, int as_tlab);
vmgc_status stash_refill(struct vmgc_heap *h, unsigned want);
void stash_wait_turn(struct vmgc_heap *h, int in_signal);
void stash_keep_up(struct vmgc_heap *h);
/* fn on each in-use run head among the first limit entries, outside pages_lock
 * (read in blocks). */
void pages_each_inuse(struct vmgc_heap *h, size_t limit,
                      void (*fn)(struct vmgc_heap *h, size_t head, void *ctx), void *ctx);
size_t stash_pop(struct vmgc_heap *h); /* PD_NONE when empty; async-signal-safe */
void grey_push(struct vmgc_heap *h, size_t page); /* async-signal-safe */
size_t grey_pop(struct vmgc_heap *h);             /* PD_NONE when empty */
void grey_reset(struct vmgc_heap *h);
int grey_pop_peek_empty(struct vmgc_heap *h);

/* ---- lookahead.c: forwarding behind prefetches (.sol.lookahead) ---- */
#define LOOKAHEAD_SLOTS 16       /* how far forwarding runs behind the scan */
#define LOOKAHEAD_BODY_LINES 4   /* cache lines of a target prefetched */
struct lookahead {
    struct vmgc_heap *h;
    struct copier *c;
    int in_signal;
    unsigned head, n;
    void **ring[LOOKAHEAD_SLOTS];
};
void lookahead_init(struct lookahead *la, struct vmgc_heap *h, struct copier *c, int in_signal);
/* Forwards *slot later (by lookahead_flush at the latest): the slot must
 * stay valid and unwritten by anyone else until then.  Used for the
 * precise roots in the flip, where the world is stopped. */
void lookahead_push(struct lookahead *la, void **slot);
void lookahead_flush(struct lookahead *la);

/* ---- scan.c ---- */
void *scan_forward(struct vmgc_heap *h, struct copier *c, void *p, int in_signal);
static inline void scan_forward_slot(struct vmgc_heap *h, struct copier *c, void **slot,
                                     int in_signal)
{
    void *old = *slot;
    void *nw = scan_forward(h, c, old, in_signal);
    if (nw != old) /* no store to a slot that does not change */
        *slot = nw;
}
void scan_page(struct vmgc_heap *h, struct copier *c, size_t page, int in_signal);
void scan_discard_grey(struct vmgc_heap *h, size_t page);
/* A pinned grey page whose pointers are all to-space already (io.c): black
 * now, without a scan or a protection.  The flip only. */
void scan_black_in_place(struct vmgc_heap *h, size_t page, size_t npages);
void scan_object(struct vmgc_heap *h, struct copier *c, char *alias_obj, uint64_t header,
                 int in_signal);
/* Each pointer slot of an object of type t, by its layout (weak slots
 * included); fn may be called on a local copy (a trace callback's). */
void object_each_slot(const struct gc_type *t, char *obj, size_t size,
                      void (*fn)(void **slot, void *ctx), void *ctx);
/* Claim-and-scan for a page in any state; returns when it is black. */
void scan_make_black(struct vmgc_heap *h, struct copier *c, size_t page, int in_signal);
int scan_make_black_checked(struct vmgc_heap *h, struct copier *c, size_t page, int in_signal);
void copier_retire(struct vmgc_heap *h, struct copier *c);
void copier_flush_stats(struct vmgc_heap *h, struct copier *c);
int copier_scan_own(struct vmgc_heap *h, struct copier *c, int in_signal, unsigned max_pages);
void copier_finish_own(struct vmgc_heap *h, struct copier *c);
void copier_seal(struct vmgc_heap *h, size_t page, struct copier *c, int in_signal);
size_t object_start(struct vmgc_heap *h, size_t page, uintptr_t addr, uint64_t *header);

/* ---- barrier.c: the trap callback ---- */
int barrier_trap(void *ctx, void *page);

/* ---- threads.c ---- */
vmgc_status threads_init(struct vmgc_heap *h);
void threads_fini(struct vmgc_heap *h);
void threads_stop_world(struct vmgc_heap *h, struct vmgc_thread *self);
uint64_t threads_start_world(struct vmgc_heap *h); /* returns when the world was released */
struct vmgc_thread *threads_self(struct vmgc_heap *h);
void threads_retire_tlab(struct vmgc_heap *h, struct vmgc_thread *t);
void threads_lock_blocked(struct vmgc_thread *self, pthread_mutex_t *m);

/* .sol.no-asan (roots.md): conservative scans read whole stacks, frames and
 * data segments, redzones and words other threads write included (they are
 * stopped, which the sanitizers cannot see); that is the point, so they are
 * not instrumented. */
#if defined(__SANITIZE_ADDRESS__)
#define GC_CONSERVATIVE_SCAN __attribute__((no_sanitize_address))
#elif defined(__SANITIZE_THREAD__)
#define GC_CONSERVATIVE_SCAN __attribute__((no_sanitize("thread")))
#else
#define GC_CONSERVATIVE_SCAN
#endif

/* ---- roots.c ---- */
vmgc_status roots_add_owned(struct vmgc_heap *h, const char *name, const uint64_t *values,
                            size_t count);
/* Move the owned root `name` to the caller's slots (count of them). */
vmgc_status roots_take_owned(struct vmgc_heap *h, const char *name, void **slots, size_t count);
void roots_pin_ambiguous(struct vmgc_heap *h, struct vmgc_thread *self);
void roots_pin_word(struct vmgc_heap *h, uintptr_t word);
/* The flip, after every pin: protect the pinned pages, a run per call. */
void roots_protect_pinned(struct vmgc_heap *h);
/* Before the flip's stop (roots_lock held, world running): protect what
 * the last flip pinned (.sol.preprotect). */
void roots_preprotect(struct vmgc_heap *h);
void roots_forward_precise(struct vmgc_heap *h, struct copier *c);
/* The main program's writable segments as a list of regions (NULL: none or
 * no memory); the caller frees it with roots_free_regions. */
struct root_region *roots_program_segments(void);
void roots_free_regions(struct root_region *r);

/* Every word of [lo, hi) that points into the heap pins its page (the
 * flip, world stopped). */
void roots_pin_range(struct vmgc_heap *h, const void *lo, const void *hi);

/* ---- io.c: system calls on heap memory (trap.md .sol.io-bracket) ---- */
void io_flip(struct vmgc_heap *h); /* world stopped, roots_lock held, before the pins' protection */
/* The open brackets' pages as runs (at most max); roots_lock held. */
size_t io_keep_runs(struct vmgc_heap *h, struct forksnap_keep *out, size_t max);
void io_ready_thread(struct vmgc_thread *t); /* a fork child's own brackets */

/* ---- rootblock.c ---- */
void root_blocks_grey(struct vmgc_heap *h);
void root_blocks_free_all(struct vmgc_heap *h);

/* ---- collector.c ---- */
vmgc_status collector_start(struct vmgc_heap *h);
void collector_stop(struct vmgc_heap *h);
void collector_cycle(struct vmgc_heap *h);
uint64_t collector_next_cycle(struct vmgc_heap *h); /* the first cycle to flip after the call */

/* ---- generations.c: young and full cycles, the remembered set
 * (doc/design/generations.md) ---- */
enum gen_kind { GEN_FULL = 0, GEN_YOUNG = 1, GEN_MARK = 2 };
int gen_choose(struct vmgc_heap *h);             /* before the flip, cycle_lock held */
int gen_marks_old(struct vmgc_heap *h); /* old collections mark in place (mark.md) */
void gen_request_mark(struct vmgc_heap *h);      /* trigger_lock held */
void gen_flip(struct vmgc_heap *h);              /* world stopped, before io_flip */
void gen_page_survived(struct vmgc_heap *h, size_t page, size_t npages, int in_signal);
void gen_page_kept_open(struct vmgc_heap *h, size_t page, size_t npages);
void gen_page_freed(struct vmgc_heap *h, size_t first, size_t n);
void gen_stash_refilled(struct vmgc_heap *h, size_t first, size_t n);
void gen_cycle_end(struct vmgc_heap *h, size_t old_pages); /* cycle_lock held */
size_t gen_next_trigger(struct vmgc_heap *h, size_t live);
void gen_request_full(struct vmgc_heap *h);
void roots_grey_old(struct vmgc_heap *h, size_t head); /* roots.c: a remembered page, in the flip */
void collector_note_alloc(struct vmgc_heap *h, struct vmgc_thread *t, size_t bytes);
void collector_help(struct vmgc_heap *h, struct vmgc_thread *t);
void collector_apply_budget(struct vmgc_heap *h, size_t live);
void collector_thread_running_locked(struct vmgc_heap *h); /* trigger_lock held */

/* ---- drain.c ---- */
vmgc_status drain_helpers_start(struct vmgc_heap *h, unsigned n); /* threads 2..n */
void drain_open(struct vmgc_heap *h);                   /* after the flip: wake helpers */
void drain_close(struct vmgc_heap *h, struct copier *c); /* drain; wait for helpers */
void drain_alone(struct vmgc_heap *h, struct copier *c); /* after drain_close: more work */

/* ---- weak.c: weak slots and ephemerons (weak.md) ---- */
enum weak_phase { WEAK_MARKING = 0, WEAK_CLEARING, WEAK_SETTLED };
vmgc_status weak_heap_init(struct vmgc_heap *h);
void weak_heap_destroy(struct vmgc_heap *h);
void weak_flip(struct vmgc_heap *h); /* world stopped */
/* scan_object's part for objects of weak types; async-signal-safe */
void weak_scan_object(struct vmgc_heap *h, struct copier *c, char *alias_obj, uint64_t header,
                      const struct gc_type *t, int in_signal);
/* After the drain: decide, keep what finalization needs, clear. */
void weak_cycle_end(struct vmgc_heap *h, struct copier *c);
/* Ephemerons whose keys are alive keep their values, until no more do. */
void weak_settle_ephemerons(struct vmgc_heap *h, struct copier *c);
/* Whether a pointer's object is kept by this cycle so far (*now: its
 * address from now on), or 0: a from-space object nothing reached yet. */
int weak_referent_alive(struct vmgc_heap *h, void *p, void **now);
int type_word_is_pointer(const struct gc_type *t, size_t i);

/* ---- finalize.c: finalization (weak.md .sol.finalize) ---- */
void finalize_heap_destroy(struct vmgc_heap *h);
void finalize_cycle_marking(struct vmgc_heap *h, struct copier *c); /* after the flip */
void finalize_cycle_end(struct vmgc_heap *h, struct copier *c);     /* weak_cycle_end's */
void finalize_get_stats(struct vmgc_heap *h, vmgc_stats *s);

/* ---- fork.c ---- */
vmgc_status fork_register(struct vmgc_heap *h);
void fork_unregister(struct vmgc_heap *h);
void fork_settle_slow(struct vmgc_heap *h);
/* Every entry point that may touch heap pages or needs the collector
 * calls this first: in a fork child it completes the copy and starts the
 * collector threads (fork.c).  Two atomic loads otherwise. */
static inline void fork_settle(struct vmgc_heap *h)
{
    if (__builtin_expect(__atomic_load_n(&h->arena->fs.phase, __ATOMIC_ACQUIRE) >= 3 ||
                             __atomic_load_n(&h->collector_restart, __ATOMIC_ACQUIRE),
                         0))
        fork_settle_slow(h);
}

/* ---- identity.c: identity hashing and pinning ---- */
void identity_pin_objects(struct vmgc_heap *h); /* flip, world stopped, roots_lock held */
void identity_heap_destroy(struct vmgc_heap *h);

/* ---- checkpoint.c: saving a heap, riding on a cycle ---- */
void checkpoint_cycle_begin(struct vmgc_heap *h);   /* before the flip: take a pending one */
void checkpoint_prepare_roots(struct vmgc_heap *h); /* flip, roots_lock held, world running */
void checkpoint_record_roots(struct vmgc_heap *h);  /* flip, world stopped, roots forwarded */
void checkpoint_flipped(struct vmgc_heap *h);       /* after the flip */
void checkpoint_cycle_end(struct vmgc_heap *h);     /* every to-space page black */
void checkpoint_heap_destroy(struct vmgc_heap *h);
/* A to-space page turns black: save it first (c: whoever blackens it, or
 * NULL).  Async-signal-safe when c has no batch (traps never have one). */
void checkpoint_save(struct vmgc_heap *h, struct copier *c, size_t page, size_t npages);
static inline int checkpoint_active(struct vmgc_heap *h)
{
    return __atomic_load_n(&h->ck_active, __ATOMIC_ACQUIRE) != NULL;
}

/* ---- restore.c: a heap from an image ---- */
void restore_settle(struct vmgc_heap *h);  /* every page loaded (before a cycle, a fork) */
void restore_heap_destroy(struct vmgc_heap *h);
extern int restore_test_no_loader; /* tests: pages load on touch only */
void restore_get_stats(struct vmgc_heap *h, vmgc_stats *st);

/* ---- mark.c: mark cycles (doc/design/mark.md) ---- */
vmgc_status mark_heap_init(struct vmgc_heap *h);
void mark_heap_destroy(struct vmgc_heap *h);
void mark_prepare(struct vmgc_heap *h);          /* before the flip, cycle_lock held */
void mark_flip(struct vmgc_heap *h, int mark);   /* world stopped, before the roots */
void mark_flipped(struct vmgc_heap *h);          /* after the flip, before the drain */
void mark_finish(struct vmgc_heap *h);           /* after the young part's drain */
void mark_full_cycle_done(struct vmgc_heap *h);
void mark_shade_page(void *ctx, size_t page);    /* an old page's first write; traps */
void mark_shade_ambiguous(struct vmgc_heap *h, size_t head, uintptr_t word); /* flip */
void mark_shade_slow(struct vmgc_heap *h, void *p);
void mark_get_stats(struct vmgc_heap *h, vmgc_stats *s);
/* A pointer a scan met outside from-space: marked if it names an old object
 * of a mark cycle.  Async-signal-safe. */
static inline void mark_shade(struct vmgc_heap *h, void *p)
{
    if (__builtin_expect(__atomic_load_n(&h->mark.active, __ATOMIC_RELAXED), 0))
        mark_shade_slow(h, p);
}

/* ---- verify.c ---- */
void verify_flip(struct vmgc_heap *h);
void verify_end(struct vmgc_heap *h);
void verify_unrooted_globals(struct vmgc_heap *h); /* world stopped, before from-space goes */
void verify_report_unrooted(struct vmgc_heap *h);  /* after the world runs again */

/* ---- heap.c ---- */
void heap_init_locks(struct vmgc_heap *h);
uint64_t gc_now_ns(void);
__attribute__((noreturn)) void gc_fatal(const char *msg);
__attribute__((noreturn)) void gc_fatal_status(const char *what); /* + the last error */

/* .sol.hole (mark.md): a dead object swept in place becomes a hole: type
 * 0 (no type: nothing scans it) with its span less the header as the size,
 * and the hashed bit, so that even a hole of one word is not a zero header
 * (which ends a page). */
static inline uint64_t hdr_make_hole(size_t span)
{
    return ((uint64_t)(span - VMGC_HEADER_BYTES) << VMGC_SIZE_SHIFT) | VMGC_HDR_HASHED;
}

static inline int hdr_is_hole(uint64_t h)
{
    return h != 0 && !(h & 1) && ((h >> VMGC_TYPE_SHIFT) & (GC_MAX_TYPES - 1)) == 0;
}

static inline size_t gc_round8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

static inline uint64_t hdr_load(const char *alias_obj)
{
    return __atomic_load_n((const uint64_t *)(alias_obj - VMGC_HEADER_BYTES), __ATOMIC_ACQUIRE);
}

static inline size_t hdr_size(uint64_t h)
{
    return (size_t)(h >> VMGC_SIZE_SHIFT);
}

static inline uint32_t hdr_type(uint64_t h)
{
    return (uint32_t)(h >> VMGC_TYPE_SHIFT) & (GC_MAX_TYPES - 1);
}

static inline int hdr_forwarded(uint64_t h)
{
    return (int)(h & 1);
}

/* A forwarding word: the copy's address | 1, and | 2 when the copy is a
 * word longer than the original (its identity hash stored at the copy). */
#define FWD_GREW ((uint64_t)2)
static inline void *fwd_target(uint64_t h)
{
    return (void *)(uintptr_t)(h & ~(uint64_t)7);
}

/* Bytes an object takes on its page: header, payload, and the stored
 * identity hash if it has one (identity.md). */
static inline size_t hdr_span(uint64_t h)
{
    return VMGC_HEADER_BYTES + gc_round8(hdr_size(h)) +
           ((h & VMGC_HDR_HASH_STORED) ? VMGC_HEADER_BYTES : 0);
}

/* The identity hash of an object first hashed at address addr. */
static inline uint64_t identity_hash_of(uintptr_t addr)
{
    uint64_t z = (uint64_t)addr + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

#endif

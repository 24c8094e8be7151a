/* vmgc.h -- the public interface of vmgc.
 *
 * vmgc is a concurrent copying garbage collector whose read barrier is the
 * MMU.  This header is what an embedder includes; everything else is private.
 * An interpreter creates a heap, registers its object types, attaches each
 * thread that touches heap objects, allocates with vmgc_alloc() (inline, in
 * vmgc/inline.h) and registers the roots it knows precisely; everything on
 * thread stacks and in registers is found without help.
 *
 * Design: doc/design/api.md.
 */
#ifndef VMGC_H
#define VMGC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define VMGC_API __attribute__((visibility("default")))
#else
#define VMGC_API
#endif

/* Status codes returned by every vmgc function that can fail.  A failing
 * call also stores a message for the calling thread: vmgc_last_error(). */
typedef enum vmgc_status {
    VMGC_OK = 0,
    VMGC_EINVAL,       /* bad argument: misaligned, zero length, NULL */
    VMGC_ERANGE,       /* address range outside the heap */
    VMGC_ESTATE,       /* misuse: double release, wrong state for the call */
    VMGC_ENOMEM,       /* out of heap pages or metadata memory */
    VMGC_EBUSY,        /* fixed base address already in use */
    VMGC_EUNAVAILABLE, /* a requested facility is unavailable here */
    VMGC_ESYSTEM,      /* a system call failed unexpectedly */
    VMGC_EHANDLER      /* vmgc's fault handler was replaced by the program */
} vmgc_status;

/* The message of the last failing vmgc call made by this thread, or "" when
 * none failed.  The string belongs to vmgc and stays valid until the next
 * failing call in the same thread. */
VMGC_API const char *vmgc_last_error(void);

/* The symbolic name of a status ("VMGC_ERANGE"). */
VMGC_API const char *vmgc_status_name(vmgc_status status);

/* Ready [addr, addr+len) of a vmgc heap for access by the kernel.
 *
 * vmgc delivers heap traps in the faulting thread; a system call that reads
 * or writes a protected heap page (read(2) into a heap buffer) cannot be
 * trapped and would fail with EFAULT.  Call this before handing heap memory
 * to a system call: it resolves every protected page of the range as if the
 * program had touched it.  Ranges outside every heap are accepted and left
 * alone, so a buffer that may or may not be in the heap needs no check.
 * The range stays ready until the collector protects pages again (the next
 * collection or checkpoint), so call it right before the system call.
 * Thread safety: any thread, concurrently with the collector. */
VMGC_API vmgc_status vmgc_prepare_io(const void *addr, size_t len);

typedef struct vmgc_thread vmgc_thread;

/* A bracket around system calls on heap memory: from vmgc_io_begin until
 * vmgc_io_end (the same thread, the same buf) the objects on the pages of
 * [buf, buf+len) stay where they are and the pages stay open to the kernel
 * whatever the collector does meanwhile (collections, checkpoints, a
 * fork), so a read(2) blocked on a socket, a write(2) from an unbuffered
 * stdio stream or an open(2) of a heap string never fails with EFAULT.
 * Brackets nest (up to 8 open per thread).  A bracket costs each flip a
 * scan of its pages (in the pause): keep them to the buffers of the calls
 * at hand.  Memory outside the heap is accepted and ignored.  Errors:
 * VMGC_EINVAL (not the calling thread's handle, a NULL or wrapping range),
 * VMGC_ESTATE (too many open; an end without its begin). */
VMGC_API vmgc_status vmgc_io_begin(vmgc_thread *thread, const void *buf, size_t len);
VMGC_API vmgc_status vmgc_io_end(vmgc_thread *thread, const void *buf);


/* ---- Heaps ---------------------------------------------------------- */

typedef struct vmgc_heap vmgc_heap;
typedef uint32_t vmgc_type;

/* Called when an allocation cannot be satisfied within the heap limit.  It
 * may return (vmgc_alloc then returns NULL) or not return.  Default: print a
 * message naming the limit and abort. */
typedef void (*vmgc_oom_fn)(vmgc_heap *heap, size_t request, void *ctx);

/* Told after every stop-the-world pause (the flip), in the thread that ran
 * it, once the world runs again: start on CLOCK_MONOTONIC and length, in
 * nanoseconds.  Must not call back into the collector. */
typedef void (*vmgc_pause_fn)(void *ctx, uint64_t start_ns, uint64_t duration_ns);

typedef struct vmgc_config {
    size_t heap_limit;        /* most bytes of heap pages in use; 0: reservation / 2 */
    size_t initial_size;      /* bytes allocated before the first collection, and the least
                               * allocated between two; 0: 64 MiB */
    double growth_factor;     /* next collection after live * factor; 0: 2.0 */
    size_t reserve_bytes;     /* address space reserved; 0: 32 GiB */
    void *fixed_base;         /* heap address, NULL: anywhere */
    const char *barrier;      /* "uffd", "mprotect", NULL: $VMGC_BARRIER or best */
    unsigned collector_threads; /* 1 runs the cycles, more help it scan (up to 8);
                                 * 0: $VMGC_COLLECTOR_THREADS, else 1 */
    int scan_data_segments;   /* also treat the program's data and bss as ambiguous roots */
    int verify;               /* check heap invariants at every phase change ($VMGC_VERIFY=1) */
    int no_background;        /* collect only in vmgc_collect() (tests, benchmarks) */
    vmgc_oom_fn out_of_memory;
    void *out_of_memory_ctx;
    vmgc_pause_fn on_pause;   /* NULL: none */
    void *on_pause_ctx;
    unsigned idle_release_ms; /* with the background collector: after this long without a
                               * collection, the free pages kept for reuse go back to the OS
                               * (vmgc_stats.held_bytes); 0: 5000; UINT_MAX: never */
    int generational;         /* young collections between full ones (doc/design/
                               * generations.md): 1 on, -1 off, 0: $VMGC_GENERATIONAL
                               * (0 or 1), else on with the uffd barrier backend */
    int mark_old;             /* in a generational heap, trace the old generation where it
                               * lies instead of copying it, most of the time (doc/design/
                               * mark.md): 1 on, -1 off, 0: $VMGC_MARK_OLD (0 or 1), else on.
                               * Needs the uffd barrier backend; vmgc_collect still copies */
} vmgc_config;

/* Fill *config with the defaults. */
VMGC_API void vmgc_config_init(vmgc_config *config);

/* Create a heap.  Errors: VMGC_EINVAL (bad configuration; the message says
 * which field), VMGC_EBUSY, VMGC_EUNAVAILABLE, VMGC_ENOMEM. */
VMGC_API vmgc_status vmgc_heap_create(vmgc_heap **heap, const vmgc_config *config);

/* Destroy a heap: every thread must have detached.  Its memory is gone. */
VMGC_API vmgc_status vmgc_heap_destroy(vmgc_heap *heap);

/* ---- Types ---------------------------------------------------------- */

/* Visit one pointer slot.  A trace callback calls it for each slot of an
 * object; the slot may be a local copy (for a tagged pointer: untag into a
 * local, visit it, re-tag and store it back). */
typedef void (*vmgc_visit_fn)(void **slot, void *visit_ctx);

/* Visit every pointer of obj (size: the allocated byte size).  Called by the
 * collector, possibly in a signal handler: no locks, no allocation, no
 * system calls other than async-signal-safe ones. */
typedef void (*vmgc_trace_fn)(void *obj, size_t size, vmgc_visit_fn visit, void *visit_ctx);

typedef enum vmgc_layout {
    VMGC_LAYOUT_NO_POINTERS,  /* strings, numbers */
    VMGC_LAYOUT_ALL_POINTERS, /* every word is a pointer or NULL (arrays, cons cells), or a
                               * value outside the heap's address range (a tagged integer
                               * with a high bit set, say), which is left alone */
    VMGC_LAYOUT_BITMAP,       /* bit i of bitmap set: word i is a pointer (words 0..63) */
    VMGC_LAYOUT_TRACE,        /* the trace callback knows */
    VMGC_LAYOUT_VECTOR        /* fixed fields (fixed_bytes of them, pointers where bitmap
                               * says), then pointers from fixed_bytes to the object's end:
                               * a vector with a length field, a closure with its slots */
} vmgc_layout;

/* Pointer maps.  Bit i of a bitmap stands for word i of the object, word 0
 * at the address vmgc_alloc returns (the header is before it).  For
 *     struct pair { void *car; long tag; void *cdr; };
 * the bitmap is 0x5 (words 0 and 2), which
 *     VMGC_PTR_BIT(struct pair, car) | VMGC_PTR_BIT(struct pair, cdr)
 * builds from the declaration, so adding a field cannot silently break it;
 * VMGC_TYPE_STRUCT(name, struct pair, bits) fills a whole description,
 * with the size that registration checks the bitmap against.  A field must
 * be pointer-aligned and within the first 64 words (checked at compile
 * time in C). */
#if defined(__cplusplus)
#define VMGC_PTR_BIT(type, field) ((uint64_t)1 << (offsetof(type, field) / sizeof(void *)))
#else
#define VMGC_PTR_BIT(type, field)                                                          \
    ((uint64_t)1 << (offsetof(type, field) / sizeof(void *)) |                            \
     0 * sizeof(struct {                                                                   \
         _Static_assert(offsetof(type, field) % sizeof(void *) == 0,                       \
                        "VMGC_PTR_BIT: " #field " is not pointer-aligned in " #type);      \
         _Static_assert(offsetof(type, field) / sizeof(void *) < 64,                       \
                        "VMGC_PTR_BIT: " #field " is past word 63 of " #type);             \
         int vmgc_unused;                                                                   \
     }))
/* A vmgc_type_desc for a fixed-size struct whose pointers bits names. */
#define VMGC_TYPE_STRUCT(type_name, type, bits)                                            \
    ((vmgc_type_desc){.name = (type_name), .layout = VMGC_LAYOUT_BITMAP, .bitmap = (bits), \
                      .size = sizeof(type)})
/* A vmgc_type_desc for a struct ending in an array of pointers (a flexible
 * array member or the allocation's rest), its fixed fields' pointers in
 * bits. */
#define VMGC_TYPE_VECTOR(type_name, type, array_field, bits)                               \
    ((vmgc_type_desc){.name = (type_name), .layout = VMGC_LAYOUT_VECTOR, .bitmap = (bits), \
                      .fixed_bytes = offsetof(type, array_field)})
#endif

/* Weak types (doc/design/weak.md).  The pointer slots of an object of a
 * weak type (its layout says which words they are; not VMGC_LAYOUT_TRACE)
 * do not keep what they point at:
 * - VMGC_WEAK: each slot is cleared to NULL once its object is no longer
 *   reachable through ordinary slots and roots (weak boxes, weak vectors,
 *   the values of weak-value tables);
 * - VMGC_EPHEMERON: word 0 is the key, held weakly; the other pointer slots
 *   are kept only while the key is reachable other than through them, and
 *   are cleared with the key once it is not (the entries of weak-key
 *   tables: a value that refers back to its key does not keep it).
 * Read such slots only with vmgc_weak_load and write them with
 * vmgc_weak_store: during a collection a slot may hold a stale address
 * that only vmgc_weak_load resolves. */
typedef enum vmgc_weakness {
    VMGC_STRONG = 0,
    VMGC_WEAK,
    VMGC_EPHEMERON
} vmgc_weakness;

typedef struct vmgc_type_desc {
    const char *name;  /* stable name, unique per heap (checkpoints use it) */
    vmgc_layout layout;
    uint64_t bitmap;   /* VMGC_LAYOUT_BITMAP; VMGC_LAYOUT_VECTOR: among the fixed fields */
    vmgc_trace_fn trace; /* VMGC_LAYOUT_TRACE */
    size_t fixed_bytes; /* VMGC_LAYOUT_VECTOR: bytes before the pointer array (a multiple of
                         * 8, at most 512) */
    size_t size;       /* 0, or the size of every object of the type: then a bitmap bit at or
                        * past the last word is refused at registration */
    vmgc_weakness weakness; /* VMGC_STRONG (0) unless the slots are weak (above) */
} vmgc_type_desc;

/* Register a type.  Registering the same name with the same description
 * again returns the same type; with a different one, VMGC_ESTATE. */
VMGC_API vmgc_status vmgc_type_register(vmgc_heap *heap, const vmgc_type_desc *desc,
                                        vmgc_type *type);
VMGC_API const char *vmgc_type_name(vmgc_heap *heap, vmgc_type type);

/* ---- Threads -------------------------------------------------------- */

/* Attach the calling thread: from now on its stack and registers are
 * roots, and it may allocate.  Any number of threads. */
VMGC_API vmgc_status vmgc_thread_attach(vmgc_heap *heap, vmgc_thread **thread);
VMGC_API vmgc_status vmgc_thread_detach(vmgc_thread *thread);

/* The calling thread's handle for heap, or NULL when it is not attached. */
VMGC_API vmgc_thread *vmgc_thread_current(vmgc_heap *heap);

/* Bracket a call that may block for long (read, poll, a lock): the thread
 * does not delay a collection's flip meanwhile.  It must not touch heap
 * objects between the two calls (the kernel may, in a buffer inside a
 * vmgc_io_begin bracket: a read(2) into a heap buffer that waits on a
 * socket). */
VMGC_API void vmgc_blocking_enter(vmgc_thread *thread);
VMGC_API void vmgc_blocking_leave(vmgc_thread *thread);

/* ---- Allocation ----------------------------------------------------- */

/* A zeroed object of size bytes (see vmgc/inline.h for the fast path).
 * Objects over half a page get their own pages and never move. */
VMGC_API void *vmgc_alloc_slow(vmgc_thread *thread, vmgc_type type, size_t size);

/* Bytes the object was allocated with. */
VMGC_API size_t vmgc_object_size(const void *obj);

/* ---- Identity: doc/design/identity.md ------------------------------- */

/* A hash of the object's identity: the same for the object's whole life,
 * however often it moves (and across a checkpoint and restore), for `eq?`
 * hash tables and the like.  Distinct live objects may share a hash (it is
 * a hash, not an id).  Cheap: no allocation; an object never hashed costs
 * nothing, one hashed costs a header bit, and a word once it has moved.
 * Any attached thread, concurrently with the collector. */
VMGC_API uint64_t vmgc_object_hash(const void *obj);

/* Keep obj at its address until as many vmgc_unpin calls (its page stays
 * in place; the objects it points to still move): for an address handed to
 * C code that keeps it.  Errors: VMGC_EINVAL (not an object of heap),
 * VMGC_ESTATE (vmgc_unpin of an object not pinned). */
VMGC_API vmgc_status vmgc_pin(vmgc_heap *heap, const void *obj);
VMGC_API vmgc_status vmgc_unpin(vmgc_heap *heap, const void *obj);

/* ---- Weak references and finalization: doc/design/weak.md --------- */

/* The value of a slot of a weak type's object (VMGC_WEAK or
 * VMGC_EPHEMERON): the object it refers to, or NULL once that object is
 * gone.  During a collection's scan a load keeps the object alive for that
 * collection (the caller holds it now); once the collection has started
 * deciding what dies, a load of an undecided slot waits for the decision
 * (a few milliseconds at most).  No mutator ever sees a stale address. */
VMGC_API void *vmgc_weak_load(vmgc_thread *thread, void *const *slot);
/* Store value (an object or NULL) into such a slot.  Needed because the
 * collector clears slots concurrently (an atomic store). */
VMGC_API void vmgc_weak_store(void **slot, void *value);

/* Finalization: once obj is unreachable, the collection that finds it
 * keeps it (and all it reaches) and queues it; vmgc_finalize_next hands it
 * out, to whichever thread the program drains the queue from.  Order: an
 * object that reaches another finalizable one is queued first, and the
 * one it reaches waits for a later collection; objects that reach each
 * other in a cycle are queued together.  Each registration queues the
 * object once; after that it is an ordinary object (it may be stored
 * again: resurrection is allowed, and it is not finalized again unless
 * registered again).  Objects of weak types cannot be registered.
 * Errors: VMGC_EINVAL (not an object of thread's heap, or of a weak type),
 * VMGC_ENOMEM. */
VMGC_API vmgc_status vmgc_finalize_register(vmgc_thread *thread, void *obj);
/* The next object queued for finalization, or NULL when none is. */
VMGC_API void *vmgc_finalize_next(vmgc_thread *thread);

/* ---- Roots ---------------------------------------------------------- */

/* Precise roots: count slots holding object pointers or NULL, updated when
 * objects move (a value outside the heap's address range is left alone, as
 * in an object's pointer slots: tagged immediates may share the slots).  May be added and removed at any time, from any thread.
 * A slot is a root from its registration on: register it (holding NULL)
 * before storing into it.  A pointer stored before, with no other root or
 * stack holding its object when a collection began meanwhile, is stale;
 * when vmgc can tell (the object was not kept), the call fails with
 * VMGC_ESTATE and says so, and the slots are not registered. */
VMGC_API vmgc_status vmgc_root_add(vmgc_heap *heap, void **slots, size_t count);
VMGC_API vmgc_status vmgc_root_remove(vmgc_heap *heap, void **slots);

/* Ambiguous roots by region: every pointer-aligned word of [start,
 * start+bytes) that points into the heap keeps its object (and its page)
 * where it is, as a thread's stack does: for a struct of globals mixing
 * pointers and other fields.  vmgc_root_add_data_segments registers the
 * program's whole data and bss this way (the main executable's; the same as
 * vmgc_config.scan_data_segments, as a call).  In verification mode, a
 * global of the main program left pointing at an object the collector did
 * not keep is named on stderr at the end of the cycle.  Errors: VMGC_EINVAL
 * (overlaps the heap), VMGC_ESTATE (removing a region not added). */
VMGC_API vmgc_status vmgc_root_add_region(vmgc_heap *heap, const void *start, size_t bytes);
VMGC_API vmgc_status vmgc_root_remove_region(vmgc_heap *heap, const void *start);
VMGC_API vmgc_status vmgc_root_add_data_segments(vmgc_heap *heap);

/* vmgc_root_add, and the slots are kept in checkpoints under name (1 to
 * 4096 bytes, unique per heap): after a restore, vmgc_root_restore gives
 * their values back.  Errors: VMGC_ESTATE when the name is taken. */
VMGC_API vmgc_status vmgc_root_add_named(vmgc_heap *heap, const char *name, void **slots,
                                         size_t count);

/* Root blocks: count precise root slots (starting NULL) that vmgc keeps on
 * heap pages of their own.  The flip only protects them, whatever count
 * is, where it forwards each vmgc_root_add slot itself; the slots are
 * updated after the flip by the collector, or by the first thread that
 * touches a page of them (a trap that forwards that page's 512 slots).
 * Use them for many roots: an interpreter's globals, its value stack.
 * Slots must hold object pointers or NULL, as with vmgc_root_add; the
 * block counts against heap_limit.  Any thread, at any time; free a
 * block once, and do not touch it after. */
VMGC_API vmgc_status vmgc_root_block_new(vmgc_heap *heap, size_t count, void ***slots);
VMGC_API vmgc_status vmgc_root_block_free(vmgc_heap *heap, void **slots);

/* ---- Collection ----------------------------------------------------- */

/* Start a full collection (every object is traced); with wait, return
 * when it has finished. */
VMGC_API vmgc_status vmgc_collect(vmgc_heap *heap, int wait);

/* Start a collection of what was allocated since the last one (a young
 * collection) if the heap is generational, else a full one; with wait,
 * return when it has finished.  Old objects are kept as they are. */
VMGC_API vmgc_status vmgc_collect_young(vmgc_heap *heap, int wait);
/* A collection that marks the old generation where it lies and sweeps it
 * (mark_old), copying only the young one; a full one where marking is not
 * available (the mprotect backend, mark_old -1, or no generations). */
VMGC_API vmgc_status vmgc_collect_mark(vmgc_heap *heap, int wait);

typedef struct vmgc_stats {
    uint64_t collections;
    uint64_t bytes_allocated;  /* over the heap's life */
    uint64_t bytes_copied;
    uint64_t objects_copied;
    uint64_t pages_pinned;
    uint64_t large_promoted;
    uint64_t traps;            /* mutator traps on grey pages */
    uint64_t pages_scanned_by_mutator;
    uint64_t pages_scanned_by_collector;
    size_t heap_bytes;         /* pages in use now */
    size_t resident_bytes;     /* memory the heap holds from the OS now, each page once */
    size_t live_bytes_after_last; /* what survived the last collection: pages copied into,
                                   * pinned or promoted (objects allocated during it are
                                   * not counted: they were never traced); in a generational
                                   * heap, all the old pages (old garbage counts until the
                                   * next full collection) */
    uint64_t pause_count;
    uint64_t pause_total_ns;
    uint64_t pause_max_ns;
    uint64_t last_pause_ns;
    const char *barrier;       /* backend in use */
    uint64_t stop_pulls;       /* threads that had not answered a stop within 50 us and were
                                * moved onto the stopping thread's CPU for it (their CPU
                                * affinity narrowed until the pause ends: doc/design/threads.md) */
    uint64_t forks;            /* fork() calls made while this heap existed (in this process) */
    uint64_t fork_pause_max_ns; /* longest stop of this heap's threads for a fork */
    size_t memory_budget;      /* heap bytes the process's cgroup memory limit leaves (collections
                                * come sooner to stay within it), 0: no limit */
    const char *barrier_note;  /* why the automatic choice fell back to mprotect, or "" */
    int fork_copy_pending;     /* the heap is still being copied for a fork child (in the
                                * parent) or from the parent (in the child): doc/design/fork.md */
    uint64_t checkpoints;      /* checkpoints this heap's collections saved (each written
                                * whole; vmgc_checkpoint_wait says whether it reached disk) */
    int image_loading;         /* a restored heap's pages are still loading (imageload.md) */
    uint64_t image_pages_loaded; /* pages loaded from the image so far */
    uint64_t image_load_traps; /* of which on first touch, by a trap (16 pages a trap) */
    uint64_t image_load_widenings; /* loads shown wider than asked at the VMA limit */
    uint64_t weak_slots_cleared;   /* weak and ephemeron slots cleared, over the heap's life */
    uint64_t ephemerons_broken;    /* ephemerons whose key died */
    uint64_t objects_finalized;    /* objects queued for finalization */
    uint64_t finalize_registered;  /* registered and not queued yet */
    uint64_t finalize_queued;      /* queued and not handed out yet */
    /* The footprint's parts, now.  resident_bytes is about heap_bytes +
     * held_bytes; heap_bytes holds live_bytes_after_last + floating_bytes +
     * young_bytes (page-rounded) + reserve_bytes, and while a collection
     * runs its from-space too (doc/design/collector.md .sol.footprint). */
    size_t young_bytes;     /* allocated since the last collection ended */
    size_t floating_bytes;  /* pages allocated while the last collection ran: kept without
                             * being traced, so their garbage waits for the next one */
    size_t reserve_bytes;   /* the copy reserve: pages mapped ready for the next copies */
    /* Generations (doc/design/generations.md). */
    uint64_t young_collections;  /* of `collections`, the young ones */
    uint64_t remembered_pages;   /* old pages written between collections and scanned by
                                  * young ones, over the heap's life */
    size_t old_bytes;            /* pages of old objects after the last collection */
    uint64_t write_traps;        /* first writes to old pages caught (one per page a cycle) */
    /* Mark cycles (doc/design/mark.md). */
    uint64_t mark_collections;   /* of `collections`, those that marked the old generation in
                                  * place (counted apart from young_collections) */
    uint64_t old_objects_swept;  /* dead old objects they found, over the heap's life */
    uint64_t old_bytes_swept;    /* their bytes */
    uint64_t old_pages_swept;    /* old pages they gave back whole */
    size_t old_hole_bytes;       /* dead objects left as holes in old pages by the last mark
                                  * cycle; a full collection takes them back */
    size_t old_empty_bytes;      /* old pages a mark cycle found dead but kept (their memory is
                                  * given back; a full collection frees them) */
    size_t held_bytes;      /* free pages kept resident for reuse; given back once
                             * GC_PEAK_WINDOW (8) collections in a row needed less, or
                             * when no collection ran for vmgc_config.idle_release_ms */
} vmgc_stats;

VMGC_API void vmgc_get_stats(vmgc_heap *heap, vmgc_stats *stats);

/* Pause times of the flips so far (most recent last), at most max of them;
 * returns how many were written. */
VMGC_API size_t vmgc_get_pauses(vmgc_heap *heap, uint64_t *ns, size_t max);

/* ---- Checkpoints: doc/design/checkpoint.md ----------------------------
 *
 * A checkpoint saves the heap's live objects, as of one instant, to a file
 * while the program runs: vmgc_checkpoint_start returns once that instant
 * (a pause as long as a collection's flip; it is one) has passed, and the
 * image is written in the background by the collection it starts.  What
 * mutators do after the call returns is not in the image.  The image holds
 * the object types (by name and layout) and the named roots
 * (vmgc_root_add_named) with their values as of the pause; stacks and
 * unnamed roots keep objects in the image but are not restored.
 *
 * The file is written as path.tmp.<pid>, synced, and renamed to path: a
 * crash or a full disk leaves a previous image at path as it was.  Memory
 * held for a save: 24 bytes of index per page saved (0.6%); the pages go
 * straight from the heap to the file. */

typedef struct vmgc_checkpoint vmgc_checkpoint;

typedef struct vmgc_checkpoint_result {
    uint64_t image_bytes; /* the file's size */
    uint64_t checksum;    /* the header's checksum, which covers every part's */
    uint64_t live_bytes;  /* object bytes (headers included) in the image */
    uint64_t pages;       /* heap pages in the image */
    uint64_t pause_ns;    /* the checkpoint's pause */
    uint64_t write_ns;    /* from the pause to the image synced and renamed */
    uint64_t sync_ns;     /* of which after the collection ended: index, types, roots,
                           * header, fdatasync, rename */
} vmgc_checkpoint_result;

/* Start a checkpoint of heap to path.  Waits for a collection in progress
 * to end (the checkpoint rides on the next one), then returns after its
 * flip.  Any thread; one checkpoint per heap at a time (VMGC_ESTATE while
 * one runs).  Errors: VMGC_EINVAL (bad argument), VMGC_ESTATE, VMGC_ESYSTEM
 * (the temporary file cannot be created: the message names it). */
VMGC_API vmgc_status vmgc_checkpoint_start(vmgc_heap *heap, const char *path,
                                           vmgc_checkpoint **checkpoint);

/* Progress: bytes written so far and the total expected (an estimate
 * from the last collection's live data until the scan ends, then exact).
 * Returns 1 when the checkpoint has finished (vmgc_checkpoint_wait will not
 * block), else 0. */
VMGC_API int vmgc_checkpoint_poll(vmgc_checkpoint *checkpoint, uint64_t *written, uint64_t *total);

/* Wait for the checkpoint to finish and free it.  VMGC_OK and *result
 * filled (result may be NULL), or the error that stopped it (its message in
 * vmgc_last_error(): the call that failed and the file). */
VMGC_API vmgc_status vmgc_checkpoint_wait(vmgc_checkpoint *checkpoint,
                                          vmgc_checkpoint_result *result);

/* ---- Restore ------------------------------------------------------------ */

enum {
    VMGC_RESTORE_VERIFY = 1u << 0 /* read every page and check its checksum before returning
                                   * (else each page is checked when first loaded, and a
                                   * damaged page found then is fatal) */
};

/* Create a heap from an image: the heap is placed at the image's own
 * address range, usable at once; its pages are loaded from the file when
 * first touched (and by a background thread).  types (ntypes of them)
 * describes the program's types: every type of the image must be there
 * under its name with the same layout (trace callbacks are taken from
 * here); the others are registered after the image's.  config as for
 * vmgc_heap_create (fixed_base is ignored: the image's is used; a larger
 * reserve_bytes than the image's is kept).  Named roots come back with
 * vmgc_root_restore.  Errors, each before anything is mapped: VMGC_EINVAL
 * (damaged, truncated or foreign image, or a type mismatch: the message
 * says which), VMGC_EBUSY (the image's address range is in use in this
 * process: the message names it), VMGC_ESYSTEM, VMGC_ENOMEM. */
VMGC_API vmgc_status vmgc_heap_restore(vmgc_heap **heap, const vmgc_config *config,
                                       const char *path, const vmgc_type_desc *types,
                                       size_t ntypes, unsigned flags);

/* In a restored heap: fill slots (count of them, as many as the image's
 * root of that name had) with that root's values as of the checkpoint,
 * and register them with vmgc_root_add_named(heap, name, slots, count).
 * Errors: VMGC_ESTATE (not a restored heap, or no root of that name in its
 * image), VMGC_EINVAL (count differs: the message gives the image's). */
VMGC_API vmgc_status vmgc_root_restore(vmgc_heap *heap, const char *name, void **slots,
                                       size_t count);

#ifdef __cplusplus
}
#endif

#include "vmgc/inline.h"

#endif /* VMGC_H */

/* forksnap.h -- the heap across fork(): a child gets the heap as of the
 * fork in a memfd of its own, copied while both processes run.
 *
 * The heap is one shared memfd (MAP2), so after a plain fork() parent and
 * child would write into each other's objects.  At the fork (the world
 * stopped, the pool locked) the parent write-protects the pages allocated
 * then (the "owed" pages) and creates a second memfd, S, that will be the
 * child's.  Each owed page is copied into S exactly once, by whichever
 * process gets to it first, and always before the parent changes it:
 *   - the parent's write to an owed page traps and copies it first;
 *   - a background drain in the parent (the collector thread) copies the
 *     rest, and exposes what it copied;
 *   - the child maps S over its views at once (so it never writes into the
 *     parent's memfd), keeps its mutator view inaccessible, and on its
 *     first touch of the heap copies whatever is still owed itself.
 * A per-page state byte in memory shared by both (OWED -> CLAIMED ->
 * SAVED, by compare-and-swap) decides who copies.  A child that execs or
 * exits lets go of that memory, which the parent sees (pagemap: the page
 * is mapped by it alone) and stops copying: fork()+exec costs the fork
 * pause and a few faults.  Design: doc/design/forksnap.md.
 *
 * Everything called on the trap path is async-signal-safe.
 */
#ifndef VMGC_FORKSNAP_H
#define VMGC_FORKSNAP_H

#include <stddef.h>

#include "arena.h"

/* Parent, before fork(): every other thread that may touch the heap is
 * stopped and the pool lock is held.  Never fails the fork: if a resource
 * is missing (memfd, memory), the child's heap is marked unusable and its
 * first use is a fatal error naming the call; the parent is unaffected. */
struct forksnap_keep {
    size_t first, n; /* pages */
};
/* keep (nkeep runs): pages the kernel may be writing into right now (a
 * system call's buffer, vmgc_io_begin): saved for the child at once, and
 * never write-protected. */
void forksnap_prepare(struct arena *a, const struct forksnap_keep *keep, size_t nkeep);
/* After fork(), in the parent and in the child (single-threaded). */
void forksnap_parent(struct arena *a);
void forksnap_child(struct arena *a);

/* Trap path (SIGSEGV on the mutator view).  1: the fault was the
 * snapshot's and is resolved (or will be on retry); 0: not ours. */
int forksnap_on_fault(struct arena *a, size_t i, int is_write);
/* A fault no one claimed, on a page of a snapshot that just ended: the
 * page is being exposed; retry.  1 when so. */
int forksnap_recently_ended(struct arena *a, size_t i);

/* Before pages [first, +n) get write access or go back to the OS in the
 * parent: copy those still owed.  Cheap when no snapshot runs.
 * Async-signal-safe. */
void forksnap_save_range(struct arena *a, size_t first, size_t n);

/* Ready [first, +n) for kernel access (vmgc_prepare_io). */
void forksnap_ready(struct arena *a, size_t first, size_t n);

/* Parent: copy up to max_pages still owed and expose them; ends the
 * snapshot when nothing is owed or the child let go.  Returns 1 while one
 * is still running.  One drainer at a time (the caller serializes). */
int forksnap_drain(struct arena *a, size_t max_pages);

/* Finish whatever this process owes: the parent drains everything and
 * ends; the child completes its copy.  Not async-signal-safe in the
 * parent. */
void forksnap_settle(struct arena *a);

/* The heap goes away (arena_destroy): a parent still copies what its
 * child needs; a child drops what it has not copied. */
void forksnap_release(struct arena *a);

/* The child's heap could not be given to it (prepare failed). */
int forksnap_broken(const struct arena *a);

/* A snapshot is running in the parent / the child has not completed its
 * copy yet.  Atomic loads. */
int forksnap_parent_pending(const struct arena *a);
int forksnap_child_pending(const struct arena *a);

#endif

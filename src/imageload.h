/* imageload.h -- lazy loading of a restored heap's pages from its image.
 *
 * A restored heap's pages are at their own addresses from the start, but
 * their contents stay in the image file until something touches them: the
 * whole span of image pages is PROT_NONE in the mutator view, and a fault
 * there loads the group of 16 pages around it (pread into the collector
 * view, checksum checked) and exposes it.  A background thread loads the
 * rest in address order, exposing 16 MiB at a time.  Collections wait until
 * everything is loaded (imageload_settle): the collector reads pages
 * through the collector view, which does not trap.
 * Design: doc/design/imageload.md.
 */
#ifndef VMGC_IMAGELOAD_H
#define VMGC_IMAGELOAD_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "image.h"

#define IMAGELOAD_GROUP_SHIFT 4 /* 16 pages load and show together */

struct imageload {
    struct image *img;
    size_t lo, hi;       /* the span [lo, hi) of heap pages, first to last image page */
    uint8_t *group;      /* per group from lo: enum in imageload.c.  Synchronization: atomic. */
    size_t ngroups;
    int uffd;            /* the barrier backend maps pages with UFFDIO_CONTINUE */
    uint64_t pages_loaded, trap_loads; /* Synchronization: atomic. */
    uint64_t widenings;  /* shows retried wider at the VMA limit.  Synchronization: atomic. */
    int stop;            /* the background loader should stop.  Synchronization: atomic. */
    int done;            /* everything loaded and shown.  Synchronization: atomic. */
    uint64_t done_ns;    /* CLOCK_MONOTONIC when done */
};

/* Start loading img into arena a: pages [lo, hi) must be allocated to the
 * caller already (their contents are overwritten), and nothing may touch
 * them yet.  Hides the span; from now on a touch loads.  Errors name the
 * failing call; nothing is hidden then. */
vmgc_status imageload_begin(struct arena *a, struct image *img, struct imageload *ld);

/* Forget the load state (the heap is being destroyed; nothing touches it). */
void imageload_end(struct arena *a, struct imageload *ld);

/* The fault handler's part: 1 when page i is in a span still loading (the
 * fault is resolved when this returns), 0 otherwise.  Async-signal-safe;
 * a page that cannot be read or fails its checksum is fatal (trap_fatal). */
int imageload_on_fault(struct arena *a, size_t i);

/* Load and show everything not loaded yet (the background loader's body;
 * any thread may call it, the work is shared).  Returns when all is shown. */
void imageload_settle(struct arena *a);

/* Load and show [first, first+n) now (for vmgc_prepare_io). */
void imageload_ready(struct arena *a, size_t first, size_t n);

static inline int imageload_pending(struct arena *a)
{
    struct imageload *ld = __atomic_load_n(&a->load, __ATOMIC_ACQUIRE);
    return ld && !__atomic_load_n(&ld->done, __ATOMIC_ACQUIRE);
}

#endif

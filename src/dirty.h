/* dirty.h -- DIRTY: which pages were written since tracking began.
 *
 * Two mechanisms, chosen at run time (VMGC_DIRTY=pagemap|faults):
 *   pagemap: userfaultfd asynchronous write-protect (the kernel records the
 *            first write without a fault) read back with PAGEMAP_SCAN, Linux
 *            6.7+, uffd backend only;
 *   faults:  mprotect(PROT_READ) and a SIGSEGV per first write, any backend.
 * Tracking covers writes through the mutator view only: the collector's
 * writes through its alias view are its own to account for.
 * One tracker per arena at a time.  Design: doc/design/dirty.md.
 */
#ifndef VMGC_DIRTY_H
#define VMGC_DIRTY_H

#include <stdint.h>

#include "arena.h"

/* Choose the mode for a new arena (name or $VMGC_DIRTY or best). */
vmgc_status dirty_open(struct arena *a, const char *name);
void dirty_close(struct arena *a);

/* Start tracking [addr, +len): every page counts as clean. */
vmgc_status dirty_begin(struct arena *a, void *addr, size_t len);

/* Set bit k of bitmap (k = page index from the tracked start) for each page
 * written since dirty_begin or the last rearming collect; *count gets their
 * number.  rearm: count those pages as clean again.  bitmap holds
 * (pages + 63) / 64 words. */
vmgc_status dirty_collect(struct arena *a, uint64_t *bitmap, size_t *count, int rearm);

/* Stop tracking; the pages become plainly writable. */
vmgc_status dirty_end(struct arena *a);

/* .sol.page-track: tracking page by page, for the collector's remembered
 * set (independent of dirty_begin's range; the two must not be used on the
 * same pages).  Both modes fault on the first write here: PROT_READ in the
 * mutator view, whatever the backend.
 *
 * dirty_track_pages: count [first, +n) clean and write-protect them.  Call
 * it after the pages were exposed (an mprotect backend exposure counts
 * tracked pages as written).  If protecting fails (the VMA limit: ENOMEM)
 * the pages stay writable and count as written; the errno value is
 * returned.  Async-signal-safe. */
int dirty_track_pages(struct arena *a, size_t first, size_t n, int in_signal);
/* Stop tracking [first, +n): not counted as written, and writable where
 * they were write-protected (protected or hidden pages stay so until
 * exposed).  Returns 0 or an errno value. */
int dirty_untrack_pages(struct arena *a, size_t first, size_t n);
/* Mark page i written (its write protection is gone).  Async-signal-safe. */
void dirty_mark_written(struct arena *a, size_t i);
/* Call fn, in page order, for each page marked written since it was last
 * taken; take: clear the marks (else only look).  Returns how many.  A
 * page written while this runs is reported now or next time. */
size_t dirty_each_written(struct arena *a, int take, void (*fn)(void *ctx, size_t page),
                          void *ctx);

/* Trap path: a write fault on page i.  Returns 1 if it was a tracked page
 * (now marked written and writable), 0 otherwise.  Async-signal-safe. */
int dirty_on_write_fault(struct arena *a, size_t i, int is_write);

#endif

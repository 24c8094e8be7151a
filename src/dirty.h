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

/* Trap path: a write fault on page i.  Returns 1 if it was a tracked page
 * (now marked written and writable), 0 otherwise.  Async-signal-safe. */
int dirty_on_write_fault(struct arena *a, size_t i, int is_write);

#endif

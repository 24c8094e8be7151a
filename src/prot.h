/* prot.h -- protection and traps: Appel and Li's PROT1/PROTN/UNPROT/TRAP.
 *
 * One small interface, two backends chosen at run time:
 *   protuffd.c      userfaultfd minor faults on the memfd, delivered in the
 *                   faulting thread as SIGBUS and resolved with UFFDIO_CONTINUE;
 *   protmprotect.c  mprotect(PROT_NONE) and SIGSEGV, degrading to coarser
 *                   protection units near the VMA limit.
 * A protected page is logically marked PD_READ_BARRIER in the page table;
 * the trap path reads only that bit and the backend state.
 * Design: doc/design/prot.md.
 */
#ifndef VMGC_PROT_H
#define VMGC_PROT_H

#include "arena.h"

struct prot_backend {
    const char *name;
    /* Set up for a new arena.  Errors carry a message saying what to do. */
    vmgc_status (*open)(struct arena *a);
    void (*close)(struct arena *a);
    /* PROTN: protect pages [first, first+n) that are marked PD_READ_BARRIER.
     * resident: the caller knows every page is in the memfd already. */
    vmgc_status (*protect)(struct arena *a, size_t first, size_t n, int resident);
    /* UNPROT: expose [first, first+n) whose PD_READ_BARRIER was cleared. */
    vmgc_status (*unprotect)(struct arena *a, size_t first, size_t n);
    /* Optional (NULL: protect / unprotect): hide resident pages that no
     * barrier will expose, and show them again (prot_hide_resident). */
    vmgc_status (*hide)(struct arena *a, size_t first, size_t n);
    vmgc_status (*unhide)(struct arena *a, size_t first, size_t n);
    /* Resolve a fault on page i: run the read barrier for what protects it,
     * then expose it.  in_signal: called from the trap handler.  Returns 1
     * when the fault was ours (handled or already resolved), 0 when it was
     * not (chain it).  Async-signal-safe when in_signal. */
    int (*resolve)(struct arena *a, size_t i, int in_signal);
    /* Re-apply write-tracking protection (PD_WRITE_TRACK) to [first, +n).
     * Async-signal-safe.  Returns 0 or an errno value. */
    int (*refresh_write)(struct arena *a, size_t first, size_t n, int in_signal);
};

extern const struct prot_backend prot_uffd_backend;
extern const struct prot_backend prot_mprotect_backend;

/* Choose and open a backend: name "uffd", "mprotect" or NULL (environment
 * VMGC_BARRIER, else uffd when available, else mprotect). */
vmgc_status prot_open(struct arena *a, const char *name);

/* Protect / unprotect a page-aligned range of the mutator view.  Errors:
 * VMGC_EINVAL, VMGC_ERANGE, VMGC_EHANDLER (our signal handler was replaced),
 * VMGC_ESYSTEM.  Thread safety: any thread. */
vmgc_status prot_protect(struct arena *a, void *addr, size_t len);
vmgc_status prot_unprotect(struct arena *a, void *addr, size_t len);

/* prot_protect for pages the caller knows are in the memfd already (written
 * or populated): the uffd backend then skips making them present, a page
 * cache walk that cost as much as the unmapping itself.  A page that is a
 * hole after all is not trapped on until something writes it through the
 * collector view. */
vmgc_status prot_protect_resident(struct arena *a, void *addr, size_t len);
int prot_is_protected(struct arena *a, const void *addr);

/* .sol.hide: protect resident pages that no barrier will expose (the
 * collector's from-space: a touch there is a bug, which the trap handler
 * reports), until prot_unhide.  Marked like prot_protect.  The uffd backend
 * hides them with PROT_NONE, which costs less than unmapping them page by
 * page and mapping them back with UFFDIO_CONTINUE, while the heap is not
 * registered for write-protect (prot_uffd_register_wp); else, or at the
 * VMA limit, it unmaps them.
 * prot_unhide shows them again, write-tracked pages read-only. */
vmgc_status prot_hide_resident(struct arena *a, void *addr, size_t len);
vmgc_status prot_unhide(struct arena *a, void *addr, size_t len);

/* uffd backend: register the heap for asynchronous write-protect too (for
 * dirty tracking; done once, on the first dirty_begin, since a heap
 * registered for it gets no cheap PROT_NONE hiding: pages shown again
 * with mprotect stay write-protected and fault on their first write). */
vmgc_status prot_uffd_register_wp(struct arena *a);

/* uffd backend, in a fork child: a userfaultfd context of the child's own
 * for its new views (forksnap.c). */
vmgc_status prot_uffd_reopen(struct arena *a);
/* uffd backend: map [first, +n), present in the memfd, into the mutator
 * view now (UFFDIO_CONTINUE, batched).  Returns 0 or an errno value.
 * Async-signal-safe. */
int prot_uffd_map(struct arena *a, size_t first, size_t n);

/* If the page at addr is protected, bump its mark's generation so that a
 * barrier already running for it will not clear the mark, and return 1;
 * return 0 if it is not protected (the caller protects it).  For a page
 * being repurposed while it may be protected.  Async-signal-safe. */
int prot_renew(struct arena *a, const void *addr);

/* Ready [first, +n) for kernel access: resolve every protected page. */
vmgc_status prot_ready(struct arena *a, size_t first, size_t n);

/* The read barrier for page i: call the arena's trap function if the page
 * is still marked, then clear the mark.  Async-signal-safe. */
void prot_run_barrier(struct arena *a, size_t i);

#endif

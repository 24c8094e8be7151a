/* prot.c -- backend choice and the backend-independent part of protection.
 * Design: doc/design/prot.md. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dirty.h"
#include "error.h"
#include "forksnap.h"
#include "prot.h"
#include "trap.h"

/* .sol.fallback-note: the automatic choice fell back to mprotect: say why
 * in one line on stderr, once per process (VMGC_QUIET=1: not at all), and
 * keep the reason for vmgc_stats.barrier_note. */
static void note_fallback(struct arena *a, const char *why)
{
    static int said;
    if (!strncmp(why, "vmgc: ", 6))
        why += 6;
    snprintf(a->prot_note, sizeof a->prot_note, "%s", why);
    /* the advice to choose mprotect is moot once it is chosen */
    char *moot = strstr(a->prot_note, "; or choose the mprotect backend");
    if (moot)
        *moot = '\0';
    const char *quiet = getenv("VMGC_QUIET");
    if ((quiet && *quiet && strcmp(quiet, "0") != 0) || __atomic_exchange_n(&said, 1, __ATOMIC_ACQ_REL))
        return;
    fprintf(stderr, "vmgc: using the mprotect barrier: %s\n", a->prot_note);
}

vmgc_status prot_open(struct arena *a, const char *name)
{
    const char *source = "the heap configuration";
    if (!name) {
        name = getenv("VMGC_BARRIER");
        source = "VMGC_BARRIER";
        if (name && !*name)
            name = NULL;
    }
    if (!name) {
        /* .sol.auto: userfaultfd when it works here, else mprotect. */
        a->prot = &prot_uffd_backend;
        if (a->prot->open(a) == VMGC_OK)
            return VMGC_OK;
        note_fallback(a, vmgc_last_error());
        a->prot = &prot_mprotect_backend;
        return a->prot->open(a);
    }
    if (strcmp(name, "uffd") == 0)
        a->prot = &prot_uffd_backend;
    else if (strcmp(name, "mprotect") == 0)
        a->prot = &prot_mprotect_backend;
    else
        return error_set(VMGC_EINVAL, "%s names barrier backend '%s'; use 'uffd' or 'mprotect'",
                         source, name);
    return a->prot->open(a);
}

/* .sol.mark-gen: every protection bumps the page's generation, so a
 * barrier that started before it does not clear the newer mark. */
static void mark(struct arena *a, size_t first, size_t n, int on)
{
    for (size_t i = first; i < first + n; i++) {
        uint32_t *p = &a->pt.desc[i].prot;
        if (!on) {
            __atomic_fetch_and(p, ~(uint32_t)PD_READ_BARRIER, __ATOMIC_ACQ_REL);
            continue;
        }
        uint32_t w = __atomic_load_n(p, __ATOMIC_ACQUIRE);
        while (!__atomic_compare_exchange_n(p, &w, (w + PD_GEN_ONE) | PD_READ_BARRIER, 0,
                                            __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            ;
    }
}

static vmgc_status protect_range(struct arena *a, void *addr, size_t len, int resident, int hide)
{
    size_t first, n;
    vmgc_status st = arena_range(a, addr, len, &first, &n);
    if (st != VMGC_OK)
        return st;
    st = trap_handlers_intact();
    if (st != VMGC_OK)
        return st;
    /* .sol.mark-first: the mark is set before the page is hidden, so any
     * trap that can happen finds it. */
    mark(a, first, n, 1);
    if (hide && a->prot->hide)
        return a->prot->hide(a, first, n);
    return a->prot->protect(a, first, n, resident);
}

vmgc_status prot_protect(struct arena *a, void *addr, size_t len)
{
    return protect_range(a, addr, len, 0, 0);
}

vmgc_status prot_protect_resident(struct arena *a, void *addr, size_t len)
{
    return protect_range(a, addr, len, 1, 0);
}

vmgc_status prot_hide_resident(struct arena *a, void *addr, size_t len)
{
    return protect_range(a, addr, len, 1, 1);
}

static vmgc_status unprotect_range(struct arena *a, void *addr, size_t len, int unhide)
{
    size_t first, n;
    vmgc_status st = arena_range(a, addr, len, &first, &n);
    if (st != VMGC_OK)
        return st;
    /* .sol.clear-first: a trap between the two steps sees no mark and just
     * exposes the page, which is what we are about to do anyway. */
    mark(a, first, n, 0);
    if (unhide && a->prot->unhide)
        return a->prot->unhide(a, first, n);
    return a->prot->unprotect(a, first, n);
}

vmgc_status prot_unprotect(struct arena *a, void *addr, size_t len)
{
    return unprotect_range(a, addr, len, 0);
}

vmgc_status prot_unhide(struct arena *a, void *addr, size_t len)
{
    return unprotect_range(a, addr, len, 1);
}

int prot_is_protected(struct arena *a, const void *addr)
{
    struct page_desc *d = pagetable_lookup(&a->pt, addr);
    return d && (__atomic_load_n(&d->prot, __ATOMIC_ACQUIRE) & PD_READ_BARRIER);
}

int prot_renew(struct arena *a, const void *addr)
{
    struct page_desc *d = pagetable_lookup(&a->pt, addr);
    uint32_t w = __atomic_load_n(&d->prot, __ATOMIC_ACQUIRE);
    while (w & PD_READ_BARRIER)
        if (__atomic_compare_exchange_n(&d->prot, &w, w + PD_GEN_ONE, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            return 1;
    return 0;
}

void prot_run_barrier(struct arena *a, size_t i)
{
    struct page_desc *d = &a->pt.desc[i];
    uint32_t before = __atomic_load_n(&d->prot, __ATOMIC_ACQUIRE);
    if (!(before & PD_READ_BARRIER))
        return;
    if (a->trap_fn) {
        __atomic_fetch_add(&a->n_barrier_calls, 1, __ATOMIC_RELAXED);
        if (a->trap_fn(a->trap_ctx, pagetable_page_addr(&a->pt, i)) != 0)
            trap_fatal("the collector's trap callback failed for a heap page",
                       pagetable_page_addr(&a->pt, i));
    }
    /* clear the mark we ran for, not one set since (.sol.mark-gen) */
    uint32_t w = __atomic_load_n(&d->prot, __ATOMIC_ACQUIRE);
    while ((w & PD_READ_BARRIER) && (w >> PD_GEN_SHIFT) == (before >> PD_GEN_SHIFT) &&
           !__atomic_compare_exchange_n(&d->prot, &w, w & ~(uint32_t)PD_READ_BARRIER, 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        ;
}

vmgc_status prot_ready(struct arena *a, size_t first, size_t n)
{
    forksnap_ready(a, first, n);
    for (size_t i = first; i < first + n; i++) {
        uint32_t bits = __atomic_load_n(&a->pt.desc[i].prot, __ATOMIC_ACQUIRE);
        if (bits & (PD_READ_BARRIER | PD_PHYS_NONE)) {
            a->prot->resolve(a, i, 0);
            /* the barrier's scan may have write-tracked it (generations.md .sol.arm) */
            bits = __atomic_load_n(&a->pt.desc[i].prot, __ATOMIC_ACQUIRE);
        }
        if (bits & PD_WRITE_TRACK)
            dirty_on_write_fault(a, i, 1);
    }
    return VMGC_OK;
}

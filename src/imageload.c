/* imageload.c -- lazy loading of a restored heap.  Design: doc/design/imageload.md.
 *
 * Runs in the trap handler (imageload_on_fault): no locks, no allocation;
 * pread, mprotect, ioctl and sched_yield only.
 */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "error.h"
#include "imageload.h"
#include "meta.h"
#include "prot.h"
#include "sys.h"
#include "trap.h"

/* group states */
enum { G_UNLOADED = 0, G_LOADING, G_LOADED, G_SHOWN };

#define GROUP_PAGES ((size_t)1 << IMAGELOAD_GROUP_SHIFT)
#define SHOW_BATCH_GROUPS 256 /* the background loader shows 16 MiB at a time */

static size_t group_first(const struct imageload *ld, size_t g)
{
    return ld->lo + (g << IMAGELOAD_GROUP_SHIFT);
}

static size_t group_end(const struct imageload *ld, size_t g)
{
    size_t e = group_first(ld, g) + GROUP_PAGES;
    return e < ld->hi ? e : ld->hi;
}

/* Index of the first image entry with page >= page. */
static size_t lower_bound(const struct image *img, size_t page)
{
    size_t lo = 0, hi = img->hdr.npages;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (img->index[mid].page < page)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void load_failed(struct arena *a, size_t page, int err)
{
    trap_fatal(err == EIO ? "a page of the heap's image does not match its checksum (the image "
                            "file was damaged or changed after the restore); the heap cannot go "
                            "on. Restore with VMGC_RESTORE_VERIFY to check every page first"
                          : "a page of the heap's image could not be read (the image file was "
                            "truncated, removed or its disk failed after the restore); the heap "
                            "cannot go on",
               pagetable_page_addr(&a->pt, page));
}

/* Claim group g and load its image pages into the memfd (through the
 * collector view), or wait for whoever loads it.  Returns when loaded. */
static void load_group(struct arena *a, struct imageload *ld, size_t g)
{
    for (;;) {
        uint8_t s = __atomic_load_n(&ld->group[g], __ATOMIC_ACQUIRE);
        if (s >= G_LOADED)
            return;
        uint8_t expect = G_UNLOADED;
        if (s == G_UNLOADED && __atomic_compare_exchange_n(&ld->group[g], &expect, G_LOADING, 0,
                                                           __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            break;
        sched_yield(); /* another thread loads it: a pread of 16 pages at most */
    }
    const struct image *img = ld->img;
    size_t end = group_end(ld, g), n = 0;
    for (size_t k = lower_bound(img, group_first(ld, g));
         k < img->hdr.npages && img->index[k].page < end; k++, n++) {
        size_t page = img->index[k].page;
        int err = image_read_page(img, k, a->vm.alias + (page << VM_PAGE_SHIFT));
        if (err)
            load_failed(a, page, err);
    }
    __atomic_fetch_add(&ld->pages_loaded, n, __ATOMIC_RELAXED);
    __atomic_store_n(&ld->group[g], G_LOADED, __ATOMIC_RELEASE);
}

/* Show groups [g0, g1), all loaded, in the mutator view.  Returns 0 or an
 * errno value (ENOMEM: the VMA limit; the caller shows a larger region). */
static int show_groups(struct arena *a, struct imageload *ld, size_t g0, size_t g1)
{
    size_t first = group_first(ld, g0), n = group_end(ld, g1 - 1) - first;
    if (SYS_RETRY(sys.mprotect(pagetable_page_addr(&a->pt, first), n << VM_PAGE_SHIFT,
                               PROT_READ | PROT_WRITE)) != 0)
        return errno;
    /* the pages are in the memfd now: map them, or the first touch would
     * take a minor fault just to do it */
    if (ld->uffd) {
        int err = prot_uffd_map(a, first, n);
        if (err)
            return err;
    }
    for (size_t g = g0; g < g1; g++)
        __atomic_store_n(&ld->group[g], G_SHOWN, __ATOMIC_RELEASE);
    return 0;
}

/* Load and show the groups of [g0, g1); at the VMA limit, a region 16
 * times larger, then 256 times, then the whole span (which merges with its
 * neighbours, so it never needs a VMA of its own).  Failing otherwise is
 * fatal: the pages cannot be left hidden, and a trap cannot report. */
static void load_and_show(struct arena *a, struct imageload *ld, size_t g0, size_t g1)
{
    size_t width = g1 - g0;
    for (;;) {
        for (size_t g = g0; g < g1; g++)
            load_group(a, ld, g);
        int err = show_groups(a, ld, g0, g1);
        if (!err)
            return;
        if (err != ENOMEM || (g0 == 0 && g1 == ld->ngroups))
            trap_fatal("showing loaded image pages in the mutator view failed (mprotect or "
                       "UFFDIO_CONTINUE)",
                       pagetable_page_addr(&a->pt, group_first(ld, g0)));
        __atomic_fetch_add(&ld->widenings, 1, __ATOMIC_RELAXED);
        width *= 16;
        if (width > 256) {
            g0 = 0;
            g1 = ld->ngroups;
        } else {
            g0 = g0 / width * width;
            g1 = g0 + width < ld->ngroups ? g0 + width : ld->ngroups;
        }
    }
}

static size_t group_of(const struct imageload *ld, size_t page)
{
    return (page - ld->lo) >> IMAGELOAD_GROUP_SHIFT;
}

int imageload_on_fault(struct arena *a, size_t i)
{
    struct imageload *ld = __atomic_load_n(&a->load, __ATOMIC_ACQUIRE);
    if (!ld || i < ld->lo || i >= ld->hi)
        return 0;
    size_t g = group_of(ld, i);
    if (__atomic_load_n(&ld->done, __ATOMIC_ACQUIRE) ||
        __atomic_load_n(&ld->group[g], __ATOMIC_ACQUIRE) == G_SHOWN) {
        /* .sol.shown-meanwhile: the fault was taken while the group was
         * hidden and another thread showed it since: retry the access.
         * A page the collector protects has its mark (prot.md .sol.mark-
         * first) and goes to its handler. */
        uint32_t bits = __atomic_load_n(&a->pt.desc[i].prot, __ATOMIC_ACQUIRE);
        return !(bits & (PD_READ_BARRIER | PD_PHYS_NONE | PD_VMA_HIDDEN | PD_WRITE_TRACK));
    }
    __atomic_fetch_add(&ld->trap_loads, 1, __ATOMIC_RELAXED);
    load_and_show(a, ld, g, g + 1);
    return 1;
}

void imageload_ready(struct arena *a, size_t first, size_t n)
{
    struct imageload *ld = __atomic_load_n(&a->load, __ATOMIC_ACQUIRE);
    if (!ld || __atomic_load_n(&ld->done, __ATOMIC_ACQUIRE))
        return;
    size_t lo = first > ld->lo ? first : ld->lo, hi = first + n < ld->hi ? first + n : ld->hi;
    for (size_t p = lo; p < hi; p = group_first(ld, group_of(ld, p)) + GROUP_PAGES) {
        size_t g = group_of(ld, p);
        if (__atomic_load_n(&ld->group[g], __ATOMIC_ACQUIRE) != G_SHOWN)
            load_and_show(a, ld, g, g + 1);
    }
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void imageload_settle(struct arena *a)
{
    struct imageload *ld = __atomic_load_n(&a->load, __ATOMIC_ACQUIRE);
    if (!ld || __atomic_load_n(&ld->done, __ATOMIC_ACQUIRE))
        return;
    for (size_t g0 = 0; g0 < ld->ngroups; g0 += SHOW_BATCH_GROUPS) {
        if (__atomic_load_n(&ld->stop, __ATOMIC_ACQUIRE))
            return; /* the heap is going away */
        size_t g1 = g0 + SHOW_BATCH_GROUPS < ld->ngroups ? g0 + SHOW_BATCH_GROUPS : ld->ngroups;
        for (size_t g = g0; g < g1; g++)
            load_group(a, ld, g);
        load_and_show(a, ld, g0, g1); /* one mprotect merges what traps showed */
    }
    /* two threads may both get here: both have shown everything */
    uint64_t t = now_ns();
    uint64_t zero = 0;
    __atomic_compare_exchange_n(&ld->done_ns, &zero, t, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
    __atomic_store_n(&ld->done, 1, __ATOMIC_RELEASE);
}

vmgc_status imageload_begin(struct arena *a, struct image *img, struct imageload *ld)
{
    memset(ld, 0, sizeof *ld);
    ld->img = img;
    if (img->hdr.npages == 0) {
        ld->done = 1;
        return VMGC_OK;
    }
    ld->lo = img->index[0].page;
    ld->hi = (size_t)img->index[img->hdr.npages - 1].page + 1;
    ld->ngroups = ((ld->hi - ld->lo) + GROUP_PAGES - 1) >> IMAGELOAD_GROUP_SHIFT;
    ld->uffd = a->prot == &prot_uffd_backend;
    ld->group = meta_calloc(ld->ngroups, 1);
    if (!ld->group)
        return error_set(VMGC_ENOMEM, "no memory for the load state of %zu page groups",
                         ld->ngroups);
    /* .sol.one-span: the span, gaps included (the caller holds them), is one
     * PROT_NONE stretch: one VMA however scattered the image's pages */
    if (SYS_RETRY(sys.mprotect(pagetable_page_addr(&a->pt, ld->lo), (ld->hi - ld->lo) << VM_PAGE_SHIFT,
                               PROT_NONE)) != 0) {
        int err = errno;
        meta_free(ld->group);
        ld->group = NULL;
        return error_sys("hiding a restored heap's pages until they are loaded (mprotect)", err);
    }
    __atomic_store_n(&a->load, ld, __ATOMIC_RELEASE);
    return VMGC_OK;
}

void imageload_end(struct arena *a, struct imageload *ld)
{
    __atomic_store_n(&ld->stop, 1, __ATOMIC_RELEASE);
    if (__atomic_load_n(&a->load, __ATOMIC_ACQUIRE) == ld)
        __atomic_store_n(&a->load, NULL, __ATOMIC_RELEASE);
    meta_free(ld->group);
    ld->group = NULL;
}

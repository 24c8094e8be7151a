/* dirty.c -- dirty-page tracking.  Design: doc/design/dirty.md. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dirty.h"
#include "error.h"
#include "prot.h"
#include "sys.h"
#include "trap.h"
#include "uffd_compat.h"

static int pagemap_scan_works(struct arena *a)
{
    int fd = sys.open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct page_region r;
    struct pm_scan_arg arg = {
        .size = sizeof arg,
        .start = (uintptr_t)a->vm.base,
        .end = (uintptr_t)a->vm.base + VM_PAGE_SIZE,
        .vec = (uintptr_t)&r,
        .vec_len = 1,
        .category_mask = PAGE_IS_WRITTEN,
        .return_mask = PAGE_IS_WRITTEN,
    };
    if (sys.ioctl(fd, PAGEMAP_SCAN, &arg) < 0) {
        sys.close(fd);
        return -1;
    }
    return fd;
}

vmgc_status dirty_open(struct arena *a, const char *name)
{
    memset(&a->dirty, 0, sizeof a->dirty);
    a->dirty.pagemap_fd = -1;
    /* lazily touched: a bit per 64 pages, 16 KiB for a 32 GiB reservation */
    size_t words = (a->pt.pages / 64 + 63) / 64;
    void *summary = sys.mmap(NULL, words * sizeof(uint64_t), PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (summary == MAP_FAILED)
        return error_sys("reserving the written-page summary (mmap)", errno);
    a->dirty.written_summary = summary;
    a->dirty.summary_words = words;
    const char *source = "the heap configuration";
    if (!name) {
        name = getenv("VMGC_DIRTY");
        source = "VMGC_DIRTY";
        if (name && !*name)
            name = NULL;
    }
    int want_pagemap = !name || strcmp(name, "pagemap") == 0;
    if (name && strcmp(name, "pagemap") != 0 && strcmp(name, "faults") != 0) {
        dirty_close(a);
        return error_set(VMGC_EINVAL, "%s names dirty mode '%s'; use 'pagemap' or 'faults'",
                         source, name);
    }
    if (want_pagemap && a->prot == &prot_uffd_backend && a->uffd.wp_async)
        a->dirty.pagemap_fd = pagemap_scan_works(a);
    if (a->dirty.pagemap_fd >= 0) {
        a->dirty.mode = DIRTY_PAGEMAP;
        return VMGC_OK;
    }
    if (name && want_pagemap) {
        dirty_close(a);
        return error_set(VMGC_EUNAVAILABLE,
                         "dirty mode 'pagemap' needs the uffd backend with asynchronous "
                         "write-protect and PAGEMAP_SCAN (Linux 6.7+); use VMGC_DIRTY=faults");
    }
    a->dirty.mode = DIRTY_WP_FAULTS;
    return VMGC_OK;
}

void dirty_close(struct arena *a)
{
    if (a->dirty.active)
        dirty_end(a);
    if (a->dirty.pagemap_fd >= 0)
        sys.close(a->dirty.pagemap_fd);
    a->dirty.pagemap_fd = -1;
    if (a->dirty.written_summary)
        sys.munmap(a->dirty.written_summary, a->dirty.summary_words * sizeof(uint64_t));
    a->dirty.written_summary = NULL;
}

static vmgc_status uffd_wp(struct arena *a, size_t first, size_t n, int on)
{
    struct uffdio_writeprotect wp = {
        .range = {.start = (uintptr_t)pagetable_page_addr(&a->pt, first), .len = n << VM_PAGE_SHIFT},
        .mode = on ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
    };
    if (sys.ioctl(a->uffd.fd, UFFDIO_WRITEPROTECT, &wp) != 0)
        return error_sys("write-protecting heap pages (UFFDIO_WRITEPROTECT)", errno);
    return VMGC_OK;
}

static void track_bits(struct arena *a, size_t first, size_t n, int on)
{
    for (size_t i = first; i < first + n; i++) {
        uint32_t *p = &a->pt.desc[i].prot;
        if (on) {
            __atomic_fetch_and(p, ~(uint32_t)PD_WRITTEN, __ATOMIC_ACQ_REL);
            __atomic_fetch_or(p, PD_WRITE_TRACK, __ATOMIC_ACQ_REL);
        } else {
            __atomic_fetch_and(p, ~(uint32_t)(PD_WRITTEN | PD_WRITE_TRACK), __ATOMIC_ACQ_REL);
        }
    }
}

/* A tracked page is about to be written for the first time since it was
 * tracked (its PD_WRITE_TRACK just cleared by us): the arena's owner may
 * want its contents as they are (gc/mark.c .sol.first-write). */
static void first_write(struct arena *a, size_t i)
{
    void (*fn)(void *, size_t) = __atomic_load_n(&a->first_write_fn, __ATOMIC_ACQUIRE);
    if (fn)
        fn(a->first_write_ctx, i);
}

/* .sol.overflow: when write-protecting page by page runs into the VMA
 * limit, give up precision, not correctness: every tracked page counts as
 * written from then on. */
static void faults_overflow(struct arena *a, int in_signal)
{
    a->dirty.overflowed = 1;
    for (size_t i = a->dirty.first; i < a->dirty.first + a->dirty.n; i++)
        if (__atomic_fetch_and(&a->pt.desc[i].prot, ~(uint32_t)PD_WRITE_TRACK, __ATOMIC_ACQ_REL) &
            PD_WRITE_TRACK)
            first_write(a, i);
    a->prot->refresh_write(a, a->dirty.first, a->dirty.n, in_signal);
}

/* Count every tracked page clean and write-protect it (faults mode). */
static vmgc_status faults_arm(struct arena *a)
{
    track_bits(a, a->dirty.first, a->dirty.n, 1);
    int err = a->prot->refresh_write(a, a->dirty.first, a->dirty.n, 0);
    if (err == ENOMEM)
        faults_overflow(a, 0);
    else if (err)
        return error_sys("write-protecting heap pages (mprotect PROT_READ)", err);
    return VMGC_OK;
}

vmgc_status dirty_begin(struct arena *a, void *addr, size_t len)
{
    size_t first, n;
    vmgc_status st = arena_range(a, addr, len, &first, &n);
    if (st != VMGC_OK)
        return st;
    if (a->dirty.active)
        return error_set(VMGC_ESTATE, "dirty tracking is already active on this heap; call "
                                      "dirty_end first");
    a->dirty.first = first;
    a->dirty.n = n;
    a->dirty.overflowed = 0;
    if (a->dirty.mode == DIRTY_PAGEMAP) {
        st = prot_uffd_register_wp(a);
        if (st != VMGC_OK)
            return st;
        st = uffd_wp(a, first, n, 1);
        if (st == VMGC_OK)
            a->dirty.active = 1;
        return st;
    }
    st = trap_handlers_intact();
    if (st != VMGC_OK)
        return st;
    a->dirty.active = 1;
    return faults_arm(a);
}

static void bitmap_set(uint64_t *bm, size_t k)
{
    bm[k >> 6] |= (uint64_t)1 << (k & 63);
}

static vmgc_status collect_pagemap(struct arena *a, uint64_t *bm, size_t *count, int rearm)
{
    struct page_region vec[256];
    uintptr_t start = (uintptr_t)pagetable_page_addr(&a->pt, a->dirty.first);
    uintptr_t end = start + (a->dirty.n << VM_PAGE_SHIFT);
    uintptr_t cur = start;
    while (cur < end) {
        struct pm_scan_arg arg = {
            .size = sizeof arg,
            .flags = rearm ? PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC : 0,
            .start = cur,
            .end = end,
            .vec = (uintptr_t)vec,
            .vec_len = 256,
            .category_mask = PAGE_IS_WRITTEN,
            .return_mask = PAGE_IS_WRITTEN,
        };
        int got = sys.ioctl(a->dirty.pagemap_fd, PAGEMAP_SCAN, &arg);
        if (got < 0)
            return error_sys("reading written pages (PAGEMAP_SCAN)", errno);
        for (int r = 0; r < got; r++)
            for (uintptr_t p = vec[r].start; p < vec[r].end; p += VM_PAGE_SIZE) {
                bitmap_set(bm, (p - start) >> VM_PAGE_SHIFT);
                (*count)++;
            }
        if (arg.walk_end <= cur)
            break;
        cur = arg.walk_end;
    }
    return VMGC_OK;
}

static vmgc_status collect_faults(struct arena *a, uint64_t *bm, size_t *count, int rearm)
{
    size_t first = a->dirty.first, n = a->dirty.n;
    for (size_t k = 0; k < n; k++) {
        uint32_t b = __atomic_load_n(&a->pt.desc[first + k].prot, __ATOMIC_ACQUIRE);
        if (a->dirty.overflowed || (b & PD_WRITTEN)) {
            bitmap_set(bm, k);
            (*count)++;
        }
    }
    if (!rearm)
        return VMGC_OK;
    a->dirty.overflowed = 0;
    return faults_arm(a);
}

vmgc_status dirty_collect(struct arena *a, uint64_t *bitmap, size_t *count, int rearm)
{
    if (!a->dirty.active)
        return error_set(VMGC_ESTATE, "no dirty tracking is active on this heap; call "
                                      "dirty_begin first");
    memset(bitmap, 0, ((a->dirty.n + 63) / 64) * sizeof *bitmap);
    *count = 0;
    if (a->dirty.mode == DIRTY_PAGEMAP)
        return collect_pagemap(a, bitmap, count, rearm);
    return collect_faults(a, bitmap, count, rearm);
}

vmgc_status dirty_end(struct arena *a)
{
    if (!a->dirty.active)
        return error_set(VMGC_ESTATE, "no dirty tracking is active on this heap");
    a->dirty.active = 0;
    if (a->dirty.mode == DIRTY_PAGEMAP)
        return uffd_wp(a, a->dirty.first, a->dirty.n, 0);
    track_bits(a, a->dirty.first, a->dirty.n, 0);
    int err = a->prot->refresh_write(a, a->dirty.first, a->dirty.n, 0);
    if (err)
        return error_sys("ending write protection (mprotect)", err);
    return VMGC_OK;
}

/* ---- .sol.page-track ---- */

void dirty_mark_written(struct arena *a, size_t i)
{
    __atomic_fetch_or(&a->pt.desc[i].prot, PD_WRITTEN, __ATOMIC_ACQ_REL);
    /* after the page's mark: a taker that sees the summary bit sees it */
    __atomic_fetch_or(&a->dirty.written_summary[i >> 12], (uint64_t)1 << ((i >> 6) & 63),
                      __ATOMIC_ACQ_REL);
}

int dirty_track_pages(struct arena *a, size_t first, size_t n, int in_signal)
{
    int already = 1; /* tracked and not written: protected read-only since */
    for (size_t i = first; i < first + n; i++) {
        uint32_t *p = &a->pt.desc[i].prot;
        uint32_t was = __atomic_fetch_and(p, ~(uint32_t)PD_WRITTEN, __ATOMIC_ACQ_REL);
        was = __atomic_fetch_or(p, PD_WRITE_TRACK, __ATOMIC_ACQ_REL) | (was & PD_WRITTEN);
        already &= (was & (PD_WRITE_TRACK | PD_WRITTEN)) == PD_WRITE_TRACK;
    }
    if (already)
        return 0;
    int err = a->prot->refresh_write(a, first, n, in_signal);
    if (!err)
        return 0;
    /* not protected after all (in part, maybe): writable and written */
    for (size_t i = first; i < first + n; i++) {
        __atomic_fetch_and(&a->pt.desc[i].prot, ~(uint32_t)PD_WRITE_TRACK, __ATOMIC_ACQ_REL);
        dirty_mark_written(a, i);
    }
    a->prot->refresh_write(a, first, n, in_signal); /* making writable merges VMAs */
    return err;
}

int dirty_untrack_pages(struct arena *a, size_t first, size_t n)
{
    for (size_t i = first; i < first + n; i++)
        __atomic_fetch_and(&a->pt.desc[i].prot, ~(uint32_t)(PD_WRITE_TRACK | PD_WRITTEN),
                           __ATOMIC_ACQ_REL);
    return a->prot->refresh_write(a, first, n, 0);
}

size_t dirty_each_written(struct arena *a, int take, void (*fn)(void *ctx, size_t page),
                          void *ctx)
{
    size_t count = 0;
    for (size_t w = 0; w < a->dirty.summary_words; w++) {
        if (!__atomic_load_n(&a->dirty.written_summary[w], __ATOMIC_ACQUIRE))
            continue;
        uint64_t bits = take ? __atomic_exchange_n(&a->dirty.written_summary[w], 0, __ATOMIC_ACQ_REL)
                             : __atomic_load_n(&a->dirty.written_summary[w], __ATOMIC_ACQUIRE);
        for (; bits; bits &= bits - 1) {
            size_t chunk = w * 64 + (size_t)__builtin_ctzll(bits);
            size_t end = (chunk + 1) * 64 < a->pt.pages ? (chunk + 1) * 64 : a->pt.pages;
            for (size_t i = chunk * 64; i < end; i++) {
                uint32_t *p = &a->pt.desc[i].prot;
                if (!(__atomic_load_n(p, __ATOMIC_ACQUIRE) & PD_WRITTEN))
                    continue;
                if (take &&
                    !(__atomic_fetch_and(p, ~(uint32_t)PD_WRITTEN, __ATOMIC_ACQ_REL) & PD_WRITTEN))
                    continue;
                count++;
                fn(ctx, i);
            }
        }
    }
    return count;
}

/* .sol.page-track-limit: a tracked page written must become writable.  If
 * splitting its VMA out hits the VMA limit, the aligned block of 512 pages
 * around it stops being tracked (counted written: the collector scans it)
 * and is made writable whole, which merges VMAs.  Async-signal-safe. */
static void make_writable(struct arena *a, size_t i, int in_signal)
{
    int err = a->prot->refresh_write(a, i, 1, in_signal);
    if (err == ENOMEM && a->dirty.active && a->dirty.mode == DIRTY_WP_FAULTS) {
        faults_overflow(a, in_signal); /* dirty_begin's range: all written */
        return;
    }
    if (err == ENOMEM) {
        size_t lo = i & ~(size_t)511, hi = lo + 512 < a->pt.pages ? lo + 512 : a->pt.pages;
        for (size_t k = lo; k < hi; k++)
            if (__atomic_fetch_and(&a->pt.desc[k].prot, ~(uint32_t)PD_WRITE_TRACK,
                                   __ATOMIC_ACQ_REL) & PD_WRITE_TRACK) {
                first_write(a, k);
                dirty_mark_written(a, k);
            }
        err = a->prot->refresh_write(a, lo, hi - lo, in_signal);
    }
    if (err)
        trap_fatal("mprotect failed while recording a write to a tracked heap page (at the "
                   "VMA limit: raise vm.max_map_count, or set vmgc_config.generational to -1)",
                   pagetable_page_addr(&a->pt, i));
}

/* Two threads may fault on one tracked page at once: the first to clear
 * PD_WRITE_TRACK makes it writable; the other finds it marked written and
 * makes it writable too (a fault on a page marked written and read-only
 * for any reason is answered that way). */
int dirty_on_write_fault(struct arena *a, size_t i, int is_write)
{
    uint32_t *p = &a->pt.desc[i].prot;
    uint32_t b = __atomic_load_n(p, __ATOMIC_ACQUIRE);
    if (!is_write)
        return 0;
    if (!(b & PD_WRITE_TRACK)) {
        if (!(b & PD_WRITTEN) || (b & PD_PHYS_NONE)) /* PROT_NONE: the read barrier's */
            return 0;
        /* another thread's first write may still be reading the page (its
         * first_write, before its make_writable): read it ourselves before
         * the page turns writable under it */
        first_write(a, i);
        make_writable(a, i, 1);
        return 1;
    }
    dirty_mark_written(a, i);
    if (!(__atomic_fetch_and(p, ~(uint32_t)PD_WRITE_TRACK, __ATOMIC_ACQ_REL) & PD_WRITE_TRACK))
        return 1; /* another fault took it */
    __atomic_fetch_add(&a->n_write_traps, 1, __ATOMIC_RELAXED);
    first_write(a, i);
    make_writable(a, i, 1);
    return 1;
}

/* dirty.c -- dirty-page tracking.  Design: doc/design/dirty.md. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
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
    const char *source = "the heap configuration";
    if (!name) {
        name = getenv("VMGC_DIRTY");
        source = "VMGC_DIRTY";
        if (name && !*name)
            name = NULL;
    }
    int want_pagemap = !name || strcmp(name, "pagemap") == 0;
    if (name && strcmp(name, "pagemap") != 0 && strcmp(name, "faults") != 0)
        return error_set(VMGC_EINVAL, "%s names dirty mode '%s'; use 'pagemap' or 'faults'",
                         source, name);
    if (want_pagemap && a->prot == &prot_uffd_backend && a->uffd.wp_async)
        a->dirty.pagemap_fd = pagemap_scan_works(a);
    if (a->dirty.pagemap_fd >= 0) {
        a->dirty.mode = DIRTY_PAGEMAP;
        return VMGC_OK;
    }
    if (name && want_pagemap)
        return error_set(VMGC_EUNAVAILABLE,
                         "dirty mode 'pagemap' needs the uffd backend with asynchronous "
                         "write-protect and PAGEMAP_SCAN (Linux 6.7+); use VMGC_DIRTY=faults");
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

/* .sol.overflow: when write-protecting page by page runs into the VMA
 * limit, give up precision, not correctness: every tracked page counts as
 * written from then on. */
static void faults_overflow(struct arena *a, int in_signal)
{
    a->dirty.overflowed = 1;
    for (size_t i = a->dirty.first; i < a->dirty.first + a->dirty.n; i++)
        __atomic_fetch_and(&a->pt.desc[i].prot, ~(uint32_t)PD_WRITE_TRACK, __ATOMIC_ACQ_REL);
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

int dirty_on_write_fault(struct arena *a, size_t i, int is_write)
{
    uint32_t *p = &a->pt.desc[i].prot;
    uint32_t b = __atomic_load_n(p, __ATOMIC_ACQUIRE);
    if (!(b & PD_WRITE_TRACK) || !is_write)
        return 0;
    __atomic_fetch_or(p, PD_WRITTEN, __ATOMIC_ACQ_REL);
    __atomic_fetch_and(p, ~(uint32_t)PD_WRITE_TRACK, __ATOMIC_ACQ_REL);
    __atomic_fetch_add(&a->n_write_traps, 1, __ATOMIC_RELAXED);
    int err = a->prot->refresh_write(a, i, 1, 1);
    if (err == ENOMEM)
        faults_overflow(a, 1);
    else if (err)
        trap_fatal("mprotect failed while recording a write to a tracked heap page",
                   pagetable_page_addr(&a->pt, i));
    return 1;
}

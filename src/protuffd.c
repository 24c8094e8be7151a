/* protuffd.c -- the userfaultfd minor-fault backend.
 * Design: doc/design/prot.md, section "uffd backend".
 *
 * Protected means: present in the memfd but not mapped in the mutator view.
 * A mutator touch raises a minor fault, which the kernel delivers to the
 * faulting thread as SIGBUS (UFFD_FEATURE_SIGBUS); resolving is
 * UFFDIO_CONTINUE.  No VMA is ever split, so there is no VMA limit.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "error.h"
#include "forksnap.h"
#include "prot.h"
#include "sys.h"
#include "trap.h"
#include "uffd_compat.h"

#define WP_FEATURES \
    (UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED | UFFD_FEATURE_WP_HUGETLBFS_SHMEM)

/* .sol.open-order: user-mode-only first (allowed without privilege when
 * vm.unprivileged_userfaultfd=0), then full. */
static int uffd_new(int *err)
{
    int fd = (int)sys.userfaultfd(O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
    if (fd < 0 && errno == EINVAL)
        fd = (int)sys.userfaultfd(O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        *err = errno;
    return fd;
}

static vmgc_status uffd_api(int fd, uint64_t features, uint64_t *got)
{
    struct uffdio_api api = {.api = UFFD_API, .features = features};
    if (sys.ioctl(fd, UFFDIO_API, &api) != 0)
        return VMGC_EUNAVAILABLE;
    *got = api.features;
    return VMGC_OK;
}

static vmgc_status uffd_open(struct arena *a)
{
    int err = 0;
    int fd = uffd_new(&err);
    if (fd < 0)
        return error_set(VMGC_EUNAVAILABLE,
                         "userfaultfd is unavailable (%s): run as root, set "
                         "vm.unprivileged_userfaultfd=1, or grant access to /dev/userfaultfd; "
                         "or choose the mprotect backend with VMGC_BARRIER=mprotect",
                         err == ENOSYS ? "kernel built without it" : strerror(err));
    /* An fd's features are fixed by its first UFFDIO_API, so probe the
     * full set on a throwaway fd and fall back to the minimum. */
    uint64_t base = UFFD_FEATURE_SIGBUS | UFFD_FEATURE_MINOR_SHMEM, got = 0;
    int probe = uffd_new(&err);
    int wp = probe >= 0 && uffd_api(probe, base | WP_FEATURES, &got) == VMGC_OK &&
             (got & WP_FEATURES) == WP_FEATURES;
    if (probe >= 0)
        sys.close(probe);
    if (uffd_api(fd, base | (wp ? WP_FEATURES : 0), &got) != VMGC_OK ||
        (got & base) != base) {
        sys.close(fd);
        return error_set(VMGC_EUNAVAILABLE,
                         "userfaultfd here lacks minor faults on shared memory with SIGBUS "
                         "delivery (Linux 5.14 or newer is needed); use VMGC_BARRIER=mprotect");
    }
    /* minor faults only: write-protect is registered when dirty tracking
     * first needs it (prot_uffd_register_wp, .sol.hide) */
    struct uffdio_register reg = {
        .range = {.start = (uintptr_t)a->vm.base, .len = a->vm.size},
        .mode = UFFDIO_REGISTER_MODE_MINOR,
    };
    if (sys.ioctl(fd, UFFDIO_REGISTER, &reg) != 0) {
        int e = errno;
        sys.close(fd);
        return error_set(VMGC_EUNAVAILABLE,
                         "registering the heap with userfaultfd failed (%s); use "
                         "VMGC_BARRIER=mprotect",
                         strerror(e));
    }
    a->uffd.fd = fd;
    a->uffd.wp_async = wp;
    a->uffd.wp_registered = 0;
    return VMGC_OK;
}

vmgc_status prot_uffd_register_wp(struct arena *a)
{
    if (a->prot != &prot_uffd_backend || !a->uffd.wp_async)
        return error_set(VMGC_EUNAVAILABLE, "asynchronous write-protect needs the uffd backend "
                                            "on Linux 6.7 or newer; use VMGC_DIRTY=faults");
    if (__atomic_load_n(&a->uffd.wp_registered, __ATOMIC_ACQUIRE))
        return VMGC_OK;
    /* the same context again, with both modes: the kernel replaces the
     * range's registration */
    struct uffdio_register reg = {
        .range = {.start = (uintptr_t)a->vm.base, .len = a->vm.size},
        .mode = UFFDIO_REGISTER_MODE_MINOR | UFFDIO_REGISTER_MODE_WP,
    };
    if (sys.ioctl(a->uffd.fd, UFFDIO_REGISTER, &reg) != 0)
        return error_sys("registering the heap for write-protect (UFFDIO_REGISTER)", errno);
    __atomic_store_n(&a->uffd.wp_registered, 1, __ATOMIC_RELEASE);
    return VMGC_OK;
}

/* In a fork child: the inherited descriptor is the parent's context (its
 * registrations are the parent's), so it is closed without unregistering
 * anything, and the child's view is registered with a new one. */
vmgc_status prot_uffd_reopen(struct arena *a)
{
    if (a->uffd.fd >= 0)
        sys.close(a->uffd.fd);
    a->uffd.fd = -1;
    return uffd_open(a);
}

static void uffd_close(struct arena *a)
{
    if (a->uffd.fd >= 0) {
        struct uffdio_range r = {.start = (uintptr_t)a->vm.base, .len = a->vm.size};
        sys.ioctl(a->uffd.fd, UFFDIO_UNREGISTER, &r);
        sys.close(a->uffd.fd);
    }
    a->uffd.fd = -1;
}

/* PROTN: make the pages present (a hole would read as zero without a trap;
 * skipped when the caller says they are resident), then zap them from the
 * mutator view only. */
static vmgc_status uffd_protect(struct arena *a, size_t first, size_t n, int resident)
{
    off_t off = (off_t)(first << VM_PAGE_SHIFT), len = (off_t)(n << VM_PAGE_SHIFT);
    if (!resident && SYS_RETRY(sys.fallocate(a->vm.fd, 0, off, len)) != 0)
        return error_sys("making protected heap pages present (fallocate)", errno);
    if (SYS_RETRY(sys.madvise(a->vm.base + off, (size_t)len, MADV_DONTNEED)) != 0)
        return error_sys("unmapping protected pages from the mutator view (madvise)", errno);
    return VMGC_OK;
}

/* UNPROT, batched.  A batch stops at a page that is mapped already (EEXIST)
 * or is a hole (EFAULT/ENOENT: it reads as zero without a trap, nothing to
 * do): step over that page and go on.  Async-signal-safe. */
static int uffd_continue(struct arena *a, size_t first, size_t n)
{
    uintptr_t cur = (uintptr_t)pagetable_page_addr(&a->pt, first);
    uintptr_t end = cur + (n << VM_PAGE_SHIFT);
    while (cur < end) {
        struct uffdio_continue c = {.range = {.start = cur, .len = end - cur}, .mode = 0};
        if (sys.ioctl(a->uffd.fd, UFFDIO_CONTINUE, &c) == 0)
            return 0;
        int err = errno;
        if (c.mapped > 0)
            cur += (uintptr_t)c.mapped;
        if (err == EAGAIN)
            continue;
        if (err != EEXIST && err != EFAULT && err != ENOENT)
            return err;
        cur += VM_PAGE_SIZE; /* the page at cur is mapped already, or a hole */
    }
    return 0;
}

int prot_uffd_map(struct arena *a, size_t first, size_t n)
{
    return uffd_continue(a, first, n);
}

static vmgc_status uffd_unprotect(struct arena *a, size_t first, size_t n)
{
    int err = uffd_continue(a, first, n);
    if (err)
        return error_sys("mapping heap pages back into the mutator view (UFFDIO_CONTINUE)", err);
    return VMGC_OK;
}

/* VMA protection on this backend serves write tracking by faults (the
 * read barrier lives in the page tables) and hiding (.sol.hide): each
 * stretch of pages gets PROT_READ if write-tracked, else read-write; hidden
 * pages keep PROT_NONE if keep_hidden.  Async-signal-safe.  Returns 0 or
 * an errno value. */
static int page_vma_class(struct arena *a, size_t i, int keep_hidden)
{
    uint32_t bits = __atomic_load_n(&a->pt.desc[i].prot, __ATOMIC_ACQUIRE);
    return keep_hidden && (bits & PD_VMA_HIDDEN) ? 2 : (bits & PD_WRITE_TRACK) ? 1 : 0;
}

/* .sol.class-recheck: the bits are read, then the protection applied, with
 * no lock (this runs in traps); a thread that changed the bits meanwhile
 * and protected first would be overridden by a stale class (a page tracked
 * but writable: a write unseen).  So each run is checked again after its
 * mprotect and redone if its pages' class changed: whoever protects last
 * rechecks after everyone's bit changes, and the protection ends up as the
 * bits say. */
static int vma_protect_by_class(struct arena *a, size_t first, size_t n, int keep_hidden)
{
    for (size_t i = first, end = first + n; i < end;) {
        int cls = page_vma_class(a, i, keep_hidden);
        size_t j = i + 1;
        while (j < end && page_vma_class(a, j, keep_hidden) == cls)
            j++;
        if (cls == 0)
            forksnap_save_range(a, i, j - i); /* .sol.save-before-write */
        if (cls != 2 && SYS_RETRY(sys.mprotect(pagetable_page_addr(&a->pt, i), (j - i) << VM_PAGE_SHIFT,
                                     cls ? PROT_READ : PROT_READ | PROT_WRITE)) != 0)
            return errno;
        size_t k = i; /* on from the first page whose class changed, if any */
        while (k < j && page_vma_class(a, k, keep_hidden) == cls)
            k++;
        i = k;
    }
    return 0;
}

static void set_hidden(struct arena *a, size_t first, size_t n, int on)
{
    for (size_t i = first; i < first + n; i++) {
        if (on)
            __atomic_fetch_or(&a->pt.desc[i].prot, PD_VMA_HIDDEN, __ATOMIC_ACQ_REL);
        else
            __atomic_fetch_and(&a->pt.desc[i].prot, ~(uint32_t)PD_VMA_HIDDEN, __ATOMIC_ACQ_REL);
    }
}

/* .sol.uffd-trap: run the barrier, then map the page.  Two threads on one
 * page both get here; the loser's CONTINUE fails with EEXIST: success. */
static int uffd_resolve(struct arena *a, size_t i, int in_signal)
{
    (void)in_signal;
    uint32_t bits = __atomic_load_n(&a->pt.desc[i].prot, __ATOMIC_ACQUIRE);
    if (!(bits & PD_READ_BARRIER))
        __atomic_fetch_add(&a->n_spurious, 1, __ATOMIC_RELAXED);
    prot_run_barrier(a, i);
    /* a hidden page whose barrier returned (the collector's does not: a
     * touch of from-space is fatal) is shown like an unmapped one */
    if (bits & PD_VMA_HIDDEN) {
        if (vma_protect_by_class(a, i, 1, 0) != 0)
            trap_fatal("mprotect failed while resolving a trap on a hidden heap page",
                       pagetable_page_addr(&a->pt, i));
        set_hidden(a, i, 1, 0);
    }
    int err = uffd_continue(a, i, 1);
    if (err)
        trap_fatal("UFFDIO_CONTINUE failed while resolving a heap trap",
                   pagetable_page_addr(&a->pt, i));
    return 1;
}

/* .sol.hide: PROT_NONE keeps the page table entries, so showing the pages
 * again is one mprotect, not a CONTINUE per page (GCBench's from-space:
 * ~0.37 against ~0.8 us a page to hide and show).  Not on a heap registered
 * for write-protect: mprotect would leave shown pages write-protected.
 * Dirty tracking by faults needs nothing special: its mprotects keep hidden
 * pages PROT_NONE, and showing them gives tracked pages PROT_READ.
 * The hidden flag goes on before the protection, so a fault there (SIGSEGV
 * on this backend) finds it and reaches the barrier's diagnosis. */
static vmgc_status uffd_hide(struct arena *a, size_t first, size_t n)
{
    if (!__atomic_load_n(&a->uffd.wp_registered, __ATOMIC_ACQUIRE)) {
        set_hidden(a, first, n, 1);
        if (SYS_RETRY(sys.mprotect(pagetable_page_addr(&a->pt, first), n << VM_PAGE_SHIFT, PROT_NONE)) == 0)
            return VMGC_OK;
        int err = errno;
        set_hidden(a, first, n, 0);
        if (err != ENOMEM)
            return error_sys("hiding heap pages (mprotect PROT_NONE)", err);
        /* .sol.hide-limit: at the VMA limit, unmap them instead */
    }
    return uffd_protect(a, first, n, 1);
}

/* Each stretch of hidden pages gets its protection back (read-only where
 * dirty tracking by faults wants it); the others are mapped again. */
static vmgc_status uffd_unhide(struct arena *a, size_t first, size_t n)
{
    for (size_t i = first, end = first + n; i < end;) {
        int hidden = (__atomic_load_n(&a->pt.desc[i].prot, __ATOMIC_ACQUIRE) & PD_VMA_HIDDEN) != 0;
        size_t j = i + 1;
        while (j < end &&
               ((__atomic_load_n(&a->pt.desc[j].prot, __ATOMIC_ACQUIRE) & PD_VMA_HIDDEN) != 0) ==
                   hidden)
            j++;
        int err = hidden ? vma_protect_by_class(a, i, j - i, 0) : uffd_continue(a, i, j - i);
        if (err)
            return error_sys(hidden ? "showing hidden heap pages again (mprotect)"
                                    : "mapping heap pages back into the mutator view "
                                      "(UFFDIO_CONTINUE)",
                             err);
        if (hidden)
            set_hidden(a, i, j - i, 0);
        i = j;
    }
    return VMGC_OK;
}

static int uffd_refresh_write(struct arena *a, size_t first, size_t n, int in_signal)
{
    (void)in_signal;
    return vma_protect_by_class(a, first, n, 1);
}

const struct prot_backend prot_uffd_backend = {
    .name = "uffd",
    .open = uffd_open,
    .close = uffd_close,
    .protect = uffd_protect,
    .unprotect = uffd_unprotect,
    .hide = uffd_hide,
    .unhide = uffd_unhide,
    .resolve = uffd_resolve,
    .refresh_write = uffd_refresh_write,
};

/* protmprotect.c -- the mprotect + SIGSEGV backend.
 * Design: doc/design/prot.md, section "mprotect backend".
 *
 * Every run of PROT_NONE pages is a VMA, and the process may have only
 * vm.max_map_count of them.  .sol.coarsen: the backend counts the runs it
 * causes; past a budget (a quarter of the limit), or when mprotect fails
 * with ENOMEM, it protects in coarser granules (8x larger each time, up to
 * the whole heap), so the run count falls.  A trap on a granule runs the
 * read barrier for every protected page in it before exposing it: at the
 * coarsest level, one trap scans eagerly.  It never crashes or hangs at the
 * limit.
 *
 * .sol.lock: one spin lock per arena serializes changes of physical
 * protection with the run count.  Outside the trap path it is held with
 * async signals blocked (trap_block_async), so no signal handler can find
 * it held by the thread it interrupted; the trap path runs with them blocked
 * already.  The lock is never held while calling the read barrier or while
 * touching the mutator view.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "error.h"
#include "forksnap.h"
#include "dirty.h"
#include "prot.h"
#include "sys.h"
#include "trap.h"

static __thread char mp_token __attribute__((tls_model("initial-exec")));

struct mp_guard {
    sigset_t saved;
    int in_signal;
};

static void mp_lock(struct arena *a, struct mp_guard *g, int in_signal)
{
    g->in_signal = in_signal;
    if (!in_signal)
        trap_block_async(&g->saved);
    void *me = &mp_token;
    for (;;) {
        void *expected = NULL;
        if (__atomic_compare_exchange_n(&a->mp.owner, &expected, me, 0, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED))
            return;
        if (expected == me)
            trap_fatal("mprotect backend lock taken twice by one thread", a->vm.base);
        sched_yield();
    }
}

static void mp_unlock(struct arena *a, struct mp_guard *g)
{
    __atomic_store_n(&a->mp.owner, NULL, __ATOMIC_RELEASE);
    if (!g->in_signal)
        trap_restore_mask(&g->saved);
}

static uint32_t bits(const struct arena *a, size_t i)
{
    return __atomic_load_n(&a->pt.desc[i].prot, __ATOMIC_ACQUIRE);
}

static int phys(const struct arena *a, size_t i)
{
    return i < a->pt.pages && (bits(a, i) & PD_PHYS_NONE);
}

/* Maximal PROT_NONE runs that start inside [lo, hi). */
static size_t runs_in(const struct arena *a, size_t lo, size_t hi)
{
    size_t count = 0;
    if (hi > a->pt.pages)
        hi = a->pt.pages;
    for (size_t i = lo; i < hi; i++)
        if (phys(a, i) && (i == 0 || !phys(a, i - 1)))
            count++;
    return count;
}

static int any_barrier(const struct arena *a, size_t lo, size_t hi)
{
    for (size_t i = lo; i < hi; i++)
        if (bits(a, i) & PD_READ_BARRIER)
            return 1;
    return 0;
}

static void set_phys(struct arena *a, size_t lo, size_t hi, int on)
{
    for (size_t i = lo; i < hi; i++) {
        if (on)
            __atomic_fetch_or(&a->pt.desc[i].prot, PD_PHYS_NONE, __ATOMIC_ACQ_REL);
        else
            __atomic_fetch_and(&a->pt.desc[i].prot, ~(uint32_t)PD_PHYS_NONE, __ATOMIC_ACQ_REL);
    }
}

static size_t window_lo(size_t lo)
{
    return lo ? lo - 1 : 0;
}

/* Change [lo, hi) to PROT_NONE or back, keeping the run count.  Going back,
 * write-tracked pages get PROT_READ, straight from PROT_NONE (no moment
 * writable); where that split hits the VMA limit they are counted as
 * written and made writable instead (.sol.conservative-dirty).  Lock held.
 * Returns 0 or errno. */
static int mp_set(struct arena *a, size_t lo, size_t hi, int none)
{
    size_t before = runs_in(a, window_lo(lo), hi + 1);
    if (none) {
        if (SYS_RETRY(sys.mprotect(pagetable_page_addr(&a->pt, lo), (hi - lo) << VM_PAGE_SHIFT,
                                   PROT_NONE)) != 0)
            return errno;
    } else {
        forksnap_save_range(a, lo, hi - lo); /* .sol.save-before-write */
        for (size_t i = lo; i < hi;) {
            int tracked = (bits(a, i) & PD_WRITE_TRACK) != 0;
            size_t j = i + 1;
            while (j < hi && ((bits(a, j) & PD_WRITE_TRACK) != 0) == tracked)
                j++;
            char *addr = pagetable_page_addr(&a->pt, i);
            size_t len = (j - i) << VM_PAGE_SHIFT;
            if (tracked && SYS_RETRY(sys.mprotect(addr, len, PROT_READ)) == 0) {
                i = j;
                continue;
            }
            if (tracked && errno != ENOMEM)
                return errno;
            for (size_t k = i; tracked && k < j; k++) {
                __atomic_fetch_and(&a->pt.desc[k].prot, ~(uint32_t)PD_WRITE_TRACK,
                                   __ATOMIC_ACQ_REL);
                dirty_mark_written(a, k);
            }
            if (SYS_RETRY(sys.mprotect(addr, len, PROT_READ | PROT_WRITE)) != 0)
                return errno;
            i = j;
        }
    }
    set_phys(a, lo, hi, none);
    a->mp.runs = a->mp.runs - before + runs_in(a, window_lo(lo), hi + 1);
    return 0;
}

static unsigned max_level(const struct arena *a)
{
    unsigned l = 0;
    while (((size_t)1 << l) < a->pt.pages)
        l++;
    return l;
}

static int all_phys(const struct arena *a, size_t lo, size_t hi)
{
    for (size_t i = lo; i < hi; i++)
        if (!phys(a, i))
            return 0;
    return 1;
}

/* .sol.coarsen: raise the granule size and re-protect, granule by granule,
 * every granule holding a protected page; adjacent ones merge into one VMA.
 * Lock held.  Returns 0 or errno. */
static int mp_coarsen(struct arena *a)
{
    unsigned top = max_level(a);
    int err = 0;
    while (a->mp.level < top) {
        a->mp.level = a->mp.level + 3 < top ? a->mp.level + 3 : top;
        a->mp.coarsenings++;
        size_t g = (size_t)1 << a->mp.level;
        err = 0;
        for (size_t lo = 0; lo < a->mp.hwm && !err; lo += g) {
            size_t hi = lo + g < a->pt.pages ? lo + g : a->pt.pages;
            int want = 0;
            for (size_t i = lo; i < hi && !want; i++)
                want = (bits(a, i) & (PD_PHYS_NONE | PD_READ_BARRIER)) != 0;
            if (want && !all_phys(a, lo, hi))
                err = mp_set(a, lo, hi, 1);
        }
        if (err && err != ENOMEM)
            return err;
        if (!err && a->mp.runs <= a->mp.run_budget)
            return 0;
    }
    return err;
}

static vmgc_status mp_protect(struct arena *a, size_t first, size_t n, int resident)
{
    (void)resident; /* PROT_NONE traps on holes too */
    struct mp_guard g;
    mp_lock(a, &g, 0);
    int err = 0;
    for (;;) {
        size_t gsz = (size_t)1 << a->mp.level;
        size_t lo = first & ~(gsz - 1);
        size_t hi = (first + n + gsz - 1) & ~(gsz - 1);
        if (hi > a->pt.pages)
            hi = a->pt.pages;
        if (a->mp.hwm < hi)
            a->mp.hwm = hi;
        err = all_phys(a, lo, hi) ? 0 : mp_set(a, lo, hi, 1);
        if (!err) {
            if (a->mp.runs > a->mp.run_budget)
                mp_coarsen(a); /* what we asked for is in force either way */
            break;
        }
        if (err != ENOMEM || a->mp.level == max_level(a))
            break;
        err = mp_coarsen(a); /* covers our marked pages, or fails */
        if (err && err != ENOMEM)
            break;
    }
    mp_unlock(a, &g);
    if (err)
        return error_sys("protecting heap pages (mprotect PROT_NONE)", err);
    return VMGC_OK;
}

/* Expose granules in [first, +n) that no longer hold a protected page.  A
 * granule that still does stays hidden: its trap exposes it later. */
static vmgc_status mp_unprotect(struct arena *a, size_t first, size_t n)
{
    struct mp_guard g;
    mp_lock(a, &g, 0);
    size_t gsz = (size_t)1 << a->mp.level;
    size_t lo = first & ~(gsz - 1), end = first + n;
    while (lo < end) {
        size_t hi = lo + gsz < a->pt.pages ? lo + gsz : a->pt.pages;
        if (phys(a, lo) && !any_barrier(a, lo, hi)) {
            int err = mp_set(a, lo, hi, 0);
            if (err && err != ENOMEM) {
                mp_unlock(a, &g);
                return error_sys("exposing heap pages (mprotect)", err);
            }
        }
        lo = hi;
    }
    mp_unlock(a, &g);
    return VMGC_OK;
}

/* .sol.trap: run the barrier for every protected page of the faulting
 * granule without the lock, then expose the granule under it.  If exposing
 * would split a VMA at the limit (ENOMEM), widen to the whole PROT_NONE run
 * around the page: exposing a whole run merges VMAs and cannot fail. */
static int mp_resolve(struct arena *a, size_t i, int in_signal)
{
    struct mp_guard g;
    int widen = 0;
    for (;;) {
        mp_lock(a, &g, in_signal);
        if (!phys(a, i)) {
            mp_unlock(a, &g);
            __atomic_fetch_add(&a->n_spurious, 1, __ATOMIC_RELAXED);
            return 1;
        }
        unsigned level = a->mp.level;
        size_t lo, hi;
        if (widen) {
            lo = i;
            while (lo > 0 && phys(a, lo - 1))
                lo--;
            hi = i + 1;
            while (phys(a, hi))
                hi++;
        } else {
            lo = i & ~(((size_t)1 << level) - 1);
            hi = lo + ((size_t)1 << level) < a->pt.pages ? lo + ((size_t)1 << level) : a->pt.pages;
        }
        mp_unlock(a, &g);
        for (size_t j = lo; j < hi; j++)
            prot_run_barrier(a, j);
        mp_lock(a, &g, in_signal);
        if (a->mp.level != level || any_barrier(a, lo, hi)) {
            mp_unlock(a, &g);
            continue;
        }
        int err = mp_set(a, lo, hi, 0);
        mp_unlock(a, &g);
        if (!err)
            return 1;
        if (err != ENOMEM || widen)
            trap_fatal("mprotect failed while exposing a resolved heap page", pagetable_page_addr(&a->pt, i));
        widen = 1;
    }
}

static int mp_refresh_write(struct arena *a, size_t first, size_t n, int in_signal)
{
    struct mp_guard g;
    mp_lock(a, &g, in_signal);
    int err = 0;
    size_t i = first, end = first + n;
    while (i < end && !err) {
        if (phys(a, i)) {
            i++;
            continue;
        }
        int tracked = (bits(a, i) & PD_WRITE_TRACK) != 0;
        size_t j = i + 1;
        while (j < end && !phys(a, j) && ((bits(a, j) & PD_WRITE_TRACK) != 0) == tracked)
            j++;
        if (!tracked)
            forksnap_save_range(a, i, j - i); /* .sol.save-before-write */
        if (SYS_RETRY(sys.mprotect(pagetable_page_addr(&a->pt, i), (j - i) << VM_PAGE_SHIFT,
                         tracked ? PROT_READ : PROT_READ | PROT_WRITE)) != 0)
            err = errno;
        i = j;
    }
    mp_unlock(a, &g);
    return err;
}

static size_t read_max_map_count(void)
{
    size_t value = 65530;
    int fd = sys.open("/proc/sys/vm/max_map_count", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        char buf[32];
        ssize_t n = sys.read(fd, buf, sizeof buf - 1);
        if (n > 0) {
            buf[n] = '\0';
            long v = strtol(buf, NULL, 10);
            if (v > 64)
                value = (size_t)v;
        }
        sys.close(fd);
    }
    return value;
}

static vmgc_status mp_open(struct arena *a)
{
    a->mp.owner = NULL;
    a->mp.level = 0;
    a->mp.runs = 0;
    a->mp.hwm = 0;
    a->mp.run_budget = read_max_map_count() / 4;
    const char *budget = getenv("VMGC_MPROTECT_RUN_BUDGET");
    if (budget && *budget) {
        long v = strtol(budget, NULL, 10);
        if (v <= 0)
            return error_set(VMGC_EINVAL, "VMGC_MPROTECT_RUN_BUDGET='%s' is not a positive number",
                             budget);
        a->mp.run_budget = (size_t)v;
    }
    return VMGC_OK;
}

static void mp_close(struct arena *a)
{
    (void)a;
}

const struct prot_backend prot_mprotect_backend = {
    .name = "mprotect",
    .open = mp_open,
    .close = mp_close,
    .protect = mp_protect,
    .unprotect = mp_unprotect,
    .resolve = mp_resolve,
    .refresh_write = mp_refresh_write,
};

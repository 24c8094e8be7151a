/* forksnap.c -- the heap across fork(): see forksnap.h.
 * Design: doc/design/forksnap.md.
 *
 * Trap-path rules (.req.signal-safe, trap.md): the fault handlers here copy
 * with memcpy between two mappings, change state bytes with atomics, wait
 * with sched_yield, and call mprotect / mmap / pread; no malloc, no lock.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "forksnap.h"
#include "pool.h"
#include "prot.h"
#include "sys.h"
#include "trap.h"

/* FS_CHILD and FS_CHILD_BROKEN are the largest (fork_settle tests >= 3). */
enum forksnap_phase {
    FS_NONE = 0,
    FS_PARENT,      /* owed pages are write-protected; copies go to S */
    FS_ENDING,      /* parent: exposing everything; faults retry */
    FS_CHILD,       /* child: views on S, mutator view inaccessible until complete */
    FS_CHILD_BROKEN /* child: prepare failed; the heap may not be used */
};

#ifndef FORKSNAP_TRAP_GROUP
#define FORKSNAP_TRAP_GROUP 16 /* pages a parent's write trap copies (.sol.trap-group) */
#endif

/* Per-page state, one byte each in shared memory. */
enum { PAGE_FREE = 0, PAGE_OWED, PAGE_CLAIMED, PAGE_SAVED };

struct forksnap_shared {
    int child_pid; /* set by the child when it has the state mapped (.sol.let-go) */
    char pad[60];
    uint8_t page[]; /* pages [0, hi) */
};

static int phase(const struct arena *a)
{
    return __atomic_load_n(&a->fs.phase, __ATOMIC_ACQUIRE);
}

int forksnap_parent_pending(const struct arena *a)
{
    int p = phase(a);
    return p == FS_PARENT || p == FS_ENDING;
}

int forksnap_broken(const struct arena *a)
{
    return phase(a) == FS_CHILD_BROKEN;
}

int forksnap_child_pending(const struct arena *a)
{
    int p = phase(a);
    return p == FS_CHILD || p == FS_CHILD_BROKEN;
}

static uint8_t *state(struct arena *a, size_t i)
{
    return &a->fs.shared->page[i];
}

/* ---- prepare (parent, world stopped, pool locked) ---- */

static void mark_owed(void *ctx, size_t first, size_t n)
{
    struct arena *a = ctx;
    a->fs.owed += n;
    memset(&a->fs.shared->page[first], PAGE_OWED, n);
}

static int is_owed_writable(struct arena *a, size_t i)
{
    return *state(a, i) == PAGE_OWED &&
           !(__atomic_load_n(&a->pt.desc[i].prot, __ATOMIC_ACQUIRE) & PD_PHYS_NONE);
}

/* Write-protect every stretch of owed pages (PROT_NONE ones are protected
 * already: exposing them saves them first, .sol.save-before-write).  At the
 * VMA limit, .sol.protect-coarse: the whole span but the PROT_NONE runs. */
static int coarse_take(struct arena *a, size_t i)
{
    /* saved already at prepare: only kept pages (.sol.keep-io) */
    return !(a->pt.desc[i].prot & PD_PHYS_NONE) && *state(a, i) != PAGE_SAVED;
}

static int protect_owed(struct arena *a, int coarse)
{
    size_t hi = a->fs.hi;
    for (size_t i = 0; i < hi;) {
        int take = coarse ? coarse_take(a, i) : is_owed_writable(a, i);
        if (!take) {
            i++;
            continue;
        }
        size_t j = i + 1;
        while (j < hi && (coarse ? coarse_take(a, j) : is_owed_writable(a, j)))
            j++;
        if (SYS_RETRY(sys.mprotect(a->vm.base + (i << VM_PAGE_SHIFT), (j - i) << VM_PAGE_SHIFT,
                         PROT_READ)) != 0)
            return errno;
        i = j;
    }
    return 0;
}

static void prepare_undo(struct arena *a)
{
    struct forksnap_state *fs = &a->fs;
    if (fs->staging)
        sys.munmap(fs->staging, fs->hi << VM_PAGE_SHIFT);
    if (fs->shared)
        sys.munmap(fs->shared, fs->shared_bytes);
    if (fs->s_fd >= 0)
        sys.close(fs->s_fd);
    if (fs->pagemap_fd >= 0)
        sys.close(fs->pagemap_fd);
    fs->staging = NULL;
    fs->shared = NULL;
    fs->s_fd = fs->pagemap_fd = -1;
}

static void prepare_failed(struct arena *a, const char *call, int err)
{
    prepare_undo(a);
    a->fs.failed = call;
    a->fs.failed_errno = err;
}

/* .sol.keep-io: a kept page is copied for the child now and so never
 * owed: the write-protection below skips it. */
static void save_kept(struct arena *a, const struct forksnap_keep *keep, size_t nkeep)
{
    for (size_t k = 0; k < nkeep; k++)
        for (size_t i = keep[k].first; i < keep[k].first + keep[k].n && i < a->fs.hi; i++) {
            if (*state(a, i) != PAGE_OWED)
                continue;
            size_t off = i << VM_PAGE_SHIFT;
            memcpy(a->fs.staging + off, a->vm.alias + off, VM_PAGE_SIZE);
            a->fs.copied++;
            *state(a, i) = PAGE_SAVED;
        }
}

void forksnap_prepare(struct arena *a, const struct forksnap_keep *keep, size_t nkeep)
{
    struct forksnap_state *fs = &a->fs;
    if (phase(a) == FS_CHILD_BROKEN)
        return; /* a grandchild inherits the failure */
    fs->failed = NULL;
    fs->s_fd = fs->pagemap_fd = -1;
    fs->staging = NULL;
    fs->shared = NULL;
    fs->cursor = 0;
    fs->owed = fs->copied = 0;
    size_t hi = pool_each_allocated_locked(&a->pool, NULL, NULL);
    fs->hi = hi;
    fs->s_fd = sys.memfd_create("vmgc-heap", MFD_CLOEXEC);
    if (fs->s_fd < 0)
        return prepare_failed(a, "memfd_create", errno);
    if (sys.ftruncate(fs->s_fd, (off_t)a->vm.size) != 0)
        return prepare_failed(a, "ftruncate", errno);
    fs->pagemap_fd = sys.open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (fs->pagemap_fd < 0)
        return prepare_failed(a, "open(/proc/self/pagemap)", errno);
    fs->shared_bytes = (sizeof(struct forksnap_shared) + hi + VM_PAGE_MASK) & ~VM_PAGE_MASK;
    void *m = sys.mmap(NULL, fs->shared_bytes, PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return prepare_failed(a, "mmap (fork page states)", errno);
    fs->shared = m;
    if (hi) {
        m = sys.mmap(NULL, hi << VM_PAGE_SHIFT, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
                     fs->s_fd, 0);
        if (m == MAP_FAILED)
            return prepare_failed(a, "mmap (the child's memfd)", errno);
        fs->staging = m;
    }
    pool_each_allocated_locked(&a->pool, mark_owed, a);
    save_kept(a, keep, nkeep);
    int err = protect_owed(a, 0);
    if (err == ENOMEM)
        err = protect_owed(a, 1);
    if (err) {
        a->prot->refresh_write(a, 0, hi, 0);
        return prepare_failed(a, "mprotect (write-protecting the heap for fork)", err);
    }
    fs->src = a->vm.alias;
    fs->dst = fs->staging;
    fs->parent_pid = getpid();
    fs->shared->child_pid = 0;
    __atomic_store_n(&fs->phase, FS_PARENT, __ATOMIC_RELEASE);
}

void forksnap_parent(struct arena *a)
{
    if (phase(a) != FS_CHILD_BROKEN)
        a->fs.failed = NULL;
}

/* ---- copying one page (either process) ---- */

/* .sol.let-go: the child has let go of the snapshot (completed, exec'd or
 * exited) when it registered and the shared page is mapped by the parent
 * alone.  Parent only.  Async-signal-safe. */
static int child_let_go(struct arena *a)
{
    struct forksnap_shared *sh = a->fs.shared;
    if (!__atomic_load_n(&sh->child_pid, __ATOMIC_ACQUIRE))
        return 0;
    uint64_t e = 0;
    off_t off = (off_t)(((uintptr_t)sh >> VM_PAGE_SHIFT) * sizeof e);
    if (sys.pread(a->fs.pagemap_fd, &e, sizeof e, off) != (ssize_t)sizeof e)
        return 0;
    return (e >> 63) & (e >> 56) & 1; /* present, and mapped exclusively */
}

static int other_side_gone(struct arena *a)
{
    if (phase(a) == FS_CHILD)
        return getppid() != a->fs.parent_pid;
    return child_let_go(a);
}

/* Make page i SAVED: copy it if owed, or wait for whoever claimed it.
 * Async-signal-safe. */
static void save_page(struct arena *a, size_t i)
{
    uint8_t *s = state(a, i);
    for (;;) {
        uint8_t v = __atomic_load_n(s, __ATOMIC_ACQUIRE);
        if (v == PAGE_FREE || v == PAGE_SAVED)
            return;
        if (v == PAGE_OWED &&
            !__atomic_compare_exchange_n(s, &v, PAGE_CLAIMED, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            continue;
        if (v == PAGE_CLAIMED) {
            /* the other process copies it; if it is gone, no one needs
             * the copy (the parent) or the source is stable (the child) */
            if (!other_side_gone(a)) {
                sched_yield();
                continue;
            }
            if (phase(a) != FS_CHILD)
                return;
        }
        size_t off = i << VM_PAGE_SHIFT;
        memcpy(a->fs.dst + off, a->fs.src + off, VM_PAGE_SIZE);
        __atomic_fetch_add(&a->fs.copied, 1, __ATOMIC_RELAXED);
        __atomic_store_n(s, PAGE_SAVED, __ATOMIC_RELEASE);
        return;
    }
}

/* Copies [first, +n) ∩ [0, hi) in the snapshot's phase.  The caller keeps
 * the shared state mapped (users, or it is the drainer). */
static void save_pages(struct arena *a, size_t first, size_t n)
{
    size_t end = first + n < a->fs.hi ? first + n : a->fs.hi;
    for (size_t i = first; i < end; i++)
        save_page(a, i);
}

/* Trap handlers hold `users` while they read the shared state, so the
 * parent's end does not unmap it under them. */
static int enter_parent(struct arena *a)
{
    __atomic_fetch_add(&a->fs.users, 1, __ATOMIC_ACQ_REL);
    if (phase(a) == FS_PARENT)
        return 1;
    __atomic_fetch_sub(&a->fs.users, 1, __ATOMIC_ACQ_REL);
    return 0;
}

static void leave_parent(struct arena *a)
{
    __atomic_fetch_sub(&a->fs.users, 1, __ATOMIC_ACQ_REL);
}

void forksnap_save_range(struct arena *a, size_t first, size_t n)
{
    if (phase(a) != FS_PARENT || first >= a->fs.hi || !enter_parent(a))
        return;
    save_pages(a, first, n);
    leave_parent(a);
}

/* ---- the parent's side after the fork ---- */

/* Expose [first, +n) again (write access where nothing else protects
 * it).  At the VMA limit, .sol.expose-all: save everything and expose the
 * whole span, which merges the VMAs. */
static void expose(struct arena *a, size_t first, size_t n, int in_signal)
{
    int err = a->prot->refresh_write(a, first, n, in_signal);
    if (err == ENOMEM) {
        forksnap_save_range(a, 0, a->fs.hi);
        err = a->prot->refresh_write(a, 0, a->fs.hi, in_signal);
    }
    if (err)
        trap_fatal("mprotect failed while exposing a heap page saved for a fork child",
                   a->vm.base + (first << VM_PAGE_SHIFT));
}

static void end_parent(struct arena *a)
{
    struct forksnap_state *fs = &a->fs;
    __atomic_store_n(&fs->phase, FS_ENDING, __ATOMIC_RELEASE);
    while (__atomic_load_n(&fs->users, __ATOMIC_ACQUIRE))
        sched_yield();
    if (fs->hi)
        expose(a, 0, fs->hi, 0);
    prepare_undo(a);
    __atomic_store_n(&fs->phase, FS_NONE, __ATOMIC_RELEASE);
}

int forksnap_drain(struct arena *a, size_t max_pages)
{
    struct forksnap_state *fs = &a->fs;
    if (phase(a) != FS_PARENT)
        return 0;
    size_t done = 0;
    while (fs->cursor < fs->hi && done < max_pages) {
        if (child_let_go(a))
            break;
        size_t first = fs->cursor, end = first + 256 < fs->hi ? first + 256 : fs->hi;
        save_pages(a, first, end - first);
        expose(a, first, end - first, 0);
        fs->cursor = end;
        done += end - first;
    }
    if (fs->cursor < fs->hi && !child_let_go(a))
        return 1;
    end_parent(a);
    return 0;
}

/* ---- the child's side ---- */

static void child_broken(struct arena *a, const char *call, int err)
{
    a->fs.failed = call;
    a->fs.failed_errno = err;
    /* whatever happens, the child must not write into the parent's memfd */
    SYS_RETRY(sys.mprotect(a->vm.base, a->vm.size, PROT_NONE));
    __atomic_store_n(&a->fs.phase, FS_CHILD_BROKEN, __ATOMIC_RELEASE);
}

void forksnap_child(struct arena *a)
{
    struct forksnap_state *fs = &a->fs;
    if (phase(a) != FS_PARENT) {
        /* prepare failed (or another heap's): this heap cannot be the child's */
        if (fs->failed)
            child_broken(a, fs->failed, fs->failed_errno);
        return;
    }
    if (fs->staging)
        sys.munmap(fs->staging, fs->hi << VM_PAGE_SHIFT);
    fs->staging = NULL;
    sys.close(fs->pagemap_fd);
    fs->pagemap_fd = -1;
    /* .sol.child-remap: both views move to S now, before the program runs
     * again; the old collector view stays as the copy source */
    void *alias = sys.mmap(NULL, a->vm.size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
                           fs->s_fd, 0);
    if (alias == MAP_FAILED)
        return child_broken(a, "mmap (the child's collector view)", errno);
    void *base = sys.mmap(a->vm.base, a->vm.size, PROT_NONE,
                          MAP_SHARED | MAP_NORESERVE | MAP_FIXED, fs->s_fd, 0);
    if (base == MAP_FAILED) {
        int err = errno;
        sys.munmap(alias, a->vm.size);
        return child_broken(a, "mmap (the child's mutator view)", err);
    }
    fs->source_map = a->vm.alias;
    fs->src = fs->source_map;
    fs->dst = alias;
    a->vm.alias = alias;
    sys.close(a->vm.fd);
    a->vm.fd = fs->s_fd;
    fs->s_fd = -1;
    /* the parent's userfaultfd context and pagemap are not the child's */
    if (a->prot == &prot_uffd_backend && prot_uffd_reopen(a) != VMGC_OK)
        return child_broken(a, "userfaultfd (the child's barrier)", errno);
    if (a->dirty.pagemap_fd >= 0) {
        sys.close(a->dirty.pagemap_fd);
        a->dirty.pagemap_fd = sys.open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    }
    a->dirty.active = 0;
    fs->copied = 0;
    __atomic_store_n(&fs->phase, FS_CHILD, __ATOMIC_RELEASE);
    /* registers the child and maps the shared page here (.sol.let-go) */
    __atomic_store_n(&fs->shared->child_pid, (int)getpid(), __ATOMIC_RELEASE);
}

static int mappable(struct arena *a, size_t i)
{
    return *state(a, i) == PAGE_SAVED &&
           !(__atomic_load_n(&a->pt.desc[i].prot, __ATOMIC_ACQUIRE) & PD_READ_BARRIER);
}

/* .sol.child-map: on the uffd backend the child's new mutator view maps
 * nothing yet, and every page present in the memfd is a minor fault: a
 * signal per first touch (~4 us), and EFAULT for the kernel (read(2) into
 * the heap).  So the copied pages that no barrier protects are mapped in
 * batches (~0.25 us a page). */
static void map_copied(struct arena *a)
{
    if (a->prot != &prot_uffd_backend)
        return;
    for (size_t i = 0, hi = a->fs.hi; i < hi;) {
        if (!mappable(a, i)) {
            i++;
            continue;
        }
        size_t j = i + 1;
        while (j < hi && mappable(a, j))
            j++;
        if (prot_uffd_map(a, i, j - i) != 0)
            trap_fatal("UFFDIO_CONTINUE failed while giving a fork child its heap",
                       a->vm.base + (i << VM_PAGE_SHIFT));
        i = j;
    }
}

/* .sol.child-complete: copy what is still owed, then show the mutator
 * view with the protections the page table asks for.  One thread does it;
 * others that trap meanwhile wait.  Async-signal-safe. */
static void child_complete(struct arena *a, int in_signal)
{
    struct forksnap_state *fs = &a->fs;
    int expected = 0;
    if (!__atomic_compare_exchange_n(&fs->completing, &expected, 1, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        while (phase(a) == FS_CHILD)
            sched_yield();
        return;
    }
    save_pages(a, 0, fs->hi);
    map_copied(a);
    if (a->prot->refresh_write(a, 0, fs->hi, in_signal) != 0 ||
        (fs->hi < a->pt.pages &&
         SYS_RETRY(sys.mprotect(a->vm.base + (fs->hi << VM_PAGE_SHIFT), (a->pt.pages - fs->hi) << VM_PAGE_SHIFT,
                      PROT_READ | PROT_WRITE)) != 0))
        trap_fatal("mprotect failed while giving a fork child its heap", a->vm.base);
    sys.munmap(fs->source_map, a->vm.size);
    fs->source_map = NULL;
    sys.munmap(fs->shared, fs->shared_bytes); /* the parent sees us let go */
    fs->shared = NULL;
    __atomic_store_n(&fs->phase, FS_NONE, __ATOMIC_RELEASE);
    __atomic_store_n(&fs->completing, 0, __ATOMIC_RELEASE);
}

static __attribute__((noreturn)) void child_fatal(struct arena *a)
{
    char msg[200];
    const char *call = a->fs.failed ? a->fs.failed : "?";
    size_t n = 0;
    const char *parts[] = {"this heap could not be given to the forked child: ", call,
                           " failed at the fork (", strerrorname_np(a->fs.failed_errno) ? strerrorname_np(a->fs.failed_errno) : "?",
                           "); the child may not use it (exec, or create a heap of its own)"};
    for (size_t k = 0; k < sizeof parts / sizeof parts[0]; k++) {
        size_t l = strlen(parts[k]);
        if (n + l >= sizeof msg)
            l = sizeof msg - 1 - n;
        memcpy(msg + n, parts[k], l);
        n += l;
    }
    msg[n] = '\0';
    trap_fatal(msg, NULL);
}

int forksnap_on_fault(struct arena *a, size_t i, int is_write)
{
    switch (phase(a)) {
    case FS_CHILD:
        child_complete(a, 1);
        return 1;
    case FS_CHILD_BROKEN:
        child_fatal(a);
    case FS_PARENT:
        break;
    default:
        return 0;
    }
    /* a PROT_NONE page is the backend's; exposing it saves it */
    if (!is_write || i >= a->fs.hi ||
        (__atomic_load_n(&a->pt.desc[i].prot, __ATOMIC_ACQUIRE) & PD_PHYS_NONE))
        return 0;
    if (!enter_parent(a))
        return forksnap_recently_ended(a, i);
    /* .sol.trap-group: a program that writes one page mostly writes its
     * neighbours next; a trap costs more than a page copy */
    size_t first = i & ~(size_t)(FORKSNAP_TRAP_GROUP - 1);
    size_t n = first + FORKSNAP_TRAP_GROUP < a->fs.hi ? FORKSNAP_TRAP_GROUP : a->fs.hi - first;
    save_pages(a, first, n);
    leave_parent(a);
    expose(a, first, n, 1);
    return 1;
}

int forksnap_recently_ended(struct arena *a, size_t i)
{
    int p = phase(a);
    if (i >= a->fs.hi || (p != FS_ENDING && p != FS_NONE))
        return 0;
    if (p == FS_ENDING)
        sched_yield();
    return 1;
}

void forksnap_ready(struct arena *a, size_t first, size_t n)
{
    int p = phase(a);
    if (p == FS_CHILD || p == FS_CHILD_BROKEN)
        forksnap_settle(a);
    else if (p == FS_PARENT && first < a->fs.hi) {
        forksnap_save_range(a, first, n);
        size_t end = first + n < a->fs.hi ? first + n : a->fs.hi;
        expose(a, first, end - first, 0);
    }
}

void forksnap_release(struct arena *a)
{
    struct forksnap_state *fs = &a->fs;
    switch (phase(a)) {
    case FS_CHILD: /* nothing left to copy for a heap that goes away */
        sys.munmap(fs->source_map, a->vm.size);
        sys.munmap(fs->shared, fs->shared_bytes);
        fs->source_map = NULL;
        fs->shared = NULL;
        __atomic_store_n(&fs->phase, FS_NONE, __ATOMIC_RELEASE);
        break;
    case FS_CHILD_BROKEN:
        break;
    default:
        forksnap_settle(a);
    }
}

void forksnap_settle(struct arena *a)
{
    switch (phase(a)) {
    case FS_CHILD:
        child_complete(a, 0);
        break;
    case FS_CHILD_BROKEN:
        child_fatal(a);
    case FS_PARENT:
        while (forksnap_drain(a, (size_t)-1))
            ;
        break;
    case FS_ENDING:
        while (phase(a) == FS_ENDING)
            sched_yield();
        break;
    default:
        break;
    }
}

/* io.c -- system calls on heap memory: vmgc_io_begin ... vmgc_io_end keeps
 * a range where it is and open to the kernel whatever the collector does
 * meanwhile.  Design: doc/design/trap.md (.sol.io-bracket).
 *
 * The kernel cannot take vmgc's traps (a system call on a protected page
 * fails with EFAULT), so a bracketed page must never be protected: the
 * flip pins it, pins whatever its words point at (so its pointers stay
 * valid without a scan), and makes it black on the spot; a fork saves it
 * for the child at once instead of write-protecting it; a restored heap
 * loads it at vmgc_io_begin.  The brackets are kept per thread under
 * roots_lock, which the flip and the fork take before they stop the world.
 */
#include "config.h"

#include "error.h"
#include "forksnap.h"
#include "internal.h"
#include "lock.h"

static vmgc_status check_thread(vmgc_thread *t, const char *fn)
{
    if (!t || t->sig != THREAD_SIG)
        return error_set(VMGC_EINVAL, "%s: not an attached thread's handle", fn);
    if (t != threads_self(t->heap))
        return error_set(VMGC_EINVAL, "%s: a thread handle used by a thread other than its owner",
                         fn);
    return VMGC_OK;
}

VMGC_API vmgc_status vmgc_io_begin(vmgc_thread *t, const void *buf, size_t len)
{
    vmgc_status st = check_thread(t, "vmgc_io_begin");
    if (st != VMGC_OK)
        return st;
    if (!buf)
        return error_set(VMGC_EINVAL, "vmgc_io_begin: buf is NULL");
    if ((uintptr_t)buf + len < (uintptr_t)buf)
        return error_set(VMGC_EINVAL, "vmgc_io_begin: range %p+%zu wraps around", buf, len);
    struct vmgc_heap *h = t->heap;
    const struct vm_space *vm = &h->arena->vm;
    uintptr_t b = (uintptr_t)vm->base, e = b + vm->size;
    uintptr_t lo = (uintptr_t)buf, hi = lo + len;
    struct io_range r = {.buf = buf};
    if (len && lo < e && hi > b) { /* outside the heap: nothing to keep */
        lo = lo > b ? lo : b;
        hi = hi < e ? hi : e;
        r.first = (lo - b) >> VM_PAGE_SHIFT;
        r.n = ((hi - b + VM_PAGE_MASK) >> VM_PAGE_SHIFT) - r.first;
    }
    threads_lock_blocked(t, &h->roots_lock);
    if (t->nio == GC_IO_MAX) {
        pthread_mutex_unlock(&h->roots_lock);
        return error_set(VMGC_ESTATE,
                         "vmgc_io_begin: this thread has %d brackets open already (the most); "
                         "close one with vmgc_io_end",
                         GC_IO_MAX);
    }
    t->io[t->nio++] = r;
    pthread_mutex_unlock(&h->roots_lock);
    /* from the next flip on the range is kept; until then it may be
     * protected (a flip before the lock above), so ready it now */
    st = vmgc_prepare_io(buf, len);
    if (st != VMGC_OK) /* not open, then: the caller gets the error and ends nothing */
        (void)vmgc_io_end(t, buf);
    return st;
}

VMGC_API vmgc_status vmgc_io_end(vmgc_thread *t, const void *buf)
{
    vmgc_status st = check_thread(t, "vmgc_io_end");
    if (st != VMGC_OK)
        return st;
    struct vmgc_heap *h = t->heap;
    threads_lock_blocked(t, &h->roots_lock);
    for (unsigned k = t->nio; k-- > 0;)
        if (t->io[k].buf == buf) {
            for (; k + 1 < t->nio; k++)
                t->io[k] = t->io[k + 1];
            t->nio--;
            pthread_mutex_unlock(&h->roots_lock);
            return VMGC_OK;
        }
    pthread_mutex_unlock(&h->roots_lock);
    return error_set(VMGC_ESTATE,
                     "vmgc_io_end: no vmgc_io_begin of %p is open in this thread (each begin is "
                     "ended once, by the thread that began it, with the same buf)",
                     buf);
}

/* The run of pages that holds page: a large object's, or the page. */
static size_t run_head(struct vmgc_heap *h, size_t page, size_t *n)
{
    size_t head = ps_head_of(h, page);
    const struct page_desc *d = &h->arena->pt.desc[head];
    *n = d->space == PK_LARGE_HEAD ? d->gc_word[1] : 1;
    return head;
}

/* Calls fn on every heap page that holds objects in an open bracket. */
static void each_io_page(struct vmgc_heap *h, void (*fn)(struct vmgc_heap *, size_t))
{
    const struct page_desc *desc = h->arena->pt.desc;
    for (struct vmgc_thread *t = h->threads; t; t = t->next)
        for (unsigned k = 0; k < t->nio; k++)
            for (size_t p = t->io[k].first; p < t->io[k].first + t->io[k].n; p++)
                if (desc[p].space == PK_SMALL || desc[p].space == PK_LARGE_HEAD ||
                    desc[p].space == PK_LARGE_BODY)
                    fn(h, p);
}

static void pin_page(struct vmgc_heap *h, size_t page)
{
    roots_pin_word(h, (uintptr_t)pagetable_page_addr(&h->arena->pt, page));
}

/* Its words pin what they point at: its pointers stay valid unscanned. */
static void pin_targets(struct vmgc_heap *h, size_t page)
{
    const struct page_desc *d = &h->arena->pt.desc[page];
    const char *base = h->arena->vm.alias + (page << VM_PAGE_SHIFT);
    roots_pin_range(h, base, base + (d->space == PK_SMALL ? d->gc_word[1] : VM_PAGE_SIZE));
}

static void make_black(struct vmgc_heap *h, size_t page)
{
    size_t n, head = run_head(h, page, &n);
    if (PS_STATE(ps_load(h, head)) != PS_GREY)
        return; /* black already (a leaf large object, or done for another page of it) */
    for (size_t i = head; i < head + n; i++) /* not protected with the pins */
        h->pin_bits[i >> 6] &= ~((uint64_t)1 << (i & 63));
    scan_black_in_place(h, head, n);
}

/* .sol.io-bracket, in the flip: pin the bracketed pages, pin what their
 * words point at, then make them black without protecting them. */
void io_flip(struct vmgc_heap *h)
{
    each_io_page(h, pin_page);
    each_io_page(h, pin_targets);
    each_io_page(h, make_black);
}

size_t io_keep_runs(struct vmgc_heap *h, struct forksnap_keep *out, size_t max)
{
    size_t n = 0;
    for (struct vmgc_thread *t = h->threads; t; t = t->next)
        for (unsigned k = 0; k < t->nio && n < max; k++)
            if (t->io[k].n)
                out[n++] = (struct forksnap_keep){t->io[k].first, t->io[k].n};
    return n;
}

void io_ready_thread(struct vmgc_thread *t)
{
    for (unsigned k = 0; k < t->nio; k++)
        if (t->io[k].n)
            forksnap_ready(t->heap->arena, t->io[k].first, t->io[k].n);
}

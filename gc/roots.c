/* roots.c -- ambiguous roots pin, precise roots are forwarded.
 * Design: doc/design/roots.md.
 */
#include "config.h"

#define _GNU_SOURCE 1
#include <link.h>
#include <string.h>

#include "error.h"
#include "dirty.h"
#include "internal.h"
#include "meta.h"
#include "prot.h"
#include "lock.h"

/* ---- precise roots ---- */

/* .sol.store-after-add: a slot is a root from its registration on.  A
 * value stored in it before, whose object no stack or root held at a flip
 * meanwhile, was not kept: it points at from-space (a stale copy, or an
 * object about to be freed) or at a page given back.  Looked for under
 * roots_lock, so no flip comes between the look and the registration;
 * the index of the first such slot, or count. */
static size_t first_lost_slot(struct vmgc_heap *h, void *const *slots, size_t count)
{
    struct arena *a = h->arena;
    for (size_t i = 0; i < count; i++) {
        void *v = __atomic_load_n(&slots[i], __ATOMIC_RELAXED);
        if (!vm_contains(&a->vm, v))
            continue;
        size_t page = pagetable_index(&a->pt, v);
        uint8_t space = __atomic_load_n(&a->pt.desc[page].space, __ATOMIC_RELAXED);
        if (space == PK_ROOTS)
            continue; /* not an object, a misuse of its own (roots.md) */
        uint32_t w = ps_load(h, ps_head_of(h, page));
        if (space == PK_NONE || PS_STATE(w) == PS_FREE || ps_is_from(h, w))
            return i;
    }
    return count;
}

static vmgc_status root_add(vmgc_heap *h, const char *what, const char *name, void **slots,
                            size_t count, int restored)
{
    if (!h || h->sig != HEAP_SIG)
        return error_set(VMGC_EINVAL, "%s: not a live heap", what);
    if (!slots || count == 0)
        return error_set(VMGC_EINVAL, "%s: give a non-NULL slot array and count > 0", what);
    if (vm_contains(&h->arena->vm, slots))
        return error_set(VMGC_EINVAL, "%s: slots at %p are inside the heap; heap "
                                      "objects are traced through their type, not as roots",
                         what, (void *)slots);
    struct root_range *r = meta_calloc(1, sizeof *r);
    size_t len = name ? strlen(name) : 0;
    if (r && name && (r->name = meta_calloc(len + 1, 1)) != NULL)
        memcpy(r->name, name, len);
    if (!r || (name && !r->name)) {
        meta_free(r);
        return error_set(VMGC_ENOMEM, "%s: no memory for the root's record", what);
    }
    r->slots = slots;
    r->count = count;
    lock_take(&h->roots_lock);
    /* a restore adds its roots before it hands out the image's pages */
    size_t lost = restored ? count : first_lost_slot(h, slots, count);
    if (lost < count) {
        void *v = slots[lost];
        pthread_mutex_unlock(&h->roots_lock);
        meta_free(r->name);
        meta_free(r);
        return error_set(VMGC_ESTATE,
                         "%s: slot %zu holds %p, an object the collector did not keep (or "
                         "none at all): the "
                         "pointer was stored before the slot was registered, and a collection "
                         "meanwhile found it nowhere else. Register a slot first (NULL), then "
                         "store into it",
                         what, lost, v);
    }
    for (struct root_range *o = h->roots; name && o; o = o->next)
        if (o->name && strcmp(o->name, name) == 0) {
            pthread_mutex_unlock(&h->roots_lock);
            meta_free(r->name);
            meta_free(r);
            return error_set(VMGC_ESTATE,
                             "%s: a root named '%s' exists already; names identify roots in "
                             "checkpoints, so each is given once (vmgc_root_remove frees it)",
                             what, name);
        }
    r->next = h->roots;
    h->roots = r;
    pthread_mutex_unlock(&h->roots_lock);
    return VMGC_OK;
}

VMGC_API vmgc_status vmgc_root_add(vmgc_heap *h, void **slots, size_t count)
{
    return root_add(h, "vmgc_root_add", NULL, slots, count, 0);
}

VMGC_API vmgc_status vmgc_root_add_named(vmgc_heap *h, const char *name, void **slots,
                                         size_t count)
{
    if (!name || !*name || strlen(name) > 4096)
        return error_set(VMGC_EINVAL, "vmgc_root_add_named: give a name of 1 to 4096 bytes");
    return root_add(h, "vmgc_root_add_named", name, slots, count, 0);
}

/* .sol.restored-roots: a restored heap's named roots are roots from the
 * start, in slots of vmgc's own, so collections before the program takes
 * them back keep their objects and forward them. */
vmgc_status roots_add_owned(struct vmgc_heap *h, const char *name, const uint64_t *values,
                            size_t count)
{
    void **slots = meta_calloc(count, sizeof *slots);
    if (!slots)
        return error_set(VMGC_ENOMEM, "no memory for the %zu slots of restored root '%s'", count,
                         name);
    memcpy(slots, values, count * sizeof *slots);
    vmgc_status st = root_add(h, "vmgc_heap_restore", name, slots, count, 1);
    if (st != VMGC_OK) {
        meta_free(slots);
        return st;
    }
    lock_take(&h->roots_lock);
    h->roots->owned = 1; /* root_add put it first */
    pthread_mutex_unlock(&h->roots_lock);
    return VMGC_OK;
}

vmgc_status roots_take_owned(struct vmgc_heap *h, const char *name, void **slots, size_t count)
{
    if (vm_contains(&h->arena->vm, slots))
        return error_set(VMGC_EINVAL, "vmgc_root_restore: slots at %p are inside the heap",
                         (void *)slots);
    lock_take(&h->roots_lock);
    struct root_range *r = h->roots;
    while (r && !(r->name && strcmp(r->name, name) == 0))
        r = r->next;
    if (!r || !r->owned) {
        pthread_mutex_unlock(&h->roots_lock);
        return error_set(VMGC_ESTATE, r ? "vmgc_root_restore: root '%s' was taken back already"
                                        : "vmgc_root_restore: the image has no root named '%s'",
                         name);
    }
    if (r->count != count) {
        size_t have = r->count;
        pthread_mutex_unlock(&h->roots_lock);
        return error_set(VMGC_EINVAL, "vmgc_root_restore: root '%s' has %zu slots in the image, "
                                      "not %zu",
                         name, have, count);
    }
    /* under roots_lock, so no flip runs between the copy and the switch */
    void **old = r->slots;
    memcpy(slots, old, count * sizeof *slots);
    r->slots = slots;
    r->owned = 0;
    pthread_mutex_unlock(&h->roots_lock);
    meta_free(old);
    return VMGC_OK;
}

VMGC_API vmgc_status vmgc_root_remove(vmgc_heap *h, void **slots)
{
    if (!h || h->sig != HEAP_SIG)
        return error_set(VMGC_EINVAL, "vmgc_root_remove: not a live heap");
    lock_take(&h->roots_lock);
    struct root_range **pp = &h->roots;
    while (*pp && (*pp)->slots != slots)
        pp = &(*pp)->next;
    struct root_range *r = *pp;
    if (r)
        *pp = r->next;
    pthread_mutex_unlock(&h->roots_lock);
    if (!r)
        return error_set(VMGC_ESTATE, "vmgc_root_remove: no root range starts at %p",
                         (void *)slots);
    if (r->owned)
        meta_free(r->slots);
    meta_free(r->name);
    meta_free(r);
    return VMGC_OK;
}

/* Called by the flip with the world stopped and roots_lock held: c is the
 * only copier that can run (.sol.sole-copier). */
void roots_forward_precise(struct vmgc_heap *h, struct copier *c)
{
    struct lookahead la;
    lookahead_init(&la, h, c, 0);
    c->world_stopped = 1;
    for (struct root_range *r = h->roots; r; r = r->next)
        for (size_t i = 0; i < r->count; i++)
            lookahead_push(&la, &r->slots[i]);
    lookahead_flush(&la);
    c->world_stopped = 0;
}

/* ---- ambiguous roots ---- */

/* Sets the bits of pages [first, first+n) in a page bitmap whose words
 * that may be set are [*lo, *hi). */
static void bits_mark(uint64_t *bits, size_t *lo, size_t *hi, size_t first, size_t n)
{
    for (size_t i = first; i < first + n; i++)
        bits[i >> 6] |= (uint64_t)1 << (i & 63);
    size_t wlo = first >> 6, whi = ((first + n - 1) >> 6) + 1;
    if (*lo >= *hi)
        *lo = wlo, *hi = whi;
    if (wlo < *lo)
        *lo = wlo;
    if (whi > *hi)
        *hi = whi;
}

static void grey_in_place(struct vmgc_heap *h, size_t head, int large, size_t n);

/* .sol.pin: a word that points anywhere into a from-space page turns that
 * page (or large object) into to-space in place: grey, to be scanned,
 * protected before the world resumes. */
void roots_pin_word(struct vmgc_heap *h, uintptr_t w)
{
    struct arena *a = h->arena;
    if (!vm_contains(&a->vm, (void *)w))
        return;
    size_t page = pagetable_index(&a->pt, (void *)w);
    struct page_desc *d = &a->pt.desc[page];
    if (d->space == PK_NONE || d->space == PK_ROOTS)
        return; /* a root block holds no objects to pin */
    size_t head = ps_head_of(h, page);
    uint32_t st = ps_load(h, head);
    if (!ps_is_from(h, st)) {
        mark_shade_ambiguous(h, head, w); /* an old object, in a mark cycle (mark.md) */
        return;
    }
    int large = a->pt.desc[head].space == PK_LARGE_HEAD;
    size_t n = large ? a->pt.desc[head].gc_word[1] : 1;
    h->pin_tally.pins++;
    h->pin_tally.survivor_pages += n;
    if (large && !checkpoint_active(h) && large_is_leaf(h, head)) {
        /* scan.c .sol.leaf-large */
        ps_set(h, head, PS_MAKE(PS_BLACK, __atomic_load_n(&h->epoch, __ATOMIC_ACQUIRE) & 0xffffffu) |
                            PS_OLD);
        return;
    }
    grey_in_place(h, head, large, n);
}

/* generations.md .sol.remembered: an old page written since the last
 * flip is scanned in place, as a pinned page is (it may point at young
 * objects); in the flip. */
void roots_grey_old(struct vmgc_heap *h, size_t head)
{
    struct page_desc *d = &h->arena->pt.desc[head];
    int large = d->space == PK_LARGE_HEAD;
    grey_in_place(h, head, large, large ? d->gc_word[1] : 1);
}

static void grey_in_place(struct vmgc_heap *h, size_t head, int large, size_t n)
{
    struct arena *a = h->arena;
    uint32_t e = __atomic_load_n(&h->epoch, __ATOMIC_ACQUIRE) & 0xffffffu;
    /* a page copied into last cycle still records how far it was scanned
     * then: this cycle scans it from the start (.sol.cheney) */
    __atomic_store_n(&a->pt.desc[head].gc_word[2], 0, __ATOMIC_RELEASE);
    ps_set(h, head, PS_MAKE(PS_GREY, e));
    h->pin_tally.pending++;
    grey_push(h, head); /* atomic still: a thread that is not attached (misuse) is not
                         * stopped, and its trap may push a page meanwhile */
    /* .sol.preprotect: protected before the stop and not touched since (a
     * trap would have exposed it, and none is half-way now): nothing to do */
    if (!large && prot_is_protected(a, pagetable_page_addr(&a->pt, head))) {
        h->pin_tally.preprotected++;
        bits_mark(h->prepin_bits, &h->prepin_lo, &h->prepin_hi, head, 1); /* and next time */
        return;
    }
    /* .sol.pin-batch: protected at the end of the flip, with its neighbours
     * (roots_protect_pinned); the world is stopped until then */
    bits_mark(h->pin_bits, &h->pin_lo, &h->pin_hi, head, n);
}

/* .sol.pin-batch: a deep stack pins tens of thousands of pages, mostly
 * neighbours (objects allocated one after another); protecting each on its
 * own cost ~0.35 us of pause a page (issue 17), a run at a time is one
 * call per run.  The bitmap's words between lo and hi are walked and
 * cleared.  Not prot_protect_resident: a thread's allocation page may not
 * have been written yet. */
/* A small page that holds an object was written, so it is in the memfd;
 * a thread's fresh allocation page or a large object's body may be holes. */
static int pinned_resident(struct vmgc_heap *h, size_t page)
{
    const struct page_desc *d = &h->arena->pt.desc[page];
    /* atomic: the early protection reads pages a mutator may be turning
     * into a large object meanwhile (.sol.preprotect-sample) */
    return __atomic_load_n(&d->space, __ATOMIC_RELAXED) == PK_SMALL &&
           __atomic_load_n(&d->gc_word[1], __ATOMIC_ACQUIRE) > 0;
}

static void protect_run(struct vmgc_heap *h, size_t first, size_t n, int resident)
{
    struct arena *a = h->arena;
    char *addr = pagetable_page_addr(&a->pt, first);
    vmgc_status st = resident ? prot_protect_resident(a, addr, n << VM_PAGE_SHIFT)
                              : prot_protect(a, addr, n << VM_PAGE_SHIFT);
    if (st != VMGC_OK)
        gc_fatal_status("protecting pinned pages failed");
}

void roots_protect_pinned(struct vmgc_heap *h)
{
    /* .sol.pin-tally: the pinning is over */
    __atomic_fetch_add(&h->st_pages_pinned, h->pin_tally.pins, __ATOMIC_RELAXED);
    __atomic_fetch_add(&h->survivor_pages, h->pin_tally.survivor_pages, __ATOMIC_RELAXED);
    __atomic_fetch_add(&h->pending, h->pin_tally.pending, __ATOMIC_ACQ_REL);
    __atomic_fetch_add(&h->st_pins_preprotected, h->pin_tally.preprotected, __ATOMIC_RELAXED);
    memset(&h->pin_tally, 0, sizeof h->pin_tally);
    size_t run = 0, first = 0;
    int resident = 0;
    if (h->pin_lo < h->pin_hi) { /* remembered for the next flip (.sol.preprotect) */
        if (h->prepin_lo >= h->prepin_hi)
            h->prepin_lo = h->pin_lo, h->prepin_hi = h->pin_hi;
        h->prepin_lo = h->pin_lo < h->prepin_lo ? h->pin_lo : h->prepin_lo;
        h->prepin_hi = h->pin_hi > h->prepin_hi ? h->pin_hi : h->prepin_hi;
    }
    for (size_t w = h->pin_lo; w < h->pin_hi; w++) {
        uint64_t bits = h->pin_bits[w];
        h->prepin_bits[w] |= bits;
        h->pin_bits[w] = 0;
        for (unsigned b = 0; b < 64; b++) {
            size_t page = w * 64 + b;
            if (bits >> b & 1) {
                /* .sol.pin-resident: runs of written small pages skip the
                 * uffd backend's fallocate (prot.md .sol.protect-resident) */
                int r = pinned_resident(h, page);
                if (run && r != resident) {
                    protect_run(h, first, run, resident);
                    run = 0;
                }
                if (!run)
                    first = page, resident = r;
                run++;
                continue;
            }
            if (run)
                protect_run(h, first, run, resident);
            run = 0;
            if (!(bits >> b)) /* nothing more in this word */
                break;
        }
    }
    if (run)
        protect_run(h, first, run, resident);
    h->pin_lo = h->pin_hi = 0;
}

/* .sol.preprotect: a deep stack pins the same pages flip after flip, and
 * their protection (~135 ns a page of kernel work here) was most of the
 * flip.  So the pages the last flip pinned are protected now, while the
 * world runs; a mutator that touches one traps, and the barrier finds it
 * black and exposes it; the flip then protects only the pinned pages not
 * protected any more (roots_pin_word).  One that is not pinned again is
 * from-space, protected already.  Left alone: pages of open I/O brackets
 * (io.c: never protected), pages with no bytes recorded (a thread's
 * allocation page until it is retired), large objects, and everything at
 * the mprotect backend's coarse levels (a trap there exposes a whole
 * granule).  A thread's allocation page kept across the last flip may be
 * protected: its next allocation traps once and exposes it. */
struct preprotect_skip {
    size_t first, n;
};

static int skipped(const struct preprotect_skip *skip, size_t nskip, size_t page)
{
    for (size_t k = 0; k < nskip; k++)
        if (page - skip[k].first < skip[k].n)
            return 1;
    return 0;
}

/* .sol.preprotect-sample: the first flip after a stack got deep has no
 * last pins to go by, so the stacks are read now too, while their threads
 * run: from where each thread last took an allocation slow path (its frame
 * then; a thread that allocates is where it was, give or take) down past
 * its top 16 KiB, whose pages the program is using and would only trap on,
 * to its base.  A word read there that points into the heap marks its page
 * as the last pins do.  The words race with their threads' writes: a stale
 * one protects a page to no end (it costs a trap if touched), a missed one
 * leaves a page for the flip to protect; neither is a root, the flip's own
 * scan decides those.  threads_lock is held, so no thread detaches (and
 * leaves) meanwhile. */
#define PREPROTECT_TOP_SKIP ((size_t)16 << 10)

GC_CONSERVATIVE_SCAN static void mark_range(struct vmgc_heap *h, const char *lo, const char *hi)
{
    const uintptr_t base = (uintptr_t)h->arena->vm.base, size = h->arena->vm.size;
    for (uintptr_t p = ((uintptr_t)lo + 7) & ~(uintptr_t)7; p + 8 <= (uintptr_t)hi; p += 8) {
        uintptr_t w = __atomic_load_n((const uintptr_t *)p, __ATOMIC_RELAXED);
        if (w - base >= size)
            continue;
        bits_mark(h->prepin_bits, &h->prepin_lo, &h->prepin_hi, (w - base) >> VM_PAGE_SHIFT, 1);
    }
}

/* threads_lock held */
static void sample_stacks(struct vmgc_heap *h, struct vmgc_thread *self)
{
    for (struct vmgc_thread *t = h->threads; t; t = t->next) {
        char *sp = t == self ? (char *)__builtin_frame_address(0)
                             : __atomic_load_n(&t->recent_sp, __ATOMIC_RELAXED);
        if (!sp || sp < t->stack_lo || sp >= t->stack_base)
            continue;
        if ((size_t)(t->stack_base - sp) <= PREPROTECT_TOP_SKIP)
            continue;
        mark_range(h, sp + PREPROTECT_TOP_SKIP, t->stack_base);
    }
}

/* The pages not to protect; 0 when there are too many to tell. */
static size_t preprotect_skips(struct vmgc_heap *h, struct preprotect_skip *skip, size_t max)
{
    size_t n = 0;
    lock_take(&h->threads_lock);
    sample_stacks(h, threads_self(h));
    for (struct vmgc_thread *t = h->threads; t && n <= max; t = t->next) {
        for (unsigned k = 0; k < t->nio && n <= max; k++)
            if (n < max)
                skip[n++] = (struct preprotect_skip){t->io[k].first, t->io[k].n};
            else
                n = max + 1;
    }
    pthread_mutex_unlock(&h->threads_lock);
    return n > max ? 0 : n + 1; /* +1: "could tell", even with nothing to skip */
}

/* generations.md .sol.remembered-early: before a young flip stops the
 * world, the old pages written so far are protected, in runs, with the
 * same rules as the pins above (not a bracketed page; nothing when the
 * brackets could not be read); the flip then finds them protected and
 * only greys them.  Pages written after this are protected in the pause. */
struct early_run {
    struct vmgc_heap *h;
    const struct preprotect_skip *skip;
    size_t nskip, first, n, protected_pages;
    int resident;
};

static void early_run_flush(struct early_run *r)
{
    if (r->n)
        protect_run(r->h, r->first, r->n, r->resident);
    r->protected_pages += r->n;
    r->n = 0;
}

static void early_written_page(void *ctx, size_t page)
{
    struct early_run *r = ctx;
    struct vmgc_heap *h = r->h;
    struct page_desc *d = &h->arena->pt.desc[page];
    unsigned space = __atomic_load_n(&d->space, __ATOMIC_RELAXED);
    if (space != PK_SMALL && space != PK_LARGE_HEAD && space != PK_LARGE_BODY)
        return;
    size_t head = ps_head_of(h, page);
    uint32_t w = ps_load(h, head);
    if (PS_STATE(w) != PS_BLACK || !(w & PS_OLD) || skipped(r->skip, r->nskip, head) ||
        prot_is_protected(h->arena, pagetable_page_addr(&h->arena->pt, head)))
        return; /* a large object's first page did it */
    size_t n = space == PK_SMALL ? 1 : h->arena->pt.desc[head].gc_word[1];
    int resident = pinned_resident(h, head);
    if (r->n && head == r->first + r->n && resident == r->resident) {
        r->n += n;
        return;
    }
    early_run_flush(r);
    r->first = head;
    r->n = n;
    r->resident = resident;
}

void roots_preprotect(struct vmgc_heap *h)
{
    struct arena *a = h->arena;
    struct preprotect_skip skip[128];
    size_t nskip = 0;
    int coarse = a->prot == &prot_mprotect_backend && a->mp.level > 0;
    if (!coarse)
        nskip = preprotect_skips(h, skip, sizeof skip / sizeof *skip); /* samples the stacks */
    size_t lo = h->prepin_lo, hi = h->prepin_hi;
    h->prepin_lo = h->prepin_hi = 0;
    size_t run = 0, first = 0;
    for (size_t w = lo; w < hi; w++) {
        uint64_t bits = h->prepin_bits[w];
        h->prepin_bits[w] = 0;
        for (; bits && nskip; bits &= bits - 1) {
            size_t page = w * 64 + (size_t)__builtin_ctzll(bits);
            uint32_t st = ps_load(h, page);
            /* generations.md: a young cycle pins no old page */
            int take = pinned_resident(h, page) && PS_STATE(st) == PS_BLACK && !ps_is_from(h, st) &&
                       !((st & PS_OLD) && h->flip_young) && !skipped(skip, nskip - 1, page);
            if (take && run && page == first + run) {
                run++;
                continue;
            }
            if (run)
                protect_run(h, first, run, 1);
            run = take ? 1 : 0;
            first = page;
        }
    }
    if (run)
        protect_run(h, first, run, 1);
    /* again while a pass protected many: the mutators write and touch
     * pages meanwhile, and what is left is protected in the pause */
    for (int pass = 0; h->flip_young && nskip && pass < 3; pass++) {
        struct early_run r = {.h = h, .skip = skip, .nskip = nskip - 1};
        dirty_each_written(h->arena, 0, early_written_page, &r);
        early_run_flush(&r);
        if (r.protected_pages < 64)
            break;
    }
}

/* .sol.no-asan: a conservative scan reads whole stacks and frames, which
 * AddressSanitizer would report as overflows; it is the point here.  And a
 * blocked thread runs while its stack above the saved pointer and its TLS
 * (inside the stack range glibc reports) are scanned: what it writes there
 * meanwhile (errno, its own lock-wait frame) is no heap pointer it could
 * use, so ThreadSanitizer is not told about these reads either. */

/* The heap's bounds are loaded once and most words fail the test, so the
 * scan stays a tight loop: a call per word made a 119 KB stack (the pause
 * benchmark's main thread) cost ~40 us of the flip. */
GC_CONSERVATIVE_SCAN void roots_pin_range(struct vmgc_heap *h, const void *lo, const void *hi)
{
    const uintptr_t base = (uintptr_t)h->arena->vm.base, size = h->arena->vm.size;
    uintptr_t p = ((uintptr_t)lo + 7) & ~(uintptr_t)7;
    for (; p + sizeof(uintptr_t) <= (uintptr_t)hi; p += sizeof(uintptr_t)) {
        uintptr_t w = *(const uintptr_t *)p;
        if (w - base < size)
            roots_pin_word(h, w);
    }
}

GC_CONSERVATIVE_SCAN static __attribute__((noinline)) void pin_own_stack(struct vmgc_heap *h,
                                                               struct vmgc_thread *t)
{
    /* spill callee-saved registers into this frame, then scan from here */
    __builtin_unwind_init();
    volatile char here = 0;
    roots_pin_range(h, (const void *)&here, t->stack_base);
}

static int pin_segment(struct dl_phdr_info *info, size_t size, void *ctx)
{
    (void)size;
    struct vmgc_heap *h = ctx;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_W)) {
            const char *lo = (const char *)(info->dlpi_addr + ph->p_vaddr);
            roots_pin_range(h, lo, lo + ph->p_memsz);
        }
    }
    return 1; /* the main program only */
}

static int list_segment(struct dl_phdr_info *info, size_t size, void *ctx)
{
    (void)size;
    struct root_region **list = ctx;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W))
            continue;
        struct root_region *r = meta_calloc(1, sizeof *r);
        if (!r)
            return 1;
        r->lo = (const char *)(info->dlpi_addr + ph->p_vaddr);
        r->hi = r->lo + ph->p_memsz;
        r->next = *list;
        *list = r;
    }
    return 1; /* the main program only */
}

struct root_region *roots_program_segments(void)
{
    struct root_region *list = NULL;
    dl_iterate_phdr(list_segment, &list);
    return list;
}

void roots_free_regions(struct root_region *r)
{
    for (struct root_region *n; r; r = n) {
        n = r->next;
        meta_free(r);
    }
}

VMGC_API vmgc_status vmgc_root_add_region(vmgc_heap *h, const void *start, size_t bytes)
{
    if (!h || h->sig != HEAP_SIG)
        return error_set(VMGC_EINVAL, "vmgc_root_add_region: not a live heap");
    const char *lo = start, *hi = lo + bytes;
    if (!start || !bytes || hi < lo)
        return error_set(VMGC_EINVAL, "vmgc_root_add_region: give a non-NULL start and bytes > 0");
    const char *hb = h->arena->vm.base, *he = hb + h->arena->vm.size;
    if (lo < he && hi > hb)
        return error_set(VMGC_EINVAL, "vmgc_root_add_region: [%p, %p) overlaps the heap; heap "
                                      "objects are traced through their types",
                         start, (const void *)hi);
    struct root_region *r = meta_calloc(1, sizeof *r);
    if (!r)
        return error_set(VMGC_ENOMEM, "vmgc_root_add_region: no memory");
    r->lo = lo;
    r->hi = hi;
    lock_take(&h->roots_lock);
    r->next = h->regions;
    h->regions = r;
    pthread_mutex_unlock(&h->roots_lock);
    return VMGC_OK;
}

VMGC_API vmgc_status vmgc_root_remove_region(vmgc_heap *h, const void *start)
{
    if (!h || h->sig != HEAP_SIG)
        return error_set(VMGC_EINVAL, "vmgc_root_remove_region: not a live heap");
    lock_take(&h->roots_lock);
    struct root_region **pp = &h->regions;
    while (*pp && (*pp)->lo != (const char *)start)
        pp = &(*pp)->next;
    struct root_region *r = *pp;
    if (r)
        *pp = r->next;
    pthread_mutex_unlock(&h->roots_lock);
    if (!r)
        return error_set(VMGC_ESTATE, "vmgc_root_remove_region: no region starts at %p", start);
    meta_free(r);
    return VMGC_OK;
}

/* .sol.data-segments: looked up now, not in the flip (dl_iterate_phdr
 * takes the loader's lock, which a stopped thread may hold). */
VMGC_API vmgc_status vmgc_root_add_data_segments(vmgc_heap *h)
{
    if (!h || h->sig != HEAP_SIG)
        return error_set(VMGC_EINVAL, "vmgc_root_add_data_segments: not a live heap");
    lock_take(&h->roots_lock);
    int done = h->data_segments_rooted;
    h->data_segments_rooted = 1;
    pthread_mutex_unlock(&h->roots_lock);
    if (done)
        return VMGC_OK;
    struct root_region *segs = roots_program_segments();
    if (!segs)
        return error_set(VMGC_EUNAVAILABLE, "vmgc_root_add_data_segments: the program has no "
                                             "writable segments to scan");
    lock_take(&h->roots_lock);
    struct root_region *last = segs;
    while (last->next)
        last = last->next;
    last->next = h->regions;
    h->regions = segs;
    pthread_mutex_unlock(&h->roots_lock);
    return VMGC_OK;
}

/* Called by the flip, world stopped, threads_lock held. */
void roots_pin_ambiguous(struct vmgc_heap *h, struct vmgc_thread *self)
{
    uint32_t gen = __atomic_load_n(&h->world_stopped, __ATOMIC_ACQUIRE);
    for (struct vmgc_thread *t = h->threads; t; t = t->next) {
        if (t == self) {
            pin_own_stack(h, t);
            continue;
        }
        char *sp = __atomic_load_n(&t->stack_sp, __ATOMIC_RELAXED);
        if (sp && sp < t->stack_base)
            roots_pin_range(h, sp, t->stack_base);
        /* .sol.left-blocked: a thread the stop skipped as blocked may have
         * left that state since (it then parks until the release); its
         * registers are still only in the saved context */
        if (t->stop_sent != gen || __atomic_load_n(&t->state, __ATOMIC_ACQUIRE) == TS_BLOCKED)
            roots_pin_range(h, &t->regs, (const char *)&t->regs + sizeof t->regs);
    }
    for (struct root_region *r = h->regions; r; r = r->next)
        roots_pin_range(h, r->lo, r->hi);
    if (h->config.scan_data_segments)
        dl_iterate_phdr(pin_segment, h);
}

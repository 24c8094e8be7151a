/* mark.c -- mark cycles: the old generation marked where it lies, its dead
 * objects swept into holes, its dead pages given back, nothing old copied.
 * Design: doc/design/mark.md.
 *
 * A mark cycle is a young cycle (the nursery is copied as always) that
 * also marks every old object reachable at its flip: snapshot at the
 * beginning, the snapshot kept by the DIRTY primitive instead of a write
 * barrier.  Every old page that can hold pointers is either write-tracked
 * at the flip or greyed by it (generations.md), so before anything
 * overwrites a slot of an old page, either its first write faults and the
 * fault shades what the page points at (mark_shade_page), or a scan shades
 * it while the page is still protected (mark_shade, from scan_forward).
 *
 * Shading (mark_shade, mark_shade_page, mark_shade_ambiguous) may run in a
 * trap: no locks, no allocation; bits only.  The marker (mark_finish) is the
 * collector thread, after the young part of the cycle is drained.
 */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>

#include "error.h"
#include "internal.h"
#include "lock.h"
#include "meta.h"
#include "prot.h"
#include "sys.h"

#define WORDS_PER_PAGE (VM_PAGE_SIZE / sizeof(void *) / 64) /* bitmap words per page */

static uint64_t *bitmap_reserve(size_t words)
{
    void *p = sys.mmap(NULL, words * sizeof(uint64_t), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

vmgc_status mark_heap_init(struct vmgc_heap *h)
{
    struct mark_state *m = &h->mark;
    size_t pages = h->arena->pt.pages;
    m->words = pages * WORDS_PER_PAGE;
    m->bits = bitmap_reserve(m->words);
    m->scanned = m->bits ? bitmap_reserve(m->words) : NULL;
    m->grey = meta_calloc((pages + 63) / 64, sizeof *m->grey);
    m->dead = meta_calloc((pages + 63) / 64, sizeof *m->dead);
    if (!m->bits || !m->scanned || !m->grey || !m->dead) {
        int err = errno, mapped = m->bits && m->scanned;
        mark_heap_destroy(h);
        /* meta_calloc has said what failed; mmap has not */
        return mapped ? VMGC_ENOMEM : error_sys("reserving the mark bitmaps (mmap)", err);
    }
    /* .sol.snapshot-by-faults: the snapshot needs every old page's first
     * write to fault.  uffd protection is per page; the mprotect backend's
     * coarse granules drop write tracking of whole granules (prot.md). */
    m->supported = h->generational && h->arena->prot == &prot_uffd_backend;
    return VMGC_OK;
}

void mark_heap_destroy(struct vmgc_heap *h)
{
    struct mark_state *m = &h->mark;
    if (m->bits)
        sys.munmap(m->bits, m->words * sizeof(uint64_t));
    if (m->scanned)
        sys.munmap(m->scanned, m->words * sizeof(uint64_t));
    meta_free(m->grey);
    meta_free(m->dead);
    meta_free(m->later);
    meta_free(m->stack);
    memset(m, 0, sizeof *m);
}

/* ---- which pages a mark cycle sweeps ---- */

/* .sol.candidates: before the flip (cycle_lock held: no cycle makes or
 * frees old pages meanwhile), every old page that holds objects is a
 * candidate; pages that become old during the cycle are not (their objects
 * were copied, so they are live). */
static void note_candidate(struct vmgc_heap *h, size_t head, void *ctx)
{
    (void)ctx;
    struct page_desc *d = &h->arena->pt.desc[head];
    uint32_t w = ps_load(h, head);
    if (PS_STATE(w) != PS_BLACK || !(w & PS_OLD) ||
        (d->space != PK_SMALL && d->space != PK_LARGE_HEAD) ||
        (__atomic_load_n(&d->gc_info, __ATOMIC_ACQUIRE) & GI_EMPTY))
        return;
    __atomic_fetch_or(&d->gc_info, (uint16_t)GI_SWEEP, __ATOMIC_ACQ_REL);
}

void mark_prepare(struct vmgc_heap *h)
{
    pages_each_inuse(h, SIZE_MAX, note_candidate, NULL);
    /* .sol.ambiguous-later: room for twice what the last flip saw, made
     * here, outside the pause; without it, words are resolved in the flip */
    struct mark_state *m = &h->mark;
    size_t want = 2 * m->later_seen > 4096 ? 2 * m->later_seen : 4096;
    if (m->later_cap < want) {
        uintptr_t *n = meta_calloc(want, sizeof *n);
        if (n) {
            meta_free(m->later);
            m->later = n;
            m->later_cap = want;
        }
    }
}

/* The flip, world stopped, before any root is pinned or forwarded.
 * .sol.tlab-kept: a thread keeps allocating on the page it had at the flip
 * (collector.md .sol.tlab), which may be old.  What it allocates there after
 * the flip is never marked, so that page is not swept this time, and what
 * was on it before is kept, so it is traced: shaded here, as roots.  (Found
 * by test_mark: verify saw a live object pointing at a hole.) */
static void keep_tlab_page(struct vmgc_heap *h, struct vmgc_thread *t);

void mark_flip(struct vmgc_heap *h, int mark)
{
    h->mark_cycle = mark;
    h->mark.nlater = h->mark.later_seen = 0;
    __atomic_store_n(&h->mark.active, mark, __ATOMIC_SEQ_CST);
    if (mark)
        for (struct vmgc_thread *t = h->threads; t; t = t->next)
            keep_tlab_page(h, t);
}

/* ---- shading ---- */

/* The granule of the object p names, if it lies on a page this cycle
 * sweeps, else SIZE_MAX; *head: its page (a large object's first). */
static size_t candidate(struct vmgc_heap *h, uintptr_t p, size_t *head)
{
    struct arena *a = h->arena;
    if (!vm_contains(&a->vm, (void *)p))
        return SIZE_MAX;
    size_t page = pagetable_index(&a->pt, (void *)p);
    unsigned space = __atomic_load_n(&a->pt.desc[page].space, __ATOMIC_RELAXED);
    uintptr_t obj;
    if (space == PK_SMALL) {
        if ((p & 7) || (p & VM_PAGE_MASK) < VMGC_HEADER_BYTES)
            return SIZE_MAX; /* not an object pointer: a trace callback's business */
        *head = page;
        obj = p;
    } else if (space == PK_LARGE_HEAD || space == PK_LARGE_BODY) {
        *head = ps_head_of(h, page);
        obj = (uintptr_t)pagetable_page_addr(&a->pt, *head) + VMGC_HEADER_BYTES;
    } else {
        return SIZE_MAX;
    }
    if (!(__atomic_load_n(&a->pt.desc[*head].gc_info, __ATOMIC_ACQUIRE) & GI_SWEEP))
        return SIZE_MAX;
    return (obj - (uintptr_t)a->vm.base) >> 3;
}

static int set_bit(uint64_t *bits, size_t g)
{
    uint64_t bit = (uint64_t)1 << (g & 63);
    return !(__atomic_fetch_or(&bits[g >> 6], bit, __ATOMIC_ACQ_REL) & bit);
}

static int test_bit(const uint64_t *bits, size_t g)
{
    return (__atomic_load_n(&bits[g >> 6], __ATOMIC_ACQUIRE) >> (g & 63)) & 1;
}

/* Marked by someone other than the marker: the marker finds it by its
 * page's grey bit. */
static void shade_for_marker(struct vmgc_heap *h, uintptr_t p)
{
    size_t head, g = candidate(h, p, &head);
    if (g != SIZE_MAX && set_bit(h->mark.bits, g))
        __atomic_fetch_or(&h->mark.grey[head >> 6], (uint64_t)1 << (head & 63), __ATOMIC_ACQ_REL);
}

void mark_shade_slow(struct vmgc_heap *h, void *p)
{
    shade_for_marker(h, (uintptr_t)p);
}

static void keep_tlab_page(struct vmgc_heap *h, struct vmgc_thread *t)
{
    if (t->tlab_page == PD_NONE)
        return;
    struct page_desc *d = &h->arena->pt.desc[t->tlab_page];
    if (!(__atomic_load_n(&d->gc_info, __ATOMIC_ACQUIRE) & GI_SWEEP))
        return;
    __atomic_fetch_or(&d->gc_info, (uint16_t)GI_KEEP, __ATOMIC_ACQ_REL);
    uintptr_t mbase = (uintptr_t)pagetable_page_addr(&h->arena->pt, t->tlab_page);
    const char *base = h->arena->vm.alias + ((size_t)t->tlab_page << VM_PAGE_SHIFT);
    size_t used = (size_t)((uintptr_t)t->buf.cursor - mbase);
    for (size_t off = 0; off + VMGC_HEADER_BYTES <= used;) {
        uint64_t hd = hdr_load(base + off + VMGC_HEADER_BYTES);
        if (hd == 0)
            break;
        if (!hdr_is_hole(hd))
            shade_for_marker(h, mbase + off + VMGC_HEADER_BYTES);
        off += hdr_span(hd);
    }
}

/* A conservative root (the flip): the object holding the word. */
static void shade_word(struct vmgc_heap *h, uintptr_t word)
{
    uint64_t hd;
    size_t page = pagetable_index(&h->arena->pt, (void *)word);
    size_t obj = object_start(h, page, word, &hd);
    if (obj && !hdr_is_hole(hd))
        shade_for_marker(h, obj);
}

/* .sol.ambiguous-later: finding the object a word points into walks its
 * page; a deep stack has tens of thousands of such words (deeppause), so
 * the flip only keeps them, and the collector resolves them right after
 * it (mark_flipped).  An old object stays where it is and cannot die
 * before the sweep, so what the word named at the flip is what it names
 * then.  Words beyond the buffer are resolved in the flip. */
void mark_shade_ambiguous(struct vmgc_heap *h, size_t head, uintptr_t word)
{
    struct mark_state *m = &h->mark;
    if (!__atomic_load_n(&m->active, __ATOMIC_ACQUIRE) ||
        !(__atomic_load_n(&h->arena->pt.desc[head].gc_info, __ATOMIC_ACQUIRE) & GI_SWEEP))
        return;
    m->later_seen++;
    if (m->nlater < m->later_cap)
        m->later[m->nlater++] = word;
    else
        shade_word(h, word);
}

void mark_flipped(struct vmgc_heap *h)
{
    struct mark_state *m = &h->mark;
    for (size_t i = 0; i < m->nlater; i++)
        shade_word(h, m->later[i]);
    m->nlater = 0;
}

struct slice {
    struct vmgc_heap *h;
    const char *lo, *hi; /* collector-view bounds of the slots to shade */
};

/* .sol.racy-reads: the marker reads slots that mutators may be writing
 * (after a page's first write); the value it reads does not matter (the
 * snapshot's was shaded at that first write, and a value stored since is
 * one the mutator held, marked already), so the race is by design and
 * not shown to ThreadSanitizer, like the conservative scans
 * (roots.md .sol.no-asan). */
GC_CONSERVATIVE_SCAN static void shade_slot_in_slice(void **slot, void *ctx)
{
    struct slice *s = ctx;
    /* a trace callback may visit a local copy (an untagged pointer): take
     * those too, they belong to the object being walked */
    int in_heap = (const char *)slot >= s->h->arena->vm.alias &&
                  (const char *)slot < s->h->arena->vm.alias + s->h->arena->vm.size;
    if (in_heap && ((const char *)slot < s->lo || (const char *)slot >= s->hi))
        return;
    shade_for_marker(s->h, (uintptr_t)*slot);
}

/* .sol.first-write: an old page's first write since it was tracked, before
 * the page is made writable (dirty.c calls this through the arena): what
 * its objects point at now is what the snapshot holds, so it is shaded,
 * dead objects' referents too (they float until the next mark).  A large
 * object's page shades the slots on that page.  Async-signal-safe. */
void mark_shade_page(void *ctx, size_t page)
{
    struct vmgc_heap *h = ctx;
    struct mark_state *m = &h->mark;
    if (!__atomic_load_n(&m->active, __ATOMIC_ACQUIRE))
        return;
    __atomic_fetch_add(&m->shading, 1, __ATOMIC_SEQ_CST);
    /* .sol.shading-count: counted, then checked, so the marker's last
     * round (active off, then shading 0) sees every shade of this page */
    struct page_desc *d = &h->arena->pt.desc[page];
    size_t head = ps_head_of(h, page);
    if (__atomic_load_n(&m->active, __ATOMIC_SEQ_CST) &&
        (__atomic_load_n(&h->arena->pt.desc[head].gc_info, __ATOMIC_ACQUIRE) & GI_SWEEP)) {
        char *base = h->arena->vm.alias + (head << VM_PAGE_SHIFT);
        struct slice s = {h, h->arena->vm.alias + (page << VM_PAGE_SHIFT),
                          h->arena->vm.alias + ((page + 1) << VM_PAGE_SHIFT)};
        size_t used = __atomic_load_n(&d->space, __ATOMIC_RELAXED) == PK_SMALL
                          ? __atomic_load_n(&d->gc_word[1], __ATOMIC_ACQUIRE)
                          : VMGC_HEADER_BYTES + 1; /* the large object's header */
        for (size_t off = 0; off + VMGC_HEADER_BYTES <= used;) {
            char *obj = base + off + VMGC_HEADER_BYTES;
            uint64_t hd = hdr_load(obj);
            if (hd == 0 || hdr_forwarded(hd))
                break;
            uint32_t type = hdr_type(hd);
            if (type && type < __atomic_load_n(&h->ntypes, __ATOMIC_ACQUIRE))
                object_each_slot(&h->types[type], obj, hdr_size(hd), shade_slot_in_slice, &s);
            off += hdr_span(hd);
        }
    }
    __atomic_fetch_sub(&m->shading, 1, __ATOMIC_SEQ_CST);
}

/* ---- the marker (the collector thread) ---- */

struct marker {
    struct vmgc_heap *h;
    uint64_t objects;
};

static void push(struct vmgc_heap *h, uintptr_t obj, size_t head)
{
    struct mark_state *m = &h->mark;
    if (m->sp == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 4096;
        void **n = meta_calloc(cap, sizeof *n);
        if (!n) { /* .sol.stack-overflow: the page's grey bit finds it instead */
            __atomic_fetch_or(&m->grey[head >> 6], (uint64_t)1 << (head & 63), __ATOMIC_ACQ_REL);
            return;
        }
        if (m->stack)
            memcpy(n, m->stack, m->sp * sizeof *n);
        meta_free(m->stack);
        m->stack = n;
        m->cap = cap;
    }
    m->stack[m->sp++] = (void *)obj;
}

GC_CONSERVATIVE_SCAN static void marker_visit(void **slot, void *ctx) /* .sol.racy-reads */
{
    struct marker *k = ctx;
    size_t head;
    uintptr_t p = (uintptr_t)*slot;
    size_t g = candidate(k->h, p, &head);
    if (g == SIZE_MAX || !set_bit(k->h->mark.bits, g))
        return;
    if (k->h->arena->pt.desc[head].space != PK_SMALL)
        p = (uintptr_t)pagetable_page_addr(&k->h->arena->pt, head) + VMGC_HEADER_BYTES;
    push(k->h, p, head);
}

/* .sol.trace-copy: a trace callback may store a slot back (a tagged
 * pointer re-tagged, vmgc.h), and the marker runs while mutators write old
 * objects: a store back of what it read could undo a mutator's newer store.
 * So objects of such types are traced on a copy, read a word at a time
 * (volatile: not turned into memcpy, which ThreadSanitizer checks;
 * .sol.racy-reads). */
GC_CONSERVATIVE_SCAN static void copy_words(uint64_t *dst, const char *src, size_t words)
{
    for (size_t i = 0; i < words; i++)
        dst[i] = ((const volatile uint64_t *)src)[i];
}

static void trace_copy(struct marker *k, const struct gc_type *t, const char *alias_obj,
                       size_t size)
{
    uint64_t small[VMGC_SMALL_MAX / sizeof(uint64_t) + 1];
    size_t words = (size + 7) / 8;
    uint64_t *copy = words <= sizeof small / sizeof *small ? small : meta_calloc(words, 8);
    if (!copy)
        gc_fatal("out of memory for a copy of a large object to trace (mark.md .sol.trace-copy)");
    copy_words(copy, alias_obj, words);
    object_each_slot(t, (char *)copy, size, marker_visit, k);
    if (copy != small)
        meta_free(copy);
}

/* Scan the marked object at obj (mutator-view address) once. */
static void scan_marked(struct marker *k, uintptr_t obj)
{
    struct vmgc_heap *h = k->h;
    size_t g = (obj - (uintptr_t)h->arena->vm.base) >> 3;
    if (test_bit(h->mark.scanned, g))
        return;
    h->mark.scanned[g >> 6] |= (uint64_t)1 << (g & 63); /* the marker's alone */
    char *alias_obj = vm_alias_of(&h->arena->vm, (void *)obj);
    uint64_t hd = hdr_load(alias_obj);
    uint32_t type = hdr_type(hd);
    if (hd == 0 || hdr_forwarded(hd) || type == 0 || type >= h->ntypes)
        gc_fatal("a marked old object has no valid header: a precise slot points into an old "
                 "object but not at its start (precise slots must hold object pointers; use a "
                 "trace callback for tagged or interior pointers), or the heap is corrupted");
    k->objects++;
    const struct gc_type *t = &h->types[type];
    if (t->layout == VMGC_LAYOUT_TRACE)
        trace_copy(k, t, alias_obj, hdr_size(hd));
    else
        object_each_slot(t, alias_obj, hdr_size(hd), marker_visit, k);
}

static void drain_stack(struct marker *k)
{
    struct mark_state *m = &k->h->mark;
    while (m->sp)
        scan_marked(k, (uintptr_t)m->stack[--m->sp]);
}

/* The marked, unscanned objects of one page with its grey bit taken. */
static void scan_grey_page(struct marker *k, size_t head)
{
    struct vmgc_heap *h = k->h;
    struct page_desc *d = &h->arena->pt.desc[head];
    uintptr_t mbase = (uintptr_t)pagetable_page_addr(&h->arena->pt, head);
    if (d->space != PK_SMALL) {
        scan_marked(k, mbase + VMGC_HEADER_BYTES);
        return;
    }
    const char *base = h->arena->vm.alias + (head << VM_PAGE_SHIFT);
    /* atomic: a thread allocating here (a kept page, .sol.tlab-kept) may
     * retire it meanwhile (detach); what it adds ends at a zero header */
    size_t used = __atomic_load_n(&d->gc_word[1], __ATOMIC_ACQUIRE);
    for (size_t off = 0; off + VMGC_HEADER_BYTES <= used;) {
        uint64_t hd = hdr_load(base + off + VMGC_HEADER_BYTES);
        if (hd == 0)
            break;
        size_t g = (mbase + off + VMGC_HEADER_BYTES - (uintptr_t)h->arena->vm.base) >> 3;
        if (test_bit(h->mark.bits, g))
            scan_marked(k, mbase + off + VMGC_HEADER_BYTES);
        off += hdr_span(hd);
    }
}

/* Until nothing is marked and unscanned: returns whether it did anything. */
static int mark_until_done(struct marker *k)
{
    struct mark_state *m = &k->h->mark;
    size_t words = (k->h->arena->pt.pages + 63) / 64;
    int any = 0;
    for (int found = 1; found;) {
        found = 0;
        drain_stack(k);
        for (size_t w = 0; w < words; w++) {
            if (!__atomic_load_n(&m->grey[w], __ATOMIC_ACQUIRE))
                continue;
            for (uint64_t bits = __atomic_exchange_n(&m->grey[w], 0, __ATOMIC_ACQ_REL); bits;
                 bits &= bits - 1) {
                scan_grey_page(k, w * 64 + (size_t)__builtin_ctzll(bits));
                drain_stack(k);
                found = any = 1;
            }
        }
    }
    return any;
}

/* ---- the sweep ---- */

struct sweep {
    uint32_t dead_epoch;
    uint64_t pages_freed, pages_released, objects_freed, bytes_freed, hole_bytes;
};

static void clear_page_bits(struct mark_state *m, size_t page)
{
    memset(&m->bits[page * WORDS_PER_PAGE], 0, WORDS_PER_PAGE * sizeof(uint64_t));
    memset(&m->scanned[page * WORDS_PER_PAGE], 0, WORDS_PER_PAGE * sizeof(uint64_t));
}

/* A dead page leaves as from-space does (collector.c release_from_space):
 * black of an older epoch and not old is from-space in a young cycle. */
static void note_dead_run(struct vmgc_heap *h, size_t head, struct sweep *s, size_t npages)
{
    for (size_t i = head; i < head + npages; i++)
        h->mark.dead[i >> 6] |= (uint64_t)1 << (i & 63);
    s->pages_freed += npages;
}

/* .sol.dead-runs (small pages): old pages swept whole lie scattered among old pages that
 * are write-tracked (read-only) or written (read-write), and each run
 * handed back to the pool gets a protection of its own when it is reused:
 * a VMA per run (gcold at 1 GiB reached the VMA limit with every dead page
 * released).  So a run of DEAD_RUN_MIN dead pages or more goes back as
 * from-space does (released at the cycle's end); a shorter one gives its
 * memory back to the OS (a punch: it reads as zero, which ends its walk at
 * once) and stays an old page, empty, until a full cycle frees it with its
 * neighbours. */
#define DEAD_RUN_MIN 64

static void dead_run(struct vmgc_heap *h, size_t first, size_t n, struct sweep *s)
{
    struct page_desc *d = h->arena->pt.desc;
    if (n >= DEAD_RUN_MIN) {
        /* black of an older epoch and not old: from-space in a young cycle */
        for (size_t i = first; i < first + n; i++)
            ps_set(h, i, PS_MAKE(PS_BLACK, s->dead_epoch));
        s->pages_released += n;
        return;
    }
    for (size_t i = first; i < first + n; i++)
        __atomic_fetch_or(&d[i].gc_info, (uint16_t)GI_EMPTY, __ATOMIC_ACQ_REL);
    if (vm_punch(&h->arena->vm, first << VM_PAGE_SHIFT, n << VM_PAGE_SHIFT) != VMGC_OK)
        return; /* kept resident: still empty, still correct */
    __atomic_fetch_add(&h->mark.empty_pages, n, __ATOMIC_RELAXED);
}

static void release_dead(struct vmgc_heap *h, struct sweep *s)
{
    size_t words = (h->arena->pt.pages + 63) / 64, run = 0, first = 0;
    for (size_t w = 0; w < words; w++) {
        uint64_t bits = h->mark.dead[w];
        if (!bits && !run)
            continue;
        h->mark.dead[w] = 0;
        for (size_t b = 0; b < 64; b++) {
            size_t page = w * 64 + b;
            if (bits >> b & 1) {
                if (!run++)
                    first = page;
            } else if (run) {
                dead_run(h, first, run, s);
                run = 0;
            }
        }
    }
    if (run)
        dead_run(h, first, run, s);
}

static void sweep_page(struct vmgc_heap *h, size_t head, void *ctx)
{
    struct sweep *s = ctx;
    struct mark_state *m = &h->mark;
    struct page_desc *d = &h->arena->pt.desc[head];
    uint16_t info = __atomic_fetch_and(&d->gc_info, (uint16_t) ~(GI_SWEEP | GI_KEEP),
                                       __ATOMIC_ACQ_REL);
    if (!(info & GI_SWEEP))
        return;
    if (info & GI_KEEP) { /* .sol.tlab-kept */
        clear_page_bits(m, head);
        return;
    }
    uintptr_t mbase = (uintptr_t)pagetable_page_addr(&h->arena->pt, head);
    size_t gbase = (mbase - (uintptr_t)h->arena->vm.base) >> 3;
    char *base = h->arena->vm.alias + (head << VM_PAGE_SHIFT);
    if (d->space == PK_LARGE_HEAD) {
        if (!test_bit(m->bits, gbase + 1)) {
            /* a large object is a run of its own already: released whole
             * (an empty head page would have no header to scan) */
            s->objects_freed++;
            s->bytes_freed += (uint64_t)d->gc_word[1] << VM_PAGE_SHIFT;
            s->pages_freed += d->gc_word[1];
            s->pages_released += d->gc_word[1];
            ps_set(h, head, PS_MAKE(PS_BLACK, s->dead_epoch));
        }
        clear_page_bits(m, head);
        return;
    }
    size_t used = d->gc_word[1], live = 0, holes = 0;
    for (size_t off = 0; off + VMGC_HEADER_BYTES <= used;) {
        uint64_t *hdr = (uint64_t *)(base + off);
        uint64_t hd = __atomic_load_n(hdr, __ATOMIC_ACQUIRE);
        if (hd == 0)
            break;
        size_t span = hdr_span(hd);
        if (hdr_is_hole(hd)) {
            holes += span;
        } else if (test_bit(m->bits, gbase + off / 8 + 1)) {
            live += span;
        } else {
            /* .sol.hole: what nothing reached becomes a hole no scan reads
             * into: its slots may name pages this sweep frees */
            __atomic_store_n(hdr, hdr_make_hole(span), __ATOMIC_RELEASE);
            s->objects_freed++;
            s->bytes_freed += span;
            holes += span;
        }
        off += span;
    }
    clear_page_bits(m, head);
    if (!live) {
        note_dead_run(h, head, s, 1);
        return;
    }
    if (holes) {
        __atomic_fetch_or(&d->gc_info, (uint16_t)GI_HOLES, __ATOMIC_ACQ_REL);
        s->hole_bytes += holes;
    }
}

/* After the young part of the cycle is drained (no grey page is left,
 * so only first writes still shade): mark to the end, then sweep. */
void mark_finish(struct vmgc_heap *h)
{
    struct mark_state *m = &h->mark;
    struct marker k = {h, 0};
    (void)mark_until_done(&k);
    /* .sol.shading-count: off, then wait for the first writes that saw it
     * on; what they shaded is marked in one more round, and nothing can
     * shade after that */
    __atomic_store_n(&m->active, 0, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&m->shading, __ATOMIC_SEQ_CST))
        sched_yield();
    (void)mark_until_done(&k);
    struct sweep s = {0};
    s.dead_epoch = (__atomic_load_n(&h->epoch, __ATOMIC_ACQUIRE) - 1) & 0xffffffu;
    pages_each_inuse(h, SIZE_MAX, sweep_page, &s);
    release_dead(h, &s);
    __atomic_fetch_add(&m->st_cycles, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&m->st_objects_marked, k.objects, __ATOMIC_RELAXED);
    __atomic_fetch_add(&m->st_pages_freed, s.pages_freed, __ATOMIC_RELAXED);
    __atomic_fetch_add(&m->st_objects_freed, s.objects_freed, __ATOMIC_RELAXED);
    __atomic_fetch_add(&m->st_bytes_freed, s.bytes_freed, __ATOMIC_RELAXED);
    __atomic_store_n(&m->hole_bytes, s.hole_bytes, __ATOMIC_RELAXED);
}

/* A full cycle copies every old object out of its holes: none are left. */
void mark_full_cycle_done(struct vmgc_heap *h)
{
    __atomic_store_n(&h->mark.hole_bytes, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&h->mark.empty_pages, 0, __ATOMIC_RELAXED); /* freed with from-space */
}

void mark_get_stats(struct vmgc_heap *h, vmgc_stats *s)
{
    struct mark_state *m = &h->mark;
    s->mark_collections = __atomic_load_n(&m->st_cycles, __ATOMIC_RELAXED);
    s->old_objects_swept = __atomic_load_n(&m->st_objects_freed, __ATOMIC_RELAXED);
    s->old_bytes_swept = __atomic_load_n(&m->st_bytes_freed, __ATOMIC_RELAXED);
    s->old_pages_swept = __atomic_load_n(&m->st_pages_freed, __ATOMIC_RELAXED);
    s->old_hole_bytes = __atomic_load_n(&m->hole_bytes, __ATOMIC_RELAXED);
    s->old_empty_bytes = __atomic_load_n(&m->empty_pages, __ATOMIC_RELAXED) << VM_PAGE_SHIFT;
}

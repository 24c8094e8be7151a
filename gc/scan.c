/* scan.c -- forwarding, copying and scanning pages.
 * Design: doc/design/pagestate.md (.sol.copy, .sol.seal, .sol.scan).
 *
 * Everything here may run in a trap (in_signal): no locks, no allocation;
 * pages for copies come from the lock-free stash.  Objects are read and
 * written through the collector view only, so scanning never traps.
 */
#include "config.h"

#include <sched.h>
#include <string.h>

#include "internal.h"
#include "prot.h"

static char *alias_of_page(struct vmgc_heap *h, size_t page)
{
    return h->arena->vm.alias + (page << VM_PAGE_SHIFT);
}

static uint32_t cur_epoch(struct vmgc_heap *h)
{
    return __atomic_load_n(&h->epoch, __ATOMIC_ACQUIRE) & 0xffffffu;
}

/* A page leaves the cycle's work: black, exposed, then counted.
 * .sol.expose-before-count: once `pending` is 0 the cycle may end and
 * verify stops the world; a page counted before it was exposed could be
 * seen black and still protected (a thread stopped between the two steps). */
static void finish_black(struct vmgc_heap *h, struct copier *c, size_t page, size_t npages,
                         int in_signal)
{
    checkpoint_save(h, c, page, npages);
    /* write-tracked before anyone can write it (generations.md .sol.arm):
     * before it is black, too, since a trap waiting for this page maps it
     * as soon as it sees it black (found by the long stress test) */
    gen_page_survived(h, page, npages, in_signal);
    ps_set(h, page, PS_MAKE(PS_BLACK, cur_epoch(h)) | PS_OLD);
    if (prot_unprotect(h->arena, pagetable_page_addr(&h->arena->pt, page),
                       npages << VM_PAGE_SHIFT) != VMGC_OK)
        gc_fatal_status("exposing a scanned page failed");
    __atomic_fetch_sub(&h->pending, 1, __ATOMIC_ACQ_REL);
}

/* ---- copy targets (.sol.copy) ---- */

void copier_retire(struct vmgc_heap *h, struct copier *c)
{
    if (!c->page1)
        return;
    size_t page = c->page1 - 1;
    __atomic_store_n(&c->page1, 0, __ATOMIC_RELEASE);
    uint32_t w = ps_load(h, page);
    /* still ours: hand it to the scanners; sealed: the sealer scans it */
    if (PS_STATE(w) == PS_COPY && ps_cas(h, page, w, PS_MAKE(PS_GREY, PS_EPOCH(w))))
        grey_push(h, page);
}

static size_t copy_page_new(struct vmgc_heap *h, int in_signal)
{
    for (unsigned spins = 0;; spins++) {
        size_t page = stash_pop(h);
        if (page != PD_NONE)
            return page;
        if (__atomic_load_n(&h->flipping, __ATOMIC_ACQUIRE))
            gc_fatal("copy reserve exhausted during the flip (it is sized to the roots first)");
        if (!in_signal) {
            if (stash_refill(h, 64) != VMGC_OK)
                gc_fatal_status("filling the copy reserve failed");
            continue;
        }
        /* .sol.stash-wait: a trap cannot take the pool's lock; the
         * collector refills the stash, so wait for it. */
        if (spins > 100000000u)
            gc_fatal("copy reserve empty in a trap for too long");
        sched_yield();
    }
}

/* Reserve total bytes; returns the collector-view address, the page
 * marked PS_INFLIGHT until copy_done (already ours when we hold it for an
 * in-place scan, .sol.cheney, and not needed while the world is stopped,
 * .sol.sole-copier). */
static char *copy_reserve(struct vmgc_heap *h, struct copier *c, size_t total, int in_signal)
{
    for (;;) {
        if (c->page1) {
            size_t page = c->page1 - 1;
            int held = c->hold1 == c->page1;
            uint32_t w = ps_load(h, page);
            if (PS_STATE(w) == PS_COPY && PS_EPOCH(w) == cur_epoch(h) &&
                c->used + total <= VM_PAGE_SIZE) {
                if (held || c->world_stopped || ps_cas(h, page, w, w | PS_INFLIGHT))
                    return alias_of_page(h, page) + c->used;
                continue; /* sealed meanwhile */
            }
            if (held)
                __atomic_store_n(&c->page1, 0, __ATOMIC_RELEASE); /* the in-place scan finishes it */
            else
                copier_retire(h, c);
        }
        size_t page = copy_page_new(h, in_signal);
        struct page_desc *d = &h->arena->pt.desc[page];
        /* atomic: a trap on a coarse mprotect granule may read the kinds
         * of the granule's pages (ps_head_of) while one becomes a target */
        __atomic_store_n(&d->space, PK_SMALL, __ATOMIC_RELAXED);
        __atomic_store_n(&d->gc_info, 0, __ATOMIC_RELAXED); /* .sol.weak-pages */
        __atomic_store_n(&d->gc_word[1], 0, __ATOMIC_RELEASE);
        __atomic_store_n(&d->gc_word[2], 0, __ATOMIC_RELEASE);
        __atomic_fetch_add(&h->pending, 1, __ATOMIC_ACQ_REL);
        __atomic_fetch_add(&h->survivor_pages, 1, __ATOMIC_RELAXED);
        __atomic_store_n(&c->page1, (uint32_t)page + 1, __ATOMIC_RELEASE);
        c->used = 0;
        /* .sol.copy-protect: COPY first, then renew the stash's protection
         * (or protect again if a coarse mprotect granule's barrier exposed
         * it): from now on a trap seals the page, and we move on.  Renewing
         * bumps the mark's generation (prot.md .sol.mark-gen), so a barrier
         * that started while it was a stash page cannot expose it. */
        ps_set(h, page, PS_MAKE(PS_COPY, cur_epoch(h)));
        char *addr = pagetable_page_addr(&h->arena->pt, page);
        if (!prot_renew(h->arena, addr) && prot_protect(h->arena, addr, VM_PAGE_SIZE) != VMGC_OK)
            gc_fatal_status("protecting a copy target failed");
        /* A sealer may have taken the (empty) page and finished it before
         * our protection took effect: then expose it again, and move on. */
        unsigned st;
        while ((st = PS_STATE(ps_load(h, page))) == PS_SEALED || st == PS_SCANNING)
            stash_wait_turn(h, in_signal);
        if (st != PS_COPY) {
            if (prot_unprotect(h->arena, addr, VM_PAGE_SIZE) != VMGC_OK)
                gc_fatal_status("exposing a finished copy target failed");
            __atomic_store_n(&c->page1, 0, __ATOMIC_RELEASE);
        }
    }
}

static void copy_done(struct vmgc_heap *h, struct copier *c, size_t total, int kept)
{
    size_t page = c->page1 - 1;
    if (kept) {
        c->used += (uint32_t)total;
        __atomic_store_n(&h->arena->pt.desc[page].gc_word[1], c->used, __ATOMIC_RELEASE);
    }
    if (c->hold1 != c->page1 && !c->world_stopped)
        __atomic_fetch_and(ps_word(h, page), ~(uint32_t)PS_INFLIGHT, __ATOMIC_ACQ_REL);
}

/* .sol.seal: take over a COPY page: no further copies go there; wait for
 * the one in flight; then it is ours to scan.  Returns 1 when we own it. */
void copier_seal(struct vmgc_heap *h, size_t page, struct copier *c, int in_signal)
{
    (void)c, (void)in_signal;
    for (;;) {
        uint32_t w = ps_load(h, page);
        if (PS_STATE(w) != PS_COPY)
            return;
        uint32_t sealed = (w & ~0xfu) | PS_SEALED;
        if (ps_cas(h, page, w, sealed))
            break;
    }
    for (;;) {
        uint32_t w = ps_load(h, page);
        if (!(w & PS_INFLIGHT) &&
            ps_cas(h, page, w, PS_MAKE(PS_SCANNING, PS_EPOCH(w)))) {
            scan_page(h, c, page, in_signal);
            return;
        }
        stash_wait_turn(h, in_signal); /* the copier in flight may be a trap */
    }
}

/* A copier's page that it has scanned to the end becomes black, unless a
 * sealer took it meanwhile (then the sealer finishes it). */
static void finish_scanned_copy_page(struct vmgc_heap *h, struct copier *c, size_t page,
                                     int in_signal)
{
    uint32_t w = ps_load(h, page);
    if (PS_STATE(w) == PS_COPY && !(w & PS_INFLIGHT) &&
        ps_cas(h, page, w, PS_MAKE(PS_SCANNING, PS_EPOCH(w))))
        scan_page(h, c, page, in_signal);
}

/* .sol.cheney: scan the objects this copier copied into its own page, in
 * place, holding PS_INFLIGHT so a sealer waits; copies go on into the same
 * page while it has room.  Without this, a copier that runs out of grey
 * pages would hand out a page per object of a linked list.  Stops after
 * max_pages pages are finished (0: no limit).  Returns 1 if it scanned
 * anything. */
int copier_scan_own(struct vmgc_heap *h, struct copier *c, int in_signal, unsigned max_pages)
{
    int any = 0;
    unsigned finished = 0;
    while (c->page1 && (!max_pages || finished < max_pages)) {
        size_t page = c->page1 - 1;
        uint32_t w = ps_load(h, page);
        if (PS_STATE(w) != PS_COPY) {
            __atomic_store_n(&c->page1, 0, __ATOMIC_RELEASE); /* sealed: the sealer scans it */
            break;
        }
        if (!ps_cas(h, page, w, w | PS_INFLIGHT))
            continue;
        c->hold1 = c->page1;
        struct page_desc *d = &h->arena->pt.desc[page];
        char *base = alias_of_page(h, page);
        for (;;) {
            size_t off = d->gc_word[2], used = d->gc_word[1];
            if (off + VMGC_HEADER_BYTES > used)
                break;
            if (PS_STATE(ps_load(h, page)) != PS_COPY)
                break; /* sealed: hand over at the prefix */
            char *obj = base + off + VMGC_HEADER_BYTES;
            uint64_t hd = hdr_load(obj);
            scan_object(h, c, obj, hd, in_signal);
            __atomic_store_n(&d->gc_word[2], (uint32_t)(off + hdr_span(hd)),
                             __ATOMIC_RELEASE);
            any = 1;
        }
        c->hold1 = 0;
        copier_flush_stats(h, c);
        __atomic_fetch_and(ps_word(h, page), ~(uint32_t)PS_INFLIGHT, __ATOMIC_ACQ_REL);
        if (c->page1 == page + 1)
            break; /* still our fill page, scanned to the end */
        finish_scanned_copy_page(h, c, page, in_signal); /* full, scanned to the end */
        finished++;
    }
    return any;
}

/* The copier's page is scanned to the end: make it black now. */
void copier_finish_own(struct vmgc_heap *h, struct copier *c)
{
    if (!c->page1)
        return;
    size_t page = c->page1 - 1;
    __atomic_store_n(&c->page1, 0, __ATOMIC_RELEASE);
    finish_scanned_copy_page(h, c, page, 0);
}

/* ---- forwarding ---- */

static __attribute__((noreturn)) void bad_pointer(const void *p)
{
    (void)p;
    gc_fatal("a precise root or heap slot holds a pointer into from-space that is not the "
             "start of an object; precise slots must hold object pointers (use a trace "
             "callback for tagged or interior pointers)");
}

/* .sol.leaf-large: a large object whose type holds no pointers has
 * nothing to scan, so it needs no protection when it is promoted or
 * pinned: it is black at once, and the mutator never traps on it. */
int large_is_leaf(struct vmgc_heap *h, size_t head)
{
    uint64_t hd = hdr_load(alias_of_page(h, head) + VMGC_HEADER_BYTES);
    uint32_t type = hdr_type(hd);
    if (type == 0 || type >= __atomic_load_n(&h->ntypes, __ATOMIC_ACQUIRE))
        return 0; /* scanning it will report the corruption */
    const struct gc_type *t = &h->types[type];
    return t->layout == VMGC_LAYOUT_NO_POINTERS ||
           (t->layout == VMGC_LAYOUT_BITMAP && t->bitmap == 0);
}

static void promote_large(struct vmgc_heap *h, size_t head, uint32_t w)
{
    uint32_t e = cur_epoch(h);
    size_t n = h->arena->pt.desc[head].gc_word[1];
    /* a checkpoint saves a page when it turns black from grey: no shortcut */
    if (!checkpoint_active(h) && large_is_leaf(h, head)) {
        if (!ps_cas(h, head, w, PS_MAKE(PS_BLACK, e) | PS_OLD))
            return;
        __atomic_fetch_add(&h->st_large_promoted, 1, __ATOMIC_RELAXED);
        __atomic_fetch_add(&h->survivor_pages, n, __ATOMIC_RELAXED);
        /* from-space may be protected by now; in the flip it is not yet */
        if (!__atomic_load_n(&h->flipping, __ATOMIC_ACQUIRE) &&
            prot_unprotect(h->arena, pagetable_page_addr(&h->arena->pt, head),
                           n << VM_PAGE_SHIFT) != VMGC_OK)
            gc_fatal_status("exposing a promoted large object failed");
        return;
    }
    if (!ps_cas(h, head, w, PS_MAKE(PS_PROMOTING, e)))
        return; /* someone else promotes it; callers wait for GREY */
    __atomic_fetch_add(&h->pending, 1, __ATOMIC_ACQ_REL);
    __atomic_fetch_add(&h->st_large_promoted, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&h->survivor_pages, n, __ATOMIC_RELAXED);
    if (prot_protect(h->arena, pagetable_page_addr(&h->arena->pt, head), n << VM_PAGE_SHIFT) !=
        VMGC_OK)
        gc_fatal_status("protecting a promoted large object failed");
    ps_set(h, head, PS_MAKE(PS_GREY, e));
    grey_push(h, head);
}

void *scan_forward(struct vmgc_heap *h, struct copier *c, void *p, int in_signal)
{
    struct arena *a = h->arena;
    if (!vm_contains(&a->vm, p))
        return p;
    size_t page = pagetable_index(&a->pt, p);
    struct page_desc *d = &a->pt.desc[page];
    if (d->space == PK_LARGE_HEAD || d->space == PK_LARGE_BODY) {
        size_t head = ps_head_of(h, page);
        uint32_t w = ps_load(h, head);
        if (ps_is_from(h, w))
            promote_large(h, head, w);
        while (PS_STATE(ps_load(h, head)) == PS_PROMOTING)
            sched_yield(); /* not exposed until protected */
        mark_shade(h, p);
        return p;
    }
    uint32_t w = ps_load(h, page);
    if (d->space != PK_SMALL || !ps_is_from(h, w)) {
        mark_shade(h, p); /* an old object, in a mark cycle (mark.md) */
        return p;
    }
    char *src = (char *)vm_alias_of(&a->vm, p);
    if (((uintptr_t)p & 7) || ((uintptr_t)p & VM_PAGE_MASK) < VMGC_HEADER_BYTES)
        bad_pointer(p);
    uint64_t hd = hdr_load(src);
    if (hdr_forwarded(hd))
        return fwd_target(hd);
    size_t size = hdr_size(hd);
    uint32_t type = hdr_type(hd);
    if (type == 0 || type >= h->ntypes || size > VMGC_SMALL_MAX)
        bad_pointer(p);
    /* .sol.hash-grow (identity.md): an object hashed where it is keeps that
     * hash in a word after its payload from its first move on */
    int grow = (hd & (VMGC_HDR_HASHED | VMGC_HDR_HASH_STORED)) == VMGC_HDR_HASHED;
    size_t span = hdr_span(hd), total = span + (grow ? VMGC_HEADER_BYTES : 0);
    char *dst = copy_reserve(h, c, total, in_signal);
    memcpy(dst, src - VMGC_HEADER_BYTES, span);
    if (grow) {
        *(uint64_t *)(dst + span) = identity_hash_of((uintptr_t)p);
        *(uint64_t *)dst = hd | VMGC_HDR_HASH_STORED;
    }
    char *dst_payload = a->vm.base + (dst - a->vm.alias) + VMGC_HEADER_BYTES;
    uint64_t expect = hd, forwarded = (uint64_t)(uintptr_t)dst_payload | 1 | (grow ? FWD_GREW : 0);
    uint64_t *hdr = (uint64_t *)(src - VMGC_HEADER_BYTES);
    /* .sol.sole-copier: in the flip nobody else copies, so a store does
     * what the CAS would, without serializing the cache misses */
    if (c->world_stopped ? (__atomic_store_n(hdr, forwarded, __ATOMIC_RELAXED), 1)
                         : __atomic_compare_exchange_n(hdr, &expect, forwarded, 0,
                                                       __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        copy_done(h, c, total, 1);
        c->bytes_copied += total;
        c->objects_copied++;
        return dst_payload;
    }
    /* .sol.race: another copier won; use its copy, give back our space */
    copy_done(h, c, total, 0);
    return fwd_target(expect);
}

/* ---- scanning ---- */

struct visit_ctx {
    struct vmgc_heap *h;
    struct copier *c;
    int in_signal;
};

static void visit_slot(void **slot, void *ctx)
{
    struct visit_ctx *v = ctx;
    scan_forward_slot(v->h, v->c, slot, v->in_signal);
}

void object_each_slot(const struct gc_type *t, char *obj, size_t size,
                      void (*fn)(void **slot, void *ctx), void *ctx)
{
    size_t words = size / sizeof(void *);
    void **slots = (void **)obj;
    switch (t->layout) {
    case VMGC_LAYOUT_NO_POINTERS:
        break;
    case VMGC_LAYOUT_ALL_POINTERS:
        for (size_t i = 0; i < words; i++)
            fn(&slots[i], ctx);
        break;
    case VMGC_LAYOUT_BITMAP:
        for (size_t i = 0; i < words && i < 64; i++)
            if (t->bitmap >> i & 1)
                fn(&slots[i], ctx);
        break;
    case VMGC_LAYOUT_TRACE:
        t->trace(obj, size, fn, ctx);
        break;
    case VMGC_LAYOUT_VECTOR: {
        size_t fixed = t->fixed_bytes / sizeof(void *);
        for (size_t i = 0; i < words && i < fixed; i++)
            if (t->bitmap >> i & 1)
                fn(&slots[i], ctx);
        for (size_t i = fixed; i < words; i++)
            fn(&slots[i], ctx);
        break;
    }
    }
}

void scan_object(struct vmgc_heap *h, struct copier *c, char *obj, uint64_t header, int in_signal)
{
    uint32_t type = hdr_type(header);
    if (type == 0 && hdr_is_hole(header))
        return; /* a dead object a mark cycle swept (mark.md .sol.hole) */
    if (type == 0 || type >= h->ntypes)
        gc_fatal("heap object with an unknown type: heap corrupted (or a write past an object)");
    const struct gc_type *t = &h->types[type];
    if (t->weakness && !__atomic_load_n(&h->weak_as_strong, __ATOMIC_RELAXED)) {
        weak_scan_object(h, c, obj, header, t, in_signal);
        return;
    }
    struct visit_ctx v = {h, c, in_signal};
    object_each_slot(t, obj, hdr_size(header), visit_slot, &v);
}

/* A copier's counts go to the heap's statistics once per page it scans, so
 * copies made in traps and by pacing mutators are counted too, not only the
 * collector thread's.  Atomic adds only: safe in a trap. */
void copier_flush_stats(struct vmgc_heap *h, struct copier *c)
{
    if (!c->objects_copied)
        return;
    __atomic_fetch_add(&h->st_bytes_copied, c->bytes_copied, __ATOMIC_RELAXED);
    __atomic_fetch_add(&h->st_objects_copied, c->objects_copied, __ATOMIC_RELAXED);
    c->bytes_copied = c->objects_copied = 0;
}

/* Scan a page we own (PS_SCANNING), then make it black and expose it. */
void scan_page(struct vmgc_heap *h, struct copier *c, size_t page, int in_signal)
{
    struct page_desc *d = &h->arena->pt.desc[page];
    char *base = alias_of_page(h, page);
    size_t npages = 1;
    if (d->space == PK_LARGE_HEAD) {
        npages = d->gc_word[1];
        char *obj = base + VMGC_HEADER_BYTES;
        scan_object(h, c, obj, hdr_load(obj), in_signal);
    } else if (d->space == PK_ROOTS) {
        void **slots = (void **)base; /* .sol.root-block: slots, no headers */
        for (size_t i = 0; i < VM_PAGE_SIZE / sizeof(void *); i++)
            scan_forward_slot(h, c, &slots[i], in_signal);
    } else {
        size_t used = __atomic_load_n(&d->gc_word[1], __ATOMIC_ACQUIRE);
        size_t start = __atomic_load_n(&d->gc_word[2], __ATOMIC_ACQUIRE);
        for (size_t off = start; off + VMGC_HEADER_BYTES <= used;) {
            char *obj = base + off + VMGC_HEADER_BYTES;
            uint64_t hd = hdr_load(obj);
            if (hd == 0)
                break; /* .sol.in-flight-alloc: a header not yet written ends the page */
            if (hdr_forwarded(hd))
                gc_fatal("forwarded object in a to-space page");
            scan_object(h, c, obj, hd, in_signal);
            off += hdr_span(hd);
        }
    }
    copier_flush_stats(h, c);
    finish_black(h, c, page, npages, in_signal);
}

/* Whatever state the page is in, return when it is black (0), or -1 when
 * it is not a to-space page at all (from-space, free, stash). */
int scan_make_black_checked(struct vmgc_heap *h, struct copier *c, size_t page, int in_signal)
{
    size_t head = ps_head_of(h, page);
    for (;;) {
        uint32_t w = ps_load(h, head);
        switch (PS_STATE(w)) {
        case PS_GREY:
            if (ps_cas(h, head, w, PS_MAKE(PS_SCANNING, PS_EPOCH(w)))) {
                scan_page(h, c, head, in_signal);
                return 0;
            }
            break;
        case PS_COPY:
            copier_seal(h, head, c, in_signal);
            break;
        case PS_SEALED:
        case PS_SCANNING:
        case PS_PROMOTING:
            stash_wait_turn(h, in_signal);
            break;
        case PS_BLACK:
            return ps_is_from(h, w) ? -1 : 0;
        default:
            return -1;
        }
    }
}

void scan_make_black(struct vmgc_heap *h, struct copier *c, size_t page, int in_signal)
{
    (void)scan_make_black_checked(h, c, page, in_signal);
}

/* A grey page whose contents are dead (a root block being freed) is made
 * black without a scan; one being scanned is waited for. */
void scan_discard_grey(struct vmgc_heap *h, size_t page)
{
    for (;;) {
        uint32_t w = ps_load(h, page);
        if (PS_STATE(w) == PS_SCANNING) {
            stash_wait_turn(h, 0);
            continue;
        }
        if (PS_STATE(w) != PS_GREY)
            return;
        if (ps_cas(h, page, w, PS_MAKE(PS_SCANNING, PS_EPOCH(w)))) {
            finish_black(h, NULL, page, 1, 0);
            return;
        }
    }
}

void scan_black_in_place(struct vmgc_heap *h, size_t page, size_t npages)
{
    checkpoint_save(h, NULL, page, npages);
    ps_set(h, page, PS_MAKE(PS_BLACK, cur_epoch(h)) | PS_OLD);
    gen_page_kept_open(h, page, npages);
    __atomic_fetch_sub(&h->pending, 1, __ATOMIC_ACQ_REL);
}

/* The object holding addr on a small page, by walking the page; 0 if none. */
size_t object_start(struct vmgc_heap *h, size_t page, uintptr_t addr, uint64_t *header)
{
    struct page_desc *d = &h->arena->pt.desc[page];
    char *base = alias_of_page(h, page);
    uintptr_t mbase = (uintptr_t)pagetable_page_addr(&h->arena->pt, page);
    if (d->space == PK_LARGE_HEAD || d->space == PK_LARGE_BODY) {
        size_t head = ps_head_of(h, page);
        *header = hdr_load(alias_of_page(h, head) + VMGC_HEADER_BYTES);
        return (uintptr_t)pagetable_page_addr(&h->arena->pt, head) + VMGC_HEADER_BYTES;
    }
    size_t used = d->gc_word[1];
    for (size_t off = 0; off + VMGC_HEADER_BYTES <= used;) {
        uint64_t hd = hdr_load(base + off + VMGC_HEADER_BYTES);
        if (hd == 0)
            break;
        uint64_t sized = hd;
        size_t less = 0;
        if (hdr_forwarded(hd)) { /* the size is in the copy's header */
            sized = hdr_load((char *)vm_alias_of(&h->arena->vm, fwd_target(hd)));
            less = (hd & FWD_GREW) ? VMGC_HEADER_BYTES : 0; /* the copy grew a hash word */
        }
        size_t len = hdr_span(sized) - less;
        if (addr < mbase + off + len) {
            *header = sized;
            return mbase + off + VMGC_HEADER_BYTES;
        }
        off += len;
    }
    return 0;
}

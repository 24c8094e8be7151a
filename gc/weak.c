/* weak.c -- weak slots and ephemerons in the concurrent copy.
 * Design: doc/design/weak.md.
 *
 * A scan leaves a weak slot's object where it is (forwarding the slot only
 * if the object was copied already) and marks the page as holding
 * undecided slots; once the drain is over, the cycle's end keeps the values
 * of ephemerons whose keys live, runs finalization (finalize.c), and
 * clears what is left undecided.  vmgc_weak_load is the only way a mutator
 * reads such a slot: during the scan it keeps the object (the mutator
 * holds it now), during the decision it waits.
 *
 * weak_scan_object runs in traps: no locks, no allocation (the page bits
 * are set with an atomic or).
 */
#include "config.h"

#include <sched.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "meta.h"

static size_t bit_words(struct vmgc_heap *h)
{
    return (h->arena->pt.pages + 63) / 64;
}

vmgc_status weak_heap_init(struct vmgc_heap *h)
{
    h->weak_bits = meta_calloc(bit_words(h), sizeof *h->weak_bits);
    return h->weak_bits ? VMGC_OK : VMGC_ENOMEM;
}

void weak_heap_destroy(struct vmgc_heap *h)
{
    meta_free(h->weak_bits);
    h->weak_bits = NULL;
}

int type_word_is_pointer(const struct gc_type *t, size_t i)
{
    switch (t->layout) {
    case VMGC_LAYOUT_ALL_POINTERS:
        return 1;
    case VMGC_LAYOUT_BITMAP:
        return i < 64 && (t->bitmap >> i & 1);
    case VMGC_LAYOUT_VECTOR:
        return i >= t->fixed_bytes / sizeof(void *) || (t->bitmap >> i & 1);
    default:
        return 0;
    }
}

int weak_referent_alive(struct vmgc_heap *h, void *p, void **now)
{
    struct arena *a = h->arena;
    *now = p;
    if (!vm_contains(&a->vm, p))
        return 1; /* NULL, or not a heap object: nothing to decide */
    size_t page = pagetable_index(&a->pt, p);
    uint8_t space = __atomic_load_n(&a->pt.desc[page].space, __ATOMIC_RELAXED);
    if (space == PK_LARGE_HEAD || space == PK_LARGE_BODY) /* promoted in place, or not */
        return !ps_is_from(h, ps_load(h, ps_head_of(h, page)));
    if (space != PK_SMALL || !ps_is_from(h, ps_load(h, page)))
        return 1; /* to-space, pinned in place, or allocated during the cycle */
    uint64_t hd = hdr_load(vm_alias_of(&a->vm, p));
    if (!hdr_forwarded(hd))
        return 0;
    *now = fwd_target(hd);
    return 1;
}

/* The flip, world stopped: a checkpoint's cycle traces weak slots like any
 * other (.sol.weak-image), so the image holds what they refer to. */
void weak_flip(struct vmgc_heap *h)
{
    /* mark.md .sol.weak-strong: a mark cycle keeps what weak slots name,
     * old objects included (its sweep must not leave a weak slot dangling) */
    __atomic_store_n(&h->weak_as_strong, checkpoint_active(h) || h->mark_cycle,
                     __ATOMIC_RELAXED);
    __atomic_store_n(&h->weak_phase, WEAK_MARKING, __ATOMIC_SEQ_CST);
}

static void mark_page(struct vmgc_heap *h, const char *alias_obj)
{
    size_t page = (size_t)(alias_obj - h->arena->vm.alias) >> VM_PAGE_SHIFT;
    __atomic_fetch_or(&h->weak_bits[page >> 6], (uint64_t)1 << (page & 63), __ATOMIC_RELAXED);
    if (!__atomic_load_n(&h->weak_marked, __ATOMIC_RELAXED))
        __atomic_store_n(&h->weak_marked, 1, __ATOMIC_RELAXED);
}

/* .sol.weak-scan: a slot whose object is already kept is forwarded; one
 * not reached yet is left for the cycle's end.  The page is ours (being
 * scanned), so plain stores. */
void weak_scan_object(struct vmgc_heap *h, struct copier *c, char *obj, uint64_t header,
                      const struct gc_type *t, int in_signal)
{
    size_t words = hdr_size(header) / sizeof(void *);
    void **slots = (void **)obj, *now;
    int undecided = 0;
    if (t->weakness == VMGC_EPHEMERON) {
        if (words && weak_referent_alive(h, slots[0], &now)) {
            if (now != slots[0])
                slots[0] = now;
            for (size_t i = 1; i < words; i++)
                if (type_word_is_pointer(t, i))
                    scan_forward_slot(h, c, &slots[i], in_signal);
            return;
        }
        undecided = words > 0;
    } else {
        for (size_t i = 0; i < words; i++) {
            if (!type_word_is_pointer(t, i))
                continue;
            if (!weak_referent_alive(h, slots[i], &now))
                undecided = 1;
            else if (now != slots[i])
                slots[i] = now;
        }
    }
    if (undecided)
        mark_page(h, obj);
}

/* ---- the cycle's end ---- */

typedef int (*weak_visit_fn)(struct vmgc_heap *h, struct copier *c, void **slots, size_t words,
                             const struct gc_type *t);

/* The objects of weak types on one marked page (black and exposed by now:
 * mutators may write their slots, and allocate at the end of a page their
 * thread kept, .sol.tlab; a zero header ends it, as in scan_page). */
static int visit_page(struct vmgc_heap *h, struct copier *c, size_t page, weak_visit_fn fn)
{
    struct page_desc *d = &h->arena->pt.desc[page];
    char *base = h->arena->vm.alias + (page << VM_PAGE_SHIFT);
    size_t used = d->space == PK_LARGE_HEAD ? VMGC_HEADER_BYTES + 1
                                            : __atomic_load_n(&d->gc_word[1], __ATOMIC_ACQUIRE);
    int any = 0;
    for (size_t off = 0; off + VMGC_HEADER_BYTES <= used;) {
        char *obj = base + off + VMGC_HEADER_BYTES;
        uint64_t hd = hdr_load(obj);
        if (hd == 0 || hdr_forwarded(hd))
            break;
        const struct gc_type *t = &h->types[hdr_type(hd)];
        if (t->weakness)
            any |= fn(h, c, (void **)obj, hdr_size(hd) / sizeof(void *), t);
        off += hdr_span(hd);
    }
    return any;
}

static int visit_marked(struct vmgc_heap *h, struct copier *c, weak_visit_fn fn, int clear_bits)
{
    int any = 0;
    if (!__atomic_load_n(&h->weak_marked, __ATOMIC_RELAXED))
        return 0; /* the bitmap is an eighth of a byte per page of the reserve: skip it */
    for (size_t w = 0, n = bit_words(h); w < n; w++) {
        uint64_t bits = __atomic_load_n(&h->weak_bits[w], __ATOMIC_RELAXED);
        if (clear_bits && bits)
            __atomic_store_n(&h->weak_bits[w], 0, __ATOMIC_RELAXED);
        for (; bits; bits &= bits - 1)
            any |= visit_page(h, c, w * 64 + (size_t)__builtin_ctzll(bits), fn);
    }
    return any;
}

/* The slot's value changes only if no mutator stored another meanwhile. */
static int swap_slot(void **slot, void *old, void *nw)
{
    return __atomic_compare_exchange_n(slot, &old, nw, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}

/* An ephemeron whose key is kept keeps its values: returns 1 if that copied
 * anything (the drain has work again). */
static int keep_values(struct vmgc_heap *h, struct copier *c, void **slots, size_t words,
                       const struct gc_type *t)
{
    void *key = __atomic_load_n(&slots[0], __ATOMIC_ACQUIRE), *now;
    if (t->weakness != VMGC_EPHEMERON || !words || !weak_referent_alive(h, key, &now))
        return 0;
    if (now != key)
        swap_slot(&slots[0], key, now);
    int copied = 0;
    for (size_t i = 1; i < words; i++) {
        if (!type_word_is_pointer(t, i))
            continue;
        void *v = __atomic_load_n(&slots[i], __ATOMIC_ACQUIRE), *vn;
        if (!weak_referent_alive(h, v, &vn)) {
            vn = scan_forward(h, c, v, 0);
            copied = 1;
        }
        if (vn != v)
            swap_slot(&slots[i], v, vn);
    }
    return copied;
}

void weak_settle_ephemerons(struct vmgc_heap *h, struct copier *c)
{
    while (visit_marked(h, c, keep_values, 0))
        drain_alone(h, c);
}

/* .sol.weak-clear: every slot still undecided is dead: NULL; an ephemeron
 * whose key is dead loses its values with it. */
static int clear_dead(struct vmgc_heap *h, struct copier *c, void **slots, size_t words,
                      const struct gc_type *t)
{
    (void)c;
    int broken = t->weakness == VMGC_EPHEMERON && words > 0;
    void *now;
    if (broken && weak_referent_alive(h, __atomic_load_n(&slots[0], __ATOMIC_ACQUIRE), &now))
        broken = 0;
    uint64_t cleared = 0;
    for (size_t i = 0; i < words; i++) {
        if (!type_word_is_pointer(t, i))
            continue;
        void *v = __atomic_load_n(&slots[i], __ATOMIC_ACQUIRE);
        if (!v)
            continue;
        if (!broken && weak_referent_alive(h, v, &now)) {
            if (now != v)
                swap_slot(&slots[i], v, now);
        } else if (swap_slot(&slots[i], v, NULL)) {
            cleared++;
        }
    }
    if (broken)
        __atomic_fetch_add(&h->st_ephemerons_broken, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&h->st_weak_cleared, cleared, __ATOMIC_RELAXED);
    return 0;
}

/* After drain_close.  .sol.weak-handshake: from WEAK_CLEARING on, a weak
 * load no longer copies; the loads that saw WEAK_MARKING are waited out,
 * and what they copied is scanned.  Then ephemerons, finalization, and the
 * clearing; WEAK_SETTLED lets waiting loads read the result, and the loads
 * still at work are waited out again. */
static void wait_for_readers(struct vmgc_heap *h)
{
    while (__atomic_load_n(&h->weak_readers, __ATOMIC_SEQ_CST)) {
        stash_keep_up(h); /* (.sol.wait-refills) */
        sched_yield();
    }
}

void weak_cycle_end(struct vmgc_heap *h, struct copier *c)
{
    __atomic_store_n(&h->weak_phase, WEAK_CLEARING, __ATOMIC_SEQ_CST);
    wait_for_readers(h);
    drain_alone(h, c);
    if (!__atomic_load_n(&h->weak_as_strong, __ATOMIC_RELAXED)) {
        weak_settle_ephemerons(h, c);
        finalize_cycle_end(h, c);
        visit_marked(h, c, clear_dead, 1);
        __atomic_store_n(&h->weak_marked, 0, __ATOMIC_RELAXED);
    }
    __atomic_store_n(&h->weak_phase, WEAK_SETTLED, __ATOMIC_SEQ_CST);
    /* a load still reading a value of this cycle reads its from-space
     * header: from-space goes back only after it (.sol.weak-load-epoch) */
    wait_for_readers(h);
}

/* ---- the mutator's side ---- */

VMGC_API void vmgc_weak_store(void **slot, void *value)
{
    __atomic_store_n(slot, value, __ATOMIC_RELEASE);
}

/* Waiting for the decision: it takes a drain or two; yield first, then
 * sleep briefly so a waiting thread does not take the collector's core. */
static void wait_for_decision(struct vmgc_heap *h, uint32_t epoch)
{
    for (unsigned spins = 0; __atomic_load_n(&h->weak_phase, __ATOMIC_ACQUIRE) == WEAK_CLEARING &&
                             __atomic_load_n(&h->epoch, __ATOMIC_ACQUIRE) == epoch;
         spins++) {
        if (spins < 64) {
            sched_yield();
        } else {
            struct timespec ts = {0, 50000};
            nanosleep(&ts, NULL);
        }
    }
}

/* .sol.weak-load-epoch: a value read during a cycle is only meaningful in
 * that cycle (its from-space page is reused after it), so the slow path
 * runs inside weak_readers, which the cycle's end waits out before
 * from-space goes back; between cycles a value read with no flip around
 * the read is decided. */
VMGC_API void *vmgc_weak_load(vmgc_thread *t, void *const *slot)
{
    if (!t || t->sig != THREAD_SIG || !slot) {
        /* no value to return that would not be a lie: stop, saying why */
        static const char msg[] = "vmgc: misuse: vmgc_weak_load needs the calling thread's "
                                  "handle (vmgc_thread_attach) and a slot\n";
        ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
        (void)w;
        abort();
    }
    struct vmgc_heap *h = t->heap;
    void **s = (void **)slot;
    for (;;) {
        uint32_t epoch = __atomic_load_n(&h->epoch, __ATOMIC_SEQ_CST);
        if (!__atomic_load_n(&h->cycle_running, __ATOMIC_SEQ_CST)) {
            void *v = __atomic_load_n(s, __ATOMIC_ACQUIRE); /* a flip here: a trap scans it */
            if (__atomic_load_n(&h->epoch, __ATOMIC_SEQ_CST) == epoch)
                return v;
            continue;
        }
        __atomic_fetch_add(&h->weak_readers, 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&h->epoch, __ATOMIC_SEQ_CST) != epoch ||
            !__atomic_load_n(&h->cycle_running, __ATOMIC_SEQ_CST)) {
            __atomic_fetch_sub(&h->weak_readers, 1, __ATOMIC_SEQ_CST);
            continue;
        }
        /* a grey page traps here and is scanned first (only while the scan
         * runs: once the collector waits for readers, no page is grey) */
        void *v = __atomic_load_n(s, __ATOMIC_ACQUIRE), *now = v;
        int decided = !v || weak_referent_alive(h, v, &now);
        if (!decided && __atomic_load_n(&h->weak_phase, __ATOMIC_SEQ_CST) == WEAK_MARKING) {
            now = scan_forward(h, &t->copier, v, 0); /* the mutator holds it now */
            decided = 1;
        }
        if (decided && now != v)
            swap_slot(s, v, now);
        __atomic_fetch_sub(&h->weak_readers, 1, __ATOMIC_SEQ_CST);
        if (decided)
            return now;
        wait_for_decision(h, epoch);
    }
}

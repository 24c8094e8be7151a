/* pagestate.c -- the per-page state machine's primitives.
 * Design: doc/design/pagestate.md.  Async-signal-safe throughout. */
#include "config.h"

#include "internal.h"

uint32_t *ps_word(struct vmgc_heap *h, size_t page)
{
    return &h->arena->pt.desc[page].gc_word[0];
}

uint32_t ps_load(struct vmgc_heap *h, size_t page)
{
    return __atomic_load_n(ps_word(h, page), __ATOMIC_ACQUIRE);
}

int ps_cas(struct vmgc_heap *h, size_t page, uint32_t expect, uint32_t desired)
{
    return __atomic_compare_exchange_n(ps_word(h, page), &expect, desired, 0, __ATOMIC_ACQ_REL,
                                       __ATOMIC_ACQUIRE);
}

void ps_set(struct vmgc_heap *h, size_t page, uint32_t value)
{
    __atomic_store_n(ps_word(h, page), value, __ATOMIC_RELEASE);
}

/* .sol.epoch: from-space is "black, but from an older epoch". */
int ps_is_from(struct vmgc_heap *h, uint32_t word)
{
    return PS_STATE(word) == PS_BLACK &&
           PS_EPOCH(word) != (__atomic_load_n(&h->epoch, __ATOMIC_ACQUIRE) & 0xffffffu);
}

size_t ps_head_of(struct vmgc_heap *h, size_t page)
{
    struct page_desc *d = &h->arena->pt.desc[page];
    return __atomic_load_n(&d->space, __ATOMIC_RELAXED) == PK_LARGE_BODY ? d->gc_word[2] : page;
}


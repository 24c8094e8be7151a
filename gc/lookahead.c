/* lookahead.c -- forwarding a stream of slots a fixed distance behind the
 * scan, so that the targets' cache misses overlap.
 * Design: doc/design/collector.md (.sol.lookahead).
 *
 * Used by the flip for the precise roots (world stopped).  No locks, no
 * allocation; the ring lives in the caller's frame.  Prefetches never
 * fault, so any slot value may be prefetched.
 */
#include "config.h"

#include "internal.h"

/* When a slot joins the ring: the target's page descriptor, its header
 * line (which the forwarding CAS writes) and the lines after it, which the
 * copy reads.  Nothing here may load from the target: a load that misses
 * would hold up the next lock'd instruction, serializing the misses again.
 * always_inline: GCC 12 judged this function free of effects and deleted
 * the call, prefetches and all. */
static inline __attribute__((always_inline)) void prefetch_target(struct vmgc_heap *h,
                                                                 const void *p)
{
    struct arena *a = h->arena;
    if (!vm_contains(&a->vm, p))
        return;
    __builtin_prefetch(&a->pt.desc[pagetable_index(&a->pt, p)], 0, 3);
    const char *hdr = (const char *)vm_alias_of(&a->vm, p) - VMGC_HEADER_BYTES;
    __builtin_prefetch(hdr, 1, 3);
    const char *line = (const char *)((uintptr_t)hdr & ~(uintptr_t)63);
    for (unsigned k = 1; k < LOOKAHEAD_BODY_LINES; k++)
        __builtin_prefetch(line + 64 * k, 0, 3);
}

void lookahead_init(struct lookahead *la, struct vmgc_heap *h, struct copier *c, int in_signal)
{
    la->h = h;
    la->c = c;
    la->in_signal = in_signal;
    la->head = 0;
    la->n = 0;
}

static void forward_slot(struct lookahead *la, void **slot)
{
    scan_forward_slot(la->h, la->c, slot, la->in_signal);
}

void lookahead_push(struct lookahead *la, void **slot)
{
    prefetch_target(la->h, *slot);
    if (la->n == LOOKAHEAD_SLOTS) {
        forward_slot(la, la->ring[la->head]);
        la->ring[la->head] = slot;
        la->head = (la->head + 1) % LOOKAHEAD_SLOTS;
    } else {
        la->ring[(la->head + la->n) % LOOKAHEAD_SLOTS] = slot;
        la->n++;
    }
}

void lookahead_flush(struct lookahead *la)
{
    for (; la->n; la->n--) {
        forward_slot(la, la->ring[la->head]);
        la->head = (la->head + 1) % LOOKAHEAD_SLOTS;
    }
}

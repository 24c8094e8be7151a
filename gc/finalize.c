/* finalize.c -- finalization: objects registered to be handed back to the
 * program once unreachable.  Design: doc/design/weak.md (.sol.finalize).
 *
 * The registry is not a root: at the cycle's end (weak.c, after ephemerons
 * settle) its objects that nothing reached are candidates.  Their children
 * are traced first; candidates reached that way wait (an object that
 * reaches another finalizable one goes first), the others are kept and
 * queued.  The queue is a root, forwarded by the collector after each flip
 * (or by vmgc_finalize_next, whichever comes first).  Neither list is
 * touched while the world is stopped, so fin_lock is an ordinary lock.
 */
#include "config.h"

#include <string.h>

#include "error.h"
#include "internal.h"
#include "lock.h"
#include "meta.h"

/* Room for one more entry in a list; 0 when memory ran out. */
static int list_room(void ***list, size_t *cap, size_t n)
{
    if (n < *cap)
        return 1;
    size_t ncap = *cap ? *cap * 2 : 64;
    void **nl = meta_calloc(ncap, sizeof *nl);
    if (!nl)
        return 0;
    if (n)
        memcpy(nl, *list, n * sizeof *nl);
    meta_free(*list);
    *list = nl;
    *cap = ncap;
    return 1;
}

/* fin_lock held */
static void queue_push(struct vmgc_heap *h, void *obj)
{
    if (h->fin_queue_head && h->fin_queue_head * 2 >= h->fin_nqueue) {
        h->fin_nqueue -= h->fin_queue_head;
        memmove(h->fin_queue, h->fin_queue + h->fin_queue_head, h->fin_nqueue * sizeof(void *));
        h->fin_queue_head = 0;
    }
    if (!list_room(&h->fin_queue, &h->fin_queue_cap, h->fin_nqueue))
        gc_fatal("out of memory for the finalization queue");
    h->fin_queue[h->fin_nqueue++] = obj;
}

void finalize_heap_destroy(struct vmgc_heap *h)
{
    meta_free(h->fin_registered);
    meta_free(h->fin_queue);
    h->fin_registered = h->fin_queue = NULL;
}

/* After the flip, before the drain closes: the queue's objects are roots;
 * in a checkpoint's cycle the registry's are too (.sol.weak-image: the
 * image holds every registered object). */
void finalize_cycle_marking(struct vmgc_heap *h, struct copier *c)
{
    lock_take(&h->fin_lock);
    for (size_t k = h->fin_queue_head; k < h->fin_nqueue; k++)
        scan_forward_slot(h, c, &h->fin_queue[k], 0);
    if (__atomic_load_n(&h->weak_as_strong, __ATOMIC_RELAXED))
        for (size_t k = 0; k < h->fin_nregistered; k++)
            scan_forward_slot(h, c, &h->fin_registered[k], 0);
    pthread_mutex_unlock(&h->fin_lock);
}

/* .sol.finalize-order: called in WEAK_CLEARING with the drain empty. */
void finalize_cycle_end(struct vmgc_heap *h, struct copier *c)
{
    lock_take(&h->fin_lock);
    size_t kept = 0, ncand = 0;
    void **cand = NULL;
    for (size_t k = 0; k < h->fin_nregistered; k++) {
        void *p = h->fin_registered[k], *now;
        if (weak_referent_alive(h, p, &now)) {
            h->fin_registered[kept++] = now;
            continue;
        }
        if (!cand && !(cand = meta_calloc(h->fin_nregistered - k, sizeof *cand)))
            gc_fatal("out of memory for finalization");
        cand[ncand++] = p;
    }
    h->fin_nregistered = kept;
    pthread_mutex_unlock(&h->fin_lock);
    if (!ncand)
        return;
    /* .sol.finalize-order: one candidate at a time, what it reaches is
     * kept; a candidate reached from one traced before it waits for a
     * later cycle, unless its own trace reached it (a cycle: it goes first) */
    struct vm_space *vm = &h->arena->vm;
    char *cyclic = meta_calloc(ncand, 1);
    if (!cyclic)
        gc_fatal("out of memory for finalization");
    void *now;
    for (size_t k = 0; k < ncand; k++) {
        if (weak_referent_alive(h, cand[k], &now))
            continue;
        char *obj = vm_alias_of(vm, cand[k]);
        scan_object(h, c, obj, hdr_load(obj), 0);
        drain_alone(h, c);
        cyclic[k] = (char)weak_referent_alive(h, cand[k], &now);
    }
    weak_settle_ephemerons(h, c);
    lock_take(&h->fin_lock);
    for (size_t k = 0; k < ncand; k++) {
        void *p = cand[k];
        if (weak_referent_alive(h, p, &now) && !cyclic[k]) {
            if (!list_room(&h->fin_registered, &h->fin_registered_cap, h->fin_nregistered))
                gc_fatal("out of memory for the finalization registry");
            h->fin_registered[h->fin_nregistered++] = now;
            continue;
        }
        queue_push(h, scan_forward(h, c, p, 0));
        __atomic_fetch_add(&h->st_finalized, 1, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&h->fin_lock);
    meta_free(cand);
    meta_free(cyclic);
    drain_alone(h, c);
    weak_settle_ephemerons(h, c);
}

static struct vmgc_heap *heap_of_thread(vmgc_thread *t, const char *fn)
{
    if (!t || t->sig != THREAD_SIG) {
        error_set(VMGC_EINVAL, "%s: not an attached thread's handle", fn);
        return NULL;
    }
    return t->heap;
}

VMGC_API vmgc_status vmgc_finalize_register(vmgc_thread *t, void *obj)
{
    struct vmgc_heap *h = heap_of_thread(t, "vmgc_finalize_register");
    if (!h)
        return VMGC_EINVAL;
    if (!vm_contains(&h->arena->vm, obj) || ((uintptr_t)obj & 7))
        return error_set(VMGC_EINVAL,
                         "vmgc_finalize_register: %p is not an object of this heap", obj);
    /* through the mutator view: a grey page traps and is scanned first */
    uint64_t hd = __atomic_load_n((const uint64_t *)obj - 1, __ATOMIC_ACQUIRE);
    uint32_t type = hdr_type(hd);
    if (hdr_forwarded(hd) || type == 0 || type >= __atomic_load_n(&h->ntypes, __ATOMIC_ACQUIRE))
        return error_set(VMGC_EINVAL,
                         "vmgc_finalize_register: %p is not the start of an object of this heap",
                         obj);
    if (h->types[type].weakness)
        return error_set(VMGC_EINVAL,
                         "vmgc_finalize_register: %p is of weak type '%s'; weak objects cannot "
                         "be finalized (register an ordinary object that refers to it)",
                         obj, h->types[type].name);
    lock_take(&h->fin_lock);
    if (!list_room(&h->fin_registered, &h->fin_registered_cap, h->fin_nregistered)) {
        pthread_mutex_unlock(&h->fin_lock);
        return error_set(VMGC_ENOMEM, "vmgc_finalize_register: out of memory for the registry");
    }
    h->fin_registered[h->fin_nregistered++] = obj;
    pthread_mutex_unlock(&h->fin_lock);
    return VMGC_OK;
}

VMGC_API void *vmgc_finalize_next(vmgc_thread *t)
{
    struct vmgc_heap *h = heap_of_thread(t, "vmgc_finalize_next");
    if (!h)
        return NULL;
    lock_take(&h->fin_lock);
    void *p = NULL, *now;
    if (h->fin_queue_head < h->fin_nqueue) {
        p = h->fin_queue[h->fin_queue_head++];
        /* after a flip and before the collector forwarded the queue: the
         * drain has not closed, so copying here is as a trap's copy */
        if (!weak_referent_alive(h, p, &now))
            now = scan_forward(h, &t->copier, p, 0);
        p = now;
    }
    pthread_mutex_unlock(&h->fin_lock);
    return p;
}

void finalize_get_stats(struct vmgc_heap *h, vmgc_stats *s)
{
    lock_take(&h->fin_lock);
    s->finalize_registered = h->fin_nregistered;
    s->finalize_queued = h->fin_nqueue - h->fin_queue_head;
    pthread_mutex_unlock(&h->fin_lock);
    s->objects_finalized = __atomic_load_n(&h->st_finalized, __ATOMIC_RELAXED);
    s->weak_slots_cleared = __atomic_load_n(&h->st_weak_cleared, __ATOMIC_RELAXED);
    s->ephemerons_broken = __atomic_load_n(&h->st_ephemerons_broken, __ATOMIC_RELAXED);
}

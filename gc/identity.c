/* identity.c -- object identity in a moving heap: a stable identity hash,
 * and pinning for objects whose address leaks to C.
 * Design: doc/design/identity.md.
 */
#include "config.h"

#include <string.h>

#include "error.h"
#include "internal.h"
#include "lock.h"
#include "meta.h"

/* .sol.hash: the first call marks the header (HASHED) and returns a mix of
 * the address; while the object stays there, that is recomputed; the copy
 * that moves it stores it in a word after the payload (HASH_STORED, scan.c
 * .sol.hash-grow).  A mutator only ever sees to-space objects and the
 * collector only copies from-space ones, so the header it marks is never
 * being copied at the same time. */
VMGC_API uint64_t vmgc_object_hash(const void *obj)
{
    uint64_t *hp = (uint64_t *)((char *)(uintptr_t)obj - VMGC_HEADER_BYTES);
    uint64_t h = __atomic_load_n(hp, __ATOMIC_ACQUIRE);
    if (h & VMGC_HDR_HASH_STORED)
        return *(const uint64_t *)((const char *)obj + gc_round8(hdr_size(h)));
    while (!(h & VMGC_HDR_HASHED) &&
           !__atomic_compare_exchange_n(hp, &h, h | VMGC_HDR_HASHED, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
        ;
    return identity_hash_of((uintptr_t)obj);
}

/* ---- pinning (.sol.pin): a table of pinned objects with counts, whose
 * pages each flip pins like an ambiguous root.  roots_lock. ---- */

struct pin_table {
    uintptr_t *key; /* 0: empty */
    uint32_t *count;
    size_t cap, n;
};

static size_t slot_of(uintptr_t key, size_t cap)
{
    return (size_t)(identity_hash_of(key) & (cap - 1));
}

static size_t find(const struct pin_table *t, uintptr_t key)
{
    if (!t->cap)
        return SIZE_MAX;
    for (size_t i = slot_of(key, t->cap);; i = (i + 1) & (t->cap - 1)) {
        if (t->key[i] == key)
            return i;
        if (!t->key[i])
            return SIZE_MAX;
    }
}

static vmgc_status grow(struct pin_table *t)
{
    size_t cap = t->cap ? t->cap * 2 : 64;
    uintptr_t *key = meta_calloc(cap, sizeof *key);
    uint32_t *count = meta_calloc(cap, sizeof *count);
    if (!key || !count) {
        meta_free(key);
        meta_free(count);
        return error_set(VMGC_ENOMEM, "vmgc_pin: no memory for the pin table");
    }
    for (size_t i = 0; i < t->cap; i++)
        if (t->key[i]) {
            size_t j = slot_of(t->key[i], cap);
            while (key[j])
                j = (j + 1) & (cap - 1);
            key[j] = t->key[i];
            count[j] = t->count[i];
        }
    meta_free(t->key);
    meta_free(t->count);
    t->key = key;
    t->count = count;
    t->cap = cap;
    return VMGC_OK;
}

/* Linear probing: empty the slot and move later entries of its run back. */
static void remove_at(struct pin_table *t, size_t i)
{
    size_t mask = t->cap - 1;
    t->key[i] = 0;
    t->count[i] = 0;
    for (size_t j = (i + 1) & mask; t->key[j]; j = (j + 1) & mask) {
        size_t home = slot_of(t->key[j], t->cap);
        /* j's entry may move to i if i lies cyclically in [home, j) */
        if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
            t->key[i] = t->key[j];
            t->count[i] = t->count[j];
            t->key[j] = 0;
            t->count[j] = 0;
            i = j;
        }
    }
    t->n--;
}

static vmgc_status check_obj(struct vmgc_heap *h, const char *what, const void *obj)
{
    if (!h || h->sig != HEAP_SIG)
        return error_set(VMGC_EINVAL, "%s: not a live heap", what);
    if (!obj || ((uintptr_t)obj & 7) || !vm_contains(&h->arena->vm, obj))
        return error_set(VMGC_EINVAL, "%s: %p is not an object of this heap", what, obj);
    return VMGC_OK;
}

VMGC_API vmgc_status vmgc_pin(vmgc_heap *h, const void *obj)
{
    vmgc_status st = check_obj(h, "vmgc_pin", obj);
    if (st != VMGC_OK)
        return st;
    lock_take(&h->roots_lock);
    struct pin_table *t = h->pins;
    if (!t && !(t = h->pins = meta_calloc(1, sizeof *t))) {
        pthread_mutex_unlock(&h->roots_lock);
        return error_set(VMGC_ENOMEM, "vmgc_pin: no memory for the pin table");
    }
    size_t i = find(t, (uintptr_t)obj);
    if (i == SIZE_MAX) {
        if ((t->n + 1) * 2 > t->cap && (st = grow(t)) != VMGC_OK) {
            pthread_mutex_unlock(&h->roots_lock);
            return st;
        }
        for (i = slot_of((uintptr_t)obj, t->cap); t->key[i]; i = (i + 1) & (t->cap - 1))
            ;
        t->key[i] = (uintptr_t)obj;
        t->n++;
    }
    t->count[i]++;
    pthread_mutex_unlock(&h->roots_lock);
    return VMGC_OK;
}

VMGC_API vmgc_status vmgc_unpin(vmgc_heap *h, const void *obj)
{
    vmgc_status st = check_obj(h, "vmgc_unpin", obj);
    if (st != VMGC_OK)
        return st;
    lock_take(&h->roots_lock);
    struct pin_table *t = h->pins;
    size_t i = t ? find(t, (uintptr_t)obj) : SIZE_MAX;
    if (i == SIZE_MAX) {
        pthread_mutex_unlock(&h->roots_lock);
        return error_set(VMGC_ESTATE, "vmgc_unpin: %p is not pinned (each vmgc_pin is undone by "
                                      "one vmgc_unpin)",
                         obj);
    }
    if (--t->count[i] == 0)
        remove_at(t, i);
    pthread_mutex_unlock(&h->roots_lock);
    return VMGC_OK;
}

/* The flip, world stopped, roots_lock held: every pinned object's page is
 * pinned (it stays where it is, scanned in place). */
void identity_pin_objects(struct vmgc_heap *h)
{
    struct pin_table *t = h->pins;
    for (size_t i = 0; t && i < t->cap; i++)
        if (t->key[i])
            roots_pin_word(h, t->key[i]);
}

void identity_heap_destroy(struct vmgc_heap *h)
{
    if (!h->pins)
        return;
    meta_free(h->pins->key);
    meta_free(h->pins->count);
    meta_free(h->pins);
    h->pins = NULL;
}

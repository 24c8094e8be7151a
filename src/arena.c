/* arena.c -- a heap's VM layer as one object.  Design: doc/design/arena.md. */
#include "config.h"

#include <string.h>

#include "arena.h"
#include "dirty.h"
#include "error.h"
#include "forksnap.h"
#include "meta.h"
#include "prot.h"
#include "trap.h"

int arena_check(const struct arena *a)
{
    return a && a->sig == ARENA_SIG && vm_check(&a->vm) && a->prot;
}

vmgc_status arena_create(struct arena **out, const struct arena_config *config)
{
    static const struct arena_config defaults;
    if (!out)
        return error_set(VMGC_EINVAL, "arena_create: out is NULL");
    *out = NULL;
    if (!config)
        config = &defaults;
    struct arena *a = meta_calloc(1, sizeof *a);
    if (!a)
        return VMGC_ENOMEM;
    a->uffd.fd = -1;
    a->dirty.pagemap_fd = -1;
    a->fs.s_fd = a->fs.pagemap_fd = -1;
    a->slot = -1;
    size_t reserve = config->reserve_bytes ? config->reserve_bytes : ARENA_DEFAULT_RESERVE;
    vmgc_status st = vm_create(&a->vm, reserve, config->fixed_base);
    if (st != VMGC_OK)
        goto fail_meta;
    st = pagetable_create(&a->pt, &a->vm);
    if (st != VMGC_OK)
        goto fail_vm;
    size_t target = config->target_bytes ? config->target_bytes >> VM_PAGE_SHIFT : a->pt.pages;
    pool_init(&a->pool, &a->vm, &a->pt, target);
    st = prot_open(a, config->barrier);
    if (st != VMGC_OK)
        goto fail_pool;
    /* pool.md .sol.zero-in-place: with uffd, protection is per page and a
     * free page has none, so a write there cannot run a barrier (which may
     * wait for the collector, who may wait for the pool's lock).  The
     * mprotect backend's coarse granules can protect a free page with its
     * neighbour at any time: it zeroes through the collector view. */
    a->pool.zero_in_place = a->prot == &prot_uffd_backend;
    st = dirty_open(a, config->dirty);
    if (st != VMGC_OK)
        goto fail_prot;
    a->sig = ARENA_SIG;
    st = trap_register(a);
    if (st != VMGC_OK)
        goto fail_dirty;
    *out = a;
    return VMGC_OK;

fail_dirty:
    a->sig = 0;
    dirty_close(a);
fail_prot:
    a->prot->close(a);
fail_pool:
    pool_finish(&a->pool);
    pagetable_destroy(&a->pt);
fail_vm:
    vm_destroy(&a->vm);
fail_meta:
    meta_free(a);
    return st;
}

void arena_destroy(struct arena *a)
{
    if (!arena_check(a))
        return;
    trap_unregister(a);
    forksnap_release(a);
    dirty_close(a);
    a->prot->close(a);
    pool_finish(&a->pool);
    pagetable_destroy(&a->pt);
    vm_destroy(&a->vm);
    a->sig = 0;
    meta_free(a);
}

void arena_set_first_write_fn(struct arena *a, void (*fn)(void *ctx, size_t page), void *ctx)
{
    a->first_write_ctx = ctx;
    __atomic_store_n(&a->first_write_fn, fn, __ATOMIC_RELEASE);
}

void arena_set_trap_fn(struct arena *a, arena_trap_fn fn, void *ctx)
{
    a->trap_ctx = ctx;
    __atomic_store_n(&a->trap_fn, fn, __ATOMIC_RELEASE);
}

vmgc_status arena_range(const struct arena *a, const void *addr, size_t len, size_t *first,
                        size_t *n)
{
    if (!arena_check(a))
        return error_set(VMGC_EINVAL, "not a live heap (destroyed, or never created)");
    uintptr_t p = (uintptr_t)addr;
    if (!vm_is_aligned(p) || !vm_is_aligned(len))
        return error_set(VMGC_EINVAL, "range %p+%zu is not aligned to %zu-byte pages", addr, len,
                         VM_PAGE_SIZE);
    if (len == 0)
        return error_set(VMGC_EINVAL, "range at %p is empty; give at least one page", addr);
    uintptr_t b = (uintptr_t)a->vm.base;
    if (p < b || p - b >= a->vm.size || len > a->vm.size - (p - b))
        return error_set(VMGC_ERANGE, "range %p..%p is outside the heap %p..%p", addr,
                         (void *)(p + len), a->vm.base, (void *)(a->vm.base + a->vm.size));
    *first = (p - b) >> VM_PAGE_SHIFT;
    *n = len >> VM_PAGE_SHIFT;
    return VMGC_OK;
}

vmgc_status arena_alloc_pages(struct arena *a, size_t npages, unsigned flags, void **pages,
                              int *is_zero)
{
    size_t first;
    vmgc_status st = pool_alloc(&a->pool, npages, flags, &first, is_zero);
    if (st == VMGC_OK)
        *pages = pagetable_page_addr(&a->pt, first);
    return st;
}

/* .sol.release-exposed: a released run must not stay protected, or the
 * next owner of the pages would trap on them.  It is exposed before it goes
 * back to the pool: the other order would let a new owner take and protect
 * the pages, and then have its protection cleared by ours. */
static vmgc_status release_pages(struct arena *a, void *pages, size_t npages, int deferred)
{
    size_t first, n;
    vmgc_status st = arena_range(a, pages, npages << VM_PAGE_SHIFT, &first, &n);
    if (st != VMGC_OK)
        return st;
    forksnap_save_range(a, first, n); /* a fork child may still need them */
    int protected_any = 0;
    for (size_t i = first; i < first + n && !protected_any; i++)
        protected_any = (__atomic_load_n(&a->pt.desc[i].prot, __ATOMIC_ACQUIRE) &
                         (PD_READ_BARRIER | PD_PHYS_NONE)) != 0;
    if (protected_any) {
        st = prot_unprotect(a, pages, npages << VM_PAGE_SHIFT);
        if (st != VMGC_OK)
            return st;
    }
    return deferred ? pool_release_deferred(&a->pool, first, n) : pool_release(&a->pool, first, n);
}

vmgc_status arena_release_pages(struct arena *a, void *pages, size_t npages)
{
    return release_pages(a, pages, npages, 0);
}

vmgc_status arena_release_pages_deferred(struct arena *a, void *pages, size_t npages)
{
    return release_pages(a, pages, npages, 1);
}

const char *arena_backend_name(const struct arena *a)
{
    return a->prot->name;
}

const char *arena_dirty_mode_name(const struct arena *a)
{
    return a->dirty.mode == DIRTY_PAGEMAP ? "pagemap" : "faults";
}

struct arena_stats arena_get_stats(struct arena *a)
{
    struct arena_stats s;
    memset(&s, 0, sizeof s);
    s.traps = __atomic_load_n(&a->n_traps, __ATOMIC_RELAXED);
    s.barrier_calls = __atomic_load_n(&a->n_barrier_calls, __ATOMIC_RELAXED);
    s.spurious = __atomic_load_n(&a->n_spurious, __ATOMIC_RELAXED);
    s.write_traps = __atomic_load_n(&a->n_write_traps, __ATOMIC_RELAXED);
    s.coarsenings = a->mp.coarsenings;
    s.granule_shift = a->mp.level;
    s.protected_runs = a->mp.runs;
    return s;
}

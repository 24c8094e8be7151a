/* heap.c -- heap creation and destruction, types, the allocation slow path,
 * statistics.  Design: doc/design/collector.md, alloc.md.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "forksnap.h"
#include "internal.h"
#include "memlimit.h"
#include "meta.h"
#include "prot.h"
#include "trap.h"
#include "lock.h"

#define GC_TYPE_CAPACITY 65536u

uint64_t gc_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

void gc_fatal(const char *msg)
{
    trap_fatal(msg, NULL);
}

/* With the VM layer's reason (e.g. a fault handler installed over ours).
 * write(2) only, no stdio: may run with the world stopped or in a trap. */
void gc_fatal_status(const char *what)
{
    const char *parts[] = {"vmgc: fatal: ", what, ": ", vmgc_last_error(), "\n"};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        ssize_t w = write(STDERR_FILENO, parts[i], strlen(parts[i]));
        (void)w;
    }
    abort();
}

VMGC_API void vmgc_config_init(vmgc_config *c)
{
    memset(c, 0, sizeof *c);
}

static vmgc_status config_check(vmgc_config *c)
{
    if (c->growth_factor == 0)
        c->growth_factor = 2.0;
    if (c->growth_factor < 1.1 || c->growth_factor > 100)
        return error_set(VMGC_EINVAL, "vmgc_config.growth_factor is %g; use 1.1 to 100",
                         c->growth_factor);
    if (c->initial_size == 0)
        c->initial_size = (size_t)64 << 20; /* collector.md .sol.trigger-floor */
    if (c->idle_release_ms == 0)
        c->idle_release_ms = 5000; /* collector.md .sol.idle-release */
    if (c->generational == 0) {
        const char *env = getenv("VMGC_GENERATIONAL");
        if (env && *env && strcmp(env, "0") != 0 && strcmp(env, "1") != 0)
            return error_set(VMGC_EINVAL, "VMGC_GENERATIONAL is '%s'; use 0 or 1", env);
        /* 0 stays: on with the uffd backend (decided once the arena exists) */
        if (env && *env)
            c->generational = strcmp(env, "1") == 0 ? 1 : -1;
    }
    if (c->mark_old == 0) {
        const char *env = getenv("VMGC_MARK_OLD");
        if (env && *env && strcmp(env, "0") != 0 && strcmp(env, "1") != 0)
            return error_set(VMGC_EINVAL, "VMGC_MARK_OLD is '%s'; use 0 or 1", env);
        c->mark_old = env && *env && strcmp(env, "0") == 0 ? -1 : 1; /* mark.md .sol.default */
    }
    if (c->mark_old < -1 || c->mark_old > 1)
        return error_set(VMGC_EINVAL, "vmgc_config.mark_old is %d; use 1 (on), -1 (off) or 0 "
                                      "(the default)",
                         c->mark_old);
    if (c->generational < -1 || c->generational > 1)
        return error_set(VMGC_EINVAL, "vmgc_config.generational is %d; use 1 (on), -1 (off) or 0 "
                                      "(the default)",
                         c->generational);
    if (c->reserve_bytes == 0)
        c->reserve_bytes = ARENA_DEFAULT_RESERVE;
    if (c->heap_limit == 0)
        c->heap_limit = c->reserve_bytes / 2;
    if (c->heap_limit > c->reserve_bytes)
        return error_set(VMGC_EINVAL,
                         "vmgc_config.heap_limit (%zu bytes) exceeds reserve_bytes (%zu); a "
                         "copying collector needs room for a second copy",
                         c->heap_limit, c->reserve_bytes);
    if (c->heap_limit < ((size_t)256 << 10))
        return error_set(VMGC_EINVAL, "vmgc_config.heap_limit is %zu bytes; at least 256 KiB",
                         c->heap_limit);
    if (c->collector_threads == 0) {
        const char *n = getenv("VMGC_COLLECTOR_THREADS");
        if (n && *n) {
            char *end;
            unsigned long v = strtoul(n, &end, 10);
            if (*end || v < 1 || v > GC_MAX_COLLECTORS)
                return error_set(VMGC_EINVAL, "VMGC_COLLECTOR_THREADS is '%s'; use 1 to %d", n,
                                 GC_MAX_COLLECTORS);
            c->collector_threads = (unsigned)v;
        } else {
            c->collector_threads = 1;
        }
    }
    if (c->collector_threads > GC_MAX_COLLECTORS)
        return error_set(VMGC_EINVAL, "vmgc_config.collector_threads is %u; use 1 to %d, or 0 for "
                         "$VMGC_COLLECTOR_THREADS or 1",
                         c->collector_threads, GC_MAX_COLLECTORS);
    const char *v = getenv("VMGC_VERIFY");
    if (v && *v && strcmp(v, "0") != 0)
        c->verify = 1;
    return VMGC_OK;
}

/* Also in a fork child, where every lock may be held by a thread that
 * is gone (fork.c .sol.fork-child). */
void heap_init_locks(struct vmgc_heap *h)
{
    pthread_mutex_init(&h->types_lock, NULL);
    pthread_mutex_init(&h->threads_lock, NULL);
    pthread_mutex_init(&h->roots_lock, NULL);
    pthread_mutex_init(&h->pages_lock, NULL);
    pthread_mutex_init(&h->cycle_lock, NULL);
    pthread_mutex_init(&h->trigger_lock, NULL);
    pthread_cond_init(&h->trigger_cond, NULL);
    pthread_cond_init(&h->done_cond, NULL);
    pthread_cond_init(&h->drain_cond, NULL);
    pthread_mutex_init(&h->fin_lock, NULL);
}

VMGC_API vmgc_status vmgc_heap_create(vmgc_heap **out, const vmgc_config *config)
{
    if (!out)
        return error_set(VMGC_EINVAL, "vmgc_heap_create: heap is NULL");
    *out = NULL;
    vmgc_config c;
    if (config)
        c = *config;
    else
        vmgc_config_init(&c);
    vmgc_status st = config_check(&c);
    if (st != VMGC_OK)
        return st;
    struct vmgc_heap *h = meta_calloc(1, sizeof *h);
    if (!h)
        return VMGC_ENOMEM;
    h->config = c;
    size_t usage, limit = memlimit_cgroup(&usage);
    const char *ignore = getenv("VMGC_IGNORE_CGROUP");
    size_t left = limit && !(ignore && *ignore && strcmp(ignore, "0") != 0)
                      ? (limit > usage ? limit - usage : 1)
                      : 0;
    struct arena_config ac = {.reserve_bytes = c.reserve_bytes, .fixed_base = c.fixed_base,
                              .barrier = c.barrier};
    st = arena_create(&h->arena, &ac);
    if (st != VMGC_OK)
        goto fail;
    /* generations.md .sol.default: on with the uffd backend; the mprotect
     * backend's write tracking splits a VMA per page (pauses of 1-30 ms) */
    h->generational = c.generational == 1 ||
                      (c.generational == 0 && h->arena->prot == &prot_uffd_backend);
    if (left) {
        /* .sol.cgroup-budget: the rest of the process (stacks, metadata, page
         * tables, code) keeps an eighth, and at least a quarter up to 16 MiB
         * where the heap copies all its live data in a cycle (under a 64 MiB
         * limit an eighth was too little: OOM-killed in CI), at least 2 MiB
         * where the old generation is marked in place (mark.md .sol.budget:
         * measured ~1 MiB of anonymous memory beside the heap, 12 MiB live) */
        int marks = h->generational && c.mark_old == 1 && h->arena->prot == &prot_uffd_backend;
        size_t keep = marks ? (size_t)2 << 20
                            : (left / 4 < ((size_t)16 << 20) ? left / 4 : (size_t)16 << 20);
        if (keep < left / 8)
            keep = left / 8;
        h->mem_budget = left > keep ? left - keep : 1;
    }
    h->limit_pages = c.heap_limit >> VM_PAGE_SHIFT;
    pool_set_limit(&h->arena->pool, h->limit_pages);
    collector_apply_budget(h, 0);
    h->types = meta_calloc(GC_TYPE_CAPACITY, sizeof *h->types);
    h->grey_cap = h->arena->pt.pages;
    h->grey = meta_calloc(h->grey_cap, sizeof *h->grey);
    h->pin_bits = meta_calloc((h->arena->pt.pages + 63) / 64, sizeof *h->pin_bits);
    h->prepin_bits = meta_calloc((h->arena->pt.pages + 63) / 64, sizeof *h->prepin_bits);
    if (!h->types || !h->grey || !h->pin_bits || !h->prepin_bits ||
        weak_heap_init(h) != VMGC_OK) {
        st = VMGC_ENOMEM;
        goto fail;
    }
    st = mark_heap_init(h);
    if (st != VMGC_OK)
        goto fail;
    h->ntypes = 1; /* type 0 is never valid: a zero header ends a page */
    h->stash_head = PD_NONE;
    h->epoch = 1;
    heap_init_locks(h);
    st = threads_init(h);
    if (st != VMGC_OK)
        goto fail;
    arena_set_trap_fn(h->arena, barrier_trap, h);
    arena_set_first_write_fn(h->arena, mark_shade_page, h);
    if (c.verify)
        h->verify_globals = roots_program_segments(); /* verify.c .sol.unrooted-globals */
    h->sig = HEAP_SIG;
    st = fork_register(h);
    if (st != VMGC_OK) {
        h->sig = 0;
        goto fail;
    }
    st = collector_start(h);
    if (st != VMGC_OK) {
        fork_unregister(h);
        h->sig = 0;
        goto fail;
    }
    *out = h;
    return VMGC_OK;
fail:
    if (h->arena)
        arena_destroy(h->arena);
    meta_free(h->types);
    meta_free(h->grey);
    meta_free(h->pin_bits);
    meta_free(h->prepin_bits);
    weak_heap_destroy(h);
    mark_heap_destroy(h);
    meta_free(h);
    return st;
}

VMGC_API vmgc_status vmgc_heap_destroy(vmgc_heap *h)
{
    if (!h || h->sig != HEAP_SIG)
        return error_set(VMGC_EINVAL, "vmgc_heap_destroy: not a live heap");
    lock_take(&h->threads_lock);
    struct vmgc_thread *t = h->threads;
    pthread_mutex_unlock(&h->threads_lock);
    if (t && !(t == threads_self(h) && !t->next))
        return error_set(VMGC_ESTATE, "vmgc_heap_destroy: threads are still attached; detach "
                                      "them first");
    if (t)
        vmgc_thread_detach(t);
    fork_unregister(h);
    collector_stop(h);
    checkpoint_heap_destroy(h); /* a checkpoint not waited for ends with its cycle */
    restore_heap_destroy(h);
    h->sig = 0;
    threads_fini(h);
    arena_destroy(h->arena);
    for (uint32_t i = 1; i < h->ntypes; i++)
        meta_free(h->types[i].name);
    for (struct vmgc_thread *d = h->dead_threads, *n; d; d = n) {
        n = d->next;
        meta_free(d);
    }
    for (struct root_range *r = h->roots, *n; r; r = n) {
        n = r->next;
        if (r->owned)
            meta_free(r->slots);
        meta_free(r->name);
        meta_free(r);
    }
    root_blocks_free_all(h);
    identity_heap_destroy(h);
    weak_heap_destroy(h);
    mark_heap_destroy(h);
    finalize_heap_destroy(h);
    roots_free_regions(h->regions);
    roots_free_regions(h->verify_globals);
    meta_free(h->types);
    meta_free(h->grey);
    meta_free(h->pin_bits);
    meta_free(h->prepin_bits);
    meta_free(h->inuse);
    meta_free(h->released);
    meta_free(h);
    return VMGC_OK;
}

/* ---- types ---- */

static int same_desc(const struct gc_type *t, const vmgc_type_desc *d)
{
    int bits = d->layout == VMGC_LAYOUT_BITMAP || d->layout == VMGC_LAYOUT_VECTOR;
    return t->layout == d->layout && (!bits || t->bitmap == d->bitmap) &&
           (d->layout != VMGC_LAYOUT_VECTOR || t->fixed_bytes == d->fixed_bytes) &&
           (d->layout != VMGC_LAYOUT_TRACE || t->trace == d->trace) &&
           t->weakness == d->weakness;
}

/* .sol.layout-checks (alloc.md): what can be known wrong at registration. */
static vmgc_status check_layout(const vmgc_type_desc *d)
{
    if ((unsigned)d->layout > VMGC_LAYOUT_VECTOR)
        return error_set(VMGC_EINVAL, "type '%s': unknown layout %d", d->name, (int)d->layout);
    if (d->layout == VMGC_LAYOUT_TRACE && !d->trace)
        return error_set(VMGC_EINVAL, "type '%s': VMGC_LAYOUT_TRACE needs a trace callback",
                         d->name);
    int top = d->bitmap ? 63 - __builtin_clzll(d->bitmap) : -1; /* highest word marked */
    if (d->layout == VMGC_LAYOUT_BITMAP && d->size && (size_t)top >= d->size / 8 && top >= 0)
        return error_set(VMGC_EINVAL,
                         "type '%s': bitmap 0x%llx marks word %d, but the type is %zu bytes "
                         "(words 0..%zu); bit i stands for word i from the object's start "
                         "(build it with VMGC_PTR_BIT)",
                         d->name, (unsigned long long)d->bitmap, top, d->size,
                         d->size / 8 ? d->size / 8 - 1 : 0);
    if ((unsigned)d->weakness > VMGC_EPHEMERON)
        return error_set(VMGC_EINVAL, "type '%s': unknown weakness %d", d->name,
                         (int)d->weakness);
    if (d->weakness && (d->layout == VMGC_LAYOUT_TRACE || d->layout == VMGC_LAYOUT_NO_POINTERS))
        return error_set(VMGC_EINVAL,
                         "type '%s': a weak type's slots are the words its layout names: use "
                         "VMGC_LAYOUT_ALL_POINTERS, _BITMAP or _VECTOR (not a trace callback, "
                         "and not NO_POINTERS)",
                         d->name);
    if (d->weakness == VMGC_EPHEMERON &&
        !(d->layout == VMGC_LAYOUT_ALL_POINTERS || (d->bitmap & 1) ||
          (d->layout == VMGC_LAYOUT_VECTOR && d->fixed_bytes == 0)))
        return error_set(VMGC_EINVAL,
                         "type '%s': an ephemeron's key is word 0, so word 0 must be a pointer "
                         "(bit 0 of the bitmap)",
                         d->name);
    if (d->layout == VMGC_LAYOUT_VECTOR) {
        if (d->fixed_bytes % sizeof(void *) || d->fixed_bytes > 64 * sizeof(void *))
            return error_set(VMGC_EINVAL,
                             "type '%s': VMGC_LAYOUT_VECTOR needs fixed_bytes a multiple of %zu "
                             "and at most %zu (it is %zu)",
                             d->name, sizeof(void *), 64 * sizeof(void *), d->fixed_bytes);
        if (top >= 0 && (size_t)top >= d->fixed_bytes / 8)
            return error_set(VMGC_EINVAL,
                             "type '%s': bitmap 0x%llx marks word %d, past the %zu bytes of "
                             "fixed fields; the array after them is all pointers already",
                             d->name, (unsigned long long)d->bitmap, top, d->fixed_bytes);
    }
    return VMGC_OK;
}

VMGC_API vmgc_status vmgc_type_register(vmgc_heap *h, const vmgc_type_desc *d, vmgc_type *out)
{
    if (!h || h->sig != HEAP_SIG)
        return error_set(VMGC_EINVAL, "vmgc_type_register: not a live heap");
    if (!d || !out || !d->name || !*d->name)
        return error_set(VMGC_EINVAL, "vmgc_type_register: give a description with a name");
    vmgc_status st = check_layout(d);
    if (st != VMGC_OK)
        return st;
    lock_take(&h->types_lock);
    for (uint32_t i = 1; i < h->ntypes; i++)
        if (strcmp(h->types[i].name, d->name) == 0) {
            int same = same_desc(&h->types[i], d);
            pthread_mutex_unlock(&h->types_lock);
            if (!same)
                return error_set(VMGC_ESTATE,
                                 "type '%s' is registered already with a different layout",
                                 d->name);
            *out = i;
            return VMGC_OK;
        }
    if (h->ntypes >= GC_TYPE_CAPACITY) {
        pthread_mutex_unlock(&h->types_lock);
        return error_set(VMGC_ENOMEM, "too many types (at most %u)", GC_TYPE_CAPACITY - 1);
    }
    size_t len = strlen(d->name);
    char *name = meta_calloc(len + 1, 1);
    if (!name) {
        pthread_mutex_unlock(&h->types_lock);
        return VMGC_ENOMEM;
    }
    memcpy(name, d->name, len);
    struct gc_type *t = &h->types[h->ntypes];
    t->name = name;
    t->layout = d->layout;
    t->bitmap = d->bitmap;
    t->trace = d->trace;
    t->fixed_bytes = d->layout == VMGC_LAYOUT_VECTOR ? d->fixed_bytes : 0;
    t->weakness = d->weakness;
    *out = h->ntypes;
    __atomic_store_n(&h->ntypes, h->ntypes + 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&h->types_lock);
    return VMGC_OK;
}

VMGC_API const char *vmgc_type_name(vmgc_heap *h, vmgc_type type)
{
    if (!h || h->sig != HEAP_SIG || type == 0 || type >= h->ntypes)
        return NULL;
    return h->types[type].name;
}

/* ---- allocation slow path (alloc.md) ---- */

static __attribute__((noreturn)) void misuse(const char *what)
{
    error_set(VMGC_ESTATE, "%s", what);
    fprintf(stderr, "vmgc: misuse: %s\n", what);
    abort();
}

static void *out_of_memory(struct vmgc_heap *h, size_t size)
{
    /* which limit: the cgroup's budget when it is the smaller (memlimit.md) */
    int budget = h->mem_budget && h->mem_budget < h->config.heap_limit;
    size_t bytes = budget ? h->mem_budget : h->config.heap_limit;
    const char *which = budget ? "the memory budget the cgroup memory limit leaves "
                                 "(vmgc_stats.memory_budget)"
                               : "the heap limit (vmgc_config.heap_limit)";
    const char *fix = budget ? "raise the cgroup's memory limit" : "raise the limit";
    if (h->config.out_of_memory) {
        h->config.out_of_memory(h, size, h->config.out_of_memory_ctx);
        error_set(VMGC_ENOMEM, "allocation of %zu bytes failed: %s of %zu bytes reached", size,
                  which, bytes);
        return NULL;
    }
    fprintf(stderr,
            "vmgc: out of memory: an allocation of %zu bytes does not fit under %s of %zu bytes "
            "even after a collection; %s or install vmgc_config.out_of_memory\n",
            size, which, bytes, fix);
    abort();
}

/* Take n zeroed pages, collecting (once) if the limit is in the way. */
static int take_pages(struct vmgc_heap *h, struct vmgc_thread *t, size_t n, size_t *first)
{
    for (int attempt = 0; attempt < 3; attempt++) {
        if (pages_take(h, n, first) == VMGC_OK)
            return 1;
        vmgc_blocking_enter(t);
        /* mark.md .sol.budget: where the old generation is marked in place,
         * the nursery first, then the old generation, neither by a copy of
         * it (which a limit near the live data has no room for) */
        if (!gen_marks_old(h))
            vmgc_collect(h, 1);
        else if (attempt == 0)
            vmgc_collect_young(h, 1);
        else
            vmgc_collect_mark(h, 1);
        vmgc_blocking_leave(t);
    }
    return 0;
}

static void *alloc_large(struct vmgc_heap *h, struct vmgc_thread *t, vmgc_type type, size_t size)
{
    size_t n = (size + VMGC_HEADER_BYTES + VM_PAGE_MASK) >> VM_PAGE_SHIFT;
    size_t first;
    collector_note_alloc(h, t, n << VM_PAGE_SHIFT);
    collector_help(h, t);
    if (!take_pages(h, t, n, &first))
        return out_of_memory(h, size);
    struct page_desc *d = h->arena->pt.desc;
    for (size_t i = first + 1; i < first + n; i++) {
        __atomic_store_n(&d[i].space, PK_LARGE_BODY, __ATOMIC_RELAXED);
        d[i].gc_word[2] = (uint32_t)first;
        ps_set(h, i, PS_MAKE(PS_BLACK, 0));
    }
    __atomic_store_n(&d[first].space, PK_LARGE_HEAD, __ATOMIC_RELAXED);
    __atomic_store_n(&d[first].gc_word[1], (uint32_t)n, __ATOMIC_RELAXED); /* pinned_resident reads it */
    char *p = pagetable_page_addr(&h->arena->pt, first);
    *(uint64_t *)p = vmgc_header_make(type, size);
    pages_stamp_black(h, first, t, 0);
    /* from here p is a live address in this frame: a flip pins it */
    return p + VMGC_HEADER_BYTES;
}

VMGC_API void *vmgc_alloc_slow(vmgc_thread *t, vmgc_type type, size_t size)
{
    if (!t)
        misuse("vmgc_alloc: the calling thread is not attached (vmgc_thread_current returned "
               "NULL); call vmgc_thread_attach first");
    if (t->sig != THREAD_SIG)
        misuse("vmgc_alloc: the thread handle is not attached (detached, or not a handle)");
    struct vmgc_heap *h = t->heap;
    if (!h || h->sig != HEAP_SIG)
        misuse("vmgc_alloc: the thread's heap has been destroyed");
    if (type == 0 || type >= __atomic_load_n(&h->ntypes, __ATOMIC_ACQUIRE))
        misuse("vmgc_alloc: unknown type (register it with vmgc_type_register)");
    if (size > ((size_t)1 << 40))
        return out_of_memory(h, size);
    /* where this thread's stack is now, for the next flip's early protection */
    __atomic_store_n(&t->recent_sp, (char *)__builtin_frame_address(0), __ATOMIC_RELAXED);
    if (t != threads_self(h))
        misuse("vmgc_alloc: a thread handle used by a thread other than its owner");
    fork_settle(h);
    if (size > VMGC_SMALL_MAX)
        return alloc_large(h, t, type, size);
    threads_retire_tlab(h, t);
    collector_note_alloc(h, t, VM_PAGE_SIZE);
    collector_help(h, t);
    size_t page;
    if (!take_pages(h, t, 1, &page))
        return out_of_memory(h, size);
    struct page_desc *d = &h->arena->pt.desc[page];
    __atomic_store_n(&d->space, PK_SMALL, __ATOMIC_RELAXED);
    /* atomic: the next flip's early protection may read a page pinned last
     * time, freed and taken again since (roots.c pinned_resident; TSan) */
    __atomic_store_n(&d->gc_word[1], 0, __ATOMIC_RELAXED);
    __atomic_store_n(&d->gc_word[2], 0, __ATOMIC_RELAXED);
    pages_stamp_black(h, page, t, 1);
    return vmgc_alloc(t, type, size);
}

VMGC_API size_t vmgc_object_size(const void *obj)
{
    return hdr_size(*(const uint64_t *)((const char *)obj - VMGC_HEADER_BYTES));
}

/* ---- statistics ---- */

VMGC_API void vmgc_get_stats(vmgc_heap *h, vmgc_stats *s)
{
    memset(s, 0, sizeof *s);
    if (!h || h->sig != HEAP_SIG)
        return;
    s->collections = __atomic_load_n(&h->st_collections, __ATOMIC_RELAXED);
    s->bytes_allocated = __atomic_load_n(&h->st_bytes_allocated, __ATOMIC_RELAXED);
    s->bytes_copied = __atomic_load_n(&h->st_bytes_copied, __ATOMIC_RELAXED);
    s->objects_copied = __atomic_load_n(&h->st_objects_copied, __ATOMIC_RELAXED);
    s->pages_pinned = __atomic_load_n(&h->st_pages_pinned, __ATOMIC_RELAXED);
    s->large_promoted = __atomic_load_n(&h->st_large_promoted, __ATOMIC_RELAXED);
    s->traps = __atomic_load_n(&h->st_traps, __ATOMIC_RELAXED);
    s->pages_scanned_by_mutator = __atomic_load_n(&h->st_mutator_scans, __ATOMIC_RELAXED);
    s->pages_scanned_by_collector = __atomic_load_n(&h->st_collector_scans, __ATOMIC_RELAXED);
    s->heap_bytes = pool_get_stats(&h->arena->pool).allocated_pages << VM_PAGE_SHIFT;
    s->resident_bytes = vm_resident_bytes(&h->arena->vm);
    s->live_bytes_after_last = __atomic_load_n(&h->st_live_after, __ATOMIC_RELAXED);
    s->pause_count = __atomic_load_n(&h->st_pause_count, __ATOMIC_RELAXED);
    s->pause_total_ns = __atomic_load_n(&h->st_pause_total, __ATOMIC_RELAXED);
    s->pause_max_ns = __atomic_load_n(&h->st_pause_max, __ATOMIC_RELAXED);
    s->last_pause_ns = __atomic_load_n(&h->st_last_pause, __ATOMIC_RELAXED);
    s->barrier = arena_backend_name(h->arena);
    s->barrier_note = h->arena->prot_note;
    s->memory_budget = h->mem_budget;
    s->stop_pulls = __atomic_load_n(&h->st_stop_pulls, __ATOMIC_RELAXED);
    s->forks = __atomic_load_n(&h->st_forks, __ATOMIC_RELAXED);
    s->fork_pause_max_ns = __atomic_load_n(&h->st_fork_pause_max, __ATOMIC_RELAXED);
    s->fork_copy_pending = forksnap_parent_pending(h->arena) || forksnap_child_pending(h->arena);
    s->checkpoints = __atomic_load_n(&h->st_checkpoints, __ATOMIC_RELAXED);
    restore_get_stats(h, s);
    finalize_get_stats(h, s);
    /* .sol.footprint */
    size_t inuse_after = __atomic_load_n(&h->st_inuse_after, __ATOMIC_RELAXED);
    s->young_bytes = __atomic_load_n(&h->allocated_since_cycle, __ATOMIC_RELAXED);
    s->floating_bytes =
        inuse_after > s->live_bytes_after_last ? inuse_after - s->live_bytes_after_last : 0;
    s->reserve_bytes = (size_t)__atomic_load_n(&h->stash_count, __ATOMIC_RELAXED) << VM_PAGE_SHIFT;
    s->young_collections = __atomic_load_n(&h->st_young_collections, __ATOMIC_RELAXED);
    s->remembered_pages = __atomic_load_n(&h->st_remembered_pages, __ATOMIC_RELAXED);
    s->old_bytes = (size_t)__atomic_load_n(&h->st_old_pages, __ATOMIC_RELAXED) << VM_PAGE_SHIFT;
    s->write_traps = __atomic_load_n(&h->arena->n_write_traps, __ATOMIC_RELAXED);
    s->held_bytes = pool_get_stats(&h->arena->pool).dirty_free_pages << VM_PAGE_SHIFT;
    mark_get_stats(h, s);
}

VMGC_API size_t vmgc_get_pauses(vmgc_heap *h, uint64_t *ns, size_t max)
{
    if (!h || h->sig != HEAP_SIG)
        return 0;
    uint64_t count = __atomic_load_n(&h->st_pause_count, __ATOMIC_ACQUIRE);
    uint64_t have = count < GC_PAUSE_RING ? count : GC_PAUSE_RING;
    size_t n = have < max ? (size_t)have : max;
    for (size_t i = 0; i < n; i++)
        ns[i] = __atomic_load_n(&h->pauses[(count - n + i) % GC_PAUSE_RING], __ATOMIC_RELAXED);
    return n;
}

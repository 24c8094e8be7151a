/* restore.c -- a heap made from an image: its pages at their own
 * addresses, loaded lazily (src/imageload.c), its types matched by name and
 * layout, its named roots given back by name.
 * Design: doc/design/checkpoint.md (.sol.restore).
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "image.h"
#include "imageload.h"
#include "internal.h"
#include "lock.h"
#include "meta.h"
#include "sys.h"

struct restored {
    struct image *img;
    struct imageload load;
    pthread_mutex_t finalize_lock;
    int finalized;         /* the pages are the heap's (finalize_pages).  Synchronization:
                              atomic; set under finalize_lock. */
    pthread_t loader;
    int loader_started;
    int loader_exited;     /* Synchronization: finalize_lock, loader_cond. */
    pthread_cond_t loader_cond;
};

/* Tests only: no background loader, so pages load on touch alone. */
int restore_test_no_loader;

static const char *layout_name(vmgc_layout l)
{
    static const char *const names[] = {"VMGC_LAYOUT_NO_POINTERS", "VMGC_LAYOUT_ALL_POINTERS",
                                        "VMGC_LAYOUT_BITMAP", "VMGC_LAYOUT_TRACE",
                                        "VMGC_LAYOUT_VECTOR"};
    return (unsigned)l <= VMGC_LAYOUT_VECTOR ? names[l] : "an unknown layout";
}

/* .sol.types-by-name: every type of the image is described by the program
 * under its name, with the same layout; checked before anything is mapped. */
static vmgc_status match_types(const struct image *img, const vmgc_type_desc *types,
                               size_t ntypes)
{
    for (uint64_t k = 0; k < img->hdr.ntypes; k++) {
        const struct image_type *t = &img->types[k];
        const vmgc_type_desc *d = NULL;
        for (size_t j = 0; j < ntypes && !d; j++)
            if (types[j].name && strcmp(types[j].name, t->name) == 0)
                d = &types[j];
        if (!d)
            return error_set(VMGC_EINVAL,
                             "image %s holds objects of type '%s', which the program did not "
                             "describe; pass its vmgc_type_desc to vmgc_heap_restore",
                             img->path, t->name);
        if (d->layout != t->layout)
            return error_set(VMGC_EINVAL,
                             "type '%s' has %s in image %s but %s in the program; an image is "
                             "restored only into a program whose types match it",
                             t->name, layout_name(t->layout), img->path, layout_name(d->layout));
        if (d->weakness != t->weakness) {
            static const char *const weak_names[] = {"strong slots", "weak slots",
                                                     "ephemeron slots"};
            return error_set(VMGC_EINVAL,
                             "type '%s' has %s in image %s but %s in the program; an image is "
                             "restored only into a program whose types match it",
                             t->name, weak_names[t->weakness], img->path,
                             (unsigned)d->weakness <= VMGC_EPHEMERON ? weak_names[d->weakness]
                                                                     : "an unknown weakness");
        }
        if (d->layout == VMGC_LAYOUT_VECTOR && d->fixed_bytes != t->fixed_bytes)
            return error_set(VMGC_EINVAL,
                             "type '%s' has %u bytes of fixed fields in image %s but %zu in the "
                             "program; an image is restored only into a program whose types "
                             "match it",
                             t->name, t->fixed_bytes, img->path, d->fixed_bytes);
        if ((d->layout == VMGC_LAYOUT_BITMAP || d->layout == VMGC_LAYOUT_VECTOR) &&
            d->bitmap != t->bitmap)
            return error_set(VMGC_EINVAL,
                             "type '%s' has pointer bitmap 0x%llx in image %s but 0x%llx in the "
                             "program; an image is restored only into a program whose types "
                             "match it",
                             t->name, (unsigned long long)t->bitmap, img->path,
                             (unsigned long long)d->bitmap);
    }
    return VMGC_OK;
}

/* Image types first, in the image's order, so they get the image's ids
 * (object headers carry them); then the program's others. */
static vmgc_status register_types(struct vmgc_heap *h, const struct image *img,
                                  const vmgc_type_desc *types, size_t ntypes)
{
    for (uint64_t k = 0; k < img->hdr.ntypes; k++)
        for (size_t j = 0; j < ntypes; j++)
            if (types[j].name && strcmp(types[j].name, img->types[k].name) == 0) {
                vmgc_type id;
                vmgc_status st = vmgc_type_register(h, &types[j], &id);
                if (st != VMGC_OK)
                    return st;
                if (id != img->types[k].id)
                    return error_set(VMGC_ESTATE, "type '%s' got id %u, the image has %u",
                                     img->types[k].name, id, img->types[k].id);
                break;
            }
    for (size_t j = 0; j < ntypes; j++) {
        vmgc_type id;
        vmgc_status st = vmgc_type_register(h, &types[j], &id);
        if (st != VMGC_OK)
            return st;
    }
    return VMGC_OK;
}

/* .sol.claim-span: at restore the image's span is one allocated run, so
 * nothing the program allocates lands in it while it loads, and restoring
 * costs the same whatever the image's size. */
static vmgc_status claim_span(struct vmgc_heap *h, struct restored *r)
{
    const struct image *img = r->img;
    if (!img->hdr.npages)
        return VMGC_OK;
    size_t lo = img->index[0].page, hi = (size_t)img->index[img->hdr.npages - 1].page + 1;
    return pool_claim_fresh(&h->arena->pool, lo, hi - lo);
}

/* Once every page is loaded: the span becomes the image's runs (its gaps
 * free), and the pages the heap's, black in the current epoch (no cycle
 * ran yet: they wait for this), so the first cycle makes them from-space
 * like any page.  In the background loader, or whoever settles first. */
static void finalize_pages(struct vmgc_heap *h, struct restored *r)
{
    const struct image *img = r->img;
    size_t n = img->hdr.npages, nruns = 0;
    if (!n)
        return;
    struct pool_run *runs = meta_calloc(n, sizeof *runs);
    if (!runs)
        gc_fatal("out of memory listing a restored heap's pages");
    for (size_t k = 0; k < n;) {
        const struct image_index_entry *e = &img->index[k];
        size_t len = e->kind == IMAGE_LARGE_HEAD ? e->info : 1;
        runs[nruns++] = (struct pool_run){e->page, len};
        k += len;
    }
    size_t lo = img->index[0].page, hi = (size_t)img->index[n - 1].page + 1;
    if (pool_carve_run(&h->arena->pool, lo, hi - lo, runs, nruns) != VMGC_OK)
        gc_fatal_status("handing a restored heap's pages to the page pool failed");
    meta_free(runs);
    struct page_desc *d = h->arena->pt.desc;
    uint32_t epoch = __atomic_load_n(&h->epoch, __ATOMIC_ACQUIRE) & 0xffffffu;
    size_t head = 0;
    lock_take(&h->pages_lock);
    for (size_t k = 0; k < n; k++) {
        const struct image_index_entry *e = &img->index[k];
        size_t p = e->page;
        if (e->kind == IMAGE_LARGE_BODY) { /* image_open checked it follows its head */
            __atomic_store_n(&d[p].space, PK_LARGE_BODY, __ATOMIC_RELAXED);
            d[p].gc_word[2] = (uint32_t)head;
            ps_set(h, p, PS_MAKE(PS_BLACK, 0));
            continue;
        }
        head = p;
        __atomic_store_n(&d[p].space, e->kind == IMAGE_SMALL ? PK_SMALL : PK_LARGE_HEAD,
                         __ATOMIC_RELAXED);
        d[p].gc_word[1] = e->info;
        d[p].gc_word[2] = 0;
        ps_set(h, p, PS_MAKE(PS_BLACK, epoch));
        pages_note_inuse_locked(h, p);
    }
    pthread_mutex_unlock(&h->pages_lock);
}

void restore_get_stats(struct vmgc_heap *h, vmgc_stats *st)
{
    struct restored *r = h->restored;
    if (!r)
        return;
    st->image_loading = !__atomic_load_n(&r->finalized, __ATOMIC_ACQUIRE);
    st->image_pages_loaded = __atomic_load_n(&r->load.pages_loaded, __ATOMIC_RELAXED);
    st->image_load_traps = __atomic_load_n(&r->load.trap_loads, __ATOMIC_RELAXED);
    st->image_load_widenings = __atomic_load_n(&r->load.widenings, __ATOMIC_RELAXED);
}

void restore_settle(struct vmgc_heap *h)
{
    struct restored *r = h->restored;
    if (!r || __atomic_load_n(&r->finalized, __ATOMIC_ACQUIRE))
        return;
    imageload_settle(h->arena);
    if (!__atomic_load_n(&r->load.done, __ATOMIC_ACQUIRE))
        return; /* stopped: the heap is being destroyed */
    lock_take(&r->finalize_lock);
    if (!r->finalized)
        finalize_pages(h, r);
    __atomic_store_n(&r->finalized, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&r->finalize_lock);
}

static void *loader_main(void *arg)
{
    struct vmgc_heap *h = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL); /* the program's signals go to its threads */
    restore_settle(h);
    struct restored *r = h->restored;
    lock_take(&r->finalize_lock);
    r->loader_exited = 1;
    pthread_cond_broadcast(&r->loader_cond);
    pthread_mutex_unlock(&r->finalize_lock);
    return NULL;
}

void restore_heap_destroy(struct vmgc_heap *h)
{
    struct restored *r = h->restored;
    if (!r)
        return;
    /* the loader is detached (a program that exits without destroying its
     * heap leaves no thread unjoined): wait for it to say it is done */
    __atomic_store_n(&r->load.stop, 1, __ATOMIC_RELEASE);
    lock_take(&r->finalize_lock);
    while (r->loader_started && !r->loader_exited)
        pthread_cond_wait(&r->loader_cond, &r->finalize_lock);
    pthread_mutex_unlock(&r->finalize_lock);
    imageload_end(h->arena, &r->load);
    image_close(r->img);
    pthread_mutex_destroy(&r->finalize_lock);
    pthread_cond_destroy(&r->loader_cond);
    meta_free(r);
    h->restored = NULL;
}

static vmgc_status create_at_image(vmgc_heap **out, const vmgc_config *config,
                                   const struct image *img)
{
    vmgc_config c;
    if (config)
        c = *config;
    else
        vmgc_config_init(&c);
    c.fixed_base = (void *)(uintptr_t)img->hdr.heap_base;
    if (c.reserve_bytes < img->hdr.reserve_bytes)
        c.reserve_bytes = img->hdr.reserve_bytes;
    vmgc_status st = vmgc_heap_create(out, &c);
    if (st == VMGC_EBUSY)
        return error_set(VMGC_EBUSY,
                         "cannot restore image %s: its heap range [0x%llx, 0x%llx) is in use in "
                         "this process. Restore it before anything else is mapped there, or "
                         "save images from a heap created with vmgc_config.fixed_base set to a "
                         "range the program leaves free (README, \"Checkpoints\")",
                         img->path, (unsigned long long)img->hdr.heap_base,
                         (unsigned long long)(img->hdr.heap_base + img->hdr.reserve_bytes));
    return st;
}

VMGC_API vmgc_status vmgc_heap_restore(vmgc_heap **out, const vmgc_config *config,
                                       const char *path, const vmgc_type_desc *types,
                                       size_t ntypes, unsigned flags)
{
    if (!out)
        return error_set(VMGC_EINVAL, "vmgc_heap_restore: heap is NULL");
    *out = NULL;
    if (ntypes && !types)
        return error_set(VMGC_EINVAL, "vmgc_heap_restore: types is NULL but ntypes is %zu",
                         ntypes);
    if (flags & ~(unsigned)VMGC_RESTORE_VERIFY)
        return error_set(VMGC_EINVAL, "vmgc_heap_restore: unknown flags 0x%x", flags);
    struct restored *r = meta_calloc(1, sizeof *r);
    if (!r)
        return error_set(VMGC_ENOMEM, "vmgc_heap_restore: no memory");
    pthread_mutex_init(&r->finalize_lock, NULL);
    pthread_cond_init(&r->loader_cond, NULL);
    vmgc_status st = image_open(path, &r->img);
    if (st == VMGC_OK)
        st = match_types(r->img, types, ntypes);
    if (st == VMGC_OK && (flags & VMGC_RESTORE_VERIFY))
        st = image_verify_pages(r->img, NULL, NULL);
    struct vmgc_heap *h = NULL;
    if (st == VMGC_OK)
        st = create_at_image(&h, config, r->img);
    if (st == VMGC_OK)
        st = register_types(h, r->img, types, ntypes);
    if (st == VMGC_OK)
        st = claim_span(h, r);
    for (uint64_t k = 0; st == VMGC_OK && k < r->img->hdr.nroots; k++)
        st = roots_add_owned(h, r->img->roots[k].name, r->img->roots[k].values,
                             r->img->roots[k].count);
    if (st == VMGC_OK)
        st = imageload_begin(h->arena, r->img, &r->load);
    if (st == VMGC_OK) {
        h->restored = r;
        pthread_attr_t attr;
        if (__atomic_load_n(&restore_test_no_loader, __ATOMIC_RELAXED))
            goto no_loader;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int err = sys.pthread_create(&r->loader, &attr, loader_main, h);
        pthread_attr_destroy(&attr);
        if (err == 0)
            r->loader_started = 1;
        /* without the thread, pages load on touch and before the first
         * collection: slower to settle, not wrong */
    no_loader:;
    }
    if (st != VMGC_OK) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", vmgc_last_error());
        if (h) {
            h->restored = NULL;
            vmgc_heap_destroy(h);
        }
        image_close(r->img);
        pthread_mutex_destroy(&r->finalize_lock);
        pthread_cond_destroy(&r->loader_cond);
        meta_free(r);
        return error_restore(st, msg);
    }
    *out = h;
    return VMGC_OK;
}

VMGC_API vmgc_status vmgc_root_restore(vmgc_heap *h, const char *name, void **slots,
                                       size_t count)
{
    if (!h || h->sig != HEAP_SIG)
        return error_set(VMGC_EINVAL, "vmgc_root_restore: not a live heap");
    if (!name || !slots || !count)
        return error_set(VMGC_EINVAL, "vmgc_root_restore: give a name, slots and a count");
    if (!h->restored)
        return error_set(VMGC_ESTATE, "vmgc_root_restore: this heap was not made by "
                                      "vmgc_heap_restore");
    return roots_take_owned(h, name, slots, count);
}

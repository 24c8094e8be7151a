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
    struct pool_run *gaps; /* pages of the span not in the image, held until loaded */
    size_t ngaps;
    int gaps_released;     /* Synchronization: atomic. */
    pthread_t loader;
    int loader_started;
};

static const char *layout_name(vmgc_layout l)
{
    static const char *const names[] = {"VMGC_LAYOUT_NO_POINTERS", "VMGC_LAYOUT_ALL_POINTERS",
                                        "VMGC_LAYOUT_BITMAP", "VMGC_LAYOUT_TRACE"};
    return (unsigned)l <= VMGC_LAYOUT_TRACE ? names[l] : "an unknown layout";
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
        if (d->layout == VMGC_LAYOUT_BITMAP && d->bitmap != t->bitmap)
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

/* The image's pages become the heap's, black in the current epoch (the
 * first cycle makes them from-space like any page), and the span's gaps
 * are held until loading ends, so no allocation lands in the hidden span. */
static vmgc_status claim_pages(struct vmgc_heap *h, struct restored *r)
{
    const struct image *img = r->img;
    size_t n = img->hdr.npages, nruns = 0, ngaps = 0;
    struct pool_run *runs = meta_calloc(2 * n + 1, sizeof *runs);
    r->gaps = meta_calloc(n + 1, sizeof *r->gaps);
    if (!runs || !r->gaps) {
        meta_free(runs);
        return error_set(VMGC_ENOMEM, "no memory to list the %zu pages of image %s", n, img->path);
    }
    for (size_t k = 0; k < n;) {
        const struct image_index_entry *e = &img->index[k];
        size_t len = e->kind == IMAGE_LARGE_HEAD ? e->info : 1;
        if (nruns && runs[nruns - 1].first + runs[nruns - 1].n < e->page) {
            size_t gap = runs[nruns - 1].first + runs[nruns - 1].n;
            r->gaps[ngaps++] = runs[nruns++] = (struct pool_run){gap, e->page - gap};
        }
        runs[nruns++] = (struct pool_run){e->page, len};
        k += len;
    }
    r->ngaps = ngaps;
    vmgc_status st = pool_claim_fresh(&h->arena->pool, runs, nruns);
    meta_free(runs);
    if (st != VMGC_OK)
        return st;
    struct page_desc *d = h->arena->pt.desc;
    uint32_t epoch = h->epoch;
    size_t head = 0;
    lock_take(&h->pages_lock);
    for (size_t k = 0; k < n; k++) {
        const struct image_index_entry *e = &img->index[k];
        size_t p = e->page;
        if (e->kind == IMAGE_LARGE_BODY) { /* image_open checked it follows its head */
            d[p].space = PK_LARGE_BODY;
            d[p].gc_word[2] = (uint32_t)head;
            ps_set(h, p, PS_MAKE(PS_BLACK, 0));
            continue;
        }
        head = p;
        d[p].space = e->kind == IMAGE_SMALL ? PK_SMALL : PK_LARGE_HEAD;
        d[p].gc_word[1] = e->info;
        d[p].gc_word[2] = 0;
        ps_set(h, p, PS_MAKE(PS_BLACK, epoch));
        pages_note_inuse_locked(h, p);
    }
    pthread_mutex_unlock(&h->pages_lock);
    return VMGC_OK;
}

void restore_settle(struct vmgc_heap *h)
{
    struct restored *r = h->restored;
    if (!r)
        return;
    imageload_settle(h->arena);
    if (!__atomic_load_n(&r->load.done, __ATOMIC_ACQUIRE) ||
        __atomic_exchange_n(&r->gaps_released, 1, __ATOMIC_ACQ_REL))
        return;
    for (size_t k = 0; k < r->ngaps; k++)
        if (pool_release(&h->arena->pool, r->gaps[k].first, r->gaps[k].n) != VMGC_OK)
            gc_fatal_status("giving back the pages between a restored heap's pages failed");
}

static void *loader_main(void *arg)
{
    struct vmgc_heap *h = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL); /* the program's signals go to its threads */
    restore_settle(h);
    return NULL;
}

void restore_heap_destroy(struct vmgc_heap *h)
{
    struct restored *r = h->restored;
    if (!r)
        return;
    __atomic_store_n(&r->load.stop, 1, __ATOMIC_RELEASE);
    if (r->loader_started)
        pthread_join(r->loader, NULL);
    imageload_end(h->arena, &r->load);
    image_close(r->img);
    meta_free(r->gaps);
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
        st = claim_pages(h, r);
    for (uint64_t k = 0; st == VMGC_OK && k < r->img->hdr.nroots; k++)
        st = roots_add_owned(h, r->img->roots[k].name, r->img->roots[k].values,
                             r->img->roots[k].count);
    if (st == VMGC_OK)
        st = imageload_begin(h->arena, r->img, &r->load);
    if (st == VMGC_OK) {
        h->restored = r;
        int err = sys.pthread_create(&r->loader, NULL, loader_main, h);
        if (err == 0)
            r->loader_started = 1;
        /* without the thread, pages load on touch and before the first
         * collection: slower to settle, not wrong */
    }
    if (st != VMGC_OK) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", vmgc_last_error());
        if (h) {
            h->restored = NULL;
            vmgc_heap_destroy(h);
        }
        image_close(r->img);
        meta_free(r->gaps);
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

/* verify.c -- heap invariants, checked at every phase change when
 * vmgc_config.verify or VMGC_VERIFY=1.  Design: doc/design/verify.md.
 * Runs with the world stopped.  A violation is fatal, with what and where.
 */
#include "config.h"

#define _GNU_SOURCE 1

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"
#include "prot.h"

static __attribute__((noreturn)) void violated(const char *what, size_t page, uintptr_t detail)
{
    /* the world is stopped: no stdio (a stopped thread may hold its lock) */
    char msg[512];
    int n = snprintf(msg, sizeof msg, "vmgc: verify: %s (page %zu, detail %#lx)\n", what, page,
                     (unsigned long)detail);
    ssize_t w = write(STDERR_FILENO, msg, n > 0 && (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
    (void)w;
    abort();
}

struct check_ctx {
    struct vmgc_heap *h;
    size_t page;
    const char *obj;           /* the object whose slots a trace callback visits, or NULL */
    size_t size;
    const struct gc_type *type;
};

static __attribute__((noreturn)) void type_violated(const struct gc_type *t, const char *what,
                                                    const void *obj, size_t size)
{
    char msg[512];
    int n = snprintf(msg, sizeof msg, "vmgc: verify: type '%s': %s (object %p of %zu bytes)\n",
                     t->name, what, obj, size);
    ssize_t w = write(STDERR_FILENO, msg, n > 0 && (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
    (void)w;
    abort();
}

static void check_slot(void **slot, void *ctx)
{
    struct check_ctx *c = ctx;
    struct arena *a = c->h->arena;
    /* .sol.trace-bounds: a trace callback may visit a local copy (a tagged
     * pointer untagged), but a heap slot outside its object is a bug */
    int in_heap = vm_contains(&a->vm, slot) ||
                  ((const char *)slot >= a->vm.alias && (const char *)slot < a->vm.alias + a->vm.size);
    if (c->obj && in_heap &&
        ((const char *)slot < c->obj || (const char *)slot + sizeof(void *) > c->obj + c->size))
        type_violated(c->type, "its trace callback visited a heap slot outside the object", c->obj,
                      c->size);
    void *p = *slot;
    if (!vm_contains(&a->vm, p))
        return;
    size_t page = pagetable_index(&a->pt, p);
    struct page_desc *d = &a->pt.desc[page];
    size_t head = ps_head_of(c->h, page);
    uint32_t w = ps_load(c->h, head);
    if (d->space == PK_NONE || PS_STATE(w) == PS_FREE)
        violated("a black object points at a free page", c->page, (uintptr_t)p);
    if (ps_is_from(c->h, w))
        violated("a black object points into from-space", c->page, (uintptr_t)p);
    /* mark.md .sol.hole: only a page a mark cycle swept has holes; finding
     * the object needs a walk of the page */
    uint64_t hd;
    if ((__atomic_load_n(&c->h->arena->pt.desc[head].gc_info, __ATOMIC_ACQUIRE) & GI_HOLES) &&
        object_start(c->h, page, (uintptr_t)p, &hd) && hdr_is_hole(hd))
        violated("a live object points at an object a mark cycle swept as dead", c->page,
                 (uintptr_t)p);
}

static void check_page_objects(struct vmgc_heap *h, size_t page)
{
    struct page_desc *d = &h->arena->pt.desc[page];
    char *base = h->arena->vm.alias + (page << VM_PAGE_SHIFT);
    struct check_ctx ctx = {h, page, NULL, 0, NULL};
    size_t limit = d->space == PK_LARGE_HEAD ? VMGC_HEADER_BYTES + 1 : d->gc_word[1];
    for (size_t off = 0; off + VMGC_HEADER_BYTES <= limit;) {
        char *obj = base + off + VMGC_HEADER_BYTES;
        uint64_t hd = hdr_load(obj);
        if (hd == 0)
            break;
        if (hdr_forwarded(hd))
            violated("a forwarded object in a black page", page, hd);
        uint32_t type = hdr_type(hd);
        if (hdr_is_hole(hd)) { /* mark.md .sol.hole */
            off += hdr_span(hd);
            continue;
        }
        if (type == 0 || type >= h->ntypes)
            violated("an object of unknown type", page, hd);
        const struct gc_type *t = &h->types[type];
        size_t size = hdr_size(hd), words = size / sizeof(void *);
        void **slots = (void **)obj;
        if (t->layout == VMGC_LAYOUT_ALL_POINTERS)
            for (size_t i = 0; i < words; i++)
                check_slot(&slots[i], &ctx);
        else if (t->layout == VMGC_LAYOUT_BITMAP) {
            /* .sol.bitmap-bounds: a bit past the object's end names a word of
             * the next object; scanning skips it, but the layout is wrong */
            if (words < 64 && (t->bitmap >> words))
                type_violated(t, "its bitmap marks a word past the end of an object", obj, size);
            for (size_t i = 0; i < words && i < 64; i++)
                if (t->bitmap >> i & 1)
                    check_slot(&slots[i], &ctx);
        } else if (t->layout == VMGC_LAYOUT_VECTOR) {
            size_t fixed = t->fixed_bytes / sizeof(void *);
            if (words < fixed)
                type_violated(t, "an object smaller than the type's fixed fields", obj, size);
            for (size_t i = 0; i < words; i++)
                if (i >= fixed || (t->bitmap >> i & 1))
                    check_slot(&slots[i], &ctx);
        }
        if (t->layout == VMGC_LAYOUT_TRACE) {
            struct check_ctx tc = {h, page, obj, size, t};
            t->trace(obj, size, check_slot, &tc);
        }
        off += hdr_span(hd);
    }
}

/* .sol.root-block: after the flip every root block page is grey and
 * protected; at the end, black, exposed, and no slot points into
 * from-space.  roots_lock held. */
static void verify_root_blocks(struct vmgc_heap *h, int at_end)
{
    for (struct root_block *b = h->root_blocks; b; b = b->next)
        for (size_t i = b->first; i < b->first + b->npages; i++) {
            uint32_t w = ps_load(h, i);
            int prot = prot_is_protected(h->arena, pagetable_page_addr(&h->arena->pt, i));
            if (!at_end) {
                if (PS_STATE(w) != PS_GREY || !prot)
                    violated("a root block page is not grey and protected after the flip", i, w);
                continue;
            }
            if (PS_STATE(w) != PS_BLACK || ps_is_from(h, w) || prot)
                violated("a root block page is not black and exposed at the end of a cycle", i, w);
            struct check_ctx ctx = {h, i, NULL, 0, NULL};
            void **slots = (void **)(h->arena->vm.alias + (i << VM_PAGE_SHIFT));
            for (size_t k = 0; k < VM_PAGE_SIZE / sizeof(void *); k++)
                check_slot(&slots[k], &ctx);
        }
}

/* After the flip: every grey page is protected; nothing is being scanned. */
void verify_flip(struct vmgc_heap *h)
{
    for (size_t k = 0; k < h->ninuse; k++) {
        size_t page = h->inuse[k];
        uint32_t w = ps_load(h, page);
        unsigned s = PS_STATE(w);
        if (s == PS_GREY && !prot_is_protected(h->arena, pagetable_page_addr(&h->arena->pt, page)))
            violated("a grey page is not protected after the flip", page, w);
        if (s == PS_SCANNING || s == PS_SEALED || s == PS_PROMOTING)
            violated("a page is mid-scan during the flip", page, w);
    }
    verify_root_blocks(h, 0);
}

/* roots_lock and pages_lock held, world stopped.  At the end of the concurrent phase: no grey work left, no black page
 * protected, and no black object points into from-space. */
void verify_end(struct vmgc_heap *h)
{
    if (__atomic_load_n(&h->pending, __ATOMIC_ACQUIRE) != 0)
        violated("pending pages left at the end of a cycle", 0, h->pending);
    for (size_t k = 0; k < h->ninuse; k++) {
        size_t page = h->inuse[k];
        uint32_t w = ps_load(h, page);
        unsigned s = PS_STATE(w);
        if (s == PS_GREY || s == PS_COPY || s == PS_SEALED || s == PS_SCANNING ||
            s == PS_PROMOTING)
            violated("a page is still grey at the end of a cycle", page, w);
        if (s != PS_BLACK || ps_is_from(h, w))
            continue;
        if (prot_is_protected(h->arena, pagetable_page_addr(&h->arena->pt, page)))
            violated("a black page is still protected", page, w);
        check_page_objects(h, page);
    }
    verify_root_blocks(h, 1);
}

/* .sol.unrooted-globals: a word of the program's data or bss that points
 * at a from-space object at the end of a cycle was not updated: it is not
 * a root (a stale value, or the missing root that a later touch of from-
 * space will report).  Found with the world stopped, while the object is
 * still there to describe; told after the world runs again (dladdr and
 * stdio take locks a stopped thread may hold).  A warning (it may be a dead
 * value), at most VERIFY_UNROOTED a cycle. */
GC_CONSERVATIVE_SCAN void verify_unrooted_globals(struct vmgc_heap *h)
{
    h->n_unrooted = 0;
    if (h->data_segments_rooted || h->config.scan_data_segments)
        return;
    struct arena *a = h->arena;
    for (struct root_region *r = h->verify_globals; r && h->n_unrooted < VERIFY_UNROOTED;
         r = r->next)
        for (const char *p = (const char *)(((uintptr_t)r->lo + 7) & ~(uintptr_t)7);
             p + sizeof(void *) <= r->hi && h->n_unrooted < VERIFY_UNROOTED; p += sizeof(void *)) {
            void *w = *(void *const *)p;
            if (!vm_contains(&a->vm, w))
                continue;
            size_t page = pagetable_index(&a->pt, w);
            if (!ps_is_from(h, ps_load(h, ps_head_of(h, page))))
                continue;
            uint64_t hd;
            if (object_start(h, page, (uintptr_t)w, &hd) != (uintptr_t)w)
                continue;
            h->unrooted[h->n_unrooted].global = p;
            h->unrooted[h->n_unrooted].object = w;
            h->unrooted[h->n_unrooted].type = hdr_type(hd);
            h->n_unrooted++;
        }
}

void verify_report_unrooted(struct vmgc_heap *h)
{
    for (unsigned k = 0; k < h->n_unrooted; k++) {
        const char *p = h->unrooted[k].global;
        uint32_t type = h->unrooted[k].type;
        Dl_info info;
        int named = dladdr(p, &info) && info.dli_sname;
        fprintf(stderr,
                "vmgc: verify: the global at %p (%s%s+%#lx) points at an object of type '%s' at "
                "%p that the collector did not keep: it is not a root. Register it "
                "(vmgc_root_add, vmgc_root_add_region, vmgc_root_add_data_segments), or clear it "
                "if the value is dead\n",
                (const void *)p, named ? info.dli_sname : "no symbol",
                named ? "" : "; link with -rdynamic for names",
                named ? (unsigned long)(p - (const char *)info.dli_saddr) : 0ul,
                type && type < h->ntypes ? h->types[type].name : "?", h->unrooted[k].object);
    }
    h->n_unrooted = 0;
}

/* barrier.c -- the read barrier: what a mutator trap on a heap page does.
 * Design: doc/design/collector.md (.sol.trap), trap.md (.req.signal-safe).
 *
 * Runs in the faulting thread inside the VM layer's signal handler, with
 * async signals blocked.  Grey page: scan it here.  A copy target still being
 * filled: seal it, wait for the copy in flight, scan it.  From-space: the
 * program holds a pointer the collector never saw; say so and abort.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "trap.h"

/* Copier for traps of threads that are not attached (misuse, but the trap
 * must still be resolved).  Zero means "no page". */
static __thread struct copier barrier_copier __attribute__((tls_model("initial-exec")));
extern __thread struct vmgc_thread *gc_tls_thread __attribute__((tls_model("initial-exec")));

static size_t put(char *buf, size_t at, size_t cap, const char *s)
{
    while (*s && at + 1 < cap)
        buf[at++] = *s++;
    return at;
}

static size_t put_hex(char *buf, size_t at, size_t cap, uintptr_t v)
{
    char tmp[19];
    int n = 0;
    do {
        tmp[n++] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    at = put(buf, at, cap, "0x");
    while (n > 0 && at + 1 < cap)
        buf[at++] = tmp[--n];
    return at;
}

/* .sol.from-space-diagnostic */
static __attribute__((noreturn)) void from_space_access(struct vmgc_heap *h, size_t page,
                                                        const void *addr)
{
    char msg[640];
    size_t n = 0;
    n = put(msg, n, sizeof msg, "vmgc: fatal: the program touched from-space at ");
    n = put_hex(msg, n, sizeof msg, (uintptr_t)addr);
    uint64_t hd = 0;
    size_t obj = object_start(h, page, (uintptr_t)addr, &hd);
    if (obj) {
        n = put(msg, n, sizeof msg, ", inside the object at ");
        n = put_hex(msg, n, sizeof msg, obj);
        uint32_t type = hdr_type(hd);
        if (type && type < h->ntypes) {
            n = put(msg, n, sizeof msg, " of type '");
            n = put(msg, n, sizeof msg, h->types[type].name);
            n = put(msg, n, sizeof msg, "'");
        }
    }
    n = put(msg, n, sizeof msg,
            ". This is a pointer the collector never saw as a root: it was kept somewhere "
            "vmgc does not scan (memory from malloc, a thread that is not attached, a "
            "hidden or encoded pointer). Register it with vmgc_root_add (or keep it in a "
            "vmgc_root_block_new block), or keep it on an "
            "attached thread's stack.\n");
    ssize_t w = write(STDERR_FILENO, msg, n);
    (void)w;
    abort();
}

int barrier_trap(void *ctx, void *page_addr)
{
    struct vmgc_heap *h = ctx;
    size_t page = pagetable_index(&h->arena->pt, page_addr);
    struct vmgc_thread *t = gc_tls_thread;
    struct copier *c = t && t->heap == h ? &t->copier : &barrier_copier;
    __atomic_fetch_add(&h->st_traps, 1, __ATOMIC_RELAXED);
    uint32_t w = ps_load(h, ps_head_of(h, page));
    if (ps_is_from(h, w)) {
        /* .sol.from-space-neighbour: a coarse mprotect granule runs the
         * barrier for every marked page in it; only the page that faulted
         * was touched.  A neighbour is simply exposed (diagnosis is
         * weaker in coarse mode). */
        const void *fault = trap_fault_address();
        if (fault && pagetable_index(&h->arena->pt, fault) != page)
            return 0;
        from_space_access(h, page, fault ? fault : page_addr);
    }
    if (PS_STATE(w) == PS_GREY || PS_STATE(w) == PS_COPY)
        __atomic_fetch_add(&h->st_mutator_scans, 1, __ATOMIC_RELAXED);
    /* .sol.trap-cheney: a trap on this thread's own copy page means it is
     * walking what its last trap copied (a list, ahead of the collector);
     * each node would otherwise cost a trap and a page of its own (the
     * page it touches must be black, its children grey elsewhere).  Then
     * what this scan copies is scanned in place too, up to one page. */
    int own = __atomic_load_n(&c->page1, __ATOMIC_RELAXED) == page + 1;
    int scanned = scan_make_black_checked(h, c, page, 1) == 0;
    if (scanned && own)
        copier_scan_own(h, c, 1, 1);
    if (!scanned) {
        unsigned s = PS_STATE(ps_load(h, ps_head_of(h, page)));
        /* released meanwhile, or not handed out yet */
        if (s == PS_FREE || s == PS_STASH)
            return 0;
        const void *fault = trap_fault_address();
        if (fault && pagetable_index(&h->arena->pt, fault) != page)
            return 0; /* a neighbour in a coarse granule */
        char msg[160];
        size_t n = put(msg, 0, sizeof msg, "the program touched a heap page that holds no "
                                           "live objects (a wild pointer); page state ");
        n = put_hex(msg, n, sizeof msg, ps_load(h, ps_head_of(h, page)));
        msg[n] = '\0';
        trap_fatal(msg, fault ? fault : page_addr);
    }
    return 0;
}

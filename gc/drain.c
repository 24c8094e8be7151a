/* drain.c -- the concurrent scan's end: collector threads scan grey pages
 * until none is left, and extra collector threads (collector_threads > 1)
 * join in.  Design: doc/design/collector.md (.sol.drain, .sol.helpers).
 */
#include "config.h"

#include <sched.h>

#include "error.h"
#include "internal.h"
#include "sys.h"
#include "lock.h"

static void take_copy_page(struct vmgc_heap *h, struct copier *other, struct copier *c,
                           uint32_t *pages, unsigned *n)
{
    uint32_t p1 = __atomic_load_n(&other->page1, __ATOMIC_ACQUIRE);
    if (other != c && p1 && PS_STATE(ps_load(h, p1 - 1)) == PS_COPY)
        pages[(*n)++] = p1 - 1;
}

/* Seal and scan the copy pages that other copiers still fill: mutators'
 * (left behind in traps), the other collector threads' (the first one's
 * holds what the flip copied). */
static void seal_copy_pages_of_others(struct vmgc_heap *h, struct copier *c)
{
    uint32_t pages[64 + GC_MAX_COLLECTORS];
    unsigned n = 0;
    lock_take(&h->threads_lock);
    for (struct vmgc_thread *t = h->threads; t && n < 64; t = t->next)
        take_copy_page(h, &t->copier, c, pages, &n);
    pthread_mutex_unlock(&h->threads_lock);
    take_copy_page(h, &h->main_copier, c, pages, &n);
    for (unsigned i = 1; i <= h->nhelpers; i++)
        take_copy_page(h, &h->helper_copier[i], c, pages, &n);
    for (unsigned i = 0; i < n; i++)
        scan_make_black(h, c, pages[i], 0);
}

/* Scan until no grey, copy-target or scanning page is left.  .sol.drain
 * Once `pending` is 0 no work can appear this cycle: new objects are black,
 * and only a scan (of a pending page) greys or promotes anything. */
static void drain(struct vmgc_heap *h, struct copier *c)
{
    for (unsigned idle = 0;;) {
        stash_keep_up(h);
        size_t page = grey_pop(h);
        if (page != PD_NONE) {
            __atomic_fetch_add(&h->st_collector_scans, 1, __ATOMIC_RELAXED);
            scan_make_black(h, c, page, 0);
            idle = 0;
            continue;
        }
        if (copier_scan_own(h, c, 0, 0)) {
            idle = 0;
            continue;
        }
        if (!grey_pop_peek_empty(h))
            continue;
        copier_finish_own(h, c);
        if (grey_pop_peek_empty(h) && __atomic_load_n(&h->pending, __ATOMIC_ACQUIRE) == 0)
            return;
        seal_copy_pages_of_others(h, c);
        if (++idle > 16)
            sched_yield();
    }
}

/* .sol.helpers: a helper sleeps until a cycle opens its drain, drains with
 * its own copier, and reports back.  It is not an attached thread (flips do
 * not stop it), so it must never run while the world is stopped: it only
 * drains between drain_open and drain_close, both after the flip. */
static void *helper_main(void *arg)
{
    struct helper_arg *ha = arg;
    struct vmgc_heap *h = ha->h;
    struct copier *c = &h->helper_copier[ha->index];
    uint64_t seen = 0;
    lock_take(&h->trigger_lock);
    collector_thread_running_locked(h);
    for (;;) {
        while (!h->shutting_down && !(h->drain_is_open && h->drain_generation != seen))
            pthread_cond_wait(&h->drain_cond, &h->trigger_lock);
        if (h->shutting_down)
            break;
        seen = h->drain_generation;
        h->helpers_draining++;
        pthread_mutex_unlock(&h->trigger_lock);
        drain(h, c);
        copier_flush_stats(h, c);
        lock_take(&h->trigger_lock);
        if (--h->helpers_draining == 0)
            pthread_cond_broadcast(&h->drain_cond);
    }
    pthread_mutex_unlock(&h->trigger_lock);
    return NULL;
}

vmgc_status drain_helpers_start(struct vmgc_heap *h, unsigned n)
{
    for (unsigned i = 1; i < n; i++) {
        struct helper_arg *ha = &h->helper_arg[i];
        ha->h = h;
        ha->index = i;
        if (sys.pthread_create(&h->collector[i], NULL, helper_main, ha) != 0)
            return error_set(VMGC_ESYSTEM, "cannot start collector thread %u of %u", i + 1, n);
        h->nhelpers = i;
    }
    return VMGC_OK;
}

void drain_open(struct vmgc_heap *h)
{
    if (!h->nhelpers)
        return;
    lock_take(&h->trigger_lock);
    h->drain_generation++;
    h->drain_is_open = 1;
    pthread_cond_broadcast(&h->drain_cond);
    pthread_mutex_unlock(&h->trigger_lock);
}

void drain_close(struct vmgc_heap *h, struct copier *c)
{
    drain(h, c);
    if (!h->nhelpers)
        return;
    lock_take(&h->trigger_lock);
    h->drain_is_open = 0;
    while (h->helpers_draining)
        pthread_cond_wait(&h->drain_cond, &h->trigger_lock);
    pthread_mutex_unlock(&h->trigger_lock);
}

/* After drain_close, with the helpers asleep: the cycle's end found more
 * to keep (weak.c: ephemeron values, objects to finalize, what weak loads
 * copied); this thread scans it alone. */
void drain_alone(struct vmgc_heap *h, struct copier *c)
{
    drain(h, c);
}

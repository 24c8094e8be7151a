/* test_pagestate.c -- the page state machine under contention (gc/scan.c,
 * gc/pagestate.c): every transition raced by several threads.
 *
 * A heap is built through the public API, then made from-space by hand
 * (epoch advanced, as the flip does), and threads race the collector's own
 * functions on it.  Both backends. */
#include "config.h"

#include <pthread.h>
#include <string.h>

#include "internal.h"
#include "prot.h"
#include "testlib.h"

#define THREADS 4
#define OBJECTS 4000

struct pair {
    void *a, *b;
    uint64_t value;
};

static vmgc_heap *heap;
static vmgc_thread *me;
static vmgc_type t_pair, t_big;
static struct pair *objs[OBJECTS];
static void *results[THREADS][OBJECTS];
static pthread_barrier_t start;

static void make_heap(int backend)
{
    vmgc_config c;
    vmgc_config_init(&c);
    c.reserve_bytes = (size_t)1 << 30;
    c.barrier = test_backends[backend];
    c.no_background = 1;
    ck_assert_int_eq(vmgc_heap_create(&heap, &c), VMGC_OK);
    ck_assert_int_eq(vmgc_thread_attach(heap, &me), VMGC_OK);
    vmgc_type_desc pd = {.name = "pair", .layout = VMGC_LAYOUT_BITMAP, .bitmap = 3};
    vmgc_type_desc bd = {.name = "big", .layout = VMGC_LAYOUT_ALL_POINTERS};
    ck_assert_int_eq(vmgc_type_register(heap, &pd, &t_pair), VMGC_OK);
    ck_assert_int_eq(vmgc_type_register(heap, &bd, &t_big), VMGC_OK);
    for (int i = 0; i < OBJECTS; i++) {
        objs[i] = vmgc_alloc(me, t_pair, sizeof(struct pair));
        objs[i]->value = (uint64_t)i * 3 + 1;
        objs[i]->a = i ? objs[i - 1] : NULL;
    }
}

/* What the flip does to the page states: every allocated page becomes
 * from-space.  The thread's allocation page is retired first. */
static void make_from_space(void)
{
    threads_retire_tlab(heap, me);
    me->tlab_page = PD_NONE;
    me->buf.cursor = me->buf.limit = NULL;
    grey_reset(heap);
    __atomic_store_n(&heap->pending, 0, __ATOMIC_RELEASE);
    __atomic_fetch_add(&heap->epoch, 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&heap->cycle_running, 1, __ATOMIC_SEQ_CST);
    ck_assert_int_eq(stash_refill(heap, 512), VMGC_OK);
}

static void finish(void)
{
    /* drain what the races left, as the collector would */
    struct copier c = {0};
    for (;;) {
        size_t p = grey_pop(heap);
        if (p == PD_NONE)
            break;
        scan_make_black(heap, &c, p, 0);
    }
    copier_scan_own(heap, &c, 0, 0);
    copier_finish_own(heap, &c);
}

/* ---- forwarding: BLACK(old) object -> one copy, whoever races ---- */

static void *forward_all(void *arg)
{
    int t = (int)(intptr_t)arg;
    struct copier c = {0};
    pthread_barrier_wait(&start);
    for (int k = 0; k < OBJECTS; k++) {
        int i = (k * 7 + t * 13) % OBJECTS; /* different orders, same objects */
        results[t][i] = scan_forward(heap, &c, objs[i], 0);
    }
    copier_retire(heap, &c);
    return NULL;
}

START_TEST(forwarding_race)
{
    make_heap(_i);
    make_from_space();
    pthread_t th[THREADS];
    pthread_barrier_init(&start, NULL, THREADS);
    for (int t = 0; t < THREADS; t++)
        pthread_create(&th[t], NULL, forward_all, (void *)(intptr_t)t);
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    for (int i = 0; i < OBJECTS; i++) {
        ck_assert_ptr_ne(results[0][i], objs[i]); /* copied */
        for (int t = 1; t < THREADS; t++)
            ck_assert_ptr_eq(results[t][i], results[0][i]); /* one copy for all */
        uint64_t hd = hdr_load(vm_alias_of(&heap->arena->vm, objs[i]));
        ck_assert(hdr_forwarded(hd));
        ck_assert_ptr_eq((void *)(uintptr_t)(hd & ~(uint64_t)1), results[0][i]);
        struct pair *copy = vm_alias_of(&heap->arena->vm, results[0][i]);
        ck_assert_uint_eq(copy->value, (uint64_t)i * 3 + 1);
    }
    finish();
    ck_assert_uint_eq(__atomic_load_n(&heap->pending, __ATOMIC_ACQUIRE), 0);
}
END_TEST

/* ---- GREY -> SCANNING: exactly one thread scans a page ---- */

static size_t grey_page;
static int scanned_by[THREADS];

static void *claim(void *arg)
{
    int t = (int)(intptr_t)arg;
    struct copier c = {0};
    pthread_barrier_wait(&start);
    uint32_t w = ps_load(heap, grey_page);
    if (PS_STATE(w) == PS_GREY && ps_cas(heap, grey_page, w, PS_MAKE(PS_SCANNING, PS_EPOCH(w)))) {
        scanned_by[t] = 1;
        scan_page(heap, &c, grey_page, 0);
    } else {
        scan_make_black(heap, &c, grey_page, 0); /* waits for the winner */
        ck_assert_uint_eq(PS_STATE(ps_load(heap, grey_page)), PS_BLACK);
    }
    copier_retire(heap, &c);
    return NULL;
}

START_TEST(grey_claim_race)
{
    for (int round = 0; round < 20; round++) {
        make_heap(_i);
        objs[100]->b = objs[OBJECTS - 1]; /* on another page: it must move */
        make_from_space();
        /* pin the page of object 100, as an ambiguous root would */
        roots_pin_word(heap, (uintptr_t)objs[100]);
        roots_protect_pinned(heap); /* as the flip ends its pinning (.sol.pin-tally) */
        grey_page = pagetable_index(&heap->arena->pt, objs[100]);
        ck_assert_uint_eq(PS_STATE(ps_load(heap, grey_page)), PS_GREY);
        memset(scanned_by, 0, sizeof scanned_by);
        pthread_t th[THREADS];
        pthread_barrier_init(&start, NULL, THREADS);
        for (int t = 0; t < THREADS; t++)
            pthread_create(&th[t], NULL, claim, (void *)(intptr_t)t);
        for (int t = 0; t < THREADS; t++)
            pthread_join(th[t], NULL);
        int winners = 0;
        for (int t = 0; t < THREADS; t++)
            winners += scanned_by[t];
        ck_assert_int_eq(winners, 1);
        /* the pinned object kept its address; a field to another page now
         * points to a copy (objects on the pinned page itself stay) */
        struct pair *o = vm_alias_of(&heap->arena->vm, objs[100]);
        ck_assert_ptr_eq(o->a, objs[99]);
        ck_assert_ptr_ne(o->b, objs[OBJECTS - 1]);
        ck_assert_uint_eq(((struct pair *)vm_alias_of(&heap->arena->vm, o->b))->value,
                          (uint64_t)(OBJECTS - 1) * 3 + 1);
        ck_assert(!prot_is_protected(heap->arena, pagetable_page_addr(&heap->arena->pt, grey_page)));
        finish();
        ck_assert_uint_eq(__atomic_load_n(&heap->pending, __ATOMIC_ACQUIRE), 0);
        vmgc_thread_detach(me);
        vmgc_heap_destroy(heap);
    }
}
END_TEST

/* ---- COPY -> SEALED while the owner copies into it ---- */

static struct copier owner;
static int owner_done;

static void *owner_main(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&start);
    for (int i = 0; i < OBJECTS; i++)
        results[0][i] = scan_forward(heap, &owner, objs[i], 0);
    __atomic_store_n(&owner_done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void *sealer_main(void *arg)
{
    (void)arg;
    struct copier c = {0};
    pthread_barrier_wait(&start);
    while (!__atomic_load_n(&owner_done, __ATOMIC_ACQUIRE)) {
        uint32_t p1 = __atomic_load_n(&owner.page1, __ATOMIC_ACQUIRE);
        if (p1 && PS_STATE(ps_load(heap, p1 - 1)) == PS_COPY)
            scan_make_black(heap, &c, p1 - 1, 0); /* seal, wait, scan */
    }
    copier_retire(heap, &c);
    return NULL;
}

START_TEST(seal_while_copying)
{
    make_heap(_i);
    make_from_space();
    memset(&owner, 0, sizeof owner);
    owner_done = 0;
    pthread_t th[THREADS];
    pthread_barrier_init(&start, NULL, THREADS);
    pthread_create(&th[0], NULL, owner_main, NULL);
    for (int t = 1; t < THREADS; t++)
        pthread_create(&th[t], NULL, sealer_main, NULL);
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    copier_retire(heap, &owner);
    finish();
    /* every copy is intact and sits on a page that is now black (scanned
     * by whoever sealed it, or retired and drained) */
    for (int i = 0; i < OBJECTS; i++) {
        struct pair *copy = vm_alias_of(&heap->arena->vm, results[0][i]);
        ck_assert_uint_eq(copy->value, (uint64_t)i * 3 + 1);
        size_t page = pagetable_index(&heap->arena->pt, results[0][i]);
        ck_assert_uint_eq(PS_STATE(ps_load(heap, page)), PS_BLACK);
        ck_assert_uint_ge(heap->arena->pt.desc[page].gc_word[1],
                          ((uintptr_t)results[0][i] & VM_PAGE_MASK) + sizeof(struct pair));
        /* scanned: the copy's field points at a copy, not into from-space */
        if (i > 0)
            ck_assert_ptr_eq(copy->a, results[0][i - 1]);
    }
    ck_assert_uint_eq(__atomic_load_n(&heap->pending, __ATOMIC_ACQUIRE), 0);
}
END_TEST

/* ---- BLACK(old) large -> PROMOTING -> GREY, once ---- */

static void *big;

static void *promote(void *arg)
{
    (void)arg;
    struct copier c = {0};
    pthread_barrier_wait(&start);
    void *r = scan_forward(heap, &c, big, 0);
    ck_assert_ptr_eq(r, big); /* never moved */
    uint32_t s = PS_STATE(ps_load(heap, pagetable_index(&heap->arena->pt, big)));
    ck_assert(s == PS_GREY || s == PS_SCANNING || s == PS_BLACK); /* never seen mid-promotion */
    ck_assert(s != PS_GREY || prot_is_protected(heap->arena, (char *)big - 8));
    return NULL;
}

START_TEST(large_promotion_race)
{
    make_heap(_i);
    big = vmgc_alloc(me, t_big, 10000);
    make_from_space();
    pthread_t th[THREADS];
    pthread_barrier_init(&start, NULL, THREADS);
    for (int t = 0; t < THREADS; t++)
        pthread_create(&th[t], NULL, promote, NULL);
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    ck_assert_uint_eq(__atomic_load_n(&heap->st_large_promoted, __ATOMIC_ACQUIRE), 1);
    finish();
    ck_assert_uint_eq(__atomic_load_n(&heap->pending, __ATOMIC_ACQUIRE), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pagestate");
    TCase *tc = tcase_create("both-backends");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, forwarding_race, 0, 2);
    tcase_add_loop_test(tc, grey_claim_race, 0, 2);
    tcase_add_loop_test(tc, seal_while_copying, 0, 2);
    tcase_add_loop_test(tc, large_promotion_race, 0, 2);
    suite_add_tcase(s, tc);
    return test_run(s);
}

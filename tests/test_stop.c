/* test_stop.c -- stopping threads for the flip (gc/threads.c): who is
 * signalled, and a late thread moved onto the stopper's CPU. */
#include "config.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "testlib.h"
#include "internal.h"
#include "vmgc.h"

static vmgc_heap *heap;
static vmgc_thread *me;
static vmgc_type t_leaf;

static void setup(int backend)
{
    vmgc_config c;
    vmgc_config_init(&c);
    c.reserve_bytes = (size_t)1 << 30;
    c.barrier = test_backends[backend];
    c.no_background = 1;
    c.verify = 1;
    ck_assert_msg(vmgc_heap_create(&heap, &c) == VMGC_OK, "%s", vmgc_last_error());
    ck_assert_int_eq(vmgc_thread_attach(heap, &me), VMGC_OK);
    vmgc_type_desc ld = {.name = "leaf", .layout = VMGC_LAYOUT_NO_POINTERS};
    ck_assert_int_eq(vmgc_type_register(heap, &ld, &t_leaf), VMGC_OK);
}

static void teardown(void)
{
    ck_assert_int_eq(vmgc_thread_detach(me), VMGC_OK);
    ck_assert_int_eq(vmgc_heap_destroy(heap), VMGC_OK);
}

static void wait_for(int *flag)
{
    while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE))
        usleep(200);
}

/* ---- a thread waiting for the page lock is not stopped ---- */

static vmgc_thread *waiter;
static int waiter_attached, waiter_done;
static uint64_t *waiter_obj;

static void *alloc_new_page(void *arg)
{
    (void)arg;
    vmgc_thread *t;
    ck_assert_int_eq(vmgc_thread_attach(heap, &t), VMGC_OK);
    __atomic_store_n(&waiter, t, __ATOMIC_RELEASE);
    __atomic_store_n(&waiter_attached, 1, __ATOMIC_RELEASE);
    /* the first allocation has no page yet: the slow path stamps one under
     * pages_lock, which the test holds */
    uint64_t *p = vmgc_alloc(t, t_leaf, 64);
    p[0] = 42;
    __atomic_store_n(&waiter_obj, p, __ATOMIC_RELEASE);
    __atomic_store_n(&waiter_done, 1, __ATOMIC_RELEASE);
    while (__atomic_load_n(&waiter_done, __ATOMIC_ACQUIRE) != 2)
        usleep(200);
    vmgc_thread_detach(t);
    return NULL;
}

/* .sol.lock-blocked: while the flip holds pages_lock, an allocating thread
 * that needs it waits as a blocked thread, so the stop does not signal it;
 * it goes on once the lock is free, with the world running. */
START_TEST(page_lock_waiter_is_not_signalled)
{
    setup(_i);
    waiter_attached = waiter_done = 0;
    pthread_mutex_lock(&heap->pages_lock);
    pthread_t th;
    pthread_create(&th, NULL, alloc_new_page, NULL);
    wait_for(&waiter_attached);
    for (int ms = 0; __atomic_load_n(&waiter->state, __ATOMIC_ACQUIRE) != TS_BLOCKED; ms++) {
        ck_assert_msg(ms < 5000, "a thread waiting for pages_lock is not in the blocked state");
        usleep(1000);
    }
    ck_assert_ptr_null(__atomic_load_n(&waiter_obj, __ATOMIC_ACQUIRE));
    threads_stop_world(heap, me);
    uint32_t gen = __atomic_load_n(&heap->world_stopped, __ATOMIC_ACQUIRE);
    ck_assert_uint_eq(gen & 1, 1);
    ck_assert_uint_ne(waiter->stop_sent, gen);
    ck_assert_uint_ne(__atomic_load_n(&waiter->stop_acked, __ATOMIC_ACQUIRE), gen);
    (void)threads_start_world(heap);
    pthread_mutex_unlock(&heap->pages_lock);
    wait_for(&waiter_done);
    uint64_t *p = __atomic_load_n(&waiter_obj, __ATOMIC_ACQUIRE);
    ck_assert_uint_eq(p[0], 42);
    ck_assert_int_eq(__atomic_load_n(&waiter->state, __ATOMIC_ACQUIRE), TS_RUNNING);
    __atomic_store_n(&waiter_done, 2, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    vmgc_collect(heap, 1); /* verify mode checks the heap the waiter allocated in */
    teardown();
}
END_TEST

/* ---- a thread that answers late is moved onto the stopper's CPU ---- */

static int late_ready, late_go, late_restarted, late_done, late_retarget;
static cpu_set_t late_mask_before, late_mask_stopped, late_mask_after;
static int late_cpu_stopped;

static void *late_thread(void *arg)
{
    (void)arg;
    vmgc_thread *t;
    ck_assert_int_eq(vmgc_thread_attach(heap, &t), VMGC_OK);
    sigset_t pwr, old;
    sigemptyset(&pwr);
    sigaddset(&pwr, SIGPWR);
    pthread_sigmask(SIG_BLOCK, &pwr, &old); /* the stop signal waits: this thread is late */
    sched_getaffinity(0, sizeof late_mask_before, &late_mask_before);
    __atomic_store_n(&late_ready, 1, __ATOMIC_RELEASE);
    wait_for(&late_go);
    sched_getaffinity(0, sizeof late_mask_stopped, &late_mask_stopped);
    late_cpu_stopped = sched_getcpu();
    if (late_retarget) {
        /* the program sets a mask of its own while it is pulled: kept */
        cpu_set_t other;
        CPU_ZERO(&other);
        for (int c = 0; c < CPU_SETSIZE; c++)
            if (CPU_ISSET(c, &late_mask_before) && !CPU_ISSET(c, &late_mask_stopped)) {
                CPU_SET(c, &other);
                break;
            }
        sched_setaffinity(0, sizeof other, &other);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL); /* acknowledge now, parked until the end */
    wait_for(&late_restarted);
    sched_getaffinity(0, sizeof late_mask_after, &late_mask_after);
    __atomic_store_n(&late_done, 1, __ATOMIC_RELEASE);
    vmgc_thread_detach(t);
    return NULL;
}

static int stopper_stopped, stopper_release;

/* Stops and restarts the world in a thread of its own, as the collector
 * does (and unlocks threads_lock in the thread that took it). */
static void *stopper_thread(void *arg)
{
    (void)arg;
    threads_stop_world(heap, NULL);
    __atomic_store_n(&stopper_stopped, 1, __ATOMIC_RELEASE);
    wait_for(&stopper_release);
    (void)threads_start_world(heap);
    return NULL;
}

static void late_thread_run(int retarget)
{
    late_ready = late_go = late_restarted = late_done = 0;
    late_retarget = retarget;
    stopper_stopped = stopper_release = 0;
    vmgc_stats s;
    vmgc_get_stats(heap, &s);
    uint64_t pulls_before = s.stop_pulls;
    /* the test's own thread is attached; blocked, it is not stopped */
    vmgc_blocking_enter(me);
    pthread_t th, st;
    pthread_create(&th, NULL, late_thread, NULL);
    wait_for(&late_ready);
    pthread_create(&st, NULL, stopper_thread, NULL);
    /* the stopper spins 50 us, then moves the late thread and sleeps; on a
     * busy machine it may take a while to get there */
    int cpus = CPU_COUNT(&late_mask_before);
    if (cpus > 1) {
        for (int ms = 0;; ms++) {
            vmgc_get_stats(heap, &s);
            if (s.stop_pulls != pulls_before)
                break;
            ck_assert_msg(ms < 10000, "a thread silent for 10 s was not moved (%d cpus)", cpus);
            usleep(1000);
        }
    } else {
        usleep(20000);
    }
    ck_assert_int_eq(__atomic_load_n(&stopper_stopped, __ATOMIC_ACQUIRE), 0);
    __atomic_store_n(&late_go, 1, __ATOMIC_RELEASE);
    wait_for(&stopper_stopped); /* the late thread acknowledged */
    vmgc_get_stats(heap, &s);
    if (cpus > 1) {
        ck_assert_uint_eq(s.stop_pulls, pulls_before + 1);
        ck_assert_int_eq(CPU_COUNT(&late_mask_stopped), 1);
        ck_assert_msg(CPU_ISSET(late_cpu_stopped, &late_mask_stopped),
                      "the pulled thread runs on cpu %d, outside its narrowed mask",
                      late_cpu_stopped);
    } else {
        /* one CPU allowed: nowhere to move it, and its mask is left alone */
        ck_assert_uint_eq(s.stop_pulls, pulls_before);
        ck_assert(CPU_EQUAL(&late_mask_stopped, &late_mask_before));
    }
    __atomic_store_n(&stopper_release, 1, __ATOMIC_RELEASE);
    pthread_join(st, NULL);
    __atomic_store_n(&late_restarted, 1, __ATOMIC_RELEASE);
    wait_for(&late_done);
    pthread_join(th, NULL);
    vmgc_blocking_leave(me);
    if (cpus > 1 && retarget) {
        ck_assert_int_eq(CPU_COUNT(&late_mask_after), 1);
        ck_assert_msg(!CPU_EQUAL(&late_mask_after, &late_mask_stopped),
                      "the mask the thread set while pulled was overwritten");
    } else {
        ck_assert_msg(CPU_EQUAL(&late_mask_after, &late_mask_before),
                      "the late thread's CPU mask was not given back (%d cpus, had %d)",
                      CPU_COUNT(&late_mask_after), CPU_COUNT(&late_mask_before));
    }
}

/* .sol.pull: a stopped thread that has not answered after the spin is moved
 * onto the stopping thread's CPU, and gets its mask back when the world
 * restarts. */
START_TEST(late_thread_is_pulled_and_given_back_its_mask)
{
    setup(_i);
    late_thread_run(0);
    teardown();
}
END_TEST

START_TEST(mask_set_while_pulled_is_kept)
{
    setup(_i);
    late_thread_run(1);
    teardown();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("stop");
    TCase *tc = tcase_create("stop");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, page_lock_waiter_is_not_signalled, 0, 2);
    tcase_add_loop_test(tc, late_thread_is_pulled_and_given_back_its_mask, 0, 2);
    tcase_add_loop_test(tc, mask_set_while_pulled_is_kept, 0, 2);
    suite_add_tcase(s, tc);
    return test_run(s);
}

/* test_pool.c -- the page pool (src/pool.c). */
#include "config.h"

#include <string.h>

#include "pool.h"
#include "sys.h"
#include "testlib.h"

struct fixture {
    struct vm_space vm;
    struct pagetable pt;
    struct pool pool;
};

static void setup(struct fixture *f, size_t pages, size_t target)
{
    ck_assert_int_eq(vm_create(&f->vm, pages * VM_PAGE_SIZE, NULL), VMGC_OK);
    ck_assert_int_eq(pagetable_create(&f->pt, &f->vm), VMGC_OK);
    ck_assert_int_eq(pool_init(&f->pool, &f->vm, &f->pt, target), VMGC_OK);
}

static void teardown(struct fixture *f)
{
    pool_finish(&f->pool);
    pagetable_destroy(&f->pt);
    vm_destroy(&f->vm);
}

START_TEST(fresh_pages_are_zero_and_recycled_are_dirty)
{
    struct fixture f;
    setup(&f, 64, 64);
    size_t a;
    int zero;
    ck_assert_int_eq(pool_alloc(&f.pool, 4, 0, &a, &zero), VMGC_OK);
    ck_assert_int_eq(zero, 1);
    memset(f.vm.base + a * VM_PAGE_SIZE, 0x5a, 4 * VM_PAGE_SIZE);
    ck_assert_int_eq(pool_release(&f.pool, a, 4), VMGC_OK);
    /* under the target: kept resident, handed out again as dirty */
    size_t b;
    ck_assert_int_eq(pool_alloc(&f.pool, 4, 0, &b, &zero), VMGC_OK);
    ck_assert_int_eq(zero, 0);
    ck_assert_uint_eq(b, a);
    ck_assert_int_eq(pool_release(&f.pool, b, 4), VMGC_OK);
    /* asking for zero pages gets zero pages, whatever the pool holds */
    ck_assert_int_eq(pool_alloc(&f.pool, 64, POOL_NEED_ZERO, &b, &zero), VMGC_OK);
    ck_assert_int_eq(zero, 1);
    for (size_t i = 0; i < 64 * VM_PAGE_SIZE; i += 64)
        ck_assert_int_eq(f.vm.base[b * VM_PAGE_SIZE + i], 0);
    teardown(&f);
}
END_TEST

/* .sol.zero-in-place: a recycled page is zeroed through the mutator view
 * that maps it, so the collector view does not map it too; a page with a
 * protection bit is zeroed through the collector view. */
START_TEST(zero_in_place_leaves_the_collector_view_unmapped)
{
    struct fixture f;
    setup(&f, 64, 64);
    f.pool.zero_in_place = 1;
    size_t a, b;
    int zero;
    ck_assert_int_eq(pool_alloc(&f.pool, 8, 0, &a, &zero), VMGC_OK);
    memset(f.vm.base + a * VM_PAGE_SIZE, 0x77, 8 * VM_PAGE_SIZE);
    ck_assert_int_eq(pool_release(&f.pool, a, 8), VMGC_OK);
    f.pt.desc[a + 3].prot |= PD_WRITTEN; /* any protection bit */
    ck_assert_int_eq(pool_alloc(&f.pool, 8, POOL_NEED_ZERO, &b, &zero), VMGC_OK);
    ck_assert_uint_eq(b, a);
    ck_assert_int_eq(zero, 1);
    for (size_t p = 0; p < 8; p++)
        ck_assert_int_eq(test_page_mapped(f.vm.alias + (b + p) * VM_PAGE_SIZE), p == 3);
    for (size_t i = 0; i < 8 * VM_PAGE_SIZE; i += 64)
        ck_assert_int_eq(f.vm.base[b * VM_PAGE_SIZE + i], 0);
    f.pt.desc[a + 3].prot = 0;
    teardown(&f);
}
END_TEST

/* A restored heap's span: claimed whole from a fresh pool, carved later
 * into its runs with the gaps free (restore.c .sol.claim-span). */
START_TEST(claim_then_carve)
{
    struct fixture f;
    setup(&f, 64, 64);
    ck_assert_int_eq(pool_claim_fresh(&f.pool, 10, 20), VMGC_OK);
    ck_assert_uint_eq(pool_get_stats(&f.pool).allocated_pages, 20);
    /* allocation stays out of the span */
    size_t a;
    int zero;
    ck_assert_int_eq(pool_alloc(&f.pool, 10, 0, &a, &zero), VMGC_OK);
    ck_assert(a + 10 <= 10 || a >= 30);
    ck_assert_int_eq(pool_claim_fresh(&f.pool, 40, 2), VMGC_ESTATE); /* not fresh now */
    struct pool_run bad[] = {{12, 3}, {11, 1}};
    ck_assert_int_eq(pool_carve_run(&f.pool, 10, 20, bad, 2), VMGC_EINVAL);
    struct pool_run out[] = {{8, 3}};
    ck_assert_int_eq(pool_carve_run(&f.pool, 10, 20, out, 1), VMGC_EINVAL);
    ck_assert_int_eq(pool_carve_run(&f.pool, 11, 19, out, 0), VMGC_ESTATE); /* not a run */
    struct pool_run runs[] = {{10, 1}, {12, 3}, {20, 10}};
    ck_assert_int_eq(pool_carve_run(&f.pool, 10, 20, runs, 3), VMGC_OK);
    ck_assert_uint_eq(pool_get_stats(&f.pool).allocated_pages, 10 + 14);
    /* each run is a run now: released whole, and the gaps are allocatable */
    ck_assert_int_eq(pool_release(&f.pool, 12, 3), VMGC_OK);
    ck_assert_int_eq(pool_release(&f.pool, 20, 2), VMGC_ESTATE);
    ck_assert_int_eq(pool_release(&f.pool, 20, 10), VMGC_OK);
    ck_assert_int_eq(pool_release(&f.pool, 10, 1), VMGC_OK);
    ck_assert_int_eq(pool_release(&f.pool, a, 10), VMGC_OK);
    ck_assert_uint_eq(pool_get_stats(&f.pool).allocated_pages, 0);
    ck_assert_int_eq(pool_alloc(&f.pool, 64, POOL_NEED_ZERO, &a, &zero), VMGC_OK); /* all merged */
    teardown(&f);
}
END_TEST

START_TEST(zero_after_release_over_target)
{
    struct fixture f;
    setup(&f, 64, 0); /* target 0: every release returns memory */
    size_t a;
    int zero;
    ck_assert_int_eq(pool_alloc(&f.pool, 8, 0, &a, &zero), VMGC_OK);
    memset(f.vm.base + a * VM_PAGE_SIZE, 0x77, 8 * VM_PAGE_SIZE);
    ck_assert_int_eq(pool_release(&f.pool, a, 8), VMGC_OK);
    struct pool_stats s = pool_get_stats(&f.pool);
    ck_assert_uint_eq(s.punched_pages, 8);
    ck_assert_uint_eq(s.dirty_free_pages, 0);
    for (size_t i = 0; i < 8 * VM_PAGE_SIZE; i += 256) {
        ck_assert_int_eq(f.vm.base[a * VM_PAGE_SIZE + i], 0);
        ck_assert_int_eq(f.vm.alias[a * VM_PAGE_SIZE + i], 0);
    }
    ck_assert_int_eq(pool_alloc(&f.pool, 8, 0, &a, &zero), VMGC_OK);
    ck_assert_int_eq(zero, 1);
    ck_assert_uint_eq(pool_get_stats(&f.pool).zeroed_pages, 0);
    teardown(&f);
}
END_TEST

START_TEST(trim_returns_dirty_runs)
{
    struct fixture f;
    setup(&f, 32, 32);
    size_t a;
    int zero;
    ck_assert_int_eq(pool_alloc(&f.pool, 32, 0, &a, &zero), VMGC_OK);
    memset(f.vm.base, 1, 32 * VM_PAGE_SIZE);
    ck_assert_int_eq(pool_release(&f.pool, a, 32), VMGC_OK);
    ck_assert_uint_eq(pool_get_stats(&f.pool).dirty_free_pages, 32);
    ck_assert_int_eq(pool_trim(&f.pool), VMGC_OK);
    ck_assert_uint_eq(pool_get_stats(&f.pool).dirty_free_pages, 0);
    ck_assert_int_eq(f.vm.base[5 * VM_PAGE_SIZE], 0);
    ck_assert_int_eq(pool_alloc(&f.pool, 32, 0, &a, &zero), VMGC_OK);
    ck_assert_int_eq(zero, 1);
    teardown(&f);
}
END_TEST

static unsigned punch_calls;
static int (*real_fallocate)(int fd, int mode, off_t off, off_t len);

static int counting_fallocate(int fd, int mode, off_t off, off_t len)
{
    punch_calls++;
    return real_fallocate(fd, mode, off, len);
}

/* .sol.trim-to-target: pages released one by one over the target stay
 * resident until the trim, which returns just the excess, in one call for
 * one coalesced run, from the run's tail. */
START_TEST(deferred_release_then_trim_to_target)
{
    struct fixture f;
    setup(&f, 64, 16);
    size_t a;
    int zero;
    ck_assert_int_eq(pool_alloc(&f.pool, 48, 0, &a, &zero), VMGC_OK);
    memset(f.vm.base + a * VM_PAGE_SIZE, 0x5a, 48 * VM_PAGE_SIZE);
    ck_assert_int_eq(pool_split_run(&f.pool, a, 48), VMGC_OK);
    punch_calls = 0;
    real_fallocate = sys.fallocate;
    sys.fallocate = counting_fallocate;
    for (size_t i = 0; i < 8; i++)
        ck_assert_int_eq(pool_release_deferred(&f.pool, a + i, 1), VMGC_OK);
    ck_assert_int_eq(pool_release_deferred(&f.pool, a + 8, 40), VMGC_OK); /* 40 runs at once */
    struct pool_stats s = pool_get_stats(&f.pool);
    ck_assert_uint_eq(s.dirty_free_pages, 48);
    ck_assert_uint_eq(s.punched_pages, 0);
    ck_assert_uint_eq(punch_calls, 0);
    ck_assert_int_eq(pool_trim_to_target(&f.pool), VMGC_OK);
    sys_reset();
    s = pool_get_stats(&f.pool);
    ck_assert_uint_eq(s.dirty_free_pages, 16);
    ck_assert_uint_eq(s.punched_pages, 32);
    ck_assert_uint_eq(punch_calls, 1);
    for (size_t i = 0; i < 48; i++)
        ck_assert_int_eq(f.vm.base[(a + i) * VM_PAGE_SIZE + 100], i < 16 ? 0x5a : 0);
    ck_assert_int_eq(pool_trim_to_target(&f.pool), VMGC_OK); /* at the target: nothing to do */
    ck_assert_uint_eq(pool_get_stats(&f.pool).punched_pages, 32);
    /* both kinds are handed out correctly afterwards */
    ck_assert_int_eq(pool_alloc(&f.pool, 16, 0, &a, &zero), VMGC_OK);
    ck_assert_int_eq(zero, 0);
    ck_assert_int_eq(pool_alloc(&f.pool, 32, 0, &a, &zero), VMGC_OK);
    ck_assert_int_eq(zero, 1);
    teardown(&f);
}
END_TEST

START_TEST(allocation_limit_is_checked_with_the_allocation)
{
    struct fixture f;
    setup(&f, 64, 64);
    pool_set_limit(&f.pool, 10);
    size_t a, b;
    int zero;
    ck_assert_int_eq(pool_alloc(&f.pool, 8, POOL_WITHIN_LIMIT, &a, &zero), VMGC_OK);
    ck_assert_int_eq(pool_alloc(&f.pool, 3, POOL_WITHIN_LIMIT, &b, &zero), VMGC_ENOMEM);
    ck_assert_msg(strstr(vmgc_last_error(), "heap limit of 40960 bytes"), "%s", vmgc_last_error());
    ck_assert_uint_eq(pool_get_stats(&f.pool).allocated_pages, 8);
    /* up to the limit exactly, and past it for a caller exempt from it */
    ck_assert_int_eq(pool_alloc(&f.pool, 2, POOL_WITHIN_LIMIT, &b, &zero), VMGC_OK);
    ck_assert_int_eq(pool_alloc(&f.pool, 3, 0, &b, &zero), VMGC_OK);
    ck_assert_uint_eq(pool_get_stats(&f.pool).allocated_pages, 13);
    teardown(&f);
}
END_TEST

START_TEST(bad_releases_are_refused)
{
    struct fixture f;
    setup(&f, 64, 64);
    size_t a;
    int zero;
    ck_assert_int_eq(pool_alloc(&f.pool, 4, 0, &a, &zero), VMGC_OK);
    ck_assert_int_eq(pool_release(&f.pool, a, 3), VMGC_ESTATE);
    ck_assert_ptr_nonnull(strstr(vmgc_last_error(), "has 4 pages"));
    ck_assert_int_eq(pool_release(&f.pool, a + 1, 2), VMGC_ESTATE);
    ck_assert_ptr_nonnull(strstr(vmgc_last_error(), "not the first page"));
    ck_assert_int_eq(pool_release(&f.pool, a, 4), VMGC_OK);
    ck_assert_int_eq(pool_release(&f.pool, a, 4), VMGC_ESTATE);
    ck_assert_ptr_nonnull(strstr(vmgc_last_error(), "double release"));
    ck_assert_int_eq(pool_release(&f.pool, 60, 10), VMGC_ERANGE);
    ck_assert_int_eq(pool_release(&f.pool, 0, 0), VMGC_ERANGE);
    ck_assert_int_eq(pool_alloc(&f.pool, 0, 0, &a, &zero), VMGC_EINVAL);
    ck_assert_int_eq(pool_alloc(&f.pool, 65, 0, &a, &zero), VMGC_ENOMEM);
    ck_assert_ptr_nonnull(strstr(vmgc_last_error(), "exceeds the heap"));
    teardown(&f);
}
END_TEST

/* A deferred release may take several runs side by side, but only whole
 * ones: a range that ends or starts inside a run releases nothing. */
START_TEST(deferred_release_takes_whole_runs_only)
{
    struct fixture f;
    setup(&f, 64, 64);
    size_t a, b, c, d;
    int zero;
    ck_assert_int_eq(pool_alloc(&f.pool, 3, 0, &a, &zero), VMGC_OK);
    ck_assert_int_eq(pool_alloc(&f.pool, 2, 0, &b, &zero), VMGC_OK);
    ck_assert_int_eq(pool_alloc(&f.pool, 4, 0, &c, &zero), VMGC_OK);
    ck_assert_uint_eq(b, a + 3);
    ck_assert_uint_eq(c, b + 2);
    ck_assert_int_eq(pool_release_deferred(&f.pool, a, 7), VMGC_ESTATE);
    ck_assert_ptr_nonnull(strstr(vmgc_last_error(), "has 4 pages"));
    ck_assert_int_eq(pool_release_deferred(&f.pool, a + 1, 8), VMGC_ESTATE);
    ck_assert_ptr_nonnull(strstr(vmgc_last_error(), "not the first page"));
    ck_assert_uint_eq(pool_get_stats(&f.pool).allocated_pages, 9);
    ck_assert_uint_eq(pool_get_stats(&f.pool).dirty_free_pages, 0);
    ck_assert_int_eq(pool_release_deferred(&f.pool, a, 9), VMGC_OK);
    ck_assert_uint_eq(pool_get_stats(&f.pool).allocated_pages, 0);
    ck_assert_uint_eq(pool_get_stats(&f.pool).dirty_free_pages, 9);
    ck_assert_int_eq(pool_release_deferred(&f.pool, a, 9), VMGC_ESTATE);
    ck_assert_ptr_nonnull(strstr(vmgc_last_error(), "double release"));
    /* one dirty run of 9 now: it is handed out whole, where it was */
    ck_assert_int_eq(pool_alloc(&f.pool, 9, 0, &d, &zero), VMGC_OK);
    ck_assert_uint_eq(d, a);
    ck_assert_int_eq(zero, 0);
    teardown(&f);
}
END_TEST

/* Random allocations and releases; at the end everything coalesces back
 * into one run the size of the heap. */
START_TEST(random_runs_coalesce)
{
    uint64_t seed = test_seed("random_runs_coalesce");
    struct fixture f;
    enum { PAGES = 4096, SLOTS = 300 };
    setup(&f, PAGES, PAGES / 2);
    size_t first[SLOTS], len[SLOTS];
    memset(len, 0, sizeof len);
    unsigned char *owner = calloc(PAGES, 1);
    for (int step = 0; step < 20000; step++) {
        int k = (int)(test_rand(&seed) % SLOTS);
        int zero;
        if (len[k]) {
            for (size_t p = first[k]; p < first[k] + len[k]; p++) {
                ck_assert_int_eq(owner[p], k + 1 > 255 ? 255 : k + 1);
                owner[p] = 0;
            }
            ck_assert_int_eq(pool_release(&f.pool, first[k], len[k]), VMGC_OK);
            len[k] = 0;
        } else {
            size_t n = 1 + test_rand(&seed) % 40;
            unsigned flags = (test_rand(&seed) & 1) ? POOL_NEED_ZERO : 0;
            if (pool_alloc(&f.pool, n, flags, &first[k], &zero) != VMGC_OK)
                continue;
            len[k] = n;
            for (size_t p = first[k]; p < first[k] + n; p++) {
                ck_assert_msg(owner[p] == 0, "page %zu handed out twice", p);
                owner[p] = (unsigned char)(k + 1 > 255 ? 255 : k + 1);
                if (flags & POOL_NEED_ZERO)
                    ck_assert_int_eq(f.vm.base[p * VM_PAGE_SIZE + 100], 0);
                f.vm.base[p * VM_PAGE_SIZE + 100] = 1;
            }
        }
    }
    for (int k = 0; k < SLOTS; k++)
        if (len[k])
            ck_assert_int_eq(pool_release(&f.pool, first[k], len[k]), VMGC_OK);
    ck_assert_int_eq(pool_trim(&f.pool), VMGC_OK);
    size_t all;
    int zero;
    ck_assert_int_eq(pool_alloc(&f.pool, PAGES, 0, &all, &zero), VMGC_OK);
    ck_assert_uint_eq(all, 0);
    ck_assert_int_eq(zero, 1);
    free(owner);
    teardown(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pool");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, fresh_pages_are_zero_and_recycled_are_dirty);
    tcase_add_test(tc, zero_after_release_over_target);
    tcase_add_test(tc, trim_returns_dirty_runs);
    tcase_add_test(tc, deferred_release_then_trim_to_target);
    tcase_add_test(tc, allocation_limit_is_checked_with_the_allocation);
    tcase_add_test(tc, bad_releases_are_refused);
    tcase_add_test(tc, deferred_release_takes_whole_runs_only);
    tcase_add_test(tc, random_runs_coalesce);
    tcase_add_test(tc, claim_then_carve);
    tcase_add_test(tc, zero_in_place_leaves_the_collector_view_unmapped);
    suite_add_tcase(s, tc);
    return test_run(s);
}

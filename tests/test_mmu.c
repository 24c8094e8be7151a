/* test_mmu.c -- the benchmark suite's pause statistics and minimum mutator
 * utilization, on pause timelines whose answers are worked out by hand. */
#include "config.h"

#include "mmu.h"
#include "testlib.h"

#define MS 1000000ull

static void assert_close(double got, double want)
{
    ck_assert_msg(got > want - 1e-9 && got < want + 1e-9, "got %.6f, want %.6f", got, want);
}

START_TEST(no_pauses_is_full_utilization)
{
    assert_close(mmu(NULL, 0, 0, 100 * MS, 1 * MS), 1.0);
    assert_close(mmu(NULL, 0, 0, 100 * MS, 1000 * MS), 1.0);
}
END_TEST

START_TEST(one_pause)
{
    struct pause p[] = {{40 * MS, 2 * MS}}; /* paused 40..42 ms of 0..100 */
    assert_close(mmu(p, 1, 0, 100 * MS, 1 * MS), 0.0);
    assert_close(mmu(p, 1, 0, 100 * MS, 2 * MS), 0.0);
    assert_close(mmu(p, 1, 0, 100 * MS, 4 * MS), 0.5);
    assert_close(mmu(p, 1, 0, 100 * MS, 10 * MS), 0.8);
    assert_close(mmu(p, 1, 0, 100 * MS, 100 * MS), 0.98); /* the whole run */
    assert_close(mmu(p, 1, 0, 100 * MS, 500 * MS), 0.98);
}
END_TEST

START_TEST(two_pauses_share_a_window)
{
    struct pause p[] = {{10 * MS, 1 * MS}, {14 * MS, 1 * MS}}; /* 10..11 and 14..15 */
    assert_close(mmu(p, 2, 0, 100 * MS, 5 * MS), 0.6);    /* 10..15 holds both */
    assert_close(mmu(p, 2, 0, 100 * MS, 10 * MS), 0.8);
    assert_close(mmu(p, 2, 0, 100 * MS, 3 * MS), 2.0 / 3); /* only one fits */
}
END_TEST

START_TEST(pauses_at_the_edges_are_clipped_and_overlaps_merged)
{
    /* 0..2 starts before the run (run is 1..101), 100..103 ends after it,
     * 50..53 and 52..54 overlap: 50..54 */
    struct pause p[] = {{0, 2 * MS}, {50 * MS, 3 * MS}, {52 * MS, 2 * MS}, {100 * MS, 3 * MS}};
    assert_close(mmu(p, 4, 1 * MS, 101 * MS, 4 * MS), 0.0);   /* 50..54 */
    assert_close(mmu(p, 4, 1 * MS, 101 * MS, 8 * MS), 0.5);
    assert_close(mmu(p, 4, 1 * MS, 101 * MS, 2 * MS), 0.0);   /* 1..3 holds 1 ms only; 50..52 */
    assert_close(mmu(p, 4, 1 * MS, 101 * MS, 100 * MS), 0.94); /* 1 + 4 + 1 ms paused */
}
END_TEST

START_TEST(percentiles_by_nearest_rank)
{
    enum { N = 1000 };
    static struct pause p[N];
    for (int i = 0; i < N; i++) {
        p[i].start = (uint64_t)(N - i) * MS; /* reverse order: summarize sorts */
        p[i].length = (uint64_t)(i + 1);
    }
    struct pause_summary s = pause_summarize(p, N);
    ck_assert_uint_eq(s.p50_ns, 500);
    ck_assert_uint_eq(s.p99_ns, 990);
    ck_assert_uint_eq(s.p999_ns, 999);
    ck_assert_uint_eq(s.max_ns, 1000);
    ck_assert_uint_eq(s.total_ns, (uint64_t)N * (N + 1) / 2);
    pause_sort_by_start(p, N);
    ck_assert_uint_eq(p[0].length, N);
    struct pause_summary none = pause_summarize(p, 0);
    ck_assert_uint_eq(none.max_ns, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("mmu");
    TCase *tc = tcase_create("mmu");
    tcase_add_test(tc, no_pauses_is_full_utilization);
    tcase_add_test(tc, one_pause);
    tcase_add_test(tc, two_pauses_share_a_window);
    tcase_add_test(tc, pauses_at_the_edges_are_clipped_and_overlaps_merged);
    tcase_add_test(tc, percentiles_by_nearest_rank);
    suite_add_tcase(s, tc);
    return test_run(s);
}

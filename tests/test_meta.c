/* test_meta.c -- metadata allocation (src/meta.c). */
#include "config.h"

#include <string.h>

#include "meta.h"
#include "testlib.h"

START_TEST(zeroed_and_freed)
{
    unsigned char *p = meta_calloc(1000, 8);
    ck_assert_ptr_nonnull(p);
    for (int i = 0; i < 8000; i++)
        ck_assert_int_eq(p[i], 0);
    memset(p, 1, 8000);
    meta_free(p);
    meta_free(NULL);
}
END_TEST

START_TEST(overflow_is_refused)
{
    ck_assert_ptr_null(meta_calloc((size_t)1 << 40, (size_t)1 << 40));
    ck_assert_ptr_nonnull(strstr(vmgc_last_error(), "metadata"));
}
END_TEST

START_TEST(private_arena)
{
#ifdef VMGC_META_JEMALLOC
    ck_assert_msg(strncmp(meta_allocator_name(), "jemalloc-arena-", 15) == 0,
                  "metadata allocator is %s, expected a private jemalloc arena",
                  meta_allocator_name());
#else
    ck_assert_str_eq(meta_allocator_name(), "libc");
#endif
}
END_TEST

int main(void)
{
    Suite *s = suite_create("meta");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, zeroed_and_freed);
    tcase_add_test(tc, overflow_is_refused);
    tcase_add_test(tc, private_arena);
    suite_add_tcase(s, tc);
    return test_run(s);
}

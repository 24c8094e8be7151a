/* test_arena.c -- heap creation, backend selection, misuse (src/arena.c). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <errno.h>

#include "prot.h"
#include "sys.h"
#include "testlib.h"
#include "trap.h"

#define TRAP_MAX_ARENAS_FOR_TEST TRAP_MAX_ARENAS

START_TEST(environment_selects_backend)
{
    struct arena *a;
    setenv("VMGC_BARRIER", "mprotect", 1);
    struct arena_config cfg = {.reserve_bytes = 1 << 20};
    ck_assert_int_eq(arena_create(&a, &cfg), VMGC_OK);
    ck_assert_str_eq(arena_backend_name(a), "mprotect");
    arena_destroy(a);
    setenv("VMGC_BARRIER", "uffd", 1);
    ck_assert_int_eq(arena_create(&a, &cfg), VMGC_OK);
    ck_assert_str_eq(arena_backend_name(a), "uffd");
    arena_destroy(a);
    setenv("VMGC_BARRIER", "magic", 1);
    ck_assert_int_eq(arena_create(&a, &cfg), VMGC_EINVAL);
    ck_assert_ptr_nonnull(strstr(vmgc_last_error(), "VMGC_BARRIER names barrier backend 'magic'"));
    unsetenv("VMGC_BARRIER");
    /* the best one here is userfaultfd */
    ck_assert_int_eq(arena_create(&a, &cfg), VMGC_OK);
    ck_assert_str_eq(arena_backend_name(a), "uffd");
    arena_destroy(a);
}
END_TEST

static long fail_userfaultfd(int flags)
{
    (void)flags;
    errno = EPERM;
    return -1;
}

START_TEST(unavailable_uffd_is_explained)
{
    struct arena *a;
    struct arena_config cfg = {.reserve_bytes = 1 << 20, .barrier = "uffd"};
    sys.userfaultfd = fail_userfaultfd;
    vmgc_status st = arena_create(&a, &cfg);
    ck_assert_int_eq(st, VMGC_EUNAVAILABLE);
    ck_assert_ptr_nonnull(strstr(vmgc_last_error(), "VMGC_BARRIER=mprotect"));
    /* automatic choice falls back to mprotect */
    unsetenv("VMGC_BARRIER");
    struct arena_config any = {.reserve_bytes = 1 << 20};
    ck_assert_int_eq(arena_create(&a, &any), VMGC_OK);
    sys_reset();
    ck_assert_str_eq(arena_backend_name(a), "mprotect");
    arena_destroy(a);
}
END_TEST

START_TEST(misuse_is_refused)
{
    ck_assert_int_eq(arena_create(NULL, NULL), VMGC_EINVAL);
    struct arena *a = test_arena(_i, 1 << 20);
    size_t first, n;
    ck_assert_int_eq(arena_range(a, a->vm.base, 0, &first, &n), VMGC_EINVAL);
    ck_assert_int_eq(arena_range(a, a->vm.base + a->vm.size, VM_PAGE_SIZE, &first, &n), VMGC_ERANGE);
    ck_assert_int_eq(arena_range(a, a->vm.base, VM_PAGE_SIZE, &first, &n), VMGC_OK);
    ck_assert_int_eq(arena_release_pages(a, a->vm.base, 1), VMGC_ESTATE);
    arena_destroy(a);
}
END_TEST

START_TEST(many_heaps)
{
    struct arena *a[TRAP_MAX_ARENAS_FOR_TEST];
    struct arena_config cfg = {.reserve_bytes = 1 << 20, .barrier = test_backends[_i]};
    for (int k = 0; k < TRAP_MAX_ARENAS_FOR_TEST; k++)
        ck_assert_int_eq(arena_create(&a[k], &cfg), VMGC_OK);
    struct arena *extra;
    ck_assert_int_eq(arena_create(&extra, &cfg), VMGC_ENOMEM);
    ck_assert_ptr_nonnull(strstr(vmgc_last_error(), "too many heaps"));
    for (int k = 0; k < TRAP_MAX_ARENAS_FOR_TEST; k++)
        arena_destroy(a[k]);
    ck_assert_int_eq(arena_create(&extra, &cfg), VMGC_OK);
    arena_destroy(extra);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("arena");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, environment_selects_backend);
    tcase_add_test(tc, unavailable_uffd_is_explained);
    tcase_add_loop_test(tc, misuse_is_refused, 0, 2);
    tcase_add_loop_test(tc, many_heaps, 0, 2);
    suite_add_tcase(s, tc);
    return test_run(s);
}

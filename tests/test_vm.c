/* test_vm.c -- reservation and MAP2 (src/vm.c). */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "sys.h"
#include "testlib.h"
#include "vm.h"

START_TEST(alias_coherence)
{
    struct vm_space vm;
    ck_assert_int_eq(vm_create(&vm, 64 * VM_PAGE_SIZE, NULL), VMGC_OK);
    ck_assert(vm_check(&vm));
    ck_assert_ptr_ne(vm.base, vm.alias);
    for (size_t p = 0; p < 64; p++) {
        vm.base[p * VM_PAGE_SIZE + 7] = (char)(p + 1);
        ck_assert_int_eq(((char *)vm_alias_of(&vm, vm.base))[p * VM_PAGE_SIZE + 7], (char)(p + 1));
        vm.alias[p * VM_PAGE_SIZE + 9] = (char)(p + 3);
        ck_assert_int_eq(vm.base[p * VM_PAGE_SIZE + 9], (char)(p + 3));
    }
    vm_destroy(&vm);
}
END_TEST

START_TEST(punch_reads_zero_in_both_views)
{
    struct vm_space vm;
    ck_assert_int_eq(vm_create(&vm, 16 * VM_PAGE_SIZE, NULL), VMGC_OK);
    memset(vm.base, 0xab, 16 * VM_PAGE_SIZE);
    ck_assert_int_eq(vm_punch(&vm, 4 * VM_PAGE_SIZE, 8 * VM_PAGE_SIZE), VMGC_OK);
    for (size_t i = 0; i < 16 * VM_PAGE_SIZE; i += 512) {
        unsigned char want = (i >= 4 * VM_PAGE_SIZE && i < 12 * VM_PAGE_SIZE) ? 0 : 0xab;
        ck_assert_uint_eq((unsigned char)vm.base[i], want);
        ck_assert_uint_eq((unsigned char)vm.alias[i], want);
    }
    ck_assert_int_eq(vm_punch(&vm, 1, VM_PAGE_SIZE), VMGC_EINVAL);
    ck_assert_int_eq(vm_punch(&vm, 0, 17 * VM_PAGE_SIZE), VMGC_EINVAL);
    vm_destroy(&vm);
}
END_TEST

START_TEST(fixed_base_and_taken_range)
{
    /* find a free range, then ask for it */
    void *probe = mmap(NULL, 1 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(probe, MAP_FAILED);
    munmap(probe, 1 << 20);
    struct vm_space vm, vm2;
    ck_assert_int_eq(vm_create(&vm, 1 << 20, probe), VMGC_OK);
    ck_assert_ptr_eq(vm.base, probe);
    /* the same range again is taken: refused, never overwritten */
    vm.base[0] = 42;
    ck_assert_int_eq(vm_create(&vm2, 1 << 20, probe), VMGC_EBUSY);
    ck_assert_ptr_nonnull(strstr(vmgc_last_error(), "already mapped"));
    ck_assert_int_eq(vm.base[0], 42);
    vm_destroy(&vm);
    ck_assert_int_eq(vm_create(&vm2, 1 << 20, (char *)probe + 1), VMGC_EINVAL);
    ck_assert_ptr_nonnull(strstr(vmgc_last_error(), "not aligned"));
}
END_TEST

START_TEST(bad_sizes)
{
    struct vm_space vm;
    ck_assert_int_eq(vm_create(&vm, 0, NULL), VMGC_EINVAL);
    ck_assert_ptr_nonnull(strstr(vmgc_last_error(), "size is 0"));
    ck_assert_int_eq(vm_create(&vm, (size_t)1 << 50, NULL), VMGC_EINVAL);
    /* a size that is not a page multiple is rounded up */
    ck_assert_int_eq(vm_create(&vm, 100, NULL), VMGC_OK);
    ck_assert_uint_eq(vm.size, VM_PAGE_SIZE);
    vm_destroy(&vm);
}
END_TEST

static void *failing_mmap(void *a, size_t l, int p, int f, int fd, off_t o)
{
    (void)a, (void)l, (void)p, (void)f, (void)fd, (void)o;
    errno = ENOMEM;
    return MAP_FAILED;
}

START_TEST(mmap_failure_is_reported)
{
    struct vm_space vm;
    sys.mmap = failing_mmap;
    vmgc_status st = vm_create(&vm, 1 << 20, NULL);
    sys_reset();
    ck_assert_int_eq(st, VMGC_ENOMEM);
    ck_assert_ptr_nonnull(strstr(vmgc_last_error(), "mutator view"));
}
END_TEST

START_TEST(large_reservation_costs_nothing)
{
    struct vm_space vm;
    ck_assert_int_eq(vm_create(&vm, (size_t)64 << 30, NULL), VMGC_OK);
    vm.base[((size_t)64 << 30) - 1] = 1; /* the last byte is usable */
    ck_assert_int_eq(vm.alias[((size_t)64 << 30) - 1], 1);
    vm_destroy(&vm);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("vm");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, alias_coherence);
    tcase_add_test(tc, punch_reads_zero_in_both_views);
    tcase_add_test(tc, fixed_base_and_taken_range);
    tcase_add_test(tc, bad_sizes);
    tcase_add_test(tc, mmap_failure_is_reported);
    tcase_add_test(tc, large_reservation_costs_nothing);
    suite_add_tcase(s, tc);
    return test_run(s);
}

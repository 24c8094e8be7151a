/* test_pagetable.c -- page descriptors and their lookup (src/pagetable.c). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "pagetable.h"
#include "testlib.h"

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

START_TEST(lookup_at_the_edges)
{
    struct vm_space vm;
    struct pagetable pt;
    ck_assert_int_eq(vm_create(&vm, 1000 * VM_PAGE_SIZE, NULL), VMGC_OK);
    ck_assert_int_eq(pagetable_create(&pt, &vm), VMGC_OK);
    ck_assert_uint_eq(pt.pages, 1000);
    ck_assert_ptr_eq(pagetable_lookup(&pt, vm.base), &pt.desc[0]);
    ck_assert_ptr_eq(pagetable_lookup(&pt, vm.base + VM_PAGE_SIZE - 1), &pt.desc[0]);
    ck_assert_ptr_eq(pagetable_lookup(&pt, vm.base + VM_PAGE_SIZE), &pt.desc[1]);
    ck_assert_ptr_eq(pagetable_lookup(&pt, vm.base + vm.size - 1), &pt.desc[999]);
    ck_assert_ptr_null(pagetable_lookup(&pt, vm.base + vm.size));
    ck_assert_ptr_null(pagetable_lookup(&pt, vm.base - 1));
    ck_assert_ptr_null(pagetable_lookup(&pt, NULL));
    ck_assert_ptr_null(pagetable_lookup(&pt, (void *)UINTPTR_MAX));
    ck_assert_uint_eq(pagetable_index(&pt, vm.base + 5 * VM_PAGE_SIZE + 17), 5);
    ck_assert_ptr_eq(pagetable_page_addr(&pt, 999), vm.base + 999 * VM_PAGE_SIZE);
    /* every descriptor starts in the zero state: free, unprotected */
    ck_assert_uint_eq(pt.desc[500].prot, 0);
    ck_assert_uint_eq(pt.desc[500].pool_state, PD_INTERIOR);
    pagetable_destroy(&pt);
    vm_destroy(&vm);
}
END_TEST

START_TEST(table_is_lazily_touched)
{
    struct vm_space vm;
    struct pagetable pt;
    long before = rss_kib();
    ck_assert_int_eq(vm_create(&vm, (size_t)64 << 30, NULL), VMGC_OK);
    ck_assert_int_eq(pagetable_create(&pt, &vm), VMGC_OK);
    /* 16M descriptors = 512 MiB of table address space ... */
    ck_assert_uint_ge(pt.table_bytes, (size_t)512 << 20);
    /* ... of which touching the two ends costs two pages */
    pt.desc[0].gc_info = 1;
    pt.desc[pt.pages - 1].gc_info = 1;
    long after = rss_kib();
    ck_assert_msg(after - before < 2048, "page table creation cost %ld KiB of RSS", after - before);
    pagetable_destroy(&pt);
    vm_destroy(&vm);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pagetable");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, lookup_at_the_edges);
    tcase_add_test(tc, table_is_lazily_touched);
    suite_add_tcase(s, tc);
    return test_run(s);
}

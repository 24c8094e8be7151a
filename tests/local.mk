# Check suites, one per module.  Suites that depend on the barrier backend
# run every test with both backends.
TEST_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests
TEST_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
TEST_LIBS = libvmgc_core.la $(CHECK_LIBS) $(META_LIBS)

unit_tests = tests/test_vm tests/test_pagetable tests/test_pool tests/test_prot \
	tests/test_trap tests/test_dirty tests/test_meta tests/test_arena
check_PROGRAMS += $(unit_tests)
TESTS += $(unit_tests)
EXTRA_DIST += tests/testlib.h

tests_test_vm_SOURCES = tests/test_vm.c
tests_test_vm_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_vm_CFLAGS = $(TEST_CFLAGS)
tests_test_vm_LDADD = $(TEST_LIBS)
tests_test_pagetable_SOURCES = tests/test_pagetable.c
tests_test_pagetable_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_pagetable_CFLAGS = $(TEST_CFLAGS)
tests_test_pagetable_LDADD = $(TEST_LIBS)
tests_test_pool_SOURCES = tests/test_pool.c
tests_test_pool_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_pool_CFLAGS = $(TEST_CFLAGS)
tests_test_pool_LDADD = $(TEST_LIBS)
tests_test_prot_SOURCES = tests/test_prot.c
tests_test_prot_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_prot_CFLAGS = $(TEST_CFLAGS)
tests_test_prot_LDADD = $(TEST_LIBS)
tests_test_trap_SOURCES = tests/test_trap.c
tests_test_trap_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_trap_CFLAGS = $(TEST_CFLAGS)
tests_test_trap_LDADD = $(TEST_LIBS)
tests_test_dirty_SOURCES = tests/test_dirty.c
tests_test_dirty_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_dirty_CFLAGS = $(TEST_CFLAGS)
tests_test_dirty_LDADD = $(TEST_LIBS)
tests_test_meta_SOURCES = tests/test_meta.c
tests_test_meta_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_meta_CFLAGS = $(TEST_CFLAGS)
tests_test_meta_LDADD = $(TEST_LIBS)
tests_test_arena_SOURCES = tests/test_arena.c
tests_test_arena_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_arena_CFLAGS = $(TEST_CFLAGS)
tests_test_arena_LDADD = $(TEST_LIBS)

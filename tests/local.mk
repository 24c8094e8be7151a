# Check suites, one per module (tests/NAME.c; Automake's default source).
# Suites that depend on the barrier backend run every test with both.
unit_tests = tests/test_vm tests/test_pagetable tests/test_pool tests/test_prot \
	tests/test_trap tests/test_dirty tests/test_meta tests/test_arena tests/test_gc tests/test_rootblock tests/test_stop tests/test_fork tests/test_signal tests/test_sysfail tests/test_hostile tests/test_stress tests/test_pagestate tests/test_checkpoint tests/test_identity tests/test_layout tests/test_roots tests/test_weak tests/test_io tests/test_generations tests/test_mark \
	tests/test_mmu tests/fuzz_image
check_PROGRAMS += $(unit_tests)
TESTS += $(unit_tests)
EXTRA_DIST += tests/testlib.h
tests_test_mmu_SOURCES = tests/test_mmu.c benchmarks/mmu.c benchmarks/mmu.h
tests_test_mmu_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/benchmarks

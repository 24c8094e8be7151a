# Check suites, one per module (tests/NAME.c; Automake's default source).
# Suites that depend on the barrier backend run every test with both.
unit_tests = tests/test_vm tests/test_pagetable tests/test_pool tests/test_prot \
	tests/test_trap tests/test_dirty tests/test_meta tests/test_arena tests/test_gc tests/test_stress tests/test_pagestate
check_PROGRAMS += $(unit_tests)
TESTS += $(unit_tests)
EXTRA_DIST += tests/testlib.h

# Examples: programs that use the public API only, as an embedder would.
noinst_PROGRAMS += examples/imagedemo
examples_imagedemo_LDADD = libvmgc.la

# vmgc-scheme: the example interpreter (doc/design/scheme.md), and the
# same interpreter on Boehm GC for comparison.
scheme_sources = examples/scheme/value.h examples/scheme/scheme.h examples/scheme/mem.h \
	examples/scheme/object.c examples/scheme/error.c examples/scheme/port.c \
	examples/scheme/read.c examples/scheme/print.c examples/scheme/compile.c \
	examples/scheme/eval.c examples/scheme/prim.c examples/scheme/prim_num.c \
	examples/scheme/prim_data.c examples/scheme/prim_table.c examples/scheme/prim_sys.c \
	examples/scheme/main.c examples/scheme/report.c examples/scheme/report.h \
	benchmarks/mmu.c benchmarks/mmu.h benchmarks/procmem.c benchmarks/procmem.h
bin_PROGRAMS += examples/scheme/vmgc-scheme
examples_scheme_vmgc_scheme_SOURCES = $(scheme_sources) examples/scheme/mem_vmgc.c
examples_scheme_vmgc_scheme_LDADD = libvmgc.la -lpthread -lm
# vmgc's public header only, as an embedder builds (and the suite's pause
# arithmetic, benchmarks/mmu.h, for SCHEME_REPORT)
examples_scheme_vmgc_scheme_CPPFLAGS = -I$(top_srcdir)/include -I$(top_srcdir)/benchmarks
if HAVE_BOEHM
bin_PROGRAMS += examples/scheme/vmgc-scheme-boehm
examples_scheme_vmgc_scheme_boehm_SOURCES = $(scheme_sources) examples/scheme/mem_boehm.c
examples_scheme_vmgc_scheme_boehm_LDADD = -lgc -lpthread -lm
examples_scheme_vmgc_scheme_boehm_CPPFLAGS = -I$(top_srcdir)/include -I$(top_srcdir)/benchmarks
endif

# its tests: the programs of examples/scheme/tests run in five configurations
# (run.sh says which), and images saved and restored (image.test)
scheme_tests = examples/scheme/tests/uffd.test examples/scheme/tests/mprotect.test \
	examples/scheme/tests/verify-uffd.test examples/scheme/tests/verify-mprotect.test \
	examples/scheme/tests/image.test
# Not under ThreadSanitizer: Boehm GC stops threads with signals, which TSan
# holds back while a thread is inside an intercepted call, and Boehm then
# aborts ("Signals delivery fails constantly"), in about one run in five
if HAVE_BOEHM
if !TSAN
scheme_tests += examples/scheme/tests/boehm.test
endif
endif
TESTS += $(scheme_tests)
EXTRA_DIST += $(scheme_tests) examples/scheme/tests/boehm.test examples/scheme/tests/run.sh \
	$(scheme_programs)
# every program and expected output (run.sh runs what it finds: list new ones here)
scheme_programs = examples/scheme/tests/basics.scm examples/scheme/tests/basics.out \
	examples/scheme/tests/tables.scm examples/scheme/tests/tables.out \
	examples/scheme/tests/files.scm examples/scheme/tests/files.out \
	examples/scheme/tests/repl-errors.scm examples/scheme/tests/repl-errors.out \
	examples/scheme/tests/vmgc-ephemerons.scm examples/scheme/tests/vmgc-ephemerons.out \
	examples/scheme/bench/gcbench.scm examples/scheme/bench/deriv.scm \
	examples/scheme/bench/destruct.scm examples/scheme/bench/mperm.scm \
	examples/scheme/bench/nboyer.scm examples/scheme/bench/strings.scm \
	examples/scheme/bench/weak-table.scm \
	examples/scheme/bench/binary-trees.scm

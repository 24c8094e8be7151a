# The benchmark suite: workloads on a shared harness (see benchmarks/README.md),
# plus vmprims (VM primitives) and pause (flip pause against live size).
noinst_LTLIBRARIES += benchmarks/libbench.la
benchmarks_libbench_la_SOURCES = benchmarks/harness.c benchmarks/harness.h \
	benchmarks/mmu.c benchmarks/mmu.h benchmarks/procmem.c benchmarks/procmem.h benchmarks/trees.c benchmarks/trees.h
BENCH_LIBS = benchmarks/libbench.la $(LDADD) -lpthread
if HAVE_BOEHM
BENCH_LIBS += -lgc
endif
if HAVE_JEMALLOC
BENCH_LIBS += -ljemalloc
endif

bench_workloads = benchmarks/gcbench benchmarks/binary_trees benchmarks/mt_gcbench \
	benchmarks/gcold benchmarks/mperm benchmarks/alloc
noinst_PROGRAMS += benchmarks/vmprims benchmarks/pause benchmarks/forkcost benchmarks/ckptbench \
	benchmarks/hashcost benchmarks/weakcost benchmarks/deeppause $(bench_workloads)
benchmarks_gcbench_LDADD = $(BENCH_LIBS)
benchmarks_binary_trees_LDADD = $(BENCH_LIBS)
benchmarks_mt_gcbench_LDADD = $(BENCH_LIBS)
benchmarks_gcold_LDADD = $(BENCH_LIBS)
benchmarks_mperm_LDADD = $(BENCH_LIBS)
benchmarks_alloc_LDADD = $(BENCH_LIBS)

EXTRA_DIST += benchmarks/README.md benchmarks/suite.sh benchmarks/summarize.sh benchmarks/plots.gp \
	benchmarks/cktable.sh benchmarks/ckplots.gp

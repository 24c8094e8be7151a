noinst_PROGRAMS += benchmarks/vmprims benchmarks/gcbench benchmarks/pause
benchmarks_gcbench_LDADD = $(LDADD)
if HAVE_BOEHM
benchmarks_gcbench_LDADD += -lgc
endif
EXTRA_DIST += benchmarks/README.md benchmarks/run-gcbench.sh

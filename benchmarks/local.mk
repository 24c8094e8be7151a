noinst_PROGRAMS += benchmarks/vmprims
EXTRA_DIST += benchmarks/README.md

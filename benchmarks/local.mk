noinst_PROGRAMS += benchmarks/vmprims
benchmarks_vmprims_SOURCES = benchmarks/vmprims.c
benchmarks_vmprims_CPPFLAGS = $(AM_CPPFLAGS)
benchmarks_vmprims_LDADD = libvmgc_core.la $(META_LIBS)
EXTRA_DIST += benchmarks/README.md

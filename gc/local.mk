# The collector (policy): reaches the OS only through src/.
libvmgc_core_la_SOURCES += \
	gc/internal.h \
	gc/barrier.c \
	gc/checkpoint.c \
	gc/collector.c \
	gc/drain.c \
	gc/finalize.c \
	gc/fork.c \
	gc/generations.c \
	gc/mark.c \
	gc/heap.c \
	gc/identity.c \
	gc/io.c \
	gc/lookahead.c \
	gc/pages.c \
	gc/restore.c \
	gc/rootblock.c \
	gc/roots.c \
	gc/scan.c \
	gc/threads.c \
	gc/verify.c \
	gc/weak.c

# The VM layer.  libvmgc_core is every object with internal symbols visible
# to the unit tests; libvmgc is the installed library, exporting only the
# public API (-fvisibility=hidden, VMGC_API marks the exports).
noinst_LTLIBRARIES += libvmgc_core.la
libvmgc_core_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
libvmgc_core_la_SOURCES = \
	src/arena.c src/arena.h \
	src/dirty.c src/dirty.h \
	src/error.c src/error.h \
	src/forksnap.c src/forksnap.h \
	src/image.c src/image.h \
	src/imageload.c src/imageload.h \
	src/lock.h \
	src/memlimit.c src/memlimit.h \
	src/meta.c src/meta.h \
	src/pagetable.c src/pagetable.h \
	src/pool.c src/pool.h \
	src/sigchain.c src/sigchain.h \
	src/prot.c src/prot.h \
	src/protmprotect.c \
	src/protuffd.c \
	src/stop.c src/stop.h \
	src/sys.c src/sys.h \
	src/trap.c src/trap.h \
	src/uffd_compat.h \
	src/vm.c src/vm.h
libvmgc_core_la_LIBADD = $(META_LIBS)

lib_LTLIBRARIES += libvmgc.la
libvmgc_la_SOURCES =
libvmgc_la_LIBADD = libvmgc_core.la $(META_LIBS)
libvmgc_la_LDFLAGS = -version-info 0:0:0 $(AM_LDFLAGS)

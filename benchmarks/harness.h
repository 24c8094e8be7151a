/* harness.h -- what every workload of the benchmark suite shares: the
 * system under test (vmgc with either barrier, Boehm GC in both modes,
 * glibc malloc, jemalloc), allocation through it, roots and threads, and the
 * measurements (time, CPU, memory, pauses, minimum mutator utilization).
 *
 * A workload is a main() that calls bench_init(), registers its types,
 * calls bench_start(), does its work, and ends with bench_report().  One
 * system per process, so every run starts from a fresh process and its peak
 * memory is its own.  Design: doc/design/benchmarks.md.
 */
#ifndef VMGC_BENCH_HARNESS_H
#define VMGC_BENCH_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "vmgc.h"
#ifdef HAVE_GC_H
#define GC_THREADS
#define GC_NO_THREAD_REDIRECTS /* threads register themselves: bench_thread_begin */
#include <gc.h>
#endif
#ifdef HAVE_JEMALLOC_JEMALLOC_H
#include <jemalloc/jemalloc.h>
#endif

enum bench_system {
    SYS_VMGC_UFFD,
    SYS_VMGC_MPROTECT,
    SYS_BOEHM,
    SYS_BOEHM_INCREMENTAL,
    SYS_GLIBC,
    SYS_JEMALLOC,
};

extern enum bench_system bench_sys;
extern vmgc_heap *bench_heap;
extern __thread vmgc_thread *bench_me;

/* glibc's own allocator, whatever malloc resolves to in this process
 * (jemalloc is linked in, and its malloc would win). */
void *__libc_malloc(size_t size);
void __libc_free(void *p);

typedef struct bench_type {
    vmgc_type vmgc;
    int has_pointers; /* Boehm: scanned (GC_MALLOC) or not (GC_MALLOC_ATOMIC) */
} bench_type;

/* Parse the common options (--gc SYSTEM, --size quick|full, --pauses FILE,
 * --mmu FILE) and set the system up.  options names the workload's own
 * (space-separated, without "--"), read with bench_option(); any other
 * option ends the process with a message naming it. */
void bench_init(int argc, char **argv, const char *workload, const char *options);

/* --name VALUE, a whole number in [min, max] (else the process ends with a
 * message saying so), or quick or full by --size when not given. */
long bench_option(const char *name, long quick, long full, long min, long max);
int bench_is_gc(void);    /* a collector: frees are no-ops */
int bench_is_vmgc(void);

bench_type bench_type_bitmap(const char *name, uint64_t pointer_words);
bench_type bench_type_all_pointers(const char *name);
bench_type bench_type_no_pointers(const char *name);

/* Precise roots: updated by vmgc when objects move.  Boehm finds them by
 * scanning the data segment and stacks, malloc needs none. */
void bench_roots(void **slots, size_t count);
void bench_roots_remove(void **slots);

/* Every thread that allocates, main included (bench_init attaches main). */
void bench_thread_begin(void);
void bench_thread_end(void);

/* The timed part runs between these. */
void bench_start(void);
double bench_elapsed(void); /* seconds since bench_start */
/* Print the CSV line (see bench_csv_header) with extra as the last field. */
void bench_report(const char *params, double extra);
const char *bench_csv_header(void);

/* Ends the process with the message, for a workload whose result is wrong. */
void bench_fail(const char *what) __attribute__((noreturn));

static inline void *bench_alloc(bench_type type, size_t size)
{
    switch (bench_sys) {
    case SYS_VMGC_UFFD:
    case SYS_VMGC_MPROTECT:
        return vmgc_alloc(bench_me, type.vmgc, size);
#ifdef HAVE_GC_H
    case SYS_BOEHM:
    case SYS_BOEHM_INCREMENTAL:
        return type.has_pointers ? GC_MALLOC(size) : GC_MALLOC_ATOMIC(size);
#endif
#ifdef HAVE_JEMALLOC_JEMALLOC_H
    case SYS_JEMALLOC:
        return mallocx(size, 0);
#endif
    default:
        return __libc_malloc(size);
    }
}

/* Explicit free for the malloc systems; nothing for the collectors or NULL
 * (jemalloc's dallocx does not take NULL). */
static inline void bench_free(void *p)
{
    if (!p)
        return;
    switch (bench_sys) {
    case SYS_GLIBC:
        __libc_free(p);
        break;
#ifdef HAVE_JEMALLOC_JEMALLOC_H
    case SYS_JEMALLOC:
        dallocx(p, 0);
        break;
#endif
    default:
        break;
    }
}

#endif

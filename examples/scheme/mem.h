/* mem.h -- what the interpreter needs from a garbage collector.
 * Two implementations: mem_vmgc.c (vmgc) and mem_boehm.c (Boehm GC), so
 * the same interpreter runs on both.  Design: doc/design/scheme.md ("Memory").
 *
 * The interpreter holds heap objects in C locals freely: both collectors
 * scan the C stack conservatively.  Static C variables that hold objects
 * live in `roots` (scheme.h) and nowhere else.
 */
#ifndef SCHEME_MEM_H
#define SCHEME_MEM_H

#include <stddef.h>
#include <stdint.h>

#include "value.h"

/* Start the collector and run body(arg) on a thread with a large stack
 * that is registered with it; return what body returned.  image: a file to
 * restore the heap from (NULL: a fresh heap); verify_image: check every
 * page of it first (else each page is checked when first touched, and a
 * damaged one then ends the process with a message).  slots/nslots: the
 * static slots the collector keeps (and, with images, saves and restores). */
int mem_run(const char *image, int verify_image, value *slots, size_t nslots,
            int (*body)(void *), void *arg);

/* A zeroed object of type t and bytes (its tag word included), tag set. */
void *mem_alloc(unsigned t, size_t bytes, uint64_t len);

/* A hash of obj's identity, stable for its whole life (objects may move). */
uint64_t mem_identity_hash(value obj);

/* Ephemerons for weak-key tables: key is held weakly; val is kept only
 * while key is reachable from elsewhere.  A dead one reads 0 for both. */
value mem_ephemeron_new(value key, value val);
value mem_ephemeron_key(value eph);
value mem_ephemeron_value(value eph);
void mem_ephemeron_set_value(value eph, value val);

/* A system call is about to read or write [p, p+len) (heap memory the
 * kernel touches directly): keep it accessible until mem_io_end(p). */
void mem_io_begin(const void *p, size_t len);
void mem_io_end(const void *p);

/* The interpreter thread's stack: deep non-tail recursion needs it (a
 * Scheme call is one eval frame, a few hundred bytes; the pages are touched
 * only as deep as the recursion goes).  ThreadSanitizer keeps a shadow stack
 * of at most 65536 frames and stops the process past it: under it, 8 MiB,
 * so that "recursion too deep" comes first.  AddressSanitizer does not clean
 * a stack over 64 MiB when an error longjmps out of it, and reports false
 * overflows after: under it, 32 MiB. */
#if defined(__SANITIZE_THREAD__)
#define INTERPRETER_STACK ((size_t)8 << 20)
#elif defined(__SANITIZE_ADDRESS__)
#define INTERPRETER_STACK ((size_t)32 << 20)
#else
#define INTERPRETER_STACK ((size_t)1 << 30)
#endif

/* The C stack's usable end for overflow checks (error.c): set by
 * stack_limit_init, called first thing on the thread mem_run made. */
extern char *mem_stack_limit;
void stack_limit_init(void);

void mem_collect(void);
uint64_t mem_collections(void);
/* The heap's memory not counted in RSS's anonymous and file parts (vmgc's
 * memfd, counted once), for the footprint (report.c). */
size_t mem_resident_bytes(void);
/* The collector's figures as (name . number) pairs, via cons/intern. */
value mem_stats(void);

/* Images (the vmgc build only; elsewhere they fail with a message).
 * Start saving the heap to path, return 0, or -1 with *err set.  The save
 * continues in the background; mem_image_wait waits for it. */
int mem_image_start(const char *path, const char **err);
/* Wait for the save in progress: 0 and its size in *bytes, 1 when none
 * was in progress, -1 with *err on failure. */
int mem_image_wait(uint64_t *bytes, const char **err);
/* Nonzero when mem_run restored the heap from an image. */
int mem_restored(void);

/* The collector's name, for messages and (gc-stats). */
extern const char *mem_collector_name;

#endif

/* meta.h -- allocation of the collector's own metadata.
 *
 * The collector's structures come from a private jemalloc arena (mallocx with
 * MALLOCX_ARENA, no thread cache), so they never contend with, or fragment,
 * the program's malloc heap.  Configure --with-metadata-malloc=libc uses libc
 * malloc instead.  Not for the trap path.  Design: doc/design/meta.md.
 */
#ifndef VMGC_META_H
#define VMGC_META_H

#include <stddef.h>

/* Zeroed memory, or NULL with an error recorded (VMGC_ENOMEM). */
void *meta_calloc(size_t count, size_t size);
void meta_free(void *p);

/* Which allocator is in use: "jemalloc-arena-N" or "libc". */
const char *meta_allocator_name(void);

#endif

/* vmgc/inline.h -- the allocation fast path, inlined into the caller.
 *
 * A thread allocates by bumping a cursor through a page of its own; only
 * when the page is full (or the object is large) does it call the slow path.
 * Pages come zeroed, so the object is zero but for its header word.
 * Design: doc/design/alloc.md.
 */
#ifndef VMGC_INLINE_H
#define VMGC_INLINE_H

#include <stddef.h>
#include <stdint.h>

/* The first member of every vmgc_thread: the only part the fast path sees.
 * Synchronization: owned by the thread; read by the collector only while
 * the thread is stopped. */
struct vmgc_alloc_buffer {
    char *cursor;
    char *limit;
};

/* The header word before every object: bit 0 forwarded (the collector's),
 * bit 1 identity hash taken at this address, bit 2 the hash is kept in the
 * word after the payload (the object moved since it was hashed), bits 3..22
 * the type, bits 23..63 the size in bytes (doc/design/identity.md). */
#define VMGC_HEADER_BYTES 8u
#define VMGC_HDR_HASHED ((uint64_t)1 << 1)
#define VMGC_HDR_HASH_STORED ((uint64_t)1 << 2)
#define VMGC_TYPE_SHIFT 3
#define VMGC_SIZE_SHIFT 23
/* Objects up to this many bytes (header included) share pages and may
 * move; larger ones get their own pages and never move. */
#define VMGC_SMALL_MAX 2048u

static inline uint64_t vmgc_header_make(vmgc_type type, size_t size)
{
    return ((uint64_t)size << VMGC_SIZE_SHIFT) | ((uint64_t)type << VMGC_TYPE_SHIFT);
}

static inline void *vmgc_alloc(vmgc_thread *thread, vmgc_type type, size_t size)
{
    struct vmgc_alloc_buffer *b = (struct vmgc_alloc_buffer *)thread;
    size_t total = (size + VMGC_HEADER_BYTES + 7) & ~(size_t)7;
    char *p = b ? b->cursor : NULL;
    if (__builtin_expect(b && size <= VMGC_SMALL_MAX && total <= (size_t)(b->limit - p), 1)) {
        b->cursor = p + total;
        *(uint64_t *)p = vmgc_header_make(type, size);
        return p + VMGC_HEADER_BYTES;
    }
    return vmgc_alloc_slow(thread, type, size);
}

#endif

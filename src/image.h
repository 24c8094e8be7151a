/* image.h -- the heap image file: its format, its checksums, and a reader
 * that trusts nothing in it.
 *
 * An image is a header, the pages of a heap (each at its own address in
 * the heap, so nothing is relocated on restore), an index saying which page
 * is where in the file and what it holds, the object types and the named
 * roots.  Every part carries a checksum.  The writer (gc/checkpoint.c)
 * appends pages as a collection finishes them, then writes the index,
 * types, roots and last the header.  The reader validates everything but
 * the pages' contents in image_open, which reads only the small parts; a
 * page's checksum is checked when it is loaded (image_read_page), or for
 * all pages by image_verify_pages.
 * Design: doc/design/image.md.
 */
#ifndef VMGC_IMAGE_H
#define VMGC_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "vmgc.h"

#define IMAGE_MAGIC "VMGCIMG"  /* 8 bytes with the NUL */
#define IMAGE_VERSION 1u
#define IMAGE_DATA_OFFSET 4096u /* the first page; the header is before it */

#if defined(__x86_64__)
#define IMAGE_ARCH "x86_64"
#elif defined(__aarch64__)
#define IMAGE_ARCH "aarch64"
#else
#define IMAGE_ARCH "unknown"
#endif

/* What a page of the image holds (page_desc.space, gc/internal.h). */
enum image_page_kind { IMAGE_SMALL = 1, IMAGE_LARGE_HEAD = 2, IMAGE_LARGE_BODY = 3 };

struct image_header {
    char magic[8];
    uint32_t version;
    uint32_t header_bytes;   /* sizeof(struct image_header) */
    char arch[16];
    uint32_t page_size;
    uint32_t pointer_bytes;
    uint32_t byte_order;     /* 0x01020304 as written */
    uint32_t object_header;  /* VMGC_HEADER_BYTES << 16 | VMGC_SIZE_SHIFT << 8 | VMGC_TYPE_SHIFT */
    uint64_t heap_base;      /* the mutator-view address of page 0 */
    uint64_t reserve_bytes;  /* the heap's reservation */
    uint64_t npages;         /* pages in the image */
    uint64_t data_offset;    /* IMAGE_DATA_OFFSET */
    uint64_t index_offset, index_bytes, index_sum;
    uint64_t types_offset, types_bytes, types_sum, ntypes;
    uint64_t roots_offset, roots_bytes, roots_sum, nroots;
    uint64_t live_bytes;     /* bytes of the pages that hold objects */
    uint64_t saved_at;       /* CLOCK_REALTIME of the checkpoint's pause, ns */
    uint64_t pause_ns;       /* the checkpoint's pause */
    uint64_t reserved[8];
    uint64_t header_sum;     /* over everything above */
};

struct image_index_entry {
    uint32_t page;  /* page number in the heap (address = heap_base + page * page_size) */
    uint32_t kind;  /* enum image_page_kind */
    uint32_t info;  /* small: bytes used; large head: pages in the run; body: 0 */
    uint32_t slot;  /* the page is at data_offset + slot * page_size in the file */
    uint64_t sum;   /* image_hash of the page */
};

/* A type record: id, layout and bitmap, then the name (name_len bytes,
 * no NUL), padded to 8 bytes. */
struct image_type_rec {
    uint32_t id;
    uint32_t layout; /* vmgc_layout | vmgc_weakness << IMAGE_WEAKNESS_SHIFT */
    uint64_t bitmap;
    uint32_t name_len;
    uint32_t fixed_bytes; /* VMGC_LAYOUT_VECTOR, else 0 */
};

/* A root record: the name, then count words (the slots' values as of the
 * checkpoint's pause, NULL or an object in the image). */
struct image_root_rec {
    uint32_t name_len;
    uint32_t zero;
    uint64_t count;
};

/* Checksum of len bytes (any length): 64 bits, four independent lanes of
 * multiply-rotate over 8-byte words, mixed at the end. */
uint64_t image_hash(const void *data, size_t len, uint64_t seed);

/* Write exactly n bytes at off (pwrite, EINTR retried): 0 or an errno
 * value.  Async-signal-safe: the checkpoint writes pages from traps. */
int image_write_at(int fd, const void *buf, size_t n, uint64_t off);

/* The header's own checksum field, computed. */
uint64_t image_header_sum(const struct image_header *hdr);

/* A type or root as read from an image. */
#define IMAGE_WEAKNESS_SHIFT 8

struct image_type {
    uint32_t id;
    vmgc_layout layout;
    vmgc_weakness weakness;
    uint64_t bitmap;
    uint32_t fixed_bytes;
    char *name;
    uint64_t objects, bytes; /* filled by image_count_objects */
};

struct image_root {
    char *name;
    uint64_t count;
    uint64_t *values;
};

/* An image opened for reading.  Owned by the caller; image_close frees it. */
struct image {
    int fd;
    char *path;
    uint64_t file_bytes;
    struct image_header hdr;
    struct image_index_entry *index; /* hdr.npages entries, ascending by page; mapped from
                                        the file (index_mapped bytes) */
    size_t index_mapped;
    struct image_type *types;        /* hdr.ntypes */
    struct image_root *roots;        /* hdr.nroots */
};

/* Open and validate everything but the pages' contents: magic, version,
 * architecture, page size, every offset and length against the file's
 * size, the header's and every section's checksum, and the sections'
 * structure (pages ascending and inside the reservation, large runs whole,
 * slots a permutation, types and roots well formed, every root pointing at
 * the start of... a page of the image or NULL).  Errors (VMGC_EINVAL for a
 * damaged or foreign image, VMGC_ESYSTEM for an I/O failure) name the file
 * and what is wrong; nothing is left open or allocated. */
vmgc_status image_open(const char *path, struct image **out);
void image_close(struct image *img);

/* Read page entry k into buf (page_size bytes) and check its checksum.
 * Async-signal-safe (pread and arithmetic).  Returns 0, or an errno value
 * (EIO for a checksum mismatch, ENODATA for a short read). */
int image_read_page(const struct image *img, size_t k, void *buf);

/* The index entry of heap page `page`, or -1.  Binary search;
 * async-signal-safe. */
long image_find_page(const struct image *img, uint32_t page);

/* Read every page and check its checksum; progress(ctx, done, total) after
 * each megabyte when not NULL.  On the first bad page: VMGC_EINVAL naming it. */
vmgc_status image_verify_pages(const struct image *img,
                               void (*progress)(void *ctx, uint64_t done, uint64_t total),
                               void *ctx);

/* Count the objects of each type (walks every small page and large head;
 * reads the whole image).  Fills types[].objects and .bytes. */
vmgc_status image_count_objects(struct image *img);

#endif

/* image.c -- the image format's checksum and its validating reader.
 * Design: doc/design/image.md.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "image.h"
#include "meta.h"
#include "sys.h"
#include "vm.h"

/* ---- checksum ---- */

#define K1 0x9E3779B185EBCA87ull
#define K2 0xC2B2AE3D27D4EB4Full
#define K3 0x165667B19E3779F9ull

static inline uint64_t rotl(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static inline uint64_t lane(uint64_t acc, uint64_t w)
{
    return rotl(acc + w * K2, 31) * K1;
}

static inline uint64_t word_at(const unsigned char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

/* .sol.hash: four lanes so the multiplies overlap (~10 GB/s here, well
 * above what a disk writes); not cryptographic, it finds damage. */
uint64_t image_hash(const void *data, size_t len, uint64_t seed)
{
    const unsigned char *p = data, *end = p + len;
    uint64_t a = seed + K1 + K2, b = seed + K2, c = seed, d = seed - K1;
    while (end - p >= 32) {
        a = lane(a, word_at(p));
        b = lane(b, word_at(p + 8));
        c = lane(c, word_at(p + 16));
        d = lane(d, word_at(p + 24));
        p += 32;
    }
    uint64_t h = rotl(a, 1) + rotl(b, 7) + rotl(c, 12) + rotl(d, 18) + (uint64_t)len;
    while (end - p >= 8) {
        h = rotl(h ^ lane(0, word_at(p)), 27) * K1 + K3;
        p += 8;
    }
    while (p < end)
        h = rotl(h ^ (*p++ * K3), 11) * K1;
    h ^= h >> 33;
    h *= K2;
    h ^= h >> 29;
    h *= K3;
    h ^= h >> 32;
    return h;
}

uint64_t image_header_sum(const struct image_header *hdr)
{
    return image_hash(hdr, offsetof(struct image_header, header_sum), 0x486472);
}

/* ---- reading ---- */

static vmgc_status bad(const struct image *img, const char *what)
{
    return error_set(VMGC_EINVAL, "image %s is not a usable vmgc image: %s", img->path, what);
}

/* Read exactly n bytes at off; 0 or an errno value (ENODATA: short). */
static int read_at(int fd, void *buf, size_t n, uint64_t off)
{
    char *p = buf;
    while (n) {
        ssize_t r = sys.pread(fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return errno;
        if (r == 0)
            return ENODATA;
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

int image_write_at(int fd, const void *buf, size_t n, uint64_t off)
{
    const char *p = buf;
    while (n) {
        ssize_t w = sys.pwrite(fd, p, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return errno;
        if (w == 0)
            return EIO;
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

/* A section [off, off+len) lies inside the file, after the header and
 * clear of the page data. */
static int section_ok(const struct image *img, uint64_t off, uint64_t len)
{
    uint64_t data_end = img->hdr.data_offset + img->hdr.npages * img->hdr.page_size;
    return off >= data_end && len <= img->file_bytes && off <= img->file_bytes - len;
}

/* Read a checksummed section into fresh memory (len + 1 bytes, the last 0). */
static vmgc_status read_section(struct image *img, const char *name, uint64_t off, uint64_t len,
                                uint64_t sum, char **out)
{
    *out = NULL;
    if (!section_ok(img, off, len))
        return error_set(VMGC_EINVAL,
                         "image %s is not a usable vmgc image: its %s section (%llu bytes at "
                         "%llu) lies outside the file of %llu bytes (truncated?)",
                         img->path, name, (unsigned long long)len, (unsigned long long)off,
                         (unsigned long long)img->file_bytes);
    char *buf = meta_calloc(len + 1, 1);
    if (!buf)
        return error_set(VMGC_ENOMEM, "no memory to read the %s section of image %s", name,
                         img->path);
    int err = read_at(img->fd, buf, len, off);
    if (err) {
        meta_free(buf);
        return error_sys("reading an image section", err);
    }
    if (image_hash(buf, len, 0x5ec) != sum) {
        meta_free(buf);
        return error_set(VMGC_EINVAL,
                         "image %s is damaged: the checksum of its %s section does not match",
                         img->path, name);
    }
    *out = buf;
    return VMGC_OK;
}

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

/* .sol.map-index: the index is mapped from the file, not read into fresh
 * memory: for 1 GiB it is 6 MiB, and copying it into pages that each take a
 * fault was half of a warm restore (restore to usable 5.6 ms -> see
 * checkpoint.md).  It starts at the end of the page data, so page-aligned
 * (.sol.exact-layout). */
static vmgc_status map_index(struct image *img)
{
    const struct image_header *h = &img->hdr;
    if (!h->index_bytes)
        return VMGC_OK;
    void *p = sys.mmap(NULL, h->index_bytes, PROT_READ, MAP_PRIVATE, img->fd,
                       (off_t)h->index_offset);
    if (p == MAP_FAILED)
        return error_sys("mapping an image's index (mmap)", errno);
    /* .sol.index-readahead: cold, populating the mapping read the file a
     * readahead window at a time, each waited for (restore of 1 GiB: 10-13
     * ms); asking for all of it first lets the disk read it in one go (7-8
     * ms).  Both best effort: the checksum below reads it anyway. */
    (void)sys.madvise(p, h->index_bytes, MADV_WILLNEED);
    (void)sys.madvise(p, h->index_bytes, MADV_POPULATE_READ);
    img->index = p;
    img->index_mapped = h->index_bytes;
    if (image_hash(p, h->index_bytes, 0x5ec) != h->index_sum)
        return error_set(VMGC_EINVAL,
                         "image %s is damaged: the checksum of its index section does not match",
                         img->path);
    return VMGC_OK;
}

static vmgc_status check_header(struct image *img)
{
    const struct image_header *h = &img->hdr;
    if (memcmp(h->magic, IMAGE_MAGIC, 8) != 0)
        return bad(img, "wrong magic (not an image written by vmgc)");
    if (h->version != IMAGE_VERSION)
        return error_set(VMGC_EINVAL,
                         "image %s has format version %u; this vmgc reads version %u only",
                         img->path, h->version, IMAGE_VERSION);
    if (h->header_bytes != sizeof *h)
        return bad(img, "its header size does not match its version");
    if (image_header_sum(h) != h->header_sum)
        return error_set(VMGC_EINVAL, "image %s is damaged: the header's checksum does not match",
                         img->path);
    char arch[sizeof h->arch + 1];
    memcpy(arch, h->arch, sizeof h->arch);
    arch[sizeof h->arch] = '\0';
    if (strcmp(arch, IMAGE_ARCH) != 0 || h->pointer_bytes != sizeof(void *) ||
        h->byte_order != 0x01020304u)
        return error_set(VMGC_EINVAL,
                         "image %s was written on another architecture (%s, %u-byte pointers%s); "
                         "this is %s with %zu-byte pointers",
                         img->path, arch, h->pointer_bytes,
                         h->byte_order != 0x01020304u ? ", other byte order" : "", IMAGE_ARCH,
                         sizeof(void *));
    if (h->page_size != VM_PAGE_SIZE)
        return error_set(VMGC_EINVAL, "image %s has %u-byte pages; this vmgc uses %u-byte pages",
                         img->path, h->page_size, (unsigned)VM_PAGE_SIZE);
    uint32_t objhdr = VMGC_HEADER_BYTES << 16 | VMGC_SIZE_SHIFT << 8 | VMGC_TYPE_SHIFT;
    if (h->object_header != objhdr)
        return bad(img, "its object header layout differs from this vmgc's");
    if (h->data_offset != IMAGE_DATA_OFFSET || (h->heap_base & VM_PAGE_MASK) ||
        (h->reserve_bytes & VM_PAGE_MASK) || h->reserve_bytes == 0 ||
        h->reserve_bytes >> VM_PAGE_SHIFT > UINT32_MAX ||
        h->heap_base + h->reserve_bytes < h->heap_base)
        return bad(img, "its heap range or data offset is malformed");
    uint64_t pages = h->reserve_bytes >> VM_PAGE_SHIFT;
    if (h->npages > pages || h->ntypes >= (1u << 20) || h->nroots > (1u << 20))
        return bad(img, "it claims more pages, types or roots than a heap can hold");
    if (h->data_offset + h->npages * h->page_size > img->file_bytes)
        return error_set(VMGC_EINVAL,
                         "image %s is truncated: %llu pages of data need %llu bytes, the file "
                         "has %llu",
                         img->path, (unsigned long long)h->npages,
                         (unsigned long long)(h->data_offset + h->npages * h->page_size),
                         (unsigned long long)img->file_bytes);
    if (h->index_bytes != h->npages * sizeof(struct image_index_entry))
        return bad(img, "its index size does not match its page count");
    /* .sol.exact-layout: the sections follow the pages back to back and end
     * the file, so no byte is outside every checksum */
    uint64_t data_end = h->data_offset + h->npages * h->page_size;
    if (h->index_offset != data_end || h->types_offset != h->index_offset + h->index_bytes ||
        h->types_bytes > img->file_bytes || h->roots_bytes > img->file_bytes ||
        h->roots_offset != h->types_offset + h->types_bytes ||
        h->roots_offset + h->roots_bytes != img->file_bytes)
        return error_set(VMGC_EINVAL,
                         "image %s is not a usable vmgc image: its sections do not follow the "
                         "pages back to back up to the end of the file (%llu bytes; truncated, "
                         "or something appended?)",
                         img->path, (unsigned long long)img->file_bytes);
    return VMGC_OK;
}

static vmgc_status check_index(struct image *img)
{
    const struct image_header *h = &img->hdr;
    uint64_t pages = h->reserve_bytes >> VM_PAGE_SHIFT;
    uint8_t *seen = meta_calloc(h->npages ? h->npages : 1, 1);
    if (!seen)
        return VMGC_ENOMEM;
    vmgc_status st = VMGC_OK;
    uint32_t body_left = 0;
    for (uint64_t k = 0; k < h->npages && st == VMGC_OK; k++) {
        const struct image_index_entry *e = &img->index[k];
        if (e->page >= pages || (k && e->page <= img->index[k - 1].page))
            st = bad(img, "its page index is not ascending or leaves the heap");
        else if (e->slot >= h->npages || seen[e->slot]++)
            st = bad(img, "its page index names a data slot twice or out of range");
        else if (body_left) {
            if (e->kind != IMAGE_LARGE_BODY || e->page != img->index[k - 1].page + 1 || e->info)
                st = bad(img, "a large object's pages are not all in the image");
            body_left--;
        } else if (e->kind == IMAGE_SMALL) {
            if (e->info > VM_PAGE_SIZE)
                st = bad(img, "a small page claims more bytes than a page has");
        } else if (e->kind == IMAGE_LARGE_HEAD) {
            if (e->info < 1 || e->info > pages)
                st = bad(img, "a large object has a malformed page count");
            body_left = e->info - 1;
        } else {
            st = bad(img, "a page of an unknown kind, or a large object's page without its head");
        }
    }
    if (st == VMGC_OK && body_left)
        st = bad(img, "the last large object's pages are not all in the image");
    meta_free(seen);
    return st;
}

static int pad8(uint64_t n)
{
    return (int)((8 - (n & 7)) & 7);
}

static vmgc_status parse_types(struct image *img, const char *buf)
{
    const struct image_header *h = &img->hdr;
    img->types = meta_calloc(h->ntypes ? h->ntypes : 1, sizeof *img->types);
    if (!img->types)
        return VMGC_ENOMEM;
    uint64_t at = 0;
    for (uint64_t k = 0; k < h->ntypes; k++) {
        struct image_type_rec r;
        if (h->types_bytes - at < sizeof r)
            return bad(img, "its type section ends inside a record");
        memcpy(&r, buf + at, sizeof r);
        at += sizeof r;
        uint32_t weakness = r.layout >> IMAGE_WEAKNESS_SHIFT;
        r.layout &= (1u << IMAGE_WEAKNESS_SHIFT) - 1;
        if (r.id != k + 1 || r.layout > VMGC_LAYOUT_VECTOR || weakness > VMGC_EPHEMERON ||
            r.name_len == 0 ||
            (r.layout == VMGC_LAYOUT_VECTOR ? r.fixed_bytes % 8 || r.fixed_bytes > 512
                                             : r.fixed_bytes != 0) ||
            r.name_len > 4096 || h->types_bytes - at < r.name_len + (uint64_t)pad8(r.name_len))
            return bad(img, "a type record is malformed");
        if (memchr(buf + at, '\0', r.name_len))
            return bad(img, "a type name holds a NUL byte");
        struct image_type *t = &img->types[k];
        t->id = r.id;
        t->layout = (vmgc_layout)r.layout;
        t->weakness = (vmgc_weakness)weakness;
        t->bitmap = r.bitmap;
        t->fixed_bytes = r.fixed_bytes;
        t->name = meta_calloc(r.name_len + 1, 1);
        if (!t->name)
            return VMGC_ENOMEM;
        memcpy(t->name, buf + at, r.name_len);
        at += r.name_len + (uint64_t)pad8(r.name_len);
    }
    if (at != h->types_bytes)
        return bad(img, "its type section has bytes after the last type");
    return VMGC_OK;
}

/* A root's value inside the heap's range is an object on a page of the
 * image; one outside it is not a pointer (NULL, or a tagged immediate such
 * as an interpreter's fixnum), and the collector leaves it alone. */
static int value_ok(const struct image *img, uint64_t v)
{
    if (v < img->hdr.heap_base || v - img->hdr.heap_base >= img->hdr.reserve_bytes)
        return 1;
    if (v & 7)
        return 0;
    return image_find_page(img, (uint32_t)((v - img->hdr.heap_base) >> VM_PAGE_SHIFT)) >= 0;
}

static vmgc_status parse_roots(struct image *img, const char *buf)
{
    const struct image_header *h = &img->hdr;
    img->roots = meta_calloc(h->nroots ? h->nroots : 1, sizeof *img->roots);
    if (!img->roots)
        return VMGC_ENOMEM;
    uint64_t at = 0;
    for (uint64_t k = 0; k < h->nroots; k++) {
        struct image_root_rec r;
        if (h->roots_bytes - at < sizeof r)
            return bad(img, "its root section ends inside a record");
        memcpy(&r, buf + at, sizeof r);
        at += sizeof r;
        uint64_t name_room = r.name_len + (uint64_t)pad8(r.name_len);
        if (r.name_len == 0 || r.name_len > 4096 || r.count == 0 ||
            r.count > (h->roots_bytes - at) / 8 || h->roots_bytes - at < name_room + r.count * 8)
            return bad(img, "a root record is malformed");
        if (memchr(buf + at, '\0', r.name_len))
            return bad(img, "a root name holds a NUL byte");
        struct image_root *t = &img->roots[k];
        t->name = meta_calloc(r.name_len + 1, 1);
        t->values = meta_calloc(r.count, 8);
        if (!t->name || !t->values)
            return VMGC_ENOMEM;
        memcpy(t->name, buf + at, r.name_len);
        at += name_room;
        memcpy(t->values, buf + at, r.count * 8);
        at += r.count * 8;
        t->count = r.count;
        for (uint64_t i = 0; i < r.count; i++)
            if (!value_ok(img, t->values[i]))
                return error_set(VMGC_EINVAL,
                                 "image %s is not a usable vmgc image: root '%s' slot %llu points "
                                 "outside the image's pages",
                                 img->path, t->name, (unsigned long long)i);
        for (uint64_t j = 0; j < k; j++)
            if (strcmp(img->roots[j].name, t->name) == 0)
                return bad(img, "two roots have the same name");
    }
    if (at != h->roots_bytes)
        return bad(img, "its root section has bytes after the last root");
    return VMGC_OK;
}

static vmgc_status open_checked(struct image *img)
{
    struct stat st;
    if (sys.fstat(img->fd, &st) != 0)
        return error_sys("fstat of an image", errno);
    img->file_bytes = (uint64_t)st.st_size;
    if (img->file_bytes < sizeof img->hdr)
        return error_set(VMGC_EINVAL,
                         "image %s is not a usable vmgc image: %llu bytes is shorter than a header",
                         img->path, (unsigned long long)img->file_bytes);
    int err = read_at(img->fd, &img->hdr, sizeof img->hdr, 0);
    if (err)
        return error_sys("reading an image's header", err);
    vmgc_status s = check_header(img);
    if (s != VMGC_OK)
        return s;
    /* the rest of the first page is zero: no byte of the file goes unchecked */
    char rest[IMAGE_DATA_OFFSET - sizeof img->hdr];
    if ((err = read_at(img->fd, rest, sizeof rest, sizeof img->hdr)) != 0)
        return error_sys("reading an image's header page", err);
    for (size_t k = 0; k < sizeof rest; k++)
        if (rest[k])
            return error_set(VMGC_EINVAL, "image %s is damaged: its header page has non-zero "
                                          "bytes after the header (at offset %zu)",
                             img->path, sizeof img->hdr + k);
    char *buf;
    const struct image_header *h = &img->hdr;
    if ((s = map_index(img)) != VMGC_OK || (s = check_index(img)) != VMGC_OK)
        return s;
    s = read_section(img, "types", h->types_offset, h->types_bytes, h->types_sum, &buf);
    if (s != VMGC_OK)
        return s;
    s = parse_types(img, buf);
    meta_free(buf);
    if (s != VMGC_OK)
        return s;
    s = read_section(img, "roots", h->roots_offset, h->roots_bytes, h->roots_sum, &buf);
    if (s != VMGC_OK)
        return s;
    s = parse_roots(img, buf);
    meta_free(buf);
    return s;
}

vmgc_status image_open(const char *path, struct image **out)
{
    *out = NULL;
    if (!path || !*path)
        return error_set(VMGC_EINVAL, "no image path given");
    struct image *img = meta_calloc(1, sizeof *img);
    size_t len = strlen(path);
    char *p = img ? meta_calloc(len + 1, 1) : NULL;
    if (!p) {
        meta_free(img);
        return error_set(VMGC_ENOMEM, "no memory to open image %s", path);
    }
    memcpy(p, path, len);
    img->path = p;
    img->fd = sys.open(path, O_RDONLY | O_CLOEXEC);
    if (img->fd < 0) {
        int err = errno;
        vmgc_status s = error_set(VMGC_ESYSTEM, "cannot open image %s: %s", path, strerror(err));
        image_close(img);
        return s;
    }
    vmgc_status s = open_checked(img);
    if (s != VMGC_OK) {
        image_close(img);
        return s;
    }
    *out = img;
    return VMGC_OK;
}

void image_close(struct image *img)
{
    if (!img)
        return;
    if (img->fd >= 0)
        sys.close(img->fd);
    for (uint64_t k = 0; img->types && k < img->hdr.ntypes; k++)
        meta_free(img->types[k].name);
    for (uint64_t k = 0; img->roots && k < img->hdr.nroots; k++) {
        meta_free(img->roots[k].name);
        meta_free(img->roots[k].values);
    }
    meta_free(img->types);
    meta_free(img->roots);
    if (img->index_mapped)
        sys.munmap(img->index, img->index_mapped);
    meta_free(img->path);
    meta_free(img);
}

int image_read_page(const struct image *img, size_t k, void *buf)
{
    const struct image_index_entry *e = &img->index[k];
    int err = read_at(img->fd, buf, VM_PAGE_SIZE,
                      img->hdr.data_offset + (uint64_t)e->slot * VM_PAGE_SIZE);
    if (err)
        return err;
    return image_hash(buf, VM_PAGE_SIZE, e->page) == e->sum ? 0 : EIO;
}

long image_find_page(const struct image *img, uint32_t page)
{
    size_t lo = 0, hi = img->hdr.npages;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint32_t p = img->index[mid].page;
        if (p == page)
            return (long)mid;
        if (p < page)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

vmgc_status image_verify_pages(const struct image *img,
                               void (*progress)(void *ctx, uint64_t done, uint64_t total),
                               void *ctx)
{
    char *buf = meta_calloc(1, VM_PAGE_SIZE);
    if (!buf)
        return VMGC_ENOMEM;
    vmgc_status st = VMGC_OK;
    uint64_t total = img->hdr.npages * VM_PAGE_SIZE;
    for (uint64_t k = 0; k < img->hdr.npages && st == VMGC_OK; k++) {
        int err = image_read_page(img, k, buf);
        if (err == EIO)
            st = error_set(VMGC_EINVAL,
                           "image %s is damaged: page %u (heap address 0x%llx, file offset %llu) "
                           "does not match its checksum",
                           img->path, img->index[k].page,
                           (unsigned long long)(img->hdr.heap_base +
                                                ((uint64_t)img->index[k].page << VM_PAGE_SHIFT)),
                           (unsigned long long)(img->hdr.data_offset +
                                                (uint64_t)img->index[k].slot * VM_PAGE_SIZE));
        else if (err)
            st = error_sys("reading an image page", err);
        if (progress && ((k + 1) % 256 == 0 || k + 1 == img->hdr.npages))
            progress(ctx, (k + 1) * VM_PAGE_SIZE, total);
    }
    meta_free(buf);
    return st;
}

static vmgc_status count_page(struct image *img, size_t k, const char *buf)
{
    const struct image_index_entry *e = &img->index[k];
    size_t used = e->kind == IMAGE_SMALL ? e->info : VMGC_HEADER_BYTES * 2;
    for (size_t off = 0; off + VMGC_HEADER_BYTES <= used;) {
        uint64_t hd;
        memcpy(&hd, buf + off, 8);
        if (hd == 0)
            break;
        uint32_t type = (uint32_t)(hd >> VMGC_TYPE_SHIFT) & ((1u << 20) - 1);
        uint64_t size = hd >> VMGC_SIZE_SHIFT;
        /* a hole: a dead object a mark cycle left on a page kept in place
         * (gc/internal.h hdr_make_hole, doc/design/mark.md .sol.hole) */
        int hole = !(hd & 1) && type == 0 && (hd & VMGC_HDR_HASHED);
        if (hole && e->kind == IMAGE_SMALL) {
            off += VMGC_HEADER_BYTES + ((size + 7) & ~(uint64_t)7);
            continue;
        }
        if ((hd & 1) || type == 0 || type > img->hdr.ntypes)
            return error_set(VMGC_EINVAL,
                             "image %s: page %u holds an object header naming no type of the "
                             "image at offset %zu",
                             img->path, e->page, off);
        img->types[type - 1].objects++;
        img->types[type - 1].bytes += size;
        if (e->kind != IMAGE_SMALL)
            break;
        off += VMGC_HEADER_BYTES + ((size + 7) & ~(uint64_t)7) +
               ((hd & VMGC_HDR_HASH_STORED) ? VMGC_HEADER_BYTES : 0);
    }
    return VMGC_OK;
}

vmgc_status image_count_objects(struct image *img)
{
    char *buf = meta_calloc(1, VM_PAGE_SIZE);
    if (!buf)
        return VMGC_ENOMEM;
    vmgc_status st = VMGC_OK;
    for (uint64_t k = 0; k < img->hdr.npages && st == VMGC_OK; k++) {
        if (img->index[k].kind == IMAGE_LARGE_BODY)
            continue;
        int err = image_read_page(img, k, buf);
        if (err)
            st = err == EIO ? error_set(VMGC_EINVAL, "image %s is damaged: page %u does not match "
                                                     "its checksum",
                                        img->path, img->index[k].page)
                            : error_sys("reading an image page", err);
        else
            st = count_page(img, k, buf);
    }
    meta_free(buf);
    return st;
}

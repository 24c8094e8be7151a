/* fuzz_image.c -- a fuzz target for the image reader (src/image.c).
 *
 * fuzz_one() feeds one candidate file to image_open and, when accepted, to
 * image_verify_pages and image_count_objects: whatever the bytes, the
 * reader must refuse them with a message or read them, never crash, hang or
 * touch memory it does not own (run under AddressSanitizer to check that).
 *
 * Two drivers:
 *  - built with -DVMGC_LIBFUZZER and clang's -fsanitize=fuzzer
 *    (scripts/fuzz.sh), libFuzzer calls LLVMFuzzerTestOneInput, and its
 *    mutations go through a custom mutator that fixes the checksums every
 *    other time (below);
 *  - otherwise (make check) main() is a mutation loop of its own: it saves a
 *    real image (a list, a large object, two named roots), then mutates it
 *    for $FUZZ_SECONDS (default 10) seconds: bit flips, byte stores, cuts,
 *    copies of a chunk elsewhere, and header fields set to edge values.
 *    Half the candidates get their checksums recomputed, so the mutation
 *    reaches the structural checks behind them instead of stopping at the
 *    first checksum.  It prints the executions and how many candidates were
 *    accepted, and fails only on a crash (the process dies) or when the
 *    untouched image is refused.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "image.h"
#include "vmgc.h"

static int fuzz_one(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz-image", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t at = 0;
    while (at < size) {
        ssize_t w = write(fd, data + at, size - at);
        if (w <= 0)
            break;
        at += (size_t)w;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    struct image *img;
    int accepted = image_open(path, &img) == VMGC_OK;
    if (accepted) {
        if (image_verify_pages(img, NULL, NULL) == VMGC_OK)
            (void)image_count_objects(img);
        image_close(img);
    }
    close(fd);
    return accepted;
}

/* Recompute every checksum the candidate's (possibly mutated) header
 * points at, where the parts lie inside it. */
static void fix_sums(uint8_t *buf, size_t size)
{
    if (size < sizeof(struct image_header))
        return;
    struct image_header h;
    memcpy(&h, buf, sizeof h);
    uint64_t *sums[3] = {&h.index_sum, &h.types_sum, &h.roots_sum};
    uint64_t offs[3] = {h.index_offset, h.types_offset, h.roots_offset};
    uint64_t lens[3] = {h.index_bytes, h.types_bytes, h.roots_bytes};
    for (int k = 0; k < 3; k++)
        if (offs[k] <= size && lens[k] <= size - offs[k])
            *sums[k] = image_hash(buf + offs[k], lens[k], 0x5ec);
    h.header_sum = image_header_sum(&h);
    memcpy(buf, &h, sizeof h);
}

#ifdef VMGC_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)fuzz_one(data, size);
    return 0;
}

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

/* libFuzzer's mutation, then (every other time) the checksums made right,
 * so the structural checks behind them are reached too. */
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    size = LLVMFuzzerMutate(data, size, max_size);
    if (seed & 1)
        fix_sums(data, size);
    return size;
}
#else

struct node {
    struct node *next;
    uint64_t value;
};

/* A real image to start from, read into memory. */
static uint8_t *seed_image(size_t *size)
{
    char path[] = "/tmp/vmgc-fuzz-XXXXXX";
    int tfd = mkstemp(path);
    if (tfd < 0)
        return NULL;
    close(tfd);
    vmgc_config c;
    vmgc_config_init(&c);
    c.reserve_bytes = (size_t)1 << 30;
    c.no_background = 1;
    vmgc_heap *h;
    vmgc_thread *t;
    if (vmgc_heap_create(&h, &c) != VMGC_OK || vmgc_thread_attach(h, &t) != VMGC_OK)
        return NULL;
    vmgc_type_desc nd = {.name = "node", .layout = VMGC_LAYOUT_BITMAP, .bitmap = 1};
    vmgc_type_desc vd = {.name = "vector", .layout = VMGC_LAYOUT_ALL_POINTERS};
    vmgc_type tn, tv;
    vmgc_type_register(h, &nd, &tn);
    vmgc_type_register(h, &vd, &tv);
    static void *roots[2];
    vmgc_root_add_named(h, "list", roots, 1);
    vmgc_root_add_named(h, "vector", roots + 1, 1);
    for (int i = 0; i < 2000; i++) {
        struct node *n = vmgc_alloc(t, tn, sizeof *n);
        n->next = roots[0];
        n->value = (uint64_t)i;
        roots[0] = n;
    }
    void **v = vmgc_alloc(t, tv, 600 * sizeof(void *));
    roots[1] = v;
    v[0] = roots[0];
    vmgc_checkpoint *ck;
    if (vmgc_checkpoint_start(h, path, &ck) != VMGC_OK || vmgc_checkpoint_wait(ck, NULL) != VMGC_OK)
        return NULL;
    vmgc_thread_detach(t);
    vmgc_heap_destroy(h);
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(*size);
    if (fread(buf, 1, *size, f) != *size)
        return NULL;
    fclose(f);
    unlink(path);
    return buf;
}

static uint64_t rnd(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dull;
}

static size_t mutate(uint8_t *buf, size_t size, size_t cap, uint64_t *s)
{
    unsigned n = 1 + (unsigned)(rnd(s) % 4);
    for (unsigned k = 0; k < n && size; k++) {
        /* half the time in the header and sections, where the structure is */
        size_t pos = rnd(s) % 2 && size > sizeof(struct image_header)
                         ? (rnd(s) % 2 ? rnd(s) % sizeof(struct image_header)
                                       : size - 1 - rnd(s) % (size < 8192 ? size : 8192))
                         : rnd(s) % size;
        switch (rnd(s) % 6) {
        case 0:
            buf[pos] ^= (uint8_t)(1u << (rnd(s) % 8));
            break;
        case 1:
            buf[pos] = (uint8_t)rnd(s);
            break;
        case 2: { /* an edge value in an aligned word */
            static const uint64_t edges[] = {0, 1, 0xffffffffu, 0x80000000u, UINT64_MAX,
                                             (uint64_t)1 << 63, 4096, 4095};
            size_t w = pos & ~(size_t)7;
            if (w + 8 <= size) {
                uint64_t v = edges[rnd(s) % (sizeof edges / sizeof *edges)];
                memcpy(buf + w, &v, rnd(s) % 2 ? 8 : 4);
            }
            break;
        }
        case 3: /* cut */
            size = pos;
            break;
        case 4: { /* copy a chunk over another place */
            size_t from = rnd(s) % size, len = 1 + rnd(s) % 64;
            if (from + len <= size && pos + len <= size)
                memmove(buf + pos, buf + from, len);
            break;
        }
        case 5: /* grow */
            if (size < cap) {
                size_t more = 1 + rnd(s) % 64;
                if (size + more > cap)
                    more = cap - size;
                memset(buf + size, (int)(rnd(s) & 0xff), more);
                size += more;
            }
            break;
        }
    }
    return size;
}

int main(int argc, char **argv)
{
    const char *env = getenv("FUZZ_SECONDS");
    double seconds = env && *env ? atof(env) : 10.0;
    const char *seed_env = getenv("VMGC_TEST_SEED");
    uint64_t seed = seed_env && *seed_env ? strtoull(seed_env, NULL, 0) : (uint64_t)time(NULL);
    fprintf(stderr, "fuzz_image: seed %llu (replay with VMGC_TEST_SEED=%llu)\n",
            (unsigned long long)seed, (unsigned long long)seed);
    size_t size;
    uint8_t *orig = seed_image(&size);
    if (!orig) {
        fprintf(stderr, "fuzz_image: cannot make the seed image: %s\n", vmgc_last_error());
        return 1;
    }
    if (argc == 3 && strcmp(argv[1], "--seed-to") == 0) { /* a corpus for libFuzzer */
        FILE *f = fopen(argv[2], "wb");
        int ok = f && fwrite(orig, 1, size, f) == size;
        if (f)
            fclose(f);
        free(orig);
        return ok ? 0 : 1;
    }
    if (fuzz_one(orig, size) != 1) {
        fprintf(stderr, "fuzz_image: the untouched image is refused: %s\n", vmgc_last_error());
        return 1;
    }
    size_t cap = size + 4096;
    uint8_t *buf = malloc(cap);
    uint64_t s = seed | 1, runs = 0, accepted = 0;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        memcpy(buf, orig, size);
        size_t n = mutate(buf, size, cap, &s);
        if (rnd(&s) % 2)
            fix_sums(buf, n);
        accepted += fuzz_one(buf, n) == 1;
        runs++;
        if (runs % 256 == 0) {
            clock_gettime(CLOCK_MONOTONIC, &t);
            if ((double)(t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 >= seconds)
                break;
        }
    }
    printf("fuzz_image: %llu executions in %.0f s, %llu candidates accepted by image_open, no "
           "crash\n",
           (unsigned long long)runs, seconds, (unsigned long long)accepted);
    free(buf);
    free(orig);
    return 0;
}
#endif

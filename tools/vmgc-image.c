/* vmgc-image -- print and check a vmgc heap image.
 *
 *   vmgc-image [--no-verify] [--quiet] IMAGE
 *
 * Prints the header, the types with their object counts and bytes, and the
 * named roots, and checks every checksum (the header's, each section's and
 * each page's), with a progress bar on stderr when it is a terminal.  Exit
 * status: 0 the image is sound, 1 it is damaged or unreadable (the message
 * says what and where), 2 bad usage.  Design: doc/design/image.md.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "image.h"
#include "vmgc.h"

/* The layout, and the weakness of its slots when they are weak. */
static const char *layout_name(const struct image_type *t)
{
    static const char *const names[] = {"no pointers", "all pointers", "bitmap", "trace",
                                        "vector"};
    static const char *const weak[][5] = {
        {0},
        {"?", "weak", "weak bitmap", "?", "weak vector"},
        {"?", "ephemeron", "ephemeron", "?", "ephemeron"},
    };
    if ((unsigned)t->layout > VMGC_LAYOUT_VECTOR || (unsigned)t->weakness > VMGC_EPHEMERON)
        return "?";
    return t->weakness ? weak[t->weakness][t->layout] : names[t->layout];
}

static int show_progress;

static void progress(void *ctx, uint64_t done, uint64_t total)
{
    const char *what = ctx;
    if (!show_progress || !total)
        return;
    int width = 40, filled = (int)(done * (uint64_t)width / total);
    fprintf(stderr, "\r%s [%.*s%*s] %3d%% %llu/%llu MiB", what, filled,
            "########################################", width - filled, "",
            (int)(done * 100 / total), (unsigned long long)(done >> 20),
            (unsigned long long)(total >> 20));
    if (done == total)
        fputc('\n', stderr);
}

static void print_header(const struct image *img)
{
    const struct image_header *h = &img->hdr;
    time_t secs = (time_t)(h->saved_at / 1000000000u);
    char when[64];
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", gmtime(&secs));
    printf("image        %s\n", img->path);
    printf("format       version %u, %s, %u-byte pages, %u-byte pointers\n", h->version, h->arch,
           h->page_size, h->pointer_bytes);
    printf("saved        %s, pause %.3f ms\n", when, h->pause_ns / 1e6);
    printf("heap         0x%llx, %llu MiB reserved\n", (unsigned long long)h->heap_base,
           (unsigned long long)(h->reserve_bytes >> 20));
    printf("size         %llu bytes: %llu pages (%llu MiB), %llu live bytes (%.1f%% of the pages)\n",
           (unsigned long long)img->file_bytes, (unsigned long long)h->npages,
           (unsigned long long)((h->npages * h->page_size) >> 20),
           (unsigned long long)h->live_bytes,
           h->npages ? 100.0 * (double)h->live_bytes / (double)(h->npages * h->page_size) : 0.0);
    printf("checksum     %016llx\n", (unsigned long long)h->header_sum);
}

static void print_types(const struct image *img, int counted)
{
    printf("\n%llu types:\n", (unsigned long long)img->hdr.ntypes);
    printf("  %4s  %-24s %-13s %12s %14s\n", "id", "name", "layout", "objects", "bytes");
    for (uint64_t k = 0; k < img->hdr.ntypes; k++) {
        const struct image_type *t = &img->types[k];
        if (counted)
            printf("  %4u  %-24s %-13s %12llu %14llu\n", t->id, t->name, layout_name(t),
                   (unsigned long long)t->objects, (unsigned long long)t->bytes);
        else
            printf("  %4u  %-24s %-13s %12s %14s\n", t->id, t->name, layout_name(t), "-",
                   "-");
    }
}

static void print_roots(const struct image *img)
{
    printf("\n%llu named roots:\n", (unsigned long long)img->hdr.nroots);
    for (uint64_t k = 0; k < img->hdr.nroots; k++) {
        const struct image_root *r = &img->roots[k];
        uint64_t set = 0;
        for (uint64_t i = 0; i < r->count; i++)
            set += r->values[i] != 0;
        printf("  %-24s %llu slots, %llu non-NULL", r->name, (unsigned long long)r->count,
               (unsigned long long)set);
        if (r->count == 1 && r->values[0])
            printf(" (0x%llx)", (unsigned long long)r->values[0]);
        printf("\n");
    }
}

int main(int argc, char **argv)
{
    int verify = 1, quiet = 0;
    const char *file = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--no-verify") == 0)
            verify = 0;
        else if (strcmp(argv[i], "--quiet") == 0)
            quiet = 1;
        else if (!file && argv[i][0] != '-')
            file = argv[i];
        else
            file = NULL, i = argc;
    }
    if (!file) {
        fprintf(stderr, "usage: vmgc-image [--no-verify] [--quiet] IMAGE\n"
                        "Prints a vmgc heap image's header, types, object counts and named roots,\n"
                        "and checks every checksum (--no-verify: the header and sections only).\n");
        return 2;
    }
    show_progress = isatty(STDERR_FILENO) && !quiet;
    struct image *img;
    if (image_open(file, &img) != VMGC_OK) {
        fprintf(stderr, "%s\n", vmgc_last_error());
        return 1;
    }
    if (!quiet)
        print_header(img);
    int counted = 0;
    if (verify) {
        if (image_verify_pages(img, progress, "checking pages") != VMGC_OK) {
            fprintf(stderr, "%s\n", vmgc_last_error());
            image_close(img);
            return 1;
        }
        if (image_count_objects(img) != VMGC_OK) {
            fprintf(stderr, "%s\n", vmgc_last_error());
            image_close(img);
            return 1;
        }
        counted = 1;
    }
    if (!quiet) {
        print_types(img, counted);
        print_roots(img);
        printf("\n%s\n", verify ? "every checksum matches" : "header and sections match (pages "
                                                            "not checked: --no-verify)");
    }
    image_close(img);
    return 0;
}

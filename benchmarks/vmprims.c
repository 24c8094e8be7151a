/* vmprims.c -- Appel & Li's virtual-memory primitive table (1991), for each
 * barrier backend, measured here.
 *
 * For every primitive it times vmgc's path and, in the same run, a bare
 * handler that does only the kernel work (the floor), and prints the ratio.
 * Medians of --repeat runs.  Output: a Markdown table on stdout and a CSV
 * (--csv FILE).  See benchmarks/README.md.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "dirty.h"
#include "prot.h"
#include "uffd_compat.h"

#define PG VM_PAGE_SIZE
#define MAXREP 31

static size_t npages = 4096;
static int repeats = 7;

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void die(const char *what)
{
    fprintf(stderr, "vmprims: %s: %s\n", what, vmgc_last_error()[0] ? vmgc_last_error() : strerror(errno));
    exit(1);
}

/* ---- the floor: bare handlers with no vmgc code in the way ---- */

static struct {
    int uffd;  /* >= 0: uffd mode */
    char *base;
    size_t size;
} raw;

static void raw_handler(int sig, siginfo_t *si, void *uc)
{
    (void)sig, (void)uc;
    uintptr_t page = (uintptr_t)si->si_addr & ~(uintptr_t)(PG - 1);
    if (raw.uffd >= 0) {
        struct uffdio_continue c = {.range = {.start = page, .len = PG}};
        ioctl(raw.uffd, UFFDIO_CONTINUE, &c);
    } else {
        mprotect((void *)page, PG, PROT_READ | PROT_WRITE);
    }
}

static void raw_setup(int backend, struct sigaction *saved)
{
    raw.size = npages * PG;
    int fd = memfd_create("vmprims-raw", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, (off_t)raw.size) != 0)
        die("raw memfd");
    raw.base = mmap(NULL, raw.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (raw.base == MAP_FAILED)
        die("raw mmap");
    memset(raw.base, 1, raw.size);
    raw.uffd = -1;
    if (backend == PROT_UFFD) {
        raw.uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
        struct uffdio_api api = {.api = UFFD_API,
                                 .features = UFFD_FEATURE_SIGBUS | UFFD_FEATURE_MINOR_SHMEM};
        struct uffdio_register reg = {.range = {(uintptr_t)raw.base, raw.size},
                                      .mode = UFFDIO_REGISTER_MODE_MINOR};
        if (raw.uffd < 0 || ioctl(raw.uffd, UFFDIO_API, &api) || ioctl(raw.uffd, UFFDIO_REGISTER, &reg))
            die("raw userfaultfd");
    }
    close(fd);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = raw_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigaction(backend == PROT_UFFD ? SIGBUS : SIGSEGV, &sa, saved);
}

static void raw_teardown(int backend, const struct sigaction *saved)
{
    sigaction(backend == PROT_UFFD ? SIGBUS : SIGSEGV, saved, NULL);
    if (raw.uffd >= 0)
        close(raw.uffd);
    munmap(raw.base, raw.size);
}

static void raw_protect(char *p, size_t len)
{
    if (raw.uffd >= 0)
        madvise(p, len, MADV_DONTNEED);
    else
        mprotect(p, len, PROT_NONE);
}

static void raw_unprotect(char *p, size_t len)
{
    if (raw.uffd >= 0) {
        struct uffdio_continue c = {.range = {(uintptr_t)p, len}};
        ioctl(raw.uffd, UFFDIO_CONTINUE, &c);
    } else {
        mprotect(p, len, PROT_READ | PROT_WRITE);
    }
}

/* ---- measurements: each returns microseconds per operation ---- */

enum prim { TRAP, PROT1, PROTN, UNPROT, TRAP_PROT1_UNPROT, TRAP_PROTN_UNPROT, DIRTY, MAP2, NPRIM };
static const char *const prim_name[NPRIM] = {
    "TRAP", "PROT1", "PROTN (per page)", "UNPROT", "TRAP+PROT1+UNPROT", "TRAP+PROTN+UNPROT (per page)",
    "DIRTY (1 GiB, 1% written, ms)", "MAP2 (create both views of 1 GiB)"};

struct ops {
    void (*protect)(char *p, size_t len);
    void (*unprotect)(char *p, size_t len);
    char *base;
};

static struct arena *cur_arena;

static void vm_protect(char *p, size_t len)
{
    if (prot_protect(cur_arena, p, len) != VMGC_OK)
        die("prot_protect");
}

static void vm_unprotect(char *p, size_t len)
{
    if (prot_unprotect(cur_arena, p, len) != VMGC_OK)
        die("prot_unprotect");
}

static double touch_all(const struct ops *o)
{
    double t0 = now_us();
    for (size_t k = 0; k < npages; k++)
        (void)((volatile char *)o->base)[k * PG];
    return (now_us() - t0) / (double)npages;
}

static double measure(const struct ops *o, enum prim p)
{
    double t0, dt = 0;
    switch (p) {
    case TRAP:
        o->protect(o->base, npages * PG);
        return touch_all(o);
    case PROT1:
        t0 = now_us();
        for (size_t k = 0; k < npages; k++)
            o->protect(o->base + k * PG, PG);
        dt = (now_us() - t0) / (double)npages;
        o->unprotect(o->base, npages * PG);
        return dt;
    case PROTN:
        t0 = now_us();
        o->protect(o->base, npages * PG);
        dt = (now_us() - t0) / (double)npages;
        o->unprotect(o->base, npages * PG);
        return dt;
    case UNPROT:
        o->protect(o->base, npages * PG);
        t0 = now_us();
        for (size_t k = 0; k < npages; k++)
            o->unprotect(o->base + k * PG, PG);
        return (now_us() - t0) / (double)npages;
    case TRAP_PROT1_UNPROT:
        t0 = now_us();
        for (size_t k = 0; k < npages; k++) {
            o->protect(o->base + k * PG, PG);
            (void)((volatile char *)o->base)[k * PG];
        }
        return (now_us() - t0) / (double)npages;
    case TRAP_PROTN_UNPROT:
        t0 = now_us();
        o->protect(o->base, npages * PG);
        for (size_t k = 0; k < npages; k++)
            (void)((volatile char *)o->base)[k * PG];
        return (now_us() - t0) / (double)npages;
    default:
        return 0;
    }
}

static double measure_dirty(int backend, const char *mode)
{
    size_t gib = (size_t)1 << 30, pages = gib / PG;
    struct arena_config cfg = {.reserve_bytes = gib, .barrier = backend == PROT_UFFD ? "uffd" : "mprotect",
                               .dirty = mode};
    struct arena *a;
    if (arena_create(&a, &cfg) != VMGC_OK)
        return -1;
    void *v;
    int zero;
    if (arena_alloc_pages(a, pages, 0, &v, &zero) != VMGC_OK)
        die("dirty alloc");
    char *p = v;
    for (size_t k = 0; k < pages; k++)
        p[k * PG] = 1;
    uint64_t *bm = calloc(pages / 64, sizeof *bm);
    if (dirty_begin(a, p, gib) != VMGC_OK)
        die("dirty_begin");
    for (size_t k = 0; k < pages; k += 100)
        p[k * PG] = 2;
    size_t count;
    double t0 = now_us();
    if (dirty_collect(a, bm, &count, 1) != VMGC_OK)
        die("dirty_collect");
    double dt = (now_us() - t0) / 1e3;
    if (count < pages / 100)
        fprintf(stderr, "vmprims: DIRTY found %zu of %zu written pages\n", count, pages / 100);
    dirty_end(a);
    free(bm);
    arena_destroy(a);
    return dt;
}

static double measure_map2(int backend)
{
    struct arena_config cfg = {.reserve_bytes = (size_t)1 << 30,
                               .barrier = backend == PROT_UFFD ? "uffd" : "mprotect"};
    struct arena *a;
    double t0 = now_us();
    if (arena_create(&a, &cfg) != VMGC_OK)
        die("arena_create");
    double dt = now_us() - t0;
    arena_destroy(a);
    return dt;
}

int main(int argc, char **argv)
{
    const char *csv_path = "vmprims.csv";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--csv") && i + 1 < argc)
            csv_path = argv[++i];
        else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
            repeats = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--pages") && i + 1 < argc)
            npages = (size_t)atol(argv[++i]);
        else {
            fprintf(stderr, "usage: vmprims [--csv FILE] [--repeat N] [--pages N]\n");
            return 2;
        }
    }
    if (repeats < 1 || repeats > MAXREP || npages < 16) {
        fprintf(stderr, "vmprims: --repeat must be 1..%d and --pages at least 16\n", MAXREP);
        return 2;
    }
    double result[2][NPRIM][2]; /* backend, primitive, {vmgc, raw} */
    for (int b = 0; b < 2; b++) {
        struct arena_config cfg = {.reserve_bytes = npages * PG * 2, .barrier = b == PROT_UFFD ? "uffd" : "mprotect"};
        if (arena_create(&cur_arena, &cfg) != VMGC_OK)
            die("arena_create");
        void *v;
        int zero;
        if (arena_alloc_pages(cur_arena, npages, 0, &v, &zero) != VMGC_OK)
            die("alloc");
        memset(v, 1, npages * PG);
        struct ops vmgc_ops = {vm_protect, vm_unprotect, v};
        for (int p = TRAP; p <= TRAP_PROTN_UNPROT; p++) {
            double s[2][MAXREP];
            for (int r = 0; r < repeats; r++) {
                /* interleave vmgc and the floor so drift hits both */
                s[0][r] = measure(&vmgc_ops, (enum prim)p);
                vm_unprotect(v, npages * PG);
                struct sigaction saved;
                raw_setup(b, &saved);
                struct ops raw_ops = {raw_protect, raw_unprotect, raw.base};
                s[1][r] = measure(&raw_ops, (enum prim)p);
                raw_teardown(b, &saved);
            }
            result[b][p][0] = median(s[0], repeats);
            result[b][p][1] = median(s[1], repeats);
        }
        arena_destroy(cur_arena);
        double d[MAXREP], m[MAXREP];
        for (int r = 0; r < repeats; r++) {
            m[r] = measure_map2(b); /* first: freeing the dirty test's GiB is slow */
            d[r] = measure_dirty(b, b == PROT_UFFD ? "pagemap" : "faults");
        }
        result[b][DIRTY][0] = median(d, repeats);
        result[b][DIRTY][1] = -1;
        result[b][MAP2][0] = median(m, repeats);
        result[b][MAP2][1] = -1;
    }
    FILE *csv = fopen(csv_path, "w");
    if (!csv)
        die(csv_path);
    fprintf(csv, "primitive,backend,vmgc_us,floor_us,ratio\n");
    printf("Appel-Li VM primitives, %zu pages, median of %d runs (microseconds unless noted)\n\n", npages,
           repeats);
    printf("| primitive | uffd: vmgc | uffd: floor | ratio | mprotect: vmgc | mprotect: floor | ratio |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|\n");
    for (int p = 0; p < NPRIM; p++) {
        printf("| %s", prim_name[p]);
        for (int b = 0; b < 2; b++) {
            double v = result[b][p][0], f = result[b][p][1];
            const char *bn = b == PROT_UFFD ? "uffd" : "mprotect";
            if (f > 0) {
                printf(" | %.3f | %.3f | %.2f", v, f, v / f);
                fprintf(csv, "%s,%s,%.4f,%.4f,%.3f\n", prim_name[p], bn, v, f, v / f);
            } else {
                printf(" | %.3f | - | -", v);
                fprintf(csv, "%s,%s,%.4f,,\n", prim_name[p], bn, v);
            }
        }
        printf(" |\n");
    }
    fclose(csv);
    printf("\nDIRTY: uffd column uses PAGEMAP_SCAN with async write-protect; mprotect column uses "
           "write faults.\nCSV written to %s\n", csv_path);
    return 0;
}

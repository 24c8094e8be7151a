/* ckptbench.c -- heap checkpoints and restore, against a fork() child
 * writing the heap (the Redis-style snapshot) and the disk's own speed.
 *
 *   ckptbench --live MIB [--backend uffd|mprotect] [--threads N] [--repeat R] [--dir DIR]
 *   ckptbench --header        (the CSV header only)
 *
 *   cycle_s        a plain collection, start to end (what a checkpoint rides on)
 *   ck_sync_s      the part of ck_write_s after the collection ended (the
 *                  index, types, roots, header, fdatasync, rename)
 * Live data: a list of 256-byte nodes (MIB of them) and a vector pointing
 * at every 16th node.  N mutator threads (default 2) write random nodes and
 * allocate garbage the whole time, saves included.  Each repeat measures:
 *   flip_ms        a plain collection's pause (the bar for the checkpoint's)
 *   ck_pause_ms    the checkpoint's pause
 *   ck_write_s     from the pause to the image synced and renamed
 *   image_mib      the image's size;  live_mib  the heap's live data (last cycle)
 *   fork_pause_ms  fork() in the parent;  fork_write_s  the child writing every
 *                  page in use and fdatasync (parent's view: fork to child's exit)
 *   dd_mbs         dd if=/dev/zero bs=1M count=MIB conv=fdatasync (the floor)
 *   restore_ms     vmgc_heap_restore returning (warm page cache)
 *   first_use_ms   restore + the named roots + reading the first node
 *   all_ms         restore to every node read (sum checked)
 *   cold_*         the same after the image was dropped from the page cache
 *                  (posix_fadvise DONTNEED: this file only)
 *   mmap_*         the alternative to loading by traps: the image file mapped
 *                  privately (what a heap on a private file mapping would get),
 *                  its first page read, then every page read; cold cache
 * Prints one CSV line per repeat (header first) and a median line.
 * Design: doc/design/checkpoint.md.
 */
#include "config.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "vmgc.h"

#define BASE ((void *)0x310000000000ull)

struct node {
    struct node *next;
    uint64_t word[31];
};

static const vmgc_type_desc descs[] = {
    {.name = "node", .layout = VMGC_LAYOUT_BITMAP, .bitmap = 1},
    {.name = "vector", .layout = VMGC_LAYOUT_ALL_POINTERS},
};

static vmgc_heap *heap;
static vmgc_thread *me;
static vmgc_type t_node, t_vec;
static void *roots[2]; /* list, vector */
static size_t nnodes, nvec;
static const char *backend = "uffd";
static int stop_mutators;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static vmgc_config config(size_t live_mib)
{
    vmgc_config c;
    vmgc_config_init(&c);
    c.fixed_base = BASE;
    c.reserve_bytes = (size_t)(live_mib * 8 + 1024) << 20;
    c.initial_size = (size_t)(live_mib / 2 + 64) << 20;
    c.barrier = backend;
    return c;
}

static void build(size_t live_mib)
{
    vmgc_config c = config(live_mib);
    if (vmgc_heap_create(&heap, &c) != VMGC_OK) {
        fprintf(stderr, "ckptbench: %s\n", vmgc_last_error());
        exit(1);
    }
    vmgc_thread_attach(heap, &me);
    vmgc_type_register(heap, &descs[0], &t_node);
    vmgc_type_register(heap, &descs[1], &t_vec);
    roots[0] = roots[1] = NULL; /* a previous repeat's heap is gone */
    vmgc_root_add_named(heap, "data", roots, 2);
    nnodes = (live_mib << 20) / (sizeof(struct node) + 8);
    nvec = nnodes / 16;
    roots[1] = vmgc_alloc(me, t_vec, nvec * sizeof(void *));
    for (size_t i = 0; i < nnodes; i++) {
        struct node *n = vmgc_alloc(me, t_node, sizeof *n);
        n->next = roots[0];
        n->word[0] = i;
        roots[0] = n;
        if (i % 16 == 0 && i / 16 < nvec)
            ((void **)roots[1])[i / 16] = n;
    }
    vmgc_collect(heap, 1);
}

static void *mutator(void *arg)
{
    uint64_t s = (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ull + 1;
    vmgc_thread *t;
    vmgc_thread_attach(heap, &t);
    while (!__atomic_load_n(&stop_mutators, __ATOMIC_ACQUIRE)) {
        for (int k = 0; k < 256; k++) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            struct node *n = ((struct node **)roots[1])[s % nvec];
            n->word[1]++;
        }
        (void)vmgc_alloc(t, t_node, sizeof(struct node)); /* garbage */
    }
    vmgc_thread_detach(t);
    return NULL;
}

static double dd_mbs(const char *dir, size_t mib)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "dd if=/dev/zero of=%s/dd.bin bs=1M count=%zu conv=fdatasync 2>&1; rm -f %s/dd.bin",
             dir, mib, dir);
    double t0 = now_ms();
    FILE *p = popen(cmd, "r");
    char line[256];
    while (p && fgets(line, sizeof line, p))
        ;
    if (p)
        pclose(p);
    return (double)mib / ((now_ms() - t0) / 1e3);
}

/* Redis-style: a fork child writes every page in use, then syncs. */
static void fork_snapshot(const char *dir, double *pause_ms, double *write_s)
{
    char path[512];
    snprintf(path, sizeof path, "%s/fork.snap", dir);
    struct vmgc_heap *h = heap;
    double t0 = now_ms();
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        off_t off = 0;
        for (size_t k = 0; k < h->ninuse; k++) {
            size_t page = h->inuse[k];
            struct page_desc *d = &h->arena->pt.desc[page];
            size_t n = d->space == PK_LARGE_HEAD ? d->gc_word[1] : 1;
            char *addr = pagetable_page_addr(&h->arena->pt, page);
            /* the system call reads heap pages: ready them (vmgc.h) */
            if (vmgc_prepare_io(addr, n << VM_PAGE_SHIFT) != VMGC_OK)
                _exit(2);
            if (pwrite(fd, addr, n << VM_PAGE_SHIFT, off) < 0)
                _exit(1);
            off += (off_t)(n << VM_PAGE_SHIFT);
        }
        fdatasync(fd);
        close(fd);
        _exit(0);
    }
    *pause_ms = now_ms() - t0;
    int status;
    waitpid(pid, &status, 0);
    *write_s = (now_ms() - t0) / 1e3;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "ckptbench: the fork child failed to write its snapshot\n");
        exit(1);
    }
    unlink(path);
}

static void restore_run(const char *path, size_t live_mib, int cold, double *usable,
                        double *first, double *all)
{
    if (cold) {
        int fd = open(path, O_RDONLY);
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        close(fd);
    }
    vmgc_config c = config(live_mib);
    double t0 = now_ms();
    if (vmgc_heap_restore(&heap, &c, path, descs, 2, 0) != VMGC_OK) {
        fprintf(stderr, "ckptbench: %s\n", vmgc_last_error());
        exit(1);
    }
    *usable = now_ms() - t0;
    vmgc_thread_attach(heap, &me);
    vmgc_root_restore(heap, "data", roots, 2);
    volatile uint64_t first_word = ((struct node *)roots[0])->word[0];
    (void)first_word;
    *first = now_ms() - t0;
    uint64_t sum = 0, count = 0;
    for (struct node *n = roots[0]; n; n = n->next)
        sum += n->word[0], count++;
    *all = now_ms() - t0;
    if (count != nnodes || sum != (uint64_t)nnodes * (nnodes - 1) / 2) {
        fprintf(stderr, "ckptbench: the restored list is wrong (%llu nodes)\n",
                (unsigned long long)count);
        exit(1);
    }
    vmgc_thread_detach(me);
    vmgc_heap_destroy(heap);
}

/* The image's pages mapped privately from the file and read, cold: the
 * reference for loading by traps into the memfd (imageload.md). */
static void mmap_run(const char *path, double *first, double *all)
{
    int fd = open(path, O_RDONLY);
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    off_t size = lseek(fd, 0, SEEK_END);
    double t0 = now_ms();
    volatile const char *p = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
    (void)p[4096];
    *first = now_ms() - t0;
    uint64_t sum = 0;
    for (off_t off = 4096; off < size; off += 4096)
        sum += (unsigned char)p[off];
    *all = now_ms() - t0;
    munmap((void *)p, (size_t)size);
    close(fd);
    if (sum == 1) /* keep the reads */
        fprintf(stderr, " ");
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#define NCOLS 19
static const char *const cols[NCOLS] = {
    "cycle_s", "ck_sync_s", "flip_ms", "ck_pause_ms", "ck_write_s", "image_mib", "live_mib", "ck_mbs", "fork_pause_ms",
    "fork_write_s", "dd_mbs", "restore_ms", "first_use_ms", "all_ms", "cold_restore_ms",
    "cold_first_use_ms", "cold_all_ms", "mmap_first_ms", "mmap_all_ms"};

int main(int argc, char **argv)
{
    size_t live = 100;
    int threads = 2, repeat = 3;
    const char *dir = "/tmp";
    int header_only = argc == 2 && !strcmp(argv[1], "--header");
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--live"))
            live = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--backend"))
            backend = argv[i + 1];
        else if (!strcmp(argv[i], "--threads"))
            threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--repeat"))
            repeat = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--dir"))
            dir = argv[i + 1];
        else {
            fprintf(stderr, "usage: ckptbench --live MIB [--backend B] [--threads N] "
                            "[--repeat R] [--dir DIR]\n");
            return 2;
        }
    }
    char path[512];
    snprintf(path, sizeof path, "%s/ckptbench.img", dir);
    double v[64][NCOLS];
    printf("backend,live_req_mib,threads");
    for (int c = 0; c < NCOLS; c++)
        printf(",%s", cols[c]);
    printf("\n");
    if (header_only)
        return 0;
    for (int r = 0; r < repeat && r < 64; r++) {
        build(live);
        pthread_t pt[16];
        stop_mutators = 0;
        for (int i = 0; i < threads && i < 16; i++)
            pthread_create(&pt[i], NULL, mutator, (void *)(uintptr_t)(i + 1));
        usleep(100000);
        double *x = v[r] + 2;
        double tc = now_ms();
        vmgc_collect(heap, 1);
        x[-2] = (now_ms() - tc) / 1e3;
        vmgc_stats st;
        vmgc_get_stats(heap, &st);
        x[0] = st.last_pause_ns / 1e6;
        x[4] = st.live_bytes_after_last / 1048576.0;
        vmgc_checkpoint *ck;
        vmgc_checkpoint_result res;
        if (vmgc_checkpoint_start(heap, path, &ck) != VMGC_OK ||
            vmgc_checkpoint_wait(ck, &res) != VMGC_OK) {
            fprintf(stderr, "ckptbench: %s\n", vmgc_last_error());
            return 1;
        }
        x[1] = res.pause_ns / 1e6;
        x[2] = res.write_ns / 1e9;
        x[-1] = res.sync_ns / 1e9;
        x[3] = res.image_bytes / 1048576.0;
        x[5] = x[3] / x[2];
        fork_snapshot(dir, &x[6], &x[7]);
        __atomic_store_n(&stop_mutators, 1, __ATOMIC_RELEASE);
        for (int i = 0; i < threads && i < 16; i++)
            pthread_join(pt[i], NULL);
        vmgc_thread_detach(me);
        vmgc_heap_destroy(heap);
        x[8] = dd_mbs(dir, live);
        restore_run(path, live, 0, &x[9], &x[10], &x[11]);
        restore_run(path, live, 1, &x[12], &x[13], &x[14]);
        mmap_run(path, &x[15], &x[16]);
        unlink(path);
        printf("%s,%zu,%d", backend, live, threads);
        for (int c = 0; c < NCOLS; c++)
            printf(",%.3f", v[r][c]);
        printf("\n");
        fflush(stdout);
    }
    printf("%s,%zu,%d", backend, live, threads);
    for (int c = 0; c < NCOLS; c++) {
        double col[64];
        for (int r = 0; r < repeat; r++)
            col[r] = v[r][c];
        qsort(col, (size_t)repeat, sizeof *col, cmp);
        printf(",%.3f", col[repeat / 2]);
    }
    printf(",median\n");
    return 0;
}

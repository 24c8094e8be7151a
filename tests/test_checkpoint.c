/* test_checkpoint.c -- checkpoints and restore (gc/checkpoint.c,
 * gc/restore.c, src/image.c, src/imageload.c): a saved heap comes back in
 * another process with its objects and named roots as of the checkpoint's
 * pause, whatever mutators write during the save; the restored heap
 * collects, allocates and saves again; damaged and foreign images are
 * refused with a message and nothing mapped; a full disk or a killed saver
 * leaves the previous image as it was.  Both barrier backends. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"
#include "image.h"
#include "internal.h"
#include "sys.h"
#include "vmgc.h"

/* a heap checkpointed needs a fixed base; ThreadSanitizer lets a program
 * map only in its application ranges (the low 512 GiB, here), and
 * AddressSanitizer only above its shadow (16 TiB up) */
#if defined(__SANITIZE_THREAD__)
#define BASE ((void *)0x006000000000ull)
#else
#define BASE ((void *)0x580000000000ull)
#endif
#define RESERVE ((size_t)1 << 30)

struct node {
    struct node *next;
    uint64_t value;
};

struct box {
    uint64_t thread, seq, check;
};

static const vmgc_type_desc descs[] = {
    {.name = "node", .layout = VMGC_LAYOUT_BITMAP, .bitmap = 1},
    {.name = "vec", .layout = VMGC_LAYOUT_ALL_POINTERS},
    {.name = "box", .layout = VMGC_LAYOUT_NO_POINTERS},
};
enum { T_NODE, T_VEC, T_BOX, NTYPES };

static vmgc_heap *heap;
static vmgc_thread *me;
static vmgc_type types[NTYPES];
static char dir[64], path[128];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/vmgc-ckpt-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/heap.img", dir);
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static vmgc_config config_for(int backend, int background)
{
    vmgc_config c;
    vmgc_config_init(&c);
    c.reserve_bytes = RESERVE;
    c.fixed_base = BASE;
    c.initial_size = (size_t)8 << 20;
    c.barrier = test_backends[backend];
    c.no_background = !background;
    c.verify = 1;
    return c;
}

static void heap_new(int backend, int background)
{
    vmgc_config c = config_for(backend, background);
    ck_assert_msg(vmgc_heap_create(&heap, &c) == VMGC_OK, "%s", vmgc_last_error());
    ck_assert_int_eq(vmgc_thread_attach(heap, &me), VMGC_OK);
    for (int i = 0; i < NTYPES; i++)
        ck_assert_int_eq(vmgc_type_register(heap, &descs[i], &types[i]), VMGC_OK);
}

static void heap_end(void)
{
    ck_assert_int_eq(vmgc_thread_detach(me), VMGC_OK);
    ck_assert_int_eq(vmgc_heap_destroy(heap), VMGC_OK);
    heap = NULL;
}

static struct node *list_make(size_t n, uint64_t base)
{
    struct node *head = NULL;
    for (size_t i = 0; i < n; i++) {
        struct node *x = vmgc_alloc(me, types[T_NODE], sizeof *x);
        x->next = head;
        x->value = base + i;
        head = x;
    }
    return head;
}

/* The list made by list_make(n, base), checked from its head. */
static int list_ok(const struct node *l, size_t n, uint64_t base)
{
    for (size_t i = n; i-- > 0; l = l->next)
        if (!l || l->value != base + i)
            return 0;
    return l == NULL;
}

/* Runs fn in a child process (the "second process"); its exit status. */
static int in_child(int (*fn)(void *), void *arg)
{
    fflush(stderr);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(fn(arg));
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static vmgc_status restore(int backend, const char *p, unsigned flags)
{
    vmgc_config c = config_for(backend, 1);
    vmgc_status st = vmgc_heap_restore(&heap, &c, p, descs, NTYPES, flags);
    if (st == VMGC_OK) {
        ck_assert_int_eq(vmgc_thread_attach(heap, &me), VMGC_OK);
        for (int i = 0; i < NTYPES; i++)
            ck_assert_int_eq(vmgc_type_register(heap, &descs[i], &types[i]), VMGC_OK);
    }
    return st;
}

/* ---- round trip ---- */

#define LIST_N 200000
#define VEC_N 1000 /* 8 KB: a large object */

static void *roots[2]; /* list, vector */
static int rt_backend;
static uint64_t hash_list, hash_vec, hash_slot7; /* identity hashes taken before the save */

static int restored_ok(void)
{
    struct node *l = roots[0];
    void **vec = roots[1];
    if (!list_ok(l, LIST_N, 7)) {
        fprintf(stderr, "the restored list is wrong\n");
        return 0;
    }
    for (size_t i = 0; i < VEC_N; i++) {
        struct node *x = vec[i];
        if (!x || x->value != 1000000 + i || x->next) {
            fprintf(stderr, "restored vector slot %zu is wrong\n", i);
            return 0;
        }
    }
    return 1;
}

static int restore_child(void *arg)
{
    const char *p = arg;
    if (restore(rt_backend, p, 0) != VMGC_OK) {
        fprintf(stderr, "restore: %s\n", vmgc_last_error());
        return 1;
    }
    memset(roots, 0, sizeof roots);
    if (vmgc_root_restore(heap, "roots", roots, 2) != VMGC_OK) {
        fprintf(stderr, "vmgc_root_restore: %s\n", vmgc_last_error());
        return 2;
    }
    if (!restored_ok())
        return 3;
    /* identity hashes survive the image (and the moves after it) */
    if (vmgc_object_hash(roots[0]) != hash_list || vmgc_object_hash(roots[1]) != hash_vec ||
        vmgc_object_hash(((void **)roots[1])[7]) != hash_slot7) {
        fprintf(stderr, "identity hashes changed across the image\n");
        return 9;
    }
    /* the restored heap collects, allocates and saves again */
    struct node *extra = list_make(5000, 99);
    vmgc_collect(heap, 1);
    vmgc_collect(heap, 1);
    if (!restored_ok() || !list_ok(extra, 5000, 99))
        return 4;
    if (vmgc_object_hash(roots[0]) != hash_list || vmgc_object_hash(((void **)roots[1])[7]) != hash_slot7)
        return 10;
    vmgc_stats s;
    vmgc_get_stats(heap, &s);
    if (s.collections < 2)
        return 5;
    char again[160];
    snprintf(again, sizeof again, "%s.2", p);
    vmgc_checkpoint *ck;
    if (vmgc_checkpoint_start(heap, again, &ck) != VMGC_OK ||
        vmgc_checkpoint_wait(ck, NULL) != VMGC_OK) {
        fprintf(stderr, "second checkpoint: %s\n", vmgc_last_error());
        return 6;
    }
    vmgc_thread_detach(me);
    vmgc_heap_destroy(heap);
    if (restore(rt_backend, again, VMGC_RESTORE_VERIFY) != VMGC_OK) {
        fprintf(stderr, "restore of the second image: %s\n", vmgc_last_error());
        return 7;
    }
    memset(roots, 0, sizeof roots);
    if (vmgc_root_restore(heap, "roots", roots, 2) != VMGC_OK || !restored_ok())
        return 8;
    return 0;
}

static void build_roundtrip_heap(int backend, int background)
{
    heap_new(backend, background);
    memset(roots, 0, sizeof roots);
    ck_assert_int_eq(vmgc_root_add_named(heap, "roots", roots, 2), VMGC_OK);
    (void)list_make(50000, 0); /* garbage: not in the image */
    roots[0] = list_make(LIST_N, 7);
    void **vec = vmgc_alloc(me, types[T_VEC], VEC_N * sizeof(void *));
    roots[1] = vec;
    for (size_t i = 0; i < VEC_N; i++) {
        struct node *x = vmgc_alloc(me, types[T_NODE], sizeof *x);
        x->value = 1000000 + i;
        ((void **)roots[1])[i] = x;
    }
    hash_list = vmgc_object_hash(roots[0]);
    hash_vec = vmgc_object_hash(roots[1]);
    hash_slot7 = vmgc_object_hash(((void **)roots[1])[7]);
}

static void roundtrip(int backend, int background)
{
    rt_backend = backend;
    make_dir();
    build_roundtrip_heap(backend, background);
    vmgc_checkpoint *ck;
    ck_assert_msg(vmgc_checkpoint_start(heap, path, &ck) == VMGC_OK, "%s", vmgc_last_error());
    /* changes after the start are not in the image */
    ((struct node *)roots[0])->value = 424242;
    ((void **)roots[1])[3] = NULL;
    uint64_t w, t;
    while (!vmgc_checkpoint_poll(ck, &w, &t))
        ck_assert_uint_le(w, t);
    vmgc_checkpoint_result r;
    ck_assert_msg(vmgc_checkpoint_wait(ck, &r) == VMGC_OK, "%s", vmgc_last_error());
    vmgc_stats hs;
    vmgc_get_stats(heap, &hs);
    ck_assert_uint_eq(hs.checkpoints, 1);
    uint64_t live = (LIST_N + VEC_N) * 24 + VEC_N * 8 + 8;
    ck_assert_uint_ge(r.live_bytes, live);
    /* live only: the garbage list (1.2 MB) is not there */
    ck_assert_msg(r.image_bytes < live + live / 2 + (256 << 10), "image %llu bytes for %llu live",
                  (unsigned long long)r.image_bytes, (unsigned long long)live);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq((uint64_t)st.st_size, r.image_bytes);
    heap_end();
    ck_assert_int_eq(in_child(restore_child, path), 0);
    remove_dir();
}

static void roundtrip_background(int backend)
{
    roundtrip(backend, 1);
}
BOTH(roundtrip_background)

static void roundtrip_no_background(int backend)
{
    roundtrip(backend, 0);
}
BOTH(roundtrip_no_background)

/* ---- mutators during the save ---- */

#define MUT_THREADS 2
#define CELLS 1021 /* prime: cell(s) = s * 7919 % CELLS visits every cell */
#define BALLAST_N 300000 /* enough to save that the mutators run meanwhile */

struct mutator {
    pthread_t pt;
    int index;
    void **cells;    /* named root "cells-<index>": one heap vector */
    uint64_t done;   /* writes stored.  Synchronization: atomic. */
    uint64_t at_start, at_return;
};

static struct mutator muts[MUT_THREADS];
static int stop_mutators;

static size_t cell_of(uint64_t s)
{
    return (size_t)(s * 7919 % CELLS);
}

static uint64_t check_of(uint64_t thread, uint64_t seq)
{
    return (thread + 1) * 0x9E3779B97F4A7C15ull ^ seq * 0xC2B2AE3D27D4EB4Full;
}

static void *mutator_main(void *arg)
{
    struct mutator *m = arg;
    vmgc_thread *t;
    ck_assert_int_eq(vmgc_thread_attach(heap, &t), VMGC_OK);
    for (uint64_t s = 1; !__atomic_load_n(&stop_mutators, __ATOMIC_ACQUIRE); s++) {
        struct box *b = vmgc_alloc(t, types[T_BOX], sizeof *b);
        b->thread = (uint64_t)m->index;
        b->seq = s;
        b->check = check_of(b->thread, s);
        ((struct box **)m->cells[0])[cell_of(s)] = b;
        __atomic_store_n(&m->done, s, __ATOMIC_RELEASE);
        if (s % 64 == 0) /* garbage too, so cycles have work */
            (void)vmgc_alloc(t, types[T_BOX], 512);
    }
    ck_assert_int_eq(vmgc_thread_detach(t), VMGC_OK);
    return NULL;
}

/* The image holds, for each thread, the state after some prefix k of its
 * writes, with at_start <= k <= at_return + 1 (the write in flight at the
 * return may be in). */
static int mutator_state_ok(int i, struct box **cells, uint64_t at_start, uint64_t at_return)
{
    uint64_t k = 0;
    for (size_t c = 0; c < CELLS; c++) {
        struct box *b = cells[c];
        if (!b)
            continue;
        if (b->thread != (uint64_t)i || b->check != check_of(b->thread, b->seq) ||
            cell_of(b->seq) != c) {
            fprintf(stderr, "thread %d cell %zu: a corrupt box\n", i, c);
            return 0;
        }
        if (b->seq > k)
            k = b->seq;
    }
    if (k < at_start || k > at_return + 1) {
        fprintf(stderr, "thread %d: the image has its write %llu; the checkpoint started after "
                        "%llu and returned after %llu\n",
                i, (unsigned long long)k, (unsigned long long)at_start,
                (unsigned long long)at_return);
        return 0;
    }
    for (size_t c = 0; c < CELLS; c++) {
        /* the last write to c at or before k */
        uint64_t want = 0;
        for (uint64_t s = k; s >= 1 && s + CELLS + 1 > k; s--)
            if (cell_of(s) == c) {
                want = s;
                break;
            }
        uint64_t got = cells[c] ? cells[c]->seq : 0;
        if (got != want) {
            fprintf(stderr, "thread %d cell %zu holds write %llu; as of write %llu it held %llu\n",
                    i, c, (unsigned long long)got, (unsigned long long)k,
                    (unsigned long long)want);
            return 0;
        }
    }
    return 1;
}

static uint64_t at_start[MUT_THREADS], at_return[MUT_THREADS];
static void *cell_roots[MUT_THREADS];

static int mutators_child(void *arg)
{
    const char *p = arg;
    if (restore(rt_backend, p, 0) != VMGC_OK) {
        fprintf(stderr, "restore: %s\n", vmgc_last_error());
        return 1;
    }
    /* the parent's copy of the ballast's slot is stale here: take it back */
    if (vmgc_root_restore(heap, "ballast", roots, 1) != VMGC_OK) {
        fprintf(stderr, "%s\n", vmgc_last_error());
        return 2;
    }
    if (!list_ok(roots[0], BALLAST_N, 1)) {
        fprintf(stderr, "the restored ballast is wrong\n");
        return 3;
    }
    int bad = 0;
    for (int i = 0; i < MUT_THREADS; i++) {
        char name[32];
        snprintf(name, sizeof name, "cells-%d", i);
        void **slot = &cell_roots[i];
        if (i == 1)
            vmgc_collect(heap, 1); /* a root taken back after a cycle moved everything */
        if (vmgc_root_restore(heap, name, slot, 1) != VMGC_OK) {
            fprintf(stderr, "%s\n", vmgc_last_error());
            return 2;
        }
        bad |= !mutator_state_ok(i, *slot, at_start[i], at_return[i]);
        vmgc_collect(heap, 1); /* and again after a cycle */
        bad |= !mutator_state_ok(i, *slot, at_start[i], at_return[i]);
    }
    return bad ? 3 : 0;
}

static void mutators_during_save(int backend)
{
    rt_backend = backend;
    make_dir();
    heap_new(backend, 1);
    memset(roots, 0, sizeof roots);
    /* a slot is registered before it is stored into: a flip between the
     * store and the registration would find the object nowhere */
    ck_assert_int_eq(vmgc_root_add_named(heap, "ballast", roots, 1), VMGC_OK);
    roots[0] = list_make(BALLAST_N, 1);
    stop_mutators = 0;
    for (int i = 0; i < MUT_THREADS; i++) {
        char name[32];
        snprintf(name, sizeof name, "cells-%d", i);
        cell_roots[i] = NULL;
        ck_assert_int_eq(vmgc_root_add_named(heap, name, &cell_roots[i], 1), VMGC_OK);
        cell_roots[i] = vmgc_alloc(me, types[T_VEC], CELLS * sizeof(void *));
        muts[i].index = i;
        muts[i].cells = &cell_roots[i];
        muts[i].done = 0;
        ck_assert_int_eq(pthread_create(&muts[i].pt, NULL, mutator_main, &muts[i]), 0);
    }
    for (int i = 0; i < MUT_THREADS; i++)
        while (__atomic_load_n(&muts[i].done, __ATOMIC_ACQUIRE) < 3 * CELLS)
            usleep(1000);
    /* "during" counts the writes between the return of the start and the
     * end of the save; on a loaded machine this thread may not run again
     * until the save is over, so a save without any is taken again (each
     * over the last image, which is tested too) */
    uint64_t during = 0;
    vmgc_checkpoint_result r;
    int attempts = 0;
    while (attempts < 8 && during == 0) {
        attempts++;
        for (int i = 0; i < MUT_THREADS; i++)
            at_start[i] = __atomic_load_n(&muts[i].done, __ATOMIC_ACQUIRE);
        vmgc_checkpoint *ck;
        ck_assert_msg(vmgc_checkpoint_start(heap, path, &ck) == VMGC_OK, "%s",
                      vmgc_last_error());
        for (int i = 0; i < MUT_THREADS; i++)
            at_return[i] = __atomic_load_n(&muts[i].done, __ATOMIC_ACQUIRE);
        ck_assert_msg(vmgc_checkpoint_wait(ck, &r) == VMGC_OK, "%s", vmgc_last_error());
        for (int i = 0; i < MUT_THREADS; i++)
            during += __atomic_load_n(&muts[i].done, __ATOMIC_ACQUIRE) - at_return[i];
    }
    __atomic_store_n(&stop_mutators, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < MUT_THREADS; i++)
        ck_assert_int_eq(pthread_join(muts[i].pt, NULL), 0);
    fprintf(stderr, "mutators_during_save(%s): %llu writes during the save (saves: %d), pause "
                    "%.3f ms, written in %.1f ms\n",
            test_backends[backend], (unsigned long long)during, attempts, r.pause_ns / 1e6,
            r.write_ns / 1e6);
    ck_assert_msg(during > 0, "the mutators did not run during the save: nothing was tested");
    heap_end();
    ck_assert_int_eq(in_child(mutators_child, path), 0);
    remove_dir();
}
BOTH(mutators_during_save)

/* ---- bad images ---- */

static uint64_t file_size(const char *p)
{
    struct stat st;
    ck_assert_int_eq(stat(p, &st), 0);
    return (uint64_t)st.st_size;
}

static void copy_file(const char *from, const char *to)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cp %s %s", from, to);
    ck_assert_int_eq(system(cmd), 0);
}

/* The heap's range is free again: nothing was left mapped. */
static void range_is_free(void)
{
    void *p = mmap(BASE, 1 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | 0x100000 /* NOREPLACE */,
                   -1, 0);
    ck_assert_msg(p == BASE, "a refused restore left something mapped at %p", BASE);
    munmap(p, 1 << 20);
}

static int bad_backend;

/* Restoring p is refused with a message holding words (NULL: any). */
static void expect_refused(const char *p, const vmgc_type_desc *d, size_t nd, unsigned flags,
                           const char *words)
{
    vmgc_config c = config_for(bad_backend, 1);
    vmgc_heap *h = (vmgc_heap *)1;
    vmgc_status st = vmgc_heap_restore(&h, &c, p, d, nd, flags);
    ck_assert_msg(st != VMGC_OK, "a bad image (%s) was accepted", words ? words : "?");
    ck_assert_ptr_null(h);
    const char *msg = vmgc_last_error();
    ck_assert_msg(!words || strstr(msg, words), "message '%s' does not say '%s'", msg, words);
    range_is_free();
}

static void poke(const char *p, uint64_t off, const void *bytes, size_t n)
{
    int fd = open(p, O_WRONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pwrite(fd, bytes, n, (off_t)off), (ssize_t)n);
    close(fd);
}

static void flip_bit(const char *p, uint64_t bit)
{
    int fd = open(p, O_RDWR);
    unsigned char b;
    ck_assert_int_eq(pread(fd, &b, 1, (off_t)(bit / 8)), 1);
    b ^= (unsigned char)(1u << (bit % 8));
    ck_assert_int_eq(pwrite(fd, &b, 1, (off_t)(bit / 8)), 1);
    close(fd);
}

static struct image_header read_header(const char *p)
{
    struct image_header h;
    int fd = open(p, O_RDONLY);
    ck_assert_int_eq(pread(fd, &h, sizeof h, 0), (ssize_t)sizeof h);
    close(fd);
    return h;
}

/* Change the header with a correct checksum, so the field is what fails. */
static void rewrite_header(const char *p, struct image_header h)
{
    h.header_sum = image_header_sum(&h);
    poke(p, 0, &h, sizeof h);
}

static void save_small_image(int backend, const char *p)
{
    heap_new(backend, 0);
    memset(roots, 0, sizeof roots);
    ck_assert_int_eq(vmgc_root_add_named(heap, "roots", roots, 2), VMGC_OK);
    roots[0] = list_make(20000, 7);
    roots[1] = vmgc_alloc(me, types[T_VEC], VEC_N * sizeof(void *)); /* a large object */
    vmgc_checkpoint *ck;
    ck_assert_msg(vmgc_checkpoint_start(heap, p, &ck) == VMGC_OK, "%s", vmgc_last_error());
    ck_assert_msg(vmgc_checkpoint_wait(ck, NULL) == VMGC_OK, "%s", vmgc_last_error());
    heap_end();
}

static void bad_images(int backend)
{
    bad_backend = backend;
    make_dir();
    save_small_image(backend, path);
    char bad[160];
    snprintf(bad, sizeof bad, "%s/bad.img", dir);
    uint64_t size = file_size(path);
    struct image_header h0 = read_header(path);

    expect_refused("/nonexistent/heap.img", descs, NTYPES, 0, "cannot open");
    /* truncated at many lengths */
    uint64_t cuts[] = {0, 7, sizeof h0 - 1, sizeof h0, 4096, 4096 + 4096 * 3, h0.index_offset,
                       h0.types_offset, h0.roots_offset, size - 1};
    for (size_t k = 0; k < sizeof cuts / sizeof *cuts; k++) {
        copy_file(path, bad);
        ck_assert_int_eq(truncate(bad, (off_t)cuts[k]), 0);
        expect_refused(bad, descs, NTYPES, 0, "image");
    }
    /* something appended */
    copy_file(path, bad);
    poke(bad, size, "x", 1);
    expect_refused(bad, descs, NTYPES, 0, "end of the file");
    /* wrong magic, version, page size, architecture, pointer size */
    copy_file(path, bad);
    poke(bad, 0, "NOTVMGC", 8);
    expect_refused(bad, descs, NTYPES, 0, "magic");
    struct image_header h = h0;
    h.version = 99;
    copy_file(path, bad);
    rewrite_header(bad, h);
    expect_refused(bad, descs, NTYPES, 0, "version 99");
    h = h0;
    h.page_size = 16384;
    copy_file(path, bad);
    rewrite_header(bad, h);
    expect_refused(bad, descs, NTYPES, 0, "16384-byte pages");
    h = h0;
    memset(h.arch, 0, sizeof h.arch);
    memcpy(h.arch, "riscv64", 7);
    copy_file(path, bad);
    rewrite_header(bad, h);
    expect_refused(bad, descs, NTYPES, 0, "another architecture (riscv64");
    h = h0;
    h.pointer_bytes = 4;
    copy_file(path, bad);
    rewrite_header(bad, h);
    expect_refused(bad, descs, NTYPES, 0, "4-byte pointers");
    /* a flipped bit in each part */
    struct {
        uint64_t off;
        const char *words;
        unsigned flags;
    } parts[] = {{offsetof(struct image_header, npages), "header's checksum", 0},
                 {sizeof h0 + 5, "non-zero bytes after the header", 0},
                 {h0.index_offset + 3, "index section", 0},
                 {h0.types_offset + 20, "types section", 0},
                 {h0.roots_offset + 1, "roots section", 0},
                 {IMAGE_DATA_OFFSET + 4096 * 2 + 100, "does not match its checksum", VMGC_RESTORE_VERIFY}};
    for (size_t k = 0; k < sizeof parts / sizeof *parts; k++) {
        copy_file(path, bad);
        flip_bit(bad, parts[k].off * 8 + k % 8);
        expect_refused(bad, descs, NTYPES, parts[k].flags, parts[k].words);
    }
    /* flipped bits anywhere: every one is found (pages with VERIFY) */
    uint64_t seed = test_seed("bad_images"), rng = seed;
    for (int k = 0; k < 200; k++) {
        copy_file(path, bad);
        flip_bit(bad, test_rand(&rng) % (size * 8));
        expect_refused(bad, descs, NTYPES, VMGC_RESTORE_VERIFY, "image");
    }
    /* types the program does not have, or has differently */
    expect_refused(path, descs, 2, 0, "type 'box', which the program did not describe");
    vmgc_type_desc other[NTYPES];
    memcpy(other, descs, sizeof other);
    other[T_NODE].bitmap = 3;
    expect_refused(path, other, NTYPES, 0, "pointer bitmap 0x1 in image");
    memcpy(other, descs, sizeof other);
    other[T_BOX].layout = VMGC_LAYOUT_ALL_POINTERS;
    expect_refused(path, other, NTYPES, 0, "VMGC_LAYOUT_NO_POINTERS in image");
    /* the image's range in use */
    void *busy = mmap(BASE, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    ck_assert_ptr_eq(busy, BASE);
    vmgc_config c = config_for(backend, 1);
    vmgc_heap *hp;
    ck_assert_int_eq(vmgc_heap_restore(&hp, &c, path, descs, NTYPES, 0), VMGC_EBUSY);
    ck_assert_msg(strstr(vmgc_last_error(), "is in use in this process"), "%s", vmgc_last_error());
    munmap(busy, 4096);
    /* and the good image still restores */
    ck_assert_msg(restore(backend, path, VMGC_RESTORE_VERIFY) == VMGC_OK, "%s", vmgc_last_error());
    heap_end();
    remove_dir();
}
BOTH(bad_images)

/* A page damaged after a lazy restore is fatal when loaded, with a message. */
static int damaged_child(void *arg)
{
    (void)arg;
    if (restore(bad_backend, path, 0) != VMGC_OK)
        return 1;
    void *r[2] = {0};
    if (vmgc_root_restore(heap, "roots", r, 2) != VMGC_OK)
        return 2;
    vmgc_collect(heap, 1); /* loads every page: the damaged one aborts */
    return 0;
}

static void damaged_page_is_fatal(int backend)
{
    bad_backend = backend;
    make_dir();
    save_small_image(backend, path);
    flip_bit(path, (IMAGE_DATA_OFFSET + 4096 + 64) * 8);
    int status = in_child(damaged_child, NULL);
    ck_assert_int_eq(status, 128 + SIGABRT);
    remove_dir();
}
BOTH(damaged_page_is_fatal)

/* At the VMA limit showing a loaded group fails (ENOMEM); the fault then
 * loads and shows a wider region (imageload.md .sol.widen). */
static int vma_limit_child(void *arg)
{
    (void)arg;
    restore_test_no_loader = 1; /* the touches below are the only loads */
    if (restore(bad_backend, path, 0) != VMGC_OK)
        return 1;
    void *r[2] = {0};
    if (vmgc_root_restore(heap, "roots", r, 2) != VMGC_OK)
        return 2;
    sys_inject_begin();
    sys_inject_fail_nth(SYS_CALL_MPROTECT, 1, ENOMEM);
    int ok = list_ok(r[0], 20000, 7); /* traps load the list's pages */
    int fired = sys_inject_fired();
    vmgc_stats st;
    vmgc_get_stats(heap, &st);
    if (!st.image_loading || !st.image_load_traps || st.image_load_widenings != 1) {
        fprintf(stderr, "loading: %d, %llu trap loads, %llu widenings (want 1)\n",
                st.image_loading, (unsigned long long)st.image_load_traps,
                (unsigned long long)st.image_load_widenings);
        ok = 0;
    }
    vmgc_collect(heap, 1);
    ok = ok && list_ok(r[0], 20000, 7);
    vmgc_get_stats(heap, &st);
    ok = ok && !st.image_loading && st.image_pages_loaded > 20000 * 24 / 4096;
    sys_reset();
    if (!fired)
        fprintf(stderr, "no mprotect failed: the widening was not exercised\n");
    return ok && fired ? 0 : 3;
}

static void restore_at_vma_limit(int backend)
{
    bad_backend = backend;
    make_dir();
    save_small_image(backend, path);
    ck_assert_int_eq(in_child(vma_limit_child, NULL), 0);
    remove_dir();
}
BOTH(restore_at_vma_limit)

/* ---- a full disk ---- */

static void full_disk(int backend)
{
    make_dir();
    char small[128];
    snprintf(small, sizeof small, "%s/small", dir);
    ck_assert_int_eq(mkdir(small, 0700), 0);
    /* a small tmpfs where root may mount one (the README's commands run as
     * root), else a file size limit: writes past it fail alike (EFBIG) */
    int tmpfs = getuid() == 0 && unshare(CLONE_NEWNS) == 0 &&
                mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
                mount("tmpfs", small, "tmpfs", 0, "size=2m") == 0;
    char p[160];
    snprintf(p, sizeof p, "%s/heap.img", small);
    save_small_image(backend, p); /* ~1 MB: fits */
    struct image_header before = read_header(p);
    heap_new(backend, 1);
    memset(roots, 0, sizeof roots);
    ck_assert_int_eq(vmgc_root_add_named(heap, "roots", roots, 2), VMGC_OK);
    roots[0] = list_make(200000, 1); /* ~5 MB: does not */
    if (!tmpfs) { /* after the heaps' memfds are sized: the limit applies to them too */
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {2 << 20, 2 << 20};
        ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    }
    vmgc_checkpoint *ck;
    ck_assert_msg(vmgc_checkpoint_start(heap, p, &ck) == VMGC_OK, "%s", vmgc_last_error());
    ck_assert_int_eq(vmgc_checkpoint_wait(ck, NULL), VMGC_ESYSTEM);
    const char *msg = vmgc_last_error();
    fprintf(stderr, "full_disk(%s, %s): %s\n", test_backends[backend], tmpfs ? "tmpfs" : "rlimit",
            msg);
    ck_assert_msg(strstr(msg, p) && strstr(msg, tmpfs ? "disk is full" : "too large"), "%s", msg);
    /* the heap goes on */
    struct node *l = list_make(1000, 5);
    vmgc_collect(heap, 1);
    ck_assert(list_ok(l, 1000, 5));
    heap_end();
    /* the previous image is as it was, and nothing else is left */
    struct image_header after = read_header(p);
    ck_assert_uint_eq(after.header_sum, before.header_sum);
    struct image *img;
    ck_assert_msg(image_open(p, &img) == VMGC_OK, "%s", vmgc_last_error());
    ck_assert_int_eq(image_verify_pages(img, NULL, NULL), VMGC_OK);
    image_close(img);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "test $(ls %s | wc -l) = 1", small);
    ck_assert_msg(system(cmd) == 0, "a temporary file was left behind");
    if (tmpfs)
        umount(small);
    remove_dir();
}
BOTH(full_disk)

/* ---- a saver killed at random points ---- */

static int saver_child(void *arg)
{
    int fd = *(int *)arg;
    heap_new(bad_backend, 1);
    memset(roots, 0, sizeof roots);
    ck_assert_int_eq(vmgc_root_add_named(heap, "roots", roots, 2), VMGC_OK);
    for (uint64_t gen = 0;; gen++) {
        roots[0] = list_make(100000, gen * 1000000);
        vmgc_checkpoint *ck;
        if (vmgc_checkpoint_start(heap, path, &ck) != VMGC_OK ||
            vmgc_checkpoint_wait(ck, NULL) != VMGC_OK)
            return 1;
        if (gen == 0 && write(fd, "r", 1) != 1)
            return 2;
    }
}

static int check_killed_image(void *arg)
{
    (void)arg;
    if (restore(bad_backend, path, VMGC_RESTORE_VERIFY) != VMGC_OK) {
        fprintf(stderr, "after a kill: %s\n", vmgc_last_error());
        return 1;
    }
    void *r[2] = {0};
    if (vmgc_root_restore(heap, "roots", r, 2) != VMGC_OK)
        return 2;
    const struct node *l = r[0];
    uint64_t base = l ? l->value - 99999 : 1;
    return list_ok(l, 100000, base) && base % 1000000 == 0 ? 0 : 3;
}

static void killed_saver(int backend)
{
    bad_backend = backend;
    make_dir();
    uint64_t rng = test_seed("killed_saver");
    for (int round = 0; round < 6; round++) {
        int pipefd[2];
        ck_assert_int_eq(pipe(pipefd), 0);
        fflush(stderr);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            close(pipefd[0]);
            _exit(saver_child(&pipefd[1]));
        }
        close(pipefd[1]);
        char c;
        ck_assert_int_eq(read(pipefd[0], &c, 1), 1); /* one image is complete */
        close(pipefd[0]);
        usleep((useconds_t)(test_rand(&rng) % 300000));
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        ck_assert_int_eq(in_child(check_killed_image, NULL), 0);
    }
    /* the killed savers' temporary files go with the next checkpoint there */
    save_small_image(backend, path);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "test $(ls %s | wc -l) = 1", dir);
    ck_assert_msg(system(cmd) == 0, "temporary files of killed savers are left in %s", dir);
    remove_dir();
}
BOTH(killed_saver)

int main(void)
{
    Suite *s = suite_create("checkpoint");
    TCase *tc = tcase_create("roundtrip");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, roundtrip_background_t, 0, 2);
    tcase_add_loop_test(tc, roundtrip_no_background_t, 0, 2);
    tcase_add_loop_test(tc, mutators_during_save_t, 0, 2);
    suite_add_tcase(s, tc);
    TCase *bad = tcase_create("damage");
    tcase_set_timeout(bad, 120);
    tcase_add_loop_test(bad, bad_images_t, 0, 2);
    tcase_add_loop_test(bad, damaged_page_is_fatal_t, 0, 2);
    tcase_add_loop_test(bad, full_disk_t, 0, 2);
    tcase_add_loop_test(bad, killed_saver_t, 0, 2);
    tcase_add_loop_test(bad, restore_at_vma_limit_t, 0, 2);
    suite_add_tcase(s, bad);
    return test_run(s);
}

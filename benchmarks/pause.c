/* pause.c -- flip pauses against live-heap size, and the cost of a trap.
 *
 * For each live size (default 100 and 1024 MiB), each way of holding the
 * roots and each barrier backend: build the live data (lists of 240-byte
 * nodes hanging off --roots precise root slots, default 4096), start 2
 * mutator threads that allocate garbage and replace live nodes, run
 * collections back to back, and report the flip pauses (median, p99, max,
 * from vmgc_get_pauses, and how many flips took over 0.5 ms, the target's
 * bound) and the median round trip of a mutator access that
 * trapped on a grey page (timed around the access, so it includes the
 * kernel's delivery and the page scan).
 * The roots are held in a range (vmgc_root_add: the flip copies what each
 * slot points at, so its pause grows with --roots) or in a root block
 * (vmgc_root_block_new: the flip only protects the block; its pages are
 * forwarded after it, and a trap on one forwards its 512 slots).
 * --young: a generational heap whose cycles (after the first) are young
 * ones: the mutators' replacements write old pages, which the flip greys
 * (the remembered set, doc/design/generations.md); a last column says how
 * many a cycle.
 * Usage: pause [--live MIB[,MIB...]] [--cycles N] [--roots N]
 *              [--roots-in range|block|both] [--backend uffd|mprotect|both] [--young]
 */
#include "config.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmgc.h"

#define MAX_ROOTS 65536
#define PAYLOAD 232 /* + 8 header = 240 bytes */

struct node {
    struct node *next;
    uint64_t value;
    char pad[PAYLOAD - 16];
};

static vmgc_heap *heap;
static vmgc_type t_node;
static void *root_array[MAX_ROOTS];
static void **roots; /* root_array (vmgc_root_add) or a root block */
static size_t nroots = 4096;
static int stop;
static sem_t flipped;

/* The main thread sleeps until the flip instead of polling the statistics:
 * polling made it a third busy thread on 2 cores, and a thread that is
 * runnable but not on a CPU acknowledges the stop only when the scheduler
 * runs it (pauses of 2-4 ms in ~1 flip in 30). */
static void note_flip(void *ctx, uint64_t start_ns, uint64_t duration_ns)
{
    (void)ctx, (void)start_ns, (void)duration_ns;
    sem_post(&flipped);
}

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static uint64_t pct(uint64_t *v, size_t n, double p)
{
    if (!n)
        return 0;
    size_t k = (size_t)(p * (double)(n - 1) + 0.5);
    return v[k];
}

static int young; /* --young */

static void *mutator(void *arg)
{
    uint64_t rng = (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ull + 1;
    vmgc_thread *t;
    vmgc_thread_attach(heap, &t);
    while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
        struct node *garbage = NULL;
        for (int i = 0; i < 64; i++) {
            struct node *n = vmgc_alloc(t, t_node, PAYLOAD);
            n->next = garbage;
            garbage = n;
        }
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        /* replace the head of a random live list */
        struct node *head = roots[rng % nroots];
        if (head) {
            struct node *n = vmgc_alloc(t, t_node, PAYLOAD);
            n->value = head->value;
            n->next = head->next;
            roots[rng % nroots] = n;
            /* --young: and a node further down, in an old page, gets a young
             * successor (a write the remembered set must see) */
            struct node *m = n->next;
            for (uint64_t k = rng >> 40 & 15; young && m && m->next && k > 0; k--)
                m = m->next;
            if (young && m && m->next) {
                struct node *y = vmgc_alloc(t, t_node, PAYLOAD);
                y->value = m->next->value;
                y->next = m->next->next;
                m->next = y;
            }
        }
    }
    vmgc_thread_detach(t);
    return NULL;
}

/* Walk the live lists right after a flip, timing each first touch of a
 * node; accesses that took over 1.5 us trapped. */
static size_t time_traps(vmgc_thread *me, uint64_t *out, size_t max)
{
    (void)me;
    size_t n = 0;
    for (size_t r = 0; r < nroots && n < max; r++) {
        struct node *p = roots[r];
        for (int k = 0; p && k < 8 && n < max; k++) {
            uint64_t t0 = now_ns();
            uint64_t v = *(volatile uint64_t *)&p->value;
            uint64_t dt = now_ns() - t0;
            (void)v;
            if (dt > 1500)
                out[n++] = dt;
            p = p->next;
        }
    }
    return n;
}

static void run(const char *backend, size_t live_mib, int cycles, int in_block)
{
    vmgc_config c;
    vmgc_config_init(&c);
    c.reserve_bytes = (live_mib * 5 + 512) << 20;
    c.initial_size = (live_mib << 20) * 2;
    c.barrier = backend;
    c.on_pause = note_flip;
    c.generational = young ? 1 : -1;
    if (vmgc_heap_create(&heap, &c) != VMGC_OK) {
        fprintf(stderr, "pause: %s\n", vmgc_last_error());
        exit(1);
    }
    vmgc_thread *me;
    vmgc_thread_attach(heap, &me);
    vmgc_type_desc nd = {.name = "node", .layout = VMGC_LAYOUT_BITMAP, .bitmap = 1};
    vmgc_type_register(heap, &nd, &t_node);
    if (in_block) {
        if (vmgc_root_block_new(heap, nroots, &roots) != VMGC_OK) {
            fprintf(stderr, "pause: %s\n", vmgc_last_error());
            exit(1);
        }
    } else {
        roots = root_array;
        memset(root_array, 0, sizeof root_array);
        vmgc_root_add(heap, roots, nroots);
    }
    size_t nodes = (live_mib << 20) / (PAYLOAD + 8);
    for (size_t i = 0; i < nodes; i++) {
        struct node *n = vmgc_alloc(me, t_node, PAYLOAD);
        n->value = i;
        n->next = roots[i % nroots];
        roots[i % nroots] = n;
    }
    stop = 0;
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, mutator, (void *)(uintptr_t)(i + 1));
    uint64_t traps[8192];
    size_t ntraps = 0;
    uint64_t t0 = now_ns();
    for (int k = 0; k < cycles; k++) {
        while (sem_trywait(&flipped) == 0)
            ;
        if (young && k > 0)
            vmgc_collect_young(heap, 0);
        else
            vmgc_collect(heap, 0);
        vmgc_blocking_enter(me);
        while (sem_wait(&flipped) != 0)
            ;
        vmgc_blocking_leave(me);
        if (ntraps < 8192)
            ntraps += time_traps(me, traps + ntraps, 8192 - ntraps);
        if (young)
            vmgc_collect_young(heap, 1);
        else
            vmgc_collect(heap, 1);
    }
    double seconds = (double)(now_ns() - t0) / 1e9;
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    uint64_t p[4096];
    size_t np = vmgc_get_pauses(heap, p, 4096);
    qsort(p, np, sizeof *p, cmp_u64);
    qsort(traps, ntraps, sizeof *traps, cmp_u64);
    vmgc_stats s;
    vmgc_get_stats(heap, &s);
    size_t over = 0; /* the target's bound: how many flips missed it */
    while (over < np && p[np - 1 - over] > 500000)
        over++;
    printf("| %s | %zu | %zu %s | %llu | %.1f | %.1f | %.1f | %zu | %.1f | %zu | %.2f |",
           backend, live_mib, nroots, in_block ? "block" : "range",
           (unsigned long long)s.collections, (double)pct(p, np, 0.5) / 1e3,
           (double)pct(p, np, 0.99) / 1e3, (double)p[np ? np - 1 : 0] / 1e3, over,
           (double)pct(traps, ntraps, 0.5) / 1e3, ntraps, seconds / cycles);
    if (young)
        printf(" %llu young, %.0f old pages remembered a young cycle |",
               (unsigned long long)s.young_collections,
               s.young_collections ? (double)s.remembered_pages / (double)s.young_collections : 0.0);
    printf("\n");
    fflush(stdout);
    if (in_block)
        vmgc_root_block_free(heap, roots);
    else
        vmgc_root_remove(heap, roots);
    vmgc_thread_detach(me);
    vmgc_heap_destroy(heap);
}

int main(int argc, char **argv)
{
    char lives[128] = "100,1024";
    int cycles = 10;
    sem_init(&flipped, 0, 0);
    const char *backend = "both", *roots_in = "both";
    for (int i = 1; i < argc; i += 2) {
        if (!strcmp(argv[i], "--young")) {
            young = 1;
            i--; /* takes no value */
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "pause: %s needs a value\n", argv[i]);
            return 2;
        }
        if (!strcmp(argv[i], "--live"))
            snprintf(lives, sizeof lives, "%s", argv[i + 1]);
        else if (!strcmp(argv[i], "--cycles"))
            cycles = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--roots"))
            nroots = (size_t)atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--backend"))
            backend = argv[i + 1];
        else if (!strcmp(argv[i], "--roots-in"))
            roots_in = argv[i + 1];
        else {
            fprintf(stderr, "pause: unknown option '%s' (takes --live, --cycles, --roots, "
                            "--roots-in, --backend, --young)\n", argv[i]);
            return 2;
        }
    }
    int want_range = !strcmp(roots_in, "both") || !strcmp(roots_in, "range");
    int want_block = !strcmp(roots_in, "both") || !strcmp(roots_in, "block");
    if (!want_range && !want_block) {
        fprintf(stderr, "pause: --roots-in takes range, block or both (got '%s')\n", roots_in);
        return 2;
    }
    if (nroots < 1 || nroots > MAX_ROOTS || cycles < 1) {
        fprintf(stderr, "pause: --roots takes 1..%d and --cycles at least 1\n", MAX_ROOTS);
        return 2;
    }
    printf("| backend | live MiB | roots | cycles | pause p50 us | p99 us | max us "
           "| over 0.5 ms | trap+scan p50 us | traps timed | s/cycle |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (char *tok = strtok(lives, ","); tok; tok = strtok(NULL, ",")) {
        size_t mib = (size_t)atol(tok);
        if (mib < 1 || mib > (1u << 20)) {
            fprintf(stderr, "pause: --live takes sizes in MiB, 1 or more, comma-separated "
                            "(got '%s')\n", tok);
            return 2;
        }
        for (int in_block = 0; in_block < 2; in_block++) {
            if (!(in_block ? want_block : want_range))
                continue;
            if (!strcmp(backend, "both") || !strcmp(backend, "uffd"))
                run("uffd", mib, cycles, in_block);
            if (!strcmp(backend, "both") || !strcmp(backend, "mprotect"))
                run("mprotect", mib, cycles, in_block);
        }
    }
    return 0;
}

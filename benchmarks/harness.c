/* harness.c -- the benchmark suite's common part: see harness.h. */
#include "config.h"

#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "mmu.h"
#include "procmem.h"

enum bench_system bench_sys;
vmgc_heap *bench_heap;
__thread vmgc_thread *bench_me;

static const char *const system_names[] = {
    [SYS_VMGC_UFFD] = "vmgc-uffd",   [SYS_VMGC_MPROTECT] = "vmgc-mprotect",
    [SYS_BOEHM] = "boehm",           [SYS_BOEHM_INCREMENTAL] = "boehm-incremental",
    [SYS_GLIBC] = "glibc",           [SYS_JEMALLOC] = "jemalloc",
};

static const char *workload_name, *workload_options;
static int full_size;
static int opt_argc;
static char **opt_argv;
static const char *pauses_file, *mmu_file;
static const char *heap_limit_mib; /* --heap-limit: vmgc_config.heap_limit, MiB */

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

void bench_fail(const char *what)
{
    fprintf(stderr, "%s (%s): %s\n", workload_name, system_names[bench_sys], what);
    exit(1);
}

/* ---- pauses -------------------------------------------------------------
 * Appended by whichever thread ran the pause (vmgc's flip, Boehm's event
 * callback under its lock); pauses never overlap, the index is atomic. */
enum { PAUSES_MAX = 1 << 20 };
static struct pause *pauses;
static size_t npauses;

static void pause_add(uint64_t start, uint64_t length)
{
    size_t k = __atomic_fetch_add(&npauses, 1, __ATOMIC_RELAXED);
    if (k < PAUSES_MAX) {
        pauses[k].start = start;
        pauses[k].length = length;
    }
}

static void vmgc_pause(void *ctx, uint64_t start_ns, uint64_t duration_ns)
{
    (void)ctx;
    pause_add(start_ns, duration_ns);
}

#ifdef HAVE_GC_H
/* A full collection (START..END) stops the allocating thread for all of
 * it, marking and sweeping; an incremental collection's final mark stops
 * the world (PRE_STOP_WORLD..POST_START_WORLD) outside any START..END. */
static uint64_t boehm_full_start, boehm_stop_start;
static int boehm_in_full;

static void boehm_event(GC_EventType e)
{
    switch (e) {
    case GC_EVENT_START:
        boehm_in_full = 1;
        boehm_full_start = now_ns();
        break;
    case GC_EVENT_END:
        if (boehm_in_full)
            pause_add(boehm_full_start, now_ns() - boehm_full_start);
        boehm_in_full = 0;
        break;
    case GC_EVENT_PRE_STOP_WORLD:
        boehm_stop_start = now_ns();
        break;
    case GC_EVENT_POST_START_WORLD:
        if (!boehm_in_full)
            pause_add(boehm_stop_start, now_ns() - boehm_stop_start);
        break;
    default:
        break;
    }
}
#endif

/* ---- memory -------------------------------------------------------------
 * RSS counts a vmgc heap page once per view (mutator and collector), so the
 * footprint is sampled instead: anonymous + file memory, plus the heap's
 * own memory counted once (vmgc) or shared memory (everyone else). */
static size_t peak_footprint;
static vmgc_stats peak_parts; /* vmgc: the footprint's parts at its peak */
static int sampler_stop;
static pthread_t sampler;

static size_t footprint_now(vmgc_stats *parts)
{
    if (!bench_is_vmgc())
        return proc_resident_bytes(1);
    vmgc_stats s;
    vmgc_get_stats(bench_heap, &s);
    if (parts)
        *parts = s;
    return proc_resident_bytes(0) + s.resident_bytes;
}

static void *sample_memory(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&sampler_stop, __ATOMIC_ACQUIRE)) {
        vmgc_stats parts;
        size_t f = footprint_now(&parts);
        if (f > peak_footprint) {
            peak_footprint = f;
            peak_parts = parts;
        }
        usleep(5000);
    }
    return NULL;
}

/* ---- setup --------------------------------------------------------------- */

static void usage(const char *why)
{
    fprintf(stderr,
            "%s: %s\nusage: %s --gc vmgc-uffd|vmgc-mprotect|boehm|boehm-incremental|glibc|jemalloc"
            " [--size quick|full] [--pauses FILE] [--mmu FILE] [--heap-limit MIB] [workload "
            "options]\n",
            workload_name, why, workload_name);
    exit(2);
}

static void setup_vmgc(void)
{
    vmgc_config c;
    vmgc_config_init(&c);
    c.barrier = bench_sys == SYS_VMGC_UFFD ? "uffd" : "mprotect";
    c.reserve_bytes = (size_t)64 << 30;
    c.on_pause = vmgc_pause;
    if (heap_limit_mib) {
        char *end;
        unsigned long long mib = strtoull(heap_limit_mib, &end, 10);
        if (*end || !mib)
            usage("--heap-limit takes a size in MiB");
        c.heap_limit = (size_t)mib << 20;
    }
    if (vmgc_heap_create(&bench_heap, &c) != VMGC_OK) {
        fprintf(stderr, "%s: %s\n", workload_name, vmgc_last_error());
        exit(1);
    }
}

static int is_workload_option(const char *arg)
{
    size_t len = strlen(arg);
    for (const char *p = workload_options; *p;) {
        size_t n = strcspn(p, " ");
        if (n == len && !strncmp(p, arg, n))
            return 1;
        p += n + (p[n] == ' ');
    }
    return 0;
}

void bench_init(int argc, char **argv, const char *workload, const char *options)
{
    workload_name = workload;
    workload_options = options;
    opt_argc = argc;
    opt_argv = argv;
    const char *sys = NULL, *size = "quick";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--header")) { /* for suite.sh */
            puts(bench_csv_header());
            exit(0);
        }
        const char **into = !strcmp(argv[i], "--gc")       ? &sys
                            : !strcmp(argv[i], "--size")   ? &size
                            : !strcmp(argv[i], "--pauses") ? &pauses_file
                            : !strcmp(argv[i], "--mmu")    ? &mmu_file
                            : !strcmp(argv[i], "--heap-limit") ? &heap_limit_mib
                                                           : NULL;
        int own = !into && !strncmp(argv[i], "--", 2) && is_workload_option(argv[i] + 2);
        if (!into && !own) {
            fprintf(stderr, "%s: unknown option '%s' (this workload takes: %s)\n", workload,
                    argv[i], *options ? options : "none of its own");
            usage("see the options above");
        }
        if (i + 1 >= argc)
            usage("an option lacks its value");
        if (into)
            *into = argv[i + 1];
        i++;
    }
    if (!sys)
        usage("--gc is required");
    size_t k = 0;
    while (k < sizeof system_names / sizeof system_names[0] && strcmp(sys, system_names[k]))
        k++;
    if (k == sizeof system_names / sizeof system_names[0])
        usage("unknown system");
    bench_sys = (enum bench_system)k;
    if (strcmp(size, "quick") && strcmp(size, "full"))
        usage("--size must be quick or full");
    full_size = !strcmp(size, "full");
    pauses = calloc(PAUSES_MAX, sizeof *pauses);
    if (!pauses)
        bench_fail("no memory for the pause log");
    switch (bench_sys) {
    case SYS_VMGC_UFFD:
    case SYS_VMGC_MPROTECT:
        setup_vmgc();
        break;
    case SYS_BOEHM:
    case SYS_BOEHM_INCREMENTAL:
#ifdef HAVE_GC_H
        GC_INIT();
        GC_allow_register_threads();
        if (bench_sys == SYS_BOEHM_INCREMENTAL)
            GC_enable_incremental();
        GC_set_on_collection_event(boehm_event);
        break;
#else
        bench_fail("built without Boehm GC (install libgc-dev and reconfigure)");
#endif
    case SYS_JEMALLOC:
#ifndef HAVE_JEMALLOC_JEMALLOC_H
        bench_fail("built without jemalloc (install libjemalloc-dev and reconfigure)");
#endif
        break;
    case SYS_GLIBC:
        break;
    }
    bench_thread_begin();
}

long bench_option(const char *name, long quick, long full, long min, long max)
{
    for (int i = 1; i + 1 < opt_argc; i++)
        if (!strncmp(opt_argv[i], "--", 2) && !strcmp(opt_argv[i] + 2, name)) {
            char *end;
            errno = 0;
            long v = strtol(opt_argv[i + 1], &end, 10);
            if (errno || end == opt_argv[i + 1] || *end || v < min || v > max) {
                fprintf(stderr, "%s: --%s is '%s'; give a whole number from %ld to %ld\n",
                        workload_name, name, opt_argv[i + 1], min, max);
                exit(2);
            }
            return v;
        }
    return full_size ? full : quick;
}

int bench_is_vmgc(void)
{
    return bench_sys == SYS_VMGC_UFFD || bench_sys == SYS_VMGC_MPROTECT;
}

int bench_is_gc(void)
{
    return bench_sys != SYS_GLIBC && bench_sys != SYS_JEMALLOC;
}

static bench_type make_type(const char *name, vmgc_layout layout, uint64_t bitmap)
{
    bench_type t = {0, layout != VMGC_LAYOUT_NO_POINTERS};
    if (bench_is_vmgc()) {
        vmgc_type_desc d = {.name = name, .layout = layout, .bitmap = bitmap};
        if (vmgc_type_register(bench_heap, &d, &t.vmgc) != VMGC_OK)
            bench_fail(vmgc_last_error());
    }
    return t;
}

bench_type bench_type_bitmap(const char *name, uint64_t pointer_words)
{
    return make_type(name, VMGC_LAYOUT_BITMAP, pointer_words);
}

bench_type bench_type_all_pointers(const char *name)
{
    return make_type(name, VMGC_LAYOUT_ALL_POINTERS, 0);
}

bench_type bench_type_no_pointers(const char *name)
{
    return make_type(name, VMGC_LAYOUT_NO_POINTERS, 0);
}

void bench_roots(void **slots, size_t count)
{
    if (bench_is_vmgc() && vmgc_root_add(bench_heap, slots, count) != VMGC_OK)
        bench_fail(vmgc_last_error());
}

void bench_roots_remove(void **slots)
{
    if (bench_is_vmgc() && vmgc_root_remove(bench_heap, slots) != VMGC_OK)
        bench_fail(vmgc_last_error());
}

void bench_thread_begin(void)
{
    if (bench_is_vmgc()) {
        if (vmgc_thread_attach(bench_heap, &bench_me) != VMGC_OK)
            bench_fail(vmgc_last_error());
    }
#ifdef HAVE_GC_H
    else if (bench_is_gc()) {
        struct GC_stack_base sb;
        if (GC_get_stack_base(&sb) != GC_SUCCESS)
            bench_fail("GC_get_stack_base failed");
        GC_register_my_thread(&sb); /* GC_DUPLICATE for main: fine */
    }
#endif
}

void bench_thread_end(void)
{
    if (bench_is_vmgc()) {
        if (vmgc_thread_detach(bench_me) != VMGC_OK)
            bench_fail(vmgc_last_error());
        bench_me = NULL;
    }
#ifdef HAVE_GC_H
    else if (bench_is_gc()) {
        GC_unregister_my_thread();
    }
#endif
}

/* ---- the timed part ------------------------------------------------------ */
static uint64_t t_start;
static double cpu_start;
static uint64_t collections_start;

static uint64_t collections_now(void)
{
    if (bench_is_vmgc()) {
        vmgc_stats s;
        vmgc_get_stats(bench_heap, &s);
        return s.collections;
    }
#ifdef HAVE_GC_H
    if (bench_is_gc())
        return GC_get_gc_no();
#endif
    return 0;
}

void bench_start(void)
{
    collections_start = collections_now();
    cpu_start = cpu_seconds();
    peak_footprint = footprint_now(&peak_parts);
    if (pthread_create(&sampler, NULL, sample_memory, NULL) != 0)
        bench_fail("cannot start the memory sampler thread");
    t_start = now_ns();
}

double bench_elapsed(void)
{
    return (double)(now_ns() - t_start) / 1e9;
}

const char *bench_csv_header(void)
{
    return "workload,params,system,wall_s,cpu_s,peak_rss_mib,peak_footprint_mib,collections,"
           "pauses,pause_total_ms,p50_us,p99_us,p999_us,max_us,mmu_1ms,mmu_10ms,mmu_100ms,extra";
}

void bench_report(const char *params, double extra)
{
    uint64_t t_end = now_ns();
    double cpu = cpu_seconds() - cpu_start;
    __atomic_store_n(&sampler_stop, 1, __ATOMIC_RELEASE);
    pthread_join(sampler, NULL);
    vmgc_stats parts;
    size_t f = footprint_now(&parts);
    if (f > peak_footprint) {
        peak_footprint = f;
        peak_parts = parts;
    }
    uint64_t collections = collections_now() - collections_start;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);

    size_t n = __atomic_load_n(&npauses, __ATOMIC_ACQUIRE);
    if (n > PAUSES_MAX)
        n = PAUSES_MAX;
    size_t first = 0; /* only pauses within the timed part */
    struct pause *timed = pauses;
    pause_sort_by_start(pauses, n);
    while (first < n && pauses[first].start < t_start)
        first++;
    timed += first;
    n -= first;
    struct pause_summary s = pause_summarize(timed, n);
    printf("%s,%s,%s,%.3f,%.3f,%.1f,%.1f,%llu,%zu,%.2f,%.1f,%.1f,%.1f,%.1f,%.4f,%.4f,%.4f,%g\n",
           workload_name, params, system_names[bench_sys], (double)(t_end - t_start) / 1e9, cpu,
           (double)ru.ru_maxrss / 1024, (double)peak_footprint / (1 << 20),
           (unsigned long long)collections, n, (double)s.total_ns / 1e6, (double)s.p50_ns / 1e3,
           (double)s.p99_ns / 1e3, (double)s.p999_ns / 1e3, (double)s.max_ns / 1e3,
           mmu(timed, n, t_start, t_end, 1000000), mmu(timed, n, t_start, t_end, 10000000),
           mmu(timed, n, t_start, t_end, 100000000), extra);
    fflush(stdout);
    if (bench_is_vmgc()) /* on stderr: stdout is the CSV row */
        fprintf(stderr,
                "%s %s: footprint at its peak %.1f MiB: heap resident %.1f = in use %.1f (live "
                "after the last collection %.1f, floating %.1f, young %.1f, copy reserve %.1f, "
                "and from-space while a collection runs) + held for reuse %.1f\n",
                workload_name, system_names[bench_sys], (double)peak_footprint / (1 << 20),
                (double)peak_parts.resident_bytes / (1 << 20),
                (double)peak_parts.heap_bytes / (1 << 20),
                (double)peak_parts.live_bytes_after_last / (1 << 20),
                (double)peak_parts.floating_bytes / (1 << 20),
                (double)peak_parts.young_bytes / (1 << 20),
                (double)peak_parts.reserve_bytes / (1 << 20),
                (double)peak_parts.held_bytes / (1 << 20));
    if (bench_is_vmgc()) {
        vmgc_stats s_end;
        vmgc_get_stats(bench_heap, &s_end);
        fprintf(stderr,
                "%s %s: %llu collections, %llu of them young, %llu marked the old generation "
                "in place (%.1f MiB of it swept, %.1f MiB in holes now); %llu old pages written "
                "and scanned by young ones (%llu first writes caught); %.1f MiB copied\n",
                workload_name, system_names[bench_sys], (unsigned long long)s_end.collections,
                (unsigned long long)s_end.young_collections,
                (unsigned long long)s_end.mark_collections,
                (double)s_end.old_bytes_swept / (1 << 20), (double)s_end.old_hole_bytes / (1 << 20),
                (unsigned long long)s_end.remembered_pages,
                (unsigned long long)s_end.write_traps, (double)s_end.bytes_copied / (1 << 20));
    }
    if (pauses_file && pause_write_list(pauses_file, timed, n, t_start) != 0)
        bench_fail("cannot write the --pauses file");
    if (mmu_file && mmu_write_curve(mmu_file, timed, n, t_start, t_end) != 0)
        bench_fail("cannot write the --mmu file");
}

/* report.c -- the benchmark suite's measurements of an interpreter run
 * (report.h).  The footprint is sampled as the suite's harness does it
 * (benchmarks/harness.c): the process's anonymous and file memory plus the
 * collector's heap counted once (RSS counts a vmgc page once per view). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "mem.h"
#include "mmu.h"
#include "procmem.h"
#include "report.h"

#define PAUSES_MAX (1u << 20)
static struct pause *pauses;
static size_t npauses;
static const char *report_file;
static uint64_t t_start;
static size_t peak_footprint;
static int sampler_stop;
static pthread_t sampler;

uint64_t report_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

void report_pause(uint64_t start_ns, uint64_t length_ns)
{
    if (!pauses)
        return;
    size_t k = __atomic_fetch_add(&npauses, 1, __ATOMIC_RELAXED);
    if (k < PAUSES_MAX) {
        pauses[k].start = start_ns;
        pauses[k].length = length_ns;
    }
}

static size_t footprint_now(void) { return proc_resident_bytes(0) + mem_resident_bytes(); }

static void note_footprint(void)
{
    size_t f = footprint_now();
    if (f > peak_footprint)
        peak_footprint = f;
}

static void *sample_memory(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&sampler_stop, __ATOMIC_ACQUIRE)) {
        note_footprint();
        usleep(5000);
    }
    return NULL;
}

int report_start(void)
{
    report_file = getenv("SCHEME_REPORT");
    if (!report_file || !*report_file)
        return 0;
    pauses = calloc(PAUSES_MAX, sizeof *pauses);
    if (!pauses) {
        fprintf(stderr, "vmgc-scheme: no memory for SCHEME_REPORT's pause list\n");
        exit(70);
    }
    t_start = report_now_ns();
    return 1;
}

/* The sampler starts once the heap exists (mem_resident_bytes needs it). */
void report_heap_ready(void)
{
    if (report_file && pthread_create(&sampler, NULL, sample_memory, NULL) != 0) {
        fprintf(stderr, "vmgc-scheme: cannot start SCHEME_REPORT's memory sampler\n");
        exit(71);
    }
}

void report_finish(const char *system)
{
    if (!report_file)
        return;
    uint64_t t_end = report_now_ns();
    __atomic_store_n(&sampler_stop, 1, __ATOMIC_RELEASE);
    pthread_join(sampler, NULL);
    note_footprint();
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    size_t n = __atomic_load_n(&npauses, __ATOMIC_ACQUIRE);
    if (n > PAUSES_MAX)
        n = PAUSES_MAX;
    pause_sort_by_start(pauses, n);
    struct pause_summary s = pause_summarize(pauses, n);
    const char *label = getenv("SCHEME_REPORT_LABEL");
    const char *params = getenv("SCHEME_REPORT_PARAMS");
    FILE *f = fopen(report_file, "a");
    if (!f) {
        fprintf(stderr, "vmgc-scheme: cannot append to SCHEME_REPORT=%s\n", report_file);
        return;
    }
    fprintf(f, "%s,%s,%s,%.3f,%.3f,%.1f,%.1f,%zu,%zu,%.2f,%.1f,%.1f,%.1f,%.1f,%.4f,%.4f,%.4f,0\n",
            label ? label : "scheme", params ? params : "", system, (double)(t_end - t_start) / 1e9,
            cpu, (double)ru.ru_maxrss / 1024, (double)peak_footprint / (1 << 20),
            (size_t)mem_collections(), n,
            (double)s.total_ns / 1e6, (double)s.p50_ns / 1e3, (double)s.p99_ns / 1e3,
            (double)s.p999_ns / 1e3, (double)s.max_ns / 1e3,
            mmu(pauses, n, t_start, t_end, 1000000), mmu(pauses, n, t_start, t_end, 10000000),
            mmu(pauses, n, t_start, t_end, 100000000));
    fclose(f);
    const char *list = getenv("SCHEME_REPORT_PAUSES"), *curve = getenv("SCHEME_REPORT_MMU");
    if ((list && pause_write_list(list, pauses, n, t_start) != 0) ||
        (curve && mmu_write_curve(curve, pauses, n, t_start, t_end) != 0))
        fprintf(stderr, "vmgc-scheme: cannot write SCHEME_REPORT_PAUSES or SCHEME_REPORT_MMU\n");
}

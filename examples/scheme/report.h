/* report.h -- measurements for the benchmark suite (SCHEME_REPORT=FILE):
 * time, peak footprint, pauses and minimum mutator utilization, appended
 * to FILE as one CSV line in the suite's columns (benchmarks/harness.h's
 * bench_csv_header; SCHEME_REPORT_LABEL and SCHEME_REPORT_PARAMS fill the
 * first two), and the pause list and MMU curve to SCHEME_REPORT_PAUSES and
 * SCHEME_REPORT_MMU when set.  Off, it costs nothing. */
#ifndef SCHEME_REPORT_H
#define SCHEME_REPORT_H

#include <stdint.h>

/* Start measuring if SCHEME_REPORT is set; returns whether it is. */
int report_start(void);
/* The heap exists: start sampling the footprint. */
void report_heap_ready(void);
/* One stop of the interpreter's thread for the collector, from either
 * collector's callback (any thread). */
void report_pause(uint64_t start_ns, uint64_t length_ns);
uint64_t report_now_ns(void);
/* Append the line (system: the collector's name for the table). */
void report_finish(const char *system);

#endif

/* procmem.h -- the process's resident memory by kind, from
 * /proc/self/status, for footprints that count a vmgc heap once (RSS
 * counts its pages once per view; benchmarks/harness.c). */
#ifndef VMGC_BENCH_PROCMEM_H
#define VMGC_BENCH_PROCMEM_H

#include <stddef.h>

/* Resident anonymous and file-backed bytes, plus shared memory (memfds,
 * shm) when with_shmem; 0 when /proc cannot be read. */
size_t proc_resident_bytes(int with_shmem);

#endif

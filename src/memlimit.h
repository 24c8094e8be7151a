/* memlimit.h -- the memory limit the kernel will enforce on this process:
 * its cgroup's (v2 memory.max, v1 memory.limit_in_bytes; the smallest of
 * its cgroup and the ancestors), so the collector can collect sooner
 * rather than be killed.  Design: doc/design/memlimit.md.
 */
#ifndef VMGC_MEMLIMIT_H
#define VMGC_MEMLIMIT_H

#include <stddef.h>

/* The limit in bytes, or 0 when there is none (or it cannot be read);
 * *usage gets the cgroup's current usage (0 if unknown). */
size_t memlimit_cgroup(size_t *usage);

#endif

/* vmgc.h -- the public interface of vmgc.
 *
 * vmgc is a concurrent copying garbage collector whose read barrier is the
 * MMU.  This header is what an embedder includes; everything else is private.
 * The collector API (heaps, types, allocation, roots) arrives with the
 * collector; what is here now is the part of the VM layer a program sees:
 * error reporting and readying heap memory for system calls.
 *
 * Design: doc/design/api.md.
 */
#ifndef VMGC_H
#define VMGC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define VMGC_API __attribute__((visibility("default")))
#else
#define VMGC_API
#endif

/* Status codes returned by every vmgc function that can fail.  A failing
 * call also stores a message for the calling thread: vmgc_last_error(). */
typedef enum vmgc_status {
    VMGC_OK = 0,
    VMGC_EINVAL,       /* bad argument: misaligned, zero length, NULL */
    VMGC_ERANGE,       /* address range outside the heap */
    VMGC_ESTATE,       /* misuse: double release, wrong state for the call */
    VMGC_ENOMEM,       /* out of heap pages or metadata memory */
    VMGC_EBUSY,        /* fixed base address already in use */
    VMGC_EUNAVAILABLE, /* a requested facility is unavailable here */
    VMGC_ESYSTEM,      /* a system call failed unexpectedly */
    VMGC_EHANDLER      /* vmgc's fault handler was replaced by the program */
} vmgc_status;

/* The message of the last failing vmgc call made by this thread, or "" when
 * none failed.  The string belongs to vmgc and stays valid until the next
 * failing call in the same thread. */
VMGC_API const char *vmgc_last_error(void);

/* The symbolic name of a status ("VMGC_ERANGE"). */
VMGC_API const char *vmgc_status_name(vmgc_status status);

/* Ready [addr, addr+len) of a vmgc heap for access by the kernel.
 *
 * vmgc delivers heap traps in the faulting thread; a system call that reads
 * or writes a protected heap page (read(2) into a heap buffer) cannot be
 * trapped and would fail with EFAULT.  Call this before handing heap memory
 * to a system call: it resolves every protected page of the range as if the
 * program had touched it.  Ranges outside every heap are accepted and left
 * alone, so a buffer that may or may not be in the heap needs no check.
 * The range stays ready until the collector protects pages again (the next
 * collection or checkpoint), so call it right before the system call.
 * Thread safety: any thread, concurrently with the collector. */
VMGC_API vmgc_status vmgc_prepare_io(const void *addr, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* VMGC_H */

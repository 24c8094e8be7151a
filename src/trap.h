/* trap.h -- the SIGSEGV/SIGBUS handler: dispatch heap faults, chain others.
 *
 * One process-wide handler pair serves every arena.  Faults outside every
 * heap go to the handler that was installed before ours (or the default
 * action).  Design: doc/design/trap.md.
 */
#ifndef VMGC_TRAP_H
#define VMGC_TRAP_H

#include <signal.h>

#include "arena.h"

#define TRAP_MAX_ARENAS 16

/* Register an arena for dispatch; installs the handlers on first use.
 * Not async-signal-safe. */
vmgc_status trap_register(struct arena *a);
void trap_unregister(struct arena *a);

/* The arena whose mutator view holds p, or NULL.  Async-signal-safe. */
struct arena *trap_arena_of(const void *p);

/* VMGC_OK when both of our handlers are still installed; VMGC_EHANDLER with
 * a message naming the signal when the program replaced one. */
vmgc_status trap_handlers_intact(void);

/* The address of the fault being handled by this thread (for diagnostics
 * in a trap callback), or NULL outside a trap.  Async-signal-safe. */
const void *trap_fault_address(void);

/* fork(): the registration lock is held across it (gc/fork.c). */
void trap_fork_prepare(void);
void trap_fork_parent(void);
void trap_fork_child(void);

/* Write msg and the address (when not NULL) to stderr and abort.
 * Async-signal-safe. */
__attribute__((noreturn)) void trap_fatal(const char *msg, const void *addr);

/* Block async signals for a section that holds a lock the trap path also
 * takes (doc/design/trap.md .req.lock.block).  Not for the trap path. */
void trap_block_async(sigset_t *saved);
void trap_restore_mask(const sigset_t *saved);

#endif

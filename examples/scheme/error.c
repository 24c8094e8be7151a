/* error.c -- Scheme errors: a message and irritants, and a jump back to
 * the innermost handler (the REPL's, or an escape's).  Design: doc/design/scheme.md
 * ("Errors and escapes"). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "mem.h"
#include "scheme.h"

struct escape *escapes;

/* The handler for errors is the innermost escape without a continuation
 * object (escapes with one are call/cc's and let errors pass). */
void scm_errorv(const char *msg, value irritants)
{
    roots[R_ERR_MSG] = cstring(msg);
    roots[R_ERR_IRRITANTS] = irritants;
    struct escape *e = escapes;
    for (; e && e->cont; e = e->prev) /* call/cc frames unwound: their continuations die */
        ((struct cont *)e->cont)->serial = FALSE_V;
    if (!e) {
        fprintf(stderr, "vmgc-scheme: error with no handler: %s\n", msg);
        exit(70);
    }
    escapes = e;
    longjmp(e->jb, 1);
}

void scm_error(const char *msg, value irritant)
{
    scm_errorv(msg, irritant == DEFAULT_V ? NIL : cons(irritant, NIL));
}

char *mem_stack_limit;

void stack_limit_init(void)
{
    pthread_attr_t attr;
    void *lo;
    size_t size;
    pthread_getattr_np(pthread_self(), &attr);
    pthread_attr_getstack(&attr, &lo, &size);
    pthread_attr_destroy(&attr);
    mem_stack_limit = (char *)lo + (4u << 20); /* room for the error path and printing */
}

/* Deep non-tail recursion runs the C stack down; stop short of its end. */
void check_stack(void)
{
    char here;
    if (&here < mem_stack_limit)
        scm_error("recursion too deep (the C stack is nearly exhausted)", DEFAULT_V);
}

/* meta.c -- metadata allocation.  Design: doc/design/meta.md. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "error.h"
#include "meta.h"

#ifdef VMGC_META_JEMALLOC
#include <jemalloc/jemalloc.h>

/* .sol.arena: created once, on first use.  Synchronization: meta_once. */
static unsigned meta_arena;
static int meta_arena_ok;
static pthread_once_t meta_once = PTHREAD_ONCE_INIT;
static char meta_name[32];

static void meta_arena_create(void)
{
    size_t sz = sizeof meta_arena;
    meta_arena_ok = mallctl("arenas.create", &meta_arena, &sz, NULL, 0) == 0;
    if (meta_arena_ok)
        snprintf(meta_name, sizeof meta_name, "jemalloc-arena-%u", meta_arena);
    else
        snprintf(meta_name, sizeof meta_name, "jemalloc-default");
}

void *meta_calloc(size_t count, size_t size)
{
    pthread_once(&meta_once, meta_arena_create);
    if (size != 0 && count > (size_t)-1 / size) {
        error_set(VMGC_ENOMEM, "metadata request of %zu x %zu bytes overflows", count, size);
        return NULL;
    }
    int flags = MALLOCX_ZERO;
    if (meta_arena_ok)
        flags |= MALLOCX_ARENA(meta_arena) | MALLOCX_TCACHE_NONE;
    size_t bytes = count * size;
    void *p = mallocx(bytes ? bytes : 1, flags);
    if (!p)
        error_set(VMGC_ENOMEM, "out of memory for %zu bytes of collector metadata", count * size);
    return p;
}

void meta_free(void *p)
{
    if (p)
        dallocx(p, MALLOCX_TCACHE_NONE);
}

const char *meta_allocator_name(void)
{
    pthread_once(&meta_once, meta_arena_create);
    return meta_name;
}

#else /* libc */

void *meta_calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        error_set(VMGC_ENOMEM, "out of memory for %zu x %zu bytes of collector metadata", count, size);
    return p;
}

void meta_free(void *p)
{
    free(p);
}

const char *meta_allocator_name(void)
{
    return "libc";
}
#endif

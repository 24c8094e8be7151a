/* mem_boehm.c -- the interpreter's memory on Boehm GC, for comparison:
 * the same objects, allocated with GC_MALLOC (GC_MALLOC_ATOMIC for the
 * byte types).  Boehm does not move objects, so an identity hash is the
 * address; weak-key tables use disappearing links, which clear a key once
 * it is unreachable but, having no ephemerons, keep a key that its own
 * value refers to (a known difference: doc/design/scheme.md).  No images.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define GC_THREADS
#include <gc.h>

#include "mem.h"
#include "report.h"
#include "scheme.h"

const char *mem_collector_name = "boehm";

struct run {
    value *roots;
    size_t nroots;
    int (*body)(void *);
    void *arg;
    int result;
};

static void *interpreter_thread(void *p)
{
    struct run *r = p;
    stack_limit_init();
    r->result = r->body(r->arg);
    return NULL;
}

/* The interpreter's thread allocates; a collection stops it from START to
 * END (not incremental: marking and sweeping happen in the pause). */
static uint64_t collection_start;
static void on_collection_event(GC_EventType e)
{
    if (e == GC_EVENT_START)
        collection_start = report_now_ns();
    else if (e == GC_EVENT_END)
        report_pause(collection_start, report_now_ns() - collection_start);
}

/* The main thread waits for the interpreter's without touching the heap:
 * said so to Boehm (GC_do_blocking), its collections do not stop it.  A
 * thread stopped by signal while blocked in pthread_join made Boehm abort
 * under ThreadSanitizer, which holds signals back during such calls
 * ("Signals delivery fails constantly"). */
static void *join_interpreter(void *thread)
{
    GC_pthread_join(*(pthread_t *)thread, NULL);
    return NULL;
}

int mem_run(const char *image, int verify_image, value *slots, size_t nslots,
            int (*body)(void *), void *arg)
{
    (void)verify_image;
    if (image) {
        fprintf(stderr, "vmgc-scheme-boehm: images need the vmgc build (vmgc-scheme)\n");
        exit(64);
    }
    int reporting = report_start();
    GC_INIT();
    if (reporting)
        GC_set_on_collection_event(on_collection_event);
    report_heap_ready();
    GC_allow_register_threads();
    GC_add_roots(slots, slots + nslots);
    struct run r = {slots, nslots, body, arg, 0};
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, INTERPRETER_STACK);
    if (GC_pthread_create(&t, &attr, interpreter_thread, &r) != 0) {
        fprintf(stderr, "vmgc-scheme-boehm: cannot start the interpreter's thread\n");
        exit(71);
    }
    GC_do_blocking(join_interpreter, &t);
    pthread_attr_destroy(&attr);
    report_finish("boehm");
    return r.result;
}

void *mem_alloc(unsigned t, size_t bytes, uint64_t len)
{
    int atomic = t == T_STRING || t == T_FLONUM;
    struct obj *o = atomic ? GC_MALLOC_ATOMIC(bytes) : GC_MALLOC(bytes);
    if (!o) {
        fprintf(stderr, "vmgc-scheme-boehm: out of memory allocating %zu bytes\n", bytes);
        exit(70);
    }
    if (atomic) /* GC_MALLOC_ATOMIC does not clear */
        __builtin_memset(o, 0, bytes);
    o->tag = MAKE_TAG(t, len);
    return o;
}

uint64_t mem_identity_hash(value obj)
{
    uint64_t x = obj >> 3; /* objects never move */
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

/* {hidden key, value}: the key is stored hidden so that the entry does not
 * keep it; a disappearing link zeroes it once the key is unreachable. */
struct weak_cell {
    GC_hidden_pointer key;
    value val;
};

value mem_ephemeron_new(value key, value val)
{
    struct weak_cell *c = GC_MALLOC(sizeof *c);
    c->val = val;
    if (is_ptr(key)) {
        c->key = GC_HIDE_POINTER((void *)key);
        GC_general_register_disappearing_link((void **)&c->key, (void *)key);
    } else {
        c->key = GC_HIDE_POINTER((void *)key); /* an immediate never dies */
    }
    return (value)c;
}

value mem_ephemeron_key(value eph)
{
    struct weak_cell *c = (struct weak_cell *)eph;
    GC_hidden_pointer k = c->key;
    return k ? (value)GC_REVEAL_POINTER(k) : 0;
}

value mem_ephemeron_value(value eph)
{
    struct weak_cell *c = (struct weak_cell *)eph;
    return c->key ? c->val : 0;
}

void mem_ephemeron_set_value(value eph, value val) { ((struct weak_cell *)eph)->val = val; }

void mem_io_begin(const void *p, size_t len) { (void)p, (void)len; }
void mem_io_end(const void *p) { (void)p; }

void mem_collect(void) { GC_gcollect(); }
uint64_t mem_collections(void) { return GC_get_gc_no(); }
size_t mem_resident_bytes(void) { return 0; /* Boehm's heap is anonymous memory */ }

value mem_stats(void)
{
    struct GC_prof_stats_s s;
    GC_get_prof_stats(&s, sizeof s);
    const struct {
        const char *name;
        uint64_t n;
    } rows[] = {
        {"collections", s.gc_no},
        {"bytes-allocated", s.allocd_bytes_before_gc + s.bytes_allocd_since_gc},
        {"heap-bytes", s.heapsize_full - s.unmapped_bytes},
        {"in-use-bytes", s.heapsize_full - s.free_bytes_full - s.unmapped_bytes},
    };
    value list = NIL;
    for (size_t i = sizeof rows / sizeof rows[0]; i-- > 0;)
        list = cons(cons(intern(rows[i].name), make_integer((int64_t)rows[i].n)), list);
    return list;
}

int mem_image_start(const char *path, const char **err)
{
    (void)path;
    *err = "images need the vmgc build (vmgc-scheme); this is vmgc-scheme-boehm";
    return -1;
}

int mem_image_wait(uint64_t *bytes, const char **err)
{
    (void)bytes, (void)err;
    return 1;
}

int mem_restored(void) { return 0; }

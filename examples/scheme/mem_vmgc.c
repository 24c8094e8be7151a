/* mem_vmgc.c -- the interpreter's memory on vmgc: a precise heap of
 * Scheme objects whose C stack is scanned conservatively.  Design: doc/design/scheme.md.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmgc.h>

#include "mem.h"
#include "report.h"
#include "scheme.h"

const char *mem_collector_name = "vmgc";

static vmgc_heap *heap;
static vmgc_thread *self; /* the interpreter's one thread */
static vmgc_type types[T_COUNT], ephemeron_type;
static int restored;
static vmgc_checkpoint *saving;

/* Where a fresh heap goes: an image is restored at the address it was saved
 * at, so a fixed one keeps images loadable by any process of this program.
 * ThreadSanitizer keeps 0x010000000000-0x400000000000 for its shadow and
 * metadata; its application ranges are below 0x008000000000 (the binary,
 * MAP_32BIT), around 0x550000000000 (a PIE binary) and from 0x7b0000000000
 * (its heap, modules, stacks).  A kernel-chosen address among the modules
 * and stacks was taken in the next process about one run in fifteen
 * (scheme.md .sol.tsan-base). */
#if defined(__SANITIZE_THREAD__)
#define HEAP_BASE ((void *)0x004000000000)
#else
#define HEAP_BASE ((void *)0x300000000000)
#endif
#define ROOTS_NAME "scheme-roots"

static const char *const type_names[T_COUNT] = {
    "scheme-pair",  "scheme-vector", "scheme-string", "scheme-flonum",
    "scheme-symbol", "scheme-closure", "scheme-primitive", "scheme-frame",
    "scheme-code",  "scheme-table",  "scheme-entry",  "scheme-port",
    "scheme-continuation", "scheme-values", "scheme-promise", "scheme-record",
};

/* Every word of an object is a value, and values that are not objects are
 * never heap addresses (value.h): all types but the two byte types are
 * ALL_POINTERS, which the collector scans without a callback. */
static size_t describe_types(vmgc_type_desc *d)
{
    for (unsigned t = 0; t < T_COUNT; t++) {
        int bytes = t == T_STRING || t == T_FLONUM;
        d[t] = (vmgc_type_desc){.name = type_names[t],
                                .layout = bytes ? VMGC_LAYOUT_NO_POINTERS : VMGC_LAYOUT_ALL_POINTERS};
    }
    /* {key, value}: no tag word, as vmgc wants the key first */
    d[T_COUNT] = (vmgc_type_desc){.name = "scheme-ephemeron", .layout = VMGC_LAYOUT_ALL_POINTERS,
                                  .size = 2 * sizeof(value), .weakness = VMGC_EPHEMERON};
    return T_COUNT + 1;
}

static void die(const char *what)
{
    fprintf(stderr, "vmgc-scheme: %s: %s\n", what, vmgc_last_error());
    exit(70);
}

static size_t env_size(const char *name, size_t dflt)
{
    const char *s = getenv(name);
    if (!s || !*s)
        return dflt;
    char *end;
    unsigned long long n = strtoull(s, &end, 10);
    if (*end == 'k' || *end == 'K')
        n <<= 10, end++;
    else if (*end == 'm' || *end == 'M')
        n <<= 20, end++;
    if (*end || n == 0) {
        fprintf(stderr, "vmgc-scheme: %s=%s is not a size (bytes, or with K or M)\n", name, s);
        exit(64);
    }
    return (size_t)n;
}

static void on_pause(void *ctx, uint64_t start_ns, uint64_t duration_ns)
{
    (void)ctx;
    report_pause(start_ns, duration_ns);
}

static void open_heap(const char *image, int verify)
{
    vmgc_config c;
    vmgc_config_init(&c);
    c.fixed_base = HEAP_BASE;
    /* vmgc's default (64 MiB before the first collection, and at least that
     * much between two) is sized for large servers; an interpreter's heap
     * often holds a few MiB: 4 MiB kept the footprint within 2-4x Boehm's
     * for about the time of 8 MiB or more (doc/design/scheme.md) */
    c.initial_size = env_size("SCHEME_HEAP_TRIGGER", (size_t)4 << 20);
    if (report_start())
        c.on_pause = on_pause;
    vmgc_type_desc d[T_COUNT + 1];
    size_t n = describe_types(d);
    if (image) {
        if (vmgc_heap_restore(&heap, &c, image, d, n, verify ? VMGC_RESTORE_VERIFY : 0) != VMGC_OK) {
            fprintf(stderr, "vmgc-scheme: cannot start from image %s: %s\n", image, vmgc_last_error());
            exit(66);
        }
        restored = 1;
    } else if (vmgc_heap_create(&heap, &c) != VMGC_OK) {
        die("creating the heap");
    }
    for (unsigned t = 0; t < n; t++)
        if (vmgc_type_register(heap, &d[t], t < T_COUNT ? &types[t] : &ephemeron_type) != VMGC_OK)
            die("registering the types");
    report_heap_ready();
}

struct start {
    const char *image;
    value *roots;
    size_t nroots;
    int (*body)(void *);
    void *arg;
    int result;
};

static void *interpreter_thread(void *p)
{
    struct start *s = p;
    stack_limit_init();
    if (vmgc_thread_attach(heap, &self) != VMGC_OK)
        die("attaching the interpreter's thread");
    if (restored) {
        if (vmgc_root_restore(heap, ROOTS_NAME, (void **)s->roots, s->nroots) != VMGC_OK) {
            fprintf(stderr, "vmgc-scheme: the image holds no interpreter state: %s\n",
                    vmgc_last_error());
            exit(66);
        }
    } else if (vmgc_root_add_named(heap, ROOTS_NAME, (void **)s->roots, s->nroots) != VMGC_OK) {
        die("registering the roots");
    }
    s->result = s->body(s->arg);
    uint64_t bytes;
    const char *err;
    if (mem_image_wait(&bytes, &err) < 0)
        fprintf(stderr, "vmgc-scheme: saving the image failed: %s\n", err);
    vmgc_root_remove(heap, (void **)s->roots);
    vmgc_thread_detach(self);
    return NULL;
}

int mem_run(const char *image, int verify_image, value *slots, size_t nslots,
            int (*body)(void *), void *arg)
{
    open_heap(image, verify_image);
    struct start s = {image, slots, nslots, body, arg, 0};
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, INTERPRETER_STACK);
    if (pthread_create(&t, &attr, interpreter_thread, &s) != 0) {
        fprintf(stderr, "vmgc-scheme: cannot start the interpreter's thread\n");
        exit(71);
    }
    pthread_join(t, NULL);
    pthread_attr_destroy(&attr);
    vmgc_stats st;
    vmgc_get_stats(heap, &st);
    char system[64];
    snprintf(system, sizeof system, "vmgc-%s", st.barrier);
    report_finish(system);
    vmgc_heap_destroy(heap);
    return s.result;
}

void *mem_alloc(unsigned t, size_t bytes, uint64_t len)
{
    struct obj *o = vmgc_alloc(self, types[t], bytes);
    o->tag = MAKE_TAG(t, len);
    return o;
}

uint64_t mem_identity_hash(value obj) { return vmgc_object_hash((void *)obj); }

value mem_ephemeron_new(value key, value val)
{
    value *e = vmgc_alloc(self, ephemeron_type, 2 * sizeof(value));
    vmgc_weak_store((void **)&e[0], (void *)key);
    vmgc_weak_store((void **)&e[1], (void *)val);
    return (value)e;
}

value mem_ephemeron_key(value eph) { return (value)vmgc_weak_load(self, (void **)eph); }
value mem_ephemeron_value(value eph) { return (value)vmgc_weak_load(self, (void **)eph + 1); }
void mem_ephemeron_set_value(value eph, value val) { vmgc_weak_store((void **)eph + 1, (void *)val); }

void mem_io_begin(const void *p, size_t len)
{
    if (vmgc_io_begin(self, p, len) != VMGC_OK)
        die("preparing heap memory for a system call");
}

void mem_io_end(const void *p)
{
    if (vmgc_io_end(self, p) != VMGC_OK)
        die("ending a system call on heap memory");
}

void mem_collect(void)
{
    if (vmgc_collect(heap, 1) != VMGC_OK)
        die("collecting");
}

uint64_t mem_collections(void)
{
    vmgc_stats s;
    vmgc_get_stats(heap, &s);
    return s.collections;
}

size_t mem_resident_bytes(void)
{
    vmgc_stats s;
    vmgc_get_stats(heap, &s);
    return s.resident_bytes;
}

value mem_stats(void)
{
    vmgc_stats s;
    vmgc_get_stats(heap, &s);
    const struct {
        const char *name;
        uint64_t n;
    } rows[] = {
        {"collections", s.collections},         {"young-collections", s.young_collections},
        {"mark-collections", s.mark_collections}, {"bytes-allocated", s.bytes_allocated},
        {"heap-bytes", s.heap_bytes},           {"resident-bytes", s.resident_bytes},
        {"live-bytes", s.live_bytes_after_last}, {"pause-count", s.pause_count},
        {"pause-max-ns", s.pause_max_ns},       {"pause-total-ns", s.pause_total_ns},
        {"weak-slots-cleared", s.weak_slots_cleared}, {"remembered-pages", s.remembered_pages},
        {"old-bytes", s.old_bytes},
    };
    value list = NIL;
    for (size_t i = sizeof rows / sizeof rows[0]; i-- > 0;)
        list = cons(cons(intern(rows[i].name), make_integer((int64_t)rows[i].n)), list);
    return list;
}

int mem_image_start(const char *path, const char **err)
{
    uint64_t ignored;
    if (mem_image_wait(&ignored, err) < 0)
        return -1; /* the previous save's failure, reported first */
    if (vmgc_checkpoint_start(heap, path, &saving) != VMGC_OK) {
        saving = NULL;
        *err = vmgc_last_error();
        return -1;
    }
    return 0;
}

int mem_image_wait(uint64_t *bytes, const char **err)
{
    if (!saving)
        return 1;
    vmgc_checkpoint_result r;
    vmgc_checkpoint *c = saving;
    saving = NULL;
    vmgc_blocking_enter(self);
    vmgc_status st = vmgc_checkpoint_wait(c, &r);
    vmgc_blocking_leave(self);
    if (st != VMGC_OK) {
        *err = vmgc_last_error();
        return -1;
    }
    *bytes = r.image_bytes;
    return 0;
}

int mem_restored(void) { return restored; }

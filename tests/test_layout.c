/* test_layout.c -- pointer maps from declarations (include/vmgc.h
 * VMGC_PTR_BIT, VMGC_TYPE_STRUCT, VMGC_TYPE_VECTOR), the vector layout,
 * and the checks at registration and in verification mode.  Both barrier
 * backends where a collection runs. */
#include "config.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"
#include "vmgc.h"

struct pair {
    void *car;
    long tag;
    void *cdr;
};

struct vec {
    uintptr_t len;  /* not a pointer, though it may look like one */
    void *meta;
    void *items[];
};

struct leaf {
    uint64_t value;
};

static vmgc_heap *heap;
static vmgc_thread *me;
static vmgc_type t_pair, t_vec, t_leaf;

static void setup(int backend)
{
    vmgc_config c;
    vmgc_config_init(&c);
    c.reserve_bytes = (size_t)1 << 30;
    c.barrier = test_backends[backend];
    c.no_background = 1;
    c.verify = 1;
    ck_assert_msg(vmgc_heap_create(&heap, &c) == VMGC_OK, "%s", vmgc_last_error());
    ck_assert_int_eq(vmgc_thread_attach(heap, &me), VMGC_OK);
    vmgc_type_desc pd = VMGC_TYPE_STRUCT("pair", struct pair,
                                         VMGC_PTR_BIT(struct pair, car) |
                                             VMGC_PTR_BIT(struct pair, cdr));
    ck_assert_uint_eq(pd.bitmap, 0x5); /* the header's example */
    ck_assert_uint_eq(pd.size, sizeof(struct pair));
    ck_assert_int_eq(vmgc_type_register(heap, &pd, &t_pair), VMGC_OK);
    vmgc_type_desc vd = VMGC_TYPE_VECTOR("vec", struct vec, items, VMGC_PTR_BIT(struct vec, meta));
    ck_assert_uint_eq(vd.fixed_bytes, 16);
    ck_assert_int_eq(vmgc_type_register(heap, &vd, &t_vec), VMGC_OK);
    vmgc_type_desc ld = {.name = "leaf", .layout = VMGC_LAYOUT_NO_POINTERS};
    ck_assert_int_eq(vmgc_type_register(heap, &ld, &t_leaf), VMGC_OK);
}

static void teardown(void)
{
    ck_assert_int_eq(vmgc_thread_detach(me), VMGC_OK);
    ck_assert_int_eq(vmgc_heap_destroy(heap), VMGC_OK);
}

static struct leaf *leaf(uint64_t v)
{
    struct leaf *l = vmgc_alloc(me, t_leaf, sizeof *l);
    l->value = v;
    return l;
}

/* Pairs and a vector survive collections with every pointer forwarded and
 * every other word untouched, although the vector's length field holds an
 * interior heap address (scanning it would be fatal: not an object start). */
static void layouts_trace(int backend)
{
    setup(backend);
    static void *roots[2];
    ck_assert_int_eq(vmgc_root_add(heap, roots, 2), VMGC_OK);
    struct pair *list = NULL;
    for (int i = 0; i < 1000; i++) {
        struct pair *p = vmgc_alloc(me, t_pair, sizeof *p);
        p->car = leaf((uint64_t)i);
        p->tag = -i;
        p->cdr = list;
        list = p;
    }
    roots[0] = list;
    size_t n = 300;
    struct vec *v = vmgc_alloc(me, t_vec, sizeof *v + n * sizeof(void *));
    v->meta = leaf(4242);
    for (size_t i = 0; i < n; i++)
        v->items[i] = leaf(1000 + i);
    v->len = (uintptr_t)v->items[5] + 8; /* looks like a pointer, is not one */
    roots[1] = v;
    for (int cycle = 0; cycle < 3; cycle++) {
        ck_assert_int_eq(vmgc_collect(heap, 1), VMGC_OK);
        struct pair *p = roots[0];
        for (int i = 999; i >= 0; i--, p = p->cdr) {
            ck_assert_ptr_nonnull(p);
            ck_assert_uint_eq(((struct leaf *)p->car)->value, (uint64_t)i);
            ck_assert_int_eq(p->tag, -i);
        }
        ck_assert_ptr_null(p);
        v = roots[1];
        ck_assert_uint_eq(((struct leaf *)v->meta)->value, 4242);
        for (size_t i = 0; i < n; i++)
            ck_assert_uint_eq(((struct leaf *)v->items[i])->value, 1000 + i);
    }
    vmgc_root_remove(heap, roots);
    teardown();
}
BOTH(layouts_trace)

static void expect_refused(vmgc_type_desc d, const char *words)
{
    vmgc_type t;
    ck_assert_int_eq(vmgc_type_register(heap, &d, &t), VMGC_EINVAL);
    ck_assert_msg(strstr(vmgc_last_error(), words), "'%s' does not say '%s'", vmgc_last_error(),
                  words);
}

START_TEST(registration_checks)
{
    setup(0);
    /* a bitmap wider than the struct */
    expect_refused(VMGC_TYPE_STRUCT("wide", struct pair, 0x9), "marks word 3, but the type is 24 bytes");
    /* vector: fixed part not a word multiple, too long, bitmap past it */
    vmgc_type_desc v = {.name = "v", .layout = VMGC_LAYOUT_VECTOR, .fixed_bytes = 12};
    expect_refused(v, "fixed_bytes a multiple of");
    v.fixed_bytes = 1024;
    expect_refused(v, "at most 512");
    v.fixed_bytes = 16;
    v.bitmap = 0x4;
    expect_refused(v, "past the 16 bytes of fixed fields");
    vmgc_type_desc u = {.name = "u", .layout = (vmgc_layout)9};
    expect_refused(u, "unknown layout 9");
    /* the same name again: the same description is the same type, another is refused */
    vmgc_type t;
    vmgc_type_desc vd = VMGC_TYPE_VECTOR("vec", struct vec, items, VMGC_PTR_BIT(struct vec, meta));
    ck_assert_int_eq(vmgc_type_register(heap, &vd, &t), VMGC_OK);
    ck_assert_uint_eq(t, t_vec);
    vd.fixed_bytes = 8;
    vd.bitmap = 0;
    ck_assert_int_eq(vmgc_type_register(heap, &vd, &t), VMGC_ESTATE);
    teardown();
}
END_TEST

/* Verification mode names a type whose layout is wrong in a way only the
 * objects show: a bitmap past the end of an object, a trace callback that
 * visits a slot of another object. */
static void *other;

static void bad_trace(void *obj, size_t size, vmgc_visit_fn visit, void *ctx)
{
    void *local = other;
    visit(&local, ctx); /* a local copy, not in the heap: allowed */
    /* the classic off-by-one: the word after the object (the next one's
     * header) */
    for (size_t i = 0; i <= size / sizeof(void *); i++)
        visit((void **)obj + i, ctx);
}

static void wide_bitmap_child(int backend)
{
    setup(backend);
    vmgc_type_desc d = {.name = "short", .layout = VMGC_LAYOUT_BITMAP, .bitmap = 0x100};
    vmgc_type t;
    vmgc_type_register(heap, &d, &t); /* no size given: not checkable at registration */
    static void *root;
    vmgc_root_add(heap, &root, 1);
    root = vmgc_alloc(me, t, 16);
    vmgc_collect(heap, 1);
}

static void bad_trace_child(int backend)
{
    setup(backend);
    vmgc_type_desc d = {.name = "sloppy", .layout = VMGC_LAYOUT_TRACE, .trace = bad_trace};
    vmgc_type t;
    vmgc_type_register(heap, &d, &t);
    static void *root[2];
    vmgc_root_add(heap, root, 2);
    other = NULL;
    root[0] = vmgc_alloc(me, t, 16);
    root[1] = leaf(7); /* right after it */
    vmgc_collect(heap, 1);
}

static void verify_names_bad_layouts(int backend)
{
    char out[4096];
    int st = test_child_stderr(wide_bitmap_child, backend, out, sizeof out);
    ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "a wrong bitmap went unnoticed");
    ck_assert_msg(strstr(out, "type 'short': its bitmap marks a word past the end of an object"),
                  "%s", out);
    st = test_child_stderr(bad_trace_child, backend, out, sizeof out);
    ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "a wrong trace went unnoticed");
    ck_assert_msg(strstr(out, "type 'sloppy': its trace callback visited a heap slot outside the "
                              "object"),
                  "%s", out);
}
BOTH(verify_names_bad_layouts)

int main(void)
{
    Suite *s = suite_create("layout");
    TCase *tc = tcase_create("layout");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, layouts_trace_t, 0, 2);
    tcase_add_test(tc, registration_checks);
    tcase_add_loop_test(tc, verify_names_bad_layouts_t, 0, 2);
    suite_add_tcase(s, tc);
    return test_run(s);
}

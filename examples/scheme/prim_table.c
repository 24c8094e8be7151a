/* prim_table.c -- hash tables: eq?/eqv? ones on the collector's identity
 * hash (objects move; the hash does not), equal? ones on contents, and
 * weak-key ones whose entries are ephemerons (mem.h).  Design: doc/design/scheme.md
 * ("Hash tables"). */
#include <string.h>

#include "mem.h"
#include "scheme.h"

enum table_kind { TK_EQV, TK_EQUAL, TK_WEAK };

#define TABLE(v) ((struct table *)(v))
#define ENTRY(v) ((struct entry *)(v))

static value new_table(int kind)
{
    struct table *t = mem_alloc(T_TABLE, sizeof *t, 0);
    t->kind = make_fix(kind);
    t->count = make_fix(0);
    t->buckets = make_vector(16, NIL);
    return (value)t;
}

static value table_arg(const char *who, value t) { return arg_type(who, t, T_TABLE, "a hash table"); }
static int kind_of(value t) { return (int)fix_val(TABLE(t)->kind); }

static uint64_t hash_key(value t, value key)
{
    return kind_of(t) == TK_EQUAL ? hash_equal(key) : hash_eq(key);
}

static int same_key(value t, value a, value b)
{
    return kind_of(t) == TK_EQUAL ? values_equal(a, b) : values_eqv(a, b);
}

/* An entry's key and value; 0 for both once a weak entry's key died. */
static value entry_key(value t, value e)
{
    return kind_of(t) == TK_WEAK ? mem_ephemeron_key(ENTRY(e)->key) : ENTRY(e)->key;
}
static value entry_value(value t, value e)
{
    return kind_of(t) == TK_WEAK ? mem_ephemeron_value(ENTRY(e)->key) : ENTRY(e)->val;
}
static void entry_set_value(value t, value e, value v)
{
    if (kind_of(t) == TK_WEAK)
        mem_ephemeron_set_value(ENTRY(e)->key, v);
    else
        ENTRY(e)->val = v;
}

static value *bucket_of(value t, value key)
{
    value b = TABLE(t)->buckets;
    return &VEC(b)[hash_key(t, key) % obj_len(b)];
}

/* The entry for key, or 0; dead weak entries met on the way are unlinked. */
static value find(value t, value key)
{
    value *link = bucket_of(t, key);
    while (*link != NIL) {
        value e = *link, k = entry_key(t, e);
        if (k == 0) {
            *link = ENTRY(e)->next;
            TABLE(t)->count = make_fix(fix_val(TABLE(t)->count) - 1);
            continue;
        }
        if (same_key(t, k, key))
            return e;
        link = &ENTRY(e)->next;
    }
    return 0;
}

static void grow(value t)
{
    value old = TABLE(t)->buckets;
    size_t n = obj_len(old);
    value fresh = make_vector(n * 2, NIL);
    int64_t live = 0;
    for (size_t i = 0; i < n; i++)
        for (value e = VEC(old)[i]; e != NIL;) {
            value next = ENTRY(e)->next, k = entry_key(t, e);
            if (k != 0) {
                value *b = &VEC(fresh)[hash_key(t, k) % (n * 2)];
                ENTRY(e)->next = *b;
                *b = e;
                live++;
            }
            e = next;
        }
    TABLE(t)->buckets = fresh;
    TABLE(t)->count = make_fix(live);
}

static void table_set(value t, value key, value val)
{
    value e = find(t, key);
    if (e) {
        entry_set_value(t, e, val);
        return;
    }
    struct entry *n = mem_alloc(T_ENTRY, sizeof *n, 0);
    if (kind_of(t) == TK_WEAK) {
        value eph = mem_ephemeron_new(key, val);
        n->key = eph;
        n->val = FALSE_V;
    } else {
        n->key = key;
        n->val = val;
    }
    value *b = bucket_of(t, key);
    n->next = *b;
    *b = (value)n;
    int64_t count = fix_val(TABLE(t)->count) + 1;
    TABLE(t)->count = make_fix(count);
    if ((uint64_t)count > 2 * obj_len(TABLE(t)->buckets))
        grow(t);
}

static value p_make_eqv(int argc, value *argv) { (void)argc, (void)argv; return new_table(TK_EQV); }
static value p_make_equal(int argc, value *argv) { (void)argc, (void)argv; return new_table(TK_EQUAL); }
static value p_make_weak(int argc, value *argv) { (void)argc, (void)argv; return new_table(TK_WEAK); }

static value p_table_p(int argc, value *argv) { (void)argc; return make_bool(is_type(argv[0], T_TABLE)); }

static value p_set(int argc, value *argv)
{
    (void)argc;
    table_set(table_arg("hash-table-set!", argv[0]), argv[1], argv[2]);
    return UNSPEC;
}

static value p_ref(int argc, value *argv)
{
    value e = find(table_arg("hash-table-ref", argv[0]), argv[1]);
    if (e)
        return entry_value(argv[0], e);
    if (argc > 2)
        return apply(argv[2], 0, NULL);
    scm_error("hash-table-ref: no such key", argv[1]);
}

static value p_ref_default(int argc, value *argv)
{
    (void)argc;
    value e = find(table_arg("hash-table-ref/default", argv[0]), argv[1]);
    return e ? entry_value(argv[0], e) : argv[2];
}

static value p_contains(int argc, value *argv)
{
    (void)argc;
    return make_bool(find(table_arg("hash-table-contains?", argv[0]), argv[1]) != 0);
}

static value p_delete(int argc, value *argv)
{
    (void)argc;
    value t = table_arg("hash-table-delete!", argv[0]);
    if (!find(t, argv[1]))
        return UNSPEC;
    for (value *link = bucket_of(t, argv[1]); *link != NIL; link = &ENTRY(*link)->next) {
        value k = entry_key(t, *link);
        if (k != 0 && same_key(t, k, argv[1])) {
            *link = ENTRY(*link)->next;
            TABLE(t)->count = make_fix(fix_val(TABLE(t)->count) - 1);
            break;
        }
    }
    return UNSPEC;
}

/* Unlink a weak table's dead entries, so that its count is exact.  Nothing
 * is allocated: a list of the keys would hold them all, and a stale word of
 * the C stack pointing at it would keep every key alive (scheme.md). */
static void prune(value t)
{
    value b = TABLE(t)->buckets;
    int64_t live = 0;
    for (size_t i = 0; i < obj_len(b); i++)
        for (value *link = &VEC(b)[i]; *link != NIL;) {
            if (entry_key(t, *link) == 0) {
                *link = ENTRY(*link)->next;
            } else {
                live++;
                link = &ENTRY(*link)->next;
            }
        }
    TABLE(t)->count = make_fix(live);
}

/* The live entries as (key . value) pairs. */
static value entries(value t)
{
    value b = TABLE(t)->buckets, l = NIL;
    for (size_t i = 0; i < obj_len(b); i++)
        for (value e = VEC(b)[i]; e != NIL; e = ENTRY(e)->next) {
            value k = entry_key(t, e);
            if (k != 0) {
                value v = entry_value(t, e);
                l = cons(cons(k, v), l);
            }
        }
    return l;
}

static value p_count(int argc, value *argv)
{
    (void)argc;
    value t = table_arg("hash-table-count", argv[0]);
    if (kind_of(t) == TK_WEAK)
        prune(t);
    return TABLE(t)->count;
}

static value p_to_alist(int argc, value *argv) { (void)argc; return entries(table_arg("hash-table->alist", argv[0])); }

/* the keys (want_keys) or the values of the live entries */
static value entries_part(const char *who, value t, int want_keys)
{
    value l = NIL;
    for (value a = entries(table_arg(who, t)); a != NIL; a = CDR(a))
        l = cons(want_keys ? CAR(CAR(a)) : CDR(CAR(a)), l);
    return l;
}
static value p_keys(int argc, value *argv) { (void)argc; return entries_part("hash-table-keys", argv[0], 1); }
static value p_values(int argc, value *argv) { (void)argc; return entries_part("hash-table-values", argv[0], 0); }

static value p_walk(int argc, value *argv)
{
    (void)argc;
    for (value a = entries(table_arg("hash-table-walk", argv[0])); a != NIL; a = CDR(a)) {
        value kv[2] = {CAR(CAR(a)), CDR(CAR(a))};
        apply(argv[1], 2, kv);
    }
    return UNSPEC;
}

static value p_update(int argc, value *argv)
{
    value t = table_arg("hash-table-update!", argv[0]);
    value e = find(t, argv[1]), old;
    if (e)
        old = entry_value(t, e);
    else if (argc > 3)
        old = apply(argv[3], 0, NULL);
    else
        scm_error("hash-table-update!: no such key", argv[1]);
    table_set(t, argv[1], apply(argv[2], 1, &old));
    return UNSPEC;
}

static value p_update_default(int argc, value *argv)
{
    (void)argc;
    value t = table_arg("hash-table-update!/default", argv[0]);
    value e = find(t, argv[1]);
    value old = e ? entry_value(t, e) : argv[3];
    table_set(t, argv[1], apply(argv[2], 1, &old));
    return UNSPEC;
}

static value p_clear(int argc, value *argv)
{
    (void)argc;
    value t = table_arg("hash-table-clear!", argv[0]);
    TABLE(t)->buckets = make_vector(16, NIL);
    TABLE(t)->count = make_fix(0);
    return UNSPEC;
}

static value p_eq_hash(int argc, value *argv) { (void)argc; return make_fix((int64_t)(hash_eq(argv[0]) >> 2)); }
static value p_equal_hash(int argc, value *argv) { (void)argc; return make_fix((int64_t)(hash_equal(argv[0]) >> 2)); }

const struct prim_def prims_table[] = {
    {"make-eq-hash-table", p_make_eqv, 0, 1},  {"make-eqv-hash-table", p_make_eqv, 0, 1},
    {"make-equal-hash-table", p_make_equal, 0, 1}, {"make-string-hash-table", p_make_equal, 0, 1},
    {"make-weak-hash-table", p_make_weak, 0, 1}, {"make-key-weak-eqv-hash-table", p_make_weak, 0, 1},
    {"hash-table?", p_table_p, 1, 1},          {"hash-table-set!", p_set, 3, 3},
    {"hash-table-ref", p_ref, 2, 3},           {"hash-table-ref/default", p_ref_default, 3, 3},
    {"hash-table-contains?", p_contains, 2, 2}, {"hash-table-delete!", p_delete, 2, 2},
    {"hash-table-count", p_count, 1, 1},       {"hash-table-size", p_count, 1, 1},
    {"hash-table->alist", p_to_alist, 1, 1},   {"hash-table-keys", p_keys, 1, 1},
    {"hash-table-values", p_values, 1, 1},     {"hash-table-walk", p_walk, 2, 2},
    {"hash-table-update!", p_update, 3, 4},    {"hash-table-update!/default", p_update_default, 4, 4},
    {"hash-table-clear!", p_clear, 1, 1},      {"eq-hash", p_eq_hash, 1, 1},
    {"equal-hash", p_equal_hash, 1, 1},
};
const size_t prims_table_count = sizeof prims_table / sizeof prims_table[0];

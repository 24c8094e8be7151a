/* prim.c -- the primitive table, argument checks, equivalence and hashing.
 *
 * Primitive objects hold an index into this build's table, never a C
 * address (an image outlives the process); an image records the build's
 * signature, the table's names hashed, and a build whose table differs
 * refuses it (main.c).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "scheme.h"

extern const struct prim_def prims_num[], prims_data[], prims_table[], prims_sys[];
extern const size_t prims_num_count, prims_data_count, prims_table_count, prims_sys_count;

const struct prim_def *prim_table;
size_t prim_count;

static void build_table(void)
{
    const struct {
        const struct prim_def *defs;
        size_t n;
    } parts[] = {{prims_num, prims_num_count}, {prims_data, prims_data_count},
                 {prims_table, prims_table_count}, {prims_sys, prims_sys_count}};
    size_t total = 0;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        total += parts[i].n;
    struct prim_def *t = malloc(total * sizeof *t);
    if (!t) {
        fprintf(stderr, "vmgc-scheme: out of memory\n");
        exit(70);
    }
    size_t k = 0;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        for (size_t j = 0; j < parts[i].n; j++)
            t[k++] = parts[i].defs[j];
    prim_table = t;
    prim_count = total;
}

/* The signature of this build's primitive table, as a string. */
static value build_signature(void)
{
    uint64_t h = 0;
    for (size_t i = 0; i < prim_count; i++)
        h = h * 31 + string_hash(prim_table[i].name, strlen(prim_table[i].name));
    char buf[64];
    snprintf(buf, sizeof buf, "vmgc-scheme 1 %zu %016llx", prim_count, (unsigned long long)h);
    return cstring(buf);
}

int prims_check_image(void)
{
    build_table();
    value mine = build_signature();
    value theirs = roots[R_BUILD];
    return is_string(theirs) && obj_len(theirs) == obj_len(mine) &&
           memcmp(STR(theirs), STR(mine), obj_len(mine)) == 0;
}

void prims_install(void)
{
    build_table();
    roots[R_BUILD] = build_signature();
    for (size_t i = 0; i < prim_count; i++) {
        value name = intern(prim_table[i].name);
        struct prim *p = mem_alloc(T_PRIM, sizeof *p, 0);
        p->index = make_fix((int64_t)i);
        p->name = name;
        SYM(name)->global = (value)p;
        if (strcmp(prim_table[i].name, "apply") == 0)
            roots[R_APPLY] = (value)p;
    }
}

static __attribute__((noreturn)) void wrong_type(const char *who, value v, const char *what)
{
    char msg[160];
    snprintf(msg, sizeof msg, "%s: expected %s, got a value of type %s", who, what, type_name_of(v));
    scm_error(msg, v);
}

int64_t arg_int(const char *who, value v)
{
    if (is_fixnum(v))
        return fix_val(v);
    if (is_flonum(v) && FLO(v) == floor(FLO(v)) && fabs(FLO(v)) < 9.2e18)
        return (int64_t)FLO(v);
    wrong_type(who, v, "an integer");
}

double arg_num(const char *who, value v)
{
    if (is_fixnum(v))
        return (double)fix_val(v);
    if (is_flonum(v))
        return FLO(v);
    wrong_type(who, v, "a number");
}

value arg_type(const char *who, value v, unsigned type, const char *what)
{
    if (!is_type(v, type))
        wrong_type(who, v, what);
    return v;
}

int values_eqv(value a, value b)
{
    if (a == b)
        return 1;
    return is_flonum(a) && is_flonum(b) && FLO(a) == FLO(b);
}

int values_equal(value a, value b)
{
    for (;;) {
        if (values_eqv(a, b))
            return 1;
        if (!is_ptr(a) || !is_ptr(b) || obj_type(a) != obj_type(b))
            return 0;
        switch (obj_type(a)) {
        case T_PAIR:
            check_stack();
            if (!values_equal(CAR(a), CAR(b)))
                return 0;
            a = CDR(a), b = CDR(b);
            continue;
        case T_STRING:
            return obj_len(a) == obj_len(b) && memcmp(STR(a), STR(b), obj_len(a)) == 0;
        case T_VECTOR:
            if (obj_len(a) != obj_len(b))
                return 0;
            check_stack();
            for (size_t i = 0; i < obj_len(a); i++)
                if (!values_equal(VEC(a)[i], VEC(b)[i]))
                    return 0;
            return 1;
        default:
            return 0;
        }
    }
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 31;
    x *= 0x7fb5d329728ea185ULL;
    x ^= x >> 27;
    return x;
}

uint64_t hash_eq(value v)
{
    if (!is_ptr(v))
        return mix(v);
    if (is_flonum(v)) /* eqv? on numbers: by value */
        return mix((uint64_t)(int64_t)(FLO(v) * 1000003.0));
    return mem_identity_hash(v);
}

static uint64_t hash_equal_depth(value v, int budget)
{
    if (!is_ptr(v) || budget <= 0)
        return is_ptr(v) ? 17 : mix(v);
    switch (obj_type(v)) {
    case T_STRING:
        return string_hash(STR(v), obj_len(v));
    case T_PAIR:
        return mix(hash_equal_depth(CAR(v), budget / 2) * 31 + hash_equal_depth(CDR(v), budget - 1));
    case T_VECTOR: {
        uint64_t h = obj_len(v);
        for (size_t i = 0; i < obj_len(v) && i < 8; i++)
            h = mix(h * 31 + hash_equal_depth(VEC(v)[i], budget / 2));
        return h;
    }
    default:
        return hash_eq(v);
    }
}

/* equal? objects hash alike: by contents, a bounded part of them */
uint64_t hash_equal(value v) { return hash_equal_depth(v, 16); }

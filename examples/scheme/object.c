/* object.c -- making objects, and the symbol table. */
#include <string.h>

#include "mem.h"
#include "scheme.h"

value roots[R_COUNT];

value cons(value a, value d)
{
    struct pair *p = mem_alloc(T_PAIR, sizeof *p, 0);
    p->car = a;
    p->cdr = d;
    return (value)p;
}

value list2(value a, value b) { return cons(a, cons(b, NIL)); }
value list3(value a, value b, value c) { return cons(a, cons(b, cons(c, NIL))); }

value make_flonum(double d)
{
    struct flonum *f = mem_alloc(T_FLONUM, sizeof *f, 0);
    f->d = d;
    return (value)f;
}

value make_integer(int64_t n) { return fix_fits(n) ? make_fix(n) : make_flonum((double)n); }

value make_string(size_t len)
{
    return (value)mem_alloc(T_STRING, sizeof(struct string) + len + 1, len);
}

value string_from(const char *s, size_t len)
{
    value v = make_string(len);
    memcpy(STR(v), s, len);
    return v;
}

value cstring(const char *s) { return string_from(s, strlen(s)); }

value make_obj(unsigned type, size_t nslots)
{
    return (value)mem_alloc(type, sizeof(value) * (1 + nslots), nslots);
}

value make_vector(size_t n, value fill)
{
    value v = make_obj(T_VECTOR, n);
    for (size_t i = 0; i < n; i++)
        VEC(v)[i] = fill;
    return v;
}

/* FNV-1a: symbols and equal? hashing of strings */
uint64_t string_hash(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
    return h;
}

static void symtab_grow(void)
{
    value old = roots[R_SYMTAB];
    size_t n = obj_len(old), m = n * 2;
    value fresh = make_vector(m, NIL);
    for (size_t i = 0; i < n; i++)
        for (value l = VEC(old)[i]; l != NIL; l = CDR(l)) {
            value sym = CAR(l);
            size_t b = (uint64_t)fix_val(SYM(sym)->hash) % m;
            VEC(fresh)[b] = cons(sym, VEC(fresh)[b]);
        }
    roots[R_SYMTAB] = fresh;
}

value intern_len(const char *name, size_t len)
{
    if (!is_vector(roots[R_SYMTAB])) {
        roots[R_SYMTAB] = make_vector(1024, NIL);
        roots[R_SYMCOUNT] = make_fix(0);
    }
    uint64_t h = string_hash(name, len) & (((uint64_t)1 << 61) - 1);
    value tab = roots[R_SYMTAB];
    size_t b = h % obj_len(tab);
    for (value l = VEC(tab)[b]; l != NIL; l = CDR(l)) {
        value n = SYM(CAR(l))->name;
        if (obj_len(n) == len && memcmp(STR(n), name, len) == 0)
            return CAR(l);
    }
    value str = string_from(name, len);
    struct symbol *s = mem_alloc(T_SYMBOL, sizeof *s, 0);
    s->name = str;
    s->global = UNBOUND;
    s->hash = make_fix((int64_t)h);
    VEC(tab)[b] = cons((value)s, VEC(tab)[b]);
    int64_t count = fix_val(roots[R_SYMCOUNT]) + 1;
    roots[R_SYMCOUNT] = make_fix(count);
    if ((size_t)count > 2 * obj_len(tab))
        symtab_grow();
    return (value)s;
}

value intern(const char *name) { return intern_len(name, strlen(name)); }

value list_reverse(value l)
{
    value r = NIL;
    for (; is_pair(l); l = CDR(l))
        r = cons(CAR(l), r);
    return r;
}

int64_t list_length(value l)
{
    int64_t n = 0;
    value slow = l;
    for (;;) {
        if (!is_pair(l))
            break;
        l = CDR(l), n++;
        if (!is_pair(l))
            break;
        l = CDR(l), n++;
        slow = CDR(slow);
        if (l == slow)
            return -1; /* circular */
    }
    return l == NIL ? n : -1;
}

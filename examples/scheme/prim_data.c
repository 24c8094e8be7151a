/* prim_data.c -- pairs and lists, symbols, characters, strings, vectors,
 * records, promises and multiple values. */
#include <ctype.h>
#include <string.h>

#include "mem.h"
#include "scheme.h"

#define UNUSED (void)argc
#define PRED(fname, test)                                                                  \
    static value fname(int argc, value *argv)                                              \
    {                                                                                      \
        UNUSED;                                                                            \
        value v = argv[0];                                                                 \
        return make_bool(test);                                                            \
    }

PRED(p_pair_p, is_pair(v))
PRED(p_null_p, v == NIL)
PRED(p_symbol_p, is_symbol(v))
PRED(p_string_p, is_string(v))
PRED(p_vector_p, is_vector(v))
PRED(p_char_p, is_char(v))
PRED(p_boolean_p, v == TRUE_V || v == FALSE_V)
PRED(p_procedure_p, is_procedure(v))
PRED(p_not, v == FALSE_V)
PRED(p_list_p, list_length(v) >= 0)
PRED(p_eof_p, v == EOF_V)

static value p_eq(int argc, value *argv) { UNUSED; return make_bool(argv[0] == argv[1]); }
static value p_eqv(int argc, value *argv) { UNUSED; return make_bool(values_eqv(argv[0], argv[1])); }
static value p_equal(int argc, value *argv) { UNUSED; return make_bool(values_equal(argv[0], argv[1])); }

static value p_cons(int argc, value *argv) { UNUSED; return cons(argv[0], argv[1]); }
static value p_car(int argc, value *argv) { UNUSED; return CAR(ARG_PAIR("car", argv[0])); }
static value p_cdr(int argc, value *argv) { UNUSED; return CDR(ARG_PAIR("cdr", argv[0])); }

/* c[ad]+r: the letters applied right to left */
static value cxr(const char *name, value v)
{
    size_t n = strlen(name);
    for (size_t i = n - 2; i >= 1; i--) {
        ARG_PAIR(name, v);
        v = name[i] == 'a' ? CAR(v) : CDR(v);
    }
    return v;
}
#define CXR(fname, sym) static value fname(int argc, value *argv) { UNUSED; return cxr(sym, argv[0]); }
CXR(p_caar, "caar") CXR(p_cadr, "cadr") CXR(p_cdar, "cdar") CXR(p_cddr, "cddr")
CXR(p_caddr, "caddr") CXR(p_cdddr, "cdddr") CXR(p_caadr, "caadr") CXR(p_cddar, "cddar")
CXR(p_cdadr, "cdadr") CXR(p_cadddr, "cadddr")

static value p_set_car(int argc, value *argv) { UNUSED; CAR(ARG_PAIR("set-car!", argv[0])) = argv[1]; return UNSPEC; }
static value p_set_cdr(int argc, value *argv) { UNUSED; CDR(ARG_PAIR("set-cdr!", argv[0])) = argv[1]; return UNSPEC; }

static value p_list(int argc, value *argv)
{
    value l = NIL;
    for (int i = argc; i-- > 0;)
        l = cons(argv[i], l);
    return l;
}

static int64_t proper_length(const char *who, value l)
{
    int64_t n = list_length(l);
    if (n < 0)
        scm_error(who, l); /* "who: not a proper list" is the caller's text */
    return n;
}

static value p_make_list(int argc, value *argv)
{
    int64_t n = arg_int("make-list", argv[0]);
    value l = NIL;
    for (int64_t i = 0; i < n; i++)
        l = cons(argc > 1 ? argv[1] : FALSE_V, l);
    return l;
}

static value p_length(int argc, value *argv) { UNUSED; return make_fix(proper_length("length: not a proper list", argv[0])); }

static value append2(value a, value b)
{
    proper_length("append: not a proper list", a);
    value rev = list_reverse(a);
    for (; rev != NIL; rev = CDR(rev))
        b = cons(CAR(rev), b);
    return b;
}

static value p_append(int argc, value *argv)
{
    if (argc == 0)
        return NIL;
    value r = argv[argc - 1];
    for (int i = argc - 1; i-- > 0;)
        r = append2(argv[i], r);
    return r;
}

static value p_reverse(int argc, value *argv)
{
    UNUSED;
    proper_length("reverse: not a proper list", argv[0]);
    return list_reverse(argv[0]);
}

static value p_list_tail(int argc, value *argv)
{
    UNUSED;
    value l = argv[0];
    for (int64_t k = arg_int("list-tail", argv[1]); k > 0; k--)
        l = CDR(ARG_PAIR("list-tail", l));
    return l;
}

static value p_list_ref(int argc, value *argv)
{
    UNUSED;
    value l = argv[0];
    for (int64_t k = arg_int("list-ref", argv[1]); k > 0; k--)
        l = CDR(ARG_PAIR("list-ref", l));
    return CAR(ARG_PAIR("list-ref", l));
}

static value p_list_copy(int argc, value *argv)
{
    UNUSED;
    return append2(argv[0], NIL);
}

static value p_last_pair(int argc, value *argv)
{
    UNUSED;
    value l = ARG_PAIR("last-pair", argv[0]);
    while (is_pair(CDR(l)))
        l = CDR(l);
    return l;
}

enum { BY_EQ, BY_EQV, BY_EQUAL };
static int same(value a, value b, int how)
{
    return how == BY_EQ ? a == b : how == BY_EQV ? values_eqv(a, b) : values_equal(a, b);
}

static value member_by(value x, value l, int how)
{
    for (; is_pair(l); l = CDR(l))
        if (same(x, CAR(l), how))
            return l;
    return FALSE_V;
}

static value assoc_by(value x, value l, int how)
{
    for (; is_pair(l); l = CDR(l))
        if (is_pair(CAR(l)) && same(x, CAR(CAR(l)), how))
            return CAR(l);
    return FALSE_V;
}

static value p_memq(int argc, value *argv) { UNUSED; return member_by(argv[0], argv[1], BY_EQ); }
static value p_memv(int argc, value *argv) { UNUSED; return member_by(argv[0], argv[1], BY_EQV); }
static value p_member(int argc, value *argv) { UNUSED; return member_by(argv[0], argv[1], BY_EQUAL); }
static value p_assq(int argc, value *argv) { UNUSED; return assoc_by(argv[0], argv[1], BY_EQ); }
static value p_assv(int argc, value *argv) { UNUSED; return assoc_by(argv[0], argv[1], BY_EQV); }
static value p_assoc(int argc, value *argv) { UNUSED; return assoc_by(argv[0], argv[1], BY_EQUAL); }

/* map and for-each over one or more lists, stopping at the shortest */
static value map_n(int argc, value *argv, int collect)
{
    value fn = argv[0];
    int n = argc - 1;
    value lists[n], args[n];
    memcpy(lists, argv + 1, sizeof(value) * (size_t)n);
    value acc = NIL;
    for (;;) {
        for (int i = 0; i < n; i++) {
            if (!is_pair(lists[i]))
                return collect ? list_reverse(acc) : UNSPEC;
            args[i] = CAR(lists[i]);
            lists[i] = CDR(lists[i]);
        }
        value v = apply(fn, n, args);
        if (collect)
            acc = cons(v, acc);
    }
}
static value p_map(int argc, value *argv) { return map_n(argc, argv, 1); }
static value p_for_each(int argc, value *argv) { return map_n(argc, argv, 0); }

static value p_filter(int argc, value *argv)
{
    UNUSED;
    value acc = NIL;
    for (value l = argv[1]; is_pair(l); l = CDR(l))
        if (apply(argv[0], 1, &CAR(l)) != FALSE_V)
            acc = cons(CAR(l), acc);
    return list_reverse(acc);
}

static value p_fold_left(int argc, value *argv)
{
    UNUSED;
    value acc = argv[1];
    for (value l = argv[2]; is_pair(l); l = CDR(l)) {
        value a[2] = {acc, CAR(l)};
        acc = apply(argv[0], 2, a);
    }
    return acc;
}

static value p_fold_right(int argc, value *argv)
{
    UNUSED;
    value acc = argv[1];
    for (value l = list_reverse(argv[2]); is_pair(l); l = CDR(l)) {
        value a[2] = {CAR(l), acc};
        acc = apply(argv[0], 2, a);
    }
    return acc;
}

static value p_delete(int argc, value *argv)
{
    UNUSED;
    value acc = NIL;
    for (value l = argv[1]; is_pair(l); l = CDR(l))
        if (!values_equal(argv[0], CAR(l)))
            acc = cons(CAR(l), acc);
    return list_reverse(acc);
}

/* (sort sequence less?): a stable merge sort of a list or a vector's elements */
static value merge_sorted(value a, value b, value less)
{
    value head = cons(FALSE_V, NIL), tail = head;
    while (a != NIL && b != NIL) {
        value args[2] = {CAR(b), CAR(a)};
        if (apply(less, 2, args) != FALSE_V) {
            CDR(tail) = b;
            tail = b, b = CDR(b);
        } else {
            CDR(tail) = a;
            tail = a, a = CDR(a);
        }
    }
    CDR(tail) = a != NIL ? a : b;
    return CDR(head);
}

static value sort_list(value l, int64_t n, value less)
{
    if (n <= 1)
        return n == 1 ? cons(CAR(l), NIL) : NIL;
    value right = l;
    for (int64_t i = 0; i < n / 2; i++)
        right = CDR(right);
    value a = sort_list(l, n / 2, less);
    value b = sort_list(right, n - n / 2, less);
    return merge_sorted(a, b, less);
}

static value p_sort(int argc, value *argv)
{
    UNUSED;
    value seq = argv[0];
    if (is_vector(seq)) {
        value l = NIL;
        for (size_t i = obj_len(seq); i-- > 0;)
            l = cons(VEC(seq)[i], l);
        value sorted = sort_list(l, (int64_t)obj_len(seq), argv[1]);
        value r = make_obj(T_VECTOR, obj_len(seq));
        for (size_t i = 0; i < obj_len(seq); i++, sorted = CDR(sorted))
            VEC(r)[i] = CAR(sorted);
        return r;
    }
    return sort_list(seq, proper_length("sort: not a list or vector", seq), argv[1]);
}

/* ---- symbols and characters ---- */

static value p_symbol_to_string(int argc, value *argv)
{
    UNUSED;
    value name = SYM(ARG_SYMBOL("symbol->string", argv[0]))->name;
    return string_from(STR(name), obj_len(name));
}

static value p_string_to_symbol(int argc, value *argv)
{
    UNUSED;
    value s = ARG_STRING("string->symbol", argv[0]);
    size_t n = obj_len(s);
    if (n > 4096) /* the string's page is pinned while its address is on the C stack */
        return intern_len(STR(s), n);
    char buf[4096]; /* intern may allocate; a short name is copied out first */
    memcpy(buf, STR(s), n);
    return intern_len(buf, n);
}

static uint32_t arg_char(const char *who, value v)
{
    if (!is_char(v))
        scm_error(who, v);
    return char_val(v);
}

static value p_char_to_integer(int argc, value *argv) { UNUSED; return make_fix(arg_char("char->integer: not a character", argv[0])); }
static value p_integer_to_char(int argc, value *argv) { UNUSED; return make_char((uint32_t)arg_int("integer->char", argv[0])); }

#define CHAR_CMP(fname, op, fold)                                                          \
    static value fname(int argc, value *argv)                                              \
    {                                                                                      \
        for (int i = 0; i + 1 < argc; i++) {                                               \
            uint32_t a = arg_char("char comparison: not a character", argv[i]);            \
            uint32_t b = arg_char("char comparison: not a character", argv[i + 1]);        \
            if (fold)                                                                      \
                a = (uint32_t)tolower((int)a), b = (uint32_t)tolower((int)b);              \
            if (!(a op b))                                                                 \
                return FALSE_V;                                                            \
        }                                                                                  \
        return TRUE_V;                                                                     \
    }
CHAR_CMP(p_char_eq, ==, 0) CHAR_CMP(p_char_lt, <, 0) CHAR_CMP(p_char_gt, >, 0)
CHAR_CMP(p_char_le, <=, 0) CHAR_CMP(p_char_ge, >=, 0) CHAR_CMP(p_char_ci_eq, ==, 1)

#define CHAR_CLASS(fname, fn)                                                              \
    static value fname(int argc, value *argv)                                              \
    {                                                                                      \
        UNUSED;                                                                            \
        uint32_t c = arg_char("character class: not a character", argv[0]);                \
        return make_bool(c < 128 && fn((int)c));                                           \
    }
CHAR_CLASS(p_char_alpha, isalpha) CHAR_CLASS(p_char_digit, isdigit) CHAR_CLASS(p_char_space, isspace)
CHAR_CLASS(p_char_upper_p, isupper) CHAR_CLASS(p_char_lower_p, islower)

static value p_char_upcase(int argc, value *argv) { UNUSED; return make_char((uint32_t)toupper((int)arg_char("char-upcase: not a character", argv[0]))); }
static value p_char_downcase(int argc, value *argv) { UNUSED; return make_char((uint32_t)tolower((int)arg_char("char-downcase: not a character", argv[0]))); }

/* ---- strings ---- */

static size_t index_arg(const char *who, value v, size_t limit)
{
    int64_t k = arg_int(who, v);
    if (k < 0 || (uint64_t)k > limit)
        scm_error(who, v);
    return (size_t)k;
}

static value p_make_string(int argc, value *argv)
{
    int64_t n = arg_int("make-string", argv[0]);
    if (n < 0)
        scm_error("make-string: negative length", argv[0]);
    value s = make_string((size_t)n);
    if (argc > 1)
        memset(STR(s), (int)arg_char("make-string: not a character", argv[1]), (size_t)n);
    return s;
}

static value p_string(int argc, value *argv)
{
    value s = make_string((size_t)argc);
    for (int i = 0; i < argc; i++)
        STR(s)[i] = (char)arg_char("string: not a character", argv[i]);
    return s;
}

static value p_string_length(int argc, value *argv) { UNUSED; return make_fix((int64_t)obj_len(ARG_STRING("string-length", argv[0]))); }

static value p_string_ref(int argc, value *argv)
{
    UNUSED;
    value s = ARG_STRING("string-ref", argv[0]);
    size_t k = index_arg("string-ref: index out of range", argv[1], obj_len(s) - (obj_len(s) > 0));
    if (obj_len(s) == 0)
        scm_error("string-ref: index out of range", argv[1]);
    return make_char((unsigned char)STR(s)[k]);
}

static value p_string_set(int argc, value *argv)
{
    UNUSED;
    value s = ARG_STRING("string-set!", argv[0]);
    if (obj_len(s) == 0)
        scm_error("string-set!: index out of range", argv[1]);
    size_t k = index_arg("string-set!: index out of range", argv[1], obj_len(s) - 1);
    STR(s)[k] = (char)arg_char("string-set!: not a character", argv[2]);
    return UNSPEC;
}

static value p_substring(int argc, value *argv)
{
    value s = ARG_STRING("substring", argv[0]);
    size_t start = argc > 1 ? index_arg("substring: start out of range", argv[1], obj_len(s)) : 0;
    size_t end = argc > 2 ? index_arg("substring: end out of range", argv[2], obj_len(s)) : obj_len(s);
    if (end < start)
        scm_error("substring: end before start", argv[2]);
    value r = make_string(end - start);
    memcpy(STR(r), STR(s) + start, end - start);
    return r;
}

static value p_string_append(int argc, value *argv)
{
    size_t n = 0;
    for (int i = 0; i < argc; i++)
        n += obj_len(ARG_STRING("string-append", argv[i]));
    value r = make_string(n);
    size_t at = 0;
    for (int i = 0; i < argc; i++) {
        memcpy(STR(r) + at, STR(argv[i]), obj_len(argv[i]));
        at += obj_len(argv[i]);
    }
    return r;
}

static int string_cmp(const char *who, value a, value b, int fold)
{
    ARG_STRING(who, a), ARG_STRING(who, b);
    size_t n = obj_len(a) < obj_len(b) ? obj_len(a) : obj_len(b);
    for (size_t i = 0; i < n; i++) {
        int x = (unsigned char)STR(a)[i], y = (unsigned char)STR(b)[i];
        if (fold)
            x = tolower(x), y = tolower(y);
        if (x != y)
            return x < y ? -1 : 1;
    }
    return (obj_len(a) > obj_len(b)) - (obj_len(a) < obj_len(b));
}

#define STRING_CMP(fname, sym, test, fold)                                                 \
    static value fname(int argc, value *argv)                                              \
    {                                                                                      \
        for (int i = 0; i + 1 < argc; i++)                                                 \
            if (!(string_cmp(sym, argv[i], argv[i + 1], fold) test))                        \
                return FALSE_V;                                                            \
        return TRUE_V;                                                                     \
    }
STRING_CMP(p_string_eq, "string=?", == 0, 0) STRING_CMP(p_string_lt, "string<?", < 0, 0)
STRING_CMP(p_string_gt, "string>?", > 0, 0) STRING_CMP(p_string_le, "string<=?", <= 0, 0)
STRING_CMP(p_string_ge, "string>=?", >= 0, 0) STRING_CMP(p_string_ci_eq, "string-ci=?", == 0, 1)

static value p_string_to_list(int argc, value *argv)
{
    UNUSED;
    value s = ARG_STRING("string->list", argv[0]);
    value l = NIL;
    for (size_t i = obj_len(s); i-- > 0;)
        l = cons(make_char((unsigned char)STR(s)[i]), l);
    return l;
}

static value p_list_to_string(int argc, value *argv)
{
    UNUSED;
    int64_t n = proper_length("list->string: not a proper list", argv[0]);
    value s = make_string((size_t)n);
    value l = argv[0];
    for (int64_t i = 0; i < n; i++, l = CDR(l))
        STR(s)[i] = (char)arg_char("list->string: not a character", CAR(l));
    return s;
}

static value case_map(value v, int (*fn)(int), const char *who)
{
    value s = ARG_STRING(who, v);
    value r = make_string(obj_len(s));
    for (size_t i = 0; i < obj_len(s); i++)
        STR(r)[i] = (char)fn((unsigned char)STR(s)[i]);
    return r;
}
static value p_string_upcase(int argc, value *argv) { UNUSED; return case_map(argv[0], toupper, "string-upcase"); }
static value p_string_downcase(int argc, value *argv) { UNUSED; return case_map(argv[0], tolower, "string-downcase"); }
static value p_string_copy(int argc, value *argv) { return p_substring(argc, argv); }

static value p_string_search(int argc, value *argv)
{
    UNUSED;
    value pat = ARG_STRING("string-search-forward", argv[0]);
    value s = ARG_STRING("string-search-forward", argv[1]);
    size_t start = index_arg("string-search-forward: start out of range", argv[2], obj_len(s));
    size_t n = obj_len(pat);
    for (size_t i = start; i + n <= obj_len(s); i++)
        if (memcmp(STR(s) + i, STR(pat), n) == 0)
            return make_fix((int64_t)i);
    return FALSE_V;
}

/* ---- vectors ---- */

static value p_make_vector(int argc, value *argv)
{
    int64_t n = arg_int("make-vector", argv[0]);
    if (n < 0)
        scm_error("make-vector: negative length", argv[0]);
    return make_vector((size_t)n, argc > 1 ? argv[1] : FALSE_V);
}

static value p_vector(int argc, value *argv)
{
    value v = make_obj(T_VECTOR, (size_t)argc);
    memcpy(VEC(v), argv, sizeof(value) * (size_t)argc);
    return v;
}

static value p_vector_length(int argc, value *argv) { UNUSED; return make_fix((int64_t)obj_len(ARG_VECTOR("vector-length", argv[0]))); }

static size_t vector_index(const char *who, value v, value k)
{
    ARG_VECTOR(who, v);
    int64_t i = arg_int(who, k);
    if (i < 0 || (uint64_t)i >= obj_len(v)) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s: index out of range (length %llu)", who,
                 (unsigned long long)obj_len(v));
        scm_error(msg, k);
    }
    return (size_t)i;
}

static value p_vector_ref(int argc, value *argv) { UNUSED; return VEC(argv[0])[vector_index("vector-ref", argv[0], argv[1])]; }
static value p_vector_set(int argc, value *argv)
{
    UNUSED;
    VEC(argv[0])[vector_index("vector-set!", argv[0], argv[1])] = argv[2];
    return UNSPEC;
}

static value p_vector_to_list(int argc, value *argv)
{
    UNUSED;
    value v = ARG_VECTOR("vector->list", argv[0]);
    value l = NIL;
    for (size_t i = obj_len(v); i-- > 0;)
        l = cons(VEC(v)[i], l);
    return l;
}

static value p_list_to_vector(int argc, value *argv)
{
    UNUSED;
    int64_t n = proper_length("list->vector: not a proper list", argv[0]);
    value v = make_obj(T_VECTOR, (size_t)n);
    value l = argv[0];
    for (int64_t i = 0; i < n; i++, l = CDR(l))
        VEC(v)[i] = CAR(l);
    return v;
}

static value p_vector_fill(int argc, value *argv)
{
    UNUSED;
    value v = ARG_VECTOR("vector-fill!", argv[0]);
    for (size_t i = 0; i < obj_len(v); i++)
        VEC(v)[i] = argv[1];
    return UNSPEC;
}

static value p_vector_copy(int argc, value *argv)
{
    UNUSED;
    value v = ARG_VECTOR("vector-copy", argv[0]);
    value r = make_obj(T_VECTOR, obj_len(v));
    memcpy(VEC(r), VEC(v), sizeof(value) * obj_len(v));
    return r;
}

static value p_vector_map(int argc, value *argv)
{
    UNUSED;
    value v = ARG_VECTOR("vector-map", argv[1]);
    value r = make_vector(obj_len(v), FALSE_V);
    for (size_t i = 0; i < obj_len(v); i++) {
        value x = apply(argv[0], 1, &VEC(v)[i]);
        VEC(r)[i] = x;
    }
    return r;
}

static value p_vector_for_each(int argc, value *argv)
{
    UNUSED;
    value v = ARG_VECTOR("vector-for-each", argv[1]);
    for (size_t i = 0; i < obj_len(v); i++)
        apply(argv[0], 1, &VEC(v)[i]);
    return UNSPEC;
}

/* ---- records (compile.c rewrites define-record-type into these) ---- */

static value p_record_type(int argc, value *argv)
{
    UNUSED;
    value t = make_obj(T_RECORD, 3);
    VEC(t)[0] = FALSE_V;
    VEC(t)[1] = argv[0];
    VEC(t)[2] = argv[1];
    return t;
}

static int64_t field_index(value type, value field)
{
    int64_t i = 0;
    for (value l = VEC(type)[2]; is_pair(l); l = CDR(l), i++)
        if (CAR(l) == field)
            return i;
    scm_error("record: no such field", field);
}

/* (%record-make type '(fields given) arg...) */
static value p_record_make(int argc, value *argv)
{
    value type = argv[0];
    int64_t nfields = list_length(VEC(type)[2]);
    value r = make_obj(T_RECORD, (size_t)nfields + 1);
    VEC(r)[0] = type;
    for (int64_t i = 1; i <= nfields; i++)
        VEC(r)[i] = FALSE_V;
    value given = argv[1];
    for (int i = 2; i < argc && is_pair(given); i++, given = CDR(given))
        VEC(r)[1 + field_index(type, CAR(given))] = argv[i];
    return r;
}

static value record_arg(value r, value type)
{
    if (!is_type(r, T_RECORD) || VEC(r)[0] != type)
        scm_error("record: wrong type of record", r);
    return r;
}

static value p_record_p(int argc, value *argv) { UNUSED; return make_bool(is_type(argv[0], T_RECORD) && VEC(argv[0])[0] == argv[1]); }
static value p_record_ref(int argc, value *argv)
{
    UNUSED;
    return VEC(record_arg(argv[0], argv[1]))[1 + field_index(argv[1], argv[2])];
}
static value p_record_set(int argc, value *argv)
{
    UNUSED;
    VEC(record_arg(argv[0], argv[1]))[1 + field_index(argv[1], argv[2])] = argv[3];
    return UNSPEC;
}

/* ---- promises and values ---- */

static value p_force(int argc, value *argv)
{
    UNUSED;
    if (!is_type(argv[0], T_PROMISE))
        return argv[0];
    struct promise *p = (struct promise *)argv[0];
    if (p->done != FALSE_V)
        return p->val;
    value v = apply(p->val, 0, NULL);
    if (p->done == FALSE_V) {
        p->done = TRUE_V;
        p->val = v;
    }
    return p->val;
}

static value p_values(int argc, value *argv) { return argc == 1 ? argv[0] : make_values(argc, argv); }

static value p_call_with_values(int argc, value *argv)
{
    UNUSED;
    value v = apply(argv[0], 0, NULL);
    if (is_type(v, T_VALUES)) {
        size_t n = obj_len(v);
        value args[n > 0 ? n : 1];
        memcpy(args, VEC(v), n * sizeof(value));
        return apply(argv[1], (int)n, args);
    }
    return apply(argv[1], 1, &v);
}

const struct prim_def prims_data[] = {
    {"pair?", p_pair_p, 1, 1}, {"null?", p_null_p, 1, 1}, {"symbol?", p_symbol_p, 1, 1},
    {"string?", p_string_p, 1, 1}, {"vector?", p_vector_p, 1, 1}, {"char?", p_char_p, 1, 1},
    {"boolean?", p_boolean_p, 1, 1}, {"procedure?", p_procedure_p, 1, 1}, {"not", p_not, 1, 1},
    {"list?", p_list_p, 1, 1}, {"eof-object?", p_eof_p, 1, 1}, {"eq?", p_eq, 2, 2},
    {"eqv?", p_eqv, 2, 2}, {"equal?", p_equal, 2, 2}, {"cons", p_cons, 2, 2},
    {"%cons", p_cons, 2, 2}, {"car", p_car, 1, 1}, {"cdr", p_cdr, 1, 1},
    {"caar", p_caar, 1, 1}, {"cadr", p_cadr, 1, 1}, {"cdar", p_cdar, 1, 1},
    {"cddr", p_cddr, 1, 1}, {"caddr", p_caddr, 1, 1}, {"cdddr", p_cdddr, 1, 1},
    {"caadr", p_caadr, 1, 1}, {"cddar", p_cddar, 1, 1}, {"cdadr", p_cdadr, 1, 1},
    {"cadddr", p_cadddr, 1, 1}, {"set-car!", p_set_car, 2, 2}, {"set-cdr!", p_set_cdr, 2, 2},
    {"list", p_list, 0, -1}, {"%list", p_list, 0, -1}, {"make-list", p_make_list, 1, 2}, {"length", p_length, 1, 1},
    {"append", p_append, 0, -1}, {"%append", p_append, 0, -1}, {"reverse", p_reverse, 1, 1},
    {"list-tail", p_list_tail, 2, 2}, {"list-ref", p_list_ref, 2, 2},
    {"list-copy", p_list_copy, 1, 1}, {"last-pair", p_last_pair, 1, 1},
    {"memq", p_memq, 2, 2}, {"memv", p_memv, 2, 2}, {"%memv", p_memv, 2, 2},
    {"member", p_member, 2, 2}, {"assq", p_assq, 2, 2}, {"assv", p_assv, 2, 2},
    {"assoc", p_assoc, 2, 2}, {"map", p_map, 2, -1}, {"for-each", p_for_each, 2, -1},
    {"filter", p_filter, 2, 2}, {"fold-left", p_fold_left, 3, 3},
    {"fold-right", p_fold_right, 3, 3}, {"delete", p_delete, 2, 2},
    {"sort", p_sort, 2, 2},
    {"symbol->string", p_symbol_to_string, 1, 1}, {"string->symbol", p_string_to_symbol, 1, 1},
    {"char->integer", p_char_to_integer, 1, 1}, {"integer->char", p_integer_to_char, 1, 1},
    {"char=?", p_char_eq, 1, -1}, {"char<?", p_char_lt, 1, -1}, {"char>?", p_char_gt, 1, -1},
    {"char<=?", p_char_le, 1, -1}, {"char>=?", p_char_ge, 1, -1},
    {"char-ci=?", p_char_ci_eq, 1, -1}, {"char-alphabetic?", p_char_alpha, 1, 1},
    {"char-numeric?", p_char_digit, 1, 1}, {"char-whitespace?", p_char_space, 1, 1},
    {"char-upper-case?", p_char_upper_p, 1, 1}, {"char-lower-case?", p_char_lower_p, 1, 1},
    {"char-upcase", p_char_upcase, 1, 1}, {"char-downcase", p_char_downcase, 1, 1},
    {"make-string", p_make_string, 1, 2}, {"string", p_string, 0, -1},
    {"string-length", p_string_length, 1, 1}, {"string-ref", p_string_ref, 2, 2},
    {"string-set!", p_string_set, 3, 3}, {"substring", p_substring, 2, 3},
    {"string-append", p_string_append, 0, -1}, {"string=?", p_string_eq, 1, -1},
    {"string<?", p_string_lt, 1, -1}, {"string>?", p_string_gt, 1, -1},
    {"string<=?", p_string_le, 1, -1}, {"string>=?", p_string_ge, 1, -1},
    {"string-ci=?", p_string_ci_eq, 1, -1}, {"string->list", p_string_to_list, 1, 1},
    {"list->string", p_list_to_string, 1, 1}, {"string-upcase", p_string_upcase, 1, 1},
    {"string-downcase", p_string_downcase, 1, 1}, {"string-copy", p_string_copy, 1, 3},
    {"string-search-forward", p_string_search, 3, 3},
    {"make-vector", p_make_vector, 1, 2}, {"vector", p_vector, 0, -1},
    {"vector-length", p_vector_length, 1, 1}, {"vector-ref", p_vector_ref, 2, 2},
    {"vector-set!", p_vector_set, 3, 3}, {"vector->list", p_vector_to_list, 1, 1},
    {"list->vector", p_list_to_vector, 1, 1}, {"%list->vector", p_list_to_vector, 1, 1},
    {"vector-fill!", p_vector_fill, 2, 2}, {"vector-copy", p_vector_copy, 1, 1},
    {"vector-map", p_vector_map, 2, 2}, {"vector-for-each", p_vector_for_each, 2, 2},
    {"%record-type", p_record_type, 2, 2}, {"%record-make", p_record_make, 2, -1},
    {"%record?", p_record_p, 2, 2}, {"%record-ref", p_record_ref, 3, 3},
    {"%record-set!", p_record_set, 4, 4}, {"force", p_force, 1, 1},
    {"values", p_values, 0, -1}, {"call-with-values", p_call_with_values, 2, 2},
};
const size_t prims_data_count = sizeof prims_data / sizeof prims_data[0];

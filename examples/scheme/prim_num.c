/* prim_num.c -- numbers: 63-bit fixnums, and doubles past them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "scheme.h"

static value num(double d) { return make_flonum(d); }

static value add2(value a, value b)
{
    int64_t r;
    if (is_fixnum(a) && is_fixnum(b) && !__builtin_add_overflow(fix_val(a), fix_val(b), &r))
        return make_integer(r);
    return num(arg_num("+", a) + arg_num("+", b));
}

static value sub2(value a, value b)
{
    int64_t r;
    if (is_fixnum(a) && is_fixnum(b) && !__builtin_sub_overflow(fix_val(a), fix_val(b), &r))
        return make_integer(r);
    return num(arg_num("-", a) - arg_num("-", b));
}

static value mul2(value a, value b)
{
    int64_t r;
    if (is_fixnum(a) && is_fixnum(b) && !__builtin_mul_overflow(fix_val(a), fix_val(b), &r))
        return make_integer(r);
    return num(arg_num("*", a) * arg_num("*", b));
}

static value p_add(int argc, value *argv)
{
    value r = make_fix(0);
    for (int i = 0; i < argc; i++)
        r = add2(r, argv[i]);
    if (argc == 1)
        arg_num("+", r);
    return r;
}

static value p_mul(int argc, value *argv)
{
    value r = make_fix(1);
    for (int i = 0; i < argc; i++)
        r = mul2(r, argv[i]);
    if (argc == 1)
        arg_num("*", r);
    return r;
}

static value p_sub(int argc, value *argv)
{
    if (argc == 1)
        return sub2(make_fix(0), argv[0]);
    value r = argv[0];
    for (int i = 1; i < argc; i++)
        r = sub2(r, argv[i]);
    return r;
}

static value p_div(int argc, value *argv)
{
    value r = argc == 1 ? make_fix(1) : argv[0];
    for (int i = argc == 1 ? 0 : 1; i < argc; i++) {
        value b = argv[i];
        if (is_fixnum(r) && is_fixnum(b) && fix_val(b) != 0 && fix_val(r) % fix_val(b) == 0)
            r = make_integer(fix_val(r) / fix_val(b));
        else {
            double d = arg_num("/", b);
            if (d == 0 && is_fixnum(b))
                scm_error("/: division by zero", r);
            r = num(arg_num("/", r) / d);
        }
    }
    return r;
}

static int compare(const char *who, value a, value b)
{
    if (is_fixnum(a) && is_fixnum(b))
        return (fix_val(a) > fix_val(b)) - (fix_val(a) < fix_val(b));
    double x = arg_num(who, a), y = arg_num(who, b);
    return (x > y) - (x < y);
}

#define COMPARISON(fname, sym, test)                                                       \
    static value fname(int argc, value *argv)                                              \
    {                                                                                      \
        int ok = 1;                                                                        \
        for (int i = 0; i + 1 < argc; i++)                                                 \
            if (!(compare(sym, argv[i], argv[i + 1]) test))                                \
                ok = 0;                                                                    \
        if (argc == 1)                                                                     \
            arg_num(sym, argv[0]);                                                         \
        return make_bool(ok);                                                              \
    }
COMPARISON(p_eq, "=", == 0)
COMPARISON(p_lt, "<", < 0)
COMPARISON(p_gt, ">", > 0)
COMPARISON(p_le, "<=", <= 0)
COMPARISON(p_ge, ">=", >= 0)

enum { DIV_QUOTIENT, DIV_REMAINDER, DIV_MODULO };

static value int_div(const char *who, value a, value b, int kind)
{
    if (is_fixnum(a) && is_fixnum(b)) {
        int64_t x = fix_val(a), y = fix_val(b);
        if (y == 0)
            scm_error("division by zero", a);
        if (kind == DIV_QUOTIENT)
            return make_integer(x / y);
        int64_t r = x % y;
        if (kind == DIV_MODULO && r != 0 && ((r < 0) != (y < 0)))
            r += y;
        return make_fix(r);
    }
    double x = (double)arg_int(who, a), y = (double)arg_int(who, b);
    if (y == 0)
        scm_error("division by zero", a);
    if (kind == DIV_QUOTIENT)
        return num(trunc(x / y));
    double r = fmod(x, y);
    if (kind == DIV_MODULO && r != 0 && ((r < 0) != (y < 0)))
        r += y;
    return num(r);
}

static value p_quotient(int argc, value *argv) { (void)argc; return int_div("quotient", argv[0], argv[1], DIV_QUOTIENT); }
static value p_remainder(int argc, value *argv) { (void)argc; return int_div("remainder", argv[0], argv[1], DIV_REMAINDER); }
static value p_modulo(int argc, value *argv) { (void)argc; return int_div("modulo", argv[0], argv[1], DIV_MODULO); }

static value p_number_p(int argc, value *argv) { (void)argc; return make_bool(is_number(argv[0])); }
static value p_integer_p(int argc, value *argv)
{
    (void)argc;
    value v = argv[0];
    return make_bool(is_fixnum(v) || (is_flonum(v) && FLO(v) == floor(FLO(v))));
}
static value p_exact_p(int argc, value *argv) { (void)argc; arg_num("exact?", argv[0]); return make_bool(is_fixnum(argv[0])); }
static value p_inexact_p(int argc, value *argv) { (void)argc; arg_num("inexact?", argv[0]); return make_bool(is_flonum(argv[0])); }
static value p_zero_p(int argc, value *argv) { (void)argc; return make_bool(arg_num("zero?", argv[0]) == 0); }
static value p_positive_p(int argc, value *argv) { (void)argc; return make_bool(arg_num("positive?", argv[0]) > 0); }
static value p_negative_p(int argc, value *argv) { (void)argc; return make_bool(arg_num("negative?", argv[0]) < 0); }
static value p_odd_p(int argc, value *argv) { (void)argc; return make_bool(arg_int("odd?", argv[0]) & 1); }
static value p_even_p(int argc, value *argv) { (void)argc; return make_bool(!(arg_int("even?", argv[0]) & 1)); }

static value p_abs(int argc, value *argv)
{
    (void)argc;
    if (is_fixnum(argv[0]))
        return make_integer(llabs(fix_val(argv[0])));
    return num(fabs(arg_num("abs", argv[0])));
}

static value minmax(int argc, value *argv, int want, const char *who)
{
    value r = argv[0];
    int inexact = is_flonum(r);
    for (int i = 1; i < argc; i++) {
        inexact |= is_flonum(argv[i]);
        if (compare(who, argv[i], r) == want)
            r = argv[i];
    }
    arg_num(who, r);
    return inexact && is_fixnum(r) ? num((double)fix_val(r)) : r;
}
static value p_min(int argc, value *argv) { return minmax(argc, argv, -1, "min"); }
static value p_max(int argc, value *argv) { return minmax(argc, argv, 1, "max"); }

static value p_exact(int argc, value *argv)
{
    (void)argc;
    if (is_fixnum(argv[0]))
        return argv[0];
    double d = arg_num("exact", argv[0]);
    if (d != floor(d) || !fix_fits((int64_t)d))
        scm_error("exact: no exact integer for this number", argv[0]);
    return make_fix((int64_t)d);
}
static value p_inexact(int argc, value *argv) { (void)argc; return num(arg_num("inexact", argv[0])); }

#define ROUNDING(fname, sym, fn)                                                           \
    static value fname(int argc, value *argv)                                              \
    {                                                                                      \
        (void)argc;                                                                        \
        if (is_fixnum(argv[0]))                                                            \
            return argv[0];                                                                \
        return num(fn(arg_num(sym, argv[0])));                                             \
    }
ROUNDING(p_floor, "floor", floor)
ROUNDING(p_ceiling, "ceiling", ceil)
ROUNDING(p_truncate, "truncate", trunc)
ROUNDING(p_round, "round", nearbyint)

#define REAL_FN(fname, sym, fn)                                                            \
    static value fname(int argc, value *argv)                                              \
    {                                                                                      \
        (void)argc;                                                                        \
        return num(fn(arg_num(sym, argv[0])));                                             \
    }
REAL_FN(p_exp, "exp", exp)
REAL_FN(p_log, "log", log)
REAL_FN(p_sin, "sin", sin)
REAL_FN(p_cos, "cos", cos)
REAL_FN(p_tan, "tan", tan)

static value p_sqrt(int argc, value *argv)
{
    (void)argc;
    if (is_fixnum(argv[0]) && fix_val(argv[0]) >= 0) {
        int64_t n = fix_val(argv[0]), r = (int64_t)sqrt((double)n);
        while (r * r > n)
            r--;
        while ((r + 1) * (r + 1) <= n)
            r++;
        if (r * r == n)
            return make_fix(r);
    }
    return num(sqrt(arg_num("sqrt", argv[0])));
}

static value p_atan(int argc, value *argv)
{
    if (argc == 2)
        return num(atan2(arg_num("atan", argv[0]), arg_num("atan", argv[1])));
    return num(atan(arg_num("atan", argv[0])));
}

static value p_expt(int argc, value *argv)
{
    (void)argc;
    if (is_fixnum(argv[0]) && is_fixnum(argv[1]) && fix_val(argv[1]) >= 0) {
        value r = make_fix(1), b = argv[0];
        for (int64_t e = fix_val(argv[1]); e > 0; e >>= 1) {
            if (e & 1)
                r = mul2(r, b);
            if (e > 1)
                b = mul2(b, b);
        }
        return r;
    }
    return num(pow(arg_num("expt", argv[0]), arg_num("expt", argv[1])));
}

static int64_t gcd64(int64_t a, int64_t b)
{
    a = llabs(a), b = llabs(b);
    while (b) {
        int64_t t = a % b;
        a = b, b = t;
    }
    return a;
}
static value p_gcd(int argc, value *argv)
{
    int64_t r = 0;
    for (int i = 0; i < argc; i++)
        r = gcd64(r, arg_int("gcd", argv[i]));
    return make_integer(r);
}
static value p_lcm(int argc, value *argv)
{
    int64_t r = 1;
    for (int i = 0; i < argc; i++) {
        int64_t x = llabs(arg_int("lcm", argv[i]));
        if (x == 0)
            return make_fix(0);
        r = r / gcd64(r, x) * x;
    }
    return make_integer(r);
}

static value p_number_to_string(int argc, value *argv)
{
    char buf[80];
    int64_t radix = argc > 1 ? arg_int("number->string", argv[1]) : 10;
    if (is_fixnum(argv[0]) && radix != 10) {
        if (radix < 2 || radix > 36)
            scm_error("number->string: radix must be between 2 and 36", argv[1]);
        int64_t n = fix_val(argv[0]);
        uint64_t u = n < 0 ? -(uint64_t)n : (uint64_t)n;
        char *p = buf + sizeof buf - 1;
        *p = 0;
        do {
            *--p = "0123456789abcdefghijklmnopqrstuvwxyz"[u % (uint64_t)radix];
            u /= (uint64_t)radix;
        } while (u);
        if (n < 0)
            *--p = '-';
        return cstring(p);
    }
    arg_num("number->string", argv[0]);
    value port = port_output_string();
    write_value(port, argv[0], 0);
    return port_output_contents(port);
}

static value p_string_to_number(int argc, value *argv)
{
    value s = ARG_STRING("string->number", argv[0]);
    int64_t radix = argc > 1 ? arg_int("string->number", argv[1]) : 10;
    const char *t = STR(s);
    char *end;
    if (!*t)
        return FALSE_V;
    long long i = strtoll(t, &end, (int)radix);
    if (!*end && fix_fits(i))
        return make_fix(i);
    if (radix == 10) {
        double d = strtod(t, &end);
        if (!*end)
            return num(d);
    }
    return FALSE_V;
}

static value p_square(int argc, value *argv) { (void)argc; return mul2(argv[0], argv[0]); }
static value p_add1(int argc, value *argv) { (void)argc; return add2(argv[0], make_fix(1)); }
static value p_sub1(int argc, value *argv) { (void)argc; return sub2(argv[0], make_fix(1)); }

const struct prim_def prims_num[] = {
    {"+", p_add, 0, -1},          {"-", p_sub, 1, -1},           {"*", p_mul, 0, -1},
    {"/", p_div, 1, -1},          {"=", p_eq, 1, -1},            {"<", p_lt, 1, -1},
    {">", p_gt, 1, -1},           {"<=", p_le, 1, -1},           {">=", p_ge, 1, -1},
    {"quotient", p_quotient, 2, 2}, {"remainder", p_remainder, 2, 2}, {"modulo", p_modulo, 2, 2},
    {"number?", p_number_p, 1, 1}, {"integer?", p_integer_p, 1, 1}, {"real?", p_number_p, 1, 1},
    {"exact?", p_exact_p, 1, 1},  {"inexact?", p_inexact_p, 1, 1}, {"zero?", p_zero_p, 1, 1},
    {"positive?", p_positive_p, 1, 1}, {"negative?", p_negative_p, 1, 1}, {"odd?", p_odd_p, 1, 1},
    {"even?", p_even_p, 1, 1},    {"abs", p_abs, 1, 1},          {"min", p_min, 1, -1},
    {"max", p_max, 1, -1},        {"exact", p_exact, 1, 1},      {"inexact", p_inexact, 1, 1},
    {"inexact->exact", p_exact, 1, 1}, {"exact->inexact", p_inexact, 1, 1}, {"floor", p_floor, 1, 1},
    {"ceiling", p_ceiling, 1, 1}, {"truncate", p_truncate, 1, 1}, {"round", p_round, 1, 1},
    {"exp", p_exp, 1, 1},         {"log", p_log, 1, 1},          {"sin", p_sin, 1, 1},
    {"cos", p_cos, 1, 1},         {"tan", p_tan, 1, 1},          {"atan", p_atan, 1, 2},
    {"sqrt", p_sqrt, 1, 1},       {"expt", p_expt, 2, 2},        {"gcd", p_gcd, 0, -1},
    {"lcm", p_lcm, 0, -1},        {"number->string", p_number_to_string, 1, 2},
    {"string->number", p_string_to_number, 1, 2}, {"square", p_square, 1, 1},
    {"1+", p_add1, 1, 1},         {"-1+", p_sub1, 1, 1},
};
const size_t prims_num_count = sizeof prims_num / sizeof prims_num[0];

/* print.c -- write and display. */
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "scheme.h"

const char *type_name_of(value v)
{
    if (is_fixnum(v))
        return "integer";
    if (is_imm(v)) {
        switch (imm_kind(v)) {
        case IK_FALSE: case IK_TRUE: return "boolean";
        case IK_NIL: return "empty list";
        case IK_CHAR: return "character";
        case IK_EOF: return "eof object";
        default: return "unspecified value";
        }
    }
    static const char *const names[T_COUNT] = {
        "pair", "vector", "string", "real", "symbol", "procedure", "procedure", "frame",
        "code", "hash table", "entry", "port", "continuation", "values", "promise", "record"};
    return names[obj_type(v)];
}

static void write_flonum(value port, double d)
{
    char buf[64];
    if (isnan(d)) {
        port_puts(port, "+nan.0");
        return;
    }
    if (isinf(d)) {
        port_puts(port, d > 0 ? "+inf.0" : "-inf.0");
        return;
    }
    for (int prec = 15; prec <= 17; prec++) { /* the shortest that reads back the same */
        snprintf(buf, sizeof buf, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    port_puts(port, buf);
    if (!strpbrk(buf, ".e"))
        port_puts(port, ".0");
}

static void write_string_lit(value port, value s)
{
    port_puts(port, "\"");
    size_t n = obj_len(s), start = 0;
    for (size_t i = 0; i < n; i++) {
        char c = STR(s)[i];
        const char *esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\n' ? "\\n" :
                          c == '\t' ? "\\t" : c == '\r' ? "\\r" : NULL;
        if (esc) {
            port_write(port, STR(s) + start, i - start);
            port_puts(port, esc);
            start = i + 1;
        }
    }
    port_write(port, STR(s) + start, n - start);
    port_puts(port, "\"");
}

static void write_char_lit(value port, uint32_t c)
{
    char buf[16];
    const char *name = c == ' ' ? "space" : c == '\n' ? "newline" : c == '\t' ? "tab" :
                       c == 0 ? "nul" : c == '\r' ? "return" : NULL;
    if (name)
        snprintf(buf, sizeof buf, "#\\%s", name);
    else if (c < 32 || c >= 127)
        snprintf(buf, sizeof buf, "#\\x%x", c);
    else
        snprintf(buf, sizeof buf, "#\\%c", (char)c);
    port_puts(port, buf);
}

static void write_list(value port, value v, int display)
{
    if (is_symbol(CAR(v)) && is_pair(CDR(v)) && CDR(CDR(v)) == NIL) {
        const char *abbrev = CAR(v) == SYM_(QUOTE) ? "'" : CAR(v) == SYM_(QUASIQUOTE) ? "`" :
                             CAR(v) == SYM_(UNQUOTE) ? "," :
                             CAR(v) == SYM_(UNQUOTE_SPLICING) ? ",@" : NULL;
        if (abbrev) {
            port_puts(port, abbrev);
            write_value(port, CAR(CDR(v)), display);
            return;
        }
    }
    port_puts(port, "(");
    for (int first = 1;; first = 0) {
        if (!first)
            port_puts(port, " ");
        write_value(port, CAR(v), display);
        v = CDR(v);
        if (!is_pair(v))
            break;
    }
    if (v != NIL) {
        port_puts(port, " . ");
        write_value(port, v, display);
    }
    port_puts(port, ")");
}

static void write_named(value port, const char *what, value name)
{
    port_puts(port, "#<");
    port_puts(port, what);
    if (is_symbol(name) || is_string(name)) {
        value s = is_symbol(name) ? SYM(name)->name : name;
        port_puts(port, " ");
        port_write(port, STR(s), obj_len(s));
    }
    port_puts(port, ">");
}

void write_value(value port, value v, int display)
{
    char buf[32];
    check_stack();
    if (is_fixnum(v)) {
        snprintf(buf, sizeof buf, "%lld", (long long)fix_val(v));
        port_puts(port, buf);
        return;
    }
    if (is_imm(v)) {
        switch (imm_kind(v)) {
        case IK_FALSE: port_puts(port, "#f"); return;
        case IK_TRUE: port_puts(port, "#t"); return;
        case IK_NIL: port_puts(port, "()"); return;
        case IK_EOF: port_puts(port, "#<eof>"); return;
        case IK_CHAR:
            if (display) {
                char c = (char)char_val(v);
                port_write(port, &c, 1);
            } else {
                write_char_lit(port, char_val(v));
            }
            return;
        default: port_puts(port, "#<unspecified>"); return;
        }
    }
    switch (obj_type(v)) {
    case T_PAIR: write_list(port, v, display); return;
    case T_FLONUM: write_flonum(port, FLO(v)); return;
    case T_STRING:
        if (display)
            port_write(port, STR(v), obj_len(v));
        else
            write_string_lit(port, v);
        return;
    case T_SYMBOL: port_write(port, STR(SYM(v)->name), obj_len(SYM(v)->name)); return;
    case T_VECTOR:
        port_puts(port, "#(");
        for (size_t i = 0; i < obj_len(v); i++) {
            if (i)
                port_puts(port, " ");
            write_value(port, VEC(v)[i], display);
        }
        port_puts(port, ")");
        return;
    case T_CLOSURE: write_named(port, "procedure", VEC(((struct closure *)v)->code)[5]); return;
    case T_PRIM: write_named(port, "primitive", ((struct prim *)v)->name); return;
    case T_CONT: port_puts(port, "#<continuation>"); return;
    case T_TABLE: port_puts(port, "#<hash-table>"); return;
    case T_PORT: port_puts(port, "#<port>"); return;
    case T_PROMISE: port_puts(port, "#<promise>"); return;
    case T_RECORD: {
        value type = VEC(v)[0]; /* a record type: a record whose slot 0 is #f */
        write_named(port, "record", type != FALSE_V ? VEC(type)[1] : FALSE_V);
        return;
    }
    case T_VALUES:
        for (size_t i = 0; i < obj_len(v); i++) {
            if (i)
                port_puts(port, " ");
            write_value(port, VEC(v)[i], display);
        }
        return;
    default: port_puts(port, "#<object>"); return;
    }
}

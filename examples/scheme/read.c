/* read.c -- the reader: external representations to data. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "scheme.h"

static int skip_space(value port)
{
    for (;;) {
        int c = port_peekc(port);
        if (c == ';') {
            while ((c = port_getc(port)) != -1 && c != '\n')
                ;
        } else if (c == '#') {
            /* #| block |# and #; datum comments; anything else is a datum */
            port_getc(port);
            int d = port_peekc(port);
            if (d == '|') {
                port_getc(port);
                int depth = 1, prev = 0;
                while (depth > 0 && (c = port_getc(port)) != -1) {
                    if (prev == '|' && c == '#')
                        depth--, c = 0;
                    else if (prev == '#' && c == '|')
                        depth++, c = 0;
                    prev = c;
                }
            } else if (d == ';') {
                port_getc(port);
                read_datum(port);
            } else {
                return '#'; /* consumed: the caller continues after it */
            }
        } else if (c != -1 && isspace(c)) {
            port_getc(port);
        } else {
            return c;
        }
    }
}

static value read_hash(value port);

/* After skip_space returned c: a '#' it has consumed starts a datum */
static value read_next(value port, int c)
{
    return c == '#' ? read_hash(port) : read_datum(port);
}

static int delimiter(int c)
{
    return c == -1 || isspace(c) || c == '(' || c == ')' || c == '"' || c == ';' || c == '\'';
}

/* Characters up to a delimiter, in a C buffer (the token is short). */
static size_t read_token(value port, char *buf, size_t max, int first)
{
    size_t n = 0;
    if (first)
        buf[n++] = (char)first;
    while (!delimiter(port_peekc(port))) {
        int c = port_getc(port);
        if (n + 1 >= max)
            scm_error("read: token too long", DEFAULT_V);
        buf[n++] = (char)c;
    }
    buf[n] = 0;
    return n;
}

static value parse_atom(const char *tok, size_t n)
{
    char *end;
    if (n > 0 && (isdigit((unsigned char)tok[0]) ||
                  ((tok[0] == '-' || tok[0] == '+' || tok[0] == '.') && n > 1 &&
                   (isdigit((unsigned char)tok[1]) || tok[1] == '.')))) {
        long long i = strtoll(tok, &end, 10);
        if (*end == 0 && fix_fits(i))
            return make_fix(i);
        double d = strtod(tok, &end);
        if (*end == 0)
            return make_flonum(d);
    }
    return intern_len(tok, n);
}

static value read_string_lit(value port)
{
    value out = port_output_string();
    for (;;) {
        int c = port_getc(port);
        if (c == -1)
            scm_error("read: end of input inside a string", DEFAULT_V);
        if (c == '"')
            return port_output_contents(out);
        if (c == '\\') {
            c = port_getc(port);
            switch (c) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'a': c = '\a'; break;
            case '0': c = 0; break;
            case '\\': case '"': break;
            case '\n':
                while ((c = port_peekc(port)) == ' ' || c == '\t')
                    port_getc(port);
                continue;
            default:
                scm_error("read: unknown escape in a string", make_char((uint32_t)c));
            }
        }
        char ch = (char)c;
        port_write(out, &ch, 1);
    }
}

static const struct {
    const char *name;
    int c;
} char_names[] = {{"space", ' '},   {"newline", '\n'}, {"tab", '\t'}, {"nul", 0},
                  {"null", 0},      {"return", '\r'},  {"linefeed", '\n'}, {"alarm", 7},
                  {"backspace", 8}, {"delete", 127},   {"escape", 27}};

static value read_hash(value port)
{
    char buf[256];
    int c = port_peekc(port);
    if (c == '(') {
        port_getc(port);
        value items = NIL;
        size_t n = 0;
        for (;;) {
            int d = skip_space(port);
            if (d == ')') {
                port_getc(port);
                break;
            }
            if (d == -1)
                scm_error("read: end of input inside a vector", DEFAULT_V);
            items = cons(read_next(port, d), items), n++;
        }
        value v = make_vector(n, UNSPEC);
        for (size_t i = n; i-- > 0; items = CDR(items))
            VEC(v)[i] = CAR(items);
        return v;
    }
    if (c == '\\') {
        port_getc(port);
        int first = port_getc(port);
        if (first == -1)
            scm_error("read: end of input in a character", DEFAULT_V);
        size_t n = read_token(port, buf, sizeof buf, first);
        if (n == 1)
            return make_char((unsigned char)buf[0]);
        for (size_t i = 0; i < sizeof char_names / sizeof char_names[0]; i++)
            if (strcmp(buf, char_names[i].name) == 0)
                return make_char((uint32_t)char_names[i].c);
        if (buf[0] == 'x' && n > 1) {
            char *end;
            unsigned long x = strtoul(buf + 1, &end, 16);
            if (!*end)
                return make_char((uint32_t)x);
        }
        scm_error("read: unknown character name", cstring(buf));
    }
    read_token(port, buf, sizeof buf, 0);
    if (!strcmp(buf, "t") || !strcmp(buf, "true"))
        return TRUE_V;
    if (!strcmp(buf, "f") || !strcmp(buf, "false"))
        return FALSE_V;
    if (!strcmp(buf, "eof"))
        return EOF_V;
    scm_error("read: unknown # syntax", cstring(buf));
}

static value read_list(value port, int close)
{
    value items = NIL, tail = NIL;
    for (;;) {
        int c = skip_space(port);
        if (c == -1)
            scm_error("read: end of input inside a list", DEFAULT_V);
        if (c == ')' || c == ']') {
            port_getc(port);
            if (c != close)
                scm_error("read: mismatched closing bracket", make_char((uint32_t)c));
            break;
        }
        if (c == '.') {
            port_getc(port);
            if (delimiter(port_peekc(port))) {
                if (items == NIL)
                    scm_error("read: a dot with nothing before it", DEFAULT_V);
                tail = read_next(port, skip_space(port));
                if (skip_space(port) != close)
                    scm_error("read: more than one datum after a dot", DEFAULT_V);
                port_getc(port);
                break;
            }
            char buf[256];
            size_t n = read_token(port, buf, sizeof buf, '.');
            items = cons(parse_atom(buf, n), items);
            continue;
        }
        items = cons(read_next(port, c), items);
    }
    value l = tail;
    for (; items != NIL; items = CDR(items))
        l = cons(CAR(items), l);
    return l;
}

value read_datum(value port)
{
    check_stack();
    int c = skip_space(port);
    if (c == -1)
        return EOF_V;
    if (c == '#')
        return read_hash(port);
    port_getc(port);
    switch (c) {
    case '(':
        return read_list(port, ')');
    case '[':
        return read_list(port, ']');
    case ')':
    case ']':
        scm_error("read: unexpected closing bracket", DEFAULT_V);
    case '\'':
        return list2(SYM_(QUOTE), read_datum(port));
    case '`':
        return list2(SYM_(QUASIQUOTE), read_datum(port));
    case ',':
        if (port_peekc(port) == '@') {
            port_getc(port);
            return list2(SYM_(UNQUOTE_SPLICING), read_datum(port));
        }
        return list2(SYM_(UNQUOTE), read_datum(port));
    case '"':
        return read_string_lit(port);
    default: {
        char buf[1024];
        size_t n = read_token(port, buf, sizeof buf, c);
        if (c == '|' && n > 1 && buf[n - 1] == '|')
            return intern_len(buf + 1, n - 2);
        return parse_atom(buf, n);
    }
    }
}

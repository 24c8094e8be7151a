/* scheme.h -- the interpreter's modules and what they share.
 * Design: doc/design/scheme.md.
 */
#ifndef SCHEME_H
#define SCHEME_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "value.h"

/* ---- roots: every static slot that holds an object (mem.h) ---- */
#define SPECIAL_SYMBOLS(X)                                                                \
    X(QUOTE, "quote") X(QUASIQUOTE, "quasiquote") X(UNQUOTE, "unquote")                   \
    X(UNQUOTE_SPLICING, "unquote-splicing") X(LAMBDA, "lambda") X(DEFINE, "define")       \
    X(SET, "set!") X(IF, "if") X(BEGIN, "begin") X(LET, "let") X(LET_STAR, "let*")        \
    X(LETREC, "letrec") X(LETREC_STAR, "letrec*") X(COND, "cond") X(CASE, "case")         \
    X(AND, "and") X(OR, "or") X(WHEN, "when") X(UNLESS, "unless") X(DO, "do")             \
    X(ELSE, "else") X(ARROW, "=>") X(DELAY, "delay") X(DEFINE_RECORD, "define-record-type") \
    X(NAMED_LAMBDA, "named-lambda")

enum root {
    R_SYMTAB,  /* vector of buckets (lists of symbols) */
    R_SYMCOUNT,
    R_BUILD,   /* the build's signature: an image from another build is refused */
    R_STDIN,
    R_STDOUT,
    R_STDERR,
    R_CUROUT,  /* the current output port */
    R_CURIN,
    R_ERR_MSG, /* the error being handled: message and irritants */
    R_ERR_IRRITANTS,
    R_APPLY,   /* the apply primitive: eval spreads its arguments itself */
#define ROOT_ENUM(id, name) R_##id,
    SPECIAL_SYMBOLS(ROOT_ENUM)
#undef ROOT_ENUM
    R_COUNT
};
extern value roots[R_COUNT];
#define SYM_(id) (roots[R_##id])

/* ---- objects (object.c) ---- */
value cons(value a, value d);
value make_flonum(double d);
value make_integer(int64_t n); /* a fixnum, or a flonum past the fixnum range */
value make_string(size_t len); /* len bytes of zero */
value string_from(const char *s, size_t len);
value cstring(const char *s);
value make_vector(size_t n, value fill);
value make_obj(unsigned type, size_t nslots); /* slots UNSPEC... zero-filled: callers fill */
value intern(const char *name);
value intern_len(const char *name, size_t len);
value list_reverse(value l);
int64_t list_length(value l); /* -1: not a proper list */
value list2(value a, value b);
value list3(value a, value b, value c);
uint64_t string_hash(const char *s, size_t len);

/* ---- errors (error.c) ---- */
struct escape {           /* a C frame that an error or an escape can return to */
    jmp_buf jb;
    struct escape *prev;
    value result;
    value cont;           /* the continuation object, or 0 for an error handler */
};
extern struct escape *escapes;
__attribute__((noreturn)) void scm_error(const char *msg, value irritant);
__attribute__((noreturn)) void scm_errorv(const char *msg, value irritants);
void check_stack(void);

/* ---- reading and printing (read.c, print.c) ---- */
value read_datum(value port); /* EOF_V at the end */
void write_value(value port, value v, int display);
const char *type_name_of(value v);

/* ---- ports (port.c) ---- */
enum port_kind { PK_IN_FILE, PK_OUT_FILE, PK_IN_STRING, PK_OUT_STRING, PK_CLOSED };
value port_open_file(const char *path, int output);
value port_from_fd(int fd, int output);
value port_input_string(value s);
value port_output_string(void);
value port_output_contents(value port);
int port_getc(value port); /* -1 at the end */
int port_peekc(value port);
void port_write(value port, const char *bytes, size_t n);
void port_puts(value port, const char *s);
void port_flush(value port);
void port_close(value port);
int is_port(value v, int output);

/* ---- compiling and evaluating (compile.c, eval.c) ---- */
enum op {
    OP_CONST,     /* value */
    OP_LOCAL,     /* depth, index */
    OP_GLOBAL,    /* symbol */
    OP_SET_LOCAL, /* depth, index, expr */
    OP_SET_GLOBAL,/* symbol, expr */
    OP_DEFINE,    /* symbol, expr */
    OP_IF,        /* test, then, else */
    OP_LAMBDA,    /* nparams, rest?, framesize, body, name */
    OP_SEQ,       /* exprs... */
    OP_CALL,      /* fn, args... */
    OP_AND,       /* exprs... */
    OP_OR,        /* exprs... */
    OP_DELAY,     /* expr (a lambda of no arguments) */
    OP_LET,       /* framesize, body, inits... */
};
#define CODE_OP(c) fix_val(VEC(c)[0])
value compile(value expr);           /* at top level */
value eval(value code, value env);
value eval_toplevel(value expr);
value apply(value fn, int argc, value *argv);
value make_values(int n, value *v);

/* ---- primitives (prim_*.c) ---- */
typedef value (*prim_fn)(int argc, value *argv);
struct prim_def {
    const char *name;
    prim_fn fn;
    int min_args, max_args; /* max -1: any number */
};
extern const struct prim_def *prim_table;
extern size_t prim_count;
void prims_install(void);
int prims_check_image(void); /* the image's primitives are this build's */
void prims_register(const struct prim_def *defs, size_t n);
value prim_ref(value prim_obj);

/* argument checks, each with a message naming the procedure */
int64_t arg_int(const char *who, value v);
double arg_num(const char *who, value v);
value arg_type(const char *who, value v, unsigned type, const char *what);
#define ARG_STRING(who, v) arg_type(who, v, T_STRING, "a string")
#define ARG_PAIR(who, v) arg_type(who, v, T_PAIR, "a pair")
#define ARG_VECTOR(who, v) arg_type(who, v, T_VECTOR, "a vector")
#define ARG_SYMBOL(who, v) arg_type(who, v, T_SYMBOL, "a symbol")

int values_eqv(value a, value b);
int values_equal(value a, value b);
uint64_t hash_eq(value v);
uint64_t hash_equal(value v);

/* ---- the REPL and loading (main.c) ---- */
int load_file(const char *path, int print_results);
extern int interactive;

#endif

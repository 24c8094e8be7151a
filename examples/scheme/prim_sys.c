/* prim_sys.c -- ports and I/O, escapes, errors, the collector and images. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mem.h"
#include "scheme.h"

#define UNUSED (void)argc

/* argv[at] when given (checked), else the current port */
static value port_arg(int argc, value *argv, int at, int output)
{
    if (argc <= at)
        return roots[output ? R_CUROUT : R_CURIN];
    if (!is_port(argv[at], output))
        scm_error(output ? "not an output port" : "not an input port", argv[at]);
    return argv[at];
}
#define out_port(argc, argv, at) port_arg(argc, argv, at, 1)
#define in_port(argc, argv, at) port_arg(argc, argv, at, 0)

/* .sol.path-copy: a file name reaches the C library as a copy on the C
 * stack.  The kernel reading a heap string itself fails with EFAULT when
 * its page is protected during a cycle (the mprotect backend's grey
 * pages: "cannot open file" for a file that is there), and a copy sized
 * by the string could overrun the stack.  buf: PATH_MAX bytes. */
static const char *path_arg(const char *who, value v, char *buf)
{
    value s = ARG_STRING(who, v);
    size_t n = obj_len(s);
    char msg[160];
    if (n >= PATH_MAX) {
        snprintf(msg, sizeof msg, "%s: a file name of %zu bytes is too long (the limit is %d)",
                 who, n, PATH_MAX - 1);
        scm_errorv(msg, NIL);
    }
    const char *nul = memchr(STR(s), 0, n); /* the C library would read another file's name */
    if (nul) {
        snprintf(msg, sizeof msg, "%s: the file name has a NUL character at byte %zu", who,
                 (size_t)(nul - STR(s)));
        scm_errorv(msg, NIL);
    }
    memcpy(buf, STR(s), n);
    buf[n] = 0;
    return buf;
}

static value p_display(int argc, value *argv) { write_value(out_port(argc, argv, 1), argv[0], 1); return UNSPEC; }
static value p_write(int argc, value *argv) { write_value(out_port(argc, argv, 1), argv[0], 0); return UNSPEC; }
static value p_newline(int argc, value *argv) { port_puts(out_port(argc, argv, 0), "\n"); return UNSPEC; }

static value p_write_char(int argc, value *argv)
{
    if (!is_char(argv[0]))
        scm_error("write-char: not a character", argv[0]);
    char c = (char)char_val(argv[0]);
    port_write(out_port(argc, argv, 1), &c, 1);
    return UNSPEC;
}

static value p_write_string(int argc, value *argv)
{
    value s = ARG_STRING("write-string", argv[0]);
    port_write(out_port(argc, argv, 1), STR(s), obj_len(s));
    return UNSPEC;
}

static value p_read_char(int argc, value *argv)
{
    int c = port_getc(in_port(argc, argv, 0));
    return c < 0 ? EOF_V : make_char((unsigned char)c);
}

static value p_peek_char(int argc, value *argv)
{
    int c = port_peekc(in_port(argc, argv, 0));
    return c < 0 ? EOF_V : make_char((unsigned char)c);
}

static value p_read_line(int argc, value *argv)
{
    value port = in_port(argc, argv, 0), out = port_output_string();
    int c = port_getc(port);
    if (c < 0)
        return EOF_V;
    for (; c >= 0 && c != '\n'; c = port_getc(port)) {
        char ch = (char)c;
        port_write(out, &ch, 1);
    }
    return port_output_contents(out);
}

static value p_read(int argc, value *argv) { return read_datum(in_port(argc, argv, 0)); }

static value p_current_output(int argc, value *argv) { UNUSED, (void)argv; return roots[R_CUROUT]; }
static value p_current_input(int argc, value *argv) { UNUSED, (void)argv; return roots[R_CURIN]; }
static value p_open_input_string(int argc, value *argv) { UNUSED; return port_input_string(ARG_STRING("open-input-string", argv[0])); }
static value p_open_output_string(int argc, value *argv) { UNUSED, (void)argv; return port_output_string(); }
static value p_get_output_string(int argc, value *argv) { UNUSED; return port_output_contents(argv[0]); }

static value p_open_input_file(int argc, value *argv)
{
    UNUSED;
    char path[PATH_MAX];
    return port_open_file(path_arg("open-input-file", argv[0], path), 0);
}

static value p_open_output_file(int argc, value *argv)
{
    UNUSED;
    char path[PATH_MAX];
    return port_open_file(path_arg("open-output-file", argv[0], path), 1);
}

static value p_close_port(int argc, value *argv)
{
    UNUSED;
    if (!is_type(argv[0], T_PORT))
        scm_error("close-port: not a port", argv[0]);
    port_close(argv[0]);
    return UNSPEC;
}

static value p_flush_output(int argc, value *argv) { port_flush(out_port(argc, argv, 0)); return UNSPEC; }

/* (with-output-to-string thunk): what thunk writes to the current port */
static value p_with_output_to_string(int argc, value *argv)
{
    UNUSED;
    value saved = roots[R_CUROUT], port = port_output_string();
    struct escape e = {.prev = escapes, .cont = 0};
    if (setjmp(e.jb)) {
        roots[R_CUROUT] = saved;
        escapes = e.prev;
        scm_errorv(STR(roots[R_ERR_MSG]), roots[R_ERR_IRRITANTS]); /* passed on */
    }
    escapes = &e;
    roots[R_CUROUT] = port;
    apply(argv[0], 0, NULL);
    escapes = e.prev;
    roots[R_CUROUT] = saved;
    return port_output_contents(port);
}

static value p_call_with_output_string(int argc, value *argv)
{
    UNUSED;
    value port = port_output_string();
    apply(argv[0], 1, &port);
    return port_output_contents(port);
}

static value p_file_exists(int argc, value *argv)
{
    UNUSED;
    char path[PATH_MAX];
    return make_bool(access(path_arg("file-exists?", argv[0], path), F_OK) == 0);
}

static value p_getenv(int argc, value *argv)
{
    UNUSED;
    const char *v = getenv(STR(ARG_STRING("get-environment-variable", argv[0])));
    return v ? cstring(v) : FALSE_V;
}

static value p_delete_file(int argc, value *argv)
{
    UNUSED;
    char path[PATH_MAX];
    if (unlink(path_arg("delete-file", argv[0], path)) != 0)
        scm_error("delete-file: cannot delete", argv[0]);
    return UNSPEC;
}

/* ---- escapes and errors ---- */

static uint64_t cont_serial;

static value p_call_cc(int argc, value *argv)
{
    UNUSED;
    struct cont *k = mem_alloc(T_CONT, sizeof *k, 0);
    struct escape e = {.prev = escapes, .cont = (value)k};
    k->depth = make_fix((int64_t)(uintptr_t)&e);
    k->serial = make_fix((int64_t)++cont_serial);
    if (setjmp(e.jb)) {
        /* escapes was reset to e by the throw */
        escapes = e.prev;
        k->serial = FALSE_V;
        return e.result;
    }
    escapes = &e;
    value v = apply(argv[0], 1, (value *)&e.cont);
    escapes = e.prev;
    k->serial = FALSE_V;
    return v;
}

static value p_apply(int argc, value *argv)
{
    /* eval and apply spread apply's arguments themselves (eval.c) */
    return apply(roots[R_APPLY], argc, argv);
}

static value p_error(int argc, value *argv)
{
    value msg = argv[0];
    value irritants = NIL;
    for (int i = argc; i-- > 1;)
        irritants = cons(argv[i], irritants);
    if (is_string(msg))
        scm_errorv(STR(msg), irritants);
    scm_errorv("error", cons(msg, irritants));
}

/* (catch-error thunk handler): thunk's value, or, when it signals an
 * error, (handler message irritants) */
static value p_catch_error(int argc, value *argv)
{
    UNUSED;
    value saved_out = roots[R_CUROUT];
    struct escape e = {.prev = escapes, .cont = 0};
    if (setjmp(e.jb)) {
        escapes = e.prev;
        roots[R_CUROUT] = saved_out;
        value args[2] = {roots[R_ERR_MSG], roots[R_ERR_IRRITANTS]};
        return apply(argv[1], 2, args);
    }
    escapes = &e;
    value v = apply(argv[0], 0, NULL);
    escapes = e.prev;
    return v;
}

static value p_exit(int argc, value *argv)
{
    port_flush(roots[R_STDOUT]);
    uint64_t bytes;
    const char *err;
    if (mem_image_wait(&bytes, &err) < 0) {
        fprintf(stderr, "vmgc-scheme: saving the image failed: %s\n", err);
        exit(74);
    }
    exit(argc > 0 ? (argv[0] == FALSE_V ? 1 : is_fixnum(argv[0]) ? (int)fix_val(argv[0]) : 0) : 0);
}

static value p_load(int argc, value *argv)
{
    UNUSED;
    char path[PATH_MAX];
    if (load_file(path_arg("load", argv[0], path), 0) != 0)
        scm_error("load: cannot open", argv[0]);
    return UNSPEC;
}

static value p_eval(int argc, value *argv) { UNUSED; return eval_toplevel(argv[0]); }

static double now(clockid_t clock)
{
    struct timespec t;
    clock_gettime(clock, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}
static value p_runtime(int argc, value *argv) { UNUSED, (void)argv; return make_flonum(now(CLOCK_PROCESS_CPUTIME_ID)); }
static value p_real_time(int argc, value *argv) { UNUSED, (void)argv; return make_flonum(now(CLOCK_MONOTONIC) * 1000.0); }

/* (random n): a fixed-seed xorshift, so runs repeat */
static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static value p_random(int argc, value *argv)
{
    UNUSED;
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    if (is_flonum(argv[0]))
        return make_flonum(FLO(argv[0]) * (double)(rng >> 11) / 9007199254740992.0);
    int64_t n = arg_int("random", argv[0]);
    if (n <= 0)
        scm_error("random: the range must be positive", argv[0]);
    return make_fix((int64_t)(rng % (uint64_t)n));
}

static value p_gensym(int argc, value *argv)
{
    UNUSED, (void)argv;
    static uint64_t n;
    char buf[32];
    snprintf(buf, sizeof buf, "g%llu", (unsigned long long)++n);
    struct symbol *s = mem_alloc(T_SYMBOL, sizeof *s, 0);
    s->name = cstring(buf);
    s->global = UNBOUND;
    s->hash = make_fix(0);
    return (value)s;
}

/* ---- the collector and images ---- */

static value p_gc(int argc, value *argv) { UNUSED, (void)argv; mem_collect(); return UNSPEC; }
static value p_gc_stats(int argc, value *argv)
{
    UNUSED, (void)argv;
    return cons(cons(intern("collector"), intern(mem_collector_name)), mem_stats());
}

static value p_save_image(int argc, value *argv)
{
    UNUSED;
    char path[PATH_MAX];
    const char *err;
    if (mem_image_start(path_arg("save-image", argv[0], path), &err) != 0)
        scm_error("save-image failed", cstring(err));
    return UNSPEC;
}

static value p_image_wait(int argc, value *argv)
{
    UNUSED, (void)argv;
    uint64_t bytes;
    const char *err;
    int r = mem_image_wait(&bytes, &err);
    if (r < 0)
        scm_error("saving the image failed", cstring(err));
    return r == 0 ? make_integer((int64_t)bytes) : FALSE_V;
}

static value p_image_restored(int argc, value *argv) { UNUSED, (void)argv; return make_bool(mem_restored()); }

const struct prim_def prims_sys[] = {
    {"display", p_display, 1, 2},       {"write", p_write, 1, 2},
    {"newline", p_newline, 0, 1},       {"write-char", p_write_char, 1, 2},
    {"write-string", p_write_string, 1, 2}, {"read-char", p_read_char, 0, 1},
    {"peek-char", p_peek_char, 0, 1},   {"read-line", p_read_line, 0, 1},
    {"read", p_read, 0, 1},             {"current-output-port", p_current_output, 0, 0},
    {"current-input-port", p_current_input, 0, 0},
    {"open-input-string", p_open_input_string, 1, 1},
    {"open-output-string", p_open_output_string, 0, 0},
    {"get-output-string", p_get_output_string, 1, 1},
    {"open-input-file", p_open_input_file, 1, 1}, {"open-output-file", p_open_output_file, 1, 1},
    {"close-port", p_close_port, 1, 1}, {"close-input-port", p_close_port, 1, 1},
    {"close-output-port", p_close_port, 1, 1}, {"flush-output", p_flush_output, 0, 1},
    {"with-output-to-string", p_with_output_to_string, 1, 1},
    {"call-with-output-string", p_call_with_output_string, 1, 1},
    {"file-exists?", p_file_exists, 1, 1}, {"delete-file", p_delete_file, 1, 1},
    {"get-environment-variable", p_getenv, 1, 1},
    {"call-with-current-continuation", p_call_cc, 1, 1}, {"call/cc", p_call_cc, 1, 1},
    {"apply", p_apply, 2, -1},          {"error", p_error, 1, -1},
    {"catch-error", p_catch_error, 2, 2}, {"exit", p_exit, 0, 1},
    {"load", p_load, 1, 1},             {"eval", p_eval, 1, 2},
    {"runtime", p_runtime, 0, 0},       {"real-time", p_real_time, 0, 0},
    {"random", p_random, 1, 1},         {"gensym", p_gensym, 0, 1},
    {"gc", p_gc, 0, 0},                 {"gc-stats", p_gc_stats, 0, 0},
    {"save-image", p_save_image, 1, 1}, {"save-image-wait", p_image_wait, 0, 0},
    {"image-restored?", p_image_restored, 0, 0},
};
const size_t prims_sys_count = sizeof prims_sys / sizeof prims_sys[0];

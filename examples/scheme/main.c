/* main.c -- vmgc-scheme: the command line, the REPL and loading files.
 *
 *   vmgc-scheme [--image FILE [--verify-image]] [-e EXPR]... [FILE]...
 *
 * --image starts from a saved image (save-image), loading its pages as
 * they are first touched; --verify-image checks all of it first (slower,
 * but damage is then refused at the start instead of ending the program
 * when the damaged page is reached).
 * Files are loaded in order, then -e expressions are evaluated; with
 * neither, the REPL reads standard input (with a prompt on a terminal).
 * An error in a file or an -e expression ends the program with status 70;
 * in the REPL it prints a message and the REPL goes on.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mem.h"
#include "scheme.h"

int interactive;

static void print_error(value port)
{
    port_puts(port, "Error: ");
    write_value(port, roots[R_ERR_MSG], 1);
    for (value l = roots[R_ERR_IRRITANTS]; is_pair(l); l = CDR(l)) {
        port_puts(port, " ");
        write_value(port, CAR(l), 0);
    }
    port_puts(port, "\n");
    port_flush(port);
}

/* The REPL shows every value but the unspecified one. */
static void print_result(value v)
{
    if (v == UNSPEC)
        return;
    write_value(roots[R_STDOUT], v, 0);
    port_puts(roots[R_STDOUT], "\n");
}

/* Read and evaluate every datum of port; errors go to the caller's handler. */
static void run_port(value port, int print_results)
{
    for (;;) {
        value x = read_datum(port);
        if (x == EOF_V)
            return;
        value v = eval_toplevel(x);
        if (print_results)
            print_result(v);
    }
}

int load_file(const char *path, int print_results)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    fclose(f);
    value port = port_open_file(path, 0);
    run_port(port, print_results);
    port_close(port);
    return 0;
}

static void repl(void)
{
    value in = roots[R_STDIN], out = roots[R_STDOUT];
    for (;;) {
        struct escape e = {.prev = NULL, .cont = 0};
        escapes = &e;
        if (setjmp(e.jb)) {
            roots[R_CUROUT] = out;
            print_error(out);
            /* the rest of the erring line is dropped, as a REPL user expects */
            if (interactive)
                while (port_peekc(in) >= 0 && port_getc(in) != '\n')
                    ;
            continue;
        }
        for (;;) {
            if (interactive) {
                port_puts(out, "> ");
                port_flush(out);
            }
            value x = read_datum(in);
            if (x == EOF_V) {
                if (interactive)
                    port_puts(out, "\n");
                escapes = NULL;
                return;
            }
            print_result(eval_toplevel(x));
            port_flush(out);
        }
    }
}

struct args {
    int argc;
    char **argv;
    const char *image;
    int verify_image;
};

static void setup(void)
{
    if (mem_restored()) {
        if (!prims_check_image()) {
            fprintf(stderr, "vmgc-scheme: the image was saved by another build of vmgc-scheme "
                            "(its primitives differ): save it again with this one\n");
            exit(66);
        }
    } else {
#define ROOT_INTERN(id, name) roots[R_##id] = intern(name);
        SPECIAL_SYMBOLS(ROOT_INTERN)
#undef ROOT_INTERN
        prims_install();
    }
    /* this process's ports (an image's belong to the process that saved it) */
    roots[R_STDIN] = port_from_fd(0, 0);
    roots[R_STDOUT] = port_from_fd(1, 1);
    roots[R_STDERR] = port_from_fd(2, 1);
    roots[R_CUROUT] = roots[R_STDOUT];
    roots[R_CURIN] = roots[R_STDIN];
}

static int body(void *p)
{
    struct args *a = p;
    struct escape e = {.prev = NULL, .cont = 0};
    escapes = &e;
    if (setjmp(e.jb)) {
        port_flush(roots[R_STDOUT]);
        print_error(roots[R_STDERR]);
        return 70;
    }
    setup();
    int ran = 0;
    for (int i = 1; i < a->argc; i++) {
        if (!strcmp(a->argv[i], "--image")) {
            i++;
        } else if (!strcmp(a->argv[i], "--verify-image")) {
        } else if (!strcmp(a->argv[i], "-e")) {
            value port = port_input_string(cstring(a->argv[++i]));
            run_port(port, 1);
            ran = 1;
        } else {
            if (load_file(a->argv[i], 0) != 0) {
                fprintf(stderr, "vmgc-scheme: cannot open %s\n", a->argv[i]);
                return 66;
            }
            ran = 1;
        }
        port_flush(roots[R_STDOUT]);
    }
    escapes = NULL;
    if (!ran)
        repl();
    port_flush(roots[R_STDOUT]);
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: vmgc-scheme [--image FILE [--verify-image]] [-e EXPR]... [FILE]...\n");
    exit(64);
}

int main(int argc, char **argv)
{
    struct args a = {argc, argv, NULL, 0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--image") || !strcmp(argv[i], "-e")) {
            if (i + 1 >= argc)
                usage();
            if (argv[i][1] == '-')
                a.image = argv[i + 1];
            i++;
        } else if (!strcmp(argv[i], "--verify-image")) {
            a.verify_image = 1;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage();
        }
    }
    interactive = isatty(0);
    if (a.verify_image && !a.image)
        usage();
    return mem_run(a.image, a.verify_image, roots, R_COUNT, body, &a);
}

/* port.c -- input and output ports: files (through stdio) and strings.
 * Design: doc/design/scheme.md (.sol.io).
 *
 * A file port's FILE * cannot live in the heap (an image outlives the
 * process): the port holds a handle, an index into this process's table
 * and a serial number, so a port restored from an image reads as closed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mem.h"
#include "scheme.h"

#define MAX_FILES 256
static struct {
    FILE *f;
    uint64_t serial;
} files[MAX_FILES];
static uint64_t next_serial;

#define PORT(v) ((struct port *)(v))

static value new_port(int kind, value handle, value buf)
{
    struct port *p = mem_alloc(T_PORT, sizeof *p, 0);
    p->kind = make_fix(kind);
    p->handle = handle;
    p->buf = buf;
    p->pos = make_fix(0);
    p->line = make_fix(1);
    return (value)p;
}

static value file_port(FILE *f, int output)
{
    if (!next_serial) {
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t); /* unique across processes: images carry ports */
        next_serial = ((uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec) >> 8;
    }
    for (int i = 0; i < MAX_FILES; i++)
        if (!files[i].f) {
            files[i].f = f;
            files[i].serial = ++next_serial & ((1ULL << 52) - 1);
            return new_port(output ? PK_OUT_FILE : PK_IN_FILE,
                            make_fix((int64_t)(files[i].serial << 8 | (uint64_t)i)), FALSE_V);
        }
    fclose(f);
    scm_error("too many open files (at most 256 file ports at once): close some", DEFAULT_V);
}

static FILE *port_file(value port)
{
    uint64_t h = (uint64_t)fix_val(PORT(port)->handle);
    unsigned i = h & 0xff;
    if (!files[i].f || files[i].serial != h >> 8)
        scm_error("port is closed (file ports do not survive an image)", port);
    return files[i].f;
}

value port_open_file(const char *path, int output)
{
    FILE *f = fopen(path, output ? "w" : "r");
    if (!f) {
        const char *why = strerror(errno); /* before the allocations below */
        scm_errorv(output ? "cannot open file for output" : "cannot open file",
                   list2(cstring(path), cstring(why)));
    }
    return file_port(f, output);
}

value port_from_fd(int fd, int output)
{
    FILE *f = fd == 0 ? stdin : fd == 1 ? stdout : stderr;
    (void)output;
    return file_port(f, output);
}

value port_input_string(value s) { return new_port(PK_IN_STRING, FALSE_V, s); }
value port_output_string(void) { return new_port(PK_OUT_STRING, FALSE_V, make_string(32)); }

int is_port(value v, int output)
{
    if (!is_type(v, T_PORT))
        return 0;
    int k = (int)fix_val(PORT(v)->kind);
    if (k == PK_CLOSED)
        return 1;
    return output ? (k == PK_OUT_FILE || k == PK_OUT_STRING) : (k == PK_IN_FILE || k == PK_IN_STRING);
}

value port_output_contents(value port)
{
    if (fix_val(PORT(port)->kind) != PK_OUT_STRING)
        scm_error("not a string output port", port);
    return string_from(STR(PORT(port)->buf), (size_t)fix_val(PORT(port)->pos));
}

static int kind_of(value port) { return (int)fix_val(PORT(port)->kind); }

int port_getc(value port)
{
    struct port *p = PORT(port);
    int c;
    switch (kind_of(port)) {
    case PK_IN_STRING: {
        int64_t pos = fix_val(p->pos);
        if ((uint64_t)pos >= obj_len(p->buf))
            return -1;
        p->pos = make_fix(pos + 1);
        c = (unsigned char)STR(p->buf)[pos];
        break;
    }
    case PK_IN_FILE:
        c = getc(port_file(port));
        break;
    default:
        scm_error("not an open input port", port);
    }
    if (c == '\n')
        p->line = make_fix(fix_val(p->line) + 1);
    return c;
}

int port_peekc(value port)
{
    struct port *p = PORT(port);
    switch (kind_of(port)) {
    case PK_IN_STRING: {
        int64_t pos = fix_val(p->pos);
        return (uint64_t)pos >= obj_len(p->buf) ? -1 : (unsigned char)STR(p->buf)[pos];
    }
    case PK_IN_FILE: {
        FILE *f = port_file(port);
        int c = getc(f);
        if (c != EOF)
            ungetc(c, f);
        return c;
    }
    default:
        scm_error("not an open input port", port);
    }
}

void port_write(value port, const char *bytes, size_t n)
{
    struct port *p = PORT(port);
    switch (kind_of(port)) {
    case PK_OUT_STRING: {
        size_t used = (size_t)fix_val(p->pos), cap = obj_len(p->buf);
        if (used + n > cap) {
            size_t want = cap * 2 > used + n ? cap * 2 : used + n;
            value fresh = make_string(want); /* may collect: bytes may be a heap string */
            memcpy(STR(fresh), STR(p->buf), used);
            p->buf = fresh;
        }
        memcpy(STR(p->buf) + used, bytes, n);
        p->pos = make_fix((int64_t)(used + n));
        break;
    }
    case PK_OUT_FILE: {
        FILE *f = port_file(port);
        /* stdio hands a large write's buffer straight to write(2): the
         * kernel then reads heap memory itself (mem.h) */
        mem_io_begin(bytes, n);
        size_t w = fwrite(bytes, 1, n, f);
        mem_io_end(bytes);
        if (w != n)
            scm_error("writing to a file failed", cstring(strerror(errno)));
        break;
    }
    default:
        scm_error("not an open output port", port);
    }
}

void port_puts(value port, const char *s) { port_write(port, s, strlen(s)); }

void port_flush(value port)
{
    if (kind_of(port) == PK_OUT_FILE)
        fflush(port_file(port));
}

void port_close(value port)
{
    int k = kind_of(port);
    if (k == PK_IN_FILE || k == PK_OUT_FILE) {
        FILE *f = port_file(port);
        unsigned i = (uint64_t)fix_val(PORT(port)->handle) & 0xff;
        if (f != stdin && f != stdout && f != stderr)
            fclose(f);
        else
            fflush(f);
        files[i].f = NULL;
    }
    PORT(port)->kind = make_fix(PK_CLOSED);
}

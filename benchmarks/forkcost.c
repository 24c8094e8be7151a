/* forkcost.c -- what fork() costs a process with a large heap: vmgc (both
 * barriers) against the same data in glibc malloc memory.
 *
 * Live data: a linked list of 256-byte nodes, --mib MiB of them.  For each
 * system and size, --repeat times (medians printed):
 *   fork_exec   fork() + exec of /bin/true + waitpid, in the parent
 *   fork_call   the fork() call itself in the parent (vmgc: the stop and the
 *               write-protection of the heap)
 *   parent_wr   the parent writes one word of every node right after a fork
 *               (vmgc: a trap and a page copy per page not yet copied;
 *               malloc: a copy-on-write fault per page)
 *   child_first the child's first read of the heap (vmgc: it completes its
 *               copy there)
 *   child_wr    the child then writes one word of every node
 * One line per system and size, CSV.  Design: doc/design/fork.md.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vmgc.h"

void *__libc_malloc(size_t size);

struct node {
    struct node *next;
    uint64_t word[31];
};

static vmgc_heap *heap;
static vmgc_thread *me;
static vmgc_type t_node;
static struct node *list;

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static struct node *node_new(void)
{
    if (heap)
        return vmgc_alloc(me, t_node, sizeof(struct node));
    struct node *n = __libc_malloc(sizeof *n);
    memset(n, 0, sizeof *n);
    return n;
}

static void build(size_t mib)
{
    size_t n = (mib << 20) / sizeof(struct node);
    for (size_t i = 0; i < n; i++) {
        struct node *x = node_new();
        x->next = list;
        x->word[0] = i;
        list = x;
    }
}

static void write_all(uint64_t v)
{
    for (struct node *x = list; x; x = x->next)
        x->word[1] = v;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* one fork whose child reports its first-touch and write times */
static void fork_and_touch(double *call, double *parent_wr, double *first, double *child_wr)
{
    int go[2], back[2];
    if (pipe(go) || pipe(back))
        exit(2);
    double t0 = now_ms();
    pid_t pid = fork();
    double t1 = now_ms();
    if (pid == 0) {
        char c;
        if (read(go[0], &c, 1) != 1)
            _exit(3);
        double a = now_ms();
        volatile uint64_t w = list->word[0];
        (void)w;
        double b = now_ms();
        write_all(2);
        double r[2] = {b - a, now_ms() - b};
        if (write(back[1], r, sizeof r) != (ssize_t)sizeof r)
            _exit(4);
        _exit(0);
    }
    double a = now_ms();
    write_all(1);
    *parent_wr = now_ms() - a;
    *call = t1 - t0;
    double r[2];
    if (write(go[1], "g", 1) != 1 || read(back[0], r, sizeof r) != (ssize_t)sizeof r)
        exit(5);
    waitpid(pid, NULL, 0);
    *first = r[0];
    *child_wr = r[1];
    close(go[0]), close(go[1]), close(back[0]), close(back[1]);
    if (heap) /* the parent's copy for this child, before the next fork */
        vmgc_collect(heap, 1);
}

int main(int argc, char **argv)
{
    const char *sys = "vmgc-uffd";
    size_t mib = 100;
    int repeat = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--gc"))
            sys = argv[i + 1];
        else if (!strcmp(argv[i], "--mib"))
            mib = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--repeat"))
            repeat = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "forkcost: unknown option %s (--gc vmgc-uffd|vmgc-mprotect|glibc, "
                            "--mib N, --repeat N)\n", argv[i]);
            return 2;
        }
    }
    if (repeat < 1 || repeat > 100)
        repeat = 5;
    if (strncmp(sys, "vmgc-", 5) == 0) {
        vmgc_config c;
        vmgc_config_init(&c);
        c.barrier = sys + 5;
        c.initial_size = (mib << 20) * 4; /* no collection while building */
        if (vmgc_heap_create(&heap, &c) != VMGC_OK || vmgc_thread_attach(heap, &me) != VMGC_OK) {
            fprintf(stderr, "forkcost: %s\n", vmgc_last_error());
            return 1;
        }
        vmgc_type_desc d = {.name = "node", .layout = VMGC_LAYOUT_BITMAP, .bitmap = 1};
        vmgc_type_register(heap, &d, &t_node);
        vmgc_root_add(heap, (void **)&list, 1);
    } else if (strcmp(sys, "glibc") != 0) {
        fprintf(stderr, "forkcost: --gc %s: use vmgc-uffd, vmgc-mprotect or glibc\n", sys);
        return 2;
    }
    build(mib);
    if (heap)
        vmgc_collect(heap, 1);
    double fe[100], call[100], pw[100], first[100], cw[100];
    for (int r = 0; r < repeat; r++) {
        double t0 = now_ms();
        pid_t pid = fork();
        if (pid == 0) {
            execl("/bin/true", "true", (char *)NULL);
            _exit(127);
        }
        waitpid(pid, NULL, 0);
        fe[r] = now_ms() - t0;
        if (heap)
            vmgc_collect(heap, 1);
        fork_and_touch(&call[r], &pw[r], &first[r], &cw[r]);
    }
    printf("system,mib,fork_exec_ms,fork_call_ms,parent_write_ms,child_first_touch_ms,"
           "child_write_ms\n");
    printf("%s,%zu,%.2f,%.2f,%.2f,%.2f,%.2f\n", sys, mib, median(fe, repeat),
           median(call, repeat), median(pw, repeat), median(first, repeat), median(cw, repeat));
    return 0;
}

/* memlimit.c -- the cgroup memory limit.  Design: doc/design/memlimit.md. */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memlimit.h"
#include "sys.h"

/* The number in a small file, or -1 ("max", unreadable). */
static long long read_number(const char *path)
{
    char buf[64];
    int fd = sys.open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = sys.read(fd, buf, sizeof buf - 1);
    sys.close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    if (!strncmp(buf, "max", 3))
        return -1;
    char *end;
    long long v = strtoll(buf, &end, 10);
    return end == buf ? -1 : v;
}

/* Walks dir (under root) and its ancestors up to root; the smallest limit
 * of `file` found, and the usage of dir itself from `usage_file`. */
static size_t walk(const char *root, char *dir, const char *file, const char *usage_file,
                   size_t *usage)
{
    char path[512];
    size_t best = 0;
    snprintf(path, sizeof path, "%s%s/%s", root, dir, usage_file);
    long long u = read_number(path);
    *usage = u > 0 ? (size_t)u : 0;
    for (;;) {
        snprintf(path, sizeof path, "%s%s/%s", root, dir, file);
        long long v = read_number(path);
        /* v1 writes "no limit" as a page-rounded LLONG_MAX */
        if (v > 0 && v < (1LL << 60) && (!best || (size_t)v < best))
            best = (size_t)v;
        char *slash = strrchr(dir, '/');
        if (!slash || slash == dir) {
            if (dir[0] && strcmp(dir, "/") != 0) {
                dir[0] = '\0'; /* the root group itself */
                continue;
            }
            return best;
        }
        *slash = '\0';
    }
}

size_t memlimit_cgroup(size_t *usage)
{
    *usage = 0;
    int fd = sys.open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    char buf[4096];
    ssize_t n = sys.read(fd, buf, sizeof buf - 1);
    sys.close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    size_t limit = 0;
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        char dir[400];
        snprintf(dir, sizeof dir, "%s", c2 + 1);
        size_t l = 0, u = 0;
        if (!strncmp(line, "0::", 3)) /* v2, the unified hierarchy */
            l = walk("/sys/fs/cgroup", dir, "memory.max", "memory.current", &u);
        else if (strstr(c1, "memory") && strstr(c1, "memory") < c2) /* v1 memory controller */
            l = walk("/sys/fs/cgroup/memory", dir, "memory.limit_in_bytes",
                     "memory.usage_in_bytes", &u);
        if (l && (!limit || l < limit)) {
            limit = l;
            *usage = u;
        }
    }
    return limit;
}

/* procmem.c -- see procmem.h. */
#include "config.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procmem.h"

static size_t status_kib(const char *text, const char *field)
{
    const char *p = strstr(text, field);
    return p ? strtoull(p + strlen(field), NULL, 10) : 0;
}

size_t proc_resident_bytes(int with_shmem)
{
    char buf[4096];
    int fd = open("/proc/self/status", O_RDONLY);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    size_t kib = status_kib(buf, "RssAnon:") + status_kib(buf, "RssFile:");
    if (with_shmem)
        kib += status_kib(buf, "RssShmem:");
    return kib << 10;
}

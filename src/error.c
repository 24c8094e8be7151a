/* error.c -- per-thread error messages.  Design: doc/design/error.md. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

/* .sol.tls: a fixed buffer per thread, so reporting an error never
 * allocates (it may report that allocation failed). */
static __thread char error_message[1024];

vmgc_status error_set(vmgc_status code, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(error_message, sizeof error_message, "vmgc: ");
    va_start(ap, fmt);
    vsnprintf(error_message + n, sizeof error_message - (size_t)n, fmt, ap);
    va_end(ap);
    return code;
}

vmgc_status error_restore(vmgc_status code, const char *message)
{
    if (strncmp(message, "vmgc: ", 6) == 0)
        message += 6;
    return error_set(code, "%s", message);
}

vmgc_status error_sys(const char *what, int err)
{
    vmgc_status code = VMGC_ESYSTEM;
    if (err == ENOMEM)
        code = VMGC_ENOMEM;
    return error_set(code, "%s failed: %s", what, strerror(err));
}

void error_clear(void)
{
    error_message[0] = '\0';
}

VMGC_API const char *vmgc_last_error(void)
{
    return error_message;
}

VMGC_API const char *vmgc_status_name(vmgc_status status)
{
    static const char *const names[] = {
        "VMGC_OK",     "VMGC_EINVAL",       "VMGC_ERANGE",
        "VMGC_ESTATE", "VMGC_ENOMEM",       "VMGC_EBUSY",
        "VMGC_EUNAVAILABLE", "VMGC_ESYSTEM", "VMGC_EHANDLER",
    };
    if ((unsigned)status < sizeof names / sizeof names[0])
        return names[status];
    return "VMGC_(unknown status)";
}

/* zo_last_error() and zo_status_name(). */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>

enum { ZO_ERROR_MESSAGE_BYTES = 1024 };

static _Thread_local char last_error_message[ZO_ERROR_MESSAGE_BYTES];

zo_status zo_fail(zo_status status, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(last_error_message, sizeof last_error_message, format, args);
    va_end(args);
    return status;
}

const char *zo_last_error(void) { return last_error_message; }

const char *zo_status_name(zo_status status)
{
    switch (status) {
    case ZO_OK: return "ZO_OK";
    case ZO_ERR_INVALID_ARGUMENT: return "ZO_ERR_INVALID_ARGUMENT";
    case ZO_ERR_OUT_OF_MEMORY: return "ZO_ERR_OUT_OF_MEMORY";
    case ZO_ERR_NOT_SUPPORTED: return "ZO_ERR_NOT_SUPPORTED";
    case ZO_ERR_CONFIG: return "ZO_ERR_CONFIG";
    case ZO_ERR_IO: return "ZO_ERR_IO";
    case ZO_ERR_DEVICE: return "ZO_ERR_DEVICE";
    case ZO_ERR_NON_FINITE: return "ZO_ERR_NON_FINITE";
    case ZO_ERR_INTERNAL: return "ZO_ERR_INTERNAL";
    case ZO_ERR_PEER: return "ZO_ERR_PEER";
    case ZO_ERR_TIMEOUT: return "ZO_ERR_TIMEOUT";
    }
    return "unknown status";
}

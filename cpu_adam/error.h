/* The library's one piece of global state: the thread-local message behind
 * zo_last_error(). Internal. */
#ifndef ZO_ERROR_H
#define ZO_ERROR_H

#include "zo/status.h"

/* Formats the message for zo_last_error() and returns `status`, so a failure reads
 * `return zo_fail(ZO_ERR_INVALID_ARGUMENT, "lr is %g, must be >= 0", lr);`. */
zo_status zo_fail(zo_status status, const char *format, ...) __attribute__((format(printf, 2, 3)));

#endif

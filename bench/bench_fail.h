/* How zo-bench reports a failure: one "zo-bench: ..." line on stderr, with
 * zo_last_error() for a failed zo call. Nothing here exits or aborts; callers
 * unwind through their `fail:` label and main turns the failure into an exit code. */
#ifndef ZO_BENCH_FAIL_H
#define ZO_BENCH_FAIL_H

#include <stdarg.h>
#include <stdio.h>

#include "zo/status.h"

/* Prints "zo-bench: <message>" on stderr and returns -1, so a failure reads
 * `return bench_fail("out of memory for %zu bytes", bytes);`. */
static inline int bench_fail(const char *format, ...) __attribute__((format(printf, 1, 2)));
static inline int bench_fail(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fputs("zo-bench: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    return -1;
}

/* Runs a zo call; on failure prints the call, the status and zo_last_error(), and
 * jumps to the enclosing function's `fail:` label. */
#define BENCH_CHECK_ZO(call)                                                                       \
    do {                                                                                           \
        zo_status bench_status_ = (call);                                                          \
        if (bench_status_ != ZO_OK) {                                                              \
            bench_fail("%s failed: %s: %s", #call, zo_status_name(bench_status_),                  \
                       zo_last_error());                                                           \
            goto fail;                                                                             \
        }                                                                                          \
    } while (0)

#endif

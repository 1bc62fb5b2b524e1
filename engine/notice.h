/* The engine's notice (zo_engine_notice): what it chose in the user's stead, in
 * sentences joined by "; ". Internal. */
#ifndef ZO_NOTICE_H
#define ZO_NOTICE_H

#include <stddef.h>

/* Appends a sentence to `notice` (a NUL-terminated string of `notice_bytes`), after
 * "; " when it says something already, truncated to fit. NULL or 0 bytes: nothing. */
void zo_notice_append(char *notice, size_t notice_bytes, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

#endif

/* Appending to the engine's notice (notice.h). */
#include "notice.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void zo_notice_append(char *notice, size_t notice_bytes, const char *format, ...)
{
    if (!notice || notice_bytes == 0)
        return;
    size_t used = strnlen(notice, notice_bytes - 1);
    if (used > 0 && used + 2 < notice_bytes) {
        memcpy(notice + used, "; ", 3);
        used += 2;
    }
    va_list args;
    va_start(args, format);
    vsnprintf(notice + used, notice_bytes - used, format, args);
    va_end(args);
}

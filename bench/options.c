/* Reading options and their numbers; every refusal names the option and the text. */
#include "options.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench_fail.h"
#include "param_count.h"

int bench_parse_integer(const char *option, const char *text, long long *value)
{
    char *end;
    errno = 0;
    *value = strtoll(text, &end, 10);
    if (errno || end == text || *end)
        return bench_fail("%s: \"%s\" is not an integer", option, text);
    return 0;
}

int bench_parse_real(const char *option, const char *text, double *value)
{
    char *end;
    errno = 0;
    *value = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(*value))
        return bench_fail("%s: \"%s\" is not a number", option, text);
    return 0;
}

int bench_parse_count(const char *option, const char *text, size_t *count)
{
    if (!bench_parse_param_count(text, count))
        return bench_fail("%s: \"%s\" is not a parameter count like 16M (K = 2^10, M = 2^20, "
                          "G = 2^30)",
                          option, text);
    return 0;
}

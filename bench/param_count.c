/* Parsing and printing of parameter counts with K/M/G (binary) suffixes. */
#include "param_count.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>

static size_t bench_suffix_multiplier(char suffix)
{
    switch (suffix) {
    case 'k':
    case 'K': return (size_t)1 << 10;
    case 'm':
    case 'M': return (size_t)1 << 20;
    case 'g':
    case 'G': return (size_t)1 << 30;
    default: return 0;
    }
}

bool bench_parse_param_count(const char *text, size_t *count)
{
    size_t value = 0;
    const char *c = text;
    if (!isdigit((unsigned char)*c))
        return false;
    for (; isdigit((unsigned char)*c); c++) {
        size_t digit = (size_t)(*c - '0');
        if (value > (SIZE_MAX - digit) / 10)
            return false;
        value = value * 10 + digit;
    }
    if (*c) {
        size_t multiplier = bench_suffix_multiplier(*c);
        if (!multiplier || c[1] || value > SIZE_MAX / multiplier)
            return false;
        value *= multiplier;
    }
    if (value == 0)
        return false;
    *count = value;
    return true;
}

void bench_format_param_count(size_t count, char *out, size_t out_size)
{
    static const char suffixes[] = {'G', 'M', 'K'};
    for (int k = 0; k < 3; k++) {
        size_t unit = (size_t)1 << (30 - 10 * k);
        if (count >= unit && count % unit == 0) {
            snprintf(out, out_size, "%zu%c", count / unit, suffixes[k]);
            return;
        }
    }
    snprintf(out, out_size, "%zu", count);
}

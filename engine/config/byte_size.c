/* Byte counts in text: parsed (a whole number and an optional IEC or SI unit) and
 * formatted. */
#include "byte_size.h" /* and zo/byte_size.h: the public part */

#include <stdio.h>
#include <string.h>

bool zo_parse_decimal(const char *text, const char **end, uint64_t *value)
{
    uint64_t count = 0;
    const char *p = text;
    if (*p < '0' || *p > '9')
        return false;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned digit = (unsigned)(*p - '0');
        if (count > (UINT64_MAX - digit) / 10)
            return false;
        count = count * 10 + digit;
    }
    *value = count;
    *end = p;
    return true;
}

bool zo_parse_byte_size(const char *text, uint64_t *bytes)
{
    static const struct {
        const char *unit;
        uint64_t multiplier;
    } units[] = {{"", 1},
                 {"B", 1},
                 {"KiB", 1ull << 10},
                 {"MiB", 1ull << 20},
                 {"GiB", 1ull << 30},
                 {"TiB", 1ull << 40},
                 {"KB", 1000ull},
                 {"MB", 1000ull * 1000},
                 {"GB", 1000ull * 1000 * 1000},
                 {"TB", 1000ull * 1000 * 1000 * 1000}};
    uint64_t count = 0;
    const char *p = text;
    if (!text || !bytes || !zo_parse_decimal(text, &p, &count)) /* public: check the input */
        return false;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(p, units[i].unit) != 0)
            continue;
        if (count > UINT64_MAX / units[i].multiplier)
            return false;
        *bytes = count * units[i].multiplier;
        return true;
    }
    return false;
}

const char *zo_format_byte_size(uint64_t bytes, char *out, size_t out_size)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    if (bytes < 1024) {
        snprintf(out, out_size, "%u B", (unsigned)bytes);
        return out;
    }
    double value = (double)bytes / 1024.0;
    size_t unit = 0;
    for (; value >= 1024.0 && unit + 1 < sizeof units / sizeof units[0]; unit++)
        value /= 1024.0;
    snprintf(out, out_size, "%.2f %s", value, units[unit]);
    return out;
}

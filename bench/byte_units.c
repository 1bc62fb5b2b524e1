/* Formatting of byte counts with binary units. */
#include "byte_units.h"

#include <stdio.h>

void bench_format_bytes(uint64_t bytes, char *out, size_t out_size)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    if (bytes < 1024) {
        snprintf(out, out_size, "%u B", (unsigned)bytes);
        return;
    }
    double value = (double)bytes / 1024.0;
    size_t unit = 0;
    for (; value >= 1024.0 && unit + 1 < sizeof units / sizeof units[0]; unit++)
        value /= 1024.0;
    snprintf(out, out_size, "%.2f %s", value, units[unit]);
}

/* Byte counts written by people ("8GiB", "512MiB", "1500MB", "4096") and for them
 * ("28.00 GiB"). Internal. */
#ifndef ZO_BYTE_SIZE_H
#define ZO_BYTE_SIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Parses the digits at the start of `text` as a whole number: no sign, no spaces; at
 * least one digit. Sets *end past the last digit. False (nothing set) when there is no
 * digit or the number overflows 64 bits. */
bool zo_parse_decimal(const char *text, const char **end, uint64_t *value);

/* Parses digits followed by nothing or one unit: B, KiB, MiB, GiB, TiB (powers of
 * 1024) or KB, MB, GB, TB (powers of 1000), case as written. No sign, no fraction, no
 * spaces. False for anything else or a count that overflows 64 bits. */
bool zo_parse_byte_size(const char *text, uint64_t *bytes);

/* Writes `bytes` with the largest binary unit (B, KiB, MiB, GiB, TiB) that keeps the
 * number at least 1, two decimals past bytes: "512 B", "28.00 GiB". Returns `out`. */
const char *zo_format_byte_size(uint64_t bytes, char *out, size_t out_size);

#endif

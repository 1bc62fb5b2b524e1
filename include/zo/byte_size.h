/* zo/byte_size.h: byte counts as people write them ("8GiB", "1500MB") and as zo
 * prints them ("28.00 GiB"). The same reader the config uses for zo.max_pinned_bytes,
 * so a tool can check such a value, or print a memory plan's figures, as zo does. */
#ifndef ZO_BYTE_SIZE_H
#define ZO_BYTE_SIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zo/api.h"

/* Parses digits followed by nothing or one unit: B, KiB, MiB, GiB, TiB (powers of
 * 1024) or KB, MB, GB, TB (powers of 1000), case as written. No sign, no fraction, no
 * spaces. Returns true and sets *bytes; false (nothing set) for anything else, a NULL
 * argument, or a count that overflows 64 bits. */
ZO_API bool zo_parse_byte_size(const char *text, uint64_t *bytes);

/* Writes `bytes` into out[out_size] with the largest binary unit (B, KiB, MiB, GiB,
 * TiB) that keeps the number at least 1, two decimals past bytes: "512 B",
 * "28.00 GiB"; truncated to fit, always terminated when out_size > 0. Returns `out`,
 * so it can sit in a printf argument list. */
ZO_API const char *zo_format_byte_size(uint64_t bytes, char *out, size_t out_size);

#endif

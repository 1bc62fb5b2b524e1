/* Byte counts written for people: "8GiB", "512MiB", "1500MB", "4096". Internal. */
#ifndef ZO_BYTE_SIZE_H
#define ZO_BYTE_SIZE_H

#include <stdbool.h>
#include <stdint.h>

/* Parses digits followed by nothing or one unit: B, KiB, MiB, GiB, TiB (powers of
 * 1024) or KB, MB, GB, TB (powers of 1000), case as written. No sign, no fraction, no
 * spaces. False for anything else or a count that overflows 64 bits. */
bool zo_parse_byte_size(const char *text, uint64_t *bytes);

#endif

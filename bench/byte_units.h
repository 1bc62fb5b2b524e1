/* Byte counts as people read them: "1.50 GiB". Binary units, as the engine's memory
 * plan and its verdicts use. */
#ifndef ZO_BENCH_BYTE_UNITS_H
#define ZO_BENCH_BYTE_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* Writes `bytes` with the largest binary unit (B, KiB, MiB, GiB, TiB) that keeps the
 * number at least 1, two decimals past bytes: "512 B", "28.00 GiB". */
void bench_format_bytes(uint64_t bytes, char *out, size_t out_size);

#endif

/* Parameter counts as people write them: "256M" is 256 * 2^20 parameters. */
#ifndef ZO_BENCH_PARAM_COUNT_H
#define ZO_BENCH_PARAM_COUNT_H

#include <stdbool.h>
#include <stddef.h>

/* Parses a positive decimal count with an optional binary suffix: K = 2^10,
 * M = 2^20, G = 2^30 (either case). False for anything else, zero, or overflow. */
bool bench_parse_param_count(const char *text, size_t *count);

/* Writes `count` with the largest suffix that divides it exactly ("256M", "1536K",
 * "1000"). */
void bench_format_param_count(size_t count, char *out, size_t out_size);

#endif

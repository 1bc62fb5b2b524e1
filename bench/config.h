/* The JSON config of a zo-bench suite (see bench/configs/default.json):
 *   {"adam": {"sizes": ["1M", "16M"], "modes": ["fp32", "mixed"],
 *             "isas": ["auto"], "repeats": 5, "threads": 0}}
 * "adam" is required; each of its keys is optional and defaults as on the command
 * line. Sizes are strings with K/M/G suffixes or plain integers. */
#ifndef ZO_BENCH_CONFIG_H
#define ZO_BENCH_CONFIG_H

#include "plan.h"

/* Fills `plan` from the file at `path`. 0 on success; -1 after printing
 * "PATH:LINE:COLUMN: ..." for malformed JSON or "PATH: KEY.PATH ..." for an unknown
 * key, a wrong type or a bad value. */
int bench_config_load(const char *path, bench_plan *plan);

#endif

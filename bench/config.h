/* The JSON config of a zo-bench suite (see bench/configs/default.json):
 *   {"adam": {"sizes": ["1M", "16M"], "modes": ["fp32", "mixed"],
 *             "isas": ["auto"], "repeats": 5, "threads": 0},
 *    "engine": {"params": "64M", "layers": 16, "compute_us_per_layer": 4000,
 *               "steps": 10}}
 * "adam" is required; "engine" is optional and runs the engine benchmark (with the
 * built-in stage config) after the Adam one. Each key of either is optional and
 * defaults as on the command line. Sizes and params are strings with K/M/G suffixes
 * or plain integers. */
#ifndef ZO_BENCH_CONFIG_H
#define ZO_BENCH_CONFIG_H

#include "plan.h"

/* Fills `plan` from the file at `path`. 0 on success; -1 after printing
 * "PATH:LINE:COLUMN: ..." for malformed JSON or "PATH: KEY.PATH ..." for an unknown
 * key, a wrong type or a bad value. */
int bench_config_load(const char *path, bench_plan *plan);

#endif

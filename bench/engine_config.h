/* The stage config the engine benchmark runs: the built-in one (the same text as
 * bench/configs/engine.json) or the user's file, with zo.trace set when asked. */
#ifndef ZO_BENCH_ENGINE_CONFIG_H
#define ZO_BENCH_ENGINE_CONFIG_H

#include "zo/config.h"

/* fp16 with dynamic loss scaling from 2^8, ZeRO stage 2 in buckets of 8M elements,
 * the host backend. */
extern const char bench_engine_default_config[];

/* Parses the config at `path` (NULL: bench_engine_default_config) into *out. With
 * trace_path, the JSON is read with jansson first and "trace": trace_path put into
 * its "zo" section (made if missing). 0, or -1 after printing what is wrong with the
 * config (a bad config is the user's input: the caller exits with status 2). */
int bench_engine_config_create(const char *path, const char *trace_path, zo_config **out);

/* "the built-in config" or the path, for reports. */
const char *bench_engine_config_name(const char *path);

#endif

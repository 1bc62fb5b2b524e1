/* The --bind value of zo-bench: "auto", "none" or a CPU list, as zo.bind takes. */
#ifndef ZO_BENCH_BIND_OPTION_H
#define ZO_BENCH_BIND_OPTION_H

#include "zo/config.h"

typedef struct bench_bind {
    zo_bind_mode mode;
    char cpus[256]; /* the list of ZO_BIND_CPUS */
} bench_bind;

/* Reads `text`; 0, or -1 after printing what is wrong with it (naming `option`). */
int bench_parse_bind(const char *option, const char *text, bench_bind *out);

/* "auto", "none" or the list: what the report prints. */
const char *bench_bind_name(const bench_bind *bind);

#endif

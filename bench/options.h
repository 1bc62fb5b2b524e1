/* The command-line pieces every zo-bench subcommand shares: exit statuses and the
 * numbers options carry (option_table.h reads the options themselves). */
#ifndef ZO_BENCH_OPTIONS_H
#define ZO_BENCH_OPTIONS_H

#include <stddef.h>

/* Exit statuses: a failed measurement is not a usage error, and scripts can tell. */
enum { BENCH_EXIT_OK = 0, BENCH_EXIT_FAILED = 1, BENCH_EXIT_USAGE = 2 };

/* What a run that can be refused returns: done, a measurement failed, or the input
 * (command line, config, a setting the engine refuses) is at fault. Turned into an
 * exit status by bench_exit_status. */
enum { BENCH_DONE = 0, BENCH_FAILED = -1, BENCH_REFUSED = -2 };

static inline int bench_exit_status(int outcome)
{
    return outcome == BENCH_DONE      ? BENCH_EXIT_OK
           : outcome == BENCH_REFUSED ? BENCH_EXIT_USAGE
                                      : BENCH_EXIT_FAILED;
}

/* Each parses the value of `option` and returns 0, or -1 after printing why not. */
int bench_parse_integer(const char *option, const char *text, long long *value);
int bench_parse_real(const char *option, const char *text, double *value);
/* A parameter count with an optional K/M/G suffix (param_count.h). */
int bench_parse_count(const char *option, const char *text, size_t *count);

#endif

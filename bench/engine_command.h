/* `zo-bench engine`: the engine benchmark from the command line. */
#ifndef ZO_BENCH_ENGINE_COMMAND_H
#define ZO_BENCH_ENGINE_COMMAND_H

#include "option_table.h"

/* Its options and help, for zo-bench --help. */
extern const bench_command bench_engine_cli;

/* Reads the options from argv[first] on, runs the benchmark, prints the report (and
 * writes the JSON one if asked). Returns the exit status: 0 done, 1 a measurement
 * failed, 2 a bad command line or config, or a setting the engine refuses. */
int bench_engine_command(int argc, char **argv, int first);

#endif

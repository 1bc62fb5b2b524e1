/* `zo-bench plan`: what an engine for N parameters would allocate under a stage
 * config, per rank, and whether it fits this machine; nothing is allocated. */
#ifndef ZO_BENCH_MEMORY_PLAN_COMMAND_H
#define ZO_BENCH_MEMORY_PLAN_COMMAND_H

#include "option_table.h"

/* Its options and help, for zo-bench --help. */
extern const bench_command bench_plan_cli;

/* Reads the options from argv[first] on, prints the plan (and writes the JSON report
 * if asked). Returns the exit status: 0 whether the model fits or not, 1 when the
 * report cannot be written, 2 for a bad command line or config. */
int bench_memory_plan_command(int argc, char **argv, int first);

#endif

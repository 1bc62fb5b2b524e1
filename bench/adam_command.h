/* `zo-bench adam [OPTIONS]` and `zo-bench [--config FILE] [--json OUT]`: the Adam
 * benchmark from the command line, or the suite a JSON config describes. */
#ifndef ZO_BENCH_ADAM_COMMAND_H
#define ZO_BENCH_ADAM_COMMAND_H

#include "option_table.h"

/* Their options and help, for zo-bench --help. */
extern const bench_command bench_adam_cli;
extern const bench_command bench_suite_cli;

/* Each reads the options from argv[first] on and runs the suite. Returns the exit
 * status: 0 done, 1 a measurement failed, 2 a bad command line or config. */
int bench_adam_command(int argc, char **argv, int first);
int bench_suite_command(int argc, char **argv, int first);

#endif

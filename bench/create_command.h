/* `zo-bench create`: how fast zo_engine_create sets up an engine's host state (and
 * zo_engine_destroy gives it back), against setting up the same bytes the way it used
 * to be done, on one thread with 4 KiB pages, in the same run. */
#ifndef ZO_BENCH_CREATE_COMMAND_H
#define ZO_BENCH_CREATE_COMMAND_H

#include "option_table.h"

/* Its options and help, for zo-bench --help. */
extern const bench_command bench_create_cli;

/* Reads the options from argv[first] on, then times creation and the baseline and
 * prints both with their ratio. Returns the exit status: 0 done, 1 a measurement
 * failed, 2 a bad command line or config (or a plan that does not fit). */
int bench_create_command(int argc, char **argv, int first);

#endif

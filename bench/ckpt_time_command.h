/* `zo-bench ckpt`: what a checkpoint costs: zo_engine_save, zo_engine_load and
 * zo_checkpoint_export timed on an engine of N parameters, into a directory the user
 * picks (the disk being measured). */
#ifndef ZO_BENCH_CKPT_TIME_COMMAND_H
#define ZO_BENCH_CKPT_TIME_COMMAND_H

#include "option_table.h"

/* Its options and help, for zo-bench --help. */
extern const bench_command bench_ckpt_cli;

/* Reads the options from argv[first] on. Returns the exit status: 0 done, 1 a save,
 * load or export failed, 2 a bad command line or config. */
int bench_ckpt_time_command(int argc, char **argv, int first);

#endif

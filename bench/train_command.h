/* zo-bench train: the examples' MLP trained through the engine at a chosen size,
 * with offload and (on CUDA) without, and the same model on the host alone. */
#ifndef ZO_BENCH_TRAIN_COMMAND_H
#define ZO_BENCH_TRAIN_COMMAND_H

#include "option_table.h"

/* Its options and help, for zo-bench --help (train_options.c). */
extern const bench_command bench_train_cli;

/* Runs `zo-bench train` with the options from argv[first]. Returns an exit status
 * (options.h). */
int bench_train_command(int argc, char **argv, int first);

#endif

/* `zo-bench ckpt-export DIR OUT`: merges a checkpoint's shards into one safetensors
 * file of per-parameter fp32 weights (zo_checkpoint_export), for inference or PyTorch. */
#ifndef ZO_BENCH_CKPT_EXPORT_COMMAND_H
#define ZO_BENCH_CKPT_EXPORT_COMMAND_H

#include "option_table.h"

/* Its usage line, for zo-bench --help (it takes no options). */
extern const bench_command bench_ckpt_export_cli;

/* Reads DIR and OUT from argv[first], argv[first + 1]. Returns the exit status: 0 done,
 * 1 the export failed (the reason on stderr), 2 a bad command line. */
int bench_ckpt_export_command(int argc, char **argv, int first);

#endif

/* `zo-bench nvme`: the optimizer step on NVMe state (offload_optimizer.device "nvme")
 * against the raw read+write throughput of the same file through the same io_uring
 * ring, in one run, and against the step on host-RAM state. */
#ifndef ZO_BENCH_NVME_COMMAND_H
#define ZO_BENCH_NVME_COMMAND_H

#include "option_table.h"

/* Its options and help, for zo-bench --help. */
extern const bench_command bench_nvme_cli;

/* Reads the options from argv[first] on. Returns the exit status: 0 done, 1 a
 * measurement failed, 2 a bad command line or a setting the engine refuses. */
int bench_nvme_command(int argc, char **argv, int first);

#endif

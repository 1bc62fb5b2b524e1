/* `zo-bench topo`: the machine as hwloc sees it and where each local rank's host
 * update would run (the engine's own placement decisions). */
#ifndef ZO_BENCH_TOPO_COMMAND_H
#define ZO_BENCH_TOPO_COMMAND_H

#include "option_table.h"

/* Its options and help, for zo-bench --help. */
extern const bench_command bench_topo_cli;

/* Reads the options from argv[first] on and prints the summary and the decisions.
 * Returns the exit status: 0 done, 1 hwloc failed, 2 a bad command line or a
 * placement refused (a CPU list the machine lacks). */
int bench_topo_command(int argc, char **argv, int first);

#endif

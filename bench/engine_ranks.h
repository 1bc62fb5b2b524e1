/* `zo-bench engine --ranks 1,2`: the engine benchmark under mpirun for each rank count,
 * and how per-rank step time and host state scale. */
#ifndef ZO_BENCH_ENGINE_RANKS_H
#define ZO_BENCH_ENGINE_RANKS_H

#include <stddef.h>

typedef struct bench_rank_list {
    int ranks[8];
    size_t count;
} bench_rank_list;

/* "1,2,4" into *out. Returns 0, or -1 after printing what is wrong. */
int bench_parse_rank_list(const char *text, bench_rank_list *out);

/* Runs `mpirun -np R zo-bench engine <args>` for each R of the list (args: the engine
 * options without --ranks and --json), prints rank 0's step time, update time and host
 * state per R, and writes the runs' reports as one JSON array to json_path (if not
 * NULL). Returns a process exit status. */
int bench_engine_rank_sweep(const bench_rank_list *list, char **args, int arg_count, const char *json_path);

#endif

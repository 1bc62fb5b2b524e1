/* The largest model a machine trains: a synthetic transformer of B blocks, planned by
 * zo_engine_plan (the library's arithmetic, nothing of its own), and the largest B whose
 * plan fits a given GPU memory and host RAM. Public API only. */
#ifndef ZO_BENCH_LARGEST_MODEL_H
#define ZO_BENCH_LARGEST_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zo/engine.h"

/* A GPT-style block of hidden size h: four matrices (attention qkv 3h^2 and output
 * h^2, MLP up 4h^2 and down 4h^2) and eight small parameters (two layer norms' weight
 * and bias, h each, and the four matrices' biases 3h, h, 4h, h): 12h^2 + 13h elements,
 * 12 parameters. The small ones are what stage 3 keeps on the device for good (below
 * stage3_param_persistence_threshold). No embedding: count it as blocks. */
typedef struct bench_transformer {
    size_t hidden;
    size_t blocks;
    size_t param_count;    /* 12 per block */
    zo_param_desc *params; /* named "block<i>.<what>" */
    char (*names)[32];
} bench_transformer;

enum { BENCH_PARAMS_PER_BLOCK = 12 };

/* 12h^2 + 13h; SIZE_MAX when it overflows. */
size_t bench_block_elems(size_t hidden);
/* 0, or -1 after printing why not (hidden 0, a size that overflows, no memory).
 * blocks 0 gives a model of no parameters. */
int bench_transformer_create(bench_transformer *model, size_t hidden, size_t blocks);
void bench_transformer_free(bench_transformer *model); /* safe on a zeroed one */

/* A machine: the GPU memory and host RAM zo's buffers may take. */
typedef struct bench_machine {
    uint64_t gpu_bytes;
    uint64_t host_bytes;
} bench_machine;

/* Which limit a plan passes. */
typedef enum bench_limit {
    BENCH_LIMIT_NONE,
    BENCH_LIMIT_DEVICE,
    BENCH_LIMIT_HOST,
    BENCH_LIMIT_BOTH
} bench_limit;

/* A plan made for a GPU (device_is_host false) against a machine: device_bytes
 * against its GPU memory, pageable + pinned host bytes against its RAM. The plan's
 * own verdict is about the machine it was made on, so it is not used. */
bench_limit bench_plan_exceeds(const zo_memory_plan *plan, const bench_machine *machine);
uint64_t bench_plan_host_total(const zo_memory_plan *plan);
const char *bench_limit_name(bench_limit limit); /* "none", "device", "host", "both" */

/* Does a model of `blocks` blocks fit? 0 with *fits set, or -1 after printing why the
 * question could not be answered. Must be monotone: fits for B implies fits for B - 1. */
typedef int (*bench_fits_fn)(void *context, size_t blocks, bool *fits);

/* The largest B in [0, max_blocks] that fits (0 when one block does not): doubling,
 * then bisection, about 2 log2(B) questions. 0, or -1 when a question failed. */
int bench_largest_fitting(bench_fits_fn fits, void *context, size_t max_blocks, size_t *largest);

#endif

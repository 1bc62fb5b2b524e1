/* `zo-bench plan --machines ...`: the largest model that trains with ZeRO stage 2 and
 * with stage 3 on each machine (GPU memory + host RAM), by zo_engine_plan. */
#ifndef ZO_BENCH_LARGEST_MODEL_COMMAND_H
#define ZO_BENCH_LARGEST_MODEL_COMMAND_H

#include <stddef.h>

#include "largest_model.h"
#include "zo/config.h"

enum { BENCH_MAX_MACHINES = 8 };

typedef struct bench_machine_list {
    size_t count;
    bench_machine items[BENCH_MAX_MACHINES];
} bench_machine_list;

/* Parses "24GiB+64GiB,80GiB+512GiB" (GPU + host, zo_parse_byte_size units) and appends
 * to the bench_machine_list at `target`: an option table's CALL parser. */
int bench_parse_machines(const char *option, const char *value, void *target);

typedef struct bench_largest_request {
    zo_settings base;       /* the weights' precision and the rest; stage, moments,
                               offload_param and device are set per row            */
    const char *base_label; /* where the base came from: a config path or "defaults" */
    size_t hidden;          /* of the synthetic transformer                           */
    bench_machine_list machines;
    const char *json_path; /* NULL: no JSON report */
} bench_largest_request;

/* Prints, per machine, the largest model for stage 2 and 3 with fp32 and bf16
 * moments; writes the JSON report if asked. Returns zo-bench's exit status. */
int bench_largest_model_command(const bench_largest_request *request);

#endif

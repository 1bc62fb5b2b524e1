/* The synthetic transformer and the search for the largest one that fits (largest_model.h). */
#include "largest_model.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_fail.h"

size_t bench_block_elems(size_t hidden)
{
    if (hidden == 0 || hidden > SIZE_MAX / 13 / hidden)
        return SIZE_MAX;
    return 12 * hidden * hidden + 13 * hidden;
}

int bench_transformer_create(bench_transformer *model, size_t hidden, size_t blocks)
{
    static const struct {
        const char *name;
        size_t hidden_squares; /* elements = hidden_squares * h^2 + hiddens * h */
        size_t hiddens;
    } shapes[BENCH_PARAMS_PER_BLOCK] = {
        {"ln1.weight", 0, 1},    {"ln1.bias", 0, 1}, {"attn.qkv", 3, 0},
        {"attn.qkv_bias", 0, 3}, {"attn.out", 1, 0}, {"attn.out_bias", 0, 1},
        {"ln2.weight", 0, 1},    {"ln2.bias", 0, 1}, {"mlp.up", 4, 0},
        {"mlp.up_bias", 0, 4},   {"mlp.down", 4, 0}, {"mlp.down_bias", 0, 1},
    };
    *model = (bench_transformer){.hidden = hidden, .blocks = blocks};
    if (bench_block_elems(hidden) == SIZE_MAX || blocks > SIZE_MAX / bench_block_elems(hidden))
        return bench_fail("a transformer of %zu blocks of hidden size %zu is too large to count",
                          blocks, hidden);
    model->param_count = blocks * BENCH_PARAMS_PER_BLOCK;
    if (blocks == 0)
        return 0;
    model->params = calloc(model->param_count, sizeof *model->params);
    model->names = calloc(model->param_count, sizeof *model->names);
    if (!model->params || !model->names) {
        bench_transformer_free(model);
        return bench_fail("cannot allocate the descriptions of %zu blocks", blocks);
    }
    for (size_t b = 0; b < blocks; b++)
        for (size_t k = 0; k < BENCH_PARAMS_PER_BLOCK; k++) {
            size_t i = b * BENCH_PARAMS_PER_BLOCK + k;
            snprintf(model->names[i], sizeof model->names[i], "block%zu.%s", b, shapes[k].name);
            model->params[i] = (zo_param_desc){
                .name = model->names[i],
                .elems = shapes[k].hidden_squares * hidden * hidden + shapes[k].hiddens * hidden,
            };
        }
    return 0;
}

void bench_transformer_free(bench_transformer *model)
{
    free(model->params);
    free(model->names);
    *model = (bench_transformer){0};
}

uint64_t bench_plan_host_total(const zo_memory_plan *plan)
{
    uint64_t total = plan->host_bytes + plan->pinned_bytes;
    return total < plan->host_bytes ? UINT64_MAX
                                    : total; /* the plan's sums saturate; so does this */
}

bench_limit bench_plan_exceeds(const zo_memory_plan *plan, const bench_machine *machine)
{
    bool device = plan->device_bytes > machine->gpu_bytes;
    bool host = bench_plan_host_total(plan) > machine->host_bytes;
    return device && host ? BENCH_LIMIT_BOTH
           : device       ? BENCH_LIMIT_DEVICE
           : host         ? BENCH_LIMIT_HOST
                          : BENCH_LIMIT_NONE;
}

const char *bench_limit_name(bench_limit limit)
{
    static const char *const names[] = {"none", "device", "host", "both"};
    return names[limit];
}

int bench_largest_fitting(bench_fits_fn fits, void *context, size_t max_blocks, size_t *largest)
{
    bool fit = false;
    size_t good = 0,
           bad = 1; /* invariant: good fits (0 always does), bad does not or is past max + 1 */
    for (;;) {      /* double until a size does not fit */
        if (bad > max_blocks) {
            bad = max_blocks + 1;
            break;
        }
        if (fits(context, bad, &fit) < 0)
            return -1;
        if (!fit)
            break;
        good = bad;
        bad = bad > max_blocks / 2 ? max_blocks + 1 : bad * 2;
    }
    while (bad - good > 1) {
        size_t middle = good + (bad - good) / 2;
        if (fits(context, middle, &fit) < 0)
            return -1;
        *(fit ? &good : &bad) = middle;
    }
    *largest = good;
    return 0;
}

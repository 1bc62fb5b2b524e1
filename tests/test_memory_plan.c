/* The memory plan of ZeRO stage 3 and of zo.device_memory_budget, through the internal
 * zo_plan_for_layout (the config refuses stage 3 until the engine streams parameters),
 * and zo-bench's search for the largest model that fits, against that same plan. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <string.h>

#include "largest_model.h"
#include "memory_plan.h"
#include "partition.h"

enum { HIDDEN = 256 }; /* blocks of 12h^2 + 13h = 789760 parameters; matrices 4h^2 at most */

static zo_settings settings_for(int stage)
{
    zo_settings s;
    zo_default_settings(&s);
    s.fp16_enabled = true;
    s.offload_optimizer = true;
    s.pin_memory = true;
    s.stage = stage;
    s.offload_param = stage == 3;
    s.stage3_max_live_parameters = 2 * 4 * HIDDEN * HIDDEN; /* two of the largest matrices */
    /* the small parameters persist, the matrices are streamed (as the default 1e5 does
     * from hidden 512 up; h^2 is below it here) */
    s.stage3_param_persistence_threshold = 8 * HIDDEN;
    return s;
}

/* The plan of a transformer of `blocks` blocks for a GPU (free memory unknown). */
static zo_status plan_blocks(const zo_settings *s, size_t blocks, zo_memory_plan *plan)
{
    bench_transformer model;
    cr_assert(eq(int, bench_transformer_create(&model, HIDDEN, blocks), 0));
    zo_partition layout;
    cr_assert(eq(
        int, zo_partition_build(model.params, model.param_count, s->reduce_bucket_size, 1, &layout),
        ZO_OK));
    zo_status status = zo_plan_for_layout(s, &layout, 1, false, 0, NULL, plan);
    zo_partition_free(&layout);
    bench_transformer_free(&model);
    return status;
}

Test(memory_plan, keeps_its_public_struct_size)
{
    /* 904 bytes on LP64 before the stage-3 fields: they came out of reserved[] */
    cr_expect(eq(sz, sizeof(zo_memory_plan), 904));
}

Test(memory_plan, stage3_device_bytes_do_not_grow_with_the_model_once_the_pools_are_fixed)
{
    zo_settings s = settings_for(3);
    s.stage3_param_persistence_threshold = 0; /* nothing persistent: only the pools */
    zo_memory_plan small, large;
    cr_assert(eq(int, plan_blocks(&s, 4, &small), ZO_OK), "%s", zo_last_error());
    cr_assert(eq(int, plan_blocks(&s, 64, &large), ZO_OK), "%s", zo_last_error());
    uint64_t pool = (uint64_t)s.stage3_max_live_parameters * 2;
    cr_expect(eq(u64, small.stage3_pool_bytes, pool));
    cr_expect(eq(u64, small.stage3_grad_pool_bytes, pool));
    cr_expect(eq(u64, small.device_bytes, 2 * pool));
    cr_expect(eq(u64, large.device_bytes, small.device_bytes),
              "the pools are the device's whole share");
    cr_expect(gt(u64, large.pinned_bytes, small.pinned_bytes),
              "the 16-bit weights live on the host");
    cr_expect(eq(u64, large.pinned_bytes, (uint64_t)64 * bench_block_elems(HIDDEN) * 2 * 2),
              "weights + grads");
    cr_expect(eq(u64, large.host_bytes, (uint64_t)64 * bench_block_elems(HIDDEN) * 12),
              "as stage 2");
}

Test(memory_plan, stage3_keeps_the_small_parameters_on_the_device)
{
    zo_settings s = settings_for(3);
    zo_memory_plan plan;
    cr_assert(eq(int, plan_blocks(&s, 8, &plan), ZO_OK), "%s", zo_last_error());
    /* per block 8 small parameters of h, 3h, 4h elements: 13h, each a multiple of 64 */
    uint64_t persistent_elems = (uint64_t)8 * 13 * HIDDEN;
    cr_expect(eq(u64, plan.stage3_persistent_bytes, persistent_elems * 2 * 2),
              "fp16 weights + gradients");
    cr_expect(
        eq(u64, plan.device_bytes,
           plan.stage3_persistent_bytes + plan.stage3_pool_bytes + plan.stage3_grad_pool_bytes));
}

Test(memory_plan, a_model_8x_over_the_budget_with_stage2_fits_with_stage3)
{
    zo_settings s2 = settings_for(2), s3 = settings_for(3);
    zo_memory_plan plan;
    cr_assert(eq(int, plan_blocks(&s2, 32, &plan), ZO_OK));
    uint64_t budget = plan.device_bytes / 8;
    s2.device_memory_budget = s3.device_memory_budget = budget;
    cr_assert(eq(int, plan_blocks(&s2, 32, &plan), ZO_OK));
    cr_expect(eq(int, plan.fits, 0));
    cr_expect(eq(u64, plan.device_limit_bytes, budget));
    cr_expect(strstr(plan.verdict, "zo.device_memory_budget allows") != NULL, "%s", plan.verdict);
    cr_expect(strstr(plan.verdict,
                     "zero_optimization.stage 3 with offload_param.device \"cpu\" would need") !=
                  NULL,
              "%s", plan.verdict);
    cr_assert(eq(int, plan_blocks(&s3, 32, &plan), ZO_OK));
    cr_expect(le(u64, plan.device_bytes, budget));
    cr_expect(plan.fits, "%s", plan.verdict);
    cr_expect(strstr(plan.verdict, "on the device") != NULL, "%s", plan.verdict);
}

Test(memory_plan, a_stage3_plan_over_the_budget_names_the_pools_and_the_budget)
{
    zo_settings s = settings_for(3);
    s.device_memory_budget = 1 << 20;
    zo_memory_plan plan;
    cr_assert(eq(int, plan_blocks(&s, 4, &plan), ZO_OK));
    cr_expect(eq(int, plan.fits, 0));
    cr_expect(strstr(plan.verdict, "zo.device_memory_budget allows 1.00 MiB") != NULL, "%s",
              plan.verdict);
    cr_expect(strstr(plan.verdict, "stage3_max_live_parameters") != NULL, "%s", plan.verdict);
}

Test(memory_plan, the_budget_is_checked_on_the_host_backend_and_the_smaller_limit_binds_on_a_gpu)
{
    zo_settings s = settings_for(2);
    s.device_memory_budget = 1 << 20;
    bench_transformer model;
    cr_assert(eq(int, bench_transformer_create(&model, HIDDEN, 2), 0));
    zo_partition layout;
    cr_assert(eq(
        int, zo_partition_build(model.params, model.param_count, s.reduce_bucket_size, 1, &layout),
        ZO_OK));
    zo_memory_plan plan;
    cr_assert(eq(int, zo_plan_for_layout(&s, &layout, 1, true, 0, NULL, &plan), ZO_OK));
    cr_expect(eq(int, plan.fits, 0), "the host backend enforces the budget");
    cr_expect(eq(u64, plan.device_limit_bytes, 1 << 20));
    cr_assert(eq(int, zo_plan_for_layout(&s, &layout, 1, false, 1 << 19, NULL, &plan), ZO_OK));
    cr_expect(eq(u64, plan.device_limit_bytes, 1 << 19), "min(free, budget)");
    cr_expect(strstr(plan.verdict, "the GPU has 512.00 KiB free") != NULL, "%s", plan.verdict);
    zo_partition_free(&layout);
    bench_transformer_free(&model);
}

Test(memory_plan, stage3_without_the_optimizer_on_the_host_is_not_planned)
{
    zo_settings s = settings_for(3);
    s.offload_optimizer = false;
    zo_memory_plan plan;
    cr_assert(eq(int, plan_blocks(&s, 2, &plan), ZO_OK));
    cr_expect(eq(int, plan.fits, 0));
    cr_expect(strstr(plan.verdict, "offload_optimizer.device \"cpu\"") != NULL, "%s", plan.verdict);
}

Test(memory_plan, stage3_pools_too_small_for_the_largest_parameter_are_a_config_error)
{
    zo_settings s = settings_for(3);
    s.stage3_max_live_parameters = 4 * HIDDEN * HIDDEN - 64;
    zo_memory_plan plan;
    cr_expect(eq(int, plan_blocks(&s, 2, &plan), ZO_ERR_CONFIG));
    cr_expect(strstr(zo_last_error(), "stage3_max_live_parameters") != NULL, "%s", zo_last_error());
}

/* The search's predicate, as zo-bench's: the plan for a GPU against a machine. */
typedef struct search_context {
    zo_settings settings;
    bench_machine machine;
    size_t questions;
} search_context;

static int plan_fits(void *context, size_t blocks, bool *fits)
{
    search_context *c = context;
    zo_memory_plan plan;
    c->questions++;
    *fits = true;
    if (blocks == 0)
        return 0;
    cr_assert(eq(int, plan_blocks(&c->settings, blocks, &plan), ZO_OK));
    *fits = bench_plan_exceeds(&plan, &c->machine) == BENCH_LIMIT_NONE;
    return 0;
}

/* Machines sized in blocks of this model: the answer is known, and stage 3 beats
 * stage 2 when the GPU binds. */
Test(largest_model, the_search_matches_the_plan_at_its_boundary_and_is_monotone)
{
    uint64_t block = bench_block_elems(HIDDEN);
    const bench_machine machines[] = {
        {.gpu_bytes = 10 * block * 4 + 100, .host_bytes = 1000 * block * 16},
        {.gpu_bytes = 1000 * block * 4, .host_bytes = 37 * block * 16 + 100},
    };
    for (size_t m = 0; m < 2; m++)
        for (int stage = 2; stage <= 3; stage++) {
            search_context c = {.settings = settings_for(stage), .machine = machines[m]};
            size_t largest = 0;
            cr_assert(eq(int, bench_largest_fitting(plan_fits, &c, 1 << 12, &largest), 0));
            cr_expect(le(sz, c.questions, 2 * 12 + 2), "doubling then bisection");
            bool fits = false;
            for (size_t b = 0; b <= largest + 3; b++) {
                plan_fits(&c, b, &fits);
                cr_expect(eq(int, fits, b <= largest),
                          "machine %zu stage %d: %zu blocks (largest %zu)", m, stage, b, largest);
            }
            if (m == 1)
                cr_expect(eq(sz, largest, 37), "the host binds: the same for both stages");
            else if (stage == 2)
                cr_expect(eq(sz, largest, 10), "the GPU binds at 4 bytes per parameter");
            else
                cr_expect(gt(sz, largest, 100), "stage 3: the GPU holds only the pools (%zu)",
                          largest);
        }
}

static int at_most(void *context, size_t blocks, bool *fits)
{
    *fits = blocks <= *(size_t *)context;
    return 0;
}

Test(largest_model, the_search_finds_every_boundary_including_none_and_the_cap)
{
    for (size_t k = 0; k <= 70; k++) {
        size_t largest = 99;
        cr_assert(eq(int, bench_largest_fitting(at_most, &k, 64, &largest), 0));
        cr_expect(eq(sz, largest, k < 64 ? k : 64), "boundary %zu", k);
    }
}

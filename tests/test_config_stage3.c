/* ZeRO stage 3 in the config (zo/config.h): a DeepSpeed ZeRO-3 offload config read
 * field by field, DeepSpeed's two spellings of stage 3's sizes, zo.device_memory_budget,
 * the stage 3 keys zo ignores, each bad value refused naming its key, and
 * zo_config_from_settings checking the same fields. Whether the engine runs stage 3 is
 * not this file's concern. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "config_test_support.h"
#include "zo/zo.h"

/* DeepSpeed's ZeRO-3 offload example in the Hugging Face form: "auto" where the
 * Trainer fills values in, sizes written as reals (1e9), and every stage 3 value zo
 * reads changed from its default so each is seen to land. */
static const char *const zero3_offload_config =
    "{\n"
    "  \"fp16\": {\"enabled\": \"auto\", \"loss_scale\": 0, \"loss_scale_window\": 1000,\n"
    "           \"initial_scale_power\": 16, \"hysteresis\": 2, \"min_loss_scale\": 1},\n"
    "  \"optimizer\": {\"type\": \"AdamW\",\n"
    "                \"params\": {\"lr\": \"auto\", \"betas\": \"auto\", \"eps\": \"auto\",\n"
    "                           \"weight_decay\": \"auto\"}},\n"
    "  \"scheduler\": {\"type\": \"WarmupLR\",\n"
    "                \"params\": {\"warmup_min_lr\": \"auto\", \"warmup_max_lr\": \"auto\",\n"
    "                           \"warmup_num_steps\": \"auto\"}},\n"
    "  \"zero_optimization\": {\n"
    "    \"stage\": 3,\n"
    "    \"offload_optimizer\": {\"device\": \"cpu\", \"pin_memory\": true},\n"
    "    \"offload_param\": {\"device\": \"cpu\", \"pin_memory\": false, \"buffer_count\": 5,\n"
    "                      \"buffer_size\": 1e8, \"max_in_cpu\": 1e9},\n"
    "    \"overlap_comm\": true,\n"
    "    \"contiguous_gradients\": true,\n"
    "    \"sub_group_size\": 1e9,\n"
    "    \"reduce_bucket_size\": \"auto\",\n"
    "    \"stage3_prefetch_bucket_size\": 2e7,\n"
    "    \"stage3_param_persistence_threshold\": 1e4,\n"
    "    \"stage3_max_live_parameters\": 5e8,\n"
    "    \"stage3_max_reuse_distance\": 1e9,\n"
    "    \"stage3_model_persistence_threshold\": 1e8,\n"
    "    \"stage3_gather_16bit_weights_on_model_save\": true\n"
    "  },\n"
    "  \"gradient_accumulation_steps\": \"auto\",\n"
    "  \"gradient_clipping\": \"auto\",\n"
    "  \"steps_per_print\": 2000,\n"
    "  \"train_batch_size\": \"auto\",\n"
    "  \"train_micro_batch_size_per_gpu\": \"auto\",\n"
    "  \"wall_clock_breakdown\": false,\n"
    "  \"zo\": {\"device_memory_budget\": \"2GiB\"}\n"
    "}\n";

Test(config_stage3, reads_every_field_of_a_zero3_offload_config)
{
    zo_settings defaults;
    zo_default_settings(&defaults);
    zo_config *config = parse_ok(zero3_offload_config);
    const zo_settings *s = zo_config_settings(config);

    cr_assert(eq(int, s->stage, 3));
    cr_assert(eq(int, s->offload_optimizer, true));
    cr_assert(eq(int, s->pin_memory, true));
    cr_assert(eq(int, s->offload_param, true));
    cr_assert(eq(int, s->offload_param_pin_memory, false));
    cr_assert(eq(int, s->overlap_comm, true));
    cr_assert(eq(u64, s->stage3_prefetch_bucket_size, 20000000));
    cr_assert(eq(u64, s->stage3_param_persistence_threshold, 10000));
    cr_assert(eq(u64, s->stage3_max_live_parameters, 500000000));
    cr_assert(eq(u64, s->stage3_model_persistence_threshold, 100000000));
    cr_assert(eq(u64, s->device_memory_budget, 2ull << 30));
    /* the "auto" values kept their defaults */
    cr_assert(eq(u64, s->reduce_bucket_size, defaults.reduce_bucket_size));
    cr_assert(eq(int, s->fp16_enabled, defaults.fp16_enabled));
    cr_assert(eq(flt, s->adam.lr, defaults.adam.lr));
    cr_assert(eq(dbl, s->gradient_clipping, defaults.gradient_clipping));
    cr_assert(eq(u64, s->train_batch_size, 0));

    static const char *const ignored[] = {
        "zero_optimization.offload_param.buffer_count",
        "zero_optimization.offload_param.buffer_size",
        "zero_optimization.offload_param.max_in_cpu",
        "zero_optimization.sub_group_size",
        "zero_optimization.stage3_max_reuse_distance",
        "zero_optimization.stage3_gather_16bit_weights_on_model_save",
        "steps_per_print",
        "wall_clock_breakdown",
    };
    assert_ignored_keys(config, ignored, sizeof ignored / sizeof ignored[0]);
    zo_config_destroy(&config);
}

/* The Trainer's ZeRO-3 template writes "auto" for the stage 3 sizes too. */
Test(config_stage3, auto_stage3_values_give_the_defaults)
{
    zo_settings defaults;
    zo_default_settings(&defaults);
    zo_config *config =
        parse_ok("{\"zero_optimization\": {\"stage3_prefetch_bucket_size\": \"auto\","
                 " \"stage3_param_persistence_threshold\": \"auto\", "
                 "\"stage3_max_live_parameters\": \"auto\","
                 " \"stage3_model_persistence_threshold\": \"auto\", \"offload_param\": \"auto\","
                 " \"stage3_gather_16bit_weights_on_model_save\": \"auto\"},"
                 " \"zo\": {\"device_memory_budget\": \"auto\"}}");
    cr_assert(eq(int, memcmp(zo_config_settings(config), &defaults, sizeof defaults), 0));
    zo_config_destroy(&config);

    config =
        parse_ok("{\"zero_optimization\": {\"stage\": 3, \"offload_param\": {\"device\": \"auto\","
                 " \"pin_memory\": \"auto\"}}}");
    cr_assert(eq(int, zo_config_settings(config)->offload_param, false));
    cr_assert(eq(int, zo_config_settings(config)->offload_param_pin_memory, true));
    zo_config_destroy(&config);
}

Test(config_stage3, stage3_without_offload_keeps_parameters_on_the_device)
{
    zo_config *config = parse_ok("{\"zero_optimization\": {\"stage\": 3,"
                                 " \"offload_param\": {\"device\": \"none\"}}}");
    cr_assert(eq(int, zo_config_settings(config)->stage, 3));
    cr_assert(eq(int, zo_config_settings(config)->offload_param, false));
    zo_config_destroy(&config);
}

/* DeepSpeed's field names without the stage3_ prefix are the same settings. */
Test(config_stage3, unprefixed_names_set_the_same_fields)
{
    zo_config *config =
        parse_ok("{\"zero_optimization\": {\"stage\": 3, \"prefetch_bucket_size\": 123,"
                 " \"param_persistence_threshold\": 0, \"max_live_parameters\": 1,"
                 " \"model_persistence_threshold\": 9223372036854775807,"
                 " \"max_reuse_distance\": 5, \"gather_16bit_weights_on_model_save\": false}}");
    const zo_settings *s = zo_config_settings(config);
    cr_assert(eq(u64, s->stage3_prefetch_bucket_size, 123));
    cr_assert(eq(u64, s->stage3_param_persistence_threshold, 0));
    cr_assert(eq(u64, s->stage3_max_live_parameters, 1));
    cr_assert(eq(u64, s->stage3_model_persistence_threshold, 9223372036854775807ull));
    cr_assert(eq(sz, zo_config_ignored_count(config), 2));
    cr_assert(
        eq(str, (char *)zo_config_ignored_key(config, 0), "zero_optimization.max_reuse_distance"));
    zo_config_destroy(&config);
}

Test(config_stage3, device_memory_budget_takes_a_count_or_a_size_with_a_unit)
{
    static const byte_size_case cases[] = {
        {"0", 0},
        {"4096", 4096},
        {"1e9", 1000000000ull},
        {"\"80GB\"", 80000000000ull},
        {"\"2GiB\"", 2ull << 30},
        {"\"512MiB\"", 512ull << 20},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char json[128];
        snprintf(json, sizeof json, "{\"zo\": {\"device_memory_budget\": %s}}", cases[i].value);
        zo_config *config = parse_ok(json);
        cr_assert(eq(u64, zo_config_settings(config)->device_memory_budget, cases[i].bytes), "%s",
                  json);
        zo_config_destroy(&config);
    }
}

typedef struct bad_stage3_config {
    const char *json;
    zo_status status;
    const char *expect;
} bad_stage3_config;

/* clang-format would cut the expected messages mid-word */
/* clang-format off */
static const bad_stage3_config bad_configs[] = {
    /* stage 3's sizes: whole numbers, max_live_parameters at least 1 */
    {"{\"zero_optimization\": {\"stage3_max_live_parameters\": 0}}", ZO_ERR_CONFIG,
     "zero_optimization.stage3_max_live_parameters is 0, must be >= 1"},
    {"{\"zero_optimization\": {\"max_live_parameters\": 0}}", ZO_ERR_CONFIG,
     "zero_optimization.max_live_parameters is 0, must be >= 1"},
    {"{\"zero_optimization\": {\"stage3_prefetch_bucket_size\": -1}}", ZO_ERR_CONFIG,
     "zero_optimization.stage3_prefetch_bucket_size is -1, must be >= 0"},
    {"{\"zero_optimization\": {\"stage3_prefetch_bucket_size\": 1e30}}", ZO_ERR_CONFIG,
     "zero_optimization.stage3_prefetch_bucket_size is 1e+30, too large for an integer"},
    {"{\"zero_optimization\": {\"stage3_param_persistence_threshold\": \"1e5\"}}", ZO_ERR_CONFIG,
     "zero_optimization.stage3_param_persistence_threshold must be an integer, got string \"1e5\""},
    {"{\"zero_optimization\": {\"stage3_model_persistence_threshold\": 1.5}}", ZO_ERR_CONFIG,
     "zero_optimization.stage3_model_persistence_threshold must be an integer, got number 1.5"},
    {"{\"zero_optimization\": {\"model_persistence_threshold\": -2}}", ZO_ERR_CONFIG,
     "zero_optimization.model_persistence_threshold is -2, must be >= 0"},
    /* a typo is no longer swallowed as "some stage3_ key" */
    {"{\"zero_optimization\": {\"stage3_max_live_parameter\": 1e9}}", ZO_ERR_CONFIG,
     "did you mean \"stage3_max_live_parameters\"?"},
    {"{\"zero_optimization\": {\"stage3_max_live_parameters\": 1e9, \"max_live_parameters\": 1e9}}",
     ZO_ERR_CONFIG, "give \"stage3_max_live_parameters\" or its other name \"max_live_parameters\", not both"},
    {"{\"zero_optimization\": {\"prefetch_bucket_size\": 1, \"stage3_prefetch_bucket_size\": 1}}",
     ZO_ERR_CONFIG, "give \"stage3_prefetch_bucket_size\" or its other name \"prefetch_bucket_size\""},
    /* offload_param */
    {"{\"zero_optimization\": {\"stage\": 3, \"offload_param\": {\"device\": \"nvme\","
     " \"nvme_path\": \"/local_nvme\"}}}",
     ZO_ERR_NOT_SUPPORTED, "zero_optimization.offload_param.device \"nvme\" is not supported"},
    {"{\"zero_optimization\": {\"stage\": 3, \"offload_param\": {\"device\": \"gpu\"}}}", ZO_ERR_CONFIG,
     "zero_optimization.offload_param.device is \"gpu\", must be one of \"none\", \"cpu\", \"nvme\""},
    {"{\"zero_optimization\": {\"stage\": 3, \"offload_param\": {\"pin_memory\": \"yes\"}}}", ZO_ERR_CONFIG,
     "zero_optimization.offload_param.pin_memory must be true or false, got string \"yes\""},
    {"{\"zero_optimization\": {\"stage\": 3, \"offload_param\": {\"pin_memroy\": true}}}", ZO_ERR_CONFIG,
     "did you mean \"pin_memory\"?"},
    {"{\"zero_optimization\": {\"stage\": 3, \"offload_param\": {\"buffer_count\": -1}}}", ZO_ERR_CONFIG,
     "zero_optimization.offload_param.buffer_count is -1, must be >= 0"},
    {"{\"zero_optimization\": {\"stage\": 3, \"offload_param\": {\"buffer_size\": 1.5}}}", ZO_ERR_CONFIG,
     "zero_optimization.offload_param.buffer_size must be an integer, got number 1.5"},
    {"{\"zero_optimization\": {\"stage\": 3, \"offload_param\": {\"max_in_cpu\": \"lots\"}}}", ZO_ERR_CONFIG,
     "zero_optimization.offload_param.max_in_cpu must be an integer, got string \"lots\""},
    {"{\"zero_optimization\": {\"stage\": 3, \"offload_param\": [\"cpu\"]}}", ZO_ERR_CONFIG,
     "zero_optimization.offload_param must be an object, got array"},
    /* parameter offload only with stage 3, as in DeepSpeed */
    {"{\"zero_optimization\": {\"stage\": 2, \"offload_param\": {\"device\": \"cpu\"}}}", ZO_ERR_CONFIG,
     "zero_optimization.offload_param.device is \"cpu\" but zero_optimization.stage is 2"},
    {"{\"zero_optimization\": {\"offload_param\": {\"device\": \"cpu\"}}}", ZO_ERR_CONFIG,
     "zero_optimization.stage is 0: parameter offload needs stage 3"},
    /* the ignored stage 3 keys still have DeepSpeed's types */
    {"{\"zero_optimization\": {\"sub_group_size\": -1}}", ZO_ERR_CONFIG,
     "zero_optimization.sub_group_size is -1, must be >= 0"},
    {"{\"zero_optimization\": {\"stage3_max_reuse_distance\": \"far\"}}", ZO_ERR_CONFIG,
     "zero_optimization.stage3_max_reuse_distance must be an integer, got string \"far\""},
    {"{\"zero_optimization\": {\"max_reuse_distance\": 2.5}}", ZO_ERR_CONFIG,
     "zero_optimization.max_reuse_distance must be an integer, got number 2.5"},
    {"{\"zero_optimization\": {\"stage3_gather_16bit_weights_on_model_save\": \"true\"}}", ZO_ERR_CONFIG,
     "zero_optimization.stage3_gather_16bit_weights_on_model_save must be true or false, got string \"true\""},
    {"{\"zero_optimization\": {\"stage3_gather_fp16_weights_on_model_save\": 1}}", ZO_ERR_CONFIG,
     "zero_optimization.stage3_gather_fp16_weights_on_model_save must be true or false, got integer 1"},
    {"{\"zero_optimization\": {\"gather_16bit_weights_on_model_save\": null}}", ZO_ERR_CONFIG,
     "zero_optimization.gather_16bit_weights_on_model_save must be true or false, got null"},
    /* zo.device_memory_budget */
    {"{\"zo\": {\"device_memory_budget\": -1}}", ZO_ERR_CONFIG,
     "zo.device_memory_budget is -1, must be >= 0"},
    {"{\"zo\": {\"device_memory_budget\": \"2 gigs\"}}", ZO_ERR_CONFIG,
     "zo.device_memory_budget is \"2 gigs\", must be a byte count"},
    {"{\"zo\": {\"device_memory_budget\": true}}", ZO_ERR_CONFIG,
     "zo.device_memory_budget must be an integer, got boolean true"},
};
/* clang-format on */

Test(config_stage3, refuses_each_bad_value_naming_its_key)
{
    for (size_t i = 0; i < sizeof bad_configs / sizeof bad_configs[0]; i++) {
        const bad_stage3_config *bad = &bad_configs[i];
        zo_config *config = (zo_config *)bad; /* anything but NULL: a failure must clear it */
        zo_status status = zo_config_from_string(bad->json, &config);
        const char *message = zo_last_error();
        cr_expect(eq(int, status, bad->status), "got %s (%s) for %s", zo_status_name(status),
                  message, bad->json);
        cr_expect(config == NULL, "*out not cleared for %s", bad->json);
        cr_expect(strstr(message, bad->expect) != NULL, "message \"%s\" lacks \"%s\"", message,
                  bad->expect);
    }
}

/* Both ways in accept the same stage 3 values. */
Test(config_stage3, settings_from_the_zero3_config_pass_zo_config_from_settings)
{
    zo_config *parsed = parse_ok(zero3_offload_config);
    zo_config *built = NULL;
    zo_status status = zo_config_from_settings(zo_config_settings(parsed), &built);
    cr_assert(eq(int, status, ZO_OK), "%s", zo_last_error());
    cr_assert(eq(int,
                 memcmp(zo_config_settings(built), zo_config_settings(parsed), sizeof(zo_settings)),
                 0));
    zo_config_destroy(&built);
    zo_config_destroy(&parsed);
}

/* bench/configs/ds_zero3_offload.json, the example docs/configuration.md points to. */
Test(config_stage3, example_zero3_offload_config_parses_with_its_ignored_keys)
{
    zo_config *config = NULL;
    zo_status status =
        zo_config_from_file(ZO_SOURCE_DIR "/bench/configs/ds_zero3_offload.json", &config);
    cr_assert(eq(int, status, ZO_OK), "%s", zo_last_error());
    const zo_settings *s = zo_config_settings(config);
    cr_assert(eq(int, s->stage, 3));
    cr_assert(eq(int, s->offload_optimizer, true));
    cr_assert(eq(int, s->offload_param, true));
    cr_assert(eq(u64, s->stage3_max_live_parameters, 1000000000));
    static const char *const ignored[] = {
        "steps_per_print",
        "wall_clock_breakdown",
        "zero_optimization.sub_group_size",
        "zero_optimization.stage3_max_reuse_distance",
        "zero_optimization.stage3_gather_16bit_weights_on_model_save",
        "activation_checkpointing",
        "tensorboard",
    };
    assert_ignored_keys(config, ignored, sizeof ignored / sizeof ignored[0]);
    zo_config_destroy(&config);
}

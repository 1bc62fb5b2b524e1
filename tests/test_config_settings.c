/* zo_config_from_settings (zo/config.h): a config built in C, without JSON. The
 * defaults and whatever the JSON reader produces are accepted as they are; a table
 * of out-of-range fields is refused, each with a message naming the field. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "zo/zo.h"

static zo_config *from_settings_ok(const zo_settings *settings)
{
    zo_config *config = NULL;
    zo_status status = zo_config_from_settings(settings, &config);
    cr_assert(eq(int, status, ZO_OK), "%s: %s", zo_status_name(status), zo_last_error());
    cr_assert(config != NULL);
    return config;
}

Test(config_settings, defaults_are_accepted_and_copied_exactly)
{
    zo_settings settings;
    zo_default_settings(&settings);
    zo_config *config = from_settings_ok(&settings);
    cr_assert(eq(int, memcmp(zo_config_settings(config), &settings, sizeof settings), 0));
    cr_assert(eq(sz, zo_config_ignored_count(config), 0));
    zo_config_destroy(&config);
    cr_assert(config == NULL);
}

/* Both ways in accept the same values: what the JSON reader made passes the checks. */
Test(config_settings, accepts_what_the_json_reader_produces)
{
    const char *json =
        "{\"fp16\": {\"enabled\": true, \"loss_scale_window\": 500, \"min_loss_scale\": 0.5},"
        " \"optimizer\": {\"type\": \"AdamW\", \"params\": {\"lr\": 3e-5, \"betas\": [0.8, 0.95]}},"
        " \"scheduler\": {\"type\": \"WarmupCosineLR\","
        "               \"params\": {\"total_num_steps\": 1000, \"warmup_min_ratio\": 0.1}},"
        " \"zero_optimization\": {\"stage\": 2, \"offload_optimizer\": {\"device\": \"cpu\"}},"
        " \"gradient_accumulation_steps\": 4, \"train_micro_batch_size_per_gpu\": 2,"
        " \"zo\": {\"device\": \"host\", \"bind\": \"0-1\", \"trace\": \"/tmp/t.json\","
        "        \"moments_dtype\": \"bf16\", \"threads\": 2}}";
    zo_config *parsed = NULL;
    cr_assert(eq(int, zo_config_from_string(json, &parsed), ZO_OK), "%s", zo_last_error());
    zo_config *config = from_settings_ok(zo_config_settings(parsed));
    cr_assert(
        eq(int, memcmp(zo_config_settings(config), zo_config_settings(parsed), sizeof(zo_settings)),
           0));
    zo_config_destroy(&config);
    zo_config_destroy(&parsed);
}

/* A config from settings drives the engine as its JSON twin does. */
Test(config_settings, plans_the_engine_as_the_json_config_does)
{
    zo_settings settings;
    zo_default_settings(&settings);
    settings.device = ZO_DEVICE_HOST;
    settings.reduce_bucket_size = 1000;
    zo_config *built = from_settings_ok(&settings);
    zo_config *parsed = NULL;
    cr_assert(eq(int,
                 zo_config_from_string("{\"zo\": {\"device\": \"host\"}, "
                                       "\"zero_optimization\": {\"reduce_bucket_size\": 1000}}",
                                       &parsed),
                 ZO_OK));
    const zo_param_desc params[] = {{"w", 1500}, {"b", 30}};
    zo_memory_plan from_built, from_json;
    cr_assert(eq(int, zo_engine_plan(built, params, 2, 1, &from_built), ZO_OK), "%s",
              zo_last_error());
    cr_assert(eq(int, zo_engine_plan(parsed, params, 2, 1, &from_json), ZO_OK), "%s",
              zo_last_error());
    cr_assert(eq(u64, from_built.host_bytes, from_json.host_bytes));
    cr_assert(eq(u64, from_built.device_bytes, from_json.device_bytes));
    cr_assert(eq(u64, from_built.param_elems, from_json.param_elems));
    zo_config_destroy(&built);
    zo_config_destroy(&parsed);
}

/* One wrong field: how to make it, and the status and words it must give. */
typedef struct bad_field {
    const char *name;
    void (*spoil)(zo_settings *settings);
    zo_status status;
    const char *expect;
} bad_field;

#define SPOIL(fn, body)                                                                            \
    static void fn(zo_settings *s) { body; }

SPOIL(huge_accumulation, s->gradient_accumulation_steps = UINT64_MAX)
SPOIL(negative_clipping, s->gradient_clipping = -1)
SPOIL(nan_clipping, s->gradient_clipping = NAN)
SPOIL(zero_window, s->loss_scale_window = 0)
SPOIL(huge_scale_power, s->initial_scale_power = 63)
SPOIL(zero_hysteresis, s->hysteresis = 0)
SPOIL(zero_min_loss_scale, s->min_loss_scale = 0)
SPOIL(negative_lr, s->adam.lr = -1)
SPOIL(infinite_lr, s->adam.lr = INFINITY)
SPOIL(zero_eps, s->adam.eps = 0)
SPOIL(negative_decay, s->adam.weight_decay = -0.1f)
SPOIL(beta1_one, s->adam.beta1 = 1)
SPOIL(negative_beta2, s->adam.beta2 = -0.5f)
SPOIL(zero_bucket, s->reduce_bucket_size = 0)
SPOIL(zero_allgather_bucket, s->allgather_bucket_size = 0)
SPOIL(negative_threads, s->threads = -1)
SPOIL(negative_timeout, s->collective_timeout_seconds = -1)
SPOIL(cosine_ratio_above_one, s->scheduler.kind = ZO_SCHEDULER_WARMUP_COSINE_LR;
      s->scheduler.total_num_steps = 10; s->scheduler.warmup_min_ratio = 2)
SPOIL(decay_without_steps, s->scheduler.kind = ZO_SCHEDULER_WARMUP_DECAY_LR)
SPOIL(unknown_scheduler, s->scheduler.kind = (zo_scheduler_kind)7)
SPOIL(unknown_warmup_type, s->scheduler.kind = ZO_SCHEDULER_WARMUP_LR;
      s->scheduler.warmup_type = (zo_warmup_type)5)
SPOIL(stage_four, s->stage = 4)
SPOIL(negative_stage, s->stage = -1)
SPOIL(no_live_parameters, s->stage3_max_live_parameters = 0)
SPOIL(huge_prefetch, s->stage3_prefetch_bucket_size = UINT64_MAX)
SPOIL(offload_param_at_stage_2, s->stage = 2; s->offload_param = true)
SPOIL(unknown_device, s->device = (zo_device_kind)9)
SPOIL(unknown_comm, s->comm = (zo_comm_kind)-1)
SPOIL(unknown_bind, s->bind = (zo_bind_mode)7)
SPOIL(bad_cpu_list, s->bind = ZO_BIND_CPUS; strcpy(s->bind_cpus, "0-"))
SPOIL(unterminated_trace, memset(s->trace_file, 'x', sizeof s->trace_file))
SPOIL(f16_moments, s->moments_dtype = ZO_DTYPE_F16)
SPOIL(code_moments, s->moments_dtype = ZO_DTYPE_I8)
SPOIL(two_precisions, s->fp16_enabled = true; s->bf16_enabled = true)
SPOIL(scale_over_float, s->loss_scale = 1e39)
SPOIL(reserved_byte, s->reserved[3] = 1)

/* clang-format would cut the expected messages mid-word */
/* clang-format off */
static const bad_field bad_fields[] = {
    {"huge accumulation", huge_accumulation, ZO_ERR_CONFIG,
     "zo_settings.gradient_accumulation_steps (config key gradient_accumulation_steps) is "
     "18446744073709551615, must be in [1, 9223372036854775807]"},
    {"negative clipping", negative_clipping, ZO_ERR_CONFIG,
     "zo_settings.gradient_clipping (config key gradient_clipping) is -1, must be >= 0"},
    {"NaN clipping", nan_clipping, ZO_ERR_CONFIG, "zo_settings.gradient_clipping"},
    {"zero window", zero_window, ZO_ERR_CONFIG,
     "zo_settings.loss_scale_window (config key fp16.loss_scale_window) is 0, must be >= 1"},
    {"scale power", huge_scale_power, ZO_ERR_CONFIG,
     "zo_settings.initial_scale_power (config key fp16.initial_scale_power) is 63, must be in [0, 62]"},
    {"hysteresis", zero_hysteresis, ZO_ERR_CONFIG, "zo_settings.hysteresis (config key fp16.hysteresis)"},
    {"min loss scale", zero_min_loss_scale, ZO_ERR_CONFIG,
     "zo_settings.min_loss_scale (config key fp16.min_loss_scale) is 0, must be > 0"},
    {"negative lr", negative_lr, ZO_ERR_CONFIG,
     "zo_settings.adam.lr (config key optimizer.params.lr) is -1, must be >= 0"},
    {"infinite lr", infinite_lr, ZO_ERR_CONFIG, "zo_settings.adam.lr (config key optimizer.params.lr) is inf, must be finite"},
    {"zero eps", zero_eps, ZO_ERR_CONFIG, "zo_settings.adam.eps (config key optimizer.params.eps) is 0, must be > 0"},
    {"negative decay", negative_decay, ZO_ERR_CONFIG, "zo_settings.adam.weight_decay"},
    {"beta1 of 1", beta1_one, ZO_ERR_CONFIG,
     "zo_settings.adam.beta1 (config key optimizer.params.betas[0]) is 1, must be in [0, 1)"},
    {"negative beta2", negative_beta2, ZO_ERR_CONFIG, "zo_settings.adam.beta2 (config key optimizer.params.betas[1])"},
    {"zero bucket", zero_bucket, ZO_ERR_CONFIG,
     "zo_settings.reduce_bucket_size (config key zero_optimization.reduce_bucket_size) is 0, must be >= 1"},
    {"zero allgather bucket", zero_allgather_bucket, ZO_ERR_CONFIG, "zo_settings.allgather_bucket_size"},
    {"negative threads", negative_threads, ZO_ERR_CONFIG,
     "zo_settings.threads (config key zo.threads) is -1, must be >= 0"},
    {"negative timeout", negative_timeout, ZO_ERR_CONFIG,
     "zo_settings.collective_timeout_seconds (config key zo.collective_timeout_seconds) is -1"},
    {"cosine ratio", cosine_ratio_above_one, ZO_ERR_CONFIG,
     "zo_settings.scheduler.warmup_min_ratio (config key scheduler.params.warmup_min_ratio) is 2, must be in [0, 1]"},
    {"decay without steps", decay_without_steps, ZO_ERR_CONFIG,
     "zo_settings.scheduler.total_num_steps (config key scheduler.params.total_num_steps) is 0, must be >= 1"},
    {"unknown scheduler", unknown_scheduler, ZO_ERR_CONFIG, "zo_settings.scheduler.kind (config key scheduler.type) is 7"},
    {"unknown warmup type", unknown_warmup_type, ZO_ERR_CONFIG, "zo_settings.scheduler.warmup_type"},
    {"stage 4", stage_four, ZO_ERR_CONFIG, "zo_settings.stage (config key zero_optimization.stage) is 4, must be 0, 1, 2 or 3"},
    {"stage -1", negative_stage, ZO_ERR_CONFIG, "zo_settings.stage (config key zero_optimization.stage) is -1"},
    {"no live parameters", no_live_parameters, ZO_ERR_CONFIG,
     "zo_settings.stage3_max_live_parameters (config key zero_optimization.stage3_max_live_parameters) is 0, must be >= 1"},
    {"huge prefetch", huge_prefetch, ZO_ERR_CONFIG,
     "zo_settings.stage3_prefetch_bucket_size (config key zero_optimization.stage3_prefetch_bucket_size) is "
     "18446744073709551615, must be in [0, 9223372036854775807]"},
    {"unknown device", unknown_device, ZO_ERR_CONFIG, "zo_settings.device (config key zo.device) is 9"},
    {"unknown comm", unknown_comm, ZO_ERR_CONFIG, "zo_settings.comm (config key zo.comm) is -1"},
    {"unknown bind", unknown_bind, ZO_ERR_CONFIG, "zo_settings.bind (config key zo.bind) is 7"},
    {"bad CPU list", bad_cpu_list, ZO_ERR_CONFIG, "zo_settings.bind_cpus (config key zo.bind) is \"0-\""},
    {"unterminated trace", unterminated_trace, ZO_ERR_CONFIG,
     "zo_settings.trace_file (config key zo.trace) has no terminating NUL"},
    {"f16 moments", f16_moments, ZO_ERR_CONFIG, "zo_settings.moments_dtype (config key zo.moments_dtype) is 1"},
    {"int8 moments (ZO_DTYPE_Q8 is the 8-bit format)", code_moments, ZO_ERR_CONFIG,
     "zo_settings.moments_dtype (config key zo.moments_dtype) is 3"},
    /* the checks across keys are the JSON reader's own, worded with its keys */
    {"two precisions", two_precisions, ZO_ERR_CONFIG, "fp16.enabled and bf16.enabled are both true"},
    {"scale over float", scale_over_float, ZO_ERR_CONFIG, "fp16.loss_scale 1e+39 overflows a float"},
    {"offload_param at stage 2", offload_param_at_stage_2, ZO_ERR_CONFIG,
     "zero_optimization.offload_param.device is \"cpu\" but zero_optimization.stage is 2: parameter offload needs stage 3"},
    {"reserved byte", reserved_byte, ZO_ERR_CONFIG, "zo_settings.reserved[3] is 1, must be 0"},
};
/* clang-format on */

Test(config_settings, refuses_each_out_of_range_field_naming_it)
{
    for (size_t i = 0; i < sizeof bad_fields / sizeof bad_fields[0]; i++) {
        const bad_field *bad = &bad_fields[i];
        zo_settings settings;
        zo_default_settings(&settings);
        bad->spoil(&settings);
        zo_config *config = (zo_config *)&settings; /* anything but NULL: a failure must clear it */
        zo_status status = zo_config_from_settings(&settings, &config);
        const char *message = zo_last_error();
        cr_expect(eq(int, status, bad->status), "%s: got %s (%s)", bad->name,
                  zo_status_name(status), message);
        cr_expect(config == NULL, "%s: *out not cleared", bad->name);
        cr_expect(strstr(message, bad->expect) != NULL, "%s: message \"%s\" lacks \"%s\"",
                  bad->name, message, bad->expect);
    }
}

Test(config_settings, null_arguments_are_refused)
{
    zo_settings settings;
    zo_default_settings(&settings);
    zo_config *config = (zo_config *)&settings;
    cr_assert(eq(int, zo_config_from_settings(NULL, &config), ZO_ERR_INVALID_ARGUMENT));
    cr_assert(config == NULL);
    cr_assert(strstr(zo_last_error(), "settings is NULL") != NULL, "%s", zo_last_error());
    cr_assert(eq(int, zo_config_from_settings(&settings, NULL), ZO_ERR_INVALID_ARGUMENT));
    cr_assert(strstr(zo_last_error(), "out is NULL") != NULL, "%s", zo_last_error());
}

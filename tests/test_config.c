/* The stage config (zo/config.h): DeepSpeed configs as users write them, the
 * defaults, "auto", Adam's modes, the ignored keys in file order, a table of bad
 * configs with the status and words each must give, files, the example configs in
 * bench/configs/, and NULL arguments. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <criterion/parameterized.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_test_support.h"
#include "zo/zo.h"

/* Numbers are compared with what the parser must produce: the JSON text read as a
 * double, then rounded to float where the field is a float. Exact, no tolerance. */
#define AS_FLOAT(x) ((float)(double)(x))

/* A ZeRO-2 CPU-offload fp16 config in the shape the Hugging Face and DeepSpeed docs
 * show, with every value changed from its default so each field is seen to land. */
static const char *const full_config =
    "{\n"
    "  \"fp16\": {\"enabled\": true, \"loss_scale\": 0, \"loss_scale_window\": 500,\n"
    "           \"initial_scale_power\": 12, \"hysteresis\": 3,\n"
    "           \"consecutive_hysteresis\": true, \"min_loss_scale\": 0.5},\n"
    "  \"optimizer\": {\"type\": \"AdamW\",\n"
    "                \"params\": {\"lr\": 3e-5, \"betas\": [0.8, 0.95], \"eps\": 1e-6,\n"
    "                           \"weight_decay\": 0.01, \"bias_correction\": false}},\n"
    "  \"scheduler\": {\"type\": \"WarmupDecayLR\",\n"
    "                \"params\": {\"warmup_min_lr\": 1e-6, \"warmup_max_lr\": 3e-5,\n"
    "                           \"warmup_num_steps\": 500, \"total_num_steps\": 10000,\n"
    "                           \"warmup_type\": \"linear\"}},\n"
    "  \"zero_optimization\": {\"stage\": 2,\n"
    "                        \"offload_optimizer\": {\"device\": \"cpu\", \"pin_memory\": false},\n"
    "                        \"allgather_partitions\": true, \"allgather_bucket_size\": 2e8,\n"
    "                        \"overlap_comm\": true, \"reduce_scatter\": false,\n"
    "                        \"reduce_bucket_size\": 3e8, \"contiguous_gradients\": false},\n"
    "  \"gradient_accumulation_steps\": 4,\n"
    "  \"gradient_clipping\": 0.5,\n"
    "  \"steps_per_print\": 2000,\n"
    "  \"train_batch_size\": 64,\n"
    "  \"train_micro_batch_size_per_gpu\": 8,\n"
    "  \"wall_clock_breakdown\": false,\n"
    "  \"zo\": {\"device\": \"host\", \"threads\": 12, \"delayed_param_update\": true,\n"
    "         \"bind\": \"0-3,8\",\n"
    "         \"trace\": \"/tmp/zo-trace.json\", \"moments_dtype\": \"bf16\",\n"
    "         \"max_pinned_bytes\": \"8GiB\"}\n"
    "}\n";

Test(config, reads_every_field_of_a_zero2_offload_config)
{
    zo_config *config = parse_ok(full_config);
    const zo_settings *s = zo_config_settings(config);

    cr_assert(eq(u64, s->train_batch_size, 64));
    cr_assert(eq(u64, s->train_micro_batch_size_per_gpu, 8));
    cr_assert(eq(u64, s->gradient_accumulation_steps, 4));
    cr_assert(eq(dbl, s->gradient_clipping, 0.5));

    cr_assert(eq(int, s->fp16_enabled, true));
    cr_assert(eq(dbl, s->loss_scale, 0.0));
    cr_assert(eq(int, s->initial_scale_power, 12));
    cr_assert(eq(u64, s->loss_scale_window, 500));
    cr_assert(eq(int, s->hysteresis, 3));
    cr_assert(eq(int, s->consecutive_hysteresis, true));
    cr_assert(eq(dbl, s->min_loss_scale, 0.5));
    cr_assert(eq(int, s->bf16_enabled, false));

    cr_assert(eq(flt, s->adam.lr, AS_FLOAT(3e-5)));
    cr_assert(eq(flt, s->adam.beta1, AS_FLOAT(0.8)));
    cr_assert(eq(flt, s->adam.beta2, AS_FLOAT(0.95)));
    cr_assert(eq(flt, s->adam.eps, AS_FLOAT(1e-6)));
    cr_assert(eq(flt, s->adam.weight_decay, AS_FLOAT(0.01)));
    cr_assert(eq(int, s->adam.adamw, true));
    cr_assert(eq(int, s->adam.bias_correction, false));

    cr_assert(eq(int, s->scheduler.kind, ZO_SCHEDULER_WARMUP_DECAY_LR));
    cr_assert(eq(dbl, s->scheduler.warmup_min_lr, 1e-6));
    cr_assert(eq(dbl, s->scheduler.warmup_max_lr, 3e-5));
    cr_assert(eq(u64, s->scheduler.warmup_num_steps, 500));
    cr_assert(eq(u64, s->scheduler.total_num_steps, 10000));
    cr_assert(eq(int, s->scheduler.warmup_type, ZO_WARMUP_LINEAR));

    cr_assert(eq(int, s->stage, 2));
    cr_assert(eq(int, s->offload_optimizer, true));
    cr_assert(eq(int, s->pin_memory, false));
    cr_assert(eq(int, s->overlap_comm, true));
    cr_assert(eq(int, s->contiguous_gradients, false));
    cr_assert(eq(int, s->reduce_scatter, false));
    cr_assert(eq(u64, s->reduce_bucket_size, 300000000));
    cr_assert(eq(u64, s->allgather_bucket_size, 200000000));

    cr_assert(eq(int, s->device, ZO_DEVICE_HOST));
    cr_assert(eq(int, s->threads, 12));
    cr_assert(eq(int, s->bind, ZO_BIND_CPUS));
    cr_assert(eq(str, (char *)s->bind_cpus, "0-3,8"));
    cr_assert(eq(int, s->delayed_param_update, true));
    cr_assert(eq(str, (char *)s->trace_file, "/tmp/zo-trace.json"));
    cr_assert(eq(int, s->moments_dtype, ZO_DTYPE_BF16));
    cr_assert(eq(u64, s->max_pinned_bytes, 8ull << 30));

    cr_assert(eq(sz, zo_config_ignored_count(config), 3));
    zo_config_destroy(&config);
    cr_assert(config == NULL);
}

Test(config, warmup_cosine_params_land_in_the_scheduler)
{
    zo_config *config = parse_ok(
        "{\"scheduler\": {\"params\": {\"total_num_steps\": 2000, \"warmup_min_ratio\": 0.1,"
        " \"warmup_num_steps\": 50, \"cos_min_ratio\": 0.01}, \"type\": \"WarmupCosineLR\"}}");
    const zo_scheduler_settings *s = &zo_config_settings(config)->scheduler;
    cr_assert(eq(int, s->kind, ZO_SCHEDULER_WARMUP_COSINE_LR));
    cr_assert(eq(u64, s->total_num_steps, 2000));
    cr_assert(eq(dbl, s->warmup_min_ratio, 0.1));
    cr_assert(eq(u64, s->warmup_num_steps, 50));
    cr_assert(eq(dbl, s->cos_min_ratio, 0.01));
    cr_assert(eq(int, s->warmup_type, ZO_WARMUP_LOG));
    zo_config_destroy(&config);
}

Test(config, empty_object_gives_exactly_the_default_settings)
{
    zo_settings defaults;
    zo_default_settings(&defaults);
    zo_config *config = parse_ok("{}");
    cr_assert(eq(int, memcmp(zo_config_settings(config), &defaults, sizeof defaults), 0));
    cr_assert(eq(sz, zo_config_ignored_count(config), 0));
    zo_config_destroy(&config);
}

/* The defaults themselves, as README.md documents them. */
Test(config, defaults_are_deepspeeds_where_zo_follows_deepspeed)
{
    zo_settings s;
    zo_default_settings(&s);
    cr_assert(eq(u64, s.train_batch_size, 0));
    cr_assert(eq(dbl, s.gradient_clipping, 1.0));
    cr_assert(eq(int, s.fp16_enabled, false));
    cr_assert(eq(dbl, s.loss_scale, 0.0));
    cr_assert(eq(int, s.initial_scale_power, 16));
    cr_assert(eq(u64, s.loss_scale_window, 1000));
    cr_assert(eq(int, s.hysteresis, 2));
    cr_assert(eq(dbl, s.min_loss_scale, 1.0));
    cr_assert(eq(flt, s.adam.lr, 1e-3f));
    cr_assert(eq(flt, s.adam.beta1, 0.9f));
    cr_assert(eq(flt, s.adam.beta2, 0.999f));
    cr_assert(eq(flt, s.adam.eps, 1e-8f));
    cr_assert(eq(flt, s.adam.weight_decay, 0.0f));
    cr_assert(eq(int, s.adam.adamw, true));
    cr_assert(eq(int, s.adam.bias_correction, true));
    cr_assert(eq(int, s.scheduler.kind, ZO_SCHEDULER_NONE));
    cr_assert(eq(dbl, s.scheduler.warmup_max_lr, 0.001));
    cr_assert(eq(u64, s.scheduler.warmup_num_steps, 1000));
    cr_assert(eq(dbl, s.scheduler.cos_min_ratio, 0.0001));
    cr_assert(eq(int, s.stage, 0));
    cr_assert(eq(int, s.offload_optimizer, false));
    cr_assert(eq(int, s.pin_memory, true));
    cr_assert(eq(int, s.overlap_comm, false));
    cr_assert(eq(int, s.contiguous_gradients, true));
    cr_assert(eq(int, s.reduce_scatter, true));
    cr_assert(eq(u64, s.reduce_bucket_size, 500000000));
    cr_assert(eq(u64, s.allgather_bucket_size, 500000000));
    cr_assert(eq(int, s.device, ZO_DEVICE_AUTO));
    cr_assert(eq(int, s.moments_dtype, ZO_DTYPE_F32));
    cr_assert(eq(str, s.trace_file, ""));
    cr_assert(eq(dbl, s.collective_timeout_seconds, 600.0)); /* PyTorch's NCCL default */
}

/* The Hugging Face Trainer's template: "auto" wherever the Trainer would fill a value
 * in. zo takes the default for each. */
Test(config, auto_values_give_the_defaults)
{
    zo_settings defaults;
    zo_default_settings(&defaults);
    zo_config *config = parse_ok(
        "{\"train_batch_size\": \"auto\", \"train_micro_batch_size_per_gpu\": \"auto\","
        " \"gradient_accumulation_steps\": \"auto\", \"gradient_clipping\": \"auto\","
        " \"fp16\": {\"enabled\": \"auto\", \"loss_scale\": \"auto\","
        "          \"initial_scale_power\": \"auto\", \"loss_scale_window\": \"auto\","
        "          \"hysteresis\": \"auto\", \"min_loss_scale\": \"auto\"},"
        " \"bf16\": {\"enabled\": \"auto\"},"
        " \"optimizer\": {\"type\": \"AdamW\", \"params\": {\"lr\": \"auto\", \"betas\": \"auto\","
        "                \"eps\": \"auto\", \"weight_decay\": \"auto\"}},"
        " \"scheduler\": \"auto\","
        " \"zero_optimization\": {\"stage\": \"auto\", \"offload_optimizer\": \"auto\","
        "                       \"reduce_bucket_size\": \"auto\", \"overlap_comm\": \"auto\"},"
        " \"zo\": {\"device\": \"auto\", \"threads\": \"auto\", \"trace\": \"auto\", \"bind\": \"auto\","
        "         \"moments_dtype\": \"auto\", \"max_pinned_bytes\": \"auto\","
        "         \"collective_timeout_seconds\": \"auto\"}}");
    cr_assert(eq(int, memcmp(zo_config_settings(config), &defaults, sizeof defaults), 0));
    zo_config_destroy(&config);
}

Test(config, bind_none_leaves_placement_to_openmp)
{
    zo_config *config = parse_ok("{\"zo\": {\"bind\": \"none\", \"threads\": 3}}");
    const zo_settings *s = zo_config_settings(config);
    cr_assert(eq(int, s->bind, ZO_BIND_NONE));
    cr_assert(eq(str, (char *)s->bind_cpus, ""));
    cr_assert(eq(int, s->threads, 3));
    zo_config_destroy(&config);
}

typedef struct adam_mode_case {
    const char *json;
    bool adamw;
} adam_mode_case;

Test(config, adam_is_adamw_unless_adam_w_mode_is_false_and_adamw_always_is)
{
    static const adam_mode_case cases[] = {
        {"{}", true},
        {"{\"optimizer\": {\"type\": \"Adam\"}}", true},
        {"{\"optimizer\": {\"type\": \"adam\", \"params\": {\"adam_w_mode\": true}}}", true},
        {"{\"optimizer\": {\"type\": \"Adam\", \"params\": {\"adam_w_mode\": false}}}", false},
        {"{\"optimizer\": {\"type\": \"AdamW\"}}", true},
        {"{\"optimizer\": {\"type\": \"ADAMW\", \"params\": {\"adam_w_mode\": false}}}", true},
        {"{\"optimizer\": {\"params\": {\"adam_w_mode\": false}, \"type\": \"Adam\"}}", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        zo_config *config = parse_ok(cases[i].json);
        cr_assert(eq(int, zo_config_settings(config)->adam.adamw, cases[i].adamw), "%s",
                  cases[i].json);
        zo_config_destroy(&config);
    }
}

Test(config, records_ignored_deepspeed_keys_by_path_in_file_order)
{
    zo_config *config = parse_ok(
        "{\"steps_per_print\": 10,"
        " \"zero_optimization\": {\"stage\": 2, \"stage3_max_reuse_distance\": 1e9,"
        "   \"offload_optimizer\": {\"device\": \"cpu\", \"ratio\": 0.3},"
        "   \"allgather_partitions\": true},"
        " \"fp16\": {\"enabled\": true, \"auto_cast\": false},"
        " \"activation_checkpointing\": {\"partition_activations\": true,"
        "                              \"cpu_checkpointing\": true},"
        " \"optimizer\": {\"type\": \"Adam\", \"params\": {\"torch_adam\": true}},"
        " \"scheduler\": {\"type\": \"WarmupLR\", \"params\": {\"last_batch_iteration\": -1}},"
        " \"wall_clock_breakdown\": false}");
    static const char *const expected[] = {
        "steps_per_print",
        "zero_optimization.stage3_max_reuse_distance",
        "zero_optimization.offload_optimizer.ratio",
        "zero_optimization.allgather_partitions",
        "fp16.auto_cast",
        "activation_checkpointing",
        "optimizer.params.torch_adam",
        "scheduler.params.last_batch_iteration",
        "wall_clock_breakdown",
    };
    assert_ignored_keys(config, expected, sizeof expected / sizeof expected[0]);
    zo_config_destroy(&config);
}

Test(config, accepts_deepspeeds_legacy_spellings)
{
    zo_config *config =
        parse_ok("{\"zero_optimization\": true, \"bfloat16\": {\"enabled\": true}}");
    cr_assert(eq(int, zo_config_settings(config)->stage, 1));
    cr_assert(eq(int, zo_config_settings(config)->bf16_enabled, true));
    zo_config_destroy(&config);

    config = parse_ok("{\"zero_optimization\": {\"stage\": 1, \"cpu_offload\": true}}");
    cr_assert(eq(int, zo_config_settings(config)->offload_optimizer, true));
    zo_config_destroy(&config);

    config = parse_ok("{\"zero_optimization\": {\"offload_optimizer\": {\"device\": \"none\"}}}");
    cr_assert(eq(int, zo_config_settings(config)->offload_optimizer, false));
    zo_config_destroy(&config);
}

Test(config, whole_reals_are_integers)
{
    zo_config *config = parse_ok("{\"train_batch_size\": 3.2e1,"
                                 " \"zero_optimization\": {\"reduce_bucket_size\": 5e8,"
                                 "                       \"allgather_bucket_size\": 1.0}}");
    cr_assert(eq(u64, zo_config_settings(config)->train_batch_size, 32));
    cr_assert(eq(u64, zo_config_settings(config)->reduce_bucket_size, 500000000));
    cr_assert(eq(u64, zo_config_settings(config)->allgather_bucket_size, 1));
    zo_config_destroy(&config);
}

Test(config, collective_timeout_takes_seconds_or_zero_for_no_limit)
{
    static const struct {
        const char *value;
        double seconds;
    } cases[] = {{"0", 0.0}, {"1", 1.0}, {"0.25", 0.25}, {"1800", 1800.0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char json[128];
        snprintf(json, sizeof json, "{\"zo\": {\"collective_timeout_seconds\": %s}}", cases[i].value);
        zo_config *config = parse_ok(json);
        cr_assert(eq(dbl, zo_config_settings(config)->collective_timeout_seconds, cases[i].seconds), "%s", json);
        zo_config_destroy(&config);
    }
}

Test(config, max_pinned_bytes_takes_a_count_or_a_size_with_a_unit)
{
    static const byte_size_case cases[] = {
        {"0", 0},
        {"4096", 4096},
        {"\"4096\"", 4096},
        {"\"512MiB\"", 512ull << 20},
        {"\"1GB\"", 1000000000ull},
        {"\"2TiB\"", 2ull << 40},
        {"\"100B\"", 100},
        {"1.6e10", 16000000000ull},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char json[128];
        snprintf(json, sizeof json, "{\"zo\": {\"max_pinned_bytes\": %s}}", cases[i].value);
        zo_config *config = parse_ok(json);
        cr_assert(eq(u64, zo_config_settings(config)->max_pinned_bytes, cases[i].bytes), "%s",
                  json);
        zo_config_destroy(&config);
    }
}

/* A config that must fail: the status, and words the message must hold (the key's
 * path, the suggestion, the line and column, the allowed range). */
typedef struct bad_config {
    const char *json;
    zo_status status;
    const char *expect;
    const char *also; /* NULL, or a second string the message must hold */
} bad_config;

static const bad_config bad_configs[] = {
    /* typos, at every level */
    {"{\"train_batch_sise\": 8}", ZO_ERR_CONFIG, "unknown key \"train_batch_sise\"",
     "did you mean \"train_batch_size\"?"},
    {"{\"fp16\": {\"loss_scale_windw\": 10}}", ZO_ERR_CONFIG,
     "unknown key \"fp16.loss_scale_windw\"", "did you mean \"loss_scale_window\"?"},
    {"{\"Fp16\": {}}", ZO_ERR_CONFIG, "unknown key \"Fp16\"", "did you mean \"fp16\"?"},
    {"{\"zero_optimisation\": {\"stage\": 2}}", ZO_ERR_CONFIG, "\"zero_optimisation\"",
     "did you mean \"zero_optimization\"?"},
    {"{\"optimizer\": {\"type\": \"Adam\", \"params\": {\"weight_decya\": 0.1}}}", ZO_ERR_CONFIG,
     "unknown key \"optimizer.params.weight_decya\"", "did you mean \"weight_decay\"?"},
    {"{\"optimizer\": {\"typ\": \"Adam\"}}", ZO_ERR_CONFIG, "\"optimizer.typ\"",
     "did you mean \"type\"?"},
    {"{\"zero_optimization\": {\"offload_optimizer\": {\"device\": \"cpu\", \"pin_memroy\": "
     "true}}}",
     ZO_ERR_CONFIG, "\"zero_optimization.offload_optimizer.pin_memroy\"",
     "did you mean \"pin_memory\"?"},
    {"{\"zero_optimization\": {\"overlap_com\": true}}", ZO_ERR_CONFIG,
     "\"zero_optimization.overlap_com\"", "did you mean \"overlap_comm\"?"},
    {"{\"zo\": {\"thread\": 4}}", ZO_ERR_CONFIG, "unknown key \"zo.thread\"",
     "did you mean \"threads\"?"},
    {"{\"steps_per_prnt\": 10}", ZO_ERR_CONFIG, "\"steps_per_prnt\"",
     "did you mean \"steps_per_print\"?"},
    {"{\"scheduler\": {\"type\": \"WarmupLR\", \"params\": {\"cos_min_ratio\": 0.1}}}",
     ZO_ERR_CONFIG, "unknown key \"scheduler.params.cos_min_ratio\"", "not a WarmupLR parameter"},
    {"{\"bogus\": 1}", ZO_ERR_CONFIG, "unknown key \"bogus\"", NULL},
    /* wrong types */
    {"{\"fp16\": {\"hysteresis\": \"two\"}}", ZO_ERR_CONFIG,
     "fp16.hysteresis must be an integer, got string \"two\"", NULL},
    {"{\"fp16\": {\"enabled\": \"true\"}}", ZO_ERR_CONFIG,
     "fp16.enabled must be true or false, got string \"true\"", NULL},
    {"{\"optimizer\": {\"type\": \"Adam\", \"params\": {\"lr\": \"1e-3\"}}}", ZO_ERR_CONFIG,
     "optimizer.params.lr must be a number, got string", NULL},
    {"{\"optimizer\": {\"type\": 5}}", ZO_ERR_CONFIG,
     "optimizer.type must be a string, got integer 5", NULL},
    {"{\"zero_optimization\": [2]}", ZO_ERR_CONFIG,
     "zero_optimization must be an object, got array", NULL},
    {"{\"zo\": {\"delayed_param_update\": null}}", ZO_ERR_CONFIG,
     "zo.delayed_param_update must be true or false, got null", NULL},
    {"{\"zo\": {\"trace\": 1}}", ZO_ERR_CONFIG, "zo.trace must be a string, got integer 1", NULL},
    {"{\"zo\": {\"bind\": 4}}", ZO_ERR_CONFIG, "zo.bind must be a string, got integer 4", NULL},
    {"{\"zo\": {\"bind\": \"\"}}", ZO_ERR_CONFIG,
     "zo.bind is \"\", must be \"auto\", \"none\" or a CPU list", "the list is empty"},
    {"{\"zo\": {\"bind\": \"all\"}}", ZO_ERR_CONFIG, "zo.bind is \"all\"",
     "a CPU number (0..65535) is expected at character 1"},
    {"{\"zo\": {\"bind\": \"0-\"}}", ZO_ERR_CONFIG, "zo.bind is \"0-\"",
     "the range at character 1 has no end"},
    {"{\"zo\": {\"bind\": \"4,7-5\"}}", ZO_ERR_CONFIG, "zo.bind is \"4,7-5\"",
     "the range 7-5 runs backwards"},
    {"{\"zo\": {\"bind\": \"0 1\"}}", ZO_ERR_CONFIG, "zo.bind is \"0 1\"",
     "unexpected ' ' at character 2"},
    {"{\"zo\": {\"bind\": \"0x3\"}}", ZO_ERR_CONFIG, "zo.bind is \"0x3\"",
     "unexpected 'x' at character 2"},
    {"{\"zo\": {\"bind\": \"70000\"}}", ZO_ERR_CONFIG, "zo.bind is \"70000\"",
     "a CPU number (0..65535) is expected at character 1"},
    {"{\"zo\": {\"bind\": \"None\"}}", ZO_ERR_CONFIG, "zo.bind is \"None\"", NULL},
    {"{\"zo\": {\"threads\": \"all\"}}", ZO_ERR_CONFIG,
     "zo.threads must be an integer, got string \"all\"", NULL},
    /* whole numbers */
    {"{\"train_batch_size\": 8.5}", ZO_ERR_CONFIG,
     "train_batch_size must be an integer, got number 8.5", NULL},
    {"{\"zero_optimization\": {\"stage\": 1.5}}", ZO_ERR_CONFIG,
     "zero_optimization.stage must be an integer, got number 1.5", NULL},
    {"{\"train_batch_size\": 1e30}", ZO_ERR_CONFIG, "train_batch_size is 1e+30",
     "too large for an integer"},
    /* out of range */
    {"{\"train_batch_size\": 0}", ZO_ERR_CONFIG, "train_batch_size is 0, must be >= 1", NULL},
    {"{\"gradient_clipping\": -1}", ZO_ERR_CONFIG, "gradient_clipping is -1, must be >= 0", NULL},
    {"{\"fp16\": {\"initial_scale_power\": 63}}", ZO_ERR_CONFIG,
     "fp16.initial_scale_power is 63, must be in [0, 62]", NULL},
    {"{\"fp16\": {\"loss_scale_window\": 0}}", ZO_ERR_CONFIG,
     "fp16.loss_scale_window is 0, must be >= 1", NULL},
    {"{\"fp16\": {\"hysteresis\": 3e9}}", ZO_ERR_CONFIG,
     "fp16.hysteresis is 3000000000, must be in [1, 2147483647]", NULL},
    {"{\"fp16\": {\"min_loss_scale\": 0}}", ZO_ERR_CONFIG, "fp16.min_loss_scale is 0, must be > 0",
     NULL},
    {"{\"optimizer\": {\"type\": \"Adam\", \"params\": {\"betas\": [0.9, 1.0]}}}", ZO_ERR_CONFIG,
     "optimizer.params.betas[1] is 1, must be in [0, 1)", NULL},
    {"{\"optimizer\": {\"type\": \"Adam\", \"params\": {\"betas\": [0.9, 0.999999999]}}}",
     ZO_ERR_CONFIG, "optimizer.params.betas[1] is 0.999999999, which is 1 as a float", NULL},
    {"{\"optimizer\": {\"type\": \"Adam\", \"params\": {\"betas\": [0.9]}}}", ZO_ERR_CONFIG,
     "optimizer.params.betas must be an array of two numbers", "got an array of 1"},
    {"{\"optimizer\": {\"type\": \"Adam\", \"params\": {\"betas\": 0.9}}}", ZO_ERR_CONFIG,
     "optimizer.params.betas must be an array of two numbers", "got number 0.9"},
    {"{\"optimizer\": {\"type\": \"Adam\", \"params\": {\"eps\": 0}}}", ZO_ERR_CONFIG,
     "optimizer.params.eps is 0, must be > 0", NULL},
    {"{\"optimizer\": {\"type\": \"Adam\", \"params\": {\"eps\": 1e-50}}}", ZO_ERR_CONFIG,
     "optimizer.params.eps is 1e-50, which is 0 as a float", NULL},
    {"{\"optimizer\": {\"type\": \"Adam\", \"params\": {\"lr\": 1e39}}}", ZO_ERR_CONFIG,
     "optimizer.params.lr is 1e+39, which is inf as a float", NULL},
    {"{\"optimizer\": {\"type\": \"AdamW\", \"params\": {\"weight_decay\": -0.1}}}", ZO_ERR_CONFIG,
     "optimizer.params.weight_decay is -0.1, must be >= 0", NULL},
    {"{\"zero_optimization\": {\"reduce_bucket_size\": -5}}", ZO_ERR_CONFIG,
     "zero_optimization.reduce_bucket_size is -5, must be >= 1", NULL},
    {"{\"zero_optimization\": {\"allgather_bucket_size\": 0}}", ZO_ERR_CONFIG,
     "zero_optimization.allgather_bucket_size is 0, must be >= 1", NULL},
    {"{\"zero_optimization\": {\"stage\": 4}}", ZO_ERR_CONFIG,
     "zero_optimization.stage is 4, must be 0, 1, 2 or 3", NULL},
    {"{\"zero_optimization\": {\"stage\": -1}}", ZO_ERR_CONFIG,
     "zero_optimization.stage is -1, must be 0, 1, 2 or 3", NULL},
    {"{\"scheduler\": {\"type\": \"WarmupCosineLR\", \"params\": {\"total_num_steps\": 10,"
     " \"warmup_min_ratio\": 1.5}}}",
     ZO_ERR_CONFIG, "scheduler.params.warmup_min_ratio is 1.5, must be in [0, 1]", NULL},
    {"{\"zo\": {\"threads\": -1}}", ZO_ERR_CONFIG, "zo.threads is -1, must be >= 0", NULL},
    {"{\"zo\": {\"collective_timeout_seconds\": -1}}", ZO_ERR_CONFIG,
     "zo.collective_timeout_seconds is -1, must be >= 0", NULL},
    {"{\"zo\": {\"collective_timeout_seconds\": \"10s\"}}", ZO_ERR_CONFIG,
     "zo.collective_timeout_seconds must be a number, got", NULL},
    {"{\"zo\": {\"max_pinned_bytes\": -1}}", ZO_ERR_CONFIG,
     "zo.max_pinned_bytes is -1, must be >= 0", NULL},
    {"{\"zo\": {\"max_pinned_bytes\": \"8 gigs\"}}", ZO_ERR_CONFIG,
     "zo.max_pinned_bytes is \"8 gigs\", must be a byte count", NULL},
    /* names from a fixed set */
    {"{\"zo\": {\"device\": \"gpu\"}}", ZO_ERR_CONFIG,
     "zo.device is \"gpu\", must be one of \"auto\", \"host\", \"cuda\"", NULL},
    {"{\"zo\": {\"comm\": \"nccl\"}}", ZO_ERR_CONFIG,
     "zo.comm is \"nccl\", must be one of \"auto\", \"single\", \"mpi\"", NULL},
    {"{\"zo\": {\"moments_dtype\": \"fp16\"}}", ZO_ERR_CONFIG,
     "zo.moments_dtype is \"fp16\", must be one of \"f32\", \"bf16\", \"8bit\"", NULL},
    {"{\"zo\": {\"moments_dtype\": \"int8\"}}", ZO_ERR_CONFIG,
     "zo.moments_dtype is \"int8\", must be one of \"f32\", \"bf16\", \"8bit\"", NULL},
    {"{\"zero_optimization\": {\"offload_optimizer\": {\"device\": \"gpu\"}}}", ZO_ERR_CONFIG,
     "zero_optimization.offload_optimizer.device is \"gpu\", must be one of \"none\", \"cpu\", "
     "\"nvme\"",
     NULL},
    {"{\"scheduler\": {\"type\": \"WarmupLR\", \"params\": {\"warmup_type\": \"cosine\"}}}",
     ZO_ERR_CONFIG,
     "scheduler.params.warmup_type is \"cosine\", must be one of \"log\", \"linear\"", NULL},
    /* what zo does not have */
    {"{\"optimizer\": {\"type\": \"Adam\", \"params\": {\"amsgrad\": true}}}", ZO_ERR_NOT_SUPPORTED,
     "amsgrad is not supported", "optimizer.params.amsgrad"},
    {"{\"optimizer\": {\"type\": \"Lamb\", \"params\": {\"lr\": 1e-3}}}", ZO_ERR_NOT_SUPPORTED,
     "optimizer.type \"Lamb\" is not supported", "\"Adam\" and \"AdamW\""},
    {"{\"optimizer\": {\"type\": \"OneBitAdam\"}}", ZO_ERR_NOT_SUPPORTED,
     "optimizer.type \"OneBitAdam\" is not supported", NULL},
    {"{\"scheduler\": {\"type\": \"OneCycle\", \"params\": {\"cycle_min_lr\": 0}}}",
     ZO_ERR_NOT_SUPPORTED, "scheduler.type \"OneCycle\" is not supported", "WarmupCosineLR"},
    {"{\"scheduler\": {\"type\": \"LRRangeTest\"}}", ZO_ERR_NOT_SUPPORTED,
     "scheduler.type \"LRRangeTest\" is not supported", NULL},
    /* keys that only mean something together */
    {"{\"fp16\": {\"enabled\": true}, \"bf16\": {\"enabled\": true}}", ZO_ERR_CONFIG,
     "fp16.enabled and bf16.enabled are both true", NULL},
    {"{\"bf16\": {\"enabled\": true}, \"bfloat16\": {\"enabled\": true}}", ZO_ERR_CONFIG,
     "not both", NULL},
    {"{\"scheduler\": {\"type\": \"WarmupDecayLR\", \"params\": {\"warmup_num_steps\": 10}}}",
     ZO_ERR_CONFIG, "scheduler.params.total_num_steps is required by WarmupDecayLR", NULL},
    {"{\"scheduler\": {\"type\": \"WarmupCosineLR\", \"params\": {\"total_num_steps\": \"auto\"}}}",
     ZO_ERR_CONFIG, "scheduler.params.total_num_steps is required by WarmupCosineLR", NULL},
    {"{\"scheduler\": {\"params\": {}}}", ZO_ERR_CONFIG, "scheduler.type is required", NULL},
    /* a scale the loop reads as a float must be one */
    {"{\"fp16\": {\"enabled\": true, \"loss_scale\": 1e300}}", ZO_ERR_CONFIG,
     "fp16.loss_scale 1e+300 overflows a float", NULL},
    {"{\"fp16\": {\"enabled\": true, \"min_loss_scale\": 1e39}}", ZO_ERR_CONFIG,
     "fp16.min_loss_scale 1e+39 overflows a float", NULL},
    {"{\"fp16\": {\"enabled\": true, \"loss_scale\": 1e999}}", ZO_ERR_CONFIG, "line 1", NULL},
    {"{\"optimizer\": {\"params\": {\"lr\": 1e-4}}}", ZO_ERR_CONFIG, "optimizer.type is required",
     NULL},
    {"{\"zero_optimization\": {\"cpu_offload\": true, \"offload_optimizer\": {\"device\": "
     "\"cpu\"}}}",
     ZO_ERR_CONFIG, "cannot be given together", NULL},
    /* JSON itself */
    {"{\n  \"fp16\": {\"enabled\": true},\n  \"fp16\": {\"enabled\": false}\n}", ZO_ERR_CONFIG,
     "line 3, column 8", "duplicate object key"},
    {"{\"train_batch_size\": 8,}", ZO_ERR_CONFIG, "line 1, column 24", "'}' expected"},
    {"{\"fp16\": {\"enabled\": tru}}", ZO_ERR_CONFIG, "line 1, column", "invalid token"},
    {"", ZO_ERR_CONFIG, "line 1, column 0", "end of file"},
    {"[1, 2]", ZO_ERR_CONFIG, "must be a JSON object at the top level, got array", NULL},
    {"42", ZO_ERR_CONFIG, "line 1, column 2", "expected near '42'"},
};

/* Each test runs in a fresh process where the table's strings may sit at other
 * addresses: the parameters and their strings go to Criterion's shared memory. */
static char *shared_strdup(const char *text)
{
    if (!text)
        return NULL;
    char *copy = cr_malloc(strlen(text) + 1);
    cr_assert(copy != NULL);
    strcpy(copy, text);
    return copy;
}

static void free_bad_configs(struct criterion_test_params *params)
{
    bad_config *cases = params->params;
    for (size_t i = 0; i < params->length; i++) {
        cr_free((void *)cases[i].json);
        cr_free((void *)cases[i].expect);
        cr_free((void *)cases[i].also);
    }
    cr_free(cases);
}

ParameterizedTestParameters(config, rejects_bad_configs)
{
    size_t count = sizeof bad_configs / sizeof bad_configs[0];
    bad_config *cases = cr_malloc(count * sizeof *cases);
    cr_assert(cases != NULL);
    for (size_t i = 0; i < count; i++)
        cases[i] =
            (bad_config){shared_strdup(bad_configs[i].json), bad_configs[i].status,
                         shared_strdup(bad_configs[i].expect), shared_strdup(bad_configs[i].also)};
    return cr_make_param_array(bad_config, cases, count, free_bad_configs);
}

ParameterizedTest(bad_config *bad, config, rejects_bad_configs)
{
    zo_config *config = (zo_config *)bad; /* anything but NULL: a failure must clear it */
    zo_status status = zo_config_from_string(bad->json, &config);
    const char *message = zo_last_error();
    cr_assert(eq(int, status, bad->status), "got %s (%s) for %s", zo_status_name(status), message,
              bad->json);
    cr_assert(config == NULL, "*out not cleared for %s", bad->json);
    cr_assert(strstr(message, bad->expect) != NULL, "message \"%s\" lacks \"%s\"", message,
              bad->expect);
    if (bad->also)
        cr_assert(strstr(message, bad->also) != NULL, "message \"%s\" lacks \"%s\"", message,
                  bad->also);
}

Test(config, refuses_a_trace_path_longer_than_trace_file)
{
    zo_settings settings;
    size_t length = sizeof settings.trace_file;
    char *json = malloc(length + 64);
    cr_assert(json != NULL);
    int prefix = snprintf(json, length + 64, "{\"zo\": {\"trace\": \"");
    memset(json + prefix, 'x', length);
    strcpy(json + prefix + length, "\"}}");
    zo_config *config = NULL;
    zo_status status = zo_config_from_string(json, &config);
    free(json);
    cr_assert(eq(int, status, ZO_ERR_CONFIG));
    cr_assert(strstr(zo_last_error(), "zo.trace is 1024 bytes long, must be under 1024") != NULL,
              "%s", zo_last_error());
}

/* A fresh directory under TMPDIR (or /tmp) for one test's files. */
static char temp_dir[256];

static void make_temp_dir(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(temp_dir, sizeof temp_dir, "%s/zo_test_config_XXXXXX", base && *base ? base : "/tmp");
    cr_assert(mkdtemp(temp_dir) != NULL, "mkdtemp(%s) failed", temp_dir);
}

static void write_file(const char *path, const char *text)
{
    FILE *file = fopen(path, "w");
    cr_assert(file != NULL, "cannot write %s", path);
    fputs(text, file);
    fclose(file);
}

Test(config_file, missing_file_is_an_io_error_naming_the_path)
{
    zo_config *config = NULL;
    zo_status status = zo_config_from_file("/nonexistent/zo/ds_config.json", &config);
    cr_assert(eq(int, status, ZO_ERR_IO));
    cr_assert(config == NULL);
    cr_assert(strstr(zo_last_error(), "/nonexistent/zo/ds_config.json") != NULL, "%s",
              zo_last_error());
    cr_assert(strstr(zo_last_error(), "No such file or directory") != NULL, "%s", zo_last_error());
}

Test(config_file, directory_is_an_io_error)
{
    make_temp_dir();
    zo_config *config = NULL;
    zo_status status = zo_config_from_file(temp_dir, &config);
    cr_assert(eq(int, status, ZO_ERR_IO), "%s", zo_last_error());
    cr_assert(config == NULL);
    cr_assert(strstr(zo_last_error(), temp_dir) != NULL, "%s", zo_last_error());
    rmdir(temp_dir);
}

Test(config_file, reads_a_config_file_and_names_it_in_syntax_errors)
{
    make_temp_dir();
    char good[512], bad[512];
    snprintf(good, sizeof good, "%s/ds_config.json", temp_dir);
    snprintf(bad, sizeof bad, "%s/broken.json", temp_dir);
    write_file(good, full_config);
    write_file(bad, "{\n  \"fp16\": {\n    \"enabled\": true,\n  }\n}\n");

    zo_config *config = NULL;
    zo_status status = zo_config_from_file(good, &config);
    cr_assert(eq(int, status, ZO_OK), "%s", zo_last_error());
    cr_assert(eq(int, zo_config_settings(config)->stage, 2));
    cr_assert(eq(str, (char *)zo_config_ignored_key(config, 0),
                 "zero_optimization.allgather_partitions"));
    zo_config_destroy(&config);

    status = zo_config_from_file(bad, &config);
    cr_assert(eq(int, status, ZO_ERR_CONFIG));
    cr_assert(config == NULL);
    cr_assert(strstr(zo_last_error(), bad) != NULL, "%s", zo_last_error());
    cr_assert(strstr(zo_last_error(), "line 4, column 3") != NULL, "%s", zo_last_error());

    unlink(good);
    unlink(bad);
    rmdir(temp_dir);
}

/* The bench's own suite configs have a top-level "adam" section; every other file in
 * bench/configs/ is an engine config and must parse. */
static bool is_bench_suite_config(const char *path)
{
    json_error_t error;
    json_t *root = json_load_file(path, 0, &error);
    cr_assert(root != NULL, "%s: line %d: %s", path, error.line, error.text);
    bool suite = json_is_object(root) && json_object_get(root, "adam") != NULL;
    json_decref(root);
    return suite;
}

Test(config_file, example_configs_in_bench_configs_parse)
{
    const char *directory = ZO_SOURCE_DIR "/bench/configs";
    DIR *dir = opendir(directory);
    cr_assert(dir != NULL, "cannot open %s", directory);
    size_t parsed = 0;
    for (struct dirent *entry; (entry = readdir(dir)) != NULL;) {
        size_t length = strlen(entry->d_name);
        if (length < 5 || strcmp(entry->d_name + length - 5, ".json") != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", directory, entry->d_name);
        if (is_bench_suite_config(path))
            continue;
        zo_config *config = NULL;
        zo_status status = zo_config_from_file(path, &config);
        cr_assert(eq(int, status, ZO_OK), "%s: %s", entry->d_name, zo_last_error());
        zo_config_destroy(&config);
        parsed++;
    }
    closedir(dir);
    cr_assert(ge(sz, parsed, 2), "only %zu engine configs in %s", parsed, directory);
}

Test(config_api, null_arguments_are_refused_and_destroy_is_safe)
{
    zo_config *config = (zo_config *)&config;
    cr_assert(eq(int, zo_config_from_string(NULL, &config), ZO_ERR_INVALID_ARGUMENT));
    cr_assert(config == NULL);
    cr_assert(eq(int, zo_config_from_string("{}", NULL), ZO_ERR_INVALID_ARGUMENT));
    config = (zo_config *)&config;
    cr_assert(eq(int, zo_config_from_file(NULL, &config), ZO_ERR_INVALID_ARGUMENT));
    cr_assert(config == NULL);
    cr_assert(eq(int, zo_config_from_file("x.json", NULL), ZO_ERR_INVALID_ARGUMENT));
    cr_assert(strstr(zo_last_error(), "out is NULL") != NULL, "%s", zo_last_error());

    cr_assert(zo_config_settings(NULL) == NULL);
    cr_assert(eq(sz, zo_config_ignored_count(NULL), 0));
    cr_assert(zo_config_ignored_key(NULL, 0) == NULL);
    zo_default_settings(NULL);

    zo_config_destroy(NULL);
    zo_config_destroy(&config); /* *config is NULL */
    config = parse_ok("{}");
    zo_config_destroy(&config);
    cr_assert(config == NULL);
    zo_config_destroy(&config);
}

Test(config, eight_bit_moments_are_accepted)
{
    zo_config *config = NULL;
    cr_assert(eq(int, zo_config_from_string("{\"zo\": {\"moments_dtype\": \"8bit\"}}", &config), ZO_OK), "%s",
              zo_last_error());
    cr_assert(eq(int, zo_config_settings(config)->moments_dtype, ZO_DTYPE_Q8));
    zo_config_destroy(&config);
}

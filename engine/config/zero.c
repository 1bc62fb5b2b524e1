/* Config readers for "bf16" and "zero_optimization": the stage, where the optimizer
 * state and (stage 3) the parameters live, and the two spellings DeepSpeed accepts. */
#include <stdio.h>

#include "handlers.h"
#include "keys.h"
#include "error.h"

/* Reached under "bf16" and under its old name "bfloat16"; giving both would leave one
 * silently overriding the other. */
zo_status zo_config_read_bf16(zo_config_reader *reader, json_t *value, const char *path)
{
    if (reader->bf16_seen)
        return zo_fail(ZO_ERR_CONFIG, "%s: give \"bf16\" or its old name \"bfloat16\", not both",
                       path);
    reader->bf16_seen = true;
    return zo_config_read_section(reader, value, path, &zo_config_bf16_keys);
}

/* DeepSpeed names stage 3's sizes "<name>" and accepts "stage3_<name>" as an alias;
 * keys.c maps both to one field. Given both, one would silently win. */
static const char *const zo_stage3_aliases[][2] = {
    {"stage3_prefetch_bucket_size", "prefetch_bucket_size"},
    {"stage3_max_live_parameters", "max_live_parameters"},
    {"stage3_param_persistence_threshold", "param_persistence_threshold"},
    {"stage3_model_persistence_threshold", "model_persistence_threshold"},
};

static zo_status zo_check_one_spelling(json_t *zero, const char *path)
{
    for (size_t i = 0; i < sizeof zo_stage3_aliases / sizeof zo_stage3_aliases[0]; i++)
        if (json_object_get(zero, zo_stage3_aliases[i][0]) &&
            json_object_get(zero, zo_stage3_aliases[i][1]))
            return zo_fail(ZO_ERR_CONFIG, "%s: give \"%s\" or its other name \"%s\", not both",
                           path, zo_stage3_aliases[i][0], zo_stage3_aliases[i][1]);
    return ZO_OK;
}

/* DeepSpeed's oldest form, "zero_optimization": true, means stage 1. */
zo_status zo_config_read_zero(zo_config_reader *reader, json_t *value, const char *path)
{
    if (json_is_boolean(value)) {
        reader->config->settings.stage = json_is_true(value) ? 1 : 0;
        return ZO_OK;
    }
    zo_status status = zo_config_read_section(reader, value, path, &zo_config_zero_keys);
    if (status == ZO_OK)
        status = zo_check_one_spelling(value, path);
    return status;
}

/* Stage 3 is a config zo reads in full; whether the engine runs it is the engine's
 * to say (engine.c). */
zo_status zo_config_check_stage(long long stage, const char *path)
{
    if (stage < 0 || stage > 3)
        return zo_fail(ZO_ERR_CONFIG, "%s is %lld, must be 0, 1, 2 or 3", path, stage);
    return ZO_OK;
}

zo_status zo_config_read_stage(zo_config_reader *reader, json_t *value, const char *path)
{
    long long stage = 0;
    zo_status status = zo_config_read_whole(value, path, &stage);
    if (status == ZO_OK)
        status = zo_config_check_stage(stage, path);
    if (status == ZO_OK)
        reader->config->settings.stage = (int)stage;
    return status;
}

zo_status zo_config_check_zero_settings(const zo_settings *settings)
{
    char label[ZO_CONFIG_PATH_BYTES];
    zo_config_settings_label(label, "stage", "zero_optimization.stage");
    return zo_config_check_stage(settings->stage, label);
}

/* An offload_optimizer object without a device offloads nothing, as in DeepSpeed. */
zo_status zo_config_read_offload_optimizer(zo_config_reader *reader, json_t *value,
                                           const char *path)
{
    reader->offload_optimizer_seen = true;
    return zo_config_read_section(reader, value, path, &zo_config_offload_optimizer_keys);
}

/* "none", "cpu" or "nvme". Parameters go to host memory only (NVMe refused by name);
 * the optimizer state may go to NVMe files (`nvme`: NULL for parameters). *offloaded:
 * whether it leaves the device ("cpu" or "nvme"). */
static zo_status zo_read_offload_target(json_t *value, const char *path, bool *offloaded, bool *nvme)
{
    static const char *const devices[] = {"none", "cpu", "nvme"};
    size_t index = 0;
    zo_status status = zo_config_read_choice(value, path, devices, 3, &index);
    if (status != ZO_OK)
        return status;
    if (index == 2 && !nvme)
        return zo_fail(ZO_ERR_NOT_SUPPORTED,
                       "%s \"nvme\" is not supported: zo keeps offloaded parameters in host memory "
                       "(\"cpu\"); offload_optimizer.device \"nvme\" puts the optimizer state on NVMe",
                       path);
    *offloaded = index != 0;
    if (nvme)
        *nvme = index == 2;
    return ZO_OK;
}

zo_status zo_config_read_offload_device(zo_config_reader *reader, json_t *value, const char *path)
{
    zo_settings *s = &reader->config->settings;
    return zo_read_offload_target(value, path, &s->offload_optimizer, &s->nvme.enabled);
}

zo_status zo_config_read_offload_param_device(zo_config_reader *reader, json_t *value,
                                              const char *path)
{
    return zo_read_offload_target(value, path, &reader->config->settings.offload_param, NULL);
}

/* The legacy boolean for offload_optimizer.device "cpu". DeepSpeed refuses it next to
 * offload_optimizer (checks.c). */
zo_status zo_config_read_cpu_offload(zo_config_reader *reader, json_t *value, const char *path)
{
    reader->cpu_offload_seen = true;
    return zo_config_read_bool(value, path, &reader->config->settings.offload_optimizer);
}

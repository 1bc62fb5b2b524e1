/* Config readers for "bf16" and "zero_optimization": the stage, where the optimizer
 * state lives, and the legacy spellings DeepSpeed still accepts. */
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

/* DeepSpeed's oldest form, "zero_optimization": true, means stage 1. */
zo_status zo_config_read_zero(zo_config_reader *reader, json_t *value, const char *path)
{
    if (json_is_boolean(value)) {
        reader->config->settings.stage = json_is_true(value) ? 1 : 0;
        return ZO_OK;
    }
    return zo_config_read_section(reader, value, path, &zo_config_zero_keys);
}

zo_status zo_config_check_stage(long long stage, const char *path)
{
    if (stage == 3)
        return zo_fail(ZO_ERR_NOT_SUPPORTED,
                       "%s is 3: ZeRO stage 3 is not supported yet (use 0, 1 or 2)", path);
    if (stage < 0 || stage > 2)
        return zo_fail(ZO_ERR_CONFIG, "%s is %lld, must be 0, 1 or 2", path, stage);
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

zo_status zo_config_read_offload_device(zo_config_reader *reader, json_t *value, const char *path)
{
    static const char *const devices[] = {"none", "cpu", "nvme"};
    size_t index = 0;
    zo_status status = zo_config_read_choice(value, path, devices, 3, &index);
    if (status != ZO_OK)
        return status;
    if (index == 2)
        return zo_fail(ZO_ERR_NOT_SUPPORTED,
                       "%s \"nvme\" is not supported: zo keeps the optimizer state in host "
                       "memory (\"cpu\")",
                       path);
    reader->config->settings.offload_optimizer = index == 1;
    return ZO_OK;
}

/* The legacy boolean for offload_optimizer.device "cpu". DeepSpeed refuses it next to
 * offload_optimizer (checks.c). */
zo_status zo_config_read_cpu_offload(zo_config_reader *reader, json_t *value, const char *path)
{
    reader->cpu_offload_seen = true;
    return zo_config_read_bool(value, path, &reader->config->settings.offload_optimizer);
}

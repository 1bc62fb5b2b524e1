/* Config readers for "optimizer" and "scheduler": their types, the betas pair, the
 * Adam flags, and scheduler params that depend on the scheduler's type. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "handlers.h"
#include "keys.h"
#include "error.h"

const zo_config_range zo_config_beta_range = {.min = 0, .max = 1, .max_open = true};
const zo_config_range zo_config_total_num_steps_range = {.min = 1, .max = INFINITY};

zo_status zo_config_read_optimizer(zo_config_reader *reader, json_t *value, const char *path)
{
    reader->optimizer_seen = true;
    return zo_config_read_section(reader, value, path, &zo_config_optimizer_keys);
}

/* Case-insensitive, as DeepSpeed lower-cases the type before comparing. */
zo_status zo_config_read_optimizer_type(zo_config_reader *reader, json_t *value, const char *path)
{
    const char *type = NULL;
    zo_status status = zo_config_read_string(value, path, &type);
    if (status != ZO_OK)
        return status;
    if (strcasecmp(type, "Adam") == 0)
        reader->optimizer_type = ZO_OPTIMIZER_ADAM;
    else if (strcasecmp(type, "AdamW") == 0)
        reader->optimizer_type = ZO_OPTIMIZER_ADAMW;
    else
        return zo_fail(ZO_ERR_NOT_SUPPORTED,
                       "%s \"%.40s\" is not supported: zo has \"Adam\" and \"AdamW\"", path, type);
    return ZO_OK;
}

zo_status zo_config_read_betas(zo_config_reader *reader, json_t *value, const char *path)
{
    if (!json_is_array(value) || json_array_size(value) != 2) {
        char got[96];
        if (json_is_array(value))
            snprintf(got, sizeof got, "an array of %zu", json_array_size(value));
        else
            zo_config_describe(value, got, sizeof got);
        return zo_fail(ZO_ERR_CONFIG, "%s must be an array of two numbers [beta1, beta2], got %s",
                       path, got);
    }
    float *targets[2] = {&reader->config->settings.adam.beta1,
                         &reader->config->settings.adam.beta2};
    for (size_t i = 0; i < 2; i++) {
        char element[ZO_CONFIG_PATH_BYTES];
        snprintf(element, sizeof element, "%s[%zu]", path, i);
        zo_status status =
            zo_config_read_float(json_array_get(value, i), element, zo_config_beta_range, targets[i]);
        if (status != ZO_OK)
            return status;
    }
    return ZO_OK;
}

/* Resolved with the type once the whole optimizer is read (checks.c). */
zo_status zo_config_read_adam_w_mode(zo_config_reader *reader, json_t *value, const char *path)
{
    return zo_config_read_bool(value, path, &reader->adam_w_mode);
}

zo_status zo_config_read_amsgrad(zo_config_reader *reader, json_t *value, const char *path)
{
    (void)reader;
    bool amsgrad = false;
    zo_status status = zo_config_read_bool(value, path, &amsgrad);
    if (status != ZO_OK)
        return status;
    if (amsgrad)
        return zo_fail(ZO_ERR_NOT_SUPPORTED, "%s is true: amsgrad is not supported", path);
    return ZO_OK;
}

/* The type is read before the rest, wherever it stands in the object: it decides
 * which params are allowed. */
zo_status zo_config_read_scheduler(zo_config_reader *reader, json_t *value, const char *path)
{
    if (!json_is_object(value))
        return zo_config_read_section(reader, value, path, &zo_config_scheduler_keys);
    char type_path[ZO_CONFIG_PATH_BYTES];
    zo_config_join_path(type_path, path, "type");
    json_t *type = json_object_get(value, "type");
    if (!type || zo_config_is_auto(type))
        return zo_fail(ZO_ERR_CONFIG,
                       "%s is required: \"WarmupLR\", \"WarmupDecayLR\" or \"WarmupCosineLR\"",
                       type_path);
    zo_status status = zo_config_read_scheduler_type(reader, type, type_path);
    if (status != ZO_OK)
        return status;
    return zo_config_walk(reader, value, path, &zo_config_scheduler_keys);
}

/* Exact names, as DeepSpeed looks the class up by name. */
zo_status zo_config_read_scheduler_type(zo_config_reader *reader, json_t *value, const char *path)
{
    static const struct {
        const char *name;
        zo_scheduler_kind kind;
    } known[] = {{"WarmupLR", ZO_SCHEDULER_WARMUP_LR},
                 {"WarmupDecayLR", ZO_SCHEDULER_WARMUP_DECAY_LR},
                 {"WarmupCosineLR", ZO_SCHEDULER_WARMUP_COSINE_LR}};
    const char *type = NULL;
    zo_status status = zo_config_read_string(value, path, &type);
    if (status != ZO_OK)
        return status;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(type, known[i].name) == 0) {
            reader->config->settings.scheduler.kind = known[i].kind;
            return ZO_OK;
        }
    return zo_fail(ZO_ERR_NOT_SUPPORTED,
                   "%s \"%.40s\" is not supported: zo has \"WarmupLR\", \"WarmupDecayLR\" and "
                   "\"WarmupCosineLR\"",
                   path, type);
}

const zo_config_table *zo_config_scheduler_params_keys(zo_scheduler_kind kind)
{
    switch (kind) {
    case ZO_SCHEDULER_WARMUP_LR: return &zo_config_warmup_lr_keys;
    case ZO_SCHEDULER_WARMUP_DECAY_LR: return &zo_config_warmup_decay_lr_keys;
    case ZO_SCHEDULER_WARMUP_COSINE_LR: return &zo_config_warmup_cosine_lr_keys;
    case ZO_SCHEDULER_NONE: break;
    }
    return NULL;
}

zo_status zo_config_read_scheduler_params(zo_config_reader *reader, json_t *value, const char *path)
{
    const zo_config_table *params = zo_config_scheduler_params_keys(reader->config->settings.scheduler.kind);
    if (!params)
        return zo_fail(ZO_ERR_INTERNAL, "%s read before the scheduler's type", path);
    return zo_config_read_section(reader, value, path, params);
}

zo_status zo_config_read_warmup_type(zo_config_reader *reader, json_t *value, const char *path)
{
    static const char *const names[] = {"log", "linear"};
    static const zo_warmup_type types[] = {ZO_WARMUP_LOG, ZO_WARMUP_LINEAR};
    size_t index = 0;
    zo_status status = zo_config_read_choice(value, path, names, 2, &index);
    if (status == ZO_OK)
        reader->config->settings.scheduler.warmup_type = types[index];
    return status;
}

zo_status zo_config_read_total_num_steps(zo_config_reader *reader, json_t *value, const char *path)
{
    zo_status status = zo_config_read_u64(value, path, zo_config_total_num_steps_range,
                                          &reader->config->settings.scheduler.total_num_steps);
    if (status == ZO_OK)
        reader->total_num_steps_given = true;
    return status;
}

/* The optimizer and scheduler values a zo_settings holds that no key table ranges:
 * what read_betas, read_scheduler_type, read_warmup_type and the check that
 * total_num_steps is given (checks.c) refuse in JSON. */
zo_status zo_config_check_optimizer_settings(const zo_settings *settings)
{
    char label[ZO_CONFIG_PATH_BYTES];
    const float betas[2] = {settings->adam.beta1, settings->adam.beta2};
    for (size_t i = 0; i < 2; i++) {
        char key[32];
        snprintf(key, sizeof key, "optimizer.params.betas[%zu]", i);
        zo_config_settings_label(label, i == 0 ? "adam.beta1" : "adam.beta2", key);
        zo_status status = zo_config_check_float(label, betas[i], zo_config_beta_range);
        if (status != ZO_OK)
            return status;
    }
    const zo_scheduler_settings *scheduler = &settings->scheduler;
    if (scheduler->kind == ZO_SCHEDULER_NONE)
        return ZO_OK;
    if (!zo_config_scheduler_params_keys(scheduler->kind)) {
        zo_config_settings_label(label, "scheduler.kind", "scheduler.type");
        return zo_fail(ZO_ERR_CONFIG, "%s is %d, not a zo_scheduler_kind", label, (int)scheduler->kind);
    }
    if (scheduler->warmup_type != ZO_WARMUP_LOG && scheduler->warmup_type != ZO_WARMUP_LINEAR) {
        zo_config_settings_label(label, "scheduler.warmup_type", "scheduler.params.warmup_type");
        return zo_fail(ZO_ERR_CONFIG, "%s is %d, not a zo_warmup_type", label, (int)scheduler->warmup_type);
    }
    if (scheduler->kind == ZO_SCHEDULER_WARMUP_LR)
        return ZO_OK;
    zo_config_settings_label(label, "scheduler.total_num_steps", "scheduler.params.total_num_steps");
    char shown[ZO_CONFIG_NUMBER_BYTES];
    snprintf(shown, sizeof shown, "%llu", (unsigned long long)scheduler->total_num_steps);
    zo_status status = zo_config_check_range(label, shown, (double)scheduler->total_num_steps,
                                             zo_config_total_num_steps_range);
    if (status == ZO_OK && scheduler->total_num_steps > LLONG_MAX)
        status = zo_config_type_limits_error(label, shown, zo_config_total_num_steps_range, 0, LLONG_MAX);
    return status;
}

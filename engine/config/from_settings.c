/* zo_config_from_settings: a config from a zo_settings a C program filled, checked
 * with the JSON reader's own tables and checks, so both ways in accept the same
 * values. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks.h"
#include "error.h"
#include "handlers.h"
#include "keys.h"
#include "reader.h"

/* Bytes of each typed key's field. */
static size_t zo_field_size(zo_config_key_kind kind)
{
    switch (kind) {
    case ZO_KEY_U64: return sizeof(uint64_t);
    case ZO_KEY_INT: return sizeof(int);
    case ZO_KEY_DOUBLE: return sizeof(double);
    case ZO_KEY_FLOAT: return sizeof(float);
    default: return 0;
    }
}

/* One typed field against its key's range, as zo_config_walk checks a JSON value.
 * The default passes even outside the range: JSON reaches it by leaving the key out
 * (train_batch_size 0 means "not given", and a config cannot say 0). */
static zo_status zo_check_field(const zo_settings *settings, const zo_settings *defaults,
                                const zo_config_key *key, const char *key_path)
{
    const char *at = (const char *)settings + key->offset;
    size_t size = zo_field_size(key->kind);
    if (size == 0 || memcmp(at, (const char *)defaults + key->offset, size) == 0)
        return ZO_OK;
    char label[ZO_CONFIG_PATH_BYTES], shown[ZO_CONFIG_NUMBER_BYTES];
    zo_config_settings_label(label, key->field, key_path);
    switch (key->kind) {
    case ZO_KEY_U64: {
        uint64_t value;
        memcpy(&value, at, sizeof value);
        snprintf(shown, sizeof shown, "%llu", (unsigned long long)value);
        zo_status status = zo_config_check_range(label, shown, (double)value, key->range);
        /* the JSON reader holds whole numbers in a long long */
        if (status == ZO_OK && value > LLONG_MAX)
            status = zo_config_type_limits_error(label, shown, key->range, 0, LLONG_MAX);
        return status;
    }
    case ZO_KEY_INT: {
        int value;
        memcpy(&value, at, sizeof value);
        snprintf(shown, sizeof shown, "%d", value);
        return zo_config_check_range(label, shown, value, key->range);
    }
    case ZO_KEY_DOUBLE: {
        double value;
        memcpy(&value, at, sizeof value);
        return zo_config_check_double(label, value, key->range);
    }
    case ZO_KEY_FLOAT: {
        float value;
        memcpy(&value, at, sizeof value);
        return zo_config_check_float(label, value, key->range);
    }
    default: break;
    }
    return ZO_OK;
}

/* Every typed key of `table` and of the tables under it, at JSON path `path`. */
static zo_status zo_check_table(const zo_settings *settings, const zo_settings *defaults,
                                const zo_config_table *table, const char *path)
{
    for (size_t i = 0; i < table->count; i++) {
        const zo_config_key *key = &table->keys[i];
        if (zo_config_key_is_ignored(key))
            continue;
        char child[ZO_CONFIG_PATH_BYTES];
        zo_config_join_path(child, path, key->name);
        zo_status status = key->section ? zo_check_table(settings, defaults, key->section, child)
                                        : zo_check_field(settings, defaults, key, child);
        if (status != ZO_OK)
            return status;
    }
    return ZO_OK;
}

/* Bytes a later version may give a meaning: a program built against its header that
 * sets them must not run silently on this library. */
static zo_status zo_check_reserved(const zo_settings *settings)
{
    for (size_t i = 0; i < sizeof settings->reserved; i++)
        if (settings->reserved[i] != 0)
            return zo_fail(
                ZO_ERR_CONFIG,
                "zo_settings.reserved[%zu] is %d, must be 0 (start from zo_default_settings; "
                "a newer zo may give these bytes a meaning)",
                i, settings->reserved[i]);
    return ZO_OK;
}

static zo_status zo_check_settings(const zo_settings *settings)
{
    zo_settings defaults;
    zo_default_settings(&defaults);
    zo_status status = zo_check_table(settings, &defaults, &zo_config_root_keys, "");
    /* the scheduler's params are read with the table of its type (optimizer.c) */
    const zo_config_table *params = zo_config_scheduler_params_keys(settings->scheduler.kind);
    if (status == ZO_OK && params)
        status = zo_check_table(settings, &defaults, params, "scheduler.params");
    if (status == ZO_OK)
        status = zo_config_check_optimizer_settings(settings);
    if (status == ZO_OK)
        status = zo_config_check_zero_settings(settings);
    if (status == ZO_OK)
        status = zo_config_check_zo_settings(settings);
    if (status == ZO_OK)
        status = zo_config_check_precision(settings);
    if (status == ZO_OK)
        status = zo_config_check_offload_param(settings);
    if (status == ZO_OK)
        status = zo_config_check_nvme_settings(settings, true);
    if (status == ZO_OK)
        status = zo_check_reserved(settings);
    return status;
}

zo_status zo_config_from_settings(const zo_settings *settings, zo_config **out)
{
    if (!out)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_config_from_settings: out is NULL");
    *out = NULL;
    if (!settings)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_config_from_settings: settings is NULL");
    zo_status status = zo_check_settings(settings);
    if (status != ZO_OK)
        return status;
    zo_config *config = calloc(1, sizeof *config); /* no ignored keys: there was no JSON */
    if (!config)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "out of memory for a config");
    config->settings = *settings;
    *out = config;
    return ZO_OK;
}

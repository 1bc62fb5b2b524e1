/* Config readers for zo's own section, "zo": names that map to enums, the binding, the
 * trace path, and the byte counts (the pinned-memory cap, the device memory budget). */
#include <math.h>
#include <string.h>

#include "byte_size.h"
#include "topology/cpu_list.h"
#include "handlers.h"
#include "error.h"

/* The names of zo.device and zo.comm, in the order of their enums' values. */
static const char *const zo_device_names[] = {"auto", "host", "cuda"};
static const char *const zo_comm_names[] = {"auto", "single", "mpi"};

zo_status zo_config_read_device(zo_config_reader *reader, json_t *value, const char *path)
{
    size_t index = 0;
    zo_status status = zo_config_read_choice(value, path, zo_device_names, 3, &index);
    reader->config->settings.device = status == ZO_OK ? (zo_device_kind)index : reader->config->settings.device;
    return status;
}

zo_status zo_config_read_comm(zo_config_reader *reader, json_t *value, const char *path)
{
    size_t index = 0;
    zo_status status = zo_config_read_choice(value, path, zo_comm_names, 3, &index);
    reader->config->settings.comm = status == ZO_OK ? (zo_comm_kind)index : reader->config->settings.comm;
    return status;
}

/* Copies a string value into a fixed field of the settings, refusing one too long. */
static zo_status zo_config_copy_string(const char *path, const char *text, char *target,
                                       size_t room)
{
    if (strlen(text) >= room)
        return zo_fail(ZO_ERR_CONFIG, "%s is %zu bytes long, must be under %zu", path, strlen(text),
                       room);
    memcpy(target, text, strlen(text) + 1);
    return ZO_OK;
}

static zo_status zo_check_cpu_list(const char *path, const char *text)
{
    char problem[128];
    if (!zo_cpu_list_parse(text, NULL, NULL, problem, sizeof problem))
        return zo_fail(ZO_ERR_CONFIG,
                       "%s is \"%.40s\", must be \"auto\", \"none\" or a CPU list such as "
                       "\"0-3,8\": %s",
                       path, text, problem);
    return ZO_OK;
}

/* "none", or a CPU list checked here, so a typo is reported with the config and not
 * when the engine starts ("auto", the default, never reaches this reader). */
zo_status zo_config_read_bind(zo_config_reader *reader, json_t *value, const char *path)
{
    const char *text = NULL;
    zo_status status = zo_config_read_string(value, path, &text);
    if (status != ZO_OK)
        return status;
    zo_settings *settings = &reader->config->settings;
    if (strcmp(text, "none") == 0) {
        settings->bind = ZO_BIND_NONE;
        return ZO_OK;
    }
    status = zo_check_cpu_list(path, text);
    if (status == ZO_OK)
        status = zo_config_copy_string(path, text, settings->bind_cpus, sizeof settings->bind_cpus);
    if (status == ZO_OK)
        settings->bind = ZO_BIND_CPUS;
    return status;
}

zo_status zo_config_read_trace(zo_config_reader *reader, json_t *value, const char *path)
{
    const char *file = NULL;
    zo_status status = zo_config_read_string(value, path, &file);
    if (status != ZO_OK)
        return status;
    return zo_config_copy_string(path, file, reader->config->settings.trace_file,
                                 sizeof reader->config->settings.trace_file);
}

static const char *const zo_moments_dtype_names[] = {"f32", "bf16", "8bit"};
static const zo_dtype zo_moments_dtypes[] = {ZO_DTYPE_F32, ZO_DTYPE_BF16, ZO_DTYPE_Q8};

zo_status zo_config_read_moments_dtype(zo_config_reader *reader, json_t *value, const char *path)
{
    size_t index = 0;
    zo_status status = zo_config_read_choice(value, path, zo_moments_dtype_names,
                                             sizeof zo_moments_dtype_names / sizeof zo_moments_dtype_names[0], &index);
    if (status == ZO_OK)
        reader->config->settings.moments_dtype = zo_moments_dtypes[index];
    return status;
}

/* A byte count, or a string with a unit: "8GiB" reads better than 8589934592. */
static zo_status zo_read_byte_count(json_t *value, const char *path, uint64_t *target)
{
    if (!json_is_string(value)) {
        const zo_config_range non_negative = {.min = 0, .max = INFINITY};
        return zo_config_read_u64(value, path, non_negative, target);
    }
    if (!zo_parse_byte_size(json_string_value(value), target))
        return zo_fail(ZO_ERR_CONFIG,
                       "%s is \"%.40s\", must be a byte count: an integer, or a string like "
                       "\"8GiB\" (units B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)",
                       path, json_string_value(value));
    return ZO_OK;
}

zo_status zo_config_read_max_pinned_bytes(zo_config_reader *reader, json_t *value, const char *path)
{
    return zo_read_byte_count(value, path, &reader->config->settings.max_pinned_bytes);
}

zo_status zo_config_read_device_memory_budget(zo_config_reader *reader, json_t *value,
                                              const char *path)
{
    return zo_read_byte_count(value, path, &reader->config->settings.device_memory_budget);
}

/* A string field must end inside its array, as zo_config_copy_string leaves it. */
static zo_status zo_check_string_field(const char *field, const char *key, const char *text, size_t room)
{
    if (memchr(text, '\0', room))
        return ZO_OK;
    char label[ZO_CONFIG_PATH_BYTES];
    zo_config_settings_label(label, field, key);
    return zo_fail(ZO_ERR_CONFIG, "%s has no terminating NUL in its %zu bytes", label, room);
}

/* What the readers above refuse in JSON, for a zo_settings a C program filled: enum
 * values with no name, a CPU list that does not parse, unterminated strings. */
zo_status zo_config_check_zo_settings(const zo_settings *settings)
{
    char label[ZO_CONFIG_PATH_BYTES];
    if ((unsigned)settings->device >= sizeof zo_device_names / sizeof zo_device_names[0]) {
        zo_config_settings_label(label, "device", "zo.device");
        return zo_fail(ZO_ERR_CONFIG, "%s is %d, not a zo_device_kind", label, (int)settings->device);
    }
    if ((unsigned)settings->comm >= sizeof zo_comm_names / sizeof zo_comm_names[0]) {
        zo_config_settings_label(label, "comm", "zo.comm");
        return zo_fail(ZO_ERR_CONFIG, "%s is %d, not a zo_comm_kind", label, (int)settings->comm);
    }
    bool dtype_named = false;
    for (size_t i = 0; i < sizeof zo_moments_dtypes / sizeof zo_moments_dtypes[0]; i++)
        dtype_named = dtype_named || settings->moments_dtype == zo_moments_dtypes[i];
    if (!dtype_named) {
        zo_config_settings_label(label, "moments_dtype", "zo.moments_dtype");
        return zo_fail(ZO_ERR_CONFIG, "%s is %d, must be ZO_DTYPE_F32, ZO_DTYPE_BF16 or ZO_DTYPE_Q8", label,
                       (int)settings->moments_dtype);
    }
    zo_status status = zo_check_string_field("trace_file", "zo.trace", settings->trace_file,
                                             sizeof settings->trace_file);
    if (status != ZO_OK)
        return status;
    switch (settings->bind) {
    case ZO_BIND_AUTO:
    case ZO_BIND_NONE: return ZO_OK;
    case ZO_BIND_CPUS:
        status = zo_check_string_field("bind_cpus", "zo.bind", settings->bind_cpus, sizeof settings->bind_cpus);
        if (status != ZO_OK)
            return status;
        zo_config_settings_label(label, "bind_cpus", "zo.bind");
        return zo_check_cpu_list(label, settings->bind_cpus);
    }
    zo_config_settings_label(label, "bind", "zo.bind");
    return zo_fail(ZO_ERR_CONFIG, "%s is %d, not a zo_bind_mode", label, (int)settings->bind);
}

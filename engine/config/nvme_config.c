/* Config readers and checks for the optimizer state on NVMe: offload_optimizer's
 * nvme_path, the "aio" thread count, and what "nvme" needs across keys. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "checks.h"
#include "error.h"
#include "handlers.h"

zo_status zo_config_read_nvme_path(zo_config_reader *reader, json_t *value, const char *path)
{
    const char *text = NULL;
    zo_status status = zo_config_read_string(value, path, &text);
    if (status != ZO_OK)
        return status;
    char *target = reader->config->settings.nvme.path;
    size_t room = sizeof reader->config->settings.nvme.path;
    if (!text[0] || strlen(text) >= room)
        return zo_fail(ZO_ERR_CONFIG, "%s is %zu bytes long, must be 1 to %zu", path, strlen(text),
                       room - 1);
    memcpy(target, text, strlen(text) + 1);
    return ZO_OK;
}

/* io_uring's queue is the parallelism (aio.queue_depth): zo submits from its one worker
 * thread, so more I/O threads are refused rather than silently dropped. */
static zo_status zo_check_aio_thread_count(long long count, const char *label)
{
    if (count < 1)
        return zo_fail(ZO_ERR_CONFIG, "%s is %lld, must be >= 1", label, count);
    if (count > 1)
        return zo_fail(
            ZO_ERR_NOT_SUPPORTED,
            "%s is %lld: zo's io_uring submits from one thread and takes its parallelism "
            "from the queue; set it to 1 and raise aio.queue_depth instead",
            label, count);
    return ZO_OK;
}

zo_status zo_config_read_aio_thread_count(zo_config_reader *reader, json_t *value, const char *path)
{
    long long count = 0;
    zo_status status = zo_config_read_whole(value, path, &count);
    if (status == ZO_OK)
        status = zo_check_aio_thread_count(count, path);
    if (status == ZO_OK)
        reader->config->settings.aio.thread_count = (int)count;
    return status;
}

/* "key" in a JSON config, or "zo_settings.field (config key key)" for filled settings. */
static const char *zo_nvme_label(char *out, bool from_settings, const char *field, const char *key)
{
    if (from_settings)
        zo_config_settings_label(out, field, key);
    else
        snprintf(out, ZO_CONFIG_PATH_BYTES, "%s", key);
    return out;
}

zo_status zo_config_check_nvme_settings(const zo_settings *s, bool from_settings)
{
    char label[ZO_CONFIG_PATH_BYTES], other[ZO_CONFIG_PATH_BYTES];
    if (!memchr(s->nvme.path, '\0', sizeof s->nvme.path))
        return zo_fail(ZO_ERR_CONFIG, "%s has no terminating NUL in its %zu bytes",
                       zo_nvme_label(label, true, "nvme.path",
                                     "zero_optimization.offload_optimizer.nvme_path"),
                       sizeof s->nvme.path);
    zo_status status = zo_check_aio_thread_count(
        s->aio.thread_count,
        zo_nvme_label(label, from_settings, "aio.thread_count", "aio.thread_count"));
    if (status != ZO_OK)
        return status;
    if (s->aio.block_size % 4096 != 0)
        return zo_fail(ZO_ERR_CONFIG,
                       "%s is %llu: it must be a multiple of 4096 (direct I/O moves whole pages)",
                       zo_nvme_label(label, from_settings, "aio.block_size", "aio.block_size"),
                       (unsigned long long)s->aio.block_size);
    if (!s->nvme.enabled)
        return ZO_OK;
    if (from_settings && !s->offload_optimizer)
        return zo_fail(
            ZO_ERR_CONFIG,
            "zo_settings.nvme.enabled is true but zo_settings.offload_optimizer is false: the "
            "NVMe state is offloaded (set both, as offload_optimizer.device \"nvme\" does)");
    if (!s->nvme.path[0])
        return zo_fail(
            ZO_ERR_CONFIG,
            "zero_optimization.offload_optimizer.device is \"nvme\" but %s is not given: the "
            "directory that holds the optimizer state's files",
            zo_nvme_label(label, from_settings, "nvme.path",
                          "zero_optimization.offload_optimizer.nvme_path"));
    uint64_t needed = 1 + (s->nvme.pipeline_read ? 1 : 0) + (s->nvme.pipeline_write ? 1 : 0);
    if (s->nvme.buffer_count < needed)
        return zo_fail(
            ZO_ERR_CONFIG,
            "%s is %llu but the pipeline needs %llu buffers (one bucket updated%s%s): raise it, "
            "or set %s false",
            zo_nvme_label(label, from_settings, "nvme.buffer_count",
                          "zero_optimization.offload_optimizer.buffer_count"),
            (unsigned long long)s->nvme.buffer_count, (unsigned long long)needed,
            s->nvme.pipeline_read ? ", the next one read ahead" : "",
            s->nvme.pipeline_write ? ", the last one written behind" : "",
            zo_nvme_label(other, from_settings, "nvme.pipeline_read/pipeline_write",
                          "offload_optimizer.pipeline_read or pipeline_write"));
    return ZO_OK;
}

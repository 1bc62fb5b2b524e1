/* The memory plan: what an engine will allocate, checked against the machine before
 * anything is allocated, so a model that does not fit is refused with the reason
 * instead of failing halfway or driving the host into swap. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "memory_plan.h"

#include "checked_math.h"
#include "config/batch_size.h"
#include "config/byte_size.h"
#include "error.h"
#include "partition.h"
#include "zo/cuda.h"

uint64_t zo_host_available_bytes(void)
{
    FILE *meminfo = fopen("/proc/meminfo", "r");
    if (!meminfo)
        return 0;
    char line[256];
    unsigned long long kib = 0;
    while (fgets(line, sizeof line, meminfo))
        if (sscanf(line, "MemAvailable: %llu kB", &kib) == 1)
            break;
    fclose(meminfo);
    return (uint64_t)kib * 1024u;
}

void zo_plan_for_layout(const zo_settings *s, uint64_t elems, uint64_t accumulation, unsigned ranks,
                        bool device_is_host, uint64_t device_free_bytes, zo_memory_plan *plan)
{
    uint64_t dtype_bytes = s->fp16_enabled || s->bf16_enabled ? 2 : 4;
    uint64_t moment_bytes = zo_dtype_size(s->moments_dtype);
    /* each rank holds its 1/ranks shard of the optimizer state (ZeRO stage >= 1) and,
     * from stage 2, of the fp32 gradient sum; `elems` is already padded to split evenly.
     * Every product saturates: an absurd model needs UINT64_MAX bytes, which never fits. */
    uint64_t shard = s->stage >= 1 ? elems / ranks + (elems % ranks != 0) : elems;
    uint64_t gradient_sum = accumulation == 1 ? 0 : s->stage >= 2 ? shard : elems;
    uint64_t flat_bytes = zo_mul_saturated(elems, dtype_bytes); /* one 16- or 32-bit copy */
    uint64_t optimizer_bytes = zo_mul_saturated(shard, 4 + 2 * moment_bytes);
    *plan = (zo_memory_plan){
        .param_elems = elems,
        .device_bytes = zo_mul_saturated(2, flat_bytes),
        /* gradients down, weights up; the delayed update lands gradients in two
         * buffers by turns unless it accumulates in fp32 anyway */
        .pinned_bytes = zo_mul_saturated(s->delayed_param_update && accumulation == 1 ? 3 : 2, flat_bytes),
        .host_bytes = zo_add_saturated(optimizer_bytes, zo_mul_saturated(gradient_sum, 4)),
        .host_available_bytes = zo_host_available_bytes(),
        .pinned_limit_bytes = s->max_pinned_bytes,
        .device_is_host = device_is_host,
        .device_free_bytes = device_free_bytes,
    };
    /* offload "none" on a GPU (device_update.c): master weights and moments on
     * the device too; the engine still keeps its host copies (used to set and read the
     * master weights), so host_bytes stays */
    if (!s->offload_optimizer && !device_is_host)
        plan->device_bytes = zo_add_saturated(plan->device_bytes, optimizer_bytes);
    if (!s->pin_memory) { /* offload_optimizer.pin_memory false: the staging is pageable */
        plan->host_bytes = zo_add_saturated(plan->host_bytes, plan->pinned_bytes);
        plan->pinned_bytes = 0;
    }
    uint64_t host_total = zo_add_saturated(zo_add_saturated(plan->host_bytes, plan->pinned_bytes),
                                           plan->device_is_host ? plan->device_bytes : 0);
    char needed[32], limit[32];
    if (!device_is_host && device_free_bytes && plan->device_bytes > device_free_bytes) {
        snprintf(plan->verdict, sizeof plan->verdict,
                 "device memory needed %s (weights and gradients%s) but the GPU has %s "
                 "free: fewer parameters per GPU (more ranks), or bf16/fp16 instead of fp32 "
                 "weights (fp16.enabled or bf16.enabled)",
                 zo_format_byte_size(plan->device_bytes, needed, sizeof needed),
                 s->offload_optimizer ? "" : ", master weights and moments",
                 zo_format_byte_size(device_free_bytes, limit, sizeof limit));
        return;
    }
    if (plan->pinned_limit_bytes && plan->pinned_bytes > plan->pinned_limit_bytes) {
        snprintf(plan->verdict, sizeof plan->verdict,
                 "pinned staging needs %s (%" PRIu64 " bytes) but zo.max_pinned_bytes allows %s (%" PRIu64
                 " bytes): raise zo.max_pinned_bytes, or use more ranks (zero_optimization.stage >= 1 shards)",
                 zo_format_byte_size(plan->pinned_bytes, needed, sizeof needed), plan->pinned_bytes,
                 zo_format_byte_size(plan->pinned_limit_bytes, limit, sizeof limit), plan->pinned_limit_bytes);
        return;
    }
    if (plan->host_available_bytes && host_total > plan->host_available_bytes) {
        uint64_t saving = s->moments_dtype == ZO_DTYPE_F32 ? zo_mul_saturated(shard, 4) : 0;
        char optimizer[32], staging[32], saved[32];
        snprintf(plan->verdict, sizeof plan->verdict,
                 "host memory needed %s (master weights, moments and any fp32 gradient sum "
                 "%s, staging %s%s) but "
                 "only %s is available; zo.moments_dtype \"bf16\" would save %s, more "
                 "ranks with zero_optimization.stage >= 1 divide the optimizer state",
                 zo_format_byte_size(host_total, needed, sizeof needed),
                 zo_format_byte_size(plan->host_bytes, optimizer, sizeof optimizer),
                 zo_format_byte_size(plan->pinned_bytes, staging, sizeof staging),
                 plan->device_is_host ? ", host-backend device buffers" : "",
                 zo_format_byte_size(plan->host_available_bytes, limit, sizeof limit),
                 zo_format_byte_size(saving, saved, sizeof saved));
        return;
    }
    plan->fits = true;
    snprintf(plan->verdict, sizeof plan->verdict, "fits: %s of %s host memory available",
             zo_format_byte_size(host_total, needed, sizeof needed),
             zo_format_byte_size(plan->host_available_bytes, limit, sizeof limit));
}

zo_status zo_engine_plan(const zo_config *config, const zo_param_desc *params, size_t param_count,
                         unsigned ranks, zo_memory_plan *out)
{
    if (!config || !out || ranks == 0)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_engine_plan: %s",
                       !config ? "config is NULL" : !out ? "out is NULL" : "ranks is 0");
    const zo_settings *settings = zo_config_settings(config);
    uint64_t accumulation = 1;
    zo_partition layout;
    zo_status status = zo_resolve_accumulation(settings, ranks, &accumulation);
    if (status == ZO_OK)
        status = zo_partition_build(params, param_count, settings->reduce_bucket_size, ranks, &layout);
    if (status != ZO_OK)
        return status;
    /* where zo_engine_create would put the device buffers */
    int gpus = 0;
    bool device_is_host = settings->device == ZO_DEVICE_HOST ||
                          (settings->device == ZO_DEVICE_AUTO && zo_cuda_device_count(&gpus) != ZO_OK);
    zo_plan_for_layout(settings, layout.padded_elems, accumulation, ranks, device_is_host, 0, out);
    zo_partition_free(&layout);
    return ZO_OK;
}

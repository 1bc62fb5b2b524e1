/* The memory plan: what an engine will allocate, checked against the machine before
 * anything is allocated, so a model that does not fit is refused with the reason
 * instead of failing halfway or driving the host into swap. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "memory_plan.h"
#include "moments_state.h"

#include "checked_math.h"
#include "config/batch_size.h"
#include "config/byte_size.h"
#include "error.h"
#include "nvme/files.h"
#include "partition.h"
#include "stage3_sizes.h"
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

/* Stage 3's device bytes: the persistent parameters' weights and gradients and the two
 * pools of slots; nothing else grows with the model. *persistent_weight_bytes (when
 * not NULL): the persistent parameters' weights alone (their host copy over several
 * ranks). */
static zo_status zo_plan_stage3_device(const zo_settings *s, const zo_partition *layout,
                                       uint64_t dtype_bytes, zo_memory_plan *plan,
                                       uint64_t *persistent_weight_bytes)
{
    zo_stage3_sizes sizes;
    zo_status status = zo_stage3_sizes_for(s, layout, NULL, &sizes);
    if (status != ZO_OK)
        return status;
    uint64_t weights = zo_mul_saturated(sizes.persistent_elems, dtype_bytes);
    if (persistent_weight_bytes)
        *persistent_weight_bytes = weights;
    plan->stage3_persistent_bytes = zo_mul_saturated(2, weights); /* + gradients */
    plan->stage3_pool_bytes = zo_mul_saturated(sizes.pool_elems, dtype_bytes);
    plan->stage3_grad_pool_bytes = zo_mul_saturated(sizes.grad_pool_elems, dtype_bytes);
    plan->device_bytes =
        zo_add_saturated(plan->stage3_persistent_bytes,
                         zo_add_saturated(plan->stage3_pool_bytes, plan->stage3_grad_pool_bytes));
    return ZO_OK;
}

/* What device_bytes is checked against: the GPU's free memory (when known) and
 * zo.device_memory_budget, the smaller; on the host backend the budget alone (the
 * backend enforces it). 0: nothing to check against. */
static uint64_t zo_plan_device_limit(const zo_settings *s, bool device_is_host,
                                     uint64_t device_free_bytes)
{
    uint64_t free_bytes = device_is_host ? 0 : device_free_bytes;
    uint64_t budget = s->device_memory_budget;
    if (free_bytes && budget)
        return free_bytes < budget ? free_bytes : budget;
    return free_bytes ? free_bytes : budget;
}

/* For a plan of stage 0-2 over its device limit: ", zero_optimization.stage 3 ... would
 * need X on the device" when that would be within the limit, else "". */
static void zo_plan_stage3_hint(const zo_settings *s, const zo_partition *layout,
                                uint64_t dtype_bytes, uint64_t limit, char *hint, size_t hint_size)
{
    hint[0] = '\0';
    zo_settings stage3 = *s;
    stage3.stage = 3;
    zo_memory_plan sized = {0};
    if (zo_plan_stage3_device(&stage3, layout, dtype_bytes, &sized, NULL) != ZO_OK ||
        sized.device_bytes > limit)
        return;
    char needed[32];
    snprintf(hint, hint_size,
             "; zero_optimization.stage 3 with offload_param.device \"cpu\"%s would need %s on the "
             "device",
             s->offload_optimizer ? "" : " and offload_optimizer.device \"cpu\"",
             zo_format_byte_size(sized.device_bytes, needed, sizeof needed));
}

/* The verdict of a plan whose device bytes pass `limit`, naming what set the limit. */
static void zo_plan_device_verdict(const zo_settings *s, const zo_partition *layout,
                                   uint64_t dtype_bytes, uint64_t limit, zo_memory_plan *plan)
{
    char needed[32], allowed[32], what[160], hint[256];
    if (s->stage == 3) {
        char persistent[32], pool[32], grad_pool[32];
        snprintf(what, sizeof what, "persistent parameters %s, weight slots %s, gradient slots %s",
                 zo_format_byte_size(plan->stage3_persistent_bytes, persistent, sizeof persistent),
                 zo_format_byte_size(plan->stage3_pool_bytes, pool, sizeof pool),
                 zo_format_byte_size(plan->stage3_grad_pool_bytes, grad_pool, sizeof grad_pool));
        snprintf(hint, sizeof hint,
                 ": lower zero_optimization.stage3_max_live_parameters (the slot pools) or "
                 "stage3_param_persistence_threshold");
    } else {
        snprintf(what, sizeof what, "weights and gradients%s",
                 s->offload_optimizer ? "" : ", master weights and moments");
        zo_plan_stage3_hint(s, layout, dtype_bytes, limit, hint, sizeof hint);
        if (!hint[0])
            snprintf(hint, sizeof hint,
                     ": fewer parameters per GPU (more ranks), or bf16/fp16 instead of fp32 "
                     "weights (fp16.enabled or bf16.enabled)");
    }
    bool budget_binds = s->device_memory_budget && limit == s->device_memory_budget;
    snprintf(plan->verdict, sizeof plan->verdict, "device memory needed %s (%s) but %s %s%s%s",
             zo_format_byte_size(plan->device_bytes, needed, sizeof needed), what,
             budget_binds ? "zo.device_memory_budget allows" : "the GPU has",
             zo_format_byte_size(limit, allowed, sizeof allowed), budget_binds ? "" : " free",
             hint);
}

/* "nvme": whether the state's file does not fit its file system (or the directory
 * cannot be read); the verdict then says so, with the bytes needed and free. The free
 * bytes are the caller's (`known_free`) or looked up here. */
static bool zo_plan_nvme_verdict(const zo_settings *s, const uint64_t *known_free, zo_memory_plan *plan)
{
    if (known_free) {
        plan->nvme_free_bytes = *known_free;
    } else if (zo_nvme_free_bytes(s->nvme.path, &plan->nvme_free_bytes) != ZO_OK) {
        snprintf(plan->verdict, sizeof plan->verdict, "%s", zo_last_error());
        return true;
    }
    if (plan->nvme_bytes <= plan->nvme_free_bytes)
        return false;
    char needed[32], free_room[32];
    snprintf(plan->verdict, sizeof plan->verdict,
             "the optimizer state on NVMe needs %s (%" PRIu64 " bytes) under offload_optimizer.nvme_path %.300s "
             "but its file system has %s (%" PRIu64 " bytes) free: free some room, or choose another "
             "nvme_path",
             zo_format_byte_size(plan->nvme_bytes, needed, sizeof needed), plan->nvme_bytes, s->nvme.path,
             zo_format_byte_size(plan->nvme_free_bytes, free_room, sizeof free_room), plan->nvme_free_bytes);
    return true;
}

zo_status zo_plan_for_layout(const zo_settings *s, const zo_partition *layout,
                             uint64_t accumulation, bool device_is_host, uint64_t device_free_bytes,
                             const uint64_t *nvme_free_bytes, zo_memory_plan *plan)
{
    uint64_t elems = layout->padded_elems, ranks = layout->ranks;
    uint64_t dtype_bytes = s->fp16_enabled || s->bf16_enabled ? 2 : 4;
    /* each rank holds its 1/ranks shard of the optimizer state (ZeRO stage >= 1) and,
     * from stage 2, of the fp32 gradient sum; `elems` is already padded to split evenly.
     * Every product saturates: an absurd model needs UINT64_MAX bytes, which never fits. */
    uint64_t shard = s->stage >= 1 ? elems / ranks + (elems % ranks != 0) : elems;
    uint64_t gradient_sum = accumulation == 1 ? 0 : s->stage >= 2 ? shard : elems;
    uint64_t flat_bytes = zo_mul_saturated(elems, dtype_bytes); /* one 16- or 32-bit copy */
    /* fp32 master weights plus both moments (8-bit ones with their block scales) */
    uint64_t optimizer_bytes = zo_add_saturated(zo_mul_saturated(shard, 4),
                                                zo_moments_host_bytes(s->moments_dtype, shard));
    /* "nvme": the state is in a file; host memory holds the ring that streams it, and
     * 8-bit moments' block scales */
    zo_nvme_sizes nvme = {0};
    if (s->nvme.enabled)
        nvme = zo_nvme_sizes_for(layout, zo_dtype_size(s->moments_dtype), s->nvme.buffer_count);
    uint64_t host_optimizer_bytes =
        s->nvme.enabled ? zo_add_saturated(nvme.ring_bytes, zo_moment_scales_host_bytes(s->moments_dtype, shard))
                        : optimizer_bytes;
    *plan = (zo_memory_plan){
        .param_elems = elems,
        .device_bytes = zo_mul_saturated(2, flat_bytes),
        /* gradients down, weights up; the delayed update lands gradients in two
         * buffers by turns unless it accumulates in fp32 anyway. With stage 3 the
         * weights' staging is where the 16-bit weights live between fetches. */
        .pinned_bytes =
            zo_mul_saturated(s->delayed_param_update && accumulation == 1 ? 3 : 2, flat_bytes),
        .host_bytes = zo_add_saturated(host_optimizer_bytes, zo_mul_saturated(gradient_sum, 4)),
        .nvme_bytes = nvme.file_bytes,
        .host_available_bytes = zo_host_available_bytes(),
        .pinned_limit_bytes = s->max_pinned_bytes,
        .device_is_host = device_is_host,
        .device_free_bytes = device_free_bytes,
        .device_limit_bytes = zo_plan_device_limit(s, device_is_host, device_free_bytes),
    };
    if (s->stage == 3) {
        uint64_t persistent_weight_bytes = 0;
        zo_status status = zo_plan_stage3_device(s, layout, dtype_bytes, plan, &persistent_weight_bytes);
        if (status != ZO_OK) {
            *plan = (zo_memory_plan){0};
            return status;
        }
        /* over several ranks each keeps its shard of the 16-bit weights, plus host
         * slots the fetches gather into and the persistent parameters' whole weights
         * (stage3_shard.h) */
        if (ranks > 1)
            plan->pinned_bytes = zo_add_saturated(
                zo_add_saturated(flat_bytes, zo_mul_saturated(shard, dtype_bytes)),
                zo_add_saturated(plan->stage3_pool_bytes, persistent_weight_bytes));
    }
    /* offload "none" on a GPU (device_update.c): master weights and moments on
     * the device too; the engine still keeps its host copies (used to set and read the
     * master weights), so host_bytes stays */
    if (!s->offload_optimizer && !device_is_host && s->stage != 3)
        plan->device_bytes = zo_add_saturated(plan->device_bytes, optimizer_bytes);
    if (!s->pin_memory) { /* offload_optimizer.pin_memory false: the staging is pageable */
        plan->host_bytes = zo_add_saturated(plan->host_bytes, plan->pinned_bytes);
        plan->pinned_bytes = 0;
    }
    uint64_t host_total = zo_add_saturated(zo_add_saturated(plan->host_bytes, plan->pinned_bytes),
                                           plan->device_is_host ? plan->device_bytes : 0);
    char needed[32], limit[32];
    /* on the host backend "none" is the offloaded path anyway (as the engine runs it) */
    if (s->stage == 3 && !s->offload_optimizer && !device_is_host) {
        snprintf(
            plan->verdict, sizeof plan->verdict,
            "zero_optimization.stage 3 needs offload_optimizer.device \"cpu\" on a GPU: the engine "
            "refuses \"none\" with stage 3 there, so this plan does not cover it");
        return ZO_OK;
    }
    if (plan->device_limit_bytes && plan->device_bytes > plan->device_limit_bytes) {
        zo_plan_device_verdict(s, layout, dtype_bytes, plan->device_limit_bytes, plan);
        return ZO_OK;
    }
    if (s->nvme.enabled && zo_plan_nvme_verdict(s, nvme_free_bytes, plan))
        return ZO_OK;
    if (plan->pinned_limit_bytes && plan->pinned_bytes > plan->pinned_limit_bytes) {
        snprintf(plan->verdict, sizeof plan->verdict,
                 "pinned staging needs %s (%" PRIu64
                 " bytes) but zo.max_pinned_bytes allows %s (%" PRIu64
                 " bytes): raise zo.max_pinned_bytes, or use more ranks (zero_optimization.stage "
                 ">= 1 shards)",
                 zo_format_byte_size(plan->pinned_bytes, needed, sizeof needed), plan->pinned_bytes,
                 zo_format_byte_size(plan->pinned_limit_bytes, limit, sizeof limit),
                 plan->pinned_limit_bytes);
        return ZO_OK;
    }
    if (plan->host_available_bytes && host_total > plan->host_available_bytes) {
        uint64_t q8_moments = zo_moments_host_bytes(ZO_DTYPE_Q8, shard);
        uint64_t moments = zo_moments_host_bytes(s->moments_dtype, shard);
        /* the moments in host memory (not with "nvme": there the ring is) */
        uint64_t saving = moments > q8_moments && !s->nvme.enabled ? moments - q8_moments : 0;
        char optimizer[32], staging[32], saved[32], suggestion[96] = "";
        if (saving > 0)
            snprintf(suggestion, sizeof suggestion, "zo.moments_dtype \"8bit\" would save %s, ",
                     zo_format_byte_size(saving, saved, sizeof saved));
        snprintf(plan->verdict, sizeof plan->verdict,
                 "host memory needed %s (%s and any fp32 gradient sum "
                 "%s, staging %s%s) but "
                 "only %s is available; %smore "
                 "ranks with zero_optimization.stage >= 1 divide the optimizer state",
                 zo_format_byte_size(host_total, needed, sizeof needed),
                 s->nvme.enabled ? "the NVMe state's ring, block scales" : "master weights, moments",
                 zo_format_byte_size(plan->host_bytes, optimizer, sizeof optimizer),
                 zo_format_byte_size(plan->pinned_bytes, staging, sizeof staging),
                 plan->device_is_host ? ", host-backend device buffers" : "",
                 zo_format_byte_size(plan->host_available_bytes, limit, sizeof limit), suggestion);
        return ZO_OK;
    }
    plan->fits = true;
    int length =
        snprintf(plan->verdict, sizeof plan->verdict, "fits: %s of %s host memory available",
                 zo_format_byte_size(host_total, needed, sizeof needed),
                 zo_format_byte_size(plan->host_available_bytes, limit, sizeof limit));
    if (plan->device_limit_bytes && length > 0 && (size_t)length < sizeof plan->verdict)
        snprintf(plan->verdict + length, sizeof plan->verdict - (size_t)length,
                 ", %s of %s on the device",
                 zo_format_byte_size(plan->device_bytes, needed, sizeof needed),
                 zo_format_byte_size(plan->device_limit_bytes, limit, sizeof limit));
    return ZO_OK;
}

zo_status zo_engine_plan(const zo_config *config, const zo_param_desc *params, size_t param_count,
                         unsigned ranks, zo_memory_plan *out)
{
    if (!config || !out || ranks == 0)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_engine_plan: %s",
                       !config ? "config is NULL"
                       : !out  ? "out is NULL"
                               : "ranks is 0");
    const zo_settings *settings = zo_config_settings(config);
    uint64_t accumulation = 1;
    zo_partition layout;
    zo_status status = zo_resolve_accumulation(settings, ranks, &accumulation);
    if (status == ZO_OK)
        status =
            zo_partition_build(params, param_count,
                               zo_layout_bucket_elems(settings->reduce_bucket_size, settings->moments_dtype, ranks),
                               ranks, &layout);
    if (status != ZO_OK)
        return status;
    /* where zo_engine_create would put the device buffers */
    int gpus = 0;
    bool device_is_host =
        settings->device == ZO_DEVICE_HOST ||
        (settings->device == ZO_DEVICE_AUTO && zo_cuda_device_count(&gpus) != ZO_OK);
    status = zo_plan_for_layout(settings, &layout, accumulation, device_is_host, 0, NULL, out);
    zo_partition_free(&layout);
    return status;
}

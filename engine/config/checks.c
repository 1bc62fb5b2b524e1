/* The checks across keys: precision modes, the optimizer's type and decay mode,
 * scheduler requirements, the legacy offload switch, and parameter offload's stage. */
#include "checks.h"

#include <float.h>

#include "error.h"
#include "handlers.h"

zo_status zo_config_check_precision(const zo_settings *settings)
{
    if (settings->fp16_enabled && settings->bf16_enabled)
        return zo_fail(ZO_ERR_CONFIG,
                       "fp16.enabled and bf16.enabled are both true: choose one precision");

    /* the scale reaches the loop as a float (zo_engine_loss_scale): one that overflows
     * float would turn every scaled loss into inf and skip every step */
    if (settings->loss_scale > FLT_MAX || settings->min_loss_scale > FLT_MAX)
        return zo_fail(ZO_ERR_CONFIG, "fp16.%s %g overflows a float (largest %g): the scaled loss would be inf",
                       settings->loss_scale > FLT_MAX ? "loss_scale" : "min_loss_scale",
                       settings->loss_scale > FLT_MAX ? settings->loss_scale : settings->min_loss_scale,
                       (double)FLT_MAX);
    return ZO_OK;
}

zo_status zo_config_check_offload_param(const zo_settings *settings)
{
    /* DeepSpeed: offload_param "is valid only with stage 3"; below it the parameters
     * are not partitioned, so there is nothing to offload */
    if (settings->offload_param && settings->stage != 3)
        return zo_fail(
            ZO_ERR_CONFIG,
            "zero_optimization.offload_param.device is \"cpu\" but zero_optimization.stage "
            "is %d: parameter offload needs stage 3",
            settings->stage);
    return ZO_OK;
}

zo_status zo_config_check(zo_config_reader *reader)
{
    zo_settings *settings = &reader->config->settings;
    zo_status status = zo_config_check_precision(settings);
    if (status == ZO_OK)
        status = zo_config_check_offload_param(settings);
    if (status != ZO_OK)
        return status;

    if (reader->optimizer_seen && reader->optimizer_type == ZO_OPTIMIZER_UNSET)
        return zo_fail(ZO_ERR_CONFIG, "optimizer.type is required: \"Adam\" or \"AdamW\"");
    /* DeepSpeed: "Adam" is AdamW unless adam_w_mode is false; "AdamW" always is. */
    settings->adam.adamw = reader->optimizer_type == ZO_OPTIMIZER_ADAMW || reader->adam_w_mode;

    zo_scheduler_kind kind = settings->scheduler.kind;
    if ((kind == ZO_SCHEDULER_WARMUP_DECAY_LR || kind == ZO_SCHEDULER_WARMUP_COSINE_LR) &&
        !reader->total_num_steps_given)
        return zo_fail(ZO_ERR_CONFIG,
                       "scheduler.params.total_num_steps is required by %s: the number of "
                       "training steps (zo does not fill in \"auto\")",
                       kind == ZO_SCHEDULER_WARMUP_DECAY_LR ? "WarmupDecayLR" : "WarmupCosineLR");

    if ((status = zo_config_check_nvme_settings(settings, false)) != ZO_OK)
        return status;
    if (reader->cpu_offload_seen && reader->offload_optimizer_seen)
        return zo_fail(ZO_ERR_CONFIG,
                       "zero_optimization.cpu_offload (legacy) and "
                       "zero_optimization.offload_optimizer cannot be given together");
    return ZO_OK;
}

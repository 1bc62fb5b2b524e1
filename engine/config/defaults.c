/* zo_default_settings: what a config of "{}" gives, DeepSpeed's defaults where zo
 * follows DeepSpeed. */
#include <string.h>

#include "zo/config.h"

void zo_default_settings(zo_settings *settings)
{
    if (!settings)
        return;
    /* Zeroed first, padding included, so two default settings compare equal with
     * memcmp. */
    memset(settings, 0, sizeof *settings);

    settings->train_batch_size = 0; /* not given: the engine derives it */
    settings->train_micro_batch_size_per_gpu = 0;
    settings->gradient_accumulation_steps = 0;
    settings->gradient_clipping = 1.0;

    settings->fp16_enabled = false;
    settings->loss_scale = 0.0; /* dynamic */
    settings->initial_scale_power = 16;
    settings->loss_scale_window = 1000;
    settings->hysteresis = 2;
    settings->consecutive_hysteresis = false;
    settings->min_loss_scale = 1.0;
    settings->bf16_enabled = false;

    zo_adam_default_hparams(&settings->adam);
    settings->scheduler = (zo_scheduler_settings){.kind = ZO_SCHEDULER_NONE,
                                                  .warmup_min_lr = 0.0,
                                                  .warmup_max_lr = 0.001,
                                                  .warmup_num_steps = 1000,
                                                  .warmup_type = ZO_WARMUP_LOG,
                                                  .total_num_steps = 0,
                                                  .warmup_min_ratio = 0.0,
                                                  .cos_min_ratio = 0.0001};

    settings->stage = 0;
    settings->offload_optimizer = false;
    settings->pin_memory = true;
    settings->overlap_comm = false;
    settings->contiguous_gradients = true;
    settings->reduce_scatter = true;
    settings->reduce_bucket_size = 500000000;
    settings->allgather_bucket_size = 500000000;
    settings->offload_param = false;
    settings->offload_param_pin_memory = true;
    settings->stage3_prefetch_bucket_size = 50000000;
    settings->stage3_max_live_parameters = 1000000000;
    settings->stage3_param_persistence_threshold = 100000;
    settings->stage3_model_persistence_threshold = UINT64_MAX;

    settings->device = ZO_DEVICE_AUTO;
    settings->comm = ZO_COMM_AUTO;
    settings->threads = 0;
    settings->bind = ZO_BIND_AUTO;
    settings->bind_cpus[0] = '\0';
    settings->delayed_param_update = false;
    settings->trace_file[0] = '\0';
    settings->moments_dtype = ZO_DTYPE_F32;
    settings->max_pinned_bytes = 0;
    settings->collective_timeout_seconds = 600.0; /* PyTorch's default for NCCL */

    settings->nvme.enabled = false;
    settings->nvme.path[0] = '\0';
    settings->nvme.buffer_count = 4; /* DeepSpeed's */
    settings->nvme.pipeline_read = true;
    settings->nvme.pipeline_write = true;
    settings->nvme.fast_init = false;
    settings->aio.block_size = 1048576; /* DeepSpeed's aio defaults */
    settings->aio.queue_depth = 8;
    settings->aio.thread_count = 1;
    settings->aio.single_submit = false;
    settings->aio.overlap_events = true;
}

/* Every key of a config, section by section: where zo stores it and its allowed range,
 * or that it is a DeepSpeed key zo accepts and ignores. Defaults are in
 * defaults.c; the meaning of each key is in docs/configuration.md. */
#include "keys.h"

#include <math.h>
#include <stddef.h>

#include "handlers.h"

/* clang-format would spread each one-line macro over four lines. */
/* clang-format off */
#define FIELD(member) .offset = offsetof(zo_settings, member), .field = #member
#define AT_LEAST(low) {.min = (low), .max = INFINITY}
#define ABOVE(low) {.min = (low), .max = INFINITY, .min_open = true}
#define BETWEEN(low, high) {.min = (low), .max = (high)}

#define BOOL_KEY(key, member) {.name = key, .kind = ZO_KEY_BOOL, FIELD(member)}
#define U64_KEY(key, member, allowed)                                                     \
    {.name = key, .kind = ZO_KEY_U64, FIELD(member), .range = allowed}
#define INT_KEY(key, member, allowed)                                                     \
    {.name = key, .kind = ZO_KEY_INT, FIELD(member), .range = allowed}
#define DOUBLE_KEY(key, member, allowed)                                                  \
    {.name = key, .kind = ZO_KEY_DOUBLE, FIELD(member), .range = allowed}
#define FLOAT_KEY(key, member, allowed)                                                   \
    {.name = key, .kind = ZO_KEY_FLOAT, FIELD(member), .range = allowed}
#define SECTION_KEY(key, table) {.name = key, .kind = ZO_KEY_SECTION, .section = &table}
#define CUSTOM_KEY(key, reader) {.name = key, .kind = ZO_KEY_CUSTOM, .read = reader}
/* a custom reader that walks the object with one fixed table */
#define CUSTOM_SECTION_KEY(key, reader, table)                                            \
    {.name = key, .kind = ZO_KEY_CUSTOM, .read = reader, .section = &table}
#define IGNORED_KEY(key) {.name = key, .kind = ZO_KEY_IGNORED}
/* ignored, but with the type DeepSpeed checks */
#define IGNORED_BOOL_KEY(key) {.name = key, .kind = ZO_KEY_IGNORED_BOOL}
#define IGNORED_COUNT_KEY(key) {.name = key, .kind = ZO_KEY_IGNORED_COUNT}
#define TABLE(keys, note) {keys, sizeof keys / sizeof keys[0], note}
/* clang-format on */

/* fp16: mixed precision with dynamic (or static) loss scaling. */
static const zo_config_key fp16_keys[] = {
    BOOL_KEY("enabled", fp16_enabled),
    DOUBLE_KEY("loss_scale", loss_scale, AT_LEAST(0)),
    INT_KEY("initial_scale_power", initial_scale_power, BETWEEN(0, 62)),
    U64_KEY("loss_scale_window", loss_scale_window, AT_LEAST(1)),
    INT_KEY("hysteresis", hysteresis, AT_LEAST(1)),
    BOOL_KEY("consecutive_hysteresis", consecutive_hysteresis),
    DOUBLE_KEY("min_loss_scale", min_loss_scale, ABOVE(0)),
    IGNORED_KEY("auto_cast"),
    IGNORED_KEY("fp16_master_weights_and_grads"),
};
static const zo_config_table fp16_table = TABLE(fp16_keys, NULL);

static const zo_config_key bf16_keys[] = {
    BOOL_KEY("enabled", bf16_enabled),
    IGNORED_KEY("immediate_grad_update"),
};
const zo_config_table zo_config_bf16_keys = TABLE(bf16_keys, NULL);

/* optimizer.params of Adam and AdamW (DeepSpeed's CPU Adam takes the same). */
static const zo_config_key adam_params_keys[] = {
    FLOAT_KEY("lr", adam.lr, AT_LEAST(0)),
    CUSTOM_KEY("betas", zo_config_read_betas),
    FLOAT_KEY("eps", adam.eps, ABOVE(0)),
    FLOAT_KEY("weight_decay", adam.weight_decay, AT_LEAST(0)),
    BOOL_KEY("bias_correction", adam.bias_correction),
    CUSTOM_KEY("adam_w_mode", zo_config_read_adam_w_mode),
    CUSTOM_KEY("amsgrad", zo_config_read_amsgrad),
    IGNORED_KEY("torch_adam"),
};
static const zo_config_table adam_params_table = TABLE(adam_params_keys, NULL);

static const zo_config_key optimizer_keys[] = {
    CUSTOM_KEY("type", zo_config_read_optimizer_type),
    SECTION_KEY("params", adam_params_table),
    IGNORED_KEY("legacy_fusion"),
};
const zo_config_table zo_config_optimizer_keys = TABLE(optimizer_keys, NULL);

/* scheduler: its params depend on its type, as DeepSpeed passes them to the
 * scheduler's constructor. last_batch_iteration is for resuming, which zo's
 * checkpoints do themselves. */
static const zo_config_key scheduler_keys[] = {
    CUSTOM_KEY("type", zo_config_read_scheduler_type),
    CUSTOM_KEY("params", zo_config_read_scheduler_params),
};
const zo_config_table zo_config_scheduler_keys = TABLE(scheduler_keys, NULL);

#define WARMUP_KEYS                                                                                \
    DOUBLE_KEY("warmup_min_lr", scheduler.warmup_min_lr, AT_LEAST(0)),                             \
        DOUBLE_KEY("warmup_max_lr", scheduler.warmup_max_lr, AT_LEAST(0)),                         \
        U64_KEY("warmup_num_steps", scheduler.warmup_num_steps, AT_LEAST(0)),                      \
        CUSTOM_KEY("warmup_type", zo_config_read_warmup_type), IGNORED_KEY("last_batch_iteration")

static const zo_config_key warmup_lr_keys[] = {WARMUP_KEYS};
const zo_config_table zo_config_warmup_lr_keys = TABLE(warmup_lr_keys, "not a WarmupLR parameter");

static const zo_config_key warmup_decay_lr_keys[] = {
    WARMUP_KEYS,
    CUSTOM_KEY("total_num_steps", zo_config_read_total_num_steps),
};
const zo_config_table zo_config_warmup_decay_lr_keys =
    TABLE(warmup_decay_lr_keys, "not a WarmupDecayLR parameter");

static const zo_config_key warmup_cosine_lr_keys[] = {
    CUSTOM_KEY("total_num_steps", zo_config_read_total_num_steps),
    DOUBLE_KEY("warmup_min_ratio", scheduler.warmup_min_ratio, BETWEEN(0, 1)),
    U64_KEY("warmup_num_steps", scheduler.warmup_num_steps, AT_LEAST(0)),
    DOUBLE_KEY("cos_min_ratio", scheduler.cos_min_ratio, BETWEEN(0, 1)),
    CUSTOM_KEY("warmup_type", zo_config_read_warmup_type),
    IGNORED_KEY("last_batch_iteration"),
};
const zo_config_table zo_config_warmup_cosine_lr_keys =
    TABLE(warmup_cosine_lr_keys, "not a WarmupCosineLR parameter");

/* zero_optimization.offload_optimizer: host memory ("cpu") or NVMe files ("nvme"); the
 * NVMe keys are read whatever the device and used with "nvme" (engine/nvme/). */
static const zo_config_key offload_optimizer_keys[] = {
    CUSTOM_KEY("device", zo_config_read_offload_device),
    BOOL_KEY("pin_memory", pin_memory),
    CUSTOM_KEY("nvme_path", zo_config_read_nvme_path),
    U64_KEY("buffer_count", nvme.buffer_count, AT_LEAST(1)),
    BOOL_KEY("pipeline_read", nvme.pipeline_read),
    BOOL_KEY("pipeline_write", nvme.pipeline_write),
    BOOL_KEY("fast_init", nvme.fast_init),
    IGNORED_KEY("buffer_size"),
    IGNORED_KEY("pipeline"),
    IGNORED_KEY("nvme_path_per_local_rank"),
    IGNORED_KEY("ratio"),
};
const zo_config_table zo_config_offload_optimizer_keys = TABLE(offload_optimizer_keys, NULL);

/* zero_optimization.offload_param (stage 3): zo keeps offloaded parameters in host
 * memory. DeepSpeed uses the buffers and max_in_cpu only when it offloads parameters
 * to NVMe, which zo does not: their types are checked and they are ignored. */
static const zo_config_key offload_param_keys[] = {
    CUSTOM_KEY("device", zo_config_read_offload_param_device),
    BOOL_KEY("pin_memory", offload_param_pin_memory),
    IGNORED_COUNT_KEY("buffer_count"),
    IGNORED_COUNT_KEY("buffer_size"),
    IGNORED_COUNT_KEY("max_in_cpu"),
    IGNORED_KEY("nvme_path"),
};
const zo_config_table zo_config_offload_param_keys = TABLE(offload_param_keys, NULL);

/* zero_optimization: stages 0-3. Stage 3's sizes take DeepSpeed's two spellings,
 * "stage3_<name>" and "<name>" (not both: zero.c). The ignored keys are ZeRO-3 knobs
 * zo has by construction (it releases a parameter when the loop says so, so no reuse
 * distance; its buckets play the sub groups' role; its checkpoints always hold the fp32
 * master, so no 16-bit gather on save), ZeRO++'s and MiCS's, and knobs whose effect zo
 * has by construction (allgather_partitions) or does not need (checkpoint layout). */
static const zo_config_key zero_keys[] = {
    CUSTOM_KEY("stage", zo_config_read_stage),
    CUSTOM_SECTION_KEY("offload_optimizer", zo_config_read_offload_optimizer,
                       zo_config_offload_optimizer_keys),
    CUSTOM_KEY("cpu_offload", zo_config_read_cpu_offload),
    BOOL_KEY("overlap_comm", overlap_comm),
    BOOL_KEY("contiguous_gradients", contiguous_gradients),
    BOOL_KEY("reduce_scatter", reduce_scatter),
    U64_KEY("reduce_bucket_size", reduce_bucket_size, AT_LEAST(1)),
    U64_KEY("allgather_bucket_size", allgather_bucket_size, AT_LEAST(1)),
    SECTION_KEY("offload_param", zo_config_offload_param_keys),
    U64_KEY("stage3_prefetch_bucket_size", stage3_prefetch_bucket_size, AT_LEAST(0)),
    U64_KEY("stage3_max_live_parameters", stage3_max_live_parameters, AT_LEAST(1)),
    U64_KEY("stage3_param_persistence_threshold", stage3_param_persistence_threshold, AT_LEAST(0)),
    U64_KEY("stage3_model_persistence_threshold", stage3_model_persistence_threshold, AT_LEAST(0)),
    U64_KEY("prefetch_bucket_size", stage3_prefetch_bucket_size, AT_LEAST(0)),
    U64_KEY("max_live_parameters", stage3_max_live_parameters, AT_LEAST(1)),
    U64_KEY("param_persistence_threshold", stage3_param_persistence_threshold, AT_LEAST(0)),
    U64_KEY("model_persistence_threshold", stage3_model_persistence_threshold, AT_LEAST(0)),
    IGNORED_COUNT_KEY("stage3_max_reuse_distance"),
    IGNORED_COUNT_KEY("max_reuse_distance"),
    IGNORED_COUNT_KEY("sub_group_size"),
    IGNORED_BOOL_KEY("stage3_gather_16bit_weights_on_model_save"),
    IGNORED_BOOL_KEY("gather_16bit_weights_on_model_save"),
    IGNORED_BOOL_KEY("stage3_gather_fp16_weights_on_model_save"),
    IGNORED_KEY("stage3_module_granularity_threshold"),
    IGNORED_KEY("module_granularity_threshold"),
    IGNORED_KEY("stage3_use_all_reduce_for_fetch_params"),
    IGNORED_KEY("use_all_reduce_for_fetch_params"),
    IGNORED_KEY("stage3_allgather_sequential"),
    IGNORED_KEY("allgather_sequential"),
    IGNORED_KEY("stage3_partition_stream_chunk_size"),
    IGNORED_KEY("partition_stream_chunk_size"),
    IGNORED_KEY("round_robin_gradients"),
    IGNORED_KEY("elastic_checkpoint"),
    IGNORED_KEY("ignore_unused_parameters"),
    IGNORED_KEY("load_from_fp32_weights"),
    IGNORED_KEY("allgather_partitions"),
    IGNORED_KEY("zero_hpz_partition_size"),
    IGNORED_KEY("zero_quantized_weights"),
    IGNORED_KEY("zero_quantized_nontrainable_weights"),
    IGNORED_KEY("zero_quantized_gradients"),
    IGNORED_KEY("zeropp_loco_param"),
    IGNORED_KEY("mics_shard_size"),
    IGNORED_KEY("mics_hierarchical_params_gather"),
    IGNORED_KEY("memory_efficient_linear"),
    IGNORED_KEY("use_multi_rank_bucket_allreduce"),
    IGNORED_KEY("cpu_offload_param"),
    IGNORED_KEY("cpu_offload_params"),
    IGNORED_KEY("cpu_offload_use_pin_memory"),
    IGNORED_KEY("legacy_stage1"),
    IGNORED_KEY("pipeline_loading_checkpoint"),
    IGNORED_KEY("override_module_apply"),
    IGNORED_KEY("log_trace_cache_warnings"),
};
const zo_config_table zo_config_zero_keys = TABLE(zero_keys, NULL);

/* DeepSpeed's "aio": how the NVMe state's requests are cut and submitted
 * (engine/nvme/ring.c). thread_count and its other name intra_op_parallelism: io_uring
 * gets its parallelism from the queue, so only 1 is taken (nvme_config.c). */
static const zo_config_key aio_keys[] = {
    U64_KEY("block_size", aio.block_size, BETWEEN(4096, 1073741824)),
    U64_KEY("queue_depth", aio.queue_depth, BETWEEN(1, 4096)),
    CUSTOM_KEY("thread_count", zo_config_read_aio_thread_count),
    CUSTOM_KEY("intra_op_parallelism", zo_config_read_aio_thread_count),
    BOOL_KEY("single_submit", aio.single_submit),
    BOOL_KEY("overlap_events", aio.overlap_events),
    IGNORED_KEY("use_gds"),
};
static const zo_config_table aio_table = TABLE(aio_keys, NULL);

/* zo's own section. */
static const zo_config_key zo_keys[] = {
    CUSTOM_KEY("device", zo_config_read_device),
    CUSTOM_KEY("comm", zo_config_read_comm),
    INT_KEY("threads", threads, AT_LEAST(0)),
    CUSTOM_KEY("bind", zo_config_read_bind),
    BOOL_KEY("delayed_param_update", delayed_param_update),
    CUSTOM_KEY("trace", zo_config_read_trace),
    CUSTOM_KEY("moments_dtype", zo_config_read_moments_dtype),
    CUSTOM_KEY("max_pinned_bytes", zo_config_read_max_pinned_bytes),
    CUSTOM_KEY("device_memory_budget", zo_config_read_device_memory_budget),
    DOUBLE_KEY("collective_timeout_seconds", collective_timeout_seconds, AT_LEAST(0)),
};
static const zo_config_table zo_table = TABLE(zo_keys, NULL);

/* The top level. The ignored sections are DeepSpeed's logging, profiling, monitoring,
 * autotuning, data pipeline, pipeline and tensor parallelism, compression and
 * checkpoint-engine features, and communication dtype knobs: none changes what the
 * optimizer computes. Each is recorded once, by its own name. */
static const zo_config_key root_keys[] = {
    U64_KEY("train_batch_size", train_batch_size, AT_LEAST(1)),
    U64_KEY("train_micro_batch_size_per_gpu", train_micro_batch_size_per_gpu, AT_LEAST(1)),
    U64_KEY("gradient_accumulation_steps", gradient_accumulation_steps, AT_LEAST(1)),
    DOUBLE_KEY("gradient_clipping", gradient_clipping, AT_LEAST(0)),
    SECTION_KEY("fp16", fp16_table),
    CUSTOM_SECTION_KEY("bf16", zo_config_read_bf16, zo_config_bf16_keys),
    CUSTOM_KEY("bfloat16", zo_config_read_bf16), /* DeepSpeed's old name for bf16 */
    CUSTOM_SECTION_KEY("optimizer", zo_config_read_optimizer, zo_config_optimizer_keys),
    CUSTOM_KEY("scheduler", zo_config_read_scheduler),
    CUSTOM_SECTION_KEY("zero_optimization", zo_config_read_zero, zo_config_zero_keys),
    SECTION_KEY("zo", zo_table),
    SECTION_KEY("aio", aio_table),
    IGNORED_KEY("steps_per_print"),
    IGNORED_KEY("wall_clock_breakdown"),
    IGNORED_KEY("dump_state"),
    IGNORED_KEY("memory_breakdown"),
    IGNORED_KEY("prescale_gradients"),
    IGNORED_KEY("gradient_predivide_factor"),
    IGNORED_KEY("sparse_gradients"),
    IGNORED_KEY("activation_checkpointing"),
    IGNORED_KEY("flops_profiler"),
    IGNORED_KEY("tensorboard"),
    IGNORED_KEY("wandb"),
    IGNORED_KEY("csv_monitor"),
    IGNORED_KEY("comet"),
    IGNORED_KEY("comms_logger"),
    IGNORED_KEY("elasticity"),
    IGNORED_KEY("autotuning"),
    IGNORED_KEY("data_efficiency"),
    IGNORED_KEY("curriculum_learning"),
    IGNORED_KEY("checkpoint"),
    IGNORED_KEY("amp"),
    IGNORED_KEY("communication_data_type"),
    IGNORED_KEY("seq_parallel_communication_data_type"),
    IGNORED_KEY("fp32_allreduce"),
    IGNORED_KEY("disable_allgather"),
    IGNORED_KEY("dataloader_drop_last"),
    IGNORED_KEY("data_types"),
    IGNORED_KEY("zero_allow_untested_optimizer"),
    IGNORED_KEY("zero_force_ds_cpu_optimizer"),
    IGNORED_KEY("compression_training"),
    IGNORED_KEY("quantize_training"),
    IGNORED_KEY("weight_quantization"),
    IGNORED_KEY("sparse_attention"),
    IGNORED_KEY("eigenvalue"),
    IGNORED_KEY("progressive_layer_drop"),
    IGNORED_KEY("hybrid_engine"),
    IGNORED_KEY("nebula"),
    IGNORED_KEY("pipeline"),
    IGNORED_KEY("tensor_parallel"),
    IGNORED_KEY("compile"),
    IGNORED_KEY("graph_harvesting"),
    IGNORED_KEY("use_data_before_expert_parallelism"),
    IGNORED_KEY("timers"),
    IGNORED_KEY("torch_autocast"),
};
const zo_config_table zo_config_root_keys = TABLE(root_keys, NULL);

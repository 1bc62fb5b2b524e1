/* Readers for the config keys that need more than a type and a range: the optimizer
 * and scheduler types, ZeRO's stage and offload device, names that map to enums, and
 * sections whose presence matters. The tables in keys.c point at them.
 * Internal. */
#ifndef ZO_CONFIG_HANDLERS_H
#define ZO_CONFIG_HANDLERS_H

#include "reader.h"

/* optimizer and scheduler (optimizer.c) */
extern const zo_config_range zo_config_beta_range;            /* [0, 1)  */
extern const zo_config_range zo_config_total_num_steps_range; /* >= 1    */
/* The params table of a scheduler kind; NULL for ZO_SCHEDULER_NONE or a bad value. */
const zo_config_table *zo_config_scheduler_params_keys(zo_scheduler_kind kind);
zo_status zo_config_read_optimizer(zo_config_reader *reader, json_t *value, const char *path);
zo_status zo_config_read_optimizer_type(zo_config_reader *reader, json_t *value, const char *path);
zo_status zo_config_read_betas(zo_config_reader *reader, json_t *value, const char *path);
zo_status zo_config_read_adam_w_mode(zo_config_reader *reader, json_t *value, const char *path);
zo_status zo_config_read_amsgrad(zo_config_reader *reader, json_t *value, const char *path);
zo_status zo_config_read_scheduler(zo_config_reader *reader, json_t *value, const char *path);
zo_status zo_config_read_scheduler_type(zo_config_reader *reader, json_t *value, const char *path);
zo_status zo_config_read_scheduler_params(zo_config_reader *reader, json_t *value,
                                          const char *path);
zo_status zo_config_read_warmup_type(zo_config_reader *reader, json_t *value, const char *path);
zo_status zo_config_read_total_num_steps(zo_config_reader *reader, json_t *value, const char *path);

/* bf16 and zero_optimization (zero.c) */
zo_status zo_config_read_bf16(zo_config_reader *reader, json_t *value, const char *path);
zo_status zo_config_read_zero(zo_config_reader *reader, json_t *value, const char *path);
zo_status zo_config_read_stage(zo_config_reader *reader, json_t *value, const char *path);
zo_status zo_config_read_offload_optimizer(zo_config_reader *reader, json_t *value,
                                           const char *path);
zo_status zo_config_read_offload_device(zo_config_reader *reader, json_t *value, const char *path);
zo_status zo_config_read_offload_param_device(zo_config_reader *reader, json_t *value,
                                              const char *path);
zo_status zo_config_read_cpu_offload(zo_config_reader *reader, json_t *value, const char *path);

zo_status zo_config_check_stage(long long stage, const char *path);

/* the NVMe state's keys (nvme_config.c) */
zo_status zo_config_read_nvme_path(zo_config_reader *reader, json_t *value, const char *path);
zo_status zo_config_read_aio_thread_count(zo_config_reader *reader, json_t *value, const char *path);
/* Across keys: "nvme" needs nvme_path, a ring that holds the buckets the pipeline keeps
 * at once, a block size of whole pages, one aio thread. Shared with
 * zo_config_from_settings (the fields named as zo_settings' then). */
zo_status zo_config_check_nvme_settings(const zo_settings *settings, bool from_settings);

/* the "zo" section (zo_section.c) */
zo_status zo_config_read_device(zo_config_reader *reader, json_t *value, const char *path);
zo_status zo_config_read_comm(zo_config_reader *reader, json_t *value, const char *path);
zo_status zo_config_read_bind(zo_config_reader *reader, json_t *value, const char *path);
zo_status zo_config_read_trace(zo_config_reader *reader, json_t *value, const char *path);
zo_status zo_config_read_moments_dtype(zo_config_reader *reader, json_t *value, const char *path);
zo_status zo_config_read_max_pinned_bytes(zo_config_reader *reader, json_t *value,
                                          const char *path);
zo_status zo_config_read_device_memory_budget(zo_config_reader *reader, json_t *value,
                                              const char *path);

/* What those readers check, for a zo_settings that did not come from JSON: the
 * values with no key table range (betas, enums, strings, the stage, the scheduler's
 * required steps). Errors name the field (zo_config_settings_label). */
zo_status zo_config_check_optimizer_settings(const zo_settings *settings);
zo_status zo_config_check_zero_settings(const zo_settings *settings);
zo_status zo_config_check_zo_settings(const zo_settings *settings);

#endif

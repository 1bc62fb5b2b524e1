/* Readers for the config keys that need more than a type and a range: the optimizer
 * and scheduler types, ZeRO's stage and offload device, names that map to enums, and
 * sections whose presence matters. The tables in config_keys.c point at them.
 * Internal. */
#ifndef ZO_CONFIG_HANDLERS_H
#define ZO_CONFIG_HANDLERS_H

#include "reader.h"

/* optimizer and scheduler (config_optimizer.c) */
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

/* bf16 and zero_optimization (config_zero.c) */
zo_status zo_config_read_bf16(zo_config_reader *reader, json_t *value, const char *path);
zo_status zo_config_read_zero(zo_config_reader *reader, json_t *value, const char *path);
zo_status zo_config_read_stage(zo_config_reader *reader, json_t *value, const char *path);
zo_status zo_config_read_offload_optimizer(zo_config_reader *reader, json_t *value,
                                           const char *path);
zo_status zo_config_read_offload_device(zo_config_reader *reader, json_t *value, const char *path);
zo_status zo_config_read_cpu_offload(zo_config_reader *reader, json_t *value, const char *path);

/* the "zo" section (config_zo_section.c) */
zo_status zo_config_read_device(zo_config_reader *reader, json_t *value, const char *path);
zo_status zo_config_read_comm(zo_config_reader *reader, json_t *value, const char *path);
zo_status zo_config_read_bind(zo_config_reader *reader, json_t *value, const char *path);
zo_status zo_config_read_trace(zo_config_reader *reader, json_t *value, const char *path);
zo_status zo_config_read_moments_dtype(zo_config_reader *reader, json_t *value, const char *path);
zo_status zo_config_read_max_pinned_bytes(zo_config_reader *reader, json_t *value,
                                          const char *path);

#endif

/* The tables of every key a config may hold, section by section: the ones zo reads
 * and the DeepSpeed ones it accepts and ignores. Internal. */
#ifndef ZO_CONFIG_KEYS_H
#define ZO_CONFIG_KEYS_H

#include "reader.h"

extern const zo_config_table zo_config_root_keys;
extern const zo_config_table zo_config_bf16_keys;
extern const zo_config_table zo_config_optimizer_keys;
extern const zo_config_table zo_config_scheduler_keys;
extern const zo_config_table zo_config_warmup_lr_keys;
extern const zo_config_table zo_config_warmup_decay_lr_keys;
extern const zo_config_table zo_config_warmup_cosine_lr_keys;
extern const zo_config_table zo_config_zero_keys;
extern const zo_config_table zo_config_offload_optimizer_keys;
extern const zo_config_table zo_config_offload_param_keys;

#endif

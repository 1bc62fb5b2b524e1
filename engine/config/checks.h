/* Checks a config across keys, once the walk has read every key. Internal. */
#ifndef ZO_CONFIG_CHECKS_H
#define ZO_CONFIG_CHECKS_H

#include "reader.h"

/* Refuses combinations no single key shows wrong, and settles values that depend on
 * several keys (Adam's decoupled decay). ZO_ERR_CONFIG naming the keys. */
zo_status zo_config_check(zo_config_reader *reader);

/* The part of those checks that needs only the settings (one precision, a loss scale
 * a float holds): shared with zo_config_from_settings. */
zo_status zo_config_check_precision(const zo_settings *settings);

/* offload_param.device "cpu" needs stage 3. Also shared with zo_config_from_settings. */
zo_status zo_config_check_offload_param(const zo_settings *settings);

#endif

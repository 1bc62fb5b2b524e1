/* Loss scaling as DeepSpeed's DynamicLossScaler does it, plus the static and "none"
 * (bf16/fp32) cases. Pure logic, no I/O. Internal. */
#ifndef ZO_LOSS_SCALER_H
#define ZO_LOSS_SCALER_H

#include <stdbool.h>
#include <stdint.h>

#include "zo/config.h"
#include "zo/status.h"

/* The dynamic scale grows no further than 2^127, the largest power of two a float holds. */
#define ZO_MAX_LOSS_SCALE 0x1p127

typedef struct zo_loss_scaler {
    bool dynamic;
    double scale;
    double min_scale;
    uint64_t window;         /* good steps between growths          */
    int hysteresis;          /* DeepSpeed's delayed_shift           */
    int hysteresis_left;     /* DeepSpeed's cur_hysteresis          */
    bool consecutive_hysteresis;
    uint64_t iteration;      /* steps seen, skipped ones included   */
    int64_t last_overflow_iteration;
} zo_loss_scaler;

/* From the fp16 settings; without fp16 the scale is a constant 1. */
void zo_loss_scaler_init(zo_loss_scaler *scaler, const zo_settings *settings);

/* Records one step's outcome and adjusts the scale: on overflow the scale halves once
 * `hysteresis` overflows have been tolerated; after `window` good steps since the last
 * overflow it doubles, up to ZO_MAX_LOSS_SCALE. Returns ZO_ERR_NON_FINITE (the scale unchanged) when an overflow
 * happens with the scale already at min_loss_scale, as DeepSpeed raises there. */
zo_status zo_loss_scaler_update(zo_loss_scaler *scaler, bool overflow);

#endif

/* DeepSpeed's dynamic loss scaling rules (deepspeed/runtime/fp16/loss_scaler.py). */
#include "loss_scaler.h"

#include <math.h>

#include "error.h"

void zo_loss_scaler_init(zo_loss_scaler *scaler, const zo_settings *settings)
{
    bool fp16 = settings->fp16_enabled;
    *scaler = (zo_loss_scaler){
        .dynamic = fp16 && settings->loss_scale == 0.0,
        .scale = !fp16                        ? 1.0
                 : settings->loss_scale > 0.0 ? settings->loss_scale
                                              : ldexp(1.0, settings->initial_scale_power),
        .min_scale = settings->min_loss_scale,
        .window = settings->loss_scale_window,
        .hysteresis = settings->hysteresis,
        .hysteresis_left = settings->hysteresis,
        .consecutive_hysteresis = settings->consecutive_hysteresis,
        .last_overflow_iteration = -1,
    };
}

zo_status zo_loss_scaler_update(zo_loss_scaler *scaler, bool overflow)
{
    if (!scaler->dynamic) {
        scaler->iteration++;
        return ZO_OK;
    }
    if (overflow) {
        if (scaler->hysteresis == 1 || scaler->hysteresis_left == 1) {
            if (scaler->scale <= scaler->min_scale)
                return zo_fail(ZO_ERR_NON_FINITE,
                               "gradient overflow with the loss scale already at its minimum "
                               "(fp16.min_loss_scale = %g): the model diverges",
                               scaler->min_scale);
            scaler->scale = fmax(scaler->scale / 2.0, scaler->min_scale);
        } else {
            scaler->hysteresis_left--;
        }
        scaler->last_overflow_iteration = (int64_t)scaler->iteration;
    } else {
        if (scaler->consecutive_hysteresis)
            scaler->hysteresis_left = scaler->hysteresis;
        uint64_t good = scaler->iteration - (uint64_t)(scaler->last_overflow_iteration);
        if (good % scaler->window == 0) {
            if (!scaler->consecutive_hysteresis)
                scaler->hysteresis_left = scaler->hysteresis;
            /* stop at the largest power of two a float holds: the loop reads the scale as
             * a float, and an inf scale would stay inf through every halving */
            scaler->scale = fmin(scaler->scale * 2.0, ZO_MAX_LOSS_SCALE);
        }
    }
    scaler->iteration++;
    return ZO_OK;
}

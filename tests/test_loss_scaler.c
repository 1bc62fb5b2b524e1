/* DeepSpeed's dynamic loss scaling rules, step by step. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <math.h>

#include "loss_scaler.h"
#include "zo/zo.h"

static zo_loss_scaler dynamic_scaler(int power, uint64_t window, int hysteresis, bool consecutive, double min)
{
    zo_settings s;
    zo_default_settings(&s);
    s.fp16_enabled = true;
    s.loss_scale = 0.0;
    s.initial_scale_power = power;
    s.loss_scale_window = window;
    s.hysteresis = hysteresis;
    s.consecutive_hysteresis = consecutive;
    s.min_loss_scale = min;
    zo_loss_scaler scaler;
    zo_loss_scaler_init(&scaler, &s);
    return scaler;
}

Test(loss_scaler, grows_after_each_window_of_good_steps)
{
    zo_loss_scaler s = dynamic_scaler(4, 3, 1, false, 1.0);
    cr_assert(eq(dbl, s.scale, 16.0));
    const double expected[] = {16, 16, 32, 32, 32, 64, 64, 64, 128};
    for (size_t k = 0; k < sizeof expected / sizeof expected[0]; k++) {
        cr_assert(eq(int, zo_loss_scaler_update(&s, false), ZO_OK));
        cr_expect(eq(dbl, s.scale, expected[k]), "after good step %zu", k + 1);
    }
}

/* All-zero gradients never overflow: the scale doubles every window, and would reach
 * inf as a float (and stay there through every halving) without its ceiling. */
Test(loss_scaler, growth_stops_at_the_largest_float_power_of_two)
{
    zo_loss_scaler s = dynamic_scaler(16, 1, 1, false, 1.0);
    for (int k = 0; k < 400; k++)
        cr_assert(eq(int, zo_loss_scaler_update(&s, false), ZO_OK));
    cr_expect(eq(dbl, s.scale, 0x1p127));
    cr_expect(isfinite((float)s.scale), "the loop's float copy of the scale must stay finite");
    cr_assert(eq(int, zo_loss_scaler_update(&s, true), ZO_OK));
    cr_expect(eq(dbl, s.scale, 0x1p126), "an overflow halves it again");
}

Test(loss_scaler, hysteresis_absorbs_overflows_before_halving)
{
    zo_loss_scaler s = dynamic_scaler(10, 1000, 3, false, 1.0);
    cr_assert(eq(int, zo_loss_scaler_update(&s, true), ZO_OK));
    cr_expect(eq(dbl, s.scale, 1024.0), "first overflow absorbed");
    cr_assert(eq(int, zo_loss_scaler_update(&s, true), ZO_OK));
    cr_expect(eq(dbl, s.scale, 1024.0), "second overflow absorbed");
    cr_assert(eq(int, zo_loss_scaler_update(&s, true), ZO_OK));
    cr_expect(eq(dbl, s.scale, 512.0), "third halves");
    cr_assert(eq(int, zo_loss_scaler_update(&s, true), ZO_OK));
    cr_expect(eq(dbl, s.scale, 256.0), "hysteresis stays spent without a window of good steps");
}

Test(loss_scaler, consecutive_hysteresis_refills_on_every_good_step)
{
    zo_loss_scaler s = dynamic_scaler(10, 1000, 2, true, 1.0);
    for (int k = 0; k < 5; k++) { /* overflow, good, overflow, good...: never halves */
        cr_assert(eq(int, zo_loss_scaler_update(&s, true), ZO_OK));
        cr_assert(eq(int, zo_loss_scaler_update(&s, false), ZO_OK));
    }
    cr_expect(eq(dbl, s.scale, 1024.0));
    zo_loss_scaler plain = dynamic_scaler(10, 1000, 2, false, 1.0);
    for (int k = 0; k < 2; k++) {
        cr_assert(eq(int, zo_loss_scaler_update(&plain, true), ZO_OK));
        cr_assert(eq(int, zo_loss_scaler_update(&plain, false), ZO_OK));
    }
    cr_expect(eq(dbl, plain.scale, 512.0), "without it the second overflow halves");
}

Test(loss_scaler, overflow_at_the_minimum_is_an_error_that_changes_nothing)
{
    zo_loss_scaler s = dynamic_scaler(2, 1000, 1, false, 2.0);
    cr_assert(eq(int, zo_loss_scaler_update(&s, true), ZO_OK));
    cr_expect(eq(dbl, s.scale, 2.0));
    zo_loss_scaler before = s;
    cr_expect(eq(int, zo_loss_scaler_update(&s, true), ZO_ERR_NON_FINITE));
    cr_expect(strstr(zo_last_error(), "min_loss_scale") != NULL, "%s", zo_last_error());
    cr_expect(memcmp(&before, &s, sizeof s) == 0, "the scaler is unchanged");
}

Test(loss_scaler, static_and_bf16_scales_never_move)
{
    zo_settings settings;
    zo_default_settings(&settings);
    zo_loss_scaler none;
    zo_loss_scaler_init(&none, &settings);
    cr_expect(eq(dbl, none.scale, 1.0));
    settings.fp16_enabled = true;
    settings.loss_scale = 128.0;
    zo_loss_scaler fixed;
    zo_loss_scaler_init(&fixed, &settings);
    for (int k = 0; k < 3; k++) {
        cr_assert(eq(int, zo_loss_scaler_update(&fixed, true), ZO_OK));
        cr_assert(eq(int, zo_loss_scaler_update(&none, true), ZO_OK));
    }
    cr_expect(eq(dbl, fixed.scale, 128.0));
    cr_expect(eq(dbl, none.scale, 1.0));
}

/* Every getter of the public API given NULL (or a value outside its enum) returns
 * what its header says, without crashing and without touching zo_last_error(). */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <string.h>

#include "zo/zo.h"

/* A failure whose message the getters below must leave as it is. */
static char expected_error[256];

static void fail_once(void)
{
    zo_config *config = NULL;
    cr_assert(eq(int, zo_config_from_string(NULL, &config), ZO_ERR_INVALID_ARGUMENT));
    strncpy(expected_error, zo_last_error(), sizeof expected_error - 1);
    cr_assert(strlen(expected_error) > 0);
}

static void error_untouched(void) { cr_assert(eq(str, (char *)zo_last_error(), expected_error)); }

TestSuite(null_getters, .init = fail_once);

Test(null_getters, status_names)
{
    cr_assert(eq(str, (char *)zo_status_name(ZO_OK), "ZO_OK"));
    cr_assert(eq(str, (char *)zo_status_name(ZO_ERR_TIMEOUT), "ZO_ERR_TIMEOUT"));
    cr_assert(eq(str, (char *)zo_status_name((zo_status)42), "unknown status"));
    cr_assert(eq(str, (char *)zo_status_name((zo_status)-99), "unknown status"));
    error_untouched();
}

Test(null_getters, dtype_and_isa_outside_their_enums)
{
    cr_assert(eq(sz, zo_dtype_size((zo_dtype)9), 0));
    cr_assert(eq(str, (char *)zo_dtype_name((zo_dtype)9), "invalid"));
    cr_assert(eq(str, (char *)zo_cpu_isa_name((zo_cpu_isa)99), "invalid"));
    cr_assert(eq(int, zo_cpu_supports((zo_cpu_isa)99), false));
    error_untouched();
}

Test(null_getters, adam_context)
{
    cr_assert(eq(int, zo_adam_isa(NULL), ZO_CPU_ISA_AUTO));
    cr_assert(eq(int, zo_adam_num_threads(NULL), 0));
    zo_adam_default_settings(NULL);
    zo_adam_default_hparams(NULL);
    zo_adam_destroy(NULL);
    zo_adam *none = NULL;
    zo_adam_destroy(&none);
    error_untouched();
}

Test(null_getters, config)
{
    cr_assert(zo_config_settings(NULL) == NULL);
    cr_assert(eq(sz, zo_config_ignored_count(NULL), 0));
    cr_assert(zo_config_ignored_key(NULL, 0) == NULL);
    zo_default_settings(NULL);
    zo_config_destroy(NULL);
    error_untouched();
}

Test(null_getters, engine)
{
    cr_assert(eq(int, zo_engine_dtype(NULL), ZO_DTYPE_F32));
    cr_assert(eq(sz, zo_engine_param_count(NULL), 0));
    cr_assert(eq(sz, zo_engine_bucket_count(NULL), 0));
    cr_assert(eq(str, (char *)zo_engine_device_name(NULL), ""));
    cr_assert(eq(sz, zo_engine_rank(NULL), 0));
    cr_assert(eq(sz, zo_engine_ranks(NULL), 0));
    cr_assert(eq(str, (char *)zo_engine_notice(NULL), ""));
    cr_assert(eq(str, (char *)zo_engine_placement(NULL), ""));
    cr_assert(zo_engine_weights(NULL, 0) == NULL);
    cr_assert(zo_engine_grads(NULL, 0) == NULL);
    cr_assert(eq(flt, zo_engine_loss_scale(NULL), 0.0f));
    cr_assert(eq(u64, zo_engine_micro_step_count(NULL), 0));
    cr_assert(eq(u64, zo_engine_step_count(NULL), 0));
    zo_engine_destroy(NULL);
    zo_engine *none = NULL;
    zo_engine_destroy(&none);
    error_untouched();
}

/* Calls that can fail refuse NULL with ZO_ERR_INVALID_ARGUMENT (and a message). */
Test(null_getters, fallible_calls_refuse_a_null_engine)
{
    zo_memory_plan plan;
    float values[1];
    cr_expect(eq(int, zo_engine_memory(NULL, &plan), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int, zo_engine_set_master(NULL, 0, values), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int, zo_engine_get_master(NULL, 0, values), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int, zo_engine_wait_params(NULL, 0, NULL), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int, zo_engine_grad_ready(NULL, 0, NULL), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int, zo_engine_step(NULL, NULL), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int, zo_engine_synchronize(NULL), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int, zo_engine_write_trace(NULL), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int, zo_engine_save(NULL, "x"), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int, zo_engine_load(NULL, "x"), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(strstr(zo_last_error(), "NULL") != NULL, "%s", zo_last_error());
}

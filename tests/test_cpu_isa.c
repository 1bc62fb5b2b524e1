/* Choosing a kernel path: settings, the ZO_CPU_ISA environment variable, and what a
 * context reports. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdlib.h>

#include "test_support.h"

Test(cpu_isa, auto_picks_the_best_path_and_reports_it)
{
    unsetenv("ZO_CPU_ISA");
    zo_adam *ctx = NULL;
    cr_assert(eq(int, zo_adam_create(NULL, &ctx), ZO_OK), "%s", zo_last_error());
    cr_expect(eq(int, zo_adam_isa(ctx), zo_cpu_best_isa()));
    cr_expect(ge(int, zo_adam_num_threads(ctx), 1));
    zo_adam_destroy(&ctx);
    cr_expect(eq(ptr, ctx, NULL), "destroy sets the handle to NULL");
    zo_adam_destroy(&ctx); /* and a second destroy is harmless */
    zo_adam_destroy(NULL);
}

Test(cpu_isa, environment_variable_selects_a_path)
{
    setenv("ZO_CPU_ISA", "scalar", 1);
    zo_adam *ctx = NULL;
    cr_assert(eq(int, zo_adam_create(NULL, &ctx), ZO_OK), "%s", zo_last_error());
    cr_expect(eq(int, zo_adam_isa(ctx), ZO_CPU_ISA_SCALAR));
    zo_adam_destroy(&ctx);

    /* an explicit setting wins over the environment */
    zo_adam_settings settings;
    zo_adam_default_settings(&settings);
    settings.isa = zo_cpu_best_isa();
    cr_assert(eq(int, zo_adam_create(&settings, &ctx), ZO_OK));
    cr_expect(eq(int, zo_adam_isa(ctx), zo_cpu_best_isa()));
    zo_adam_destroy(&ctx);
}

Test(cpu_isa, a_misspelled_environment_value_is_an_error_naming_it)
{
    setenv("ZO_CPU_ISA", "avx-512", 1);
    zo_adam *ctx = NULL;
    cr_expect(eq(int, zo_adam_create(NULL, &ctx), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(ptr, ctx, NULL));
    cr_expect(strstr(zo_last_error(), "ZO_CPU_ISA=\"avx-512\"") != NULL, "%s", zo_last_error());
}

Test(cpu_isa, a_path_the_cpu_lacks_is_refused_not_run)
{
    static const zo_cpu_isa isas[] = ZO_TEST_ISAS;
    int refused = 0;
    for (int k = 0; k < ZO_TEST_ISA_COUNT; k++) {
        zo_adam_settings settings = {.isa = isas[k], .num_threads = 1};
        zo_adam *ctx = NULL;
        zo_status status = zo_adam_create(&settings, &ctx);
        if (zo_cpu_supports(isas[k])) {
            cr_expect(eq(int, status, ZO_OK), "%s: %s", zo_cpu_isa_name(isas[k]), zo_last_error());
        } else {
            refused++;
            cr_expect(eq(int, status, ZO_ERR_NOT_SUPPORTED), "%s", zo_cpu_isa_name(isas[k]));
            cr_expect(strstr(zo_last_error(), zo_cpu_isa_name(isas[k])) != NULL, "%s", zo_last_error());
        }
        zo_adam_destroy(&ctx);
    }
    if (refused == 0)
        cr_log_info("this CPU runs every path; the refusal branch was not exercised here");
}

Test(cpu_isa, bad_settings_are_refused)
{
    zo_adam *ctx = NULL;
    zo_adam_settings settings = {.isa = (zo_cpu_isa)42, .num_threads = 1};
    cr_expect(eq(int, zo_adam_create(&settings, &ctx), ZO_ERR_INVALID_ARGUMENT));
    settings = (zo_adam_settings){.isa = ZO_CPU_ISA_SCALAR, .num_threads = -3};
    cr_expect(eq(int, zo_adam_create(&settings, &ctx), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(strstr(zo_last_error(), "num_threads") != NULL, "%s", zo_last_error());
    cr_expect(eq(int, zo_adam_create(&settings, NULL), ZO_ERR_INVALID_ARGUMENT));
    settings.num_threads = 3;
    cr_assert(eq(int, zo_adam_create(&settings, &ctx), ZO_OK));
    cr_expect(eq(int, zo_adam_num_threads(ctx), 3));
    zo_adam_destroy(&ctx);
}

Test(cpu_isa, names_round_trip)
{
    cr_expect(eq(str, (char *)zo_cpu_isa_name(ZO_CPU_ISA_AVX512_BF16), "avx512bf16"));
    cr_expect(eq(str, (char *)zo_cpu_isa_name((zo_cpu_isa)99), "invalid"));
    cr_expect(eq(str, (char *)zo_status_name(ZO_ERR_NOT_SUPPORTED), "ZO_ERR_NOT_SUPPORTED"));
    cr_expect(eq(str, (char *)zo_status_name((zo_status)-99), "unknown status"));
    cr_expect(zo_cpu_supports(ZO_CPU_ISA_SCALAR));
}

/* Checkpoints resume bit-exactly: N steps, save, load into a fresh engine, M steps
 * give the same bits (master weights, both moments, device weights, step count, loss
 * scaler) as N + M steps without a break; for fp16 and bf16, with and without
 * accumulation, f32, bf16 and 8-bit moments (codes and block scales). Also: saving twice replaces, a save inside an
 * accumulation is refused, and what a crash between the fallback's renames leaves is
 * found by load. */
#include <sys/stat.h>

#include "checkpoint_test_support.h"

typedef struct resume_case {
    const char *name;
    const char *config;
    uint64_t accumulation;
} resume_case;

static const resume_case resume_cases[] = {
    {"fp16 (dynamic loss scale, an overflow after the resume)", CKPT_CONFIG(CKPT_FP16), 1},
    {"bf16", CKPT_CONFIG("\"bf16\": {\"enabled\": true},"), 1},
    {"fp16, 3 accumulated micro-steps (an overflow before the save)",
     CKPT_CONFIG(CKPT_FP16 "\"gradient_accumulation_steps\": 3,"), 3},
    {"bf16 with bf16 moments, 2 accumulated micro-steps",
     CKPT_CONFIG_ZO("\"bf16\": {\"enabled\": true}, \"gradient_accumulation_steps\": 2,",
                    "\"moments_dtype\": \"bf16\","),
     2},
    {"fp16, delayed update (the device lags a step at the save)",
     CKPT_CONFIG_ZO(CKPT_FP16, "\"delayed_param_update\": true,"), 1},
    {"bf16, delayed update, 2 accumulated micro-steps",
     CKPT_CONFIG_ZO("\"bf16\": {\"enabled\": true}, \"gradient_accumulation_steps\": 2,",
                    "\"delayed_param_update\": true,"),
     2},
    {"fp16 with 8-bit moments (an overflow after the resume)",
     CKPT_CONFIG_ZO(CKPT_FP16, "\"moments_dtype\": \"8bit\","), 1},
    {"bf16 with 8-bit moments, stage 1, buckets rounded to whole blocks, 2 accumulated micro-steps",
     "{\"bf16\": {\"enabled\": true}, \"gradient_accumulation_steps\": 2, \"zero_optimization\": "
     "{\"stage\": 1, \"reduce_bucket_size\": 700}, \"zo\": {\"device\": \"host\", \"moments_dtype\": \"8bit\"}}",
     2},
    {"fp16, stage 1",
     "{\"fp16\": {\"enabled\": true, \"initial_scale_power\": 4}, \"zero_optimization\": "
     "{\"stage\": 1, \"reduce_bucket_size\": 700}, \"zo\": {\"device\": \"host\"}}",
     1},
};
enum { RESUME_CASES = sizeof resume_cases / sizeof resume_cases[0] };

ParameterizedTestParameters(checkpoint, resume_is_bit_exact)
{
    static int indices[RESUME_CASES];
    return ckpt_case_indices(indices, RESUME_CASES);
}

ParameterizedTest(int *index, checkpoint, resume_is_bit_exact)
{
    enum { N = 4, M = 5 };
    const resume_case *c = &resume_cases[*index];
    static ckpt_snapshot at_save, uninterrupted, loaded, resumed;
    char dir[64], ckpt[128];
    ckpt_scratch_dir(dir, sizeof dir);
    snprintf(ckpt, sizeof ckpt, "%s/ckpt", dir);

    zo_engine *e = ckpt_engine(c->config);
    ckpt_initialize(e);
    ckpt_train(e, N * c->accumulation);
    ckpt_snapshot_of(e, &at_save);
    cr_assert(eq(int, zo_engine_save(e, ckpt), ZO_OK), "%s: save: %s", c->name, zo_last_error());
    ckpt_train(e, M * c->accumulation);
    ckpt_snapshot_of(e, &uninterrupted);
    zo_engine_destroy(&e);

    zo_engine *fresh = ckpt_engine(c->config);
    cr_assert(eq(int, zo_engine_load(fresh, ckpt), ZO_OK), "%s: load: %s", c->name,
              zo_last_error());
    cr_assert(eq(u64, zo_engine_micro_step_count(fresh), N * c->accumulation));
    cr_assert(eq(u64, zo_engine_step_count(fresh), at_save.steps));
    ckpt_snapshot_of(fresh, &loaded);
    char what[256];
    snprintf(what, sizeof what, "%s, as loaded", c->name);
    ckpt_assert_same(&at_save, &loaded, what);
    ckpt_train(fresh, M * c->accumulation);
    ckpt_snapshot_of(fresh, &resumed);
    ckpt_assert_same(&uninterrupted, &resumed, c->name);
    cr_assert(gt(u64, resumed.steps, at_save.steps), "%s: the resumed run must have stepped",
              c->name);
    zo_engine_destroy(&fresh);
    ckpt_remove_scratch(dir);
}

/* A second save into the same directory replaces the first, and leaves no sibling. */
Test(checkpoint, saving_again_replaces_the_checkpoint)
{
    static ckpt_snapshot first, second, loaded;
    char dir[64], ckpt[128], leftover[160];
    ckpt_scratch_dir(dir, sizeof dir);
    snprintf(ckpt, sizeof ckpt, "%s/ckpt/", dir); /* a trailing slash is fine */
    zo_engine *e = ckpt_engine(CKPT_CONFIG(CKPT_FP16));
    ckpt_initialize(e);
    ckpt_train(e, 2);
    ckpt_snapshot_of(e, &first);
    cr_assert(eq(int, zo_engine_save(e, ckpt), ZO_OK), "%s", zo_last_error());
    ckpt_train(e, 3);
    ckpt_snapshot_of(e, &second);
    cr_assert(eq(int, zo_engine_save(e, ckpt), ZO_OK), "%s", zo_last_error());
    /* loading into a trained engine replaces its state too */
    cr_assert(eq(int, zo_engine_load(e, ckpt), ZO_OK), "%s", zo_last_error());
    ckpt_snapshot_of(e, &loaded);
    ckpt_assert_same(&second, &loaded, "the second save");
    snprintf(leftover, sizeof leftover, "%s/ckpt.tmp", dir);
    struct stat info;
    cr_assert(eq(int, stat(leftover, &info), -1), "the old checkpoint was left in %s", leftover);
    zo_engine_destroy(&e);
    ckpt_remove_scratch(dir);
}

Test(checkpoint, save_inside_an_accumulation_is_refused)
{
    char dir[64], ckpt[128];
    ckpt_scratch_dir(dir, sizeof dir);
    snprintf(ckpt, sizeof ckpt, "%s/ckpt", dir);
    zo_engine *e = ckpt_engine(CKPT_CONFIG(CKPT_FP16 "\"gradient_accumulation_steps\": 4,"));
    ckpt_initialize(e);
    ckpt_train(e, 5);
    cr_assert(eq(int, zo_engine_save(e, ckpt), ZO_ERR_INVALID_ARGUMENT));
    cr_assert(strstr(zo_last_error(), "inside an accumulation of 4") != NULL, "%s",
              zo_last_error());
    struct stat info;
    cr_assert(eq(int, stat(ckpt, &info), -1), "nothing may be written");
    ckpt_train(e, 3);
    cr_assert(eq(int, zo_engine_save(e, ckpt), ZO_OK), "%s", zo_last_error());
    zo_engine_destroy(&e);
    ckpt_remove_scratch(dir);
}

/* On a file system without an atomic exchange the save renames <dir> to <dir>.old and
 * the new one in; a crash between the two leaves only <dir>.old, which load reads and
 * the next save puts back before it starts. */
Test(checkpoint, load_finds_the_old_checkpoint_a_crash_left_aside)
{
    static ckpt_snapshot saved, loaded;
    char dir[64], ckpt[128], aside[160];
    ckpt_scratch_dir(dir, sizeof dir);
    snprintf(ckpt, sizeof ckpt, "%s/ckpt", dir);
    snprintf(aside, sizeof aside, "%s.old", ckpt);
    zo_engine *e = ckpt_engine(CKPT_CONFIG(CKPT_FP16));
    ckpt_initialize(e);
    ckpt_train(e, 3);
    ckpt_snapshot_of(e, &saved);
    cr_assert(eq(int, zo_engine_save(e, ckpt), ZO_OK), "%s", zo_last_error());
    cr_assert(eq(int, rename(ckpt, aside), 0));
    zo_engine *fresh = ckpt_engine(CKPT_CONFIG(CKPT_FP16));
    cr_assert(eq(int, zo_engine_load(fresh, ckpt), ZO_OK), "%s", zo_last_error());
    ckpt_snapshot_of(fresh, &loaded);
    ckpt_assert_same(&saved, &loaded, "the checkpoint left aside");
    cr_assert(eq(int, zo_engine_save(fresh, ckpt), ZO_OK), "%s", zo_last_error());
    struct stat info;
    cr_assert(eq(int, stat(aside, &info), -1), "%s must be gone after the next save", aside);
    zo_engine_destroy(&e);
    zo_engine_destroy(&fresh);
    ckpt_remove_scratch(dir);
}

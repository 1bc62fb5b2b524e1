/* Bad checkpoints and mismatched engines: each is refused with its own status and a
 * message naming what is wrong, and the engine's state (master, moments, device
 * weights, step, loss scaler) is left as it was, bit for bit. */
#include <unistd.h>

#include "checkpoint/manifest.h"
#include "checkpoint/shard.h"
#include "checkpoint_test_support.h"
#include "checkpoint/durable_io.h"
#include "fault_injection.h"

typedef ckpt_saved saved_checkpoint;

static void save_checkpoint(saved_checkpoint *s, uint64_t micro_steps)
{
    ckpt_save_trained(s, micro_steps);
}

/* The ways to spoil a checkpoint. */
static void no_change(const saved_checkpoint *s) { (void)s; }
static void remove_directory(const saved_checkpoint *s)
{
    cr_assert(eq(int, unlink(s->shard), 0));
    cr_assert(eq(int, unlink(s->manifest), 0));
    cr_assert(eq(int, rmdir(s->ckpt), 0));
}
static void remove_manifest(const saved_checkpoint *s)
{
    cr_assert(eq(int, unlink(s->manifest), 0));
}
static void truncate_shard(const saved_checkpoint *s)
{
    cr_assert(eq(int, truncate(s->shard, (off_t)ckpt_file_size(s->shard) - 100), 0));
}
static void truncate_manifest(const saved_checkpoint *s)
{
    cr_assert(eq(int, truncate(s->manifest, (off_t)ckpt_file_size(s->manifest) / 2), 0));
}
static void flip_a_moment_bit(const saved_checkpoint *s)
{
    ckpt_flip_byte(s->shard, ckpt_file_size(s->shard) - 10);
}

/* Rewrites the manifest through `edit`, resealing its fingerprint unless told not to. */
static void edit_manifest(const saved_checkpoint *s, void (*edit)(zo_manifest *), bool reseal)
{
    zo_manifest m;
    cr_assert(eq(int, zo_manifest_read(s->ckpt, &m), ZO_OK), "%s", zo_last_error());
    edit(&m);
    if (reseal)
        zo_manifest_seal(&m);
    cr_assert(eq(int, zo_manifest_write(&m, s->ckpt), ZO_OK), "%s", zo_last_error());
    zo_manifest_free(&m);
}
static void two_ranks(zo_manifest *m) { m->ranks = 2; }
static void newer_version(zo_manifest *m) { m->version = ZO_CHECKPOINT_VERSION + 1; }
static void rename_a_parameter(zo_manifest *m) { m->param_names[1][0] = 'B'; }
static void save_by_two_ranks(const saved_checkpoint *s) { edit_manifest(s, two_ranks, true); }
static void save_by_a_newer_zo(const saved_checkpoint *s) { edit_manifest(s, newer_version, true); }
static void edit_without_resealing(const saved_checkpoint *s)
{
    edit_manifest(s, rename_a_parameter, false);
}

/* The shard replaced by one whose master tensor has the wrong size, its metadata (this
 * save, this rank) otherwise right. */
static void shrink_master_tensor(const saved_checkpoint *s)
{
    zo_st_file original;
    cr_assert(eq(int, zo_st_open(s->shard, &original), ZO_OK), "%s", zo_last_error());
    json_t *metadata = json_deep_copy(original.metadata); /* the writer redoes the checksums */
    zo_st_close(&original);
    static float zeros[4096];
    zo_st_tensor tensors[] = {{"master", ZO_DTYPE_F32, 100},
                              {"exp_avg", ZO_DTYPE_F32, 100},
                              {"exp_avg_sq", ZO_DTYPE_F32, 100}};
    zo_st_writer writer;
    cr_assert(eq(int, zo_st_writer_open(&writer, s->shard, tensors, 3, metadata), ZO_OK), "%s",
              zo_last_error());
    json_decref(metadata);
    cr_assert(eq(int, zo_st_writer_append(&writer, zeros, 300 * sizeof(float)), ZO_OK), "%s",
              zo_last_error());
    cr_assert(eq(int, zo_st_writer_finish(&writer), ZO_OK), "%s", zo_last_error());
}

/* A shard of another save of the same model put in this one's place. */
static void swap_in_another_saves_shard(const saved_checkpoint *s)
{
    saved_checkpoint other;
    save_checkpoint(&other, 4);
    cr_assert(eq(int, rename(other.shard, s->shard), 0));
    ckpt_remove_scratch(other.dir);
}

typedef struct bad_case {
    const char *name;
    void (*spoil)(const saved_checkpoint *);
    const char *engine_config; /* the engine that loads it */
    bool other_model;          /* with "head" of 2400 elements instead of 2500 */
    zo_status status;
    const char *message; /* part of zo_last_error() */
} bad_case;

#define SAME CKPT_CONFIG(CKPT_FP16)
static const bad_case bad_cases[] = {
    {"a missing directory", remove_directory, SAME, false, ZO_ERR_IO,
     "there is no checkpoint directory"},
    {"a missing manifest", remove_manifest, SAME, false, ZO_ERR_IO, "no checkpoint manifest"},
    {"a truncated shard", truncate_shard, SAME, false, ZO_ERR_IO, "is truncated"},
    {"a truncated manifest", truncate_manifest, SAME, false, ZO_ERR_IO,
     "cannot parse checkpoint manifest"},
    {"a flipped bit", flip_a_moment_bit, SAME, false, ZO_ERR_IO,
     "checksum mismatch in tensor exp_avg_sq"},
    {"a tensor of the wrong shape", shrink_master_tensor, SAME, false, ZO_ERR_IO,
     "tensor master is 100 elements of f32, the manifest's layout needs 3588"},
    {"a shard of another save", swap_in_another_saves_shard, SAME, false, ZO_ERR_IO,
     "(a shard of another save)"},
    {"an edited manifest", edit_without_resealing, SAME, false, ZO_ERR_IO,
     "does not match its contents"},
    {"a newer format", save_by_a_newer_zo, SAME, false, ZO_ERR_NOT_SUPPORTED,
     "this zo reads versions 1 to 2"},
    {"another rank count", save_by_two_ranks, SAME, false, ZO_ERR_CONFIG,
     "saved by 2 rank(s), this run has 1"},
    {"other parameter sizes", no_change, SAME, true, ZO_ERR_CONFIG,
     "has parameter head of 2500 elements at 1088, this engine 2400 at 1088"},
    {"bf16 instead of fp16", no_change, CKPT_CONFIG("\"bf16\": {\"enabled\": true},"), false,
     ZO_ERR_CONFIG, "saved with weights (fp16/bf16) f16, this engine uses bf16"},
    {"bf16 moments", no_change, CKPT_CONFIG_ZO(CKPT_FP16, "\"moments_dtype\": \"bf16\","), false,
     ZO_ERR_CONFIG, "moments (zo.moments_dtype) f32, this engine uses bf16"},
    {"another bucket size", no_change,
     "{\"fp16\": {\"enabled\": true}, \"zero_optimization\": {\"reduce_bucket_size\": 1024}, "
     "\"zo\": {\"device\": \"host\"}}",
     false, ZO_ERR_CONFIG,
     "buckets of elements (zero_optimization.reduce_bucket_size, rounded) 512"},
    {"an accumulation the saved micro-steps cut", no_change,
     CKPT_CONFIG(CKPT_FP16 "\"gradient_accumulation_steps\": 3,"), false, ZO_ERR_CONFIG,
     "saved after 4 micro-steps, not a whole number of this engine's accumulations of 3"},
};
enum { BAD_CASES = sizeof bad_cases / sizeof bad_cases[0] };

ParameterizedTestParameters(checkpoint_errors, each_is_refused_by_name_and_changes_nothing)
{
    static int indices[BAD_CASES];
    return ckpt_case_indices(indices, BAD_CASES);
}

ParameterizedTest(int *index, checkpoint_errors, each_is_refused_by_name_and_changes_nothing)
{
    static const zo_param_desc other_model[] = {{"embedding", 1000}, {"bias", 37}, {"head", 2400}};
    const bad_case *c = &bad_cases[*index];
    saved_checkpoint s;
    save_checkpoint(&s, 4);
    c->spoil(&s);

    /* an engine with a state of its own, different from the checkpoint's */
    zo_engine *e =
        ckpt_engine_for(c->engine_config, c->other_model ? other_model : ckpt_model, CKPT_PARAMS);
    static ckpt_snapshot before, after;
    if (!c->other_model) {
        ckpt_initialize(e);
        ckpt_train(e, 3);
        ckpt_snapshot_of(e, &before);
    }
    zo_status status = zo_engine_load(e, s.ckpt);
    cr_assert(eq(int, status, c->status), "%s: got %s: %s", c->name, zo_status_name(status),
              zo_last_error());
    cr_assert(strstr(zo_last_error(), c->message) != NULL, "%s: the message \"%s\" lacks \"%s\"",
              c->name, zo_last_error(), c->message);
    if (!c->other_model) {
        ckpt_snapshot_of(e, &after);
        ckpt_assert_same(&before, &after, c->name);
    }
    zo_engine_destroy(&e);
    ckpt_remove_scratch(s.dir);
}

Test(checkpoint_errors, null_arguments_are_refused)
{
    zo_engine *e = ckpt_engine(CKPT_CONFIG(CKPT_FP16));
    cr_assert(eq(int, zo_engine_save(NULL, "/tmp/x"), ZO_ERR_INVALID_ARGUMENT));
    cr_assert(eq(int, zo_engine_save(e, NULL), ZO_ERR_INVALID_ARGUMENT));
    cr_assert(eq(int, zo_engine_save(e, ""), ZO_ERR_INVALID_ARGUMENT));
    cr_assert(eq(int, zo_engine_load(NULL, "/tmp/x"), ZO_ERR_INVALID_ARGUMENT));
    cr_assert(eq(int, zo_engine_load(e, NULL), ZO_ERR_INVALID_ARGUMENT));
    cr_assert(eq(int, zo_checkpoint_export(NULL, "/tmp/x"), ZO_ERR_INVALID_ARGUMENT));
    cr_assert(eq(int, zo_checkpoint_export("/tmp/x", ""), ZO_ERR_INVALID_ARGUMENT));
    zo_engine_destroy(&e);
}

/* Counts reads; at read `truncate_at` cuts the file short, as if it changed between
 * the load's two passes. */
typedef struct read_plan {
    int reads, truncate_at;
} read_plan;

static void count_reads(void *user, const char *path)
{
    read_plan *plan = user;
    if (++plan->reads == plan->truncate_at)
        cr_assert(eq(int, truncate(path, 1000), 0));
}

/* A shard that fails after it was checked (the only way the second pass can fail):
 * the error says the state is partly replaced, and it is. */
Test(checkpoint_errors, a_file_that_changes_between_the_passes_is_reported)
{
    saved_checkpoint s;
    save_checkpoint(&s, 4);
    zo_engine *e = ckpt_engine(CKPT_CONFIG(CKPT_FP16));
    read_plan plan = {0, 0};
    zo_io_test_settings settings = {.user = &plan, .before_read = count_reads};
    zo_io_set_test_settings(&settings);
    cr_assert(eq(int, zo_engine_load(e, s.ckpt), ZO_OK), "%s", zo_last_error());
    /* the second pass reads master, exp_avg, exp_avg_sq last, one read each */
    plan = (read_plan){0, plan.reads - 1};
    static ckpt_snapshot loaded, after;
    ckpt_snapshot_of(e, &loaded);
    ckpt_initialize(e);
    cr_assert(eq(int, zo_engine_load(e, s.ckpt), ZO_ERR_IO));
    zo_io_set_test_settings(NULL);
    cr_assert(strstr(zo_last_error(), "is truncated") != NULL, "%s", zo_last_error());
    cr_assert(strstr(zo_last_error(), "the engine's state is now partly replaced") != NULL, "%s",
              zo_last_error());
    ckpt_snapshot_of(e, &after);
    cr_assert(eq(int, memcmp(after.master, loaded.master, sizeof after.master), 0),
              "the master weights, read before the file changed, must be the checkpoint's");
    zo_engine_destroy(&e);
    ckpt_remove_scratch(s.dir);
}

/* A load in the middle of a micro-step (gradients handed over, no step yet) would mix
 * two states: refused, nothing changed. */
Test(checkpoint_errors, load_inside_a_micro_step_is_refused)
{
    saved_checkpoint s;
    save_checkpoint(&s, 4);
    zo_engine *e = ckpt_engine(CKPT_CONFIG(CKPT_FP16));
    ckpt_initialize(e);
    cr_assert(eq(int, zo_engine_grad_ready(e, 2, NULL), ZO_OK), "%s", zo_last_error());
    static ckpt_snapshot before, after;
    ckpt_snapshot_of(e, &before);
    cr_assert(eq(int, zo_engine_load(e, s.ckpt), ZO_ERR_INVALID_ARGUMENT));
    cr_assert(strstr(zo_last_error(), "a micro-step is in progress (parameter head is ready)") !=
                  NULL,
              "%s", zo_last_error());
    ckpt_snapshot_of(e, &after);
    ckpt_assert_same(&before, &after, "after the refused load");
    zo_engine_destroy(&e);
    ckpt_remove_scratch(s.dir);
}

/* The same for a save: half the micro-step's gradients are in flight, and the load
 * that would follow it is refused there too. Nothing is written. */
Test(checkpoint_errors, save_inside_a_micro_step_is_refused)
{
    char dir[64], ckpt[128], staging[160];
    ckpt_scratch_dir(dir, sizeof dir);
    snprintf(ckpt, sizeof ckpt, "%s/ckpt", dir);
    snprintf(staging, sizeof staging, "%s.tmp", ckpt);
    zo_engine *e = ckpt_engine(CKPT_CONFIG(CKPT_FP16));
    ckpt_initialize(e);
    cr_assert(eq(int, zo_engine_grad_ready(e, 2, NULL), ZO_OK), "%s", zo_last_error());
    cr_assert(eq(int, zo_engine_save(e, ckpt), ZO_ERR_INVALID_ARGUMENT));
    cr_assert(strstr(zo_last_error(), "zo_engine_save: a micro-step is in progress (parameter "
                                      "head is ready): call zo_engine_step first") != NULL,
              "%s", zo_last_error());
    cr_assert(eq(int, access(ckpt, F_OK), -1), "nothing may be written");
    cr_assert(eq(int, access(staging, F_OK), -1), "nothing may be written");
    zo_engine_destroy(&e);
    ckpt_remove_scratch(dir);
}

/* A device that fails to take the weights after the state was replaced: the error says
 * that the state is the checkpoint's, and a second load puts the weights there. */
Test(checkpoint_errors, a_device_failure_after_the_state_was_replaced_says_so)
{
    saved_checkpoint s;
    save_checkpoint(&s, 4);
    zo_engine *e = ckpt_engine(CKPT_CONFIG(CKPT_FP16));
    ckpt_initialize(e);
    zo_fault_arm(ZO_FAULT_COPY, 0, 1);
    zo_status status = zo_engine_load(e, s.ckpt);
    zo_fault_disarm_all();
    cr_assert(eq(int, status, ZO_ERR_DEVICE), "%s: %s", zo_status_name(status), zo_last_error());
    char expected[256];
    snprintf(expected, sizeof expected,
             "zo_engine_load: the state was replaced from %s, but sending the weights to the "
             "device failed: ",
             s.ckpt);
    cr_assert(strstr(zo_last_error(), expected) != NULL, "%s", zo_last_error());
    cr_assert(strstr(zo_last_error(), "copy") != NULL, "the fault's own message: %s",
              zo_last_error());
    cr_assert(eq(int, zo_engine_load(e, s.ckpt), ZO_OK), "%s", zo_last_error());
    static ckpt_snapshot loaded, fresh;
    ckpt_snapshot_of(e, &loaded);
    zo_engine *other = ckpt_engine(CKPT_CONFIG(CKPT_FP16));
    cr_assert(eq(int, zo_engine_load(other, s.ckpt), ZO_OK), "%s", zo_last_error());
    ckpt_snapshot_of(other, &fresh);
    ckpt_assert_same(&fresh, &loaded, "loaded again after the device failure");
    zo_engine_destroy(&other);
    zo_engine_destroy(&e);
    ckpt_remove_scratch(s.dir);
}

/* A save never replaces (and so deletes) a directory that is not a checkpoint. */
Test(checkpoint_errors, save_refuses_a_directory_of_other_files)
{
    char dir[64], precious[128];
    ckpt_scratch_dir(dir, sizeof dir);
    snprintf(precious, sizeof precious, "%s/notes.txt", dir);
    FILE *f = fopen(precious, "w");
    cr_assert(f != NULL);
    fputs("keep me", f);
    fclose(f);
    zo_engine *e = ckpt_engine(CKPT_CONFIG(CKPT_FP16));
    cr_assert(eq(int, zo_engine_save(e, dir), ZO_ERR_IO));
    cr_assert(strstr(zo_last_error(), "holds files that are not part of a zo checkpoint") != NULL,
              "%s", zo_last_error());
    cr_assert(eq(sz, ckpt_file_size(precious), 7));
    zo_engine_destroy(&e);
    ckpt_remove_scratch(dir);
}

/* A save whose directory cannot be created (its parent is missing) says so. */
Test(checkpoint_errors, save_into_a_missing_parent_fails_with_the_path)
{
    zo_engine *e = ckpt_engine(CKPT_CONFIG(CKPT_FP16));
    cr_assert(eq(int, zo_engine_save(e, "/tmp/zo-no-such-parent-dir/ckpt"), ZO_ERR_IO));
    cr_assert(strstr(zo_last_error(), "/tmp/zo-no-such-parent-dir/ckpt.tmp") != NULL, "%s",
              zo_last_error());
    zo_engine_destroy(&e);
}

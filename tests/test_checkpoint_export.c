/* Export: a checkpoint's shards merged into one safetensors file of per-parameter fp32
 * tensors equal to zo_engine_get_master, bit for bit; from a 3-rank checkpoint built by
 * hand (the pieces of every bucket put back in flat order); through `zo-bench
 * ckpt-export`; and refused for a model with two parameters of one name. */
#include "checkpoint/manifest.h"
#include "checkpoint/shard.h"
#include "checkpoint_test_support.h"
#include "partition.h"

/* Opens an exported file and checks it holds `count` F32 tensors named as `params`. */
static void open_export(const char *path, const zo_param_desc *params, size_t count,
                        zo_st_file *file)
{
    cr_assert(eq(int, zo_st_open(path, file), ZO_OK), "%s", zo_last_error());
    cr_assert(eq(sz, file->count, count));
    cr_assert(eq(str, (char *)zo_st_metadata(file, "format"), "zo-export"));
    for (size_t p = 0; p < count; p++) {
        const zo_st_entry *entry = zo_st_find(file, params[p].name);
        cr_assert(entry != NULL, "no tensor %s", params[p].name);
        cr_assert(eq(int, entry->dtype, ZO_DTYPE_F32));
        cr_assert(eq(u64, entry->elems, params[p].elems));
    }
}

/* Every exported tensor equals the engine's master weights. */
static void assert_export_matches(const char *path, zo_engine *e)
{
    zo_st_file file;
    open_export(path, ckpt_model, CKPT_PARAMS, &file);
    static float expected[CKPT_MODEL_ELEMS], got[CKPT_MODEL_ELEMS];
    for (size_t p = 0; p < CKPT_PARAMS; p++) {
        cr_assert(eq(int, zo_engine_get_master(e, p, expected), ZO_OK));
        cr_assert(eq(int, zo_st_read(&file, zo_st_find(&file, ckpt_model[p].name), got), ZO_OK),
                  "%s", zo_last_error());
        cr_assert(eq(int, memcmp(expected, got, ckpt_model[p].elems * sizeof(float)), 0),
                  "tensor %s differs", ckpt_model[p].name);
    }
    zo_st_close(&file);
}

static void save_trained(const char *config, const char *ckpt, zo_engine **out)
{
    zo_engine *e = ckpt_engine(config);
    ckpt_initialize(e);
    ckpt_train(e, 3);
    cr_assert(eq(int, zo_engine_save(e, ckpt), ZO_OK), "%s", zo_last_error());
    *out = e;
}

/* Where python3 is installed, tests/safetensors_check.py (a reader of its own, in plain
 * Python) must accept the file and see in each tensor the values the engine holds: the
 * same count and the same sum, in order, to the last bit. Skipped without python3. */
static void check_with_python(const char *path, zo_engine *e)
{
    if (system("command -v python3 > /dev/null 2>&1") != 0) {
        cr_log_warn("python3 not found: the independent reader did not run");
        return;
    }
    char command[512], listing[160];
    snprintf(listing, sizeof listing, "%s.txt", path);
    snprintf(command, sizeof command, "python3 '%s/tests/safetensors_check.py' '%s' > '%s'",
             ZO_SOURCE_DIR, path, listing);
    cr_assert(eq(int, system(command), 0), "%s failed", command);
    FILE *f = fopen(listing, "r");
    cr_assert(f != NULL);
    static float values[CKPT_MODEL_ELEMS];
    char name[64];
    size_t count, lines = 0;
    double sum;
    while (fscanf(f, "%63s %zu %lf", name, &count, &sum) == 3) {
        size_t p = 0;
        while (p < CKPT_PARAMS && strcmp(ckpt_model[p].name, name) != 0)
            p++;
        cr_assert(lt(sz, p, CKPT_PARAMS), "python saw a tensor %s", name);
        cr_assert(eq(sz, count, ckpt_model[p].elems));
        cr_assert(eq(int, zo_engine_get_master(e, p, values), ZO_OK));
        double expected = 0.0;
        for (size_t i = 0; i < count; i++)
            expected += values[i];
        cr_assert(eq(dbl, sum, expected), "tensor %s: python's sum %.17g, the engine's %.17g", name,
                  sum, expected);
        lines++;
    }
    fclose(f);
    cr_assert(eq(sz, lines, CKPT_PARAMS));
}

Test(checkpoint_export, gives_each_parameter_its_master_weights)
{
    char dir[64], ckpt[128], out[128];
    ckpt_scratch_dir(dir, sizeof dir);
    snprintf(ckpt, sizeof ckpt, "%s/ckpt", dir);
    snprintf(out, sizeof out, "%s/model.safetensors", dir);
    /* with the delayed update's extra tensor in the shard, and bf16 moments */
    zo_engine *e;
    save_trained(
        CKPT_CONFIG_ZO(CKPT_FP16, "\"delayed_param_update\": true, \"moments_dtype\": \"bf16\","),
        ckpt, &e);
    cr_assert(eq(int, zo_checkpoint_export(ckpt, out), ZO_OK), "%s", zo_last_error());
    assert_export_matches(out, e);
    check_with_python(out, e);
    zo_engine_destroy(&e);
    ckpt_remove_scratch(dir);
}

Test(checkpoint_export, runs_from_zo_bench)
{
    char dir[64], ckpt[128], out[128], command[512];
    ckpt_scratch_dir(dir, sizeof dir);
    snprintf(ckpt, sizeof ckpt, "%s/ckpt", dir);
    snprintf(out, sizeof out, "%s/model.safetensors", dir);
    zo_engine *e;
    save_trained(CKPT_CONFIG(CKPT_FP16), ckpt, &e);
    snprintf(command, sizeof command, "'%s' ckpt-export '%s' '%s' > /dev/null", ZO_BENCH_PATH, ckpt,
             out);
    cr_assert(eq(int, system(command), 0), "%s failed", command);
    assert_export_matches(out, e);
    snprintf(command, sizeof command, "'%s' ckpt-export '%s/none' '%s' 2> /dev/null", ZO_BENCH_PATH,
             dir, out);
    cr_assert(ne(int, system(command), 0), "an export of nothing must fail");
    zo_engine_destroy(&e);
    ckpt_remove_scratch(dir);
}

/* A 3-rank checkpoint written by hand: shard r holds piece r of every bucket, each
 * element's value its flat index. The export must put every parameter's elements back
 * in order, whichever ranks they were split between. */
Test(checkpoint_export, puts_the_pieces_of_every_rank_back_in_order)
{
    static const zo_param_desc params[] = {{"a", 700}, {"b", 5}, {"c", 1500}, {"d", 64}};
    enum { RANKS = 3, COUNT = 4 };
    char dir[64], out[128];
    ckpt_scratch_dir(dir, sizeof dir);
    snprintf(out, sizeof out, "%s/model.safetensors", dir);
    zo_partition layout;
    cr_assert(eq(int, zo_partition_build(params, COUNT, 500, RANKS, &layout), ZO_OK), "%s",
              zo_last_error());
    zo_manifest m = {.version = ZO_CHECKPOINT_VERSION,
                     .ranks = RANKS,
                     .padded_elems = layout.padded_elems,
                     .total_elems = layout.total_elems,
                     .bucket_elems = layout.bucket_elems,
                     .dtype = ZO_DTYPE_F16,
                     .moments_dtype = ZO_DTYPE_F32,
                     .stage = 2,
                     .steps = 9,
                     .micro_steps = 9,
                     /* what an fp16 engine's scaler holds after 9 good steps */
                     .scaler = {.dynamic = true,
                                .scale = 65536.0,
                                .min_scale = 1.0,
                                .window = 1000,
                                .hysteresis = 2,
                                .hysteresis_left = 2,
                                .iteration = 9,
                                .last_overflow_iteration = -1},
                     .save_id = "0123456789abcdef",
                     .param_count = COUNT,
                     .param_names = layout.param_names};
    uint64_t offsets[COUNT], elems[COUNT];
    for (size_t p = 0; p < COUNT; p++)
        offsets[p] = layout.param_offset[p], elems[p] = layout.param_elems[p];
    m.param_offset = offsets, m.param_elems = elems;
    zo_manifest_seal(&m);
    size_t shard = zo_shard_elems(&layout);
    float *values = calloc(shard * 3, sizeof *values); /* master, then two zero moments */
    for (size_t r = 0; r < RANKS; r++) {
        for (size_t b = 0; b < layout.bucket_count; b++)
            for (size_t k = 0; k < zo_piece_elems(&layout, b); k++)
                values[zo_shard_offset(&layout, b) + k] =
                    (float)(zo_piece_begin(&layout, b, r) + k);
        char path[256];
        zo_checkpoint_shard_path(dir, r, RANKS, path, sizeof path);
        zo_st_tensor tensors[3];
        for (size_t t = 0; t < 3; t++)
            tensors[t] = (zo_st_tensor){zo_shard_tensor_names[t], ZO_DTYPE_F32, shard};
        json_t *metadata = zo_shard_metadata(&m, r);
        zo_st_writer writer;
        cr_assert(eq(int, zo_st_writer_open(&writer, path, tensors, 3, metadata), ZO_OK), "%s",
                  zo_last_error());
        json_decref(metadata);
        cr_assert(eq(int, zo_st_writer_append(&writer, values, shard * 3 * sizeof(float)), ZO_OK));
        cr_assert(eq(int, zo_st_writer_finish(&writer), ZO_OK), "%s", zo_last_error());
    }
    cr_assert(eq(int, zo_manifest_write(&m, dir), ZO_OK), "%s", zo_last_error());
    cr_assert(eq(int, zo_checkpoint_export(dir, out), ZO_OK), "%s", zo_last_error());

    zo_st_file file;
    open_export(out, params, COUNT, &file);
    static float got[1500];
    for (size_t p = 0; p < COUNT; p++) {
        cr_assert(eq(int, zo_st_read(&file, zo_st_find(&file, params[p].name), got), ZO_OK), "%s",
                  zo_last_error());
        for (size_t i = 0; i < params[p].elems; i++)
            cr_assert(eq(flt, got[i], (float)(layout.param_offset[p] + i)), "%s[%zu]",
                      params[p].name, i);
    }
    zo_st_close(&file);
    free(values);
    zo_partition_free(&layout);
    ckpt_remove_scratch(dir);
}

/* Export writes one tensor per parameter name, so two parameters of one name would
 * collide there: zo_engine_create refuses them, and no checkpoint holds them. */
Test(checkpoint_export, two_parameters_of_one_name_are_refused_at_create)
{
    static const zo_param_desc twins[] = {{"w", 100}, {"w", 200}, {"bias", 3}};
    zo_config *config = NULL;
    cr_assert(eq(int, zo_config_from_string(CKPT_CONFIG(CKPT_FP16), &config), ZO_OK));
    zo_engine *e = NULL;
    cr_assert(eq(int, zo_engine_create(config, twins, 3, &e), ZO_ERR_INVALID_ARGUMENT));
    zo_config_destroy(&config);
    cr_assert(strstr(zo_last_error(), "parameters 0 and 1 are both named \"w\"") != NULL, "%s",
              zo_last_error());
    cr_assert(e == NULL);
}

/* What a checkpoint's manifest and shard headers may say: edits caught by their
 * checksums, values out of range refused even with the checksum redone, fields the
 * manifest and a shard both hold cross-checked, the previous version still loaded with
 * a notice; and parameter names: every one zo accepts at create comes back from a save
 * and load, every one it cannot store is refused at create, by index. */
#include <unistd.h>

#include "checkpoint/manifest.h"
#include "checkpoint/shard.h"
#include "checkpoint_test_support.h"
#include "create_checks.h"
#include "checkpoint/json_checksum.h"
#include "checkpoint/safetensors_names.h"

typedef ckpt_saved saved;

/* Trained 6 micro-steps (an overflow at 5: the loss scaler's fields are not their
 * defaults) and saved. */
static void save(saved *s) { ckpt_save_trained(s, 6); }

/* Loads into an engine of `config` with a state of its own; the state must not change. */
static void assert_refused_by(const char *config, const saved *s, zo_status expected, const char *message)
{
    zo_engine *e = ckpt_engine(config);
    ckpt_initialize(e);
    ckpt_train(e, 2);
    static ckpt_snapshot before, after;
    ckpt_snapshot_of(e, &before);
    zo_status status = zo_engine_load(e, s->ckpt);
    cr_assert(eq(int, status, expected), "got %s: %s", zo_status_name(status), zo_last_error());
    cr_assert(strstr(zo_last_error(), message) != NULL, "the message \"%s\" lacks \"%s\"",
              zo_last_error(), message);
    ckpt_snapshot_of(e, &after);
    ckpt_assert_same(&before, &after, message);
    zo_engine_destroy(&e);
}

static void assert_refused(const saved *s, zo_status expected, const char *message)
{
    assert_refused_by(CKPT_CONFIG(CKPT_FP16), s, expected, message);
}

/* The manifest's JSON through `edit`, its checksum redone when `reseal` (as a careful
 * forger would), or left as it was. */
static void edit_manifest_json(const saved *s, void (*edit)(json_t *), bool reseal)
{
    json_error_t error;
    json_t *root = json_load_file(s->manifest, 0, &error);
    cr_assert(root != NULL, "%s", error.text);
    edit(root);
    if (reseal) {
        char crc[ZO_CHECKSUM_TEXT_BYTES];
        cr_assert(eq(int, zo_json_checksum(root, NULL, ZO_MANIFEST_CHECKSUM_KEY, crc), ZO_OK));
        json_object_set_new(root, ZO_MANIFEST_CHECKSUM_KEY, json_string(crc));
    }
    cr_assert(eq(int, json_dump_file(root, s->manifest, JSON_INDENT(1)), 0));
    json_decref(root);
}

static void set_scaler(json_t *root, const char *key, json_t *value)
{
    json_object_set_new(json_object_get(root, "loss_scaler"), key, value);
}
static void step_99(json_t *root) { json_object_set_new(root, "step", json_integer(99)); }
static void step_3(json_t *root) { json_object_set_new(root, "step", json_integer(3)); }
static void scale_huge(json_t *root) { set_scaler(root, "scale", json_real(1e300)); }
static void scale_zero(json_t *root) { set_scaler(root, "scale", json_real(0.0)); }
static void scale_negative(json_t *root) { set_scaler(root, "scale", json_real(-1.0)); }
static void hysteresis_left_7(json_t *root)
{
    set_scaler(root, "hysteresis_left", json_integer(7));
}
static void overflow_ahead(json_t *root)
{
    set_scaler(root, "last_overflow_iteration", json_integer(6));
}
static void iteration_past_micro_steps(json_t *root)
{
    set_scaler(root, "iteration", json_integer(7));
}
static void stage_wraps_int(json_t *root)
{
    json_object_set_new(root, "stage", json_integer(((json_int_t)1 << 32) + 2));
}
static void no_checksum(json_t *root) { json_object_del(root, ZO_MANIFEST_CHECKSUM_KEY); }

Test(checkpoint_manifest, an_edit_without_the_checksum_redone_is_refused_by_name)
{
    saved s;
    save(&s);
    edit_manifest_json(&s, step_3, false);
    assert_refused(&s, ZO_ERR_IO, "does not match its contents");
    assert_refused(&s, ZO_ERR_IO, "the file was edited or is corrupted");
    edit_manifest_json(&s, no_checksum, false);
    assert_refused(&s, ZO_ERR_IO, "has no \"checksum\"");
    ckpt_remove_scratch(s.dir);
}

typedef struct range_case {
    void (*edit)(json_t *);
    const char *message;
} range_case;

static const range_case range_cases[] = {
    {step_99, "more steps than micro_steps"},
    {scale_huge, "loss_scaler.scale is not a finite positive float"},
    {scale_zero, "loss_scaler.scale is not a finite positive float"},
    {scale_negative, "loss_scaler.scale is not a finite positive float"},
    {hysteresis_left_7, "1 <= hysteresis_left <= hysteresis"},
    {overflow_ahead, "-1 <= last_overflow_iteration < iteration <= micro_steps"},
    {iteration_past_micro_steps, "-1 <= last_overflow_iteration < iteration <= micro_steps"},
    {stage_wraps_int, "out of range"},
};
enum { RANGE_CASES = sizeof range_cases / sizeof range_cases[0] };

ParameterizedTestParameters(checkpoint_manifest, a_value_out_of_range_is_refused_even_resealed)
{
    static int indices[RANGE_CASES];
    return ckpt_case_indices(indices, RANGE_CASES);
}

ParameterizedTest(int *index, checkpoint_manifest, a_value_out_of_range_is_refused_even_resealed)
{
    saved s;
    save(&s);
    edit_manifest_json(&s, range_cases[*index].edit, true);
    assert_refused(&s, ZO_ERR_IO, range_cases[*index].message);
    ckpt_remove_scratch(s.dir);
}

static char *read_text(const char *path)
{
    size_t size = ckpt_file_size(path);
    char *text = calloc(size + 1, 1);
    FILE *f = fopen(path, "rb");
    cr_assert(f && fread(text, 1, size, f) == size);
    fclose(f);
    return text;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    cr_assert(f && fputs(text, f) >= 0);
    fclose(f);
}

Test(checkpoint_manifest, an_infinite_loss_scale_is_not_json)
{
    saved s;
    save(&s);
    char *text = read_text(s.manifest);
    char *scale = strstr(text, "\"scale\": ");
    cr_assert(scale != NULL);
    scale += strlen("\"scale\": ");
    size_t digits = strcspn(scale, ",\n");
    char edited[8192];
    snprintf(edited, sizeof edited, "%.*sInfinity%s", (int)(scale - text), text, scale + digits);
    write_text(s.manifest, edited);
    free(text);
    assert_refused(&s, ZO_ERR_IO, "cannot parse checkpoint manifest");
    ckpt_remove_scratch(s.dir);
}

/* The shard's header through `edit`, its checksum redone when `reseal`, the tensors'
 * bytes kept. */
static void edit_shard_header(const saved *s, void (*edit)(json_t *), bool reseal)
{
    size_t size = ckpt_file_size(s->shard);
    unsigned char *bytes = malloc(size);
    FILE *f = fopen(s->shard, "rb");
    cr_assert(f && fread(bytes, 1, size, f) == size);
    fclose(f);
    uint64_t header = 0;
    for (int k = 0; k < 8; k++)
        header |= (uint64_t)bytes[k] << (8 * k);
    json_error_t error;
    json_t *root = json_loadb((const char *)bytes + 8, (size_t)header, 0, &error);
    cr_assert(root != NULL, "%s", error.text);
    edit(root);
    if (reseal) {
        char crc[ZO_CHECKSUM_TEXT_BYTES];
        cr_assert(
            eq(int, zo_json_checksum(root, "__metadata__", ZO_ST_HEADER_CHECKSUM_KEY, crc), ZO_OK));
        json_object_set_new(json_object_get(root, "__metadata__"), ZO_ST_HEADER_CHECKSUM_KEY,
                            json_string(crc));
    }
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    size_t length = strlen(text), padded = (length + 7) / 8 * 8;
    unsigned char prefix[8];
    for (int k = 0; k < 8; k++)
        prefix[k] = (unsigned char)((uint64_t)padded >> (8 * k));
    f = fopen(s->shard, "wb");
    cr_assert(f != NULL);
    fwrite(prefix, 1, 8, f);
    fwrite(text, 1, length, f);
    for (size_t i = length; i < padded; i++)
        fputc(' ', f);
    fwrite(bytes + 8 + header, 1, size - 8 - (size_t)header, f);
    fclose(f);
    free(text), free(bytes);
}

/* exp_avg and exp_avg_sq (same dtype and size) trade names. */
static void swap_moments(json_t *root)
{
    json_t *a = json_incref(json_object_get(root, "exp_avg"));
    json_t *b = json_incref(json_object_get(root, "exp_avg_sq"));
    json_object_set_new(root, "exp_avg", b);
    json_object_set_new(root, "exp_avg_sq", a);
}
static void shard_step_1(json_t *root)
{
    json_object_set_new(json_object_get(root, "__metadata__"), "step", json_string("1"));
}
static void no_header_checksum(json_t *root)
{
    json_object_del(json_object_get(root, "__metadata__"), ZO_ST_HEADER_CHECKSUM_KEY);
}

Test(checkpoint_manifest, renamed_tensors_in_a_shard_header_are_refused)
{
    saved s;
    save(&s);
    edit_shard_header(&s, swap_moments, false);
    assert_refused(&s, ZO_ERR_IO, "the header was edited or is corrupted");
    /* with the header's checksum redone, the tensors' own checksums follow their names */
    edit_shard_header(&s, swap_moments, false); /* back */
    edit_shard_header(&s, swap_moments, true);
    assert_refused(&s, ZO_ERR_IO, "checksum mismatch in tensor exp_avg");
    ckpt_remove_scratch(s.dir);
}

Test(checkpoint_manifest, a_shard_must_agree_with_the_manifest_and_carry_its_checksum)
{
    saved s;
    save(&s);
    edit_shard_header(&s, no_header_checksum, false);
    assert_refused(&s, ZO_ERR_IO, "has no header checksum");
    edit_shard_header(&s, shard_step_1, true); /* the checksum back, over another step */
    assert_refused(&s, ZO_ERR_IO, "its step is 1, the manifest says 5");
    ckpt_remove_scratch(s.dir);
}

/* What zo before version 2 wrote: no checksums, no micro_steps in the shards. */
static void as_version_1(json_t *root) { json_object_set_new(root, "version", json_integer(1)); }
static void shard_as_version_1(json_t *root)
{
    json_t *metadata = json_object_get(root, "__metadata__");
    json_object_set_new(metadata, "version", json_string("1"));
    json_object_del(metadata, "micro_steps");
    json_object_del(metadata, ZO_ST_HEADER_CHECKSUM_KEY);
}

Test(checkpoint_manifest, a_version_1_checkpoint_loads_with_a_notice)
{
    saved s;
    save(&s);
    zo_engine *saver = ckpt_engine(CKPT_CONFIG(CKPT_FP16));
    ckpt_initialize(saver);
    ckpt_train(saver, 6);
    static ckpt_snapshot expected, got;
    ckpt_snapshot_of(saver, &expected);
    zo_engine_destroy(&saver);
    edit_manifest_json(&s, as_version_1, false);
    edit_manifest_json(&s, no_checksum, false);
    edit_shard_header(&s, shard_as_version_1, false);

    zo_engine *e = ckpt_engine(CKPT_CONFIG(CKPT_FP16));
    cr_assert(eq(int, zo_engine_load(e, s.ckpt), ZO_OK), "%s", zo_last_error());
    ckpt_snapshot_of(e, &got);
    ckpt_assert_same(&expected, &got, "version 1");
    cr_assert(strstr(zo_engine_notice(e), "is a version-1 checkpoint") != NULL, "notice: %s",
              zo_engine_notice(e));
    zo_engine_destroy(&e);
    /* its values are still range-checked */
    edit_manifest_json(&s, step_99, false);
    assert_refused(&s, ZO_ERR_IO, "more steps than micro_steps");
    ckpt_remove_scratch(s.dir);
}

/* 8-bit moments name their code map; a checkpoint of zo's first map (none named) or of
 * another is refused by name, and the engine loading it keeps its state. */
#define Q8_CONFIG CKPT_CONFIG_ZO(CKPT_FP16, "\"moments_dtype\": \"8bit\",")
static void no_moments_code(json_t *root) { json_object_del(root, ZO_MANIFEST_MOMENTS_CODE_KEY); }
static void other_moments_code(json_t *root)
{
    json_object_set_new(root, ZO_MANIFEST_MOMENTS_CODE_KEY, json_string("square root"));
}

Test(checkpoint_manifest, eight_bit_moments_of_another_code_map_are_refused_by_name)
{
    saved s;
    ckpt_scratch_dir(s.dir, sizeof s.dir);
    snprintf(s.ckpt, sizeof s.ckpt, "%s/ckpt", s.dir);
    snprintf(s.manifest, sizeof s.manifest, "%s/manifest.json", s.ckpt);
    zo_engine *e = ckpt_engine(Q8_CONFIG);
    ckpt_initialize(e);
    ckpt_train(e, 4);
    cr_assert(eq(int, zo_engine_save(e, s.ckpt), ZO_OK), "%s", zo_last_error());
    zo_engine_destroy(&e);
    e = ckpt_engine(Q8_CONFIG);
    cr_assert(eq(int, zo_engine_load(e, s.ckpt), ZO_OK), "its own map loads: %s", zo_last_error());
    zo_engine_destroy(&e);
    edit_manifest_json(&s, other_moments_code, true);
    assert_refused_by(Q8_CONFIG, &s, ZO_ERR_NOT_SUPPORTED, "8-bit moments in the code map \"square root\"");
    edit_manifest_json(&s, no_moments_code, true);
    assert_refused_by(Q8_CONFIG, &s, ZO_ERR_NOT_SUPPORTED, "written by zo's first 8-bit code map");
    ckpt_remove_scratch(s.dir);
}

/* Names zo must store and give back as they were. */
static char long_name[ZO_MAX_PARAM_NAME_BYTES + 1];
static const char *const good_names[] = {
    "quote\"d",
    "back\\slash\\",
    "tab\tnew\nline\x01\x1f",
    "caf\xc3\xa9.w\xc3\xa9ight",
    "\xe4\xb8\xad\xe6\x96\x87",
    "emoji\xf0\x9f\x98\x80",
    "a/b/../c",
    " spaced ",
    "u+10ffff\xf4\x8f\xbf\xbf",
    long_name,
};
enum { GOOD_NAMES = sizeof good_names / sizeof good_names[0] };

Test(checkpoint_manifest, every_name_zo_accepts_comes_back_from_save_and_load)
{
    memset(long_name, 'x', ZO_MAX_PARAM_NAME_BYTES); /* the longest accepted */
    zo_param_desc params[GOOD_NAMES];
    for (size_t i = 0; i < GOOD_NAMES; i++)
        params[i] = (zo_param_desc){good_names[i], 3 + i};
    char dir[64], ckpt[128], out[160];
    ckpt_scratch_dir(dir, sizeof dir);
    snprintf(ckpt, sizeof ckpt, "%s/ckpt", dir);
    snprintf(out, sizeof out, "%s/export.safetensors", dir);
    zo_engine *e = ckpt_engine_for(CKPT_CONFIG(CKPT_FP16), params, GOOD_NAMES);
    float values[16];
    for (size_t p = 0; p < GOOD_NAMES; p++) {
        for (size_t i = 0; i < params[p].elems; i++)
            values[i] = (float)(p * 100 + i);
        cr_assert(eq(int, zo_engine_set_master(e, p, values), ZO_OK), "%s", zo_last_error());
    }
    cr_assert(eq(int, zo_engine_save(e, ckpt), ZO_OK), "%s", zo_last_error());
    zo_engine_destroy(&e);

    zo_manifest m;
    cr_assert(eq(int, zo_manifest_read(ckpt, &m), ZO_OK), "%s", zo_last_error());
    cr_assert(eq(sz, m.param_count, GOOD_NAMES));
    for (size_t p = 0; p < GOOD_NAMES; p++)
        cr_assert(eq(str, m.param_names[p], (char *)good_names[p]), "name %zu", p);
    zo_manifest_free(&m);
    e = ckpt_engine_for(CKPT_CONFIG(CKPT_FP16), params, GOOD_NAMES);
    cr_assert(eq(int, zo_engine_load(e, ckpt), ZO_OK), "%s", zo_last_error());
    for (size_t p = 0; p < GOOD_NAMES; p++) {
        cr_assert(eq(int, zo_engine_get_master(e, p, values), ZO_OK));
        for (size_t i = 0; i < params[p].elems; i++)
            cr_assert(eq(flt, values[i], (float)(p * 100 + i)), "parameter %zu", p);
    }
    zo_engine_destroy(&e);
    /* and export writes a tensor of each name */
    cr_assert(eq(int, zo_checkpoint_export(ckpt, out), ZO_OK), "%s", zo_last_error());
    zo_st_file file;
    cr_assert(eq(int, zo_st_open(out, &file), ZO_OK), "%s", zo_last_error());
    for (size_t p = 0; p < GOOD_NAMES; p++)
        cr_assert(zo_st_find(&file, good_names[p]) != NULL, "export lacks name %zu", p);
    zo_st_close(&file);
    ckpt_remove_scratch(dir);
}

typedef struct bad_name {
    const char *name;
    const char *message; /* after "parameter 1" */
} bad_name;

static char too_long_name[ZO_MAX_PARAM_NAME_BYTES + 2];
static const bad_name bad_names[] = {
    {"\xff", "'s name \"\\xff\" is not valid UTF-8 (at byte 0)"},
    {"ok\xc0\xaf", "'s name \"ok\\xc0\\xaf\" is not valid UTF-8 (at byte 2)"}, /* overlong '/' */
    {"\xed\xa0\x80", "is not valid UTF-8"},                                    /* a surrogate */
    {"\xf4\x90\x80\x80", "is not valid UTF-8"},                                /* past U+10FFFF */
    {"cut\xe2\x82", "is not valid UTF-8 (at byte 3)"},
    {"", "'s name \"\" is empty"},
    {too_long_name, "is 1025 bytes long, more than the 1024"},
    {"__metadata__", "starts with \"__\""},
    {"embedding", "parameters 0 and 1 are both named \"embedding\""},
};
enum { BAD_NAMES = sizeof bad_names / sizeof bad_names[0] };

ParameterizedTestParameters(checkpoint_manifest, a_name_zo_cannot_store_is_refused_at_create)
{
    static int indices[BAD_NAMES];
    return ckpt_case_indices(indices, BAD_NAMES);
}

ParameterizedTest(int *index, checkpoint_manifest, a_name_zo_cannot_store_is_refused_at_create)
{
    memset(too_long_name, 'y', ZO_MAX_PARAM_NAME_BYTES + 1);
    const bad_name *c = &bad_names[*index];
    zo_param_desc params[] = {{"embedding", 10}, {c->name, 10}, {"head", 10}};
    zo_config *config = NULL;
    cr_assert(eq(int, zo_config_from_string(CKPT_CONFIG(CKPT_FP16), &config), ZO_OK));
    zo_engine *e = NULL;
    zo_status status = zo_engine_create(config, params, 3, &e);
    zo_config_destroy(&config);
    cr_assert(eq(int, status, ZO_ERR_INVALID_ARGUMENT), "case %d: %s", *index, zo_last_error());
    cr_assert(e == NULL);
    cr_assert(strstr(zo_last_error(), c->message) != NULL, "the message \"%s\" lacks \"%s\"",
              zo_last_error(), c->message);
    cr_assert(strstr(zo_last_error(), "parameter") != NULL);
}

/* The optimizer state on NVMe in the config (zo/config.h): DeepSpeed's NVMe offload
 * keys (offload_optimizer's nvme_path, buffer_count, pipeline_read, pipeline_write,
 * fast_init) and its "aio" section read field by field; each bad value refused naming
 * its key; zo_config_from_settings checking the same fields. Whether the engine runs
 * it is test_engine_nvme.c's concern. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config_test_support.h"
#include "zo/zo.h"

/* DeepSpeed's ZeRO-Infinity optimizer offload example, every value changed from zo's
 * default so each is seen to land. */
static const char *const nvme_config = "{\n"
                                       "  \"zero_optimization\": {\n"
                                       "    \"stage\": 2,\n"
                                       "    \"offload_optimizer\": {\"device\": \"nvme\", "
                                       "\"nvme_path\": \"/local_nvme\", \"pin_memory\": true,\n"
                                       "                          \"buffer_count\": 6, "
                                       "\"pipeline_read\": false, \"pipeline_write\": false,\n"
                                       "                          \"fast_init\": true}\n"
                                       "  },\n"
                                       "  \"aio\": {\"block_size\": 262144, \"queue_depth\": 32, "
                                       "\"thread_count\": 1, \"single_submit\": true,\n"
                                       "          \"overlap_events\": false}\n"
                                       "}\n";

Test(config_nvme, reads_every_field_of_an_nvme_offload_config)
{
    zo_config *config = parse_ok(nvme_config);
    const zo_settings *s = zo_config_settings(config);
    cr_expect(eq(int, s->offload_optimizer, true), "the update runs off the device");
    cr_expect(eq(int, s->nvme.enabled, true));
    cr_expect(eq(str, (char *)s->nvme.path, "/local_nvme"));
    cr_expect(eq(u64, s->nvme.buffer_count, 6));
    cr_expect(eq(int, s->nvme.pipeline_read, false));
    cr_expect(eq(int, s->nvme.pipeline_write, false));
    cr_expect(eq(int, s->nvme.fast_init, true));
    cr_expect(eq(u64, s->aio.block_size, 262144));
    cr_expect(eq(u64, s->aio.queue_depth, 32));
    cr_expect(eq(int, s->aio.thread_count, 1));
    cr_expect(eq(int, s->aio.single_submit, true));
    cr_expect(eq(int, s->aio.overlap_events, false));
    cr_expect(eq(sz, zo_config_ignored_count(config), 0), "every NVMe key is read, none ignored");
    zo_config_destroy(&config);
}

Test(config_nvme, defaults_pipeline_both_ways_with_deepspeeds_aio_values)
{
    zo_settings s;
    zo_default_settings(&s);
    cr_expect(eq(int, s.nvme.enabled, false));
    cr_expect(eq(u64, s.nvme.buffer_count, 4));
    cr_expect(eq(int, s.nvme.pipeline_read, true));
    cr_expect(eq(int, s.nvme.pipeline_write, true));
    cr_expect(eq(u64, s.aio.block_size, 1048576));
    cr_expect(eq(u64, s.aio.queue_depth, 8));
    cr_expect(eq(int, s.aio.thread_count, 1));
    cr_expect(eq(int, s.aio.overlap_events, true));
}

Test(config_nvme, intra_op_parallelism_is_thread_counts_other_name)
{
    zo_config *config = parse_ok("{\"aio\": {\"intra_op_parallelism\": 1}}");
    cr_expect(eq(int, zo_config_settings(config)->aio.thread_count, 1));
    zo_config_destroy(&config);
}

typedef struct bad_nvme_config {
    const char *json;
    zo_status status;
    const char *message; /* a part of zo_last_error() */
} bad_nvme_config;

#define OFFLOAD(keys) "{\"zero_optimization\": {\"stage\": 2, \"offload_optimizer\": {" keys "}}}"

static const bad_nvme_config bad_configs[] = {
    {OFFLOAD("\"device\": \"nvme\""), ZO_ERR_CONFIG,
     "offload_optimizer.device is \"nvme\" but zero_optimization.offload_optimizer.nvme_path is "
     "not given"},
    {OFFLOAD("\"device\": \"nvme\", \"nvme_path\": \"\""), ZO_ERR_CONFIG,
     "zero_optimization.offload_optimizer.nvme_path is 0 bytes long"},
    {OFFLOAD("\"device\": \"nvme\", \"nvme_path\": 7"), ZO_ERR_CONFIG,
     "zero_optimization.offload_optimizer.nvme_path must be a string"},
    {OFFLOAD("\"device\": \"nvme\", \"nvme_path\": \"/n\", \"buffer_count\": 2"), ZO_ERR_CONFIG,
     "zero_optimization.offload_optimizer.buffer_count is 2 but the pipeline needs 3 buffers"},
    {OFFLOAD("\"device\": \"nvme\", \"nvme_path\": \"/n\", \"buffer_count\": 0"), ZO_ERR_CONFIG,
     "zero_optimization.offload_optimizer.buffer_count is 0, must be >= 1"},
    {OFFLOAD("\"device\": \"nvme\", \"nvme_path\": \"/n\", \"pipeline_read\": \"yes\""),
     ZO_ERR_CONFIG, "zero_optimization.offload_optimizer.pipeline_read must be"},
    {"{\"aio\": {\"thread_count\": 2}}", ZO_ERR_NOT_SUPPORTED,
     "aio.thread_count is 2: zo's io_uring submits from one thread"},
    {"{\"aio\": {\"intra_op_parallelism\": 4}}", ZO_ERR_NOT_SUPPORTED,
     "aio.intra_op_parallelism is 4"},
    {"{\"aio\": {\"thread_count\": 0}}", ZO_ERR_CONFIG, "aio.thread_count is 0, must be >= 1"},
    {"{\"aio\": {\"block_size\": 1000}}", ZO_ERR_CONFIG, "aio.block_size is 1000"},
    {"{\"aio\": {\"block_size\": 6000}}", ZO_ERR_CONFIG,
     "aio.block_size is 6000: it must be a multiple of 4096"},
    {"{\"aio\": {\"queue_depth\": 0}}", ZO_ERR_CONFIG, "aio.queue_depth is 0"},
    {"{\"aio\": {\"queue_dept\": 8}}", ZO_ERR_CONFIG, "queue_depth"},
    {"{\"aio\": {\"single_submit\": 1}}", ZO_ERR_CONFIG, "aio.single_submit must be"},
    {"{\"zero_optimization\": {\"stage\": 3, \"offload_param\": {\"device\": \"nvme\"}}}",
     ZO_ERR_NOT_SUPPORTED, "zero_optimization.offload_param.device \"nvme\" is not supported"},
};

Test(config_nvme, refuses_each_bad_value_naming_its_key)
{
    for (size_t i = 0; i < sizeof bad_configs / sizeof bad_configs[0]; i++) {
        zo_config *config = NULL;
        zo_status status = zo_config_from_string(bad_configs[i].json, &config);
        cr_expect(eq(int, status, bad_configs[i].status), "%s: %s", bad_configs[i].json,
                  zo_last_error());
        cr_expect(ne(ptr, strstr(zo_last_error(), bad_configs[i].message), NULL),
                  "%s\nwant: %s\ngot: %s", bad_configs[i].json, bad_configs[i].message,
                  zo_last_error());
        cr_expect(eq(ptr, config, NULL));
    }
}

/* zo_config_from_settings refuses `bad` with `status`, its message naming `named`. */
static void expect_settings_refused(const zo_settings *bad, zo_status status, const char *named)
{
    zo_config *built = NULL;
    cr_expect(eq(int, zo_config_from_settings(bad, &built), status), "%s", named);
    cr_expect(ne(ptr, strstr(zo_last_error(), named), NULL), "%s", zo_last_error());
    zo_config_destroy(&built);
}

Test(config_nvme, settings_filled_in_c_equal_the_json_and_are_checked_the_same)
{
    zo_config *parsed = parse_ok(nvme_config);
    zo_settings s;
    zo_default_settings(&s);
    s.stage = 2;
    s.offload_optimizer = true;
    s.nvme.enabled = true;
    snprintf(s.nvme.path, sizeof s.nvme.path, "/local_nvme");
    s.nvme.buffer_count = 6;
    s.nvme.pipeline_read = s.nvme.pipeline_write = false;
    s.nvme.fast_init = true;
    s.aio.block_size = 262144;
    s.aio.queue_depth = 32;
    s.aio.single_submit = true;
    s.aio.overlap_events = false;
    zo_config *built = NULL;
    cr_assert(eq(int, zo_config_from_settings(&s, &built), ZO_OK), "%s", zo_last_error());
    cr_expect(eq(int,
                 memcmp(zo_config_settings(built), zo_config_settings(parsed), sizeof(zo_settings)),
                 0));
    zo_config_destroy(&built);
    zo_config_destroy(&parsed);

    zo_settings bad = s;
    bad.offload_optimizer = false;
    expect_settings_refused(&bad, ZO_ERR_CONFIG,
                            "zo_settings.nvme.enabled is true but zo_settings.offload_optimizer "
                            "is false");
    bad = s;
    bad.aio.thread_count = 3;
    expect_settings_refused(&bad, ZO_ERR_NOT_SUPPORTED,
                            "zo_settings.aio.thread_count (config key aio.thread_count) is 3");
    bad = s;
    bad.aio.block_size = 4097;
    expect_settings_refused(&bad, ZO_ERR_CONFIG, "zo_settings.aio.block_size");
    bad = s;
    bad.nvme.path[0] = '\0';
    expect_settings_refused(&bad, ZO_ERR_CONFIG, "zo_settings.nvme.path");
    bad = s;
    memset(bad.nvme.path, 'x', sizeof bad.nvme.path);
    expect_settings_refused(&bad, ZO_ERR_CONFIG, "no terminating NUL");
    bad = s;
    bad.nvme.buffer_count = 0;
    expect_settings_refused(&bad, ZO_ERR_CONFIG, "buffer_count");
}

/* The engine takes "nvme" where zo was built with liburing, and refuses it by name
 * where it was not (the config reads the same either way). */
Test(config_nvme, the_engine_refuses_nvme_by_name_only_in_a_build_without_liburing)
{
    char dir[] = "/tmp/zo-test-config-nvme-XXXXXX", json[512];
    cr_assert(mkdtemp(dir) != NULL);
    snprintf(json, sizeof json,
             "{\"fp16\": {\"enabled\": true}, \"zero_optimization\": {\"stage\": 2, "
             "\"reduce_bucket_size\": 512,"
             " \"offload_optimizer\": {\"device\": \"nvme\", \"nvme_path\": \"%s\"}}, \"zo\": "
             "{\"device\": \"host\"}}",
             dir);
    zo_config *config = parse_ok(json);
    zo_param_desc params[] = {{"w", 1000}};
    zo_engine *engine = NULL;
    zo_status status = zo_engine_create(config, params, 1, &engine);
#if ZO_TEST_HAVE_LIBURING
    cr_expect(eq(int, status, ZO_OK), "%s", zo_last_error());
#else
    cr_expect(eq(int, status, ZO_ERR_NOT_SUPPORTED));
    cr_expect(ne(ptr, strstr(zo_last_error(), "built without liburing"), NULL), "%s",
              zo_last_error());
#endif
    zo_engine_destroy(&engine);
    zo_config_destroy(&config);
    rmdir(dir);
}

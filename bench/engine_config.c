/* Building the engine benchmark's zo_config. zo parses the config itself, so its
 * messages (key paths, "did you mean", line and column) reach the user unchanged;
 * jansson is used only to add zo.trace, which has no command-line twin in zo. */
#include "engine_config.h"

#include <jansson.h>
#include <stdlib.h>

#include "bench_fail.h"

const char bench_engine_default_config[] =
    "{\"fp16\": {\"enabled\": true, \"initial_scale_power\": 8},\n"
    " \"zero_optimization\": {\"stage\": 2, \"reduce_bucket_size\": 8388608},\n"
    " \"zo\": {\"device\": \"host\"}}\n";

const char *bench_engine_config_name(const char *path)
{
    return path ? path : "the built-in config";
}

/* The config's JSON with "trace" set in its "zo" section, or NULL after printing why. */
static json_t *bench_config_json_with_trace(const char *path, const char *trace_path)
{
    json_error_t error;
    /* duplicates refused as zo refuses them: re-serializing would silently keep one */
    json_t *root = path ? json_load_file(path, JSON_REJECT_DUPLICATES, &error)
                        : json_loads(bench_engine_default_config, JSON_REJECT_DUPLICATES, &error);
    const char *name = bench_engine_config_name(path);
    if (!root) {
        if (error.line < 0)
            bench_fail("%s: %s", name, error.text);
        else
            bench_fail("%s:%d:%d: %s", name, error.line, error.column, error.text);
        return NULL;
    }
    json_t *zo_section = json_object_get(root, "zo");
    if (!json_is_object(root)) {
        bench_fail("%s: the top level must be an object", name);
    } else if (zo_section && !json_is_object(zo_section)) {
        bench_fail("%s: zo must be an object", name);
    } else if (!zo_section && json_object_set_new(root, "zo", zo_section = json_object()) != 0) {
        bench_fail("cannot add a zo section to %s", name);
    } else if (json_object_set_new(zo_section, "trace", json_string(trace_path)) != 0) {
        bench_fail("cannot set zo.trace to \"%s\" (not UTF-8?)", trace_path);
    } else {
        return root;
    }
    json_decref(root);
    return NULL;
}

int bench_engine_config_create(const char *path, const char *trace_path, zo_config **out)
{
    const char *name = bench_engine_config_name(path);
    *out = NULL;
    if (!trace_path) {
        zo_status status = path ? zo_config_from_file(path, out)
                                : zo_config_from_string(bench_engine_default_config, out);
        if (status != ZO_OK)
            return bench_fail("%s: %s: %s", name, zo_status_name(status), zo_last_error());
        return 0;
    }
    json_t *root = bench_config_json_with_trace(path, trace_path);
    if (!root)
        return -1;
    char *text = json_dumps(root, JSON_INDENT(2));
    json_decref(root);
    if (!text)
        return bench_fail("cannot serialize %s with zo.trace added", name);
    zo_status status = zo_config_from_string(text, out);
    free(text);
    if (status != ZO_OK)
        return bench_fail("%s (with zo.trace added; line numbers are of the re-serialized "
                          "JSON): %s: %s",
                          name, zo_status_name(status), zo_last_error());
    return 0;
}

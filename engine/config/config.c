/* The config API: loading JSON (string or file) with jansson, handing the document
 * to the walker and checks, and the life cycle of a parsed config. */
#include "zo/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks.h"
#include "keys.h"
#include "reader.h"
#include "error.h"

/* Duplicate keys are an error: with two "stage" keys, which one the user meant is a
 * guess. */
enum { ZO_JSON_FLAGS = JSON_REJECT_DUPLICATES };

static void zo_config_free(zo_config *config)
{
    if (!config)
        return;
    for (size_t i = 0; i < config->ignored_count; i++)
        free(config->ignored[i]);
    free(config->ignored);
    free(config);
}

static zo_status zo_syntax_error(const char *source, const json_error_t *error)
{
    return zo_fail(ZO_ERR_CONFIG, "%s: line %d, column %d: %s", source, error->line, error->column,
                   error->text);
}

/* Reads the document `root` into a new config; takes no ownership of root. */
static zo_status zo_config_from_json(json_t *root, zo_config **out)
{
    if (!json_is_object(root)) {
        char got[96];
        zo_config_describe(root, got, sizeof got);
        return zo_fail(ZO_ERR_CONFIG, "a config must be a JSON object at the top level, got %s",
                       got);
    }
    zo_config *config = calloc(1, sizeof *config);
    if (!config)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "out of memory for a config");
    zo_default_settings(&config->settings);
    zo_config_reader reader = {.config = config, .adam_w_mode = true};
    zo_status status = zo_config_walk(&reader, root, "", &zo_config_root_keys);
    if (status == ZO_OK)
        status = zo_config_check(&reader);
    if (status != ZO_OK)
        goto fail;
    *out = config;
    return ZO_OK;
fail:
    zo_config_free(config);
    return status;
}

zo_status zo_config_from_string(const char *json, zo_config **out)
{
    if (!out)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_config_from_string: out is NULL");
    *out = NULL;
    if (!json)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_config_from_string: json is NULL");
    json_error_t error;
    json_t *root = json_loads(json, ZO_JSON_FLAGS, &error);
    if (!root)
        return zo_syntax_error("config string", &error);
    zo_status status = zo_config_from_json(root, out);
    json_decref(root);
    return status;
}

zo_status zo_config_from_file(const char *path, zo_config **out)
{
    if (!out)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_config_from_file: out is NULL");
    *out = NULL;
    if (!path)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_config_from_file: path is NULL");
    /* Opened here, not by json_load_file, to tell a missing file (ZO_ERR_IO, with
     * errno's reason) from a malformed one. */
    FILE *file = fopen(path, "rb");
    if (!file)
        return zo_fail(ZO_ERR_IO, "cannot open config %s: %s", path, strerror(errno));
    json_error_t error;
    json_t *root = json_loadf(file, ZO_JSON_FLAGS, &error);
    int read_errno = errno;
    bool read_failed = ferror(file) != 0;
    fclose(file);
    if (read_failed) {
        json_decref(root);
        return zo_fail(ZO_ERR_IO, "cannot read config %s: %s", path, strerror(read_errno));
    }
    if (!root)
        return zo_syntax_error(path, &error);
    zo_status status = zo_config_from_json(root, out);
    json_decref(root);
    return status;
}

void zo_config_destroy(zo_config **config)
{
    if (!config)
        return;
    zo_config_free(*config);
    *config = NULL;
}

const zo_settings *zo_config_settings(const zo_config *config)
{
    return config ? &config->settings : NULL;
}

size_t zo_config_ignored_count(const zo_config *config)
{
    return config ? config->ignored_count : 0;
}

const char *zo_config_ignored_key(const zo_config *config, size_t index)
{
    if (!config || index >= config->ignored_count)
        return NULL;
    return config->ignored[index];
}

/* Reads a suite config with jansson and checks every key: an unknown key or a wrong
 * type is an error naming its path, never silently ignored (a typo would otherwise
 * run the defaults). */
#include "config.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "bench_fail.h"
#include "bench_isa.h"
#include "param_count.h"

static const char *bench_json_type_name(const json_t *value)
{
    switch (json_typeof(value)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "an unknown type";
}

static int bench_config_type_error(const char *path, const char *key, const char *expected,
                                   const json_t *value)
{
    return bench_fail("%s: %s must be %s, not %s", path, key, expected,
                      bench_json_type_name(value));
}

/* A parameter count: a string like "16M" or a positive integer. `key` names it in
 * messages ("adam.sizes[2]"). */
static int bench_config_load_count(const char *path, const char *key, const json_t *value,
                                   size_t *params)
{
    if (json_is_string(value)) {
        if (!bench_parse_param_count(json_string_value(value), params))
            return bench_fail("%s: %s is \"%s\", not a count like 1M (suffixes K = 2^10, "
                              "M = 2^20, G = 2^30)",
                              path, key, json_string_value(value));
    } else if (json_is_integer(value) && json_integer_value(value) > 0) {
        *params = (size_t)json_integer_value(value);
    } else {
        return bench_fail("%s: %s must be a positive integer or a string like \"16M\", not %s",
                          path, key, bench_json_type_name(value));
    }
    return 0;
}

static int bench_config_load_sizes(const char *path, const json_t *sizes, bench_plan *plan)
{
    if (!json_is_array(sizes))
        return bench_config_type_error(path, "adam.sizes", "an array", sizes);
    if (json_array_size(sizes) == 0)
        return bench_fail("%s: adam.sizes is empty", path);
    plan->size_count = 0;
    for (size_t index = 0; index < json_array_size(sizes); index++) {
        char key[48];
        size_t params = 0;
        snprintf(key, sizeof key, "adam.sizes[%zu]", index);
        if (bench_config_load_count(path, key, json_array_get(sizes, index), &params) < 0)
            return -1;
        const char *problem = bench_plan_add_size(plan, params);
        if (problem)
            return bench_fail("%s: adam.sizes[%zu]: %s", path, index, problem);
    }
    return 0;
}

static int bench_config_load_modes(const char *path, const json_t *modes, bench_plan *plan)
{
    if (!json_is_array(modes))
        return bench_config_type_error(path, "adam.modes", "an array", modes);
    if (json_array_size(modes) == 0)
        return bench_fail("%s: adam.modes is empty", path);
    plan->mode_count = 0;
    for (size_t index = 0; index < json_array_size(modes); index++) {
        const json_t *name = json_array_get(modes, index);
        bench_mode mode;
        if (!json_is_string(name))
            return bench_fail("%s: adam.modes[%zu] must be a string, not %s", path, index,
                              bench_json_type_name(name));
        if (!bench_mode_from_name(json_string_value(name), &mode))
            return bench_fail("%s: adam.modes[%zu] is \"%s\", not a mode (%s)", path, index,
                              json_string_value(name), bench_mode_names());
        const char *problem = bench_plan_add_mode(plan, mode);
        if (problem)
            return bench_fail("%s: adam.modes[%zu] \"%s\": %s", path, index,
                              json_string_value(name), problem);
    }
    return 0;
}

static int bench_config_load_isas(const char *path, const json_t *isas, bench_plan *plan)
{
    if (!json_is_array(isas))
        return bench_config_type_error(path, "adam.isas", "an array", isas);
    if (json_array_size(isas) == 0)
        return bench_fail("%s: adam.isas is empty", path);
    plan->isa_count = 0;
    for (size_t index = 0; index < json_array_size(isas); index++) {
        const json_t *name = json_array_get(isas, index);
        zo_cpu_isa isa;
        if (!json_is_string(name))
            return bench_fail("%s: adam.isas[%zu] must be a string, not %s", path, index,
                              bench_json_type_name(name));
        if (!bench_isa_from_name(json_string_value(name), &isa))
            return bench_fail("%s: adam.isas[%zu] is \"%s\", not a kernel path (%s)", path, index,
                              json_string_value(name), bench_isa_names());
        const char *problem = bench_plan_add_isa(plan, isa);
        if (problem)
            return bench_fail("%s: adam.isas[%zu] \"%s\": %s", path, index, json_string_value(name),
                              problem);
    }
    return 0;
}

static int bench_config_load_integer(const char *path, const char *key, const json_t *value,
                                     bench_plan *plan, const char *(*set)(bench_plan *, long long))
{
    if (!json_is_integer(value))
        return bench_config_type_error(path, key, "an integer", value);
    const char *problem = set(plan, json_integer_value(value));
    if (problem)
        return bench_fail("%s: %s is %lld: %s", path, key, (long long)json_integer_value(value),
                          problem);
    return 0;
}

static int bench_config_load_adam(const char *path, const json_t *adam, bench_plan *plan)
{
    if (!json_is_object(adam))
        return bench_config_type_error(path, "adam", "an object", adam);
    for (void *entry = json_object_iter((json_t *)adam); entry;
         entry = json_object_iter_next((json_t *)adam, entry)) {
        const char *key = json_object_iter_key(entry);
        const json_t *value = json_object_iter_value(entry);
        int status;
        if (strcmp(key, "sizes") == 0)
            status = bench_config_load_sizes(path, value, plan);
        else if (strcmp(key, "modes") == 0)
            status = bench_config_load_modes(path, value, plan);
        else if (strcmp(key, "isas") == 0)
            status = bench_config_load_isas(path, value, plan);
        else if (strcmp(key, "repeats") == 0)
            status = bench_config_load_integer(path, "adam.repeats", value, plan,
                                               bench_plan_set_repeats);
        else if (strcmp(key, "threads") == 0)
            status = bench_config_load_integer(path, "adam.threads", value, plan,
                                               bench_plan_set_threads);
        else
            status = bench_fail("%s: unknown key adam.%s (known: sizes, modes, isas, repeats, "
                                "threads)",
                                path, key);
        if (status < 0)
            return -1;
    }
    return 0;
}

/* A value checked by one of the engine options' setters. */
static int bench_config_engine_problem(const char *path, const char *key, const char *problem)
{
    return problem ? bench_fail("%s: engine.%s: %s", path, key, problem) : 0;
}

static int bench_config_load_engine_key(const char *path, const char *key, const json_t *value,
                                        bench_engine_options *engine)
{
    char full_key[64];
    snprintf(full_key, sizeof full_key, "engine.%s", key);
    if (strcmp(key, "params") == 0) {
        size_t params = 0;
        if (bench_config_load_count(path, full_key, value, &params) < 0)
            return -1;
        return bench_config_engine_problem(path, key, bench_engine_set_params(engine, params));
    }
    if (strcmp(key, "compute_us_per_layer") == 0) {
        if (!json_is_number(value))
            return bench_config_type_error(path, full_key, "a number", value);
        return bench_config_engine_problem(
            path, key, bench_engine_set_compute_us(engine, json_number_value(value)));
    }
    if (strcmp(key, "layers") == 0 || strcmp(key, "steps") == 0) {
        if (!json_is_integer(value))
            return bench_config_type_error(path, full_key, "an integer", value);
        long long number = json_integer_value(value);
        const char *problem = strcmp(key, "layers") == 0 ? bench_engine_set_layers(engine, number)
                                                         : bench_engine_set_steps(engine, number);
        return bench_config_engine_problem(path, key, problem);
    }
    return bench_fail("%s: unknown key engine.%s (known: params, layers, compute_us_per_layer, "
                      "steps)",
                      path, key);
}

static int bench_config_load_engine(const char *path, const json_t *engine, bench_plan *plan)
{
    if (!json_is_object(engine))
        return bench_config_type_error(path, "engine", "an object", engine);
    for (void *entry = json_object_iter((json_t *)engine); entry;
         entry = json_object_iter_next((json_t *)engine, entry))
        if (bench_config_load_engine_key(path, json_object_iter_key(entry),
                                         json_object_iter_value(entry), &plan->engine) < 0)
            return -1;
    const char *problem = bench_engine_options_check(&plan->engine);
    if (problem)
        return bench_fail("%s: engine: %s", path, problem);
    plan->run_engine = true;
    return 0;
}

int bench_config_load(const char *path, bench_plan *plan)
{
    json_error_t error;
    /* a key given twice is almost always a mistake: which one would win? */
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &error);
    if (!root) {
        if (error.line < 0)
            return bench_fail("%s: %s", path, error.text);
        return bench_fail("%s:%d:%d: %s", path, error.line, error.column, error.text);
    }
    int result = -1;
    bench_plan_default(plan);
    if (!json_is_object(root)) {
        bench_config_type_error(path, "the top level", "an object", root);
        goto done;
    }
    for (void *entry = json_object_iter(root); entry; entry = json_object_iter_next(root, entry))
        if (strcmp(json_object_iter_key(entry), "adam") != 0 &&
            strcmp(json_object_iter_key(entry), "engine") != 0) {
            bench_fail("%s: unknown key %s at the top level (known: adam, engine)", path,
                       json_object_iter_key(entry));
            goto done;
        }
    /* "adam" is what marks a file as a suite config (tests/test_config.c tells them
     * from engine configs by it), so it stays required */
    const json_t *adam = json_object_get(root, "adam");
    if (!adam) {
        bench_fail("%s: missing key adam", path);
        goto done;
    }
    const json_t *engine = json_object_get(root, "engine");
    if (bench_config_load_adam(path, adam, plan) < 0 ||
        (engine && bench_config_load_engine(path, engine, plan) < 0))
        goto done;
    result = 0;
done:
    json_decref(root);
    return result;
}

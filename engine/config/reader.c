/* The config walker: matches each key of an object against its table, reads typed
 * values with their ranges, records ignored keys, and words the errors. */
#include "reader.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "did_you_mean.h"
#include "error.h"

enum { ZO_DESCRIBE_BYTES = 96, ZO_NUMBER_BYTES = ZO_CONFIG_NUMBER_BYTES, ZO_RANGE_BYTES = 96 };

/* 2^63: reals at or above it do not fit a long long. */
#define ZO_TWO_POW_63 9223372036854775808.0

bool zo_config_is_auto(const json_t *value)
{
    return json_is_string(value) && strcmp(json_string_value(value), "auto") == 0;
}

void zo_config_join_path(char *out, const char *parent, const char *key)
{
    if (parent[0] == '\0')
        snprintf(out, ZO_CONFIG_PATH_BYTES, "%s", key);
    else
        snprintf(out, ZO_CONFIG_PATH_BYTES, "%s.%s", parent, key);
}

void zo_config_settings_label(char *out, const char *field, const char *key_path)
{
    snprintf(out, ZO_CONFIG_PATH_BYTES, "zo_settings.%s (config key %s)", field, key_path);
}

/* The shortest of %.15g and %.17g that reads back as the same double, so a message
 * never shows 0.99999999 as "1". */
void zo_config_format_number(double value, char *out)
{
    snprintf(out, ZO_NUMBER_BYTES, "%.15g", value);
    if (strtod(out, NULL) != value)
        snprintf(out, ZO_NUMBER_BYTES, "%.17g", value);
}

void zo_config_describe(const json_t *value, char *out, size_t size)
{
    char number[ZO_NUMBER_BYTES];
    switch (json_typeof(value)) {
    case JSON_OBJECT: snprintf(out, size, "object"); break;
    case JSON_ARRAY: snprintf(out, size, "array"); break;
    case JSON_STRING: snprintf(out, size, "string \"%.40s\"", json_string_value(value)); break;
    case JSON_INTEGER:
        snprintf(out, size, "integer %" JSON_INTEGER_FORMAT, json_integer_value(value));
        break;
    case JSON_REAL:
        zo_config_format_number(json_real_value(value), number);
        snprintf(out, size, "number %s", number);
        break;
    case JSON_TRUE: snprintf(out, size, "boolean true"); break;
    case JSON_FALSE: snprintf(out, size, "boolean false"); break;
    case JSON_NULL: snprintf(out, size, "null"); break;
    }
}

static zo_status zo_type_error(const char *path, const char *expected, const json_t *value)
{
    char got[ZO_DESCRIBE_BYTES];
    zo_config_describe(value, got, sizeof got);
    return zo_fail(ZO_ERR_CONFIG, "%s must be %s, got %s", path, expected, got);
}

/* ">= 0", "> 0", "in [0, 1)". */
static void zo_format_range(zo_config_range range, char *out)
{
    char min[ZO_NUMBER_BYTES], max[ZO_NUMBER_BYTES];
    zo_config_format_number(range.min, min);
    if (isinf(range.max)) {
        snprintf(out, ZO_RANGE_BYTES, "%s %s", range.min_open ? ">" : ">=", min);
        return;
    }
    zo_config_format_number(range.max, max);
    snprintf(out, ZO_RANGE_BYTES, "in %c%s, %s%c", range.min_open ? '(' : '[', min, max,
             range.max_open ? ')' : ']');
}

/* NaN is in no range: both comparisons are false. */
static bool zo_in_range(double value, zo_config_range range)
{
    bool above_min = range.min_open ? value > range.min : value >= range.min;
    bool below_max = range.max_open ? value < range.max : value <= range.max;
    return above_min && below_max;
}

zo_status zo_config_check_range(const char *path, const char *shown, double value, zo_config_range range)
{
    if (zo_in_range(value, range))
        return ZO_OK;
    char allowed[ZO_RANGE_BYTES];
    zo_format_range(range, allowed);
    return zo_fail(ZO_ERR_CONFIG, "%s is %s, must be %s", path, shown, allowed);
}

zo_status zo_config_type_limits_error(const char *path, const char *shown, zo_config_range range,
                                      long long type_min, long long type_max)
{
    /* The table's range, narrowed to what the field's type holds. */
    long long low = range.min > (double)type_min ? (long long)ceil(range.min) : type_min;
    return zo_fail(ZO_ERR_CONFIG, "%s is %s, must be in [%lld, %lld]", path, shown, low, type_max);
}

zo_status zo_config_check_double(const char *path, double value, zo_config_range range)
{
    char shown[ZO_NUMBER_BYTES];
    zo_config_format_number(value, shown);
    return zo_config_check_range(path, shown, value, range);
}

/* The kernels take float: the value must stay in range once rounded (an eps of 1e-50
 * would become 0, an lr of 1e39 infinity). */
zo_status zo_config_check_float(const char *path, double value, zo_config_range range)
{
    zo_status status = zo_config_check_double(path, value, range);
    float rounded = (float)value;
    if (status != ZO_OK || (isfinite(rounded) && zo_in_range(rounded, range)))
        return status;
    char shown[ZO_NUMBER_BYTES], as_float[ZO_NUMBER_BYTES], allowed[ZO_RANGE_BYTES];
    zo_config_format_number(value, shown);
    if (isinf(value)) /* only a zo_settings can hold one: JSON has no infinity */
        return zo_fail(ZO_ERR_CONFIG, "%s is %s, must be finite", path, shown);
    zo_config_format_number(rounded, as_float);
    zo_format_range(range, allowed);
    return zo_fail(ZO_ERR_CONFIG, "%s is %s, which is %s as a float; must be %s", path, shown, as_float,
                   allowed);
}

zo_status zo_config_read_bool(json_t *value, const char *path, bool *out)
{
    if (!json_is_boolean(value))
        return zo_type_error(path, "true or false", value);
    *out = json_is_true(value);
    return ZO_OK;
}

zo_status zo_config_read_string(json_t *value, const char *path, const char **out)
{
    if (!json_is_string(value))
        return zo_type_error(path, "a string", value);
    *out = json_string_value(value);
    return ZO_OK;
}

zo_status zo_config_read_whole(json_t *value, const char *path, long long *out)
{
    if (json_is_integer(value)) {
        *out = json_integer_value(value);
        return ZO_OK;
    }
    if (!json_is_real(value))
        return zo_type_error(path, "an integer", value);
    /* DeepSpeed configs write sizes as 5e8, which JSON reads as a real. */
    double real = json_real_value(value);
    if (real != floor(real))
        return zo_type_error(path, "an integer", value);
    if (real >= ZO_TWO_POW_63 || real < -ZO_TWO_POW_63) {
        char shown[ZO_NUMBER_BYTES];
        zo_config_format_number(real, shown);
        return zo_fail(ZO_ERR_CONFIG, "%s is %s, too large for an integer", path, shown);
    }
    *out = (long long)real;
    return ZO_OK;
}

/* A whole number in `range` and in [type_min, type_max], the limits of the field it
 * goes to. */
static zo_status zo_read_bounded_whole(json_t *value, const char *path, zo_config_range range,
                                       long long type_min, long long type_max, long long *out)
{
    long long whole = 0;
    zo_status status = zo_config_read_whole(value, path, &whole);
    if (status != ZO_OK)
        return status;
    char shown[ZO_NUMBER_BYTES];
    snprintf(shown, sizeof shown, "%lld", whole);
    status = zo_config_check_range(path, shown, (double)whole, range);
    if (status != ZO_OK)
        return status;
    if (whole < type_min || whole > type_max)
        return zo_config_type_limits_error(path, shown, range, type_min, type_max);
    *out = whole;
    return ZO_OK;
}

zo_status zo_config_read_u64(json_t *value, const char *path, zo_config_range range, uint64_t *out)
{
    long long whole = 0;
    zo_status status = zo_read_bounded_whole(value, path, range, 0, LLONG_MAX, &whole);
    if (status == ZO_OK)
        *out = (uint64_t)whole;
    return status;
}

zo_status zo_config_read_int(json_t *value, const char *path, zo_config_range range, int *out)
{
    long long whole = 0;
    zo_status status = zo_read_bounded_whole(value, path, range, INT_MIN, INT_MAX, &whole);
    if (status == ZO_OK)
        *out = (int)whole;
    return status;
}

zo_status zo_config_read_double(json_t *value, const char *path, zo_config_range range, double *out)
{
    if (!json_is_number(value))
        return zo_type_error(path, "a number", value);
    double number = json_number_value(value);
    zo_status status = zo_config_check_double(path, number, range);
    if (status == ZO_OK)
        *out = number;
    return status;
}

zo_status zo_config_read_float(json_t *value, const char *path, zo_config_range range, float *out)
{
    if (!json_is_number(value))
        return zo_type_error(path, "a number", value);
    double number = json_number_value(value);
    zo_status status = zo_config_check_float(path, number, range);
    if (status == ZO_OK)
        *out = (float)number;
    return status;
}

zo_status zo_config_read_choice(json_t *value, const char *path, const char *const *choices,
                                size_t count, size_t *index)
{
    char allowed[256] = "";
    size_t used = 0;
    for (size_t i = 0; i < count && used < sizeof allowed; i++)
        used += (size_t)snprintf(allowed + used, sizeof allowed - used, "%s\"%s\"",
                                 i == 0 ? "" : ", ", choices[i]);
    if (!json_is_string(value)) {
        char expected[300];
        snprintf(expected, sizeof expected, "one of %s", allowed);
        return zo_type_error(path, expected, value);
    }
    const char *text = json_string_value(value);
    for (size_t i = 0; i < count; i++)
        if (strcmp(text, choices[i]) == 0) {
            *index = i;
            return ZO_OK;
        }
    return zo_fail(ZO_ERR_CONFIG, "%s is \"%.40s\", must be one of %s", path, text, allowed);
}

zo_status zo_config_record_ignored(zo_config_reader *reader, const char *parent, const char *key)
{
    zo_config *config = reader->config;
    if (config->ignored_count == config->ignored_capacity) {
        size_t capacity = config->ignored_capacity ? 2 * config->ignored_capacity : 8;
        char **grown = realloc(config->ignored, capacity * sizeof *grown);
        if (!grown)
            return zo_fail(ZO_ERR_OUT_OF_MEMORY, "out of memory recording ignored keys");
        config->ignored = grown;
        config->ignored_capacity = capacity;
    }
    /* Each path its own allocation: zo_config_ignored_key hands them out for as long
     * as the config lives. */
    size_t bytes = strlen(parent) + 1 + strlen(key) + 1;
    char *path = malloc(bytes);
    if (!path)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "out of memory recording ignored keys");
    if (parent[0] == '\0')
        snprintf(path, bytes, "%s", key);
    else
        snprintf(path, bytes, "%s.%s", parent, key);
    config->ignored[config->ignored_count++] = path;
    return ZO_OK;
}

static const zo_config_key *zo_find_key(const zo_config_table *table, const char *name)
{
    for (size_t i = 0; i < table->count; i++)
        if (strcmp(table->keys[i].name, name) == 0)
            return &table->keys[i];
    return NULL;
}

static zo_status zo_unknown_key(const zo_config_table *table, const char *parent, const char *name)
{
    zo_nearest_name search;
    zo_nearest_name_init(&search, name);
    for (size_t i = 0; i < table->count; i++)
        zo_nearest_name_consider(&search, table->keys[i].name);
    const char *suggestion = zo_nearest_name_result(&search);
    const char *dot = parent[0] ? "." : "";
    char note[128] = "";
    if (table->unknown_note)
        snprintf(note, sizeof note, " (%s)", table->unknown_note);
    if (suggestion)
        return zo_fail(ZO_ERR_CONFIG, "unknown key \"%s%s%s\"%s; did you mean \"%s\"?", parent, dot,
                       name, note, suggestion);
    return zo_fail(ZO_ERR_CONFIG, "unknown key \"%s%s%s\"%s", parent, dot, name, note);
}

static void *zo_field(zo_config_reader *reader, const zo_config_key *key)
{
    return (char *)&reader->config->settings + key->offset;
}

static zo_status zo_read_key(zo_config_reader *reader, const zo_config_key *key, json_t *value,
                             const char *path)
{
    switch (key->kind) {
    case ZO_KEY_BOOL: return zo_config_read_bool(value, path, zo_field(reader, key));
    case ZO_KEY_U64: return zo_config_read_u64(value, path, key->range, zo_field(reader, key));
    case ZO_KEY_INT: return zo_config_read_int(value, path, key->range, zo_field(reader, key));
    case ZO_KEY_DOUBLE:
        return zo_config_read_double(value, path, key->range, zo_field(reader, key));
    case ZO_KEY_FLOAT: return zo_config_read_float(value, path, key->range, zo_field(reader, key));
    case ZO_KEY_SECTION: return zo_config_read_section(reader, value, path, key->section);
    case ZO_KEY_CUSTOM: return key->read(reader, value, path);
    case ZO_KEY_IGNORED:
    case ZO_KEY_IGNORED_BOOL:
    case ZO_KEY_IGNORED_COUNT: break;
    }
    return zo_fail(ZO_ERR_INTERNAL, "config key %s has no reader", path);
}

bool zo_config_key_is_ignored(const zo_config_key *key)
{
    return key->kind == ZO_KEY_IGNORED || key->kind == ZO_KEY_IGNORED_BOOL ||
           key->kind == ZO_KEY_IGNORED_COUNT;
}

/* An ignored key whose type DeepSpeed checks is checked too, so a value DeepSpeed would
 * refuse is not let through just because zo does not use it. "auto" passes. */
static zo_status zo_check_ignored_value(const zo_config_key *key, json_t *value, const char *parent,
                                        const char *name)
{
    if (key->kind == ZO_KEY_IGNORED || zo_config_is_auto(value))
        return ZO_OK;
    char path[ZO_CONFIG_PATH_BYTES];
    zo_config_join_path(path, parent, name);
    if (key->kind == ZO_KEY_IGNORED_BOOL) {
        bool unused;
        return zo_config_read_bool(value, path, &unused);
    }
    const zo_config_range non_negative = {.min = 0, .max = INFINITY};
    uint64_t unused;
    return zo_config_read_u64(value, path, non_negative, &unused);
}

zo_status zo_config_walk(zo_config_reader *reader, json_t *object, const char *path,
                         const zo_config_table *table)
{
    const char *name;
    json_t *value;
    json_object_foreach(object, name, value)
    {
        const zo_config_key *key = zo_find_key(table, name);
        if (!key)
            return zo_unknown_key(table, path, name);
        zo_status status = ZO_OK;
        if (zo_config_key_is_ignored(key)) {
            status = zo_check_ignored_value(key, value, path, name);
            if (status == ZO_OK)
                status = zo_config_record_ignored(reader, path, name);
        } else if (!zo_config_is_auto(value)) {
            char child[ZO_CONFIG_PATH_BYTES];
            zo_config_join_path(child, path, name);
            status = zo_read_key(reader, key, value, child);
        }
        if (status != ZO_OK)
            return status;
    }
    return ZO_OK;
}

zo_status zo_config_read_section(zo_config_reader *reader, json_t *value, const char *path,
                                 const zo_config_table *table)
{
    if (!json_is_object(value))
        return zo_type_error(path, "an object", value);
    return zo_config_walk(reader, value, path, table);
}

/* Walking a JSON config against tables of the keys it may hold: typed values with
 * ranges, "auto", the DeepSpeed keys zo ignores, and errors that name the key's JSON
 * path. The tables themselves are in keys.c. Internal. */
#ifndef ZO_CONFIG_READER_H
#define ZO_CONFIG_READER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "zo/config.h"

/* Room for the path of any key zo knows ("zero_optimization.offload_optimizer.
 * pin_memory"); only known names are ever joined into one. */
enum { ZO_CONFIG_PATH_BYTES = 256 };
/* Room for a number as messages show it (zo_config_format_number). */
enum { ZO_CONFIG_NUMBER_BYTES = 32 };

/* A parsed config: what zo_config_settings and zo_config_ignored_key hand out. */
struct zo_config {
    zo_settings settings;
    char **ignored; /* JSON paths, each its own allocation, in file order */
    size_t ignored_count;
    size_t ignored_capacity;
};

typedef enum zo_optimizer_type {
    ZO_OPTIMIZER_UNSET = 0,
    ZO_OPTIMIZER_ADAM = 1,
    ZO_OPTIMIZER_ADAMW = 2
} zo_optimizer_type;

/* The config being built, plus what the walk saw that the checks across keys
 * (checks.c) need: some keys only mean something next to others. */
typedef struct zo_config_reader {
    zo_config *config;
    bool optimizer_seen;
    zo_optimizer_type optimizer_type;
    bool adam_w_mode; /* optimizer.params.adam_w_mode: true unless given false */
    bool total_num_steps_given;
    bool offload_optimizer_seen;
    bool cpu_offload_seen;
    bool bf16_seen; /* "bf16" or its old name "bfloat16" */
} zo_config_reader;

/* Reads a key whose value needs more than a type and a range. `path` is the key's
 * JSON path; the value is never "auto" (the walker has skipped those). */
typedef zo_status (*zo_config_read_fn)(zo_config_reader *reader, json_t *value, const char *path);

typedef enum zo_config_key_kind {
    ZO_KEY_BOOL,         /* bool at `offset` in zo_settings                             */
    ZO_KEY_U64,          /* uint64_t at `offset`: a whole number in `range`             */
    ZO_KEY_INT,          /* int at `offset`: a whole number in `range`                  */
    ZO_KEY_DOUBLE,       /* double at `offset`: a number in `range`                     */
    ZO_KEY_FLOAT,        /* float at `offset`: a number in `range`, also after rounding */
    ZO_KEY_SECTION,      /* an object walked with `section`                             */
    ZO_KEY_CUSTOM,       /* handed to `read`                                            */
    ZO_KEY_IGNORED,      /* a DeepSpeed key zo has no use for: recorded, value unread   */
    ZO_KEY_IGNORED_BOOL, /* ignored as above, its value checked: true or false          */
    ZO_KEY_IGNORED_COUNT /* ignored as above, its value checked: a whole number >= 0    */
} zo_config_key_kind;

/* [min, max], either end open; max INFINITY for no upper bound. */
typedef struct zo_config_range {
    double min, max;
    bool min_open, max_open;
} zo_config_range;

typedef struct zo_config_table zo_config_table;

typedef struct zo_config_key {
    const char *name;
    zo_config_key_kind kind;
    size_t offset;
    const char *field; /* the zo_settings member at `offset`, for messages about a
                          zo_settings a C program filled (zo_config_from_settings) */
    zo_config_range range;
    /* ZO_KEY_SECTION: the object's keys. ZO_KEY_CUSTOM: the keys of the object its
     * reader walks, when that is one fixed table (NULL otherwise), so checks of a
     * zo_settings reach every typed key the JSON reader would. */
    const zo_config_table *section;
    zo_config_read_fn read;
} zo_config_key;

/* The keys one JSON object may hold. */
struct zo_config_table {
    const zo_config_key *keys;
    size_t count;
    const char *unknown_note; /* NULL, or said after an unknown key ("not a WarmupLR
                                 parameter") when the object's keys depend on context */
};

/* Whether `key` is one of the ignored kinds: recorded, never stored. */
bool zo_config_key_is_ignored(const zo_config_key *key);

/* Walks `object` (at JSON path `path`, "" for the top level) key by key in file
 * order: known keys are read into the config, "auto" leaves the default, ignored keys
 * are recorded, and anything else is an error with a "did you mean" when a known
 * name is close. */
zo_status zo_config_walk(zo_config_reader *reader, json_t *object, const char *path,
                         const zo_config_table *table);

/* `value` must be an object; walks it with `table`. */
zo_status zo_config_read_section(zo_config_reader *reader, json_t *value, const char *path,
                                 const zo_config_table *table);

/* Whether `value` is the string "auto": DeepSpeed's and Hugging Face's "use the
 * default" (the Trainer fills these in; zo takes the default). */
bool zo_config_is_auto(const json_t *value);

/* "parent.key", or "key" at the top level, into out[ZO_CONFIG_PATH_BYTES]. */
void zo_config_join_path(char *out, const char *parent, const char *key);

/* "zo_settings.<field> (config key <key_path>)" into out[ZO_CONFIG_PATH_BYTES]: how
 * errors name a value of a zo_settings a C program filled. */
void zo_config_settings_label(char *out, const char *field, const char *key_path);

/* Typed values; each error names `path`. */
zo_status zo_config_read_bool(json_t *value, const char *path, bool *out);
zo_status zo_config_read_string(json_t *value, const char *path, const char **out);
/* A JSON integer, or a real that is a whole number (5e8). */
zo_status zo_config_read_whole(json_t *value, const char *path, long long *out);
zo_status zo_config_read_u64(json_t *value, const char *path, zo_config_range range, uint64_t *out);
zo_status zo_config_read_int(json_t *value, const char *path, zo_config_range range, int *out);
zo_status zo_config_read_double(json_t *value, const char *path, zo_config_range range,
                                double *out);
/* A double in range that stays in range rounded to float (what the kernels take). */
zo_status zo_config_read_float(json_t *value, const char *path, zo_config_range range, float *out);
/* One of `count` strings, matched exactly; *index is its position. */
zo_status zo_config_read_choice(json_t *value, const char *path, const char *const *choices,
                                size_t count, size_t *index);

/* The checks behind the typed readers, shared with the checks of a zo_settings that
 * did not come from JSON (settings_checks.c); each error is ZO_ERR_CONFIG naming
 * `path`. `shown` is how the message writes the value. */
zo_status zo_config_check_range(const char *path, const char *shown, double value, zo_config_range range);
zo_status zo_config_check_double(const char *path, double value, zo_config_range range);
/* In range also once rounded to float, and finite. */
zo_status zo_config_check_float(const char *path, double value, zo_config_range range);
/* A whole number in range that its field's type [type_min, type_max] cannot hold. */
zo_status zo_config_type_limits_error(const char *path, const char *shown, zo_config_range range,
                                      long long type_min, long long type_max);
/* The shortest of %.15g and %.17g that reads back as the same double, into
 * out[ZO_CONFIG_NUMBER_BYTES]. */
void zo_config_format_number(double value, char *out);

/* Appends "parent.key" to the config's ignored keys. */
zo_status zo_config_record_ignored(zo_config_reader *reader, const char *parent, const char *key);

/* A short account of a JSON value for error messages: `string "abc"`, `boolean true`,
 * `number 2.5`, `object`, `array`, `null`. */
void zo_config_describe(const json_t *value, char *out, size_t size);

#endif

/* Helpers the config tests share (test_config.c, test_config_stage3.c): a config that
 * must parse, and the ignored keys it must report. */
#ifndef ZO_CONFIG_TEST_SUPPORT_H
#define ZO_CONFIG_TEST_SUPPORT_H

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stddef.h>
#include <stdint.h>

#include "zo/zo.h"

static inline zo_config *parse_ok(const char *json)
{
    zo_config *config = NULL;
    zo_status status = zo_config_from_string(json, &config);
    cr_assert(eq(int, status, ZO_OK), "%s: %s\nconfig: %s", zo_status_name(status), zo_last_error(),
              json);
    cr_assert(config != NULL);
    return config;
}

/* The config's ignored keys are exactly `expected`, in that order. */
static inline void assert_ignored_keys(const zo_config *config, const char *const *expected,
                                       size_t count)
{
    cr_assert(eq(sz, zo_config_ignored_count(config), count));
    for (size_t i = 0; i < count; i++)
        cr_assert(eq(str, (char *)zo_config_ignored_key(config, i), (char *)expected[i]),
                  "ignored key %zu", i);
    cr_assert(zo_config_ignored_key(config, count) == NULL);
}

/* A value of a byte-count key as JSON text, and the bytes it must give. */
typedef struct byte_size_case {
    const char *value;
    uint64_t bytes;
} byte_size_case;

#endif

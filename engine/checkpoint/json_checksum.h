/* A CRC-32C over a JSON value's canonical text: what makes a hand edit or a flipped bit
 * in manifest.json or a shard's header detectable, whatever whitespace or key order the
 * file has. Internal. */
#ifndef ZO_JSON_CHECKSUM_H
#define ZO_JSON_CHECKSUM_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "zo/status.h"

/* Canonical text: keys sorted, no whitespace, only ASCII (every other character as a
 * \u escape), reals with the 17 digits that give back the same double. Parsing that
 * text and printing it again gives the same bytes. */
#define ZO_JSON_CANONICAL                                                                          \
    (JSON_SORT_KEYS | JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(17))

/* "crc32c:" and 8 lowercase hex digits: fixed width, so a header can be written with a
 * placeholder and rewritten with the real value at the same length. */
enum { ZO_CHECKSUM_TEXT_BYTES = 16 };

/* The CRC-32C of `root`'s canonical text leaving out the member `key` of the object
 * `root`[`inner`] (or of `root` itself when `inner` is NULL), formatted into `out`.
 * `root` is not changed. Errors: ZO_ERR_OUT_OF_MEMORY. */
zo_status zo_json_checksum(const json_t *root, const char *inner, const char *key,
                           char out[ZO_CHECKSUM_TEXT_BYTES]);

/* Whether the checksum text `found` in a file is `expected`. In a fuzzing build
 * (FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, which libFuzzer's convention sets) always
 * true, so that mutated inputs reach the checks behind the checksum. */
bool zo_checksum_matches(const char *expected, const char *found);

#endif

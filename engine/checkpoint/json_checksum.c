/* CRC-32C over canonical JSON text (json_checksum.h). */
#include "json_checksum.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "error.h"

zo_status zo_json_checksum(const json_t *root, const char *inner, const char *key,
                           char out[ZO_CHECKSUM_TEXT_BYTES])
{
    /* shallow copies: the caller's objects keep the member, the copies share the rest */
    json_t *top = json_copy((json_t *)root), *holder = top;
    if (top && inner) {
        holder = json_copy(json_object_get(top, inner));
        if (holder && json_object_set_new(top, inner, holder) != 0)
            holder = NULL;
    }
    char *text = NULL;
    if (holder) {
        json_object_del(holder, key); /* -1 when absent: nothing to leave out */
        text = json_dumps(top, ZO_JSON_CANONICAL);
    }
    json_decref(top);
    if (!text)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "checkpoint: out of memory for a checksum");
    snprintf(out, ZO_CHECKSUM_TEXT_BYTES, "crc32c:%08x", zo_crc32c_update(0, text, strlen(text)));
    free(text);
    return ZO_OK;
}

bool zo_checksum_matches(const char *expected, const char *found)
{
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    (void)expected, (void)found;
    return true;
#else
    return found && strcmp(expected, found) == 0;
#endif
}

/* The names the safetensors writer and reader share: dtype strings and zo's checksum
 * keys in __metadata__. Internal. */
#ifndef ZO_SAFETENSORS_NAMES_H
#define ZO_SAFETENSORS_NAMES_H

#include <string.h>

#include "zo/dtype.h"

#define ZO_ST_CHECKSUM_PREFIX "checksum."
#define ZO_ST_CRC32C_PREFIX "crc32c:"
/* The CRC-32C of the whole header's canonical text (json_checksum.h) without this
 * member: tensor names cannot start with "__", so no tensor's checksum takes the key. */
#define ZO_ST_HEADER_CHECKSUM_KEY ZO_ST_CHECKSUM_PREFIX "__header__"

/* I8 and U8 hold the codes of 8-bit moments (zo/adam.h). */
static inline const char *zo_st_dtype_name(zo_dtype dtype)
{
    switch (dtype) {
    case ZO_DTYPE_F16: return "F16";
    case ZO_DTYPE_BF16: return "BF16";
    case ZO_DTYPE_I8: return "I8";
    case ZO_DTYPE_U8: return "U8";
    default: return "F32";
    }
}

/* 0 when `name` is one of the five, else -1. */
static inline int zo_st_dtype_parse(const char *name, zo_dtype *dtype)
{
    static const zo_dtype all[] = {ZO_DTYPE_F32, ZO_DTYPE_F16, ZO_DTYPE_BF16, ZO_DTYPE_I8, ZO_DTYPE_U8};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(name, zo_st_dtype_name(all[i])) == 0) {
            *dtype = all[i];
            return 0;
        }
    return -1;
}

#endif

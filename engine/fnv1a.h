/* FNV-1a 64: the digest of what must match (a checkpoint's fingerprint, the ranks'
 * agreement at create). Not a checksum against corruption (that is crc32c.h). Internal. */
#ifndef ZO_FNV1A_H
#define ZO_FNV1A_H

#include <stddef.h>
#include <stdint.h>

#define ZO_FNV1A_OFFSET_BASIS 1469598103934665603ull

/* Continues the digest `h` (start from ZO_FNV1A_OFFSET_BASIS) over `bytes` bytes. */
static inline uint64_t zo_fnv1a(uint64_t h, const void *data, size_t bytes)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < bytes; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

#endif

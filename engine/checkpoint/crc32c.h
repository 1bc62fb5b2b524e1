/* CRC-32C (Castagnoli), the checksum of every tensor in a checkpoint: the one iSCSI,
 * ext4 and Google's crc32c package compute, so any tool can check a file. Internal. */
#ifndef ZO_CRC32C_H
#define ZO_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continues a CRC over `bytes` more bytes: start with crc = 0, feed the data in any
 * pieces, the result is the CRC of the whole ("123456789" gives 0xE3069283). */
uint32_t zo_crc32c_update(uint32_t crc, const void *data, size_t bytes);

/* The same through the portable table path alone, whatever the CPU: for tests. */
uint32_t zo_crc32c_update_table(uint32_t crc, const void *data, size_t bytes);

#endif

/* CRC-32C with SSE4.2's crc32 instruction where the CPU has it (about 8 bytes per
 * cycle), else a slicing-by-8 table (about 1 byte per cycle); both give the same bits. */
#include "crc32c.h"

#include <pthread.h>
#include <string.h>

#define ZO_CRC32C_POLY 0x82F63B78u /* reflected Castagnoli polynomial */

static uint32_t zo_crc32c_table[8][256];
static pthread_once_t zo_crc32c_table_once = PTHREAD_ONCE_INIT;

static void zo_crc32c_build_table(void)
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t crc = n;
        for (int k = 0; k < 8; k++)
            crc = crc & 1 ? (crc >> 1) ^ ZO_CRC32C_POLY : crc >> 1;
        zo_crc32c_table[0][n] = crc;
    }
    for (uint32_t n = 0; n < 256; n++)
        for (int k = 1; k < 8; k++)
            zo_crc32c_table[k][n] = (zo_crc32c_table[k - 1][n] >> 8) ^
                                    zo_crc32c_table[0][zo_crc32c_table[k - 1][n] & 0xFF];
}

static uint32_t zo_crc32c_software(uint32_t crc, const unsigned char *p, size_t bytes)
{
    pthread_once(&zo_crc32c_table_once, zo_crc32c_build_table);
    for (; bytes >= 8; bytes -= 8, p += 8) {
        uint64_t word;
        memcpy(&word, p, 8); /* little-endian load (x86, and the file's byte order) */
        word ^= crc;
        crc = zo_crc32c_table[7][word & 0xFF] ^ zo_crc32c_table[6][(word >> 8) & 0xFF] ^
              zo_crc32c_table[5][(word >> 16) & 0xFF] ^ zo_crc32c_table[4][(word >> 24) & 0xFF] ^
              zo_crc32c_table[3][(word >> 32) & 0xFF] ^ zo_crc32c_table[2][(word >> 40) & 0xFF] ^
              zo_crc32c_table[1][(word >> 48) & 0xFF] ^ zo_crc32c_table[0][word >> 56];
    }
    while (bytes--)
        crc = (crc >> 8) ^ zo_crc32c_table[0][(crc ^ *p++) & 0xFF];
    return crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("sse4.2"))) static uint32_t
zo_crc32c_sse42(uint32_t crc, const unsigned char *p, size_t bytes)
{
    uint64_t wide = crc;
    for (; bytes >= 8; bytes -= 8, p += 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        wide = __builtin_ia32_crc32di(wide, word);
    }
    uint32_t narrow = (uint32_t)wide;
    while (bytes--)
        narrow = __builtin_ia32_crc32qi(narrow, *p++);
    return narrow;
}

static int zo_have_sse42(void) { return __builtin_cpu_supports("sse4.2"); }
#endif

uint32_t zo_crc32c_update(uint32_t crc, const void *data, size_t bytes)
{
    crc = ~crc;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (zo_have_sse42())
        return ~zo_crc32c_sse42(crc, data, bytes);
#endif
    return ~zo_crc32c_software(crc, data, bytes);
}

uint32_t zo_crc32c_update_table(uint32_t crc, const void *data, size_t bytes)
{
    return ~zo_crc32c_software(~crc, data, bytes);
}

/* The safetensors writer and reader, and CRC-32C: the published check value, both
 * CRC paths equal on random data in random pieces, the exact bytes of a written file
 * (length prefix, space-padded header aligned to 8, data back to back), a round trip
 * of F32/F16/BF16 and empty tensors, and each malformed file refused by name. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint/crc32c.h"
#include "checkpoint/safetensors.h"
#include "test_support.h"

static void scratch_file(char *out, size_t size)
{
    snprintf(out, size, "/tmp/zo-st-test-XXXXXX");
    int fd = mkstemp(out);
    cr_assert(fd >= 0);
    close(fd);
}

Test(crc32c, gives_the_published_check_value)
{
    cr_assert(eq(u32, zo_crc32c_update(0, "123456789", 9), 0xE3069283u));
    cr_assert(eq(u32, zo_crc32c_update_table(0, "123456789", 9), 0xE3069283u));
    cr_assert(eq(u32, zo_crc32c_update(0, "", 0), 0u));
}

/* Whatever the CPU path, and however the data is cut, the same CRC. */
Test(crc32c, both_paths_agree_on_random_data_in_random_pieces)
{
    static unsigned char data[10007];
    zo_test_rng rng = {99};
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)zo_test_next(&rng);
    uint32_t whole = zo_crc32c_update_table(0, data, sizeof data);
    for (int trial = 0; trial < 50; trial++) {
        uint32_t crc = 0;
        for (size_t done = 0; done < sizeof data;) {
            size_t piece = zo_test_next(&rng) % 300;
            piece = piece < sizeof data - done ? piece : sizeof data - done;
            crc = zo_crc32c_update(crc, data + done, piece);
            done += piece;
        }
        cr_assert(eq(u32, crc, whole), "trial %d", trial);
    }
}

Test(safetensors, writes_the_exact_layout_and_reads_it_back)
{
    char path[64];
    scratch_file(path, sizeof path);
    float f32[5] = {1.0f, -2.5f, 3e-8f, 0.0f, 65504.0f};
    uint16_t f16[3] = {0x3c00, 0xc000, 0x7bff}, bf16[4] = {0x3f80, 0x4049, 0xbf80, 0x0001};
    zo_st_tensor tensors[] = {{"weights", ZO_DTYPE_F32, 5},
                              {"empty", ZO_DTYPE_F32, 0},
                              {"half", ZO_DTYPE_F16, 3},
                              {"brain", ZO_DTYPE_BF16, 4}};
    json_t *metadata = json_pack("{s:s}", "note", "a \"quoted\" value");
    zo_st_writer writer;
    cr_assert(eq(int, zo_st_writer_open(&writer, path, tensors, 4, metadata), ZO_OK), "%s",
              zo_last_error());
    json_decref(metadata);
    /* any cut of the stream: the writer crosses tensors on its own */
    cr_assert(eq(int, zo_st_writer_append(&writer, f32, 7), ZO_OK));
    cr_assert(eq(int, zo_st_writer_append(&writer, (char *)f32 + 7, 13), ZO_OK));
    cr_assert(eq(int, zo_st_writer_append(&writer, f16, 6), ZO_OK));
    cr_assert(eq(int, zo_st_writer_append(&writer, bf16, 8), ZO_OK));
    cr_assert(eq(int, zo_st_writer_finish(&writer), ZO_OK), "%s", zo_last_error());

    FILE *f = fopen(path, "rb");
    unsigned char bytes[4096];
    size_t size = fread(bytes, 1, sizeof bytes, f);
    fclose(f);
    uint64_t header = 0;
    for (int k = 0; k < 8; k++)
        header |= (uint64_t)bytes[k] << (8 * k);
    cr_assert(eq(u64, header % 8, 0), "the data must start 8-aligned");
    cr_assert(eq(sz, size, 8 + header + 20 + 6 + 8));
    cr_assert(eq(chr, (char)bytes[8], '{'));
    cr_assert(eq(int, memcmp(bytes + 8 + header, f32, 20), 0));
    char text[2048];
    snprintf(text, sizeof text, "%.*s", (int)header, (char *)bytes + 8);
    cr_assert(
        strstr(text, "\"weights\":{\"dtype\":\"F32\",\"shape\":[5],\"data_offsets\":[0,20]}") !=
            NULL,
        "%s", text);
    cr_assert(
        strstr(text, "\"brain\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[26,34]}") !=
            NULL,
        "%s", text);
    char crc[64];
    snprintf(crc, sizeof crc, "\"checksum.half\":\"crc32c:%08x\"", zo_crc32c_update(0, f16, 6));
    cr_assert(strstr(text, crc) != NULL, "%s", text);

    zo_st_file file;
    cr_assert(eq(int, zo_st_open(path, &file), ZO_OK), "%s", zo_last_error());
    cr_assert(eq(sz, file.count, 4));
    cr_assert(eq(str, (char *)zo_st_metadata(&file, "note"), "a \"quoted\" value"));
    uint16_t got16[4];
    const zo_st_entry *brain = zo_st_find(&file, "brain");
    cr_assert(brain && brain->dtype == ZO_DTYPE_BF16 && brain->elems == 4 && brain->has_checksum);
    cr_assert(eq(int, zo_st_read(&file, brain, got16), ZO_OK), "%s", zo_last_error());
    cr_assert(eq(int, memcmp(got16, bf16, 8), 0));
    cr_assert(eq(int, zo_st_verify(&file, zo_st_find(&file, "empty")), ZO_OK));
    cr_assert(eq(int, zo_st_verify(&file, zo_st_find(&file, "weights")), ZO_OK));
    zo_st_close(&file);
    remove(path);
}

Test(safetensors, writer_refuses_a_name_used_twice_and_non_string_metadata)
{
    char path[64];
    scratch_file(path, sizeof path);
    zo_st_tensor twice[] = {{"a", ZO_DTYPE_F32, 1}, {"a", ZO_DTYPE_F32, 1}};
    zo_st_writer writer;
    cr_assert(eq(int, zo_st_writer_open(&writer, path, twice, 2, NULL), ZO_ERR_INVALID_ARGUMENT));
    cr_assert(strstr(zo_last_error(), "\"a\" is used twice") != NULL, "%s", zo_last_error());
    json_t *metadata = json_pack("{s:i}", "step", 3);
    cr_assert(
        eq(int, zo_st_writer_open(&writer, path, twice, 1, metadata), ZO_ERR_INVALID_ARGUMENT));
    json_decref(metadata);
    remove(path);
}

/* A file of `header` (length-prefixed, unpadded) and `data_bytes` zero bytes. */
static void write_raw(const char *path, const char *header, size_t data_bytes)
{
    FILE *f = fopen(path, "wb");
    uint64_t length = strlen(header);
    for (int k = 0; k < 8; k++)
        fputc((int)(length >> (8 * k)) & 0xFF, f);
    fputs(header, f);
    for (size_t i = 0; i < data_bytes; i++)
        fputc(0, f);
    fclose(f);
}

typedef struct malformed_case {
    const char *header;
    size_t data_bytes;
    zo_status status;
    const char *message;
} malformed_case;

static const malformed_case malformed_cases[] = {
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 7, ZO_ERR_IO,
     "is truncated"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 9, ZO_ERR_IO,
     "bytes after the last tensor"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, ZO_ERR_IO,
     "shape and data_offsets disagree"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
     8, ZO_ERR_IO, "a gap or an overlap"},
    {"{\"a\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8, ZO_ERR_NOT_SUPPORTED,
     "is I64"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, ZO_ERR_IO, "no dtype, shape or data_offsets"},
    {"{\"a\": [1, 2", 0, ZO_ERR_IO, "the header is not a JSON object"},
    {"{\"__metadata__\":{\"step\":3}}", 0, ZO_ERR_IO, "not a string"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
     "\"__metadata__\":{\"checksum.a\":\"crc32c:00000001\"}}",
     4, ZO_OK, ""},
};

Test(safetensors, reader_refuses_each_malformed_file_by_name)
{
    char path[64];
    scratch_file(path, sizeof path);
    for (size_t i = 0; i < sizeof malformed_cases / sizeof malformed_cases[0]; i++) {
        const malformed_case *c = &malformed_cases[i];
        write_raw(path, c->header, c->data_bytes);
        zo_st_file file;
        zo_status status = zo_st_open(path, &file);
        cr_assert(eq(int, status, c->status), "case %zu: %s", i, zo_last_error());
        cr_assert(strstr(zo_last_error(), c->message) != NULL, "case %zu: %s", i, zo_last_error());
        if (status != ZO_OK)
            continue;
        /* the last case opens, but its one tensor fails its checksum */
        float value;
        cr_assert(eq(int, zo_st_read(&file, zo_st_find(&file, "a"), &value), ZO_ERR_IO));
        cr_assert(strstr(zo_last_error(), "checksum mismatch in tensor a") != NULL, "%s",
                  zo_last_error());
        zo_st_close(&file);
    }
    FILE *f = fopen(path, "wb");
    fputs("abc", f);
    fclose(f);
    zo_st_file file;
    cr_assert(eq(int, zo_st_open(path, &file), ZO_ERR_IO));
    cr_assert(strstr(zo_last_error(), "not even a header length") != NULL, "%s", zo_last_error());
    write_raw(path, "", 0); /* a header length of 0 still needs a JSON object */
    cr_assert(eq(int, zo_st_open(path, &file), ZO_ERR_IO));
    remove(path);
}

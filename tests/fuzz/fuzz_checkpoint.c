/* libFuzzer target for the checkpoint loader (zo_engine_load): the input's first byte
 * picks which file it stands for, the rest is that file's bytes, the other file of the
 * checkpoint being a valid one saved at start-up:
 *   even first byte: the rank's shard (rank0-of-1.safetensors: JSON header, tensors),
 *   odd first byte:  the manifest (manifest.json).
 * Any input must give either a load or an error with a message, and after an error the
 * engine's master weights must be what they were: never a crash, a leak, undefined
 * behaviour (built with ASan+UBSan) or a half-changed state. One engine serves every
 * input. The same function runs under tests/fuzz/replay.c in every build, over
 * checkpoint_corpus/ (seeds of format version 2, and v1_* of version 1). The fuzzing
 * build (-Dfuzz=enabled) defines FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, under which
 * the manifest's and the shard header's checksums are not enforced: otherwise nearly
 * every mutation would stop there and the checks behind them would go unexplored. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zo/zo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Small, so a whole shard fits the fuzzer's 4 KiB inputs: 101 parameters' worth. */
static const zo_param_desc model[] = {{"weight", 64}, {"bias", 37}};
enum { PARAMS = 2, ELEMS = 64 + 37 };

static zo_engine *engine;
static char dir[64], shard_path[128], manifest_path[128];
static uint8_t *valid_shard, *valid_manifest;
static size_t valid_shard_size, valid_manifest_size;

static uint8_t *read_whole(const char *path, size_t *size)
{
    FILE *file = fopen(path, "rb");
    if (!file)
        return NULL;
    fseek(file, 0, SEEK_END);
    long length = ftell(file);
    fseek(file, 0, SEEK_SET);
    uint8_t *bytes = length > 0 ? malloc((size_t)length) : NULL;
    if (bytes && fread(bytes, 1, (size_t)length, file) != (size_t)length) {
        free(bytes);
        bytes = NULL;
    }
    fclose(file);
    *size = bytes ? (size_t)length : 0;
    return bytes;
}

static void write_whole(const char *path, const uint8_t *bytes, size_t size)
{
    FILE *file = fopen(path, "wb");
    if (!file || (size && fwrite(bytes, 1, size, file) != size))
        abort();
    fclose(file);
}

/* At exit: the engine, and the checkpoint directory with what a save may leave
 * beside it. */
static void clean_up(void)
{
    zo_engine_destroy(&engine);
    free(valid_shard), free(valid_manifest);
    char path[160];
    remove(shard_path), remove(manifest_path), rmdir(dir);
    snprintf(path, sizeof path, "%s.tmp", dir), rmdir(path);
    snprintf(path, sizeof path, "%s.old", dir), rmdir(path);
}

/* Once: an engine with some state, saved, and the two files kept. */
static void set_up(void)
{
    atexit(clean_up);
    zo_config *config = NULL;
    if (zo_config_from_string("{\"fp16\": {\"enabled\": true}, \"zero_optimization\": {\"stage\": 2, "
                              "\"reduce_bucket_size\": 64}, \"zo\": {\"device\": \"host\", \"comm\": \"single\", "
                              "\"threads\": 1, \"bind\": \"none\"}}",
                              &config) != ZO_OK ||
        zo_engine_create(config, model, PARAMS, &engine) != ZO_OK)
        abort();
    zo_config_destroy(&config);
    float values[64];
    for (size_t p = 0; p < PARAMS; p++) {
        for (size_t i = 0; i < model[p].elems; i++)
            values[i] = 0.01f * (float)(i + 1) * (p ? -1.0f : 1.0f);
        if (zo_engine_set_master(engine, p, values) != ZO_OK)
            abort();
    }
    snprintf(dir, sizeof dir, "/tmp/zo-fuzz-checkpoint-%d", (int)getpid());
    snprintf(shard_path, sizeof shard_path, "%s/rank0-of-1.safetensors", dir);
    snprintf(manifest_path, sizeof manifest_path, "%s/manifest.json", dir);
    if (zo_engine_save(engine, dir) != ZO_OK)
        abort();
    valid_shard = read_whole(shard_path, &valid_shard_size);
    valid_manifest = read_whole(manifest_path, &valid_manifest_size);
    if (!valid_shard || !valid_manifest)
        abort();
}

static void masters(float *out)
{
    for (size_t p = 0; p < PARAMS; p++) {
        if (zo_engine_get_master(engine, p, out) != ZO_OK)
            abort();
        out += model[p].elems;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!engine)
        set_up();
    if (size == 0)
        return 0;
    bool manifest = data[0] & 1;
    write_whole(shard_path, manifest ? valid_shard : data + 1, manifest ? valid_shard_size : size - 1);
    write_whole(manifest_path, manifest ? data + 1 : valid_manifest, manifest ? size - 1 : valid_manifest_size);
    float before[ELEMS], after[ELEMS];
    masters(before);
    zo_status status = zo_engine_load(engine, dir);
    masters(after);
    /* the contract: loaded, or an error that says why and changed nothing */
    if (status != ZO_OK && (zo_last_error()[0] == '\0' || memcmp(before, after, sizeof before) != 0))
        abort();
    return 0;
}

/* libFuzzer target for the checkpoint loader (zo_engine_load): the input's first byte
 * picks which file it stands for and which engine loads it, the rest is that file's
 * bytes, the other file of the checkpoint being a valid one saved at start-up:
 *   bit 0 clear: the rank's shard (rank0-of-1.safetensors: JSON header, tensors),
 *   bit 0 set:   the manifest (manifest.json);
 *   bit 1 clear: an engine with f32 moments,
 *   bit 1 set:   one with 8-bit moments (zo.moments_dtype "8bit": int8 and uint8 codes
 *                and two tensors of block scales in the shard).
 * Any input must give either a load or an error with a message, and after an error the
 * engine's master weights must be what they were: never a crash, a leak, undefined
 * behaviour (built with ASan+UBSan) or a half-changed state. Each engine serves every
 * input of its kind. The same function runs under tests/fuzz/replay.c in every build,
 * over checkpoint_corpus/ (seeds of format version 2, v1_* of version 1, 8bit_* of the
 * 8-bit engine). The fuzzing
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

/* One engine and the valid checkpoint it saved. */
typedef struct fuzz_engine {
    const char *moments_dtype;
    zo_engine *engine;
    char dir[64], shard_path[128], manifest_path[128];
    uint8_t *valid_shard, *valid_manifest;
    size_t valid_shard_size, valid_manifest_size;
} fuzz_engine;

static fuzz_engine engines[2] = {{.moments_dtype = "f32"}, {.moments_dtype = "8bit"}};
static bool ready;

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

/* At exit: the engines, and the checkpoint directories with what a save may leave
 * beside them. */
static void clean_up(void)
{
    for (size_t k = 0; k < 2; k++) {
        fuzz_engine *f = &engines[k];
        zo_engine_destroy(&f->engine);
        free(f->valid_shard), free(f->valid_manifest);
        char path[160];
        remove(f->shard_path), remove(f->manifest_path), rmdir(f->dir);
        snprintf(path, sizeof path, "%s.tmp", f->dir), rmdir(path);
        snprintf(path, sizeof path, "%s.old", f->dir), rmdir(path);
    }
}

/* Once per engine: some state (8-bit moments get theirs from a step), saved, and the
 * two files kept. */
static void set_up_engine(fuzz_engine *f)
{
    char json[512];
    snprintf(json, sizeof json,
             "{\"fp16\": {\"enabled\": true}, \"zero_optimization\": {\"stage\": 2, "
             "\"reduce_bucket_size\": 64}, \"zo\": {\"device\": \"host\", \"comm\": \"single\", "
             "\"threads\": 1, \"bind\": \"none\", \"moments_dtype\": \"%s\"}}",
             f->moments_dtype);
    zo_config *config = NULL;
    if (zo_config_from_string(json, &config) != ZO_OK || zo_engine_create(config, model, PARAMS, &f->engine) != ZO_OK)
        abort();
    zo_config_destroy(&config);
    float values[64];
    for (size_t p = 0; p < PARAMS; p++) {
        for (size_t i = 0; i < model[p].elems; i++)
            values[i] = 0.01f * (float)(i + 1) * (p ? -1.0f : 1.0f);
        if (zo_engine_set_master(f->engine, p, values) != ZO_OK)
            abort();
    }
    if (strcmp(f->moments_dtype, "f32") != 0) { /* codes and scales that are not all zero */
        for (size_t p = 0; p < PARAMS; p++)
            if (zo_engine_wait_params(f->engine, p, NULL) != ZO_OK)
                abort();
        for (size_t p = PARAMS; p-- > 0;) {
            uint16_t *grads = zo_engine_grads(f->engine, p);
            for (size_t i = 0; i < model[p].elems; i++)
                grads[i] = zo_f32_to_f16((float)(i % 7) - 3.0f);
            if (zo_engine_grad_ready(f->engine, p, NULL) != ZO_OK)
                abort();
        }
        if (zo_engine_step(f->engine, NULL) != ZO_OK || zo_engine_synchronize(f->engine) != ZO_OK)
            abort();
    }
    snprintf(f->dir, sizeof f->dir, "/tmp/zo-fuzz-checkpoint-%s-%d", f->moments_dtype, (int)getpid());
    snprintf(f->shard_path, sizeof f->shard_path, "%s/rank0-of-1.safetensors", f->dir);
    snprintf(f->manifest_path, sizeof f->manifest_path, "%s/manifest.json", f->dir);
    if (zo_engine_save(f->engine, f->dir) != ZO_OK)
        abort();
    f->valid_shard = read_whole(f->shard_path, &f->valid_shard_size);
    f->valid_manifest = read_whole(f->manifest_path, &f->valid_manifest_size);
    if (!f->valid_shard || !f->valid_manifest)
        abort();
}

static void set_up(void)
{
    atexit(clean_up);
    for (size_t k = 0; k < 2; k++)
        set_up_engine(&engines[k]);
    ready = true;
}

static void masters(zo_engine *engine, float *out)
{
    for (size_t p = 0; p < PARAMS; p++) {
        if (zo_engine_get_master(engine, p, out) != ZO_OK)
            abort();
        out += model[p].elems;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready)
        set_up();
    if (size == 0)
        return 0;
    bool manifest = data[0] & 1;
    fuzz_engine *f = &engines[(data[0] >> 1) & 1];
    write_whole(f->shard_path, manifest ? f->valid_shard : data + 1, manifest ? f->valid_shard_size : size - 1);
    write_whole(f->manifest_path, manifest ? data + 1 : f->valid_manifest,
                manifest ? size - 1 : f->valid_manifest_size);
    float before[ELEMS], after[ELEMS];
    masters(f->engine, before);
    zo_status status = zo_engine_load(f->engine, f->dir);
    masters(f->engine, after);
    /* the contract: loaded, or an error that says why and changed nothing */
    if (status != ZO_OK && (zo_last_error()[0] == '\0' || memcmp(before, after, sizeof before) != 0))
        abort();
    return 0;
}

/* Every single-bit error in a checkpoint's manifest.json and in its shard's header (the
 * 8-byte length and the JSON; the tensors have their own CRCs) is either refused, the
 * loading engine's state untouched, or loads exactly the saved state: never a load of
 * a wrong step, loss scale or swapped tensor. A tiny fp16 engine, trained through an
 * overflow so the loss scaler's fields are not their defaults, saves checkpoint A; a
 * few more steps give state B, saved too. For each bit: flip it in A's files, load
 * into the engine (holding B), check, flip it back. A plain program: thousands of
 * loads in one process. Usage: checkpoint_bitwalk [--quiet]. */
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine_internal.h"
#include "zo/zo.h"

static const zo_param_desc model[] = {{"w", 40}, {"b", 3}};
enum { PARAMS = 2, ELEMS = 43, MAX_SHARD = 256 };

#define CONFIG                                                                                     \
    "{\"fp16\": {\"enabled\": true, \"initial_scale_power\": 6, \"loss_scale_window\": 4, "        \
    "\"hysteresis\": 3}, \"gradient_clipping\": 1.0, "                                             \
    "\"zero_optimization\": {\"stage\": 2, \"reduce_bucket_size\": 64}, "                          \
    "\"zo\": {\"device\": \"host\", \"comm\": \"single\", \"threads\": 1, \"bind\": \"none\"}}"

static void fail(const char *what)
{
    fprintf(stderr, "checkpoint_bitwalk: %s: %s\n", what, zo_last_error());
    exit(1);
}

/* Everything a load replaces. */
typedef struct state {
    float master[ELEMS];
    unsigned char exp_avg[MAX_SHARD * 4], exp_avg_sq[MAX_SHARD * 4], device[MAX_SHARD * 2];
    uint64_t steps, micro_steps;
    zo_loss_scaler scaler;
} state;

static void snapshot(zo_engine *e, state *s)
{
    memset(s, 0, sizeof *s);
    if (zo_engine_synchronize(e) != ZO_OK)
        fail("synchronize");
    for (size_t p = 0, at = 0; p < PARAMS; at += model[p].elems, p++)
        if (zo_engine_get_master(e, p, s->master + at) != ZO_OK)
            fail("get_master");
    size_t moments = zo_shard_elems(&e->layout) * zo_dtype_size(e->settings.moments_dtype);
    if (moments > sizeof s->exp_avg)
        fail("the shard outgrew the snapshot");
    memcpy(s->exp_avg, e->exp_avg, moments);
    memcpy(s->exp_avg_sq, e->exp_avg_sq, moments);
    memcpy(s->device, zo_engine_weights(e, 0), e->layout.padded_elems * e->dtype_bytes);
    s->steps = e->steps, s->micro_steps = e->micro_steps;
    /* field by field: the struct's padding is not state */
    s->scaler.dynamic = e->scaler.dynamic, s->scaler.scale = e->scaler.scale;
    s->scaler.min_scale = e->scaler.min_scale, s->scaler.window = e->scaler.window;
    s->scaler.hysteresis = e->scaler.hysteresis;
    s->scaler.hysteresis_left = e->scaler.hysteresis_left;
    s->scaler.consecutive_hysteresis = e->scaler.consecutive_hysteresis;
    s->scaler.iteration = e->scaler.iteration;
    s->scaler.last_overflow_iteration = e->scaler.last_overflow_iteration;
}

/* Micro-steps of gradients pulling towards a target; micro-steps 1-3 overflow (the
 * scale halves once the hysteresis of 3 is used up). */
static void train(zo_engine *e, int micro_steps)
{
    for (int k = 0; k < micro_steps; k++) {
        uint64_t micro = e->micro_steps;
        float scale = zo_engine_loss_scale(e);
        for (size_t p = 0; p < PARAMS; p++) {
            if (zo_engine_wait_params(e, p, NULL) != ZO_OK)
                fail("wait_params");
            _Float16 *grads = zo_engine_grads(e, p);
            for (size_t i = 0; i < model[p].elems; i++)
                grads[i] = (_Float16)((0.01f * (float)((i + micro) % 7) - 0.03f) * scale);
            if (micro >= 1 && micro <= 3 && p == 1)
                grads[0] = (_Float16)INFINITY;
        }
        for (size_t p = PARAMS; p-- > 0;)
            if (zo_engine_grad_ready(e, p, NULL) != ZO_OK)
                fail("grad_ready");
        if (zo_engine_step(e, NULL) != ZO_OK)
            fail("step");
    }
}

static int same(const state *a, const state *b)
{
    return memcmp(a, b, sizeof *a) == 0; /* zeroed first, set field by field */
}

static size_t header_span(const char *shard)
{
    unsigned char length[8];
    FILE *f = fopen(shard, "rb");
    if (!f || fread(length, 1, 8, f) != 8)
        fail("cannot read the shard's header length");
    fclose(f);
    uint64_t bytes = 0;
    for (int k = 0; k < 8; k++)
        bytes |= (uint64_t)length[k] << (8 * k);
    return 8 + (size_t)bytes;
}

static size_t file_size(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail(path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    return (size_t)size;
}

static void flip(const char *path, size_t byte, int bit)
{
    int fd = open(path, O_RDWR);
    unsigned char value;
    if (fd < 0 || pread(fd, &value, 1, (off_t)byte) != 1)
        fail("cannot read a byte to flip");
    value ^= (unsigned char)(1u << bit);
    if (pwrite(fd, &value, 1, (off_t)byte) != 1)
        fail("cannot write a flipped byte");
    close(fd);
}

typedef struct tally {
    size_t bits, refused, accepted_equal;
} tally;

/* Flips each bit of path's first `bytes` bytes in turn and loads. */
static void walk(zo_engine *e, const char *ckpt, const char *other, const char *path, size_t bytes,
                 const state *saved, const state *held, tally *t, bool quiet)
{
    static state now;
    for (size_t byte = 0; byte < bytes; byte++)
        for (int bit = 0; bit < 8; bit++) {
            flip(path, byte, bit);
            zo_status status = zo_engine_load(e, ckpt);
            snapshot(e, &now);
            t->bits++;
            if (status != ZO_OK) {
                if (!same(&now, held)) {
                    fprintf(stderr, "%s byte %zu bit %d: refused (%s) but the state changed\n",
                            path, byte, bit, zo_last_error());
                    exit(1);
                }
                t->refused++;
            } else {
                if (!same(&now, saved)) {
                    fprintf(stderr,
                            "%s byte %zu bit %d: loaded, but not the saved state (step %llu, "
                            "micro-steps %llu, loss scale %g; saved %llu, %llu, %g)\n",
                            path, byte, bit, (unsigned long long)now.steps,
                            (unsigned long long)now.micro_steps, now.scaler.scale,
                            (unsigned long long)saved->steps,
                            (unsigned long long)saved->micro_steps, saved->scaler.scale);
                    exit(1);
                }
                t->accepted_equal++;
                if (!quiet)
                    printf("  accepted, same state: %s byte %zu bit %d\n", path, byte, bit);
                if (zo_engine_load(e, other) != ZO_OK) /* back to the state it held */
                    fail("reload of the other checkpoint");
            }
            flip(path, byte, bit);
        }
}

int main(int argc, char **argv)
{
    bool quiet = argc > 1 && strcmp(argv[1], "--quiet") == 0;
    zo_config *config = NULL;
    zo_engine *e = NULL;
    if (zo_config_from_string(CONFIG, &config) != ZO_OK ||
        zo_engine_create(config, model, PARAMS, &e) != ZO_OK)
        fail("create");
    zo_config_destroy(&config);
    float init[ELEMS];
    for (size_t i = 0; i < ELEMS; i++)
        init[i] = 0.05f * (float)i - 1.0f;
    if (zo_engine_set_master(e, 0, init) != ZO_OK || zo_engine_set_master(e, 1, init + 40) != ZO_OK)
        fail("set_master");
    char dir[] = "/tmp/zo-bitwalk-XXXXXX", ckpt[64], other[64], manifest[96], shard[96];
    if (!mkdtemp(dir))
        fail("mkdtemp");
    snprintf(ckpt, sizeof ckpt, "%s/a", dir);
    snprintf(other, sizeof other, "%s/b", dir);
    snprintf(manifest, sizeof manifest, "%s/manifest.json", ckpt);
    snprintf(shard, sizeof shard, "%s/rank0-of-1.safetensors", ckpt);

    static state saved, held;
    train(e, 6);
    snapshot(e, &saved);
    if (zo_engine_save(e, ckpt) != ZO_OK)
        fail("save a");
    train(e, 3);
    snapshot(e, &held);
    if (zo_engine_save(e, other) != ZO_OK)
        fail("save b");
    if (same(&saved, &held) || saved.scaler.last_overflow_iteration < 0 ||
        saved.scaler.hysteresis_left == saved.scaler.hysteresis)
        fail("the two states should differ, and the scaler should have seen an overflow");

    struct timespec begin, end;
    clock_gettime(CLOCK_MONOTONIC, &begin);
    tally manifest_tally = {0}, header_tally = {0};
    walk(e, ckpt, other, manifest, file_size(manifest), &saved, &held, &manifest_tally, quiet);
    walk(e, ckpt, other, shard, header_span(shard), &saved, &held, &header_tally, quiet);
    clock_gettime(CLOCK_MONOTONIC, &end);

    /* and the untouched checkpoint still loads, exactly */
    static state loaded;
    if (zo_engine_load(e, ckpt) != ZO_OK)
        fail("load of the untouched checkpoint");
    snapshot(e, &loaded);
    if (!same(&loaded, &saved))
        fail("the untouched checkpoint loaded another state");
    printf("checkpoint_bitwalk: manifest.json: %zu bits, %zu refused, %zu loaded the same state\n",
           manifest_tally.bits, manifest_tally.refused, manifest_tally.accepted_equal);
    printf("checkpoint_bitwalk: shard header: %zu bits, %zu refused, %zu loaded the same state\n",
           header_tally.bits, header_tally.refused, header_tally.accepted_equal);
    printf("checkpoint_bitwalk: %zu loads in %.2f s\n", manifest_tally.bits + header_tally.bits,
           (double)(end.tv_sec - begin.tv_sec) + 1e-9 * (double)(end.tv_nsec - begin.tv_nsec));
    zo_engine_destroy(&e);
    char command[128];
    snprintf(command, sizeof command, "rm -rf '%s'", dir);
    return system(command) == 0 ? 0 : 1;
}

/* Checkpoints across real ranks: run under `mpirun -np 2` (or more). Every rank sets
 * the same master weights, the ranks save together (each its shard, rank 0 the
 * manifest), a fresh engine on every rank loads them back bit for bit, rank 0 exports
 * one file whose tensors are the whole parameters; then one rank's shard is corrupted
 * and the load fails on every rank (with the checksum on that rank, ZO_ERR_PEER on the
 * others) while no engine changes. A plain program: Criterion forks, MPI does not allow
 * it. It steps no engine: only state that set_master writes is saved. */
#include <math.h>
#include <stdbool.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint/safetensors.h"
#include "mpi_check_support.h"
#include "zo/zo.h"

const char check_name[] = "checkpoint_mpi_check";

static const zo_param_desc model[] = {{"embedding", 1000}, {"bias", 37}, {"head", 2500}};
enum { PARAMS = 3, LARGEST = 2500 };

static void check_status(zo_status got, zo_status expected, const char *what)
{
    if (got != expected)
        failf("%s: %s instead of %s: %s", what, zo_status_name(got), zo_status_name(expected),
              zo_last_error());
}

/* Stage 2 over the world, fp16; `delayed`: with the delayed update, whose device lags
 * the master weights by a step (the checkpoint keeps both); `moments`: their dtype
 * (8bit: each rank's shard holds its codes and block scales). */
static zo_engine *create_engine_with(bool delayed, const char *moments)
{
    char json[512];
    snprintf(json, sizeof json,
             "{\"fp16\": {\"enabled\": true}, \"zero_optimization\": {\"stage\": 2, "
             "\"reduce_bucket_size\": 512}, \"zo\": {\"device\": \"host\", \"comm\": \"mpi\", "
             "\"delayed_param_update\": %s, \"moments_dtype\": \"%s\"}}",
             delayed ? "true" : "false", moments);
    zo_config *config = NULL;
    check_status(zo_config_from_string(json, &config), ZO_OK, "config");
    zo_engine *engine = NULL;
    check_status(zo_engine_create(config, model, PARAMS, &engine), ZO_OK, "zo_engine_create");
    zo_config_destroy(&config);
    return engine;
}

static zo_engine *create_engine(void) { return create_engine_with(false, "f32"); }

static float value_of(size_t param, size_t i, float seed)
{
    return sinf(seed * (float)(i + 1) + (float)param);
}

static void set_all(zo_engine *e, float seed)
{
    static float values[LARGEST];
    for (size_t p = 0; p < PARAMS; p++) {
        for (size_t i = 0; i < model[p].elems; i++)
            values[i] = value_of(p, i, seed);
        check_status(zo_engine_set_master(e, p, values), ZO_OK, "zo_engine_set_master");
    }
}

static void expect_all(zo_engine *e, float seed, const char *what)
{
    static float values[LARGEST];
    for (size_t p = 0; p < PARAMS; p++) {
        check_status(zo_engine_get_master(e, p, values), ZO_OK, "zo_engine_get_master");
        for (size_t i = 0; i < model[p].elems; i++)
            if (values[i] != value_of(p, i, seed))
                failf("%s: %s[%zu] is %.9g, not %.9g", what, model[p].name, i, values[i],
                      value_of(p, i, seed));
    }
}

static void expect_export(const char *path)
{
    zo_st_file file;
    check_status(zo_st_open(path, &file), ZO_OK, "opening the export");
    static float values[LARGEST];
    for (size_t p = 0; p < PARAMS; p++) {
        const zo_st_entry *entry = zo_st_find(&file, model[p].name);
        if (!entry || entry->elems != model[p].elems)
            failf("the export lacks %s of %zu elements", model[p].name, model[p].elems);
        check_status(zo_st_read(&file, entry, values), ZO_OK, "reading the export");
        for (size_t i = 0; i < model[p].elems; i++)
            if (values[i] != value_of(p, i, 0.25f))
                failf("export: %s[%zu] is %.9g", model[p].name, i, values[i]);
    }
    zo_st_close(&file);
}

/* `count` optimizer steps from step `first`: fp16 gradients that differ per step, rank,
 * parameter and element, written last layer first. */
static void train_steps(zo_engine *e, size_t first, size_t count)
{
    static uint16_t grad[LARGEST];
    for (size_t step = first; step < first + count; step++) {
        for (size_t k = 0; k < PARAMS; k++) {
            size_t p = PARAMS - 1 - k;
            check_status(zo_engine_wait_params(e, p, NULL), ZO_OK, "zo_engine_wait_params");
            for (size_t i = 0; i < model[p].elems; i++)
                grad[i] = zo_f32_to_f16(0.01f * sinf((float)(step * 13 + (size_t)my_rank * 7 + p) + 0.37f * (float)i) *
                                        zo_engine_loss_scale(e));
            memcpy(zo_engine_grads(e, p), grad, model[p].elems * sizeof *grad);
            check_status(zo_engine_grad_ready(e, p, NULL), ZO_OK, "zo_engine_grad_ready");
        }
        check_status(zo_engine_step(e, NULL), ZO_OK, "zo_engine_step");
    }
}

/* Every parameter's master weights, one after another (a collective). */
static void all_masters(zo_engine *e, float *out)
{
    for (size_t p = 0; p < PARAMS; p++) {
        check_status(zo_engine_get_master(e, p, out), ZO_OK, "zo_engine_get_master");
        out += model[p].elems;
    }
}

/* Sharded resume: 3 steps, save, 3 more steps, against a fresh engine that loads the
 * save and takes the same 3 steps: the same bits on every rank. */
static void check_resume_after_steps(const char *dir, bool delayed, const char *moments)
{
    enum { ALL = 1000 + 37 + 2500 };
    static float straight[ALL], resumed[ALL];
    zo_engine *a = create_engine_with(delayed, moments);
    set_all(a, 0.125f);
    train_steps(a, 0, 3);
    check_status(zo_engine_save(a, dir), ZO_OK, "zo_engine_save after 3 steps");
    train_steps(a, 3, 3);
    all_masters(a, straight);
    zo_engine *b = create_engine_with(delayed, moments);
    check_status(zo_engine_load(b, dir), ZO_OK, "zo_engine_load");
    train_steps(b, 3, 3);
    all_masters(b, resumed);
    if (memcmp(straight, resumed, sizeof straight) != 0 || zo_engine_step_count(a) != zo_engine_step_count(b) ||
        zo_engine_loss_scale(a) != zo_engine_loss_scale(b))
        failf("%s%s moments: 3 steps, save, load, 3 steps differ from 6 steps (steps %llu vs %llu)",
              delayed ? "delayed update: " : "", moments, (unsigned long long)zo_engine_step_count(a), (unsigned long long)zo_engine_step_count(b));
    if (memcmp(straight, resumed, sizeof straight) == 0 && zo_engine_step_count(a) != 6)
        failf("expected 6 steps taken, got %llu", (unsigned long long)zo_engine_step_count(a));
    zo_engine_destroy(&b);
    zo_engine_destroy(&a);
}

static void corrupt(const char *path)
{
    FILE *f = fopen(path, "r+b");
    if (!f)
        failf("cannot open %s", path);
    fseek(f, -5, SEEK_END);
    int byte = fgetc(f);
    fseek(f, -5, SEEK_END);
    fputc(byte ^ 1, f);
    fclose(f);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: checkpoint_mpi_check DIR (under mpirun)\n");
        return 2;
    }
    char ckpt[1024], out[1100], shard[1100];
    snprintf(ckpt, sizeof ckpt, "%s/ckpt", argv[1]);
    snprintf(out, sizeof out, "%s/model.safetensors", argv[1]);
    zo_engine *saver = create_engine(); /* zo starts MPI; it stays up while an engine lives */
    int ranks = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &my_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);

    set_all(saver, 0.25f);
    check_status(zo_engine_save(saver, ckpt), ZO_OK, "zo_engine_save");
    zo_engine *loader = create_engine();
    check_status(zo_engine_load(loader, ckpt), ZO_OK, "zo_engine_load");
    expect_all(loader, 0.25f, "the loaded engine");
    if (my_rank == 0) {
        check_status(zo_checkpoint_export(ckpt, out), ZO_OK, "zo_checkpoint_export");
        expect_export(out);
    }

    char resume_dir[1100];
    snprintf(resume_dir, sizeof resume_dir, "%s/resume", argv[1]);
    check_resume_after_steps(resume_dir, false, "f32");
    check_resume_after_steps(resume_dir, true, "f32");
    check_resume_after_steps(resume_dir, false, "8bit");
    if (my_rank == 0) /* the master weights of 8-bit moments' shards export as ever */
        check_status(zo_checkpoint_export(resume_dir, out), ZO_OK, "zo_checkpoint_export (8-bit moments)");

    /* the last rank's shard goes bad: nobody loads, nobody changes */
    MPI_Barrier(MPI_COMM_WORLD);
    snprintf(shard, sizeof shard, "%s/rank%d-of-%d.safetensors", ckpt, ranks - 1, ranks);
    if (my_rank == ranks - 1)
        corrupt(shard);
    MPI_Barrier(MPI_COMM_WORLD);
    set_all(loader, 0.5f);
    zo_status status = zo_engine_load(loader, ckpt);
    check_status(status, my_rank == ranks - 1 ? ZO_ERR_IO : ZO_ERR_PEER,
                 "loading a corrupt shard");
    if (my_rank == ranks - 1 && !strstr(zo_last_error(), "checksum mismatch"))
        failf("the message does not name the checksum: %s", zo_last_error());
    expect_all(loader, 0.5f, "after the refused load");

    zo_engine_destroy(&loader);
    zo_engine_destroy(&saver);
    printf("checkpoint_mpi_check: rank %d of %d ok\n", my_rank, ranks);
    return 0;
}

/* The optimizer state on NVMe across real ranks: run under `mpirun -np 2` (or more)
 * with a directory argument. Each rank keeps its shard's state in a file of its own
 * directory (<DIR>/nvme-rank<r>); an "nvme" engine trains the same steps as a "cpu"
 * one (fp16, clipping, an overflow) and ends with the same master and device weights,
 * bit for bit; then it saves at step 6, a fresh "nvme" engine loads that and takes
 * steps 7-10 to the same bits as the one that went straight on. An optional second
 * argument is zo.moments_dtype (default f32; 8bit: the codes in the files, each rank's
 * block scales in its host memory). A plain program:
 * Criterion forks, MPI does not allow it. The engines are used one after another, each
 * synchronized before the other runs. */
#include <math.h>
#include <mpi.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mpi_check_support.h"
#include "test_values.h"
#include "zo/zo.h"

const char check_name[] = "engine_nvme_mpi_check";

static const zo_param_desc model[] = {{"embedding", 1000}, {"bias", 37}, {"head", 2500}};
enum { PARAMS = 3, MODEL_ELEMS = 1000 + 37 + 2500, OVERFLOW_STEP = 5 };

static size_t offset_of(size_t param) { return param == 0 ? 0 : param == 1 ? 1000 : 1037; }

static const char *moments_dtype = "f32";

/* `dir` NULL: device "cpu"; else "nvme" with its state under `dir`. */
static zo_engine *create_engine(const char *dir)
{
    char json[2048], offload[1200];
    if (dir)
        snprintf(offload, sizeof offload, "\"device\": \"nvme\", \"nvme_path\": \"%s\"", dir);
    else
        snprintf(offload, sizeof offload, "\"device\": \"cpu\"");
    snprintf(
        json, sizeof json,
        "{\"fp16\": {\"enabled\": true, \"initial_scale_power\": 12}, \"gradient_clipping\": 0.5,"
        " \"optimizer\": {\"type\": \"AdamW\", \"params\": {\"lr\": 0.01, \"weight_decay\": 0.01}},"
        " \"zero_optimization\": {\"stage\": 2, \"reduce_bucket_size\": 512, "
        "\"offload_optimizer\": {%s}},"
        " \"zo\": {\"device\": \"host\", \"comm\": \"mpi\", \"moments_dtype\": \"%s\"}}",
        offload, moments_dtype);
    zo_config *config = NULL;
    check_ok(zo_config_from_string(json, &config), "config");
    zo_engine *engine = NULL;
    check_ok(zo_engine_create(config, model, PARAMS, &engine), "zo_engine_create");
    zo_config_destroy(&config);
    return engine;
}

static void set_initial(zo_engine *e)
{
    static float values[MODEL_ELEMS];
    zo_test_rng rng = {77};
    for (size_t i = 0; i < MODEL_ELEMS; i++)
        values[i] = zo_test_uniform(&rng, -1.0f, 1.0f);
    for (size_t p = 0; p < PARAMS; p++)
        check_ok(zo_engine_set_master(e, p, values + offset_of(p)), "zo_engine_set_master");
}

/* Steps first..last; every rank writes the same gradients (rank-scaled, so the
 * reduction matters) and the update finishes before the call returns. */
static void train(zo_engine *e, int first, int last)
{
    for (int step = first; step <= last; step++) {
        zo_test_rng rng = {1000 + (uint64_t)step * 7 + (uint64_t)my_rank};
        float scale = zo_engine_loss_scale(e);
        for (size_t p = 0; p < PARAMS; p++)
            check_ok(zo_engine_wait_params(e, p, NULL), "zo_engine_wait_params");
        for (size_t p = PARAMS; p-- > 0;) {
            for (size_t i = 0; i < model[p].elems; i++) {
                float g = zo_test_uniform(&rng, -1.0f, 1.0f) * scale * 1e-3f;
                if (step == OVERFLOW_STEP && p == 2 && i == 99 && my_rank == 1)
                    g = INFINITY;
                zo_test_store(zo_engine_grads(e, p), ZO_DTYPE_F16, i, g);
            }
            check_ok(zo_engine_grad_ready(e, p, NULL), "zo_engine_grad_ready");
        }
        check_ok(zo_engine_step(e, NULL), "zo_engine_step");
        check_ok(zo_engine_synchronize(e), "zo_engine_synchronize");
    }
}

static void get_all(zo_engine *e, float *out)
{
    for (size_t p = 0; p < PARAMS; p++)
        check_ok(zo_engine_get_master(e, p, out + offset_of(p)), "zo_engine_get_master");
}

static void expect_same(zo_engine *a, zo_engine *b, const char *what)
{
    static float ma[MODEL_ELEMS], mb[MODEL_ELEMS];
    get_all(a, ma);
    get_all(b, mb);
    if (memcmp(ma, mb, sizeof ma) != 0)
        failf("%s: the master weights differ", what);
    if (memcmp(zo_engine_weights(a, 0), zo_engine_weights(b, 0), MODEL_ELEMS * 2) != 0)
        failf("%s: the device weights differ", what);
}

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 3) {
        fprintf(stderr, "usage: engine_nvme_mpi_check DIR [f32|bf16|8bit] (under mpirun)\n");
        return 2;
    }
    if (argc == 3)
        moments_dtype = argv[2];
    zo_engine *cpu = create_engine(NULL); /* zo starts MPI; it stays up while an engine lives */
    MPI_Comm_rank(MPI_COMM_WORLD, &my_rank);
    char dir[1024], ckpt[1100];
    snprintf(dir, sizeof dir, "%s/nvme-%s-rank%d", argv[1], moments_dtype, my_rank);
    snprintf(ckpt, sizeof ckpt, "%s/nvme-%s-ckpt", argv[1], moments_dtype);
    mkdir(dir, 0700); /* a directory per rank; may be left from an earlier run */

    set_initial(cpu);
    train(cpu, 1, 10);
    zo_engine *nvme = create_engine(dir);
    if (zo_engine_ranks(nvme) < 2)
        failf("run it under mpirun -np 2 or more");
    set_initial(nvme);
    train(nvme, 1, 10);
    expect_same(cpu, nvme, "nvme against cpu after 10 steps");

    zo_engine *straight = create_engine(dir);
    set_initial(straight);
    train(straight, 1, 6);
    check_ok(zo_engine_save(straight, ckpt), "zo_engine_save");
    zo_engine *resumed = create_engine(dir);
    check_ok(zo_engine_load(resumed, ckpt), "zo_engine_load");
    train(straight, 7, 10);
    train(resumed, 7, 10);
    expect_same(straight, resumed, "resumed from the checkpoint of step 6");
    expect_same(cpu, resumed, "resumed against cpu");

    zo_engine_destroy(&resumed);
    zo_engine_destroy(&straight);
    zo_engine_destroy(&nvme);
    zo_engine_destroy(&cpu);
    if (my_rank == 0)
        printf("%s: nvme trains as cpu and resumes bit for bit on every rank (%s moments)\n", check_name,
               moments_dtype);
    return 0;
}

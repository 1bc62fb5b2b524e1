/* zo_engine_create's agreement across real ranks, under `mpirun -np N`: when the last
 * rank registers other parameter names, or uses another learning rate, clipping,
 * loss-scale setting or layout, every rank is refused with ZO_ERR_CONFIG naming the
 * group that differs (a checkpoint of such ranks could be loaded by none of them); the
 * same model and config are accepted. A plain program: Criterion forks, MPI does not
 * allow it. */
#include <mpi.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "mpi_check_support.h"
#include "zo/zo.h"

const char check_name[] = "engine_agree_mpi_check";
static int world = 0;

#define CONFIG(lr, clip, hysteresis, bucket)                                                       \
    "{\"fp16\": {\"enabled\": true, \"hysteresis\": " hysteresis "}, "                             \
    "\"optimizer\": {\"type\": \"AdamW\", \"params\": {\"lr\": " lr "}}, "                         \
    "\"gradient_clipping\": " clip ", "                                                            \
    "\"zero_optimization\": {\"stage\": 2, \"reduce_bucket_size\": " bucket "}, "                  \
    "\"zo\": {\"device\": \"host\", \"comm\": \"mpi\", \"threads\": 1, \"bind\": \"none\"}}"
#define SAME CONFIG("0.001", "1.0", "2", "512")

typedef struct agree_case {
    const char *name;
    const char *last_rank_config; /* the other ranks use SAME */
    const char *last_rank_head;   /* the name of the last rank's third parameter */
    const char *message;          /* NULL: every rank gets an engine */
} agree_case;

static const agree_case cases[] = {
    {"the same model and config", SAME, "head", NULL},
    {"another parameter name", SAME, "head2", "differ in their parameter names"},
    {"another learning rate", CONFIG("0.002", "1.0", "2", "512"), "head",
     "differ in their optimizer, scheduler, clipping and loss-scale settings"},
    {"another clipping", CONFIG("0.001", "0.5", "2", "512"), "head",
     "differ in their optimizer, scheduler, clipping and loss-scale settings"},
    {"another hysteresis", CONFIG("0.001", "1.0", "3", "512"), "head",
     "differ in their optimizer, scheduler, clipping and loss-scale settings"},
    {"another bucket size", CONFIG("0.001", "1.0", "2", "1024"), "head",
     "differ in their parameter sizes and layout"},
};

static void check_case(const agree_case *c)
{
    bool last = my_rank == world - 1;
    zo_param_desc model[] = {
        {"embed", 3000}, {"bias", 17}, {last ? c->last_rank_head : "head", 901}};
    zo_config *config = NULL;
    check_ok(zo_config_from_string(last ? c->last_rank_config : SAME, &config), "config");
    zo_engine *engine = NULL;
    zo_status status = zo_engine_create(config, model, 3, &engine);
    zo_config_destroy(&config);
    if (!c->message) {
        check_ok(status, c->name);
        zo_engine_destroy(&engine);
        return;
    }
    if (status != ZO_ERR_CONFIG || engine)
        failf("%s: expected ZO_ERR_CONFIG and no engine, got %s: %s", c->name,
              zo_status_name(status), zo_last_error());
    if (!strstr(zo_last_error(), c->message))
        failf("%s: the message \"%s\" lacks \"%s\"", c->name, zo_last_error(), c->message);
}

int main(int argc, char **argv)
{
    int provided = 0; /* zo's worker makes MPI calls: it needs at least SERIALIZED */
    MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &my_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_case(&cases[i]);
    MPI_Barrier(MPI_COMM_WORLD);
    if (my_rank == 0)
        printf("%s: %zu cases on %d ranks: each difference refused on every rank, naming its "
               "group\n",
               check_name, sizeof cases / sizeof cases[0], world);
    MPI_Finalize();
    return 0;
}

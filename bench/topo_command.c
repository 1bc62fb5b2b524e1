/* The topo subcommand: loads the topology (this machine, or a synthetic one), then
 * prints it, the launcher's local rank, the GPUs' locality and, for every local rank,
 * the placement the engine would choose with the given zo.threads and zo.bind. */
#include "topo_command.h"

#include <stddef.h>
#include <stdio.h>

#include "bench_fail.h"
#include "bind_option.h"
#include "options.h"
#include "zo/cuda.h"
#include "zo/topology.h"

typedef struct bench_topo_options {
    const char *synthetic; /* NULL: this machine */
    int ranks;             /* 0: the launcher's local size */
    int threads;
    bench_bind bind;
} bench_topo_options;

static int bench_parse_topo_bind(const char *option, const char *value, void *bind)
{
    return bench_parse_bind(option, value, bind);
}

#define FIELD(name) offsetof(bench_topo_options, name)

static const bench_option bench_topo_options_table[] = {
    {"--ranks", BENCH_OPTION_INT, FIELD(ranks), 1, 4096, "must be in 1..4096", .value_name = "R",
     .help = "local ranks to place (default: the launcher's local size, else 1)"},
    {"--threads", BENCH_OPTION_INT, FIELD(threads), 0, 4096, "must be in 0..4096 (0: one per core)",
     .value_name = "N",
     .help = "zo.threads: update threads per rank, 0 = one per core (default 0)"},
    {"--bind", BENCH_OPTION_CALL, FIELD(bind), .parse = bench_parse_topo_bind, .value_name = "B",
     .help = "zo.bind: auto, none or a CPU list such as 0-3,8 (default auto)"},
    {"--synthetic", BENCH_OPTION_STRING, FIELD(synthetic), .value_name = "D",
     .help = "an hwloc synthetic machine instead of this one, e.g.\n"
             "\"pack:2 numa:1 core:8 pu:2\""},
    {0},
};

const bench_command bench_topo_cli = {
    .name = "topo",
    .usage =
        "  zo-bench topo [OPTIONS]               the machine's topology and where each rank's\n"
        "                                        host update would run\n",
    .heading = "topo options (the engine's placement decisions; nothing is bound):",
    .options = bench_topo_options_table,
};

/* The CPUs near each GPU, as the engine would see them; NULL when not all known. */
static const char *const *bench_print_gpus(const zo_topology *topology, int ranks,
                                           char lists[][ZO_TOPOLOGY_LIST_BYTES],
                                           const char **pointers)
{
    int gpus = 0;
    if (zo_cuda_device_count(&gpus) != ZO_OK) {
        printf("GPUs:         none usable (%s)\n", zo_last_error());
        return NULL;
    }
    const char *const *near = zo_topology_gpu_localities(topology, ranks, lists, pointers);
    for (int k = 0; k < gpus && k < ranks; k++)
        printf("GPU %d:        near CPUs %s\n", k, near ? near[k] : "unknown");
    if (!near)
        printf("GPUs:         %d; placement does without them (fewer GPUs than ranks, or a "
               "locality unknown)\n",
               gpus);
    return near;
}

int bench_topo_command(int argc, char **argv, int first)
{
    bench_topo_options options = {.bind = {.mode = ZO_BIND_AUTO}};
    if (bench_parse_options(&bench_topo_cli, argc, argv, first, &options) < 0)
        return BENCH_EXIT_USAGE;
    zo_topology *topology = NULL;
    zo_status status = options.synthetic ? zo_topology_load_synthetic(options.synthetic, &topology)
                                         : zo_topology_load(&topology);
    if (status != ZO_OK) {
        bench_fail("cannot load the topology: %s", zo_last_error());
        return status == ZO_ERR_INVALID_ARGUMENT ? BENCH_EXIT_USAGE : BENCH_EXIT_FAILED;
    }
    char summary[1024];
    zo_topology_describe(topology, summary, sizeof summary);
    printf("zo-bench topo: %s\n", options.synthetic ? options.synthetic : "this machine");
    printf("machine:      %s\n", summary);
    int local_rank, local_ranks;
    const char *source;
    zo_topology_local_rank(&local_rank, &local_ranks, &source);
    printf("this process: local rank %d of %d (from %s)\n", local_rank, local_ranks, source);
    int ranks = options.ranks ? options.ranks : local_ranks;

    char lists[ZO_TOPOLOGY_MAX_GPU_RANKS][ZO_TOPOLOGY_LIST_BYTES];
    const char *pointers[ZO_TOPOLOGY_MAX_GPU_RANKS];
    const char *const *near =
        options.synthetic ? NULL : bench_print_gpus(topology, ranks, lists, pointers);
    printf("placement:    zo.threads %d, zo.bind \"%s\", %d local rank%s\n", options.threads,
           bench_bind_name(&options.bind), ranks, ranks == 1 ? "" : "s");
    int exit_status = BENCH_EXIT_OK;
    for (int rank = 0; rank < ranks; rank++) {
        zo_placement_request request = {.local_rank = rank,
                                        .local_ranks = ranks,
                                        .gpu_cpus = near,
                                        .threads = options.threads,
                                        .bind = options.bind.mode,
                                        .bind_cpus = options.bind.cpus};
        zo_placement placement;
        if (zo_topology_place(topology, &request, &placement) != ZO_OK) {
            bench_fail("rank %d: %s", rank, zo_last_error());
            exit_status = BENCH_EXIT_USAGE;
            break;
        }
        printf("  rank %d:     %s\n", rank, placement.decision);
    }
    zo_topology_destroy(&topology);
    return exit_status;
}

/* Ranks on one host split the machine without overlap: run under `mpirun -np 2`,
 * each rank creates an engine with zo.bind "auto" (its local rank from Open MPI's
 * environment), places its Adam team's workers and the update thread, and every rank
 * checks that no CPU is placed by two ranks, and that its update thread really runs
 * on its own placement's first CPU. A plain program: Criterion forks, MPI does not
 * allow it. */
#define _GNU_SOURCE
#include <dirent.h>
#include <mpi.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topology/topology.h"
#include "zo/zo.h"

enum { MAX_CPUS = 1024 };

static int my_rank = -1;

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "topology_mpi_check: rank %d: %s: %s\n", my_rank, what, detail);
    MPI_Abort(MPI_COMM_WORLD, 1);
    exit(1);
}

/* The CPUs the engine's update thread ("zo:host update") may run on, as a mask. */
static void update_thread_mask(unsigned char *mask)
{
    memset(mask, 0, MAX_CPUS);
    DIR *tasks = opendir("/proc/self/task");
    if (!tasks)
        fail("opendir", "/proc/self/task");
    for (struct dirent *entry; (entry = readdir(tasks));) {
        char path[300], name[32] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", entry->d_name);
        FILE *file = fopen(path, "r");
        if (!file)
            continue;
        cpu_set_t set;
        if (fgets(name, sizeof name, file) && strncmp(name, "zo:host update", 14) == 0 &&
            sched_getaffinity(atoi(entry->d_name), sizeof set, &set) == 0)
            for (int cpu = 0; cpu < MAX_CPUS && cpu < CPU_SETSIZE; cpu++)
                mask[cpu] = CPU_ISSET(cpu, &set) != 0;
        fclose(file);
    }
    closedir(tasks);
}

int main(int argc, char **argv)
{
    int size = 0;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &my_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    /* the engine's own decision, as every rank computes it from the same machine */
    zo_config *config = NULL;
    zo_engine *engine = NULL;
    const zo_param_desc params[] = {{"weight", 1 << 16}};
    if (zo_config_from_string("{\"zo\": {\"device\": \"host\", \"bind\": \"auto\"}}", &config) ||
        zo_engine_create(config, params, 1, &engine))
        fail("engine", zo_last_error());
    zo_config_destroy(&config);

    /* the same placement through the topology, for the CPU list of the Adam team */
    zo_topology *topology = NULL;
    zo_placement_request request = {.bind = ZO_BIND_AUTO};
    const char *source;
    zo_topology_local_rank(&request.local_rank, &request.local_ranks, &source);
    if (request.local_ranks != size)
        fail("local rank", "the launcher's local size is not the world size (one host expected)");
    zo_placement placement;
    if (zo_topology_load(&topology) || zo_topology_place(topology, &request, &placement))
        fail("placement", zo_last_error());
    if (strcmp(placement.decision, zo_engine_placement(engine)) != 0)
        fail("the engine placed differently", zo_engine_placement(engine));

    unsigned char mine[MAX_CPUS] = {0}, thread[MAX_CPUS];
    for (int i = 0; i < placement.cpu_count; i++)
        mine[placement.cpus[i]] = 1;
    update_thread_mask(thread);
    for (int cpu = 0; cpu < MAX_CPUS; cpu++)
        if (thread[cpu] != (cpu == placement.cpus[0]))
            fail("update thread", "not pinned to the placement's first CPU");

    unsigned char *all = calloc((size_t)size * MAX_CPUS, 1);
    MPI_Allgather(mine, MAX_CPUS, MPI_UNSIGNED_CHAR, all, MAX_CPUS, MPI_UNSIGNED_CHAR,
                  MPI_COMM_WORLD);
    for (int cpu = 0; cpu < MAX_CPUS; cpu++) {
        int owners = 0;
        for (int r = 0; r < size; r++)
            owners += all[(size_t)r * MAX_CPUS + (size_t)cpu];
        if (owners > 1) {
            char detail[64];
            snprintf(detail, sizeof detail, "CPU %d is placed by %d ranks", cpu, owners);
            fail("overlap", detail);
        }
    }
    printf("topology_mpi_check: rank %d of %d ok (%s): %s\n", my_rank, size, source,
           zo_engine_placement(engine));
    free(all);
    zo_topology_destroy(&topology);
    zo_engine_destroy(&engine);
    MPI_Finalize();
    return 0;
}

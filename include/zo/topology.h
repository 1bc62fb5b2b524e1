/* zo/topology.h: the machine as zo sees it through hwloc (packages, NUMA nodes, cores,
 * the CPUs near each GPU) and where one rank's host update would run. This is what
 * the engine decides with zo.threads and zo.bind, and what `zo-bench topo` prints;
 * a launcher script can ask the same questions before it starts a job.
 *
 * Life cycle, as hwloc's: load a topology (this machine, or a synthetic one for tests
 * and what-ifs) into an opaque handle, query it, destroy it. Nothing here binds
 * anything except zo_topology_bind_thread. Failures set zo_last_error(). */
#ifndef ZO_TOPOLOGY_H
#define ZO_TOPOLOGY_H

#include <stdbool.h>
#include <stddef.h>

#include "zo/api.h"
#include "zo/config.h"
#include "zo/status.h"

/* A loaded topology (an hwloc_topology_t and what it was loaded from). */
typedef struct zo_topology zo_topology;

/* Loads this machine's topology into *out (free with zo_topology_destroy). Only the
 * cores and memory this process may use (its cgroup) are seen; the launcher's
 * binding of the process (mpirun's --bind-to) is not a limit, since zo does the
 * binding. Errors: ZO_ERR_DEVICE (hwloc failed), ZO_ERR_OUT_OF_MEMORY. */
ZO_API zo_status zo_topology_load(zo_topology **out);

/* Loads a made-up machine from an hwloc synthetic description such as
 * "pack:2 numa:1 core:8 pu:2" (for tests and `zo-bench topo --synthetic`); nothing can
 * be bound on it. Errors: ZO_ERR_INVALID_ARGUMENT (hwloc refuses the description). */
ZO_API zo_status zo_topology_load_synthetic(const char *description, zo_topology **out);

/* Frees *topology (owned by the caller since the load) and sets it to NULL; NULL or a
 * pointer to NULL is fine. */
ZO_API void zo_topology_destroy(zo_topology **topology);

/* Writes one line into out[room] (always terminated, truncated to fit; nothing when
 * out is NULL or room 0; "" for a NULL topology):
 * "1 package, 1 NUMA node (23.4 GiB), 2 cores, 2 PUs" and per NUMA node its CPUs. */
ZO_API void zo_topology_describe(const zo_topology *topology, char *out, size_t room);

/* Writes the CPUs near CUDA device `device` as a CPU list into list[room], from
 * hwloc's CUDA runtime helper. Errors: ZO_ERR_NOT_SUPPORTED (a build without CUDA), ZO_ERR_DEVICE
 * (no such device, or its locality is unknown). */
ZO_API zo_status zo_topology_gpu_cpus(const zo_topology *topology, int device, char *list,
                                      size_t room);

/* Local ranks whose GPU locality zo_topology_gpu_localities looks up; beyond that,
 * placement does without GPUs. */
enum { ZO_TOPOLOGY_MAX_GPU_RANKS = 16, ZO_TOPOLOGY_LIST_BYTES = 256 };

/* For local ranks 0..ranks-1, where rank k uses CUDA device k, the CPUs near each
 * GPU into lists[k], and pointers[k] to them (both caller-owned arrays of at least
 * `ranks` entries); returns pointers, ready for zo_placement_request.gpu_cpus, or
 * NULL when any is unknown (no CUDA, fewer GPUs than ranks, more than
 * ZO_TOPOLOGY_MAX_GPU_RANKS). */
ZO_API const char *const *zo_topology_gpu_localities(const zo_topology *topology, int ranks,
                                                     char lists[][ZO_TOPOLOGY_LIST_BYTES],
                                                     const char **pointers);

/* What to place: the same inputs the engine takes from the launcher and its config. */
typedef struct zo_placement_request {
    int local_rank;  /* this process among the ranks of this host, 0-based        */
    int local_ranks; /* ranks on this host, >= 1                                  */
    /* NULL, or for each local rank the CPU list near its GPU (NULL or "" where
     * unknown). Used only when known for every rank: ranks then go to the NUMA nodes
     * of their GPUs, ranks that share a node share out its cores. */
    const char *const *gpu_cpus;
    int threads;           /* zo.threads: 0 = one per core of the placement      */
    zo_bind_mode bind;     /* zo.bind                                            */
    const char *bind_cpus; /* the CPU list of ZO_BIND_CPUS                       */
} zo_placement_request;

enum { ZO_PLACEMENT_MAX_CPUS = 1024, ZO_PLACEMENT_MAX_NODES = 64 };

/* Where one rank's host update runs: filled by zo_topology_place, owned by the caller. */
typedef struct zo_placement {
    bool bound;                      /* false for zo.bind "none": nothing pinned or bound */
    int threads;                     /* threads of the update (0 with bind "none": OpenMP's) */
    int cpus[ZO_PLACEMENT_MAX_CPUS]; /* OS numbers, one PU per chosen core; thread i
                                        runs on cpus[i % cpu_count] */
    int cpu_count;
    int nodes[ZO_PLACEMENT_MAX_NODES]; /* OS numbers of the NUMA nodes of the chosen
                                          cores, which hold the memory */
    int node_count;
    bool shares_cores;  /* more ranks than cores, or more threads than cores */
    bool bind_memory;   /* memory is bound: the machine has several NUMA nodes */
    char cpu_list[256]; /* cpus as a CPU list, "0-7" */
    char node_list[64]; /* nodes as a list, "1" */
    char decision[512]; /* in words: what was chosen and why */
} zo_placement;

/* Chooses where rank request->local_rank runs. Pure: reads the topology, binds
 * nothing. With bind "auto", local ranks split the machine without overlap: with at
 * least as many NUMA nodes as ranks, each rank gets a contiguous block of whole
 * nodes; with fewer, the ranks of a node split its cores into contiguous blocks; a
 * rank never gets less than one core (with more ranks than cores some share one,
 * as evenly as possible, and the decision says so). Errors: ZO_ERR_INVALID_ARGUMENT
 * (a bad request; a CPU list naming CPUs the machine does not have, by their
 * numbers). */
ZO_API zo_status zo_topology_place(const zo_topology *topology, const zo_placement_request *request,
                                   zo_placement *out);

/* Binds the calling thread to placement->cpus[index % cpu_count] (nothing when not
 * bound): what each update thread of the engine does with its index. Errors: ZO_ERR_DEVICE with the
 * system's reason. */
ZO_API zo_status zo_topology_bind_thread(const zo_topology *topology, const zo_placement *placement,
                                         int index);

/* This process's rank among the ranks of its host and their count, from the
 * launcher's environment: Open MPI (OMPI_COMM_WORLD_LOCAL_RANK/_SIZE), MPICH and
 * Intel MPI (MPI_LOCALRANKID/MPI_LOCALNRANKS), Slurm (SLURM_LOCALID/
 * SLURM_NTASKS_PER_NODE), torchrun (LOCAL_RANK/LOCAL_WORLD_SIZE); 0 of 1 otherwise.
 * *source names the variables used ("none" for the fallback; a static string).
 * Any of the three may be NULL: that answer is not written. */
ZO_API void zo_topology_local_rank(int *local_rank, int *local_ranks, const char **source);

/* CPU lists as Linux writes them (taskset -c, numactl -C, /sys/.../cpulist):
 * "0-3,8,10-11", the form zo.bind takes. Parsed strictly, since hwloc's own parser
 * reads "-1" or "5-2" as an empty set without complaint. */

/* The largest CPU number a list may name; far beyond any machine, small enough that
 * a typo ("0-99999999") is caught rather than allocated. */
enum { ZO_CPU_LIST_MAX_CPU = 65535 };

/* Called once per range, first <= last, in the order written. */
typedef void (*zo_cpu_range_fn)(void *user, unsigned first, unsigned last);

/* Checks `text` (comma-separated numbers or ranges "a-b" with a <= b, no spaces, not
 * empty) and calls add for each range (add may be NULL: check only). Returns true, or
 * false with what is wrong in problem[room] (nothing added then; problem may be NULL
 * when room is 0). A NULL text is refused. */
ZO_API bool zo_cpu_list_parse(const char *text, zo_cpu_range_fn add, void *user, char *problem,
                              size_t room);

#endif

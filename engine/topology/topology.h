/* The machine as hwloc sees it (packages, NUMA nodes, cores, a GPU's locality), and
 * where one rank's host update runs: which cores, how many threads, which NUMA nodes
 * hold its memory. Internal; the engine reports the decision through
 * zo_engine_placement() and zo-bench prints it (`zo-bench topo`).
 *
 * Memory goes to the chosen nodes by hwloc_set_area_membind on each buffer, not by
 * first touch: the policy belongs to the address range, so it holds whoever writes a
 * page first (the engine's zero fill on the creating thread, the user's
 * zo_engine_set_master, the update's threads), and pages already touched are moved
 * (HWLOC_MEMBIND_MIGRATE). First touch would put the state wherever the thread that
 * happened to write it first was running. Page-locked staging is allocated under the
 * thread's policy instead (zo_topology_allocate_near), since pinned pages may not
 * move once the device has them. */
#ifndef ZO_TOPOLOGY_H
#define ZO_TOPOLOGY_H

#include <stdbool.h>
#include <stddef.h>

#include "zo/config.h"
#include "zo/status.h"

/* A loaded topology (an hwloc_topology_t and what it was loaded from). */
typedef struct zo_topology zo_topology;

/* Loads this machine's topology into *out (free with zo_topology_destroy). Only the
 * cores and memory this process may use (its cgroup) are seen; the launcher's
 * binding of the process (mpirun's --bind-to) is not a limit, since zo does the
 * binding. Errors: ZO_ERR_DEVICE (hwloc failed), ZO_ERR_OUT_OF_MEMORY. */
zo_status zo_topology_load(zo_topology **out);

/* Loads a made-up machine from an hwloc synthetic description such as
 * "pack:2 numa:1 core:8 pu:2" (for tests and `zo-bench topo --synthetic`); nothing can
 * be bound on it. Errors: ZO_ERR_INVALID_ARGUMENT (hwloc refuses the description). */
zo_status zo_topology_load_synthetic(const char *description, zo_topology **out);

/* Frees *topology and sets it to NULL; NULL is fine. */
void zo_topology_destroy(zo_topology **topology);

/* One line: "1 package, 1 NUMA node (23.4 GiB), 2 cores, 2 PUs" and per NUMA node its
 * CPUs; truncated to room. */
void zo_topology_describe(const zo_topology *topology, char *out, size_t room);

/* The CPUs near CUDA device `device` as a CPU list, from hwloc's CUDA runtime helper.
 * Errors: ZO_ERR_NOT_SUPPORTED (a build without CUDA), ZO_ERR_DEVICE (no such
 * device, or its locality is unknown). */
zo_status zo_topology_gpu_cpus(const zo_topology *topology, int device, char *list, size_t room);

/* Local ranks whose GPU locality zo_topology_gpu_localities looks up; beyond that,
 * placement does without GPUs. */
enum { ZO_TOPOLOGY_MAX_GPU_RANKS = 16, ZO_TOPOLOGY_LIST_BYTES = 256 };

/* For local ranks 0..ranks-1, where rank k uses CUDA device k, the CPUs near each
 * GPU into lists[k], and pointers[k] to them; returns pointers, or NULL when any is
 * unknown (no CUDA, fewer GPUs than ranks, more than ZO_TOPOLOGY_MAX_GPU_RANKS). */
const char *const *zo_topology_gpu_localities(const zo_topology *topology, int ranks,
                                              char lists[][ZO_TOPOLOGY_LIST_BYTES],
                                              const char **pointers);

/* What to place. */
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

/* Where one rank's host update runs. */
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
zo_status zo_topology_place(const zo_topology *topology, const zo_placement_request *request,
                            zo_placement *out);

/* Binds the calling thread to placement->cpus[index % cpu_count] (nothing when not
 * bound). Errors: ZO_ERR_DEVICE with the system's reason. */
zo_status zo_topology_bind_thread(const zo_topology *topology, const zo_placement *placement,
                                  int index);

/* Puts [ptr, ptr + bytes) on the placement's NUMA nodes: bound to one node, or
 * interleaved over several; pages already touched move. Best effort: returns false
 * (and changes nothing) when not bound, on one NUMA node, or when the system refuses
 * (the memory then stays where it is, which is correct, only slower). */
bool zo_topology_bind_memory(const zo_topology *topology, const zo_placement *placement, void *ptr,
                             size_t bytes);

/* Runs allocate(arg) with the calling thread's memory policy set to the placement's
 * NUMA nodes, then puts the thread's policy back: for memory whose pages are touched
 * as it is allocated and may not move afterwards (cudaHostAlloc pins its pages). When
 * memory is not bound (one NUMA node, bind "none", a synthetic machine) or the system
 * refuses the policy, it just runs allocate. Returns allocate's status. */
zo_status zo_topology_allocate_near(const zo_topology *topology, const zo_placement *placement,
                                    zo_status (*allocate)(void *arg), void *arg);

/* This process's rank among the ranks of its host and their count, from the
 * launcher's environment: Open MPI (OMPI_COMM_WORLD_LOCAL_RANK/_SIZE), MPICH and
 * Intel MPI (MPI_LOCALRANKID/MPI_LOCALNRANKS), Slurm (SLURM_LOCALID/
 * SLURM_NTASKS_PER_NODE), torchrun (LOCAL_RANK/LOCAL_WORLD_SIZE); 0 of 1 otherwise.
 * *source names the variables used ("none" for the fallback). */
void zo_topology_local_rank(int *local_rank, int *local_ranks, const char **source);

#endif

/* The machine's topology through hwloc: loading it (real or synthetic), describing
 * it, binding threads and memory to a placement, and the launcher's local rank. The
 * placement decision itself is placement.c. */
#include "topology.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "internal.h"

static zo_status zo_topology_finish_load(zo_topology *t, zo_topology **out)
{
    if (hwloc_topology_load(t->hwloc) != 0) {
        zo_topology_destroy(&t);
        return zo_fail(ZO_ERR_DEVICE, "hwloc_topology_load failed: hwloc cannot read this machine");
    }
    *out = t;
    return ZO_OK;
}

static zo_status zo_topology_start(zo_topology **t, zo_topology **out, const char *call)
{
    if (!out)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "%s: out is NULL", call);
    *out = NULL;
    *t = calloc(1, sizeof **t);
    if (!*t)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "%s: out of memory", call);
    if (hwloc_topology_init(&(*t)->hwloc) != 0) {
        free(*t);
        return zo_fail(ZO_ERR_DEVICE, "%s: hwloc_topology_init failed", call);
    }
    return ZO_OK;
}

zo_status zo_topology_load(zo_topology **out)
{
    zo_topology *t = NULL;
    zo_status status = zo_topology_start(&t, out, "zo_topology_load");
    return status ? status : zo_topology_finish_load(t, out);
}

zo_status zo_topology_load_synthetic(const char *description, zo_topology **out)
{
    if (!description)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_topology_load_synthetic: description is NULL");
    zo_topology *t = NULL;
    zo_status status = zo_topology_start(&t, out, "zo_topology_load_synthetic");
    if (status != ZO_OK)
        return status;
    t->synthetic = true;
    if (hwloc_topology_set_synthetic(t->hwloc, description) != 0) {
        zo_topology_destroy(&t);
        return zo_fail(ZO_ERR_INVALID_ARGUMENT,
                       "zo_topology_load_synthetic: hwloc refuses the description \"%.80s\" "
                       "(example: \"pack:2 numa:1 core:8 pu:2\")",
                       description);
    }
    return zo_topology_finish_load(t, out);
}

void zo_topology_destroy(zo_topology **topology)
{
    if (!topology || !*topology)
        return;
    hwloc_topology_destroy((*topology)->hwloc);
    free(*topology);
    *topology = NULL;
}

/* snprintf that appends at *used and never runs past room. */
void zo_append(char *out, size_t room, size_t *used, const char *format, ...)
{
    if (*used >= room)
        return;
    va_list args;
    va_start(args, format);
    int written = vsnprintf(out + *used, room - *used, format, args);
    va_end(args);
    if (written > 0)
        *used += (size_t)written < room - *used ? (size_t)written : room - *used - 1;
}

static void zo_append_count(char *out, size_t room, size_t *used, int count, const char *what)
{
    zo_append(out, room, used, "%s%d %s%s", *used ? ", " : "", count, what, count == 1 ? "" : "s");
}

void zo_topology_describe(const zo_topology *t, char *out, size_t room)
{
    size_t used = 0;
    if (!out || room == 0) /* public: nowhere to write */
        return;
    out[0] = '\0';
    if (!t)
        return;
    hwloc_topology_t hw = t->hwloc;
    zo_append_count(out, room, &used, hwloc_get_nbobjs_by_type(hw, HWLOC_OBJ_PACKAGE), "package");
    zo_append_count(out, room, &used, hwloc_get_nbobjs_by_type(hw, HWLOC_OBJ_NUMANODE),
                    "NUMA node");
    zo_append_count(out, room, &used, hwloc_get_nbobjs_by_type(hw, HWLOC_OBJ_CORE), "core");
    zo_append_count(out, room, &used, hwloc_get_nbobjs_by_type(hw, HWLOC_OBJ_PU), "PU");
    hwloc_obj_t node = NULL;
    while ((node = hwloc_get_next_obj_by_type(hw, HWLOC_OBJ_NUMANODE, node))) {
        char cpus[128];
        hwloc_bitmap_list_snprintf(cpus, sizeof cpus, node->cpuset);
        zo_append(out, room, &used, "; NUMA node %u: CPUs %s, %.1f GiB", node->os_index, cpus,
                  (double)node->attr->numanode.local_memory / (1024.0 * 1024.0 * 1024.0));
    }
}

zo_status zo_topology_bind_thread(const zo_topology *t, const zo_placement *p, int index)
{
    if (!t || !p || index < 0)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_topology_bind_thread: %s",
                       !t   ? "topology is NULL"
                       : !p ? "placement is NULL"
                            : "index < 0");
    if (!p->bound || p->cpu_count == 0)
        return ZO_OK;
    if (t->synthetic)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT,
                       "zo_topology_bind_thread: a synthetic topology is not this machine");
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    if (!set)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "zo_topology_bind_thread: out of memory");
    int cpu = p->cpus[index % p->cpu_count];
    hwloc_bitmap_only(set, (unsigned)cpu);
    int result = hwloc_set_cpubind(t->hwloc, set, HWLOC_CPUBIND_THREAD);
    hwloc_bitmap_free(set);
    return result == 0 ? ZO_OK
                       : zo_fail(ZO_ERR_DEVICE, "cannot bind the update thread to CPU %d: %s", cpu,
                                 strerror(errno));
}

/* The placement's nodes as an hwloc nodeset (NULL when memory is not bound, on a
 * synthetic machine, or out of memory), and the policy that puts memory there: one
 * node, BIND; several (one rank over two sockets), INTERLEAVE, so every thread sees
 * the same mix of near and far pages instead of one overloaded node. Without
 * HWLOC_MEMBIND_STRICT, hwloc's BIND is Linux's MPOL_PREFERRED: a full node spills
 * to others instead of failing the allocation. */
static hwloc_nodeset_t zo_placement_nodes(const zo_topology *t, const zo_placement *p,
                                          hwloc_membind_policy_t *policy)
{
    if (!t || !p || !p->bind_memory || t->synthetic)
        return NULL;
    hwloc_nodeset_t nodes = hwloc_bitmap_alloc();
    for (int i = 0; nodes && i < p->node_count; i++)
        hwloc_bitmap_set(nodes, (unsigned)p->nodes[i]);
    *policy = p->node_count == 1 ? HWLOC_MEMBIND_BIND : HWLOC_MEMBIND_INTERLEAVE;
    return nodes;
}

bool zo_topology_bind_memory(const zo_topology *t, const zo_placement *p, void *ptr, size_t bytes)
{
    hwloc_membind_policy_t policy;
    hwloc_nodeset_t nodes = ptr && bytes ? zo_placement_nodes(t, p, &policy) : NULL;
    if (!nodes)
        return false;
    int result = hwloc_set_area_membind(t->hwloc, ptr, bytes, nodes, policy,
                                        HWLOC_MEMBIND_BYNODESET | HWLOC_MEMBIND_MIGRATE);
    hwloc_bitmap_free(nodes);
    return result == 0;
}

zo_status zo_topology_allocate_near(const zo_topology *t, const zo_placement *p,
                                    zo_status (*allocate)(void *arg), void *arg)
{
    hwloc_membind_policy_t policy, saved_policy;
    hwloc_nodeset_t nodes = zo_placement_nodes(t, p, &policy);
    hwloc_nodeset_t saved = nodes ? hwloc_bitmap_alloc() : NULL;
    const int flags = HWLOC_MEMBIND_THREAD | HWLOC_MEMBIND_BYNODESET;
    bool changed = saved && hwloc_get_membind(t->hwloc, saved, &saved_policy, flags) == 0 &&
                   hwloc_set_membind(t->hwloc, nodes, policy, flags) == 0;
    zo_status status = allocate(arg);
    if (changed)
        hwloc_set_membind(t->hwloc, saved, saved_policy, flags);
    hwloc_bitmap_free(saved);
    hwloc_bitmap_free(nodes);
    return status;
}

const char *const *zo_topology_gpu_localities(const zo_topology *t, int ranks,
                                              char lists[][ZO_TOPOLOGY_LIST_BYTES],
                                              const char **pointers)
{
    if (!t || ranks < 1 || ranks > ZO_TOPOLOGY_MAX_GPU_RANKS)
        return NULL;
    for (int k = 0; k < ranks; k++) {
        if (zo_topology_gpu_cpus(t, k, lists[k], ZO_TOPOLOGY_LIST_BYTES) != ZO_OK)
            return NULL;
        pointers[k] = lists[k];
    }
    return pointers;
}

/* An environment variable as a non-negative integer; false if unset or not one. */
static bool zo_env_int(const char *name, int *value)
{
    const char *text = getenv(name);
    if (!text || !*text)
        return false;
    char *end;
    long parsed = strtol(text, &end, 10);
    if (*end != '\0' || parsed < 0 || parsed > 1 << 20)
        return false;
    *value = (int)parsed;
    return true;
}

/* Public: each answer is written only where the caller asked for it (non-NULL). */
static void zo_set_local_rank(int *local_rank, int *local_ranks, const char **source, int rank,
                              int ranks, const char *name)
{
    if (local_rank)
        *local_rank = rank;
    if (local_ranks)
        *local_ranks = ranks;
    if (source)
        *source = name;
}

void zo_topology_local_rank(int *local_rank, int *local_ranks, const char **source)
{
    static const char *const names[][2] = {
        {"OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE"},
        {"MPI_LOCALRANKID", "MPI_LOCALNRANKS"},
        {"SLURM_LOCALID", "SLURM_NTASKS_PER_NODE"},
        {"LOCAL_RANK", "LOCAL_WORLD_SIZE"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        int rank, ranks;
        if (zo_env_int(names[i][0], &rank) && zo_env_int(names[i][1], &ranks) && rank < ranks) {
            zo_set_local_rank(local_rank, local_ranks, source, rank, ranks, names[i][0]);
            return;
        }
    }
    zo_set_local_rank(local_rank, local_ranks, source, 0, 1, "none");
}

/* The placement decision of topology.h: which cores, how many threads and which NUMA
 * nodes one rank's host update gets. Pure: it reads the topology and binds nothing,
 * so tests can run it on synthetic machines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_list.h"
#include "error.h"
#include "internal.h"

/* What a rank may take: the CPUs of its home NUMA nodes, shared with `sharers` ranks
 * of the same home, of which it is number `index`. */
typedef struct zo_share {
    hwloc_bitmap_t domain;
    int sharers, index;
    bool near_gpu;
} zo_share;

/* Cores, or PUs where hwloc sees no cores: what one thread gets. */
static hwloc_obj_type_t zo_core_type(hwloc_topology_t hw)
{
    return hwloc_get_nbobjs_by_type(hw, HWLOC_OBJ_CORE) > 0 ? HWLOC_OBJ_CORE : HWLOC_OBJ_PU;
}

/* The NUMA nodes that have CPUs (memory-only nodes hold no update), logical order. */
static int zo_cpu_nodes(hwloc_topology_t hw, hwloc_obj_t *nodes, int room)
{
    int count = 0;
    hwloc_obj_t node = NULL;
    while ((node = hwloc_get_next_obj_by_type(hw, HWLOC_OBJ_NUMANODE, node)) && count < room)
        if (!hwloc_bitmap_iszero(node->cpuset))
            nodes[count++] = node;
    return count;
}

static void zo_add_cpu_range(void *set, unsigned first, unsigned last)
{
    hwloc_bitmap_set_range(set, first, (int)last);
}

/* Rank k's home nodes as a bitmap of indexes into nodes[]: those near its GPU (false
 * if that is unknown or near no node), else its share of the nodes in order. */
static bool zo_home_of(const zo_placement_request *r, int k, hwloc_obj_t *nodes, int node_count,
                       hwloc_bitmap_t home)
{
    hwloc_bitmap_zero(home);
    if (r->gpu_cpus) {
        const char *list = r->gpu_cpus[k];
        char problem[128];
        hwloc_bitmap_t near = hwloc_bitmap_alloc();
        bool parsed = list && *list &&
                      zo_cpu_list_parse(list, zo_add_cpu_range, near, problem, sizeof problem);
        for (int j = 0; parsed && j < node_count; j++)
            if (hwloc_bitmap_intersects(nodes[j]->cpuset, near))
                hwloc_bitmap_set(home, (unsigned)j);
        hwloc_bitmap_free(near);
        return !hwloc_bitmap_iszero(home);
    }
    int ranks = r->local_ranks;
    if (ranks <= node_count) /* a contiguous block of whole nodes */
        hwloc_bitmap_set_range(home, (unsigned)(k * node_count / ranks),
                               (int)((k + 1) * node_count / ranks) - 1);
    else /* ranks of one node are neighbours */
        hwloc_bitmap_set(home, (unsigned)(k * node_count / ranks));
    return true;
}

/* This rank's home and who shares it; homes near the GPUs when every rank's GPU
 * locality is known. */
static zo_status zo_find_share(const zo_placement_request *r, hwloc_obj_t *nodes, int node_count,
                               zo_share *share)
{
    zo_placement_request request = *r;
    hwloc_bitmap_t mine = hwloc_bitmap_alloc(), other = hwloc_bitmap_alloc();
    if (!mine || !other) {
        hwloc_bitmap_free(mine), hwloc_bitmap_free(other);
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "zo_topology_place: out of memory");
    }
    share->near_gpu = request.gpu_cpus != NULL;
    for (int k = 0; share->near_gpu && k < request.local_ranks; k++)
        share->near_gpu = zo_home_of(&request, k, nodes, node_count, other);
    if (!share->near_gpu)
        request.gpu_cpus = NULL;
    zo_home_of(&request, request.local_rank, nodes, node_count, mine);
    share->sharers = 0, share->index = 0;
    for (int k = 0; k < request.local_ranks; k++) {
        zo_home_of(&request, k, nodes, node_count, other);
        if (hwloc_bitmap_isequal(other, mine)) {
            share->sharers++;
            share->index += k < request.local_rank;
        }
    }
    hwloc_bitmap_zero(share->domain);
    for (int j = hwloc_bitmap_first(mine); j >= 0; j = hwloc_bitmap_next(mine, j))
        hwloc_bitmap_or(share->domain, share->domain, nodes[j]->cpuset);
    hwloc_bitmap_free(mine), hwloc_bitmap_free(other);
    return ZO_OK;
}

/* Puts into out->cpus the first PU inside `within` of each core numbered [first, end)
 * among the cores that meet `within`; returns how many cores meet it. */
static int zo_take_cores(hwloc_topology_t hw, hwloc_const_bitmap_t within, int first, int end,
                         zo_placement *out)
{
    hwloc_obj_type_t type = zo_core_type(hw);
    hwloc_bitmap_t pus = hwloc_bitmap_alloc();
    int met = 0;
    hwloc_obj_t core = NULL;
    while ((core = hwloc_get_next_obj_by_type(hw, type, core))) {
        if (!hwloc_bitmap_intersects(core->cpuset, within))
            continue;
        if (met >= first && met < end && out->cpu_count < ZO_PLACEMENT_MAX_CPUS) {
            hwloc_bitmap_and(pus, core->cpuset, within);
            out->cpus[out->cpu_count++] = hwloc_bitmap_first(pus);
        }
        met++;
    }
    hwloc_bitmap_free(pus);
    return met;
}

/* zo.bind "auto": this rank's block of the cores of its home. */
static zo_status zo_place_auto(hwloc_topology_t hw, const zo_placement_request *r,
                               zo_placement *out, char *why, size_t room)
{
    hwloc_obj_t nodes[ZO_PLACEMENT_MAX_NODES];
    int node_count = zo_cpu_nodes(hw, nodes, ZO_PLACEMENT_MAX_NODES);
    if (node_count == 0) /* hwloc always reports one node; be safe anyway */
        return zo_fail(ZO_ERR_DEVICE, "zo_topology_place: hwloc sees no NUMA node with CPUs");
    zo_share share = {.domain = hwloc_bitmap_alloc()};
    if (!share.domain)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "zo_topology_place: out of memory");
    zo_status status = zo_find_share(r, nodes, node_count, &share);
    if (status == ZO_OK) {
        int cores = zo_take_cores(hw, share.domain, 0, 0, out);
        int first = share.index * cores / share.sharers;
        int end = cores >= share.sharers ? (share.index + 1) * cores / share.sharers : first + 1;
        zo_take_cores(hw, share.domain, first, end, out);
        out->shares_cores = cores < share.sharers;
        size_t used = 0;
        zo_append(why, room, &used, "local rank %d of %d", r->local_rank, r->local_ranks);
        if (share.near_gpu)
            zo_append(why, room, &used, ", near its GPU");
        if (share.sharers > 1)
            zo_append(why, room, &used, ", %d ranks split %d core%s", share.sharers, cores,
                      cores == 1 ? "" : "s");
        if (out->shares_cores)
            zo_append(why, room, &used, " (more ranks than cores: up to %d ranks share a core)",
                      (share.sharers + cores - 1) / cores);
    }
    hwloc_bitmap_free(share.domain);
    return status;
}

/* zo.bind with a CPU list: one PU per core it names; refuses CPUs not in the machine. */
static zo_status zo_place_listed(hwloc_topology_t hw, const zo_placement_request *r,
                                 zo_placement *out, char *why, size_t room)
{
    hwloc_bitmap_t listed = hwloc_bitmap_alloc(), missing = hwloc_bitmap_alloc();
    char problem[128];
    zo_status status = ZO_OK;
    if (!listed || !missing)
        status = zo_fail(ZO_ERR_OUT_OF_MEMORY, "zo_topology_place: out of memory");
    else if (!r->bind_cpus ||
             !zo_cpu_list_parse(r->bind_cpus, zo_add_cpu_range, listed, problem, sizeof problem))
        status = zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo.bind \"%.40s\" is not a CPU list: %s",
                         r->bind_cpus ? r->bind_cpus : "(null)",
                         r->bind_cpus ? problem : "bind_cpus is NULL");
    if (status == ZO_OK) {
        hwloc_const_bitmap_t usable = hwloc_topology_get_allowed_cpuset(hw);
        hwloc_bitmap_andnot(missing, listed, usable);
        if (!hwloc_bitmap_iszero(missing)) {
            char absent[128], have[128];
            hwloc_bitmap_list_snprintf(absent, sizeof absent, missing);
            hwloc_bitmap_list_snprintf(have, sizeof have, usable);
            status = zo_fail(ZO_ERR_INVALID_ARGUMENT,
                             "zo.bind \"%.40s\" names CPUs %s, which this machine does not have "
                             "or this process may not use (it may use %s)",
                             r->bind_cpus, absent, have);
        } else {
            zo_take_cores(hw, listed, 0, ZO_PLACEMENT_MAX_CPUS, out);
            snprintf(why, room, "zo.bind \"%s\"", r->bind_cpus);
        }
    }
    hwloc_bitmap_free(listed), hwloc_bitmap_free(missing);
    return status;
}

/* The NUMA nodes of the chosen CPUs, and whether binding memory to them means anything. */
static void zo_find_nodes(hwloc_topology_t hw, zo_placement *out)
{
    hwloc_bitmap_t cpus = hwloc_bitmap_alloc(), nodes = hwloc_bitmap_alloc();
    for (int i = 0; i < out->cpu_count; i++)
        hwloc_bitmap_set(cpus, (unsigned)out->cpus[i]);
    hwloc_obj_t node = NULL;
    while ((node = hwloc_get_next_obj_by_type(hw, HWLOC_OBJ_NUMANODE, node)))
        if (hwloc_bitmap_intersects(node->cpuset, cpus) &&
            out->node_count < ZO_PLACEMENT_MAX_NODES) {
            out->nodes[out->node_count++] = (int)node->os_index;
            hwloc_bitmap_set(nodes, node->os_index);
        }
    out->bind_memory = hwloc_get_nbobjs_by_type(hw, HWLOC_OBJ_NUMANODE) > 1;
    hwloc_bitmap_list_snprintf(out->cpu_list, sizeof out->cpu_list, cpus);
    hwloc_bitmap_list_snprintf(out->node_list, sizeof out->node_list, nodes);
    hwloc_bitmap_free(cpus), hwloc_bitmap_free(nodes);
}

/* The decision in words: the reason, then cores, threads, memory. */
static void zo_write_decision(zo_placement *out, const char *why)
{
    size_t used = 0, room = sizeof out->decision;
    int plural = out->node_count != 1;
    zo_append(out->decision, room, &used, "%s: %d core%s (CPUs %s) on NUMA node%s %s; %d thread%s",
              why, out->cpu_count, out->cpu_count == 1 ? "" : "s", out->cpu_list, plural ? "s" : "",
              out->node_list, out->threads, out->threads == 1 ? "" : "s");
    if (out->threads > out->cpu_count)
        zo_append(out->decision, room, &used, " on %d core%s: threads share cores", out->cpu_count,
                  out->cpu_count == 1 ? "" : "s");
    else
        zo_append(out->decision, room, &used, ", one per core");
    if (!out->bind_memory)
        zo_append(out->decision, room, &used, "; one NUMA node: memory needs no binding");
    else
        zo_append(out->decision, room, &used, "; memory %s NUMA node%s %s",
                  plural ? "interleaved over" : "bound to", plural ? "s" : "", out->node_list);
}

static zo_status zo_check_request(const zo_topology *t, const zo_placement_request *r,
                                  const zo_placement *out)
{
    if (!t || !r || !out)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_topology_place: %s is NULL",
                       !t   ? "topology"
                       : !r ? "request"
                            : "out");
    if (r->local_ranks < 1 || r->local_rank < 0 || r->local_rank >= r->local_ranks)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT,
                       "zo_topology_place: local rank %d of %d (must be 0 <= rank < ranks)",
                       r->local_rank, r->local_ranks);
    if (r->threads < 0)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_topology_place: threads is %d, must be >= 0",
                       r->threads);
    if (r->bind != ZO_BIND_AUTO && r->bind != ZO_BIND_NONE && r->bind != ZO_BIND_CPUS)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_topology_place: bind %d is not a zo_bind_mode",
                       (int)r->bind);
    return ZO_OK;
}

zo_status zo_topology_place(const zo_topology *t, const zo_placement_request *r, zo_placement *out)
{
    zo_status status = zo_check_request(t, r, out);
    if (status != ZO_OK)
        return status;
    zo_placement placement = {.bound = r->bind != ZO_BIND_NONE, .threads = r->threads};
    if (!placement.bound) {
        snprintf(placement.decision, sizeof placement.decision,
                 "zo.bind \"none\": %d thread%s (0: OpenMP's default), each worker on a core of "
                 "its own after the caller's unless OMP_PROC_BIND is set; memory where first "
                 "touched",
                 r->threads, r->threads == 1 ? "" : "s");
        *out = placement; /* written only on success: a refusal leaves *out as it was */
        return ZO_OK;
    }
    char why[256] = "";
    status = r->bind == ZO_BIND_CPUS ? zo_place_listed(t->hwloc, r, &placement, why, sizeof why)
                                     : zo_place_auto(t->hwloc, r, &placement, why, sizeof why);
    if (status != ZO_OK)
        return status;
    if (placement.threads == 0)
        placement.threads = placement.cpu_count;
    placement.shares_cores |= placement.threads > placement.cpu_count;
    zo_find_nodes(t->hwloc, &placement);
    zo_write_decision(&placement, why);
    *out = placement;
    return ZO_OK;
}

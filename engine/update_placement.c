/* Where the engine's host update runs; see update_placement.h. */
#include "update_placement.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "host_pages.h"

/* Runs on the worker stream's thread: the update's thread 0 goes to the first CPU. */
static zo_status zo_bind_update_thread(void *arg)
{
    zo_engine *e = arg;
    if (zo_topology_bind_thread(e->topology, &e->placement, 0) != ZO_OK) {
        size_t used = strlen(e->placement.decision);
        snprintf(e->placement.decision + used, sizeof e->placement.decision - used,
                 " (not pinned: %s)", zo_last_error());
    }
    return ZO_OK; /* a thread left unpinned is slower, never wrong */
}

/* zo.threads "auto": OMP_NUM_THREADS when the user set it (its first number, as OpenMP
 * reads a list), else 0, one thread per core of the placement. */
static int zo_auto_threads(void)
{
    const char *text = getenv("OMP_NUM_THREADS");
    long threads = text ? strtol(text, NULL, 10) : 0;
    return threads > 0 && threads <= 4096 ? (int)threads : 0;
}

zo_status zo_engine_place_update(zo_engine *e)
{
    zo_status status = zo_topology_load(&e->topology);
    if (status != ZO_OK)
        return status;
    zo_placement_request request = {.threads = e->settings.threads ? e->settings.threads : zo_auto_threads(),
                                    .bind = e->settings.bind,
                                    .bind_cpus = e->settings.bind_cpus};
    const char *source;
    zo_topology_local_rank(&request.local_rank, &request.local_ranks, &source);
    /* on CUDA each rank goes near its GPU (rank k uses device k) when all are known */
    char gpu_lists[ZO_TOPOLOGY_MAX_GPU_RANKS][ZO_TOPOLOGY_LIST_BYTES];
    const char *gpu_pointers[ZO_TOPOLOGY_MAX_GPU_RANKS];
    if (zo_device_takes_external_streams(&e->device))
        request.gpu_cpus =
            zo_topology_gpu_localities(e->topology, request.local_ranks, gpu_lists, gpu_pointers);
    if ((status = zo_topology_place(e->topology, &request, &e->placement)) != ZO_OK) {
        char reason[512];
        snprintf(reason, sizeof reason, "%s", zo_last_error());
        return zo_fail(ZO_ERR_CONFIG, "zo_engine_create: %s", reason);
    }
    if (e->placement.bound &&
        ((status = zo_device_launch_host(&e->worker_device, e->worker,
                                                     zo_bind_update_thread, e)) ||
         (status = zo_device_stream_synchronize(&e->worker_device, e->worker))))
        return status;
    zo_adam_settings adam = {.isa = ZO_CPU_ISA_AUTO, .num_threads = e->placement.threads};
    if (e->placement.bound)
        adam.cpus = e->placement.cpus, adam.cpu_count = e->placement.cpu_count;
    return zo_adam_create(&adam, &e->adam);
}

/* What zo_engine_alloc_pinned_near hands to zo_topology_allocate_near. */
typedef struct zo_pinned_request {
    zo_engine *engine;
    size_t bytes;
    void **out;
} zo_pinned_request;

static zo_status zo_alloc_pinned_request(void *arg)
{
    zo_pinned_request *r = arg;
    return zo_device_alloc_pinned(&r->engine->device, r->bytes, r->out);
}

zo_status zo_engine_alloc_pinned_near(zo_engine *e, size_t bytes, void **out)
{
    zo_pinned_request request = {.engine = e, .bytes = bytes, .out = out};
    zo_status status = zo_topology_allocate_near(e->topology, &e->placement,
                                                 zo_alloc_pinned_request, &request);
    if (status == ZO_OK) /* the range's policy too, for pages touched later */
        zo_topology_bind_memory(e->topology, &e->placement, *out, bytes);
    return status;
}

/* What zo_engine_place_host_pages hands to the worker stream. */
typedef struct zo_touch_request {
    const zo_engine *engine;
    void *ptr;
    size_t bytes;
    bool touched;
} zo_touch_request;

static void zo_touch_with_update_team(zo_touch_request *r)
{
    const zo_placement *placement = &r->engine->placement;
    zo_team_cpus team = {0};
    if (placement->bound)
        team = (zo_team_cpus){.cpus = placement->cpus, .count = placement->cpu_count};
    zo_host_pages_touch(r->ptr, r->bytes, zo_adam_num_threads(r->engine->adam), &team);
    r->touched = true;
}

static zo_status zo_touch_on_worker(void *arg)
{
    zo_touch_with_update_team(arg);
    return ZO_OK;
}

void zo_engine_place_host_pages(zo_engine *e, void *ptr, size_t bytes)
{
    zo_topology_bind_memory(e->topology, &e->placement, ptr, bytes); /* before the first touch */
    /* On the worker stream's thread, whose OpenMP team is the update's own: the caller's
     * team would be left pinned to the placement's CPUs, which is not ours to decide. */
    zo_touch_request request = {.engine = e, .ptr = ptr, .bytes = bytes};
    if (zo_device_launch_host(&e->worker_device, e->worker, zo_touch_on_worker, &request) == ZO_OK)
        zo_device_stream_synchronize(&e->worker_device, e->worker); /* a failure is the stream's
                                                                        to forget: best effort */
    if (!request.touched)
        zo_touch_with_update_team(&request);
}

const char *zo_engine_placement(const zo_engine *e) { return e ? e->placement.decision : ""; }

/* Placements compared by the Adam benchmark; see bind_variants.h. */
#define _GNU_SOURCE /* pthread_setaffinity_np, cpu_set_t */
#include "bind_variants.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_fail.h"

/* The calling thread back to the CPUs it started with. */
static void bench_restore_caller(const bench_binding *b)
{
    if (b->caller_mask)
        pthread_setaffinity_np(pthread_self(), sizeof(cpu_set_t), b->caller_mask);
}

int bench_binding_prepare(bench_binding *b, const bench_plan *plan)
{
    *b = (bench_binding){.count = plan->bind_count};
    if (b->count == 0)
        return 0;
    cpu_set_t *mask = malloc(sizeof *mask);
    if (mask && sched_getaffinity(0, sizeof *mask, mask) == 0)
        b->caller_mask = mask;
    else
        free(mask);
    if (zo_topology_load(&b->topology) != ZO_OK)
        return bench_fail("cannot load the topology: %s", zo_last_error());
    for (size_t k = 0; k < b->count; k++) {
        const bench_bind *bind = &plan->binds[k];
        zo_placement_request request = {
            .threads = plan->threads, .bind = bind->mode, .bind_cpus = bind->cpus};
        const char *source;
        zo_topology_local_rank(&request.local_rank, &request.local_ranks, &source);
        if (zo_topology_place(b->topology, &request, &b->placements[k]) != ZO_OK)
            return bench_fail("--bind %s: %s", bench_bind_name(bind), zo_last_error());
        b->names[k] = bench_bind_name(bind);
    }
    return 0;
}

void bench_binding_print(const bench_binding *b)
{
    for (size_t k = 0; k < b->count; k++)
        printf("bind %-6s %s\n", b->names[k], b->placements[k].decision);
}

void bench_binding_apply(const bench_binding *b, size_t bind, zo_adam_settings *settings)
{
    const zo_placement *p = &b->placements[bind];
    if (!p->bound)
        return;
    settings->cpus = p->cpus;
    settings->cpu_count = p->cpu_count;
    settings->num_threads = p->threads;
}

bool bench_binding_enter(bench_binding *b, size_t bind)
{
    if (b->count == 0)
        return false;
    if (b->placements[bind].bound)
        zo_topology_bind_thread(b->topology, &b->placements[bind], 0); /* best effort */
    else
        bench_restore_caller(b);
    bool switched = bind != b->current;
    b->current = bind;
    return switched;
}

size_t bench_binding_of_context(const bench_binding *b, size_t context)
{
    return b->count ? context % b->count : 0;
}

const char *bench_binding_name(const bench_binding *b, size_t context)
{
    return b->count ? b->names[bench_binding_of_context(b, context)] : NULL;
}

void bench_binding_release(bench_binding *b)
{
    bench_restore_caller(b);
    free(b->caller_mask);
    b->caller_mask = NULL;
    zo_topology_destroy(&b->topology);
}

/* Worker pinning for the kernel teams; see thread_pinning.h for why. */
#define _GNU_SOURCE
#include "thread_pinning.h"

#include <omp.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>

/* Each OpenMP worker is a persistent thread of libgomp's pool, shared by every
 * context: what it was last told, so it is pinned once per change, not per call. */
static _Thread_local bool decided_without_list; /* the no-list rule has run          */
static _Thread_local int listed_cpu = -1;       /* the list entry it is pinned to    */
static _Thread_local bool have_original;        /* original_mask holds its mask from
                                                   before its first pin             */
static _Thread_local cpu_set_t original_mask;

int zo_current_cpu(void) { return sched_getcpu(); }

static void zo_pin_to(int cpu)
{
    if (!have_original) /* before its first pin, of either kind */
        have_original = sched_getaffinity(0, sizeof original_mask, &original_mask) == 0;
    cpu_set_t mine;
    CPU_ZERO(&mine);
    CPU_SET(cpu, &mine);
    pthread_setaffinity_np(pthread_self(), sizeof mine, &mine); /* best effort */
}

/* The thread-th allowed core after the master's, wrapping around. */
static void zo_pin_after_master(int master_cpu, int thread)
{
    if (omp_get_proc_bind() != omp_proc_bind_false)
        return; /* the user chose a binding; respect it */
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0 || CPU_COUNT(&allowed) < 2)
        return;
    int cores[CPU_SETSIZE], count = 0, master_index = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
        if (CPU_ISSET(cpu, &allowed)) {
            if (cpu == master_cpu)
                master_index = count;
            cores[count++] = cpu;
        }
    zo_pin_to(cores[(master_index + thread) % count]);
}

void zo_pin_team_worker(int master_cpu, const zo_team_cpus *team)
{
    int thread = omp_get_thread_num();
    if (thread == 0)
        return;
    if (team->cpus) {
        int wanted = team->cpus[thread % team->count];
        if (listed_cpu == wanted)
            return;
        zo_pin_to(wanted);
        listed_cpu = wanted;
        decided_without_list = false; /* a context without a list decides afresh */
        return;
    }
    if (decided_without_list || master_cpu < 0)
        return;
    decided_without_list = true; /* also when pinning is not wanted or fails: decide once */
    if (listed_cpu >= 0 && have_original) /* back from a list: the mask it began with */
        pthread_setaffinity_np(pthread_self(), sizeof original_mask, &original_mask);
    listed_cpu = -1;
    zo_pin_after_master(master_cpu, thread);
}

/* Worker pinning for the kernel teams; see thread_pinning.h for why. */
#define _GNU_SOURCE
#include "thread_pinning.h"

#include <omp.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>

/* Each OpenMP worker is a persistent thread of libgomp's pool: pin it once. */
static _Thread_local bool worker_pinned;

int zo_current_cpu(void) { return sched_getcpu(); }

void zo_pin_team_worker(int master_cpu)
{
    int thread = omp_get_thread_num();
    if (thread == 0 || worker_pinned || master_cpu < 0)
        return;
    worker_pinned = true; /* also when pinning is not wanted or fails: decide once */
    if (omp_get_proc_bind() != omp_proc_bind_false)
        return; /* the user chose a binding; respect it */

    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0 || CPU_COUNT(&allowed) < 2)
        return;
    /* the thread-th allowed core after the master's, wrapping around */
    int cores[CPU_SETSIZE], count = 0, master_index = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
        if (CPU_ISSET(cpu, &allowed)) {
            if (cpu == master_cpu)
                master_index = count;
            cores[count++] = cpu;
        }
    cpu_set_t mine;
    CPU_ZERO(&mine);
    CPU_SET(cores[(master_index + thread) % count], &mine);
    pthread_setaffinity_np(pthread_self(), sizeof mine, &mine); /* best effort */
}

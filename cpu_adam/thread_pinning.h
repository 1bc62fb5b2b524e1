/* Pins each OpenMP worker of a kernel team to a core of its own. Internal.
 *
 * Why: unpinned, a worker that slept between steps is woken onto the core of the
 * thread that woke it, which then spins at the region's end barrier for libgomp's
 * whole spin count (milliseconds) before the worker can run: 7.8 ms instead of
 * ~0.1 ms for the first call after an idle spell, measured by zo-bench on a 2-core
 * VM. OMP_PROC_BIND would fix it but a library cannot set it; pinning only the
 * workers leaves the caller's own thread free to move.
 *
 * With a CPU list (the engine's placement, engine/topology.h) worker i goes to list
 * entry i instead, so a rank's update stays on the cores and NUMA node chosen for it. */
#ifndef ZO_THREAD_PINNING_H
#define ZO_THREAD_PINNING_H

/* Where a context's workers run: cpus NULL for "the thread-th allowed core after the
 * master's", else worker i on cpus[i % count]. */
typedef struct zo_team_cpus {
    const int *cpus;
    int count;
} zo_team_cpus;

/* Call inside a parallel region from every thread; does nothing for the master
 * (thread 0). Without a list: pins a worker once, and not when OMP_PROC_BIND is in
 * force. With a list: pins the worker to its entry whenever it is elsewhere (libgomp's
 * pool threads serve every context, with or without a list). master_cpu is the core
 * the master ran on when it opened the region. */
void zo_pin_team_worker(int master_cpu, const zo_team_cpus *team);

/* The core the calling thread runs on, or -1 if unknown. */
int zo_current_cpu(void);

#endif

/* Pins each OpenMP worker of a kernel team to a core of its own. Internal.
 *
 * Why: unpinned, a worker that slept between steps is woken onto the core of the
 * thread that woke it, which then spins at the region's end barrier for libgomp's
 * whole spin count (milliseconds) before the worker can run: 7.8 ms instead of
 * ~0.1 ms for the first call after an idle spell, measured by zo-bench on a 2-core
 * VM. OMP_PROC_BIND would fix it but a library cannot set it; pinning only the
 * workers leaves the caller's own thread free to move. */
#ifndef ZO_THREAD_PINNING_H
#define ZO_THREAD_PINNING_H

/* Call inside a parallel region from every thread; does nothing for the master
 * (thread 0), for a worker already pinned, or when OMP_PROC_BIND is in force.
 * master_cpu is the core the master ran on when it opened the region. */
void zo_pin_team_worker(int master_cpu);

/* The core the calling thread runs on, or -1 if unknown. */
int zo_current_cpu(void);

#endif

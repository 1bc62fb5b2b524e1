/* The benchmark's clock: monotonic seconds as a double, immune to wall-clock jumps,
 * and a sleep that costs the CPU nothing. */
#ifndef ZO_BENCH_TIMER_H
#define ZO_BENCH_TIMER_H

#include <time.h>

static inline double now_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + 1e-9 * (double)now.tv_nsec;
}

/* Sleeps, not spins: it stands in for work done elsewhere (a GPU's kernels, an idle
 * spell), which must leave every core to the threads being measured. */
static inline void sleep_seconds(double seconds)
{
    if (!(seconds > 0.0))
        return;
    struct timespec pause = {.tv_sec = (time_t)seconds,
                             .tv_nsec = (long)((seconds - (double)(time_t)seconds) * 1e9)};
    while (nanosleep(&pause, &pause) != 0)
        ; /* interrupted by a signal: sleep the rest */
}

#endif

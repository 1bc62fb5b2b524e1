/* The benchmark's clock: monotonic seconds as a double, immune to wall-clock jumps. */
#ifndef ZO_BENCH_TIMER_H
#define ZO_BENCH_TIMER_H

#include <time.h>

static inline double now_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + 1e-9 * (double)now.tv_nsec;
}

#endif

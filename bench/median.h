/* The median of a run's timings: robust to the odd repeat a neighbour disturbed. */
#ifndef ZO_BENCH_MEDIAN_H
#define ZO_BENCH_MEDIAN_H

#include <stddef.h>

/* The median of count > 0 samples (mean of the middle two when count is even),
 * leaving `samples` in its order; NaN if count is 0 or memory runs out. */
double bench_median(const double *samples, size_t count);

#endif

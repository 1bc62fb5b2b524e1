/* How zo-bench adam compares the modes of one size: which of them fit in memory to run
 * side by side in one repeat loop, and how much faster one step ran than another
 * within the same repeats. Pure arithmetic, tested in tests/test_bench_compare.c. */
#ifndef ZO_BENCH_MODE_COMPARE_H
#define ZO_BENCH_MODE_COMPARE_H

#include <stddef.h>

/* How many of footprints[0 .. count) (bytes each) fit in `available` bytes together,
 * on top of `shared` bytes that all of them use (the triad's arrays): the first k for
 * the largest such k, but at least 1 (the caller has checked that each fits alone),
 * and all of them when `available` is unknown (<= 0). */
size_t bench_modes_fitting_together(const double *footprints, size_t count, double shared, double available);

/* How many times faster `other` ran than `baseline`, sample r of each taken in the same
 * repeat: the median over r of baseline[r] / other[r], so that a slow spell of the
 * machine, which hits both samples of a repeat, cancels. NaN if repeats is 0, memory
 * runs out, or a sample is not positive. */
double bench_paired_speedup(const double *baseline, const double *other, size_t repeats);

#endif

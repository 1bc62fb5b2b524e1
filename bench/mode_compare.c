/* Grouping the modes of a size by memory, and paired step ratios. */
#include "mode_compare.h"

#include <math.h>
#include <stdlib.h>

#include "median.h"

size_t bench_modes_fitting_together(const double *footprints, size_t count, double shared, double available)
{
    if (count == 0)
        return 0;
    if (!(available > 0.0))
        return count;
    double needed = shared + footprints[0];
    size_t fitting = 1;
    while (fitting < count && needed + footprints[fitting] <= available)
        needed += footprints[fitting++];
    return fitting;
}

double bench_paired_speedup(const double *baseline, const double *other, size_t repeats)
{
    if (repeats == 0)
        return NAN;
    double *ratios = malloc(repeats * sizeof *ratios);
    if (!ratios)
        return NAN;
    double result = NAN;
    size_t r = 0;
    for (; r < repeats; r++) {
        if (!(baseline[r] > 0.0 && other[r] > 0.0))
            break;
        ratios[r] = baseline[r] / other[r];
    }
    if (r == repeats)
        result = bench_median(ratios, repeats);
    free(ratios);
    return result;
}

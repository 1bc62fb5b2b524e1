/* The median by sorting a copy, so the samples keep their order for the JSON. */
#include "median.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int bench_compare_doubles(const void *left, const void *right)
{
    double a = *(const double *)left, b = *(const double *)right;
    return (a > b) - (a < b);
}

double bench_median(const double *samples, size_t count)
{
    if (count == 0)
        return NAN;
    double *sorted = malloc(count * sizeof *sorted);
    if (!sorted)
        return NAN;
    memcpy(sorted, samples, count * sizeof *sorted);
    qsort(sorted, count, sizeof *sorted, bench_compare_doubles);
    double median =
        count % 2 ? sorted[count / 2] : 0.5 * (sorted[count / 2 - 1] + sorted[count / 2]);
    free(sorted);
    return median;
}

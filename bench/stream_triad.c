/* The STREAM triad, parallelized like the kernels it is compared with. */
#include "stream_triad.h"

#include <stdlib.h>

#include "buffers.h"

int bench_triad_create(bench_triad *triad, size_t elems, int threads)
{
    *triad = (bench_triad){.elems = elems, .threads = threads};
    size_t bytes = elems * sizeof(double);
    triad->a = bench_alloc(bytes, "the triad's a[]");
    triad->b = triad->a ? bench_alloc(bytes, "the triad's b[]") : NULL;
    triad->c = triad->b ? bench_alloc(bytes, "the triad's c[]") : NULL;
    if (!triad->c) {
        bench_triad_destroy(triad);
        return -1;
    }
    /* STREAM's start values; the triad then rewrites a[] with the same 7.0 each run */
    double *restrict a = triad->a, *restrict b = triad->b, *restrict c = triad->c;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (size_t i = 0; i < elems; i++) {
        a[i] = 1.0;
        b[i] = 1.0;
        c[i] = 2.0;
    }
    return 0;
}

void bench_triad_run(const bench_triad *triad)
{
    double *restrict a = triad->a;
    const double *restrict b = triad->b;
    const double *restrict c = triad->c;
    const double scalar = 3.0;
    size_t elems = triad->elems;
#pragma omp parallel for schedule(static) num_threads(triad->threads)
    for (size_t i = 0; i < elems; i++)
        a[i] = b[i] + scalar * c[i];
}

size_t bench_triad_bytes(const bench_triad *triad) { return 3 * sizeof(double) * triad->elems; }

void bench_triad_destroy(bench_triad *triad)
{
    free(triad->a);
    free(triad->b);
    free(triad->c);
    triad->a = triad->b = triad->c = NULL;
}

/* The STREAM triad a[i] = b[i] + s * c[i] on doubles: what the machine's memory
 * delivers to a simple parallel loop, the yardstick the Adam step is compared with. */
#ifndef ZO_BENCH_STREAM_TRIAD_H
#define ZO_BENCH_STREAM_TRIAD_H

#include <stddef.h>

typedef struct bench_triad {
    double *a, *b, *c;
    size_t elems; /* of each array */
    int threads;
} bench_triad;

/* Allocates and first-touches three arrays of `elems` doubles. 0 on success; -1
 * after printing why not (nothing is left allocated). */
int bench_triad_create(bench_triad *triad, size_t elems, int threads);

/* One triad over all elements, `threads` threads, static schedule. */
void bench_triad_run(const bench_triad *triad);

/* The bytes one run counts, by STREAM's convention: 24 per element (two 8-byte
 * reads, one 8-byte write; the write-allocate read of a[] is not counted). */
size_t bench_triad_bytes(const bench_triad *triad);

/* Frees the arrays; safe on a zeroed or already destroyed triad. */
void bench_triad_destroy(bench_triad *triad);

#endif

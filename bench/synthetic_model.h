/* The model the plan and engine benchmarks register: one parameter per layer, the
 * total split as evenly as it divides. */
#ifndef ZO_BENCH_SYNTHETIC_MODEL_H
#define ZO_BENCH_SYNTHETIC_MODEL_H

#include <stddef.h>

#include "zo/engine.h"

typedef struct bench_model {
    size_t layers;
    zo_param_desc *params; /* one per layer, named "layer<i>" */
    char (*names)[32];     /* the names' storage                 */
    size_t largest_layer_elems;
} bench_model;

/* Splits `params` parameters into `layers` layers (the first params % layers get one
 * more). 0, or -1 after printing why not (layers 0 or more than params, no memory). */
int bench_model_create(bench_model *model, size_t params, size_t layers);

/* Frees the model; safe on a zeroed or already freed one. */
void bench_model_free(bench_model *model);

#endif

/* One parameter per layer, so the engine's buckets hold whole layers or pieces of one,
 * as they would for a transformer's big matrices. */
#include "synthetic_model.h"

#include <stdio.h>
#include <stdlib.h>

#include "bench_fail.h"

int bench_model_create(bench_model *model, size_t params, size_t layers)
{
    *model = (bench_model){0};
    if (layers == 0 || layers > params)
        return bench_fail("%zu layers cannot split %zu parameters (1 to %zu layers)", layers,
                          params, params);
    model->params = calloc(layers, sizeof *model->params);
    model->names = calloc(layers, sizeof *model->names);
    if (!model->params || !model->names) {
        bench_model_free(model);
        return bench_fail("cannot allocate the descriptions of %zu layers", layers);
    }
    model->layers = layers;
    for (size_t i = 0; i < layers; i++) {
        snprintf(model->names[i], sizeof model->names[i], "layer%zu", i);
        model->params[i] = (zo_param_desc){
            .name = model->names[i],
            .elems = params / layers + (i < params % layers ? 1 : 0),
        };
    }
    model->largest_layer_elems = model->params[0].elems;
    return 0;
}

void bench_model_free(bench_model *model)
{
    free(model->params);
    free(model->names);
    *model = (bench_model){0};
}

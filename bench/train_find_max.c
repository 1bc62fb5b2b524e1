/* The largest MLP each way of training can hold, by the rule in train_find_max.h. */
#include "train_find_max.h"

#include <stdio.h>
#include <stdlib.h>

#include "bench_fail.h"
#include "mlp_model.h"
#include "train_gpu.h"
#include "train_run.h"
#include "zo/zo.h"

/* Beyond any machine: 2^24 layers of width 64 are 70G parameters. */
enum { BENCH_MAX_LAYERS = 1 << 24 };

typedef enum bench_train_way { WAY_OFFLOAD, WAY_NO_OFFLOAD, WAY_HOST_ONLY } bench_train_way;

typedef struct bench_fit_context {
    const zo_config *config; /* zo.device "cuda" (offload "cpu" or "none") for the GPU
                                ways, "host" for host only                          */
    bench_train_way way;
    size_t width, batch;
    uint64_t device_free_bytes;
    uint64_t *host_available_bytes; /* the plan's MemAvailable, written by each check */
} bench_fit_context;

/* The CUDA loop's device activations, as gpu_mlp_create (examples/mlp_cuda_loop.cu)
 * allocates them: every layer's 16-bit input, the fp32 output, inputs and targets,
 * and two 16-bit gradients. */
static uint64_t bench_cuda_activation_bytes(mlp_shape shape, size_t batch)
{
    uint64_t count = (uint64_t)batch * shape.width;
    return count * (2 * shape.layers + 3 * 4 + 2 * 2);
}

/* The host loop's fp32 activations (mlp_host_loop.c, everything kept): every layer's
 * input and the output, the targets, two gradients, and two fp32 copies of each
 * weight matrix with its bias. */
static uint64_t bench_host_activation_bytes(mlp_shape shape, size_t batch)
{
    uint64_t count = (uint64_t)batch * shape.width, width = shape.width;
    return 4 * (count * (shape.layers + 1 + 3) + shape.layers * (2 * width * width + width) +
                width * width);
}

/* Whether `layers` layers fit the way's rule; -1 when the plan itself failed. */
static int bench_fits(const bench_fit_context *context, size_t layers)
{
    mlp_shape shape = {.layers = layers, .width = context->width};
    size_t count = mlp_param_count(shape);
    zo_param_desc *descs = calloc(count, sizeof *descs);
    char(*names)[MLP_NAME_MAX] = calloc(count, sizeof *names);
    int fits = -1;
    zo_memory_plan plan;
    if (!descs || !names) {
        bench_fail("out of memory for %zu parameter descriptions", count);
        goto done;
    }
    mlp_param_descs(shape, descs, names);
    if (zo_engine_plan(context->config, descs, count, 1, &plan) != ZO_OK) {
        bench_fail("zo_engine_plan: %s", zo_last_error());
        goto done;
    }
    *context->host_available_bytes = plan.host_available_bytes;
    uint64_t activations = bench_cuda_activation_bytes(shape, context->batch);
    switch (context->way) {
    case WAY_OFFLOAD:
        fits = plan.fits && plan.device_bytes + activations <= context->device_free_bytes;
        break;
    case WAY_NO_OFFLOAD:
        /* the plan of offload "none" counts master weights and moments on the GPU */
        fits = plan.device_bytes + activations <= context->device_free_bytes;
        break;
    case WAY_HOST_ONLY: {
        uint64_t host_total = plan.host_bytes + plan.pinned_bytes + plan.device_bytes;
        fits = plan.fits && host_total + bench_host_activation_bytes(shape, context->batch) <=
                                plan.host_available_bytes;
        break;
    }
    }
done:
    free(names);
    free(descs);
    return fits;
}

/* Largest layer count that fits (0 if not even one), by doubling then bisection. */
static int bench_largest(const bench_fit_context *context, bench_train_max *out)
{
    size_t low = 0, high = 1; /* low fits (or is 0), high is the next candidate */
    int fits;
    while ((fits = bench_fits(context, high)) == 1 && high < BENCH_MAX_LAYERS)
        low = high, high *= 2;
    if (fits < 0)
        return -1;
    if (fits == 1) { /* the cap: say so rather than search further */
        snprintf(out->reason, sizeof out->reason, "fits even at %d layers (the search's cap)",
                 BENCH_MAX_LAYERS);
        low = high;
    }
    while (high - low > 1) {
        size_t middle = low + (high - low) / 2;
        if ((fits = bench_fits(context, middle)) < 0)
            return -1;
        *(fits ? &low : &high) = middle;
    }
    mlp_shape shape = {.layers = low, .width = context->width};
    out->known = true;
    out->layers = low;
    out->params = low ? mlp_total_elems(shape) : 0;
    return 0;
}

/* Parses the config with zo.device `device` and offload_optimizer.device `offload`. */
static zo_config *bench_find_max_config(const char *config_path, const char *device,
                                        const char *offload)
{
    char *text = bench_train_config_text(config_path, device, offload, NULL);
    zo_config *config = NULL;
    if (text && zo_config_from_string(text, &config) != ZO_OK)
        bench_fail("%s: %s", config_path, zo_last_error());
    free(text);
    return config;
}

int bench_train_find_max(const char *config_path, size_t width, size_t batch,
                         bench_train_max_report *out)
{
    *out = (bench_train_max_report){.width = width, .batch = batch};
    zo_config *gpu_config = bench_find_max_config(config_path, "cuda", "cpu");
    zo_config *gpu_only_config = bench_find_max_config(config_path, "cuda", "none");
    zo_config *host_config = bench_find_max_config(config_path, "host", "cpu");
    int result = -1;
    if (!gpu_config || !gpu_only_config || !host_config)
        goto done;
    int gpus = 0;
    char gpu_missing[200] = ""; /* why the GPU ways cannot be sized */
    uint64_t used = 0;
    if (zo_cuda_device_count(&gpus) != ZO_OK)
        snprintf(gpu_missing, sizeof gpu_missing, "%s", zo_last_error());
    else if (gpus == 0)
        snprintf(gpu_missing, sizeof gpu_missing, "no CUDA device");
    else
        bench_gpu_memory(&used, &out->device_free_bytes, gpu_missing, sizeof gpu_missing);
    if (gpu_missing[0]) {
        snprintf(out->offload.reason, sizeof out->offload.reason, "n/a (no GPU: %s)", gpu_missing);
        snprintf(out->no_offload.reason, sizeof out->no_offload.reason, "n/a (no GPU: %s)",
                 gpu_missing);
    } else {
        bench_fit_context offload = {gpu_config,
                                     WAY_OFFLOAD,
                                     width,
                                     batch,
                                     out->device_free_bytes,
                                     &out->host_available_bytes};
        bench_fit_context no_offload = {
            gpu_only_config, WAY_NO_OFFLOAD,         width,
            batch,           out->device_free_bytes, &out->host_available_bytes};
        if (bench_largest(&offload, &out->offload) < 0 ||
            bench_largest(&no_offload, &out->no_offload) < 0)
            goto done;
    }
    bench_fit_context host_only = {
        host_config, WAY_HOST_ONLY, width, batch, 0, &out->host_available_bytes};
    if (bench_largest(&host_only, &out->host_only) < 0)
        goto done;
    result = 0;
done:
    zo_config_destroy(&gpu_config);
    zo_config_destroy(&gpu_only_config);
    zo_config_destroy(&host_config);
    return result;
}

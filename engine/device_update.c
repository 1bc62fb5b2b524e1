/* offload_optimizer.device "none": the update where the gradients are. Two backends
 * behind one small table: the host one (cpu_adam on the host backend's "device"
 * memory, synchronously on the worker) and the CUDA one (adam_cuda.cu's kernels on a
 * stream of this module's own). */
#include "device_update.h"

#include <stdlib.h>
#include <string.h>

#include "device/cuda/adam.h"
#include "error.h"

/* What differs between the backends. */
typedef struct zo_device_update_ops {
    zo_status (*stats)(zo_engine *e, const void *grad, size_t n, zo_grad_stats *out);
    zo_status (*step)(zo_engine *e, const zo_adam_hparams *hp, uint64_t step,
                      const zo_adam_buffers *b);
    /* e->h2d_done[b] completes once the work queued so far for b has run */
    zo_status (*record_done)(zo_engine *e, size_t bucket);
    zo_status (*copy)(void *dst, const void *src, size_t bytes, bool to_device);
    zo_status (*synchronize)(zo_engine *e);
} zo_device_update_ops;

struct zo_device_update {
    const zo_device_update_ops *ops;
    float *master;              /* device, fp32                              */
    void *exp_avg, *exp_avg_sq; /* device, settings.moments_dtype            */
    void *scratch;              /* device, for the CUDA stats' partial sums   */
    void *stream;               /* CUDA: a cudaStream_t of its own; host: NULL */
};

/* ---- host backend: "device" memory is host memory; the worker computes itself ---- */

static zo_status zo_host_stats(zo_engine *e, const void *grad, size_t n, zo_grad_stats *out)
{
    return zo_adam_grad_stats(e->adam, grad, e->dtype, n, out);
}

static zo_status zo_host_step(zo_engine *e, const zo_adam_hparams *hp, uint64_t step,
                              const zo_adam_buffers *b)
{
    return zo_adam_step(e->adam, hp, step, b);
}

static zo_status zo_host_record_done(zo_engine *e, size_t bucket)
{
    /* the update is done already; the event completes when the h2d stream gets there */
    return e->device.ops->event_record(e->device.ctx, e->h2d_done[bucket], e->h2d_stream);
}

static zo_status zo_host_copy(void *dst, const void *src, size_t bytes, bool to_device)
{
    (void)to_device;
    memcpy(dst, src, bytes);
    return ZO_OK;
}

static zo_status zo_host_synchronize(zo_engine *e)
{
    (void)e; /* the worker's own stream is the one to wait for, and the engine does */
    return ZO_OK;
}

static const zo_device_update_ops zo_host_update_ops = {
    zo_host_stats, zo_host_step, zo_host_record_done, zo_host_copy, zo_host_synchronize};

/* ---- CUDA: kernels on the module's stream; the loop's forward waits on h2d_done ---- */

static zo_status zo_cuda_stats(zo_engine *e, const void *grad, size_t n, zo_grad_stats *out)
{
    return zo_adam_cuda_grad_stats(grad, e->dtype, n, e->device_update->scratch,
                                   e->device_update->stream, out);
}

static zo_status zo_cuda_step(zo_engine *e, const zo_adam_hparams *hp, uint64_t step,
                              const zo_adam_buffers *b)
{
    return zo_adam_cuda_step(hp, step, b, e->device_update->stream);
}

static zo_status zo_cuda_record_done(zo_engine *e, size_t bucket)
{
    return e->device.ops->event_record_external(e->device.ctx, e->h2d_done[bucket],
                                                e->device_update->stream);
}

static zo_status zo_cuda_synchronize(zo_engine *e)
{
    return zo_adam_cuda_stream_synchronize(e->device_update->stream);
}

static const zo_device_update_ops zo_cuda_update_ops = {
    zo_cuda_stats, zo_cuda_step, zo_cuda_record_done, zo_adam_cuda_copy, zo_cuda_synchronize};

/* ---- the hooks ------------------------------------------------------------------- */

zo_status zo_device_update_create(zo_engine *e)
{
    /* on the host backend the "device" is the host: "none" runs the offloaded path */
    if (!e->device.ops->takes_external_streams || e->settings.offload_optimizer)
        return ZO_OK;
    return zo_device_update_start(e);
}

zo_status zo_device_update_start(zo_engine *e)
{
    const char *unsupported = e->accumulation_steps > 1          ? "gradient accumulation"
                              : e->settings.delayed_param_update ? "zo.delayed_param_update"
                              : e->ranks > 1                     ? "several ranks"
                                                                 : NULL;
    if (unsupported)
        return zo_fail(ZO_ERR_NOT_SUPPORTED,
                       "the optimizer on the GPU (zero_optimization.offload_optimizer.device "
                       "\"none\") with %s "
                       "is not implemented yet: set offload_optimizer.device to \"cpu\"",
                       unsupported);
    zo_device_update *u = calloc(1, sizeof *u);
    if (!u)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "zo_engine_create: out of memory");
    e->device_update = u;
    bool on_gpu = e->device.ops->takes_external_streams;
    u->ops = on_gpu ? &zo_cuda_update_ops : &zo_host_update_ops;
    const zo_device_ops *ops = e->device.ops;
    size_t elems = e->layout.padded_elems,
           moment_bytes = elems * zo_dtype_size(e->settings.moments_dtype);
    zo_status status;
    if ((status = ops->alloc_device(e->device.ctx, elems * sizeof(float), (void **)&u->master)) ||
        (status = ops->alloc_device(e->device.ctx, moment_bytes, &u->exp_avg)) ||
        (status = ops->alloc_device(e->device.ctx, moment_bytes, &u->exp_avg_sq)) ||
        (on_gpu && (status = ops->alloc_device(e->device.ctx, ZO_ADAM_CUDA_STATS_SCRATCH_BYTES,
                                               &u->scratch))) ||
        (on_gpu && (status = zo_adam_cuda_stream_create(&u->stream))))
        return status; /* zo_engine_destroy frees what was made */
    /* the master weights set so far (none at engine creation) */
    return zo_device_update_put_master(e, 0, elems);
}

void zo_device_update_destroy(zo_engine *e)
{
    zo_device_update *u = e->device_update;
    if (!u)
        return;
    if (u->stream) {
        zo_adam_cuda_stream_synchronize(u->stream); /* an error here has nobody to go to */
        zo_adam_cuda_stream_destroy(u->stream);
    }
    const zo_device_ops *ops = e->device.ops;
    ops->free_device(e->device.ctx, u->master);
    ops->free_device(e->device.ctx, u->exp_avg);
    ops->free_device(e->device.ctx, u->exp_avg_sq);
    ops->free_device(e->device.ctx, u->scratch);
    free(u);
    e->device_update = NULL;
}

zo_status zo_device_update_stats(zo_engine *e, size_t bucket, zo_bucket_stats *out)
{
    size_t begin = zo_bucket_begin(&e->layout, bucket), end = zo_bucket_end(&e->layout, bucket);
    zo_grad_stats stats = {0};
    zo_status status = e->device_update->ops->stats(
        e, (char *)e->device_grads + begin * e->dtype_bytes, end - begin, &stats);
    *out = (zo_bucket_stats){stats.sum_squares, stats.all_finite};
    return status;
}

zo_status zo_device_update_bucket(zo_engine *e, size_t bucket, const zo_update_plan *plan)
{
    zo_device_update *u = e->device_update;
    size_t begin = zo_bucket_begin(&e->layout, bucket), end = zo_bucket_end(&e->layout, bucket);
    size_t moment_bytes = zo_dtype_size(e->settings.moments_dtype);
    zo_adam_buffers buffers = {
        .n = end - begin,
        .master = u->master + begin,
        .exp_avg = (char *)u->exp_avg + begin * moment_bytes,
        .exp_avg_sq = (char *)u->exp_avg_sq + begin * moment_bytes,
        .moments_dtype = e->settings.moments_dtype,
        .grad = (const char *)e->device_grads + begin * e->dtype_bytes, /* no accumulation here */
        .grad_dtype = e->dtype,
        .grad_scale = plan->grad_scale,
        .weights_out = (char *)e->device_weights + begin * e->dtype_bytes,
        .weights_out_dtype = e->dtype,
    };
    zo_status status = u->ops->step(e, &plan->hparams, plan->step, &buffers);
    zo_status recorded = u->ops->record_done(e, bucket); /* even after a failure: nobody hangs */
    return status ? status : recorded;
}

/* The master weights [offset, offset + elems) between the host copy and the device,
 * and with `moments` both moments too, once the device's queued updates have run. */
static zo_status zo_copy_state(zo_engine *e, size_t offset, size_t elems, bool moments, bool to_device)
{
    zo_device_update *u = e->device_update;
    size_t moment_bytes = zo_dtype_size(e->settings.moments_dtype);
    struct {
        void *host, *device;
        size_t bytes;
    } parts[] = {{e->master + offset, u->master + offset, elems * sizeof(float)},
                 {(char *)e->exp_avg + offset * moment_bytes, (char *)u->exp_avg + offset * moment_bytes,
                  elems * moment_bytes},
                 {(char *)e->exp_avg_sq + offset * moment_bytes, (char *)u->exp_avg_sq + offset * moment_bytes,
                  elems * moment_bytes}};
    zo_status status = u->ops->synchronize(e);
    for (size_t k = 0; status == ZO_OK && k < (moments ? 3u : 1u); k++)
        status = to_device ? u->ops->copy(parts[k].device, parts[k].host, parts[k].bytes, true)
                           : u->ops->copy(parts[k].host, parts[k].device, parts[k].bytes, false);
    return status;
}

zo_status zo_device_update_put_master(zo_engine *e, size_t offset, size_t elems)
{
    return zo_copy_state(e, offset, elems, false, true);
}

zo_status zo_device_update_get_master(zo_engine *e, size_t offset, size_t elems)
{
    return zo_copy_state(e, offset, elems, false, false);
}

zo_status zo_device_update_put_state(zo_engine *e)
{
    return zo_copy_state(e, 0, e->layout.padded_elems, true, true);
}

zo_status zo_device_update_get_state(zo_engine *e)
{
    return zo_copy_state(e, 0, e->layout.padded_elems, true, false);
}

zo_status zo_device_update_synchronize(zo_engine *e)
{
    return e->device_update->ops->synchronize(e);
}

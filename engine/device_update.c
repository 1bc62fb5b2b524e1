/* offload_optimizer.device "none": the "device" strategy of optimizer_state.h, the
 * update where the gradients are, through the device's optional optimizer operations
 * (device.h) on a stream of this module's own. */
#include "device_update.h"

#include <stdlib.h>

#include "error.h"
#include "nvme/state.h"
#include "optimizer_state.h"

struct zo_device_update {
    float *master;              /* device, fp32                                   */
    void *exp_avg, *exp_avg_sq; /* device, settings.moments_dtype                 */
    void *scratch;              /* device, adam_stats_scratch_bytes (NULL when 0) */
    zo_device_stream *stream;   /* the stats and Adam run here, in order          */
};

zo_status zo_optimizer_state_choose(zo_engine *e)
{
    e->optimizer_state = &zo_optimizer_state_host;
    if (e->settings.nvme.enabled) /* the host update, on state streamed from NVMe */
        return zo_nvme_state_start(e);
    /* on the host backend the "device" is the host: "none" runs the offloaded path */
    if (!zo_device_takes_external_streams(&e->device) || e->settings.offload_optimizer)
        return ZO_OK;
    return zo_device_update_start(e);
}

zo_status zo_device_update_start(zo_engine *e)
{
    const char *unsupported = e->accumulation_steps > 1          ? "gradient accumulation"
                              : e->settings.delayed_param_update ? "zo.delayed_param_update"
                              : e->ranks > 1                     ? "several ranks"
                              : e->settings.moments_dtype == ZO_DTYPE_Q8 ? "zo.moments_dtype \"8bit\""
                                                                 : NULL;
    if (unsupported)
        return zo_fail(ZO_ERR_NOT_SUPPORTED,
                       "the optimizer on the GPU (zero_optimization.offload_optimizer.device "
                       "\"none\") with %s "
                       "is not implemented yet: set offload_optimizer.device to \"cpu\"",
                       unsupported);
    const zo_device *device = &e->device;
    if (!zo_device_has_optimizer(device))
        return zo_fail(ZO_ERR_NOT_SUPPORTED,
                       "offload_optimizer.device \"none\": the %s device has no optimizer operations "
                       "(adam_grad_stats, adam_step, copy_pageable): set offload_optimizer.device to \"cpu\"",
                       zo_device_name(device));
    zo_device_update *u = calloc(1, sizeof *u);
    if (!u)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "zo_engine_create: out of memory");
    /* from here on the strategy's destroy frees what was made, even after a failure */
    e->device_update = u;
    e->optimizer_state = &zo_optimizer_state_device;
    size_t elems = e->layout.padded_elems,
           moment_bytes = elems * zo_dtype_size(e->settings.moments_dtype),
           scratch_bytes = zo_device_adam_stats_scratch_bytes(device);
    zo_status status;
    if ((status = zo_device_alloc_device(device, elems * sizeof(float), (void **)&u->master)) ||
        (status = zo_device_alloc_device(device, moment_bytes, &u->exp_avg)) ||
        (status = zo_device_alloc_device(device, moment_bytes, &u->exp_avg_sq)) ||
        (scratch_bytes && (status = zo_device_alloc_device(device, scratch_bytes, &u->scratch))) ||
        (status = zo_device_stream_create(device, "device update", &u->stream)))
        return status;
    /* the master weights set so far (none at engine creation) */
    return e->optimizer_state->put_master(e, 0, elems);
}

static void zo_device_state_destroy(zo_engine *e)
{
    zo_device_update *u = e->device_update;
    if (!u)
        return;
    const zo_device *device = &e->device;
    if (u->stream) {
        zo_device_stream_synchronize(device, u->stream); /* an error here has nobody to go to */
        zo_device_stream_destroy(device, u->stream);
    }
    zo_device_free_device(device, u->master);
    zo_device_free_device(device, u->exp_avg);
    zo_device_free_device(device, u->exp_avg_sq);
    zo_device_free_device(device, u->scratch);
    free(u);
    e->device_update = NULL;
}

/* Worker: the stats of bucket b's device gradients (written and complete). */
static zo_status zo_device_bucket_stats(zo_engine *e, size_t bucket, zo_grad_stats *out)
{
    size_t begin = zo_bucket_begin(&e->layout, bucket), end = zo_bucket_end(&e->layout, bucket);
    return zo_device_adam_grad_stats(&e->device, (char *)e->device_grads + begin * e->dtype_bytes, e->dtype,
                                     end - begin, e->device_update->scratch, e->device_update->stream, out);
}

/* Worker: Adam on bucket b with e->plan, the new weights written into the device
 * weights, e->h2d_done[b] recorded after it, and the bucket published. */
static zo_status zo_device_update_bucket(zo_engine *e, size_t bucket)
{
    zo_device_update *u = e->device_update;
    const zo_update_plan *plan = &e->plan;
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
    /* the loop's forward has waited for the last update of this bucket by now */
    zo_status status = zo_device_event_synchronize(&e->device, e->h2d_done[bucket]);
    if (status == ZO_OK) {
        status = zo_device_adam_step(&e->device, &plan->hparams, plan->step, &buffers, u->stream);
        /* even after a failure: nobody hangs on the event */
        zo_status recorded = zo_device_event_record(&e->device, e->h2d_done[bucket], u->stream);
        status = status ? status : recorded;
    }
    zo_engine_publish(e, bucket, plan->generation);
    return status;
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
    zo_status status = zo_device_stream_synchronize(&e->device, u->stream);
    for (size_t k = 0; status == ZO_OK && k < (moments ? 3u : 1u); k++)
        status = to_device ? zo_device_copy_pageable(&e->device, parts[k].device, parts[k].host, parts[k].bytes, true)
                           : zo_device_copy_pageable(&e->device, parts[k].host, parts[k].device, parts[k].bytes, false);
    return status;
}

static zo_status zo_device_put_master(zo_engine *e, size_t offset, size_t elems)
{
    return zo_copy_state(e, offset, elems, false, true);
}

static zo_status zo_device_get_master(zo_engine *e, size_t offset, size_t elems)
{
    return zo_copy_state(e, offset, elems, false, false);
}

static zo_status zo_device_put_state(zo_engine *e) { return zo_copy_state(e, 0, e->layout.padded_elems, true, true); }

static zo_status zo_device_get_state(zo_engine *e) { return zo_copy_state(e, 0, e->layout.padded_elems, true, false); }

static zo_status zo_device_state_synchronize(zo_engine *e)
{
    return zo_device_stream_synchronize(&e->device, e->device_update->stream);
}

const zo_optimizer_state_ops zo_optimizer_state_device = {
    .name = "device",
    .copies_gradients_down = false, /* the stats and Adam read them where they are */
    .bucket_stats = zo_device_bucket_stats,
    .update_bucket = zo_device_update_bucket,
    .put_master = zo_device_put_master,
    .get_master = zo_device_get_master,
    .put_state = zo_device_put_state,
    .get_state = zo_device_get_state,
    .synchronize = zo_device_state_synchronize,
    .destroy = zo_device_state_destroy,
};

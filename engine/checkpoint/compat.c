/* Whether an engine can take a checkpoint: what must match (the shards' layout and
 * meaning) is compared field by field, so the refusal names the difference. What may
 * change on resume (learning rate, schedule, clipping, loss-scale settings) is not. */
#include <stdio.h>
#include <string.h>

#include "manifest.h"
#include "error.h"

static zo_status zo_mismatch(const char *dir, const char *what, unsigned long long saved,
                             unsigned long long now)
{
    return zo_fail(ZO_ERR_CONFIG,
                   "zo_engine_load: checkpoint %s was saved with %s %llu, this engine has %llu",
                   dir, what, saved, now);
}

static zo_status zo_check_params(const zo_manifest *m, const zo_engine *e, const char *dir)
{
    if (m->param_count != e->layout.param_count)
        return zo_mismatch(dir, "parameter count", m->param_count, e->layout.param_count);
    for (size_t i = 0; i < m->param_count; i++) {
        if (strcmp(m->param_names[i], e->layout.param_names[i]) != 0)
            return zo_fail(
                ZO_ERR_CONFIG,
                "zo_engine_load: checkpoint %s has parameter %zu named \"%s\", this engine "
                "\"%s\": register the same parameters in the same order",
                dir, i, m->param_names[i], e->layout.param_names[i]);
        if (m->param_elems[i] != e->layout.param_elems[i] ||
            m->param_offset[i] != e->layout.param_offset[i])
            return zo_fail(ZO_ERR_CONFIG,
                           "zo_engine_load: checkpoint %s has parameter %s of %llu elements at "
                           "%llu, this engine %zu at %zu",
                           dir, m->param_names[i], (unsigned long long)m->param_elems[i],
                           (unsigned long long)m->param_offset[i], e->layout.param_elems[i],
                           e->layout.param_offset[i]);
    }
    return ZO_OK;
}

static zo_status zo_check_dtype(const char *dir, const char *what, zo_dtype saved, zo_dtype now)
{
    if (saved == now)
        return ZO_OK;
    return zo_fail(ZO_ERR_CONFIG,
                   "zo_engine_load: checkpoint %s was saved with %s %s, this engine uses %s", dir,
                   what, zo_dtype_name(saved), zo_dtype_name(now));
}

zo_status zo_manifest_check_engine(const zo_manifest *m, const zo_engine *e, const char *dir)
{
    zo_status status;
    if (m->ranks != e->ranks)
        return zo_fail(ZO_ERR_CONFIG,
                       "zo_engine_load: checkpoint %s was saved by %llu rank(s), this run has %zu: "
                       "resume with the same rank count (zo-bench ckpt-export merges the shards "
                       "into one file of weights)",
                       dir, (unsigned long long)m->ranks, e->ranks);
    if ((status = zo_check_params(m, e, dir)) != ZO_OK)
        return status;
    if (m->bucket_elems != e->layout.bucket_elems)
        return zo_mismatch(dir,
                           "buckets of elements (zero_optimization.reduce_bucket_size, rounded)",
                           m->bucket_elems, e->layout.bucket_elems);
    if (m->padded_elems != e->layout.padded_elems)
        return zo_mismatch(dir, "padded elements", m->padded_elems, e->layout.padded_elems);
    if ((status = zo_check_dtype(dir, "weights (fp16/bf16)", m->dtype, e->dtype)) != ZO_OK ||
        (status = zo_check_dtype(dir, "moments (zo.moments_dtype)", m->moments_dtype,
                                 e->settings.moments_dtype)))
        return status;
    if (m->micro_steps % e->accumulation_steps != 0)
        return zo_fail(
            ZO_ERR_CONFIG,
            "zo_engine_load: checkpoint %s was saved after %llu micro-steps, not a whole "
            "number of this engine's accumulations of %llu",
            dir, (unsigned long long)m->micro_steps, (unsigned long long)e->accumulation_steps);
    return ZO_OK;
}

void zo_manifest_note_version(const zo_manifest *m, zo_engine *e, const char *dir)
{
    if (m->version >= 2)
        return;
    size_t used = strlen(e->notice);
    snprintf(e->notice + used, sizeof e->notice - used,
             "%szo_engine_load: %s is a version-%llu checkpoint, without the checksums of its "
             "manifest and shard headers (their fields were range-checked only); the next save "
             "writes version %d",
             used ? "; " : "", dir, (unsigned long long)m->version, ZO_CHECKPOINT_VERSION);
}

/* The single-rank communicator: rank 0 of 1, where every collective is a copy of this
 * rank's own data (or nothing, in place). */
#include "comm.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

static int zo_single_rank(void *ctx)
{
    (void)ctx;
    return 0;
}

static int zo_single_size(void *ctx)
{
    (void)ctx;
    return 1;
}

static zo_status zo_single_allreduce_sum_f64(void *ctx, double *values, size_t count)
{
    (void)ctx;
    if (!values && count > 0)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "single comm: allreduce_sum_f64: values is NULL");
    return ZO_OK; /* the sum over one rank */
}

static zo_status zo_single_allreduce_or(void *ctx, bool *flag)
{
    (void)ctx;
    if (!flag)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "single comm: allreduce_or: flag is NULL");
    return ZO_OK;
}

static zo_status zo_single_reduce_scatter_sum(void *ctx, const void *send, void *recv,
                                              size_t recv_elems, zo_dtype dtype)
{
    (void)ctx;
    size_t elem_bytes = zo_dtype_size(dtype);
    if (elem_bytes == 0)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "single comm: reduce_scatter_sum: bad dtype %d",
                       (int)dtype);
    if ((!send || !recv) && recv_elems > 0)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT,
                       "single comm: reduce_scatter_sum: send or recv is NULL");
    /* One rank's sum is its own value: widening f16/bf16 to f32 and rounding back is exact. */
    if (send != recv && recv_elems > 0)
        memcpy(recv, send, recv_elems * elem_bytes);
    return ZO_OK;
}

static zo_status zo_single_allgather(void *ctx, const void *send, void *recv, size_t send_bytes)
{
    (void)ctx;
    if ((!send || !recv) && send_bytes > 0)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "single comm: allgather: send or recv is NULL");
    if (send != recv && send_bytes > 0)
        memcpy(recv, send, send_bytes);
    return ZO_OK;
}

static zo_status zo_single_allgatherv(void *ctx, const void *send, void *recv, const size_t *recv_bytes)
{
    if (!recv_bytes)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "single comm: allgatherv: recv_bytes is NULL");
    return zo_single_allgather(ctx, send, recv, recv_bytes[0]);
}

static zo_status zo_single_duplicate(void *ctx, zo_comm *out)
{
    (void)ctx;
    return zo_comm_single_create(out);
}

static zo_status zo_single_barrier(void *ctx)
{
    (void)ctx;
    return ZO_OK;
}

static void zo_single_destroy(void *ctx) { (void)ctx; /* no state */ }

static const zo_comm_ops zo_single_ops = {
    .name = "single",
    .rank = zo_single_rank,
    .size = zo_single_size,
    .allreduce_sum_f64 = zo_single_allreduce_sum_f64,
    .allreduce_or = zo_single_allreduce_or,
    .reduce_scatter_sum = zo_single_reduce_scatter_sum,
    .allgather = zo_single_allgather,
    .allgatherv = zo_single_allgatherv,
    .duplicate = zo_single_duplicate,
    .barrier = zo_single_barrier,
    .destroy = zo_single_destroy,
};

zo_status zo_comm_single_create(zo_comm *out)
{
    if (!out)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_comm_single_create: out is NULL");
    *out = (zo_comm){.ops = &zo_single_ops, .ctx = NULL};
    return ZO_OK;
}

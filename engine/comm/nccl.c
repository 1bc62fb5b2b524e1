/* The NCCL communicator: the collectives of comm.h on GPU memory, one rank per
 * GPU, bootstrapped through MPI (rank 0's ncclUniqueId reaches the others over the MPI
 * communicator). Each operation runs on the communicator's own stream and waits for it,
 * so the ops table keeps its blocking meaning; the scalar all-reduces stage their values
 * through a small device buffer. */
#include "nccl_comm.h"

#include <cuda_runtime.h>
#include <nccl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "device/cuda/check.h"
#include "error.h"

typedef struct zo_nccl_comm {
    ncclComm_t comm;
    cudaStream_t stream;
    zo_comm bootstrap; /* MPI, which made the ranks: kept so MPI lives as long as NCCL */
    double *device_scalars; /* the scalar all-reduces' staging, ZO_NCCL_SCALARS doubles */
    int rank, size, ordinal;
} zo_nccl_comm;

enum { ZO_NCCL_SCALARS = 64 };

static zo_status zo_nccl_fail(const char *call, ncclResult_t result)
{
    return zo_fail(ZO_ERR_DEVICE, "%s failed: %s", call, ncclGetErrorString(result));
}

static zo_status zo_nccl_cuda_fail(const char *call, cudaError_t error)
{
    return ZO_CUDA_FAIL(ZO_ERR_DEVICE, call, error);
}

/* Waits for the collective just queued; NCCL reports errors of running collectives
 * asynchronously, so ask it too. */
static zo_status zo_nccl_finish(zo_nccl_comm *nccl, const char *call)
{
    cudaError_t error = cudaStreamSynchronize(nccl->stream);
    if (error != cudaSuccess)
        return zo_nccl_cuda_fail(call, error);
    ncclResult_t async = ncclSuccess;
    ncclResult_t result = ncclCommGetAsyncError(nccl->comm, &async);
    if (result != ncclSuccess)
        return zo_nccl_fail("ncclCommGetAsyncError", result);
    return async == ncclSuccess ? ZO_OK : zo_nccl_fail(call, async);
}

static zo_status zo_nccl_dtype(zo_dtype dtype, ncclDataType_t *out)
{
    switch (dtype) {
    case ZO_DTYPE_F32: *out = ncclFloat32; return ZO_OK;
    case ZO_DTYPE_F16: *out = ncclFloat16; return ZO_OK;
    case ZO_DTYPE_BF16: *out = ncclBfloat16; return ZO_OK;
    default: break; /* the 8-bit moments' codes are never reduced */
    }
    return zo_fail(ZO_ERR_INVALID_ARGUMENT, "nccl comm: unknown dtype %d", (int)dtype);
}

static int zo_nccl_rank(void *ctx) { return ((zo_nccl_comm *)ctx)->rank; }
static int zo_nccl_size(void *ctx) { return ((zo_nccl_comm *)ctx)->size; }

/* values are host memory (the engine's scalars): through the device buffer, in chunks. */
static zo_status zo_nccl_allreduce_sum_f64(void *ctx, double *values, size_t count)
{
    zo_nccl_comm *nccl = ctx;
    if (!values && count > 0)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "nccl comm: allreduce_sum_f64: values is NULL");
    for (size_t done = 0; done < count; done += ZO_NCCL_SCALARS) {
        size_t chunk = count - done < ZO_NCCL_SCALARS ? count - done : ZO_NCCL_SCALARS;
        cudaError_t error = cudaMemcpyAsync(nccl->device_scalars, values + done, chunk * sizeof(double),
                                            cudaMemcpyHostToDevice, nccl->stream);
        if (error != cudaSuccess)
            return zo_nccl_cuda_fail("cudaMemcpyAsync", error);
        ncclResult_t result = ncclAllReduce(nccl->device_scalars, nccl->device_scalars, chunk, ncclFloat64,
                                            ncclSum, nccl->comm, nccl->stream);
        if (result != ncclSuccess)
            return zo_nccl_fail("ncclAllReduce", result);
        error = cudaMemcpyAsync(values + done, nccl->device_scalars, chunk * sizeof(double), cudaMemcpyDeviceToHost,
                                nccl->stream);
        if (error != cudaSuccess)
            return zo_nccl_cuda_fail("cudaMemcpyAsync", error);
        zo_status status = zo_nccl_finish(nccl, "ncclAllReduce");
        if (status != ZO_OK)
            return status;
    }
    return ZO_OK;
}

static zo_status zo_nccl_allreduce_or(void *ctx, bool *flag)
{
    if (!flag)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "nccl comm: allreduce_or: flag is NULL");
    double count = *flag ? 1.0 : 0.0; /* a sum of 0/1 is an OR once compared with 0 */
    zo_status status = zo_nccl_allreduce_sum_f64(ctx, &count, 1);
    if (status == ZO_OK)
        *flag = count > 0.0;
    return status;
}

/* send, recv: device memory. NCCL sums f16/bf16 in their own type (its arithmetic, not
 * the f32-then-round-once of the MPI backend). In place (send == recv): NCCL wants the
 * result in this rank's own block; comm.h promises the first block, so move it there. */
static zo_status zo_nccl_reduce_scatter_sum(void *ctx, const void *send, void *recv, size_t recv_elems,
                                            zo_dtype dtype)
{
    zo_nccl_comm *nccl = ctx;
    ncclDataType_t type = ncclFloat32;
    zo_status status = zo_nccl_dtype(dtype, &type);
    if (status != ZO_OK)
        return status;
    if ((!send || !recv) && recv_elems > 0)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "nccl comm: reduce_scatter_sum: %s is NULL", !send ? "send" : "recv");
    size_t bytes = recv_elems * zo_dtype_size(dtype);
    bool in_place = send == recv;
    void *target = in_place ? (char *)recv + (size_t)nccl->rank * bytes : recv;
    ncclResult_t result = ncclReduceScatter(send, target, recv_elems, type, ncclSum, nccl->comm, nccl->stream);
    if (result != ncclSuccess)
        return zo_nccl_fail("ncclReduceScatter", result);
    if (in_place && nccl->rank != 0) {
        cudaError_t error = cudaMemcpyAsync(recv, target, bytes, cudaMemcpyDeviceToDevice, nccl->stream);
        if (error != cudaSuccess)
            return zo_nccl_cuda_fail("cudaMemcpyAsync", error);
    }
    return zo_nccl_finish(nccl, "ncclReduceScatter");
}

/* send, recv: device memory; NCCL's in-place convention is comm.h's. */
static zo_status zo_nccl_allgather(void *ctx, const void *send, void *recv, size_t send_bytes)
{
    zo_nccl_comm *nccl = ctx;
    if ((!send || !recv) && send_bytes > 0)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "nccl comm: allgather: %s is NULL", !send ? "send" : "recv");
    ncclResult_t result = ncclAllGather(send, recv, send_bytes, ncclChar, nccl->comm, nccl->stream);
    if (result != ncclSuccess)
        return zo_nccl_fail("ncclAllGather", result);
    return zo_nccl_finish(nccl, "ncclAllGather");
}

static zo_status zo_nccl_barrier(void *ctx)
{
    double nothing = 0.0;
    return zo_nccl_allreduce_sum_f64(ctx, &nothing, 1);
}

static void zo_nccl_destroy(void *ctx)
{
    zo_nccl_comm *nccl = ctx;
    if (!nccl)
        return;
    if (nccl->comm)
        ncclCommDestroy(nccl->comm);
    if (nccl->device_scalars)
        cudaFree(nccl->device_scalars);
    if (nccl->stream)
        cudaStreamDestroy(nccl->stream);
    if (nccl->bootstrap.ops)
        nccl->bootstrap.ops->destroy(nccl->bootstrap.ctx);
    free(nccl);
}

static const zo_comm_ops zo_nccl_ops = {
    .name = "nccl",
    .rank = zo_nccl_rank,
    .size = zo_nccl_size,
    .allreduce_sum_f64 = zo_nccl_allreduce_sum_f64,
    .allreduce_or = zo_nccl_allreduce_or,
    .reduce_scatter_sum = zo_nccl_reduce_scatter_sum,
    .allgather = zo_nccl_allgather,
    .barrier = zo_nccl_barrier,
    .set_timeout = NULL, /* not yet: NCCL's own watchdog would need ncclCommAbort */
    .destroy = zo_nccl_destroy,
};

/* Rank 0 makes the unique id; an all-gather over MPI hands it to everyone. */
static zo_status zo_nccl_share_id(zo_nccl_comm *nccl, ncclUniqueId *id)
{
    ncclUniqueId *all = calloc((size_t)nccl->size, sizeof *all);
    if (!all)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "zo_comm_nccl_create: no memory");
    zo_status status = ZO_OK;
    if (nccl->rank == 0) {
        ncclResult_t result = ncclGetUniqueId(&all[0]);
        if (result != ncclSuccess)
            status = zo_nccl_fail("ncclGetUniqueId", result);
    }
    /* every rank joins the gather, even one that failed: the others must not hang */
    zo_status gathered = nccl->bootstrap.ops->allgather(nccl->bootstrap.ctx, &all[nccl->rank], all, sizeof *all);
    bool failed = status != ZO_OK || gathered != ZO_OK;
    zo_status agreed = nccl->bootstrap.ops->allreduce_or(nccl->bootstrap.ctx, &failed);
    if (status == ZO_OK)
        status = gathered != ZO_OK ? gathered : agreed;
    if (status == ZO_OK && failed)
        status = zo_fail(ZO_ERR_PEER, "zo_comm_nccl_create: rank 0 could not make the NCCL unique id");
    *id = all[0];
    free(all);
    return status;
}

zo_status zo_comm_nccl_create(int ordinal, zo_comm *out)
{
    if (!out)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_comm_nccl_create: out is NULL");
    *out = (zo_comm){0};
    zo_nccl_comm *nccl = calloc(1, sizeof *nccl);
    if (!nccl)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "zo_comm_nccl_create: no memory");
    nccl->ordinal = ordinal;
    zo_status status = zo_comm_mpi_create(&nccl->bootstrap);
    if (status != ZO_OK) {
        free(nccl);
        return status;
    }
    nccl->rank = nccl->bootstrap.ops->rank(nccl->bootstrap.ctx);
    nccl->size = nccl->bootstrap.ops->size(nccl->bootstrap.ctx);
    cudaError_t error = cudaSetDevice(ordinal);
    if (error == cudaSuccess)
        error = cudaStreamCreateWithFlags(&nccl->stream, cudaStreamNonBlocking);
    if (error == cudaSuccess)
        error = cudaMalloc((void **)&nccl->device_scalars, ZO_NCCL_SCALARS * sizeof(double));
    /* the GPU step is local; agree on it before NCCL's collective init */
    bool failed = error != cudaSuccess;
    zo_status local = failed ? zo_nccl_cuda_fail("zo_comm_nccl_create: GPU setup", error) : ZO_OK;
    status = nccl->bootstrap.ops->allreduce_or(nccl->bootstrap.ctx, &failed);
    if (local != ZO_OK || status != ZO_OK || failed) {
        if (local == ZO_OK && status == ZO_OK)
            status = zo_fail(ZO_ERR_PEER, "zo_comm_nccl_create: another rank could not set up its GPU");
        zo_nccl_destroy(nccl);
        return local != ZO_OK ? local : status;
    }
    ncclUniqueId id;
    if ((status = zo_nccl_share_id(nccl, &id)) != ZO_OK) {
        zo_nccl_destroy(nccl);
        return status;
    }
    ncclResult_t result = ncclCommInitRank(&nccl->comm, nccl->size, id, nccl->rank);
    if (result != ncclSuccess) {
        nccl->comm = NULL;
        status = zo_nccl_fail("ncclCommInitRank", result);
        zo_nccl_destroy(nccl);
        return status;
    }
    *out = (zo_comm){.ops = &zo_nccl_ops, .ctx = nccl};
    return ZO_OK;
}

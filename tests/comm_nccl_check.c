/* The NCCL communicator (engine/comm_nccl.c) on real GPUs, under `mpirun -np N` with one
 * GPU per rank (N = 1 on a one-GPU machine: NCCL refuses two ranks on one GPU). Each
 * collective is checked against sums computed here from every rank's data. Exits 77
 * (meson's "skipped") with the reason where there is no usable GPU.
 * A plain program, not Criterion: Criterion forks each test, which MPI does not allow. */
#include <cuda_runtime.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "comm/nccl_comm.h"
#include "mpi_check_support.h"
#include "zo/zo.h"

const char check_name[] = "comm_nccl_check";

static void check_cuda(cudaError_t error, const char *what)
{
    if (error != cudaSuccess)
        failf("%s: %s", what, cudaGetErrorString(error));
}

/* f32 reduce-scatter and all-gather, in place and not; small integers: exact sums. */
static void check_collectives(const zo_comm *comm, int rank, int size)
{
    enum { BLOCK = 1031 };
    size_t total = (size_t)size * BLOCK;
    float *host = malloc(total * sizeof *host), *device = NULL, *out = NULL;
    for (size_t i = 0; i < total; i++)
        host[i] = (float)(rank + 1) * (float)(i % 97);
    check_cuda(cudaMalloc((void **)&device, total * sizeof *device), "cudaMalloc");
    check_cuda(cudaMalloc((void **)&out, total * sizeof *out), "cudaMalloc");
    for (int in_place = 0; in_place < 2; in_place++) {
        check_cuda(cudaMemcpy(device, host, total * sizeof *host, cudaMemcpyHostToDevice), "cudaMemcpy");
        float *recv = in_place ? device : out;
        check_ok(comm->ops->reduce_scatter_sum(comm->ctx, device, recv, BLOCK, ZO_DTYPE_F32), "reduce_scatter_sum");
        float result[BLOCK];
        check_cuda(cudaMemcpy(result, recv, sizeof result, cudaMemcpyDeviceToHost), "cudaMemcpy");
        double ranks_sum = (double)size * (size + 1) / 2;
        for (size_t i = 0; i < BLOCK; i++) {
            size_t global = (size_t)rank * BLOCK + i;
            if ((double)result[i] != ranks_sum * (double)(global % 97))
                failf("reduce_scatter_sum: wrong sum%s", in_place ? " (in place)" : "");
        }
    }
    /* all-gather in place: this rank's block already in its slot */
    for (size_t i = 0; i < BLOCK; i++)
        host[(size_t)rank * BLOCK + i] = (float)(rank * 10000 + (int)i);
    check_cuda(cudaMemcpy(device, host, total * sizeof *host, cudaMemcpyHostToDevice), "cudaMemcpy");
    check_ok(comm->ops->allgather(comm->ctx, device + (size_t)rank * BLOCK, device, BLOCK * sizeof(float)),
             "allgather");
    check_cuda(cudaMemcpy(host, device, total * sizeof *host, cudaMemcpyDeviceToHost), "cudaMemcpy");
    for (int r = 0; r < size; r++)
        for (size_t i = 0; i < BLOCK; i++)
            if (host[(size_t)r * BLOCK + i] != (float)(r * 10000 + (int)i))
                failf("allgather: a block differs");
    double scalars[3] = {1.0, (double)rank, 0.5};
    check_ok(comm->ops->allreduce_sum_f64(comm->ctx, scalars, 3), "allreduce_sum_f64");
    if (scalars[0] != size || scalars[1] != (double)size * (size - 1) / 2 || scalars[2] != 0.5 * size)
        failf("allreduce_sum_f64: wrong sums");
    bool flag = rank == size - 1;
    check_ok(comm->ops->allreduce_or(comm->ctx, &flag), "allreduce_or");
    if (!flag)
        failf("allreduce_or: false where the last rank said true");
    cudaFree(device), cudaFree(out), free(host);
}

int main(int argc, char **argv)
{
    int provided = 0, size = 0, gpus = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &my_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    cudaError_t probe = cudaGetDeviceCount(&gpus);
    if (probe != cudaSuccess || gpus < 1) {
        printf("comm_nccl_check: SKIP no usable CUDA device: %s\n",
               probe != cudaSuccess ? cudaGetErrorString(probe) : "no GPU");
        MPI_Finalize();
        return 77;
    }
    zo_comm comm;
    check_ok(zo_comm_nccl_create(my_rank % gpus, &comm), "zo_comm_nccl_create");
    check_collectives(&comm, my_rank, size);
    comm.ops->destroy(comm.ctx);
    printf("comm_nccl_check: rank %d of %d ok\n", my_rank, size);
    MPI_Finalize();
    return 0;
}

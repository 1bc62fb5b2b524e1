/* The NCCL communicator of comm.h (nccl.c), and its stand-in for builds
 * without NCCL or CUDA (nccl_absent.c). Internal. */
#ifndef ZO_COMM_NCCL_H
#define ZO_COMM_NCCL_H

#include "comm.h"

/* One rank per GPU over all the processes of MPI_COMM_WORLD: this process drives GPU
 * `ordinal` (made current on the calling thread). MPI carries the bootstrap (started by
 * zo if nobody has, as zo_comm_mpi_create does). Collective. Differences from comm.h's
 * contract: the buffers of reduce_scatter_sum and allgather are GPU memory, and NCCL
 * sums f16/bf16 in their own type; the scalar all-reduces take host memory. Each call
 * returns once its collective has finished on this GPU.
 * Errors: ZO_ERR_NOT_SUPPORTED (built without NCCL, CUDA or MPI), ZO_ERR_DEVICE (CUDA or
 * NCCL failed, with its message), ZO_ERR_PEER (another rank failed), ZO_ERR_OUT_OF_MEMORY,
 * ZO_ERR_INVALID_ARGUMENT. *out is zeroed on failure. */
zo_status zo_comm_nccl_create(int ordinal, zo_comm *out);

#endif

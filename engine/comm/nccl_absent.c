/* The NCCL communicator in a build without NCCL (or CUDA, or MPI): says so. */
#include "nccl_comm.h"

#include "error.h"

zo_status zo_comm_nccl_create(int ordinal, zo_comm *out)
{
    (void)ordinal;
    if (out)
        *out = (zo_comm){0};
    return zo_fail(ZO_ERR_NOT_SUPPORTED, "no NCCL communicator: libzo was built without NCCL, CUDA or MPI "
                                         "(not found, or -Dnccl/-Dcuda/-Dmpi=disabled)");
}

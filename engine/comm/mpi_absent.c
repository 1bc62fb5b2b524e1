/* The MPI communicator in a build without MPI: says so, so the engine can always ask. */
#include "comm.h"

#include "error.h"

zo_status zo_comm_mpi_create(zo_comm *out)
{
    if (out)
        *out = (zo_comm){0};
    return zo_fail(
        ZO_ERR_NOT_SUPPORTED,
        "no MPI communicator: libzo was built without MPI (not found, or -Dmpi=disabled)");
}

/* zo.comm: which communicator an engine gets. "auto" goes by the launcher's
 * environment, so the same program runs alone or under mpirun without a config change. */
#include "choose.h"

#include <stdio.h>
#include <stdlib.h>

#include "error.h"

/* The world size an MPI launcher announced, 0 when none did: OpenMPI's mpirun sets
 * OMPI_COMM_WORLD_SIZE, MPICH/Hydra and Slurm's PMI set PMI_SIZE. */
static long zo_launcher_world_size(void)
{
    static const char *const names[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *value = getenv(names[i]);
        if (value && *value)
            return strtol(value, NULL, 10);
    }
    return 0;
}

zo_status zo_comm_choose(zo_comm_kind kind, zo_comm *out, char *notice, size_t notice_size)
{
    if (kind == ZO_COMM_SINGLE)
        return zo_comm_single_create(out);
    if (kind == ZO_COMM_MPI)
        return zo_comm_mpi_create(out);
    long world = zo_launcher_world_size();
    if (world <= 1)
        return zo_comm_single_create(out);
    zo_status status = zo_comm_mpi_create(out);
    if (status != ZO_ERR_NOT_SUPPORTED)
        return status;
    /* started by mpirun, but this libzo cannot join the others: say so loudly, since
     * each rank then trains a model of its own */
    snprintf(notice, notice_size, "zo.comm \"auto\": launched as one of %ld MPI ranks but %s; "
             "each rank trains alone (set zo.comm \"mpi\" to make this an error)", world, zo_last_error());
    return zo_comm_single_create(out);
}

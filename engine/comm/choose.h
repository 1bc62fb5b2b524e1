/* Choosing the engine's communicator from zo.comm. Internal. */
#ifndef ZO_COMM_CHOOSE_H
#define ZO_COMM_CHOOSE_H

#include <stddef.h>

#include "comm.h"
#include "zo/config.h"

/* "single": one rank. "mpi": MPI_COMM_WORLD (an error without MPI). "auto": MPI when an
 * MPI launcher started more than one process, else one rank; when MPI is wanted but
 * libzo has none, one rank with `notice` saying why. Collective when MPI is chosen. */
zo_status zo_comm_choose(zo_comm_kind kind, zo_comm *out, char *notice, size_t notice_size);

#endif

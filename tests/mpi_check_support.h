/* What the plain programs run under mpirun share: stopping every rank on the first
 * failure, and checking a zo call. Each program defines `check_name` (its name, for
 * the messages) and sets `my_rank` once MPI is up. */
#ifndef ZO_MPI_CHECK_SUPPORT_H
#define ZO_MPI_CHECK_SUPPORT_H

#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "zo/status.h"

extern const char check_name[];
static int my_rank = -1;

/* Reports a failure and stops every rank (one rank exiting alone would leave the
 * others waiting in a collective). */
static inline void failf(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fprintf(stderr, "%s: rank %d: ", check_name, my_rank);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (initialized && !finalized)
        MPI_Abort(MPI_COMM_WORLD, 1);
    exit(1);
}

static inline void check_ok(zo_status status, const char *what)
{
    if (status != ZO_OK)
        failf("%s: %s: %s", what, zo_status_name(status), zo_last_error());
}

#endif

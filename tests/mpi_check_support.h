/* What the plain programs run under mpirun share: a failure that stops every rank (one
 * rank exiting alone would leave the others waiting in a collective). Define
 * MPI_CHECK_PROGRAM (the program's name, for messages) before including this. */
#ifndef ZO_MPI_CHECK_SUPPORT_H
#define ZO_MPI_CHECK_SUPPORT_H

#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "zo/zo.h"

/* This process's rank, for messages; -1 until the program knows it. */
static int mpi_check_rank = -1;

/* Reports the failure with the program and rank and stops every rank. */
static void failf(const char *format, ...) __attribute__((format(printf, 1, 2), noreturn));
static void failf(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fprintf(stderr, "%s: rank %d: ", MPI_CHECK_PROGRAM, mpi_check_rank);
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

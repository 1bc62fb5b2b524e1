/* The MPI communicator (engine/comm_mpi.c) across real processes: run under
 * `mpirun -np N`, each rank checks every collective against sums it computes itself
 * from every rank's (rank-dependent) data, on uneven sizes, in place and not.
 * A plain program, not Criterion: Criterion forks each test, which MPI does not allow.
 * `--init-first` makes the program initialize MPI itself, so zo must leave it alone. */
#include <mpi.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm.h"
#include "mpi_check_support.h"
#include "zo/zo.h"

const char check_name[] = "comm_mpi_check";

/* Sizes that are not multiples of anything a vector unit or MPI's pipelining likes. */
static const size_t sizes[] = {0, 1, 7, 1000, 4099};
enum { SIZE_COUNT = sizeof sizes / sizeof sizes[0] };

static void check_allreduce_sum(const zo_comm *comm, int rank, int size)
{
    for (size_t s = 0; s < SIZE_COUNT; s++) {
        size_t n = sizes[s];
        double *values = malloc((n + 1) * sizeof *values);
        for (size_t i = 0; i < n; i++)
            values[i] = rank * 1000.0 + (double)i + 0.5; /* sums are exact in f64 */
        check_ok(comm->ops->allreduce_sum_f64(comm->ctx, values, n), "allreduce_sum_f64");
        for (size_t i = 0; i < n; i++) {
            double expected = 1000.0 * size * (size - 1) / 2 + size * ((double)i + 0.5);
            if (values[i] != expected)
                failf("allreduce_sum_f64 n=%zu [%zu] = %.17g, expected %.17g", n, i, values[i],
                      expected);
        }
        free(values);
    }
}

static void check_allreduce_or(const zo_comm *comm, int rank, int size)
{
    for (int who = -1; who < size; who++) { /* nobody, then each rank alone */
        bool flag = rank == who;
        check_ok(comm->ops->allreduce_or(comm->ctx, &flag), "allreduce_or");
        if (flag != (who >= 0))
            failf("allreduce_or with rank %d true gave %d", who, (int)flag);
    }
}

/* Rank r's element j of block b, before its rounding to `dtype`: small values on a grid
 * of 2^-10, so every f32 sum of the rounded inputs is exact in any order, and the one
 * rounding back to f16/bf16 is the only rounding of the reduction. */
static float element(int r, int b, size_t j, zo_dtype dtype)
{
    float value = (float)((r * 7 + b * 3 + (int)(j % 13)) % 17) + (float)(j % 5) * 0x1p-10f;
    if (dtype == ZO_DTYPE_BF16)
        value = (float)((r * 7 + b * 3 + (int)(j % 13)) % 17) * 0.125f + (float)(j % 3) * 0x1p-7f;
    return (r + (int)j) % 2 ? -value : value;
}

static void store(void *buffer, size_t i, float value, zo_dtype dtype)
{
    if (dtype == ZO_DTYPE_F32)
        ((float *)buffer)[i] = value;
    else
        ((uint16_t *)buffer)[i] =
            dtype == ZO_DTYPE_F16 ? zo_f32_to_f16(value) : zo_f32_to_bf16(value);
}

/* What `store` put there, widened back to f32. */
static float sent(int r, int b, size_t j, zo_dtype dtype)
{
    float value = element(r, b, j, dtype);
    if (dtype == ZO_DTYPE_F16)
        return zo_f16_to_f32(zo_f32_to_f16(value));
    if (dtype == ZO_DTYPE_BF16)
        return zo_bf16_to_f32(zo_f32_to_bf16(value));
    return value;
}

static void check_reduce_scatter(const zo_comm *comm, int rank, int size)
{
    const zo_dtype dtypes[] = {ZO_DTYPE_F32, ZO_DTYPE_F16, ZO_DTYPE_BF16};
    for (size_t d = 0; d < 3; d++) {
        zo_dtype dtype = dtypes[d];
        size_t elem = zo_dtype_size(dtype);
        for (size_t s = 0; s < SIZE_COUNT; s++)
            for (int in_place = 0; in_place < 2; in_place++) {
                size_t n = sizes[s];
                uint8_t *send = malloc((size_t)size * n * elem + 1);
                uint8_t *recv = in_place ? send : malloc(n * elem + 1);
                for (int b = 0; b < size; b++)
                    for (size_t j = 0; j < n; j++)
                        store(send, (size_t)b * n + j, element(rank, b, j, dtype), dtype);
                check_ok(comm->ops->reduce_scatter_sum(comm->ctx, send, recv, n, dtype),
                         "reduce_scatter_sum");
                uint8_t *expected = malloc(n * elem + 1);
                for (size_t j = 0; j < n; j++) {
                    float sum = 0;
                    for (int r = 0; r < size; r++)
                        sum += sent(r, rank, j, dtype);
                    store(expected, j, sum, dtype);
                }
                for (size_t j = 0; j < n; j++)
                    if (memcmp(recv + j * elem, expected + j * elem, elem) != 0)
                        failf("reduce_scatter_sum %s n=%zu%s: element %zu differs",
                              zo_dtype_name(dtype), n, in_place ? " in place" : "", j);
                free(expected);
                if (!in_place)
                    free(recv);
                free(send);
            }
    }
    float x = 0;
    if (comm->ops->reduce_scatter_sum(comm->ctx, &x, &x, 1, (zo_dtype)9) != ZO_ERR_INVALID_ARGUMENT)
        failf("reduce_scatter_sum accepted a bad dtype");
}

static void check_allgather(const zo_comm *comm, int rank, int size)
{
    for (size_t s = 0; s < SIZE_COUNT; s++)
        for (int in_place = 0; in_place < 2; in_place++) {
            size_t n = sizes[s] + 6; /* odd byte counts: 6, 7, 13, ... */
            uint8_t *recv = malloc((size_t)size * n);
            uint8_t *own = malloc(n);
            memset(recv, 0xee, (size_t)size * n);
            for (size_t i = 0; i < n; i++)
                own[i] = (uint8_t)(rank * 31 + i * 7);
            uint8_t *send = own;
            if (in_place) {
                send = recv + (size_t)rank * n;
                memcpy(send, own, n);
            }
            check_ok(comm->ops->allgather(comm->ctx, send, recv, n), "allgather");
            for (int r = 0; r < size; r++)
                for (size_t i = 0; i < n; i++)
                    if (recv[(size_t)r * n + i] != (uint8_t)(r * 31 + i * 7))
                        failf("allgather n=%zu%s: byte %zu of rank %d is %u", n,
                              in_place ? " in place" : "", i, r, recv[(size_t)r * n + i]);
            free(own);
            free(recv);
        }
}

/* Uneven parts, some empty: rank r sends (r * 5 + s) % 7 bytes for size index s. */
static size_t allgatherv_part(int r, size_t s) { return ((size_t)r * 5 + sizes[s]) % 7; }

static void check_allgatherv(const zo_comm *comm, int rank, int size)
{
    size_t *bytes = malloc((size_t)size * sizeof *bytes);
    for (size_t s = 0; s < SIZE_COUNT; s++) {
        size_t total = 0;
        for (int r = 0; r < size; r++)
            total += bytes[r] = allgatherv_part(r, s);
        uint8_t own[8], *recv = malloc(total + 1);
        memset(recv, 0xee, total + 1);
        for (size_t i = 0; i < bytes[rank]; i++)
            own[i] = (uint8_t)(rank * 29 + i * 3 + s);
        check_ok(zo_comm_allgatherv(comm, own, recv, bytes), "allgatherv");
        size_t at = 0;
        for (int r = 0; r < size; r++)
            for (size_t i = 0; i < bytes[r]; i++, at++)
                if (recv[at] != (uint8_t)(r * 29 + i * 3 + s))
                    failf("allgatherv case %zu: byte %zu of rank %d is %u", s, i, r, recv[at]);
        if (recv[total] != 0xee)
            failf("allgatherv case %zu: wrote past the %zu bytes", s, total);
        free(recv);
    }
    free(bytes);
}

/* A duplicate's collectives never meet the original's: two threads run them at once,
 * as the engine's worker and stage 3's fetch stream do. */
typedef struct gather_thread {
    const zo_comm *comm;
    int rank, size;
} gather_thread;

static void *run_allgathers(void *arg)
{
    const gather_thread *t = arg;
    for (int round = 0; round < 50; round++)
        check_allgatherv(t->comm, t->rank, t->size);
    return NULL;
}

static void check_duplicate_runs_beside(const zo_comm *comm, int rank, int size)
{
    zo_comm copy;
    check_ok(zo_comm_duplicate(comm, &copy), "duplicate");
    if (zo_comm_size(&copy) != size || zo_comm_rank(&copy) != rank)
        failf("duplicate: rank %d of %d, expected %d of %d", zo_comm_rank(&copy), zo_comm_size(&copy), rank, size);
    gather_thread beside = {&copy, rank, size};
    pthread_t thread;
    if (pthread_create(&thread, NULL, run_allgathers, &beside) != 0)
        failf("pthread_create failed");
    for (int round = 0; round < 50; round++)
        check_allreduce_sum(comm, rank, size);
    pthread_join(thread, NULL);
    zo_comm_destroy(&copy);
}

/* A program that started MPI at MPI_THREAD_FUNNELED allows MPI calls from its main
 * thread only, which the engine's worker thread would break: zo must refuse. */
static int check_funneled_is_refused(int *argc, char ***argv)
{
    int provided = 0;
    MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &my_rank);
    zo_comm refused;
    zo_status status = zo_comm_mpi_create(&refused);
    if (provided == MPI_THREAD_FUNNELED &&
        (status != ZO_ERR_NOT_SUPPORTED || !strstr(zo_last_error(), "MPI_THREAD_FUNNELED")))
        failf("zo_comm_mpi_create under MPI_THREAD_FUNNELED: %s (%s), expected ZO_ERR_NOT_SUPPORTED",
              zo_status_name(status), zo_last_error());
    if (status == ZO_OK)
        refused.ops->destroy(refused.ctx);
    printf("comm_mpi_check: rank %d ok (MPI_THREAD_FUNNELED refused: %s)\n", my_rank, zo_last_error());
    MPI_Finalize();
    return 0;
}

int main(int argc, char **argv)
{
    bool init_first = argc > 1 && strcmp(argv[1], "--init-first") == 0;
    if (argc > 1 && strcmp(argv[1], "--init-funneled") == 0)
        return check_funneled_is_refused(&argc, &argv);
    if (init_first) {
        int provided;
        MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
    }

    /* Two communicators at once: destroying the first must not finalize MPI under the
     * second. */
    zo_comm first, comm;
    check_ok(zo_comm_mpi_create(&first), "zo_comm_mpi_create");
    check_ok(zo_comm_mpi_create(&comm), "zo_comm_mpi_create (second)");
    first.ops->destroy(first.ctx);

    int rank = comm.ops->rank(comm.ctx), size = comm.ops->size(comm.ctx);
    my_rank = rank;
    const char *launched = getenv("OMPI_COMM_WORLD_SIZE");
    if (launched && atoi(launched) != size)
        failf("size() is %d, mpirun started %s", size, launched);
    if (rank < 0 || rank >= size || strcmp(comm.ops->name, "mpi") != 0)
        failf("rank %d of %d, name %s", rank, size, comm.ops->name);

    check_allreduce_sum(&comm, rank, size);
    check_allreduce_or(&comm, rank, size);
    check_reduce_scatter(&comm, rank, size);
    check_allgather(&comm, rank, size);
    check_allgatherv(&comm, rank, size);
    check_duplicate_runs_beside(&comm, rank, size);
    check_ok(comm.ops->barrier(comm.ctx), "barrier");
    comm.ops->destroy(comm.ctx);

    /* zo finalizes MPI only when it initialized it. */
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (finalized == init_first)
        failf("after destroy MPI is %s", finalized ? "finalized under its owner" : "still running");
    if (init_first)
        MPI_Finalize();
    printf("comm_mpi_check: rank %d of %d ok%s\n", rank, size,
           init_first ? " (MPI initialized by the program)" : "");
    return 0;
}

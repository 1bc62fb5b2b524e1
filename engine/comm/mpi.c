/* The MPI communicator: each collective is a non-blocking MPI call on a duplicate of
 * MPI_COMM_WORLD whose errors return (turned into ZO_ERR_DEVICE with MPI's message),
 * waited for with a deadline, so that a rank that is gone or stopped taking part
 * gives ZO_ERR_TIMEOUT instead of a hang. */
#include "comm.h"

#include <limits.h>
#include <math.h>
#include <mpi.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "zo/adam.h"

typedef struct zo_mpi_comm {
    MPI_Comm comm; /* our duplicate of MPI_COMM_WORLD */
    int rank, size;
    bool owns_mpi; /* zo initialized MPI for this communicator */
    bool serialize; /* below MPI_THREAD_MULTIPLE: every MPI call holds zo_mpi_call_lock,
                       since the engine's worker and stage 3's fetch stream run
                       collectives (on two communicators) at the same time */
    double timeout_seconds; /* a collective waiting longer fails; 0 = no limit */
    /* "" while usable; after a timeout, what timed out: its requests stay posted (MPI
     * cannot cancel a collective) and may still write into the buffers below, which
     * are then never freed */
    char broken[256];
    double reduced[8]; /* allreduce_sum_f64 goes through it in chunks: an in-flight
                          request must not point into a caller's stack */
    /* reductions: an f32 scratch kept between calls (a fresh one per bucket would
     * page-fault its way through tens of MiB every time) and cpu_adam's vector casts
     * and sums, both made on first use */
    float *scratch;
    size_t scratch_elems;
    int *counts; /* allgatherv's byte counts and displacements, size each (made at create) */
    zo_adam *kernels;
} zo_mpi_comm;

/* Communicators alive that zo initialized MPI for: the last one finalizes it. */
static pthread_mutex_t zo_mpi_lock = PTHREAD_MUTEX_INITIALIZER;
static int zo_mpi_owned_comms;
/* Held around each MPI call when MPI runs below MPI_THREAD_MULTIPLE (see `serialize`).
 * Calls only, never a whole wait: a collective waits by polling, so another thread's
 * collective goes on between the polls. */
static pthread_mutex_t zo_mpi_call_lock = PTHREAD_MUTEX_INITIALIZER;

static void zo_mpi_enter(const zo_mpi_comm *mpi)
{
    if (mpi->serialize)
        pthread_mutex_lock(&zo_mpi_call_lock);
}

static void zo_mpi_leave(const zo_mpi_comm *mpi)
{
    if (mpi->serialize)
        pthread_mutex_unlock(&zo_mpi_call_lock);
}

/* Turns an MPI error code into zo_fail's message: "MPI_Allreduce failed: <MPI's text>". */
static zo_status zo_mpi_fail(const char *call, int code)
{
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    if (MPI_Error_string(code, text, &length) != MPI_SUCCESS)
        snprintf(text, sizeof text, "MPI error %d", code);
    return zo_fail(ZO_ERR_DEVICE, "%s failed: %s", call, text);
}

static double zo_mpi_now(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + 1e-9 * (double)now.tv_nsec;
}

/* How the wait polls: a few polls flat out (a fast collective pays nothing), then
 * yielding the core between polls for 100 ms (ranks that share cores let each other
 * run, and a transfer keeps progressing at full speed: a peer's backward often keeps
 * the worker waiting tens of ms before its data flows, and 10 ms here made zo-bench's
 * 2-rank step 30% slower), then sleeping with a backoff up to 100 us, so a rank that
 * waits seconds for a late peer does not burn a core. */
enum { ZO_MPI_SPIN_POLLS = 64, ZO_MPI_MAX_SLEEP_NS = 100000 };
static const double zo_mpi_yield_seconds = 0.1;

/* Every later collective of a broken communicator fails at once: the ranks' calls no
 * longer pair up. */
static zo_status zo_mpi_check_usable(const zo_mpi_comm *mpi, const char *call)
{
    if (!mpi->broken[0])
        return ZO_OK;
    return zo_fail(ZO_ERR_TIMEOUT, "%s: not started: this communicator is broken since %s; the ranks can no longer "
                                   "agree (destroy the engine and end the run)", call, mpi->broken);
}

/* Waits for `count` requests of `call`, with the deadline of set_timeout. */
static zo_status zo_mpi_wait(zo_mpi_comm *mpi, MPI_Request *requests, int count, const char *call)
{
    double started = zo_mpi_now();
    long sleep_ns = 1000;
    for (unsigned polls = 0;; polls++) {
        int done = 0;
        zo_mpi_enter(mpi);
        int code = MPI_Testall(count, requests, &done, MPI_STATUSES_IGNORE);
        zo_mpi_leave(mpi);
        if (code != MPI_SUCCESS)
            return zo_mpi_fail(call, code);
        if (done)
            return ZO_OK;
        if (polls < ZO_MPI_SPIN_POLLS)
            continue;
        double waited = zo_mpi_now() - started;
        if (mpi->timeout_seconds > 0 && waited > mpi->timeout_seconds) {
            snprintf(mpi->broken, sizeof mpi->broken, "%s timed out after %g s", call, mpi->timeout_seconds);
            return zo_fail(ZO_ERR_TIMEOUT,
                           "%s did not complete in %g s: a rank is gone or stopped taking part (it skipped a "
                           "zo_engine_step, or failed without reaching it); zo.collective_timeout_seconds sets "
                           "this limit",
                           call, mpi->timeout_seconds);
        }
        if (waited < zo_mpi_yield_seconds) {
            sched_yield();
            continue;
        }
        struct timespec pause = {0, sleep_ns};
        nanosleep(&pause, NULL);
        sleep_ns = sleep_ns * 2 < ZO_MPI_MAX_SLEEP_NS ? sleep_ns * 2 : ZO_MPI_MAX_SLEEP_NS;
    }
}

/* Starts a non-blocking collective (its MPI error code) and waits for it. */
static zo_status zo_mpi_complete(zo_mpi_comm *mpi, int started, MPI_Request *request, const char *call)
{
    if (started != MPI_SUCCESS)
        return zo_mpi_fail(call, started);
    return zo_mpi_wait(mpi, request, 1, call);
}

static int zo_mpi_rank(void *ctx) { return ((zo_mpi_comm *)ctx)->rank; }
static int zo_mpi_size(void *ctx) { return ((zo_mpi_comm *)ctx)->size; }

static zo_status zo_mpi_allreduce_sum_f64(void *ctx, double *values, size_t count)
{
    zo_mpi_comm *mpi = ctx;
    if (!values && count > 0)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "mpi comm: allreduce_sum_f64: values is NULL");
    zo_status status = zo_mpi_check_usable(mpi, "MPI_Allreduce");
    /* element-wise sums split into chunks without changing meaning */
    size_t room = sizeof mpi->reduced / sizeof mpi->reduced[0];
    for (size_t done = 0; status == ZO_OK && done < count;) {
        size_t chunk = count - done < room ? count - done : room;
        memcpy(mpi->reduced, values + done, chunk * sizeof *values);
        MPI_Request request;
        zo_mpi_enter(mpi);
        int started = MPI_Iallreduce(MPI_IN_PLACE, mpi->reduced, (int)chunk, MPI_DOUBLE, MPI_SUM, mpi->comm, &request);
        zo_mpi_leave(mpi);
        status = zo_mpi_complete(mpi, started, &request, "MPI_Allreduce");
        if (status == ZO_OK)
            memcpy(values + done, mpi->reduced, chunk * sizeof *values);
        done += chunk;
    }
    return status;
}

static zo_status zo_mpi_allreduce_or(void *ctx, bool *flag)
{
    zo_mpi_comm *mpi = ctx;
    if (!flag)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "mpi comm: allreduce_or: flag is NULL");
    double any = *flag; /* through allreduce_sum_f64's buffer, which outlives a timeout */
    zo_status status = zo_mpi_allreduce_sum_f64(mpi, &any, 1);
    if (status == ZO_OK)
        *flag = any != 0.0;
    return status;
}

/* The f32 scratch of the reductions, grown as needed. */
static zo_status zo_mpi_scratch(zo_mpi_comm *mpi, size_t elems)
{
    if (elems <= mpi->scratch_elems)
        return ZO_OK;
    free(mpi->scratch);
    mpi->scratch = malloc(elems * sizeof *mpi->scratch);
    mpi->scratch_elems = mpi->scratch ? elems : 0;
    if (!mpi->scratch)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "mpi comm: reduce_scatter_sum: no memory for a %zu-byte f32 scratch",
                       elems * sizeof *mpi->scratch);
    return ZO_OK;
}

/* cpu_adam's vector kernels (casts, sums), made on first use. One thread: the sums
 * are light next to the exchanges, and a team of its own would not be pinned to this
 * rank's cores as the engine's update team is. */
static zo_status zo_mpi_kernels(zo_mpi_comm *mpi, zo_adam **out)
{
    if (!mpi->kernels) {
        zo_adam_settings settings;
        zo_adam_default_settings(&settings);
        settings.num_threads = 1;
        zo_status status = zo_adam_create(&settings, &mpi->kernels);
        if (status != ZO_OK)
            return status;
    }
    *out = mpi->kernels;
    return ZO_OK;
}

/* The reduce-scatter as size() - 1 pairwise exchanges: at step k each rank sends its
 * copy of block rank + k to that rank and adds in the copy of its own block that rank
 * - k sends, in the blocks' own type (f16/bf16 travel as 2 bytes), into an f32 sum that
 * is rounded back once at the end. MPI_Sendrecv carries the data: OpenMPI's
 * MPI_Reduce_scatter_block took 4 to 10 times longer for the same 32 MiB on this
 * project's 2-rank shared-memory runs (it reduces to one root and scatters from there).
 * Each rank adds its block's copies in the fixed order rank, rank - 1, rank - 2, ...
 * `send` and `recv` follow comm.h's in-place convention. */
static zo_status zo_mpi_pairwise_reduce_scatter(zo_mpi_comm *mpi, const void *send, void *recv, size_t n,
                                                zo_dtype dtype)
{
    size_t elem = zo_dtype_size(dtype);
    zo_adam *kernels = NULL;
    zo_status status = zo_mpi_kernels(mpi, &kernels);
    if (status == ZO_OK)
        status = zo_mpi_scratch(mpi, 2 * n); /* the f32 sum, and room for a block of any type */
    if (status != ZO_OK)
        return status;
    float *sum = mpi->scratch, *incoming = mpi->scratch + n;
    MPI_Datatype type = elem == 4 ? MPI_FLOAT : MPI_UINT16_T;
    int rank = mpi->rank, size = mpi->size;
    const char *blocks = send;
    status = zo_adam_cast(kernels, sum, ZO_DTYPE_F32, blocks + (size_t)rank * n * elem, dtype, n, 1.0f);
    for (int step = 1; status == ZO_OK && step < size; step++) {
        int to = (rank + step) % size, from = (rank - step + size) % size;
        MPI_Request requests[2];
        zo_mpi_enter(mpi);
        int code = MPI_Irecv(incoming, (int)n, type, from, 0, mpi->comm, &requests[0]);
        if (code == MPI_SUCCESS)
            code = MPI_Isend(blocks + (size_t)to * n * elem, (int)n, type, to, 0, mpi->comm, &requests[1]);
        zo_mpi_leave(mpi);
        status = code == MPI_SUCCESS ? zo_mpi_wait(mpi, requests, 2, "MPI_Sendrecv (reduce-scatter)")
                                     : zo_mpi_fail("MPI_Isend/MPI_Irecv (reduce-scatter)", code);
        if (status == ZO_OK)
            status = zo_adam_accumulate(kernels, sum, incoming, dtype, n);
    }
    /* in place, block 0 may go to rank 0 only once every exchange is done */
    return status ? status : zo_adam_cast(kernels, recv, dtype, sum, ZO_DTYPE_F32, n, 1.0f);
}

static zo_status zo_mpi_reduce_scatter_sum(void *ctx, const void *send, void *recv,
                                           size_t recv_elems, zo_dtype dtype)
{
    zo_mpi_comm *mpi = ctx;
    if (zo_dtype_size(dtype) == 0)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "mpi comm: reduce_scatter_sum: bad dtype %d",
                       (int)dtype);
    if ((!send || !recv) && recv_elems > 0)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT,
                       "mpi comm: reduce_scatter_sum: send or recv is NULL");
    if (recv_elems > (size_t)INT_MAX)
        return zo_fail(ZO_ERR_NOT_SUPPORTED,
                       "mpi comm: reduce_scatter_sum: %zu elements per rank, above MPI's INT_MAX",
                       recv_elems);
    zo_status status = zo_mpi_check_usable(mpi, "MPI_Sendrecv (reduce-scatter)");
    return status ? status : zo_mpi_pairwise_reduce_scatter(mpi, send, recv, recv_elems, dtype);
}

static zo_status zo_mpi_allgather(void *ctx, const void *send, void *recv, size_t send_bytes)
{
    zo_mpi_comm *mpi = ctx;
    if ((!send || !recv) && send_bytes > 0)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "mpi comm: allgather: send or recv is NULL");
    if (send_bytes > (size_t)INT_MAX)
        return zo_fail(ZO_ERR_NOT_SUPPORTED,
                       "mpi comm: allgather: %zu bytes per rank, above MPI's INT_MAX", send_bytes);
    zo_status status = zo_mpi_check_usable(mpi, "MPI_Allgather");
    if (status != ZO_OK)
        return status;
    bool in_place = send_bytes > 0 && send == (char *)recv + (size_t)mpi->rank * send_bytes;
    MPI_Request request;
    zo_mpi_enter(mpi);
    int started = MPI_Iallgather(in_place ? MPI_IN_PLACE : send, (int)send_bytes, MPI_BYTE, recv, (int)send_bytes,
                                 MPI_BYTE, mpi->comm, &request);
    zo_mpi_leave(mpi);
    return zo_mpi_complete(mpi, started, &request, "MPI_Allgather");
}

static zo_status zo_mpi_allgatherv(void *ctx, const void *send, void *recv, const size_t *recv_bytes)
{
    zo_mpi_comm *mpi = ctx;
    if (!recv_bytes)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "mpi comm: allgatherv: recv_bytes is NULL");
    int *counts = mpi->counts, *displacements = mpi->counts + mpi->size;
    size_t total = 0;
    for (int r = 0; r < mpi->size; r++) {
        if (recv_bytes[r] > (size_t)INT_MAX - total)
            return zo_fail(ZO_ERR_NOT_SUPPORTED, "mpi comm: allgatherv: more than INT_MAX bytes in all");
        counts[r] = (int)recv_bytes[r], displacements[r] = (int)total;
        total += recv_bytes[r];
    }
    if ((!send && recv_bytes[mpi->rank] > 0) || (!recv && total > 0))
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "mpi comm: allgatherv: send or recv is NULL");
    zo_status status = zo_mpi_check_usable(mpi, "MPI_Allgatherv");
    if (status != ZO_OK)
        return status;
    MPI_Request request;
    zo_mpi_enter(mpi);
    int started = MPI_Iallgatherv(send, counts[mpi->rank], MPI_BYTE, recv, counts, displacements, MPI_BYTE,
                                  mpi->comm, &request);
    zo_mpi_leave(mpi);
    return zo_mpi_complete(mpi, started, &request, "MPI_Allgatherv");
}

static zo_status zo_mpi_barrier(void *ctx)
{
    zo_mpi_comm *mpi = ctx;
    zo_status status = zo_mpi_check_usable(mpi, "MPI_Barrier");
    if (status != ZO_OK)
        return status;
    MPI_Request request;
    zo_mpi_enter(mpi);
    int started = MPI_Ibarrier(mpi->comm, &request);
    zo_mpi_leave(mpi);
    return zo_mpi_complete(mpi, started, &request, "MPI_Barrier");
}

static zo_status zo_mpi_set_timeout(void *ctx, double seconds)
{
    if (!(seconds >= 0.0) || isinf(seconds))
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "mpi comm: set_timeout: %g seconds, must be finite and >= 0",
                       seconds);
    ((zo_mpi_comm *)ctx)->timeout_seconds = seconds;
    return ZO_OK;
}

/* Drops this communicator's claim on MPI; the last claim zo holds finalizes it. */
static void zo_mpi_release(bool owns_mpi)
{
    if (!owns_mpi)
        return;
    pthread_mutex_lock(&zo_mpi_lock);
    if (--zo_mpi_owned_comms == 0)
        MPI_Finalize();
    pthread_mutex_unlock(&zo_mpi_lock);
}

static void zo_mpi_destroy(void *ctx)
{
    zo_mpi_comm *mpi = ctx;
    if (!mpi)
        return;
    /* with requests still pending (broken), MPI_Comm_free only marks it for freeing */
    MPI_Comm_free(&mpi->comm);
    zo_mpi_release(mpi->owns_mpi);
    zo_adam_destroy(&mpi->kernels);
    if (mpi->broken[0])
        return; /* a request still posted may write into the scratch or `reduced`: keep both */
    free(mpi->scratch);
    free(mpi->counts);
    free(mpi);
}

static zo_status zo_mpi_duplicate(void *ctx, zo_comm *out);

static const zo_comm_ops zo_mpi_ops = {
    .name = "mpi",
    .rank = zo_mpi_rank,
    .size = zo_mpi_size,
    .allreduce_sum_f64 = zo_mpi_allreduce_sum_f64,
    .allreduce_or = zo_mpi_allreduce_or,
    .reduce_scatter_sum = zo_mpi_reduce_scatter_sum,
    .allgather = zo_mpi_allgather,
    .allgatherv = zo_mpi_allgatherv,
    .duplicate = zo_mpi_duplicate,
    .barrier = zo_mpi_barrier,
    .set_timeout = zo_mpi_set_timeout,
    .destroy = zo_mpi_destroy,
};

/* The engine's worker thread makes MPI calls while the loop's thread runs: below
 * MPI_THREAD_SERIALIZED that is not allowed at all. */
static zo_status zo_mpi_check_thread_level(int provided, const char *who)
{
    if (provided >= MPI_THREAD_SERIALIZED)
        return ZO_OK;
    return zo_fail(ZO_ERR_NOT_SUPPORTED,
                   "zo_comm_mpi_create: %s MPI at thread level %s; zo's worker thread makes MPI calls, which "
                   "needs MPI_THREAD_SERIALIZED (no other MPI call while a step runs) or MPI_THREAD_MULTIPLE",
                   who, provided == MPI_THREAD_SINGLE ? "MPI_THREAD_SINGLE" : "MPI_THREAD_FUNNELED");
}

/* Initializes MPI unless someone has; *owns_mpi says whether zo must finalize it. zo
 * asks for MPI_THREAD_MULTIPLE, so the loop may go on using MPI while steps run, and
 * makes do with SERIALIZED. */
static zo_status zo_mpi_acquire(bool *owns_mpi)
{
    zo_status status = ZO_OK;
    int initialized = 0, finalized = 0, provided = MPI_THREAD_SINGLE;
    *owns_mpi = false;
    pthread_mutex_lock(&zo_mpi_lock);
    MPI_Finalized(&finalized);
    MPI_Initialized(&initialized);
    if (finalized) {
        status = zo_fail(ZO_ERR_NOT_SUPPORTED,
                         "zo_comm_mpi_create: MPI is already finalized and cannot start again");
    } else if (!initialized) {
        int code = MPI_Init_thread(NULL, NULL, MPI_THREAD_MULTIPLE, &provided);
        if (code != MPI_SUCCESS) {
            status = zo_mpi_fail("MPI_Init_thread", code);
        } else if ((status = zo_mpi_check_thread_level(provided, "MPI_Init_thread gave")) != ZO_OK) {
            MPI_Finalize();
        } else {
            zo_mpi_owned_comms++;
            *owns_mpi = true;
        }
    } else if (zo_mpi_owned_comms > 0) {
        zo_mpi_owned_comms++; /* zo initialized it for an earlier communicator */
        *owns_mpi = true;
    } else if (MPI_Query_thread(&provided) == MPI_SUCCESS) {
        status = zo_mpi_check_thread_level(provided, "the application initialized");
    }
    pthread_mutex_unlock(&zo_mpi_lock);
    return status;
}

/* A communicator of zo's own over `parent`'s ranks: a duplicate of it whose errors
 * return. `owns_mpi`: this communicator holds one of zo's claims on MPI. Collective
 * over `parent`. On failure the claim is dropped and *out is zeroed. */
static zo_status zo_mpi_comm_over(MPI_Comm parent, bool owns_mpi, zo_comm *out)
{
    *out = (zo_comm){0};
    zo_mpi_comm *mpi = calloc(1, sizeof *mpi);
    if (!mpi) {
        zo_mpi_release(owns_mpi);
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "zo_comm_mpi_create: no memory");
    }
    mpi->comm = MPI_COMM_NULL;
    mpi->owns_mpi = owns_mpi;
    zo_status status = ZO_OK;
    int provided = MPI_THREAD_SINGLE;
    int code = MPI_Comm_dup(parent, &mpi->comm);
    if (code != MPI_SUCCESS) {
        status = zo_mpi_fail("MPI_Comm_dup", code);
        goto fail;
    }
    if ((code = MPI_Comm_set_errhandler(mpi->comm, MPI_ERRORS_RETURN)) != MPI_SUCCESS ||
        (code = MPI_Comm_rank(mpi->comm, &mpi->rank)) != MPI_SUCCESS ||
        (code = MPI_Comm_size(mpi->comm, &mpi->size)) != MPI_SUCCESS ||
        (code = MPI_Query_thread(&provided)) != MPI_SUCCESS) {
        status = zo_mpi_fail("MPI_Comm_set_errhandler/rank/size/MPI_Query_thread", code);
        goto fail;
    }
    mpi->serialize = provided < MPI_THREAD_MULTIPLE;
    if (!(mpi->counts = calloc(2 * (size_t)mpi->size, sizeof *mpi->counts))) {
        status = zo_fail(ZO_ERR_OUT_OF_MEMORY, "zo_comm_mpi_create: no memory for %d ranks", mpi->size);
        goto fail;
    }
    *out = (zo_comm){.ops = &zo_mpi_ops, .ctx = mpi};
    return ZO_OK;

fail:
    if (mpi->comm != MPI_COMM_NULL)
        MPI_Comm_free(&mpi->comm);
    zo_mpi_release(mpi->owns_mpi);
    free(mpi->counts);
    free(mpi);
    return status;
}

zo_status zo_comm_mpi_create(zo_comm *out)
{
    if (!out)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_comm_mpi_create: out is NULL");
    *out = (zo_comm){0};
    bool owns_mpi = false;
    zo_status status = zo_mpi_acquire(&owns_mpi);
    return status ? status : zo_mpi_comm_over(MPI_COMM_WORLD, owns_mpi, out);
}

/* The duplicate holds a claim of its own when zo initialized MPI, so MPI lives until
 * the last of them is destroyed, in whatever order. */
static zo_status zo_mpi_duplicate(void *ctx, zo_comm *out)
{
    const zo_mpi_comm *parent = ctx;
    if (!out)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "mpi comm: duplicate: out is NULL");
    zo_status status = zo_mpi_check_usable(parent, "MPI_Comm_dup");
    if (status != ZO_OK)
        return status;
    if (parent->owns_mpi) {
        pthread_mutex_lock(&zo_mpi_lock);
        zo_mpi_owned_comms++;
        pthread_mutex_unlock(&zo_mpi_lock);
    }
    if ((status = zo_mpi_comm_over(parent->comm, parent->owns_mpi, out)) == ZO_OK)
        ((zo_mpi_comm *)out->ctx)->timeout_seconds = parent->timeout_seconds;
    return status;
}

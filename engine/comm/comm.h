/* The engine's view of the other ranks of a ZeRO run: collectives over host memory, as
 * a table of operations plus a context (like engine/device.h). The single-rank backend
 * (single.c) is the default; the MPI backend (mpi.c) spans MPI_COMM_WORLD.
 * The engine never includes mpi.h. Internal.
 *
 * Every operation is collective: all ranks call it, in the same order, with the same
 * counts and dtype (a mismatch is an error MPI need not detect: it may hang). One thread
 * at a time per communicator. Arguments are checked locally before any communication,
 * so a bad argument fails on the rank that passed it (ZO_ERR_INVALID_ARGUMENT); if it
 * fails on only some ranks, the others will wait for it (up to set_timeout's limit).
 * Communication failures are ZO_ERR_DEVICE with the backend's message
 * ("MPI_Allreduce failed: ..."); a collective past its time limit ZO_ERR_TIMEOUT. */
#ifndef ZO_COMM_H
#define ZO_COMM_H

#include <stdbool.h>
#include <stddef.h>

#include "zo/dtype.h"
#include "error.h"
#include "zo/status.h"

struct zo_comm;

typedef struct zo_comm_ops {
    const char *name; /* "single", "mpi" */

    /* This process's rank, 0 <= rank < size, and the number of ranks. */
    int (*rank)(void *ctx);
    int (*size)(void *ctx);

    /* values[i] becomes the sum of values[i] over all ranks, on every rank. The order
     * of the additions is the backend's, so results may differ from a serial sum in the
     * last bits; every rank gets the same bits. */
    zo_status (*allreduce_sum_f64)(void *ctx, double *values, size_t count);
    /* *flag becomes true on every rank if it was true on any (e.g. "some gradient
     * overflowed"). */
    zo_status (*allreduce_or)(void *ctx, bool *flag);

    /* `send` holds size() blocks of recv_elems elements of `dtype`; rank r receives in
     * `recv` the element-wise sum over all ranks of their block r. f32 is summed in f32;
     * f16 and bf16 are widened to f32 (exactly), summed in f32 and rounded back once to
     * nearest-even, so a bf16 sum over many ranks does not lose bits at every step.
     * In place: send == recv, recv then holds all size() blocks and the result lands in
     * its first recv_elems elements (MPI_IN_PLACE's convention). Otherwise the buffers
     * must not overlap. The MPI backend refuses (ZO_ERR_NOT_SUPPORTED) recv_elems above
     * INT_MAX, and keeps a scratch of 8 * recv_elems bytes (the largest so far, until
     * destroy; ZO_ERR_OUT_OF_MEMORY when it cannot grow). */
    zo_status (*reduce_scatter_sum)(void *ctx, const void *send, void *recv, size_t recv_elems,
                                    zo_dtype dtype);
    /* Every rank's `send_bytes` bytes, in rank order, into `recv` (size() * send_bytes
     * bytes) on every rank. In place: send == recv + rank() * send_bytes (this rank's
     * part already sits in its slot). Otherwise the buffers must not overlap. The MPI
     * backend refuses (ZO_ERR_NOT_SUPPORTED) send_bytes above INT_MAX. */
    zo_status (*allgather)(void *ctx, const void *send, void *recv, size_t send_bytes);
    /* Optional (NULL: ZO_ERR_NOT_SUPPORTED). Rank r's recv_bytes[r] bytes (0 allowed),
     * in rank order one after another, into `recv` on every rank; `send` holds this
     * rank's recv_bytes[rank()] bytes and must not overlap `recv`. Every rank passes
     * the same recv_bytes. The MPI backend refuses (ZO_ERR_NOT_SUPPORTED) a total above
     * INT_MAX. */
    zo_status (*allgatherv)(void *ctx, const void *send, void *recv, const size_t *recv_bytes);

    /* Returns once every rank has called it. */
    zo_status (*barrier)(void *ctx);

    /* Optional (NULL: the backend's collectives wait as long as they take). From now on
     * a collective that has not completed after `seconds` (> 0; 0 = no limit) fails with
     * ZO_ERR_TIMEOUT naming the call, and the communicator is broken: a peer may still
     * hold the matching call, which cannot be taken back, so every later collective
     * fails at once (ZO_ERR_TIMEOUT, saying so). Local; call it before any collective. */
    zo_status (*set_timeout)(void *ctx, double seconds);

    /* Optional (NULL: ZO_ERR_NOT_SUPPORTED). A second communicator over the same ranks
     * whose collectives never meet this one's, so that another thread may run its
     * collectives while this one's run (each still one thread at a time). It inherits
     * the timeout. Collective. */
    zo_status (*duplicate)(void *ctx, struct zo_comm *out);

    /* Frees the context (collective for MPI: it frees the duplicated communicator). */
    void (*destroy)(void *ctx);
} zo_comm_ops;

typedef struct zo_comm {
    const zo_comm_ops *ops;
    void *ctx;
} zo_comm;

/* The engine calls a communicator through these, never through the table. set_timeout
 * is optional: a backend without it (single, NCCL) waits as long as it takes, which is
 * what a timeout of 0 asks for anyway, so the helper answers ZO_OK there. */
static inline int zo_comm_rank(const zo_comm *c) { return c->ops->rank(c->ctx); }
static inline int zo_comm_size(const zo_comm *c) { return c->ops->size(c->ctx); }
static inline zo_status zo_comm_allreduce_sum_f64(const zo_comm *c, double *values, size_t count)
{
    return c->ops->allreduce_sum_f64(c->ctx, values, count);
}
static inline zo_status zo_comm_allreduce_or(const zo_comm *c, bool *flag) { return c->ops->allreduce_or(c->ctx, flag); }
static inline zo_status zo_comm_reduce_scatter_sum(const zo_comm *c, const void *send, void *recv, size_t recv_elems,
                                                   zo_dtype dtype)
{
    return c->ops->reduce_scatter_sum(c->ctx, send, recv, recv_elems, dtype);
}
static inline zo_status zo_comm_allgather(const zo_comm *c, const void *send, void *recv, size_t send_bytes)
{
    return c->ops->allgather(c->ctx, send, recv, send_bytes);
}
static inline zo_status zo_comm_allgatherv(const zo_comm *c, const void *send, void *recv, const size_t *recv_bytes)
{
    if (!c->ops->allgatherv)
        return zo_fail(ZO_ERR_NOT_SUPPORTED, "%s comm: allgatherv is not supported", c->ops->name);
    return c->ops->allgatherv(c->ctx, send, recv, recv_bytes);
}
static inline zo_status zo_comm_duplicate(const zo_comm *c, struct zo_comm *out)
{
    if (!c->ops->duplicate)
        return zo_fail(ZO_ERR_NOT_SUPPORTED, "%s comm: duplicate is not supported", c->ops->name);
    return c->ops->duplicate(c->ctx, out);
}
static inline zo_status zo_comm_set_timeout(const zo_comm *c, double seconds)
{
    return c->ops->set_timeout ? c->ops->set_timeout(c->ctx, seconds) : ZO_OK;
}
/* Frees the communicator (collective for MPI) and forgets it; a zeroed one is a no-op. */
static inline void zo_comm_destroy(zo_comm *c)
{
    if (c->ops)
        c->ops->destroy(c->ctx);
    *c = (zo_comm){0};
}

/* Rank 0 of 1: every collective is a copy, or nothing at all in place.
 * It holds no state (destroy is a no-op). Errors: ZO_ERR_INVALID_ARGUMENT (out NULL). */
zo_status zo_comm_single_create(zo_comm *out);

/* All the processes of MPI_COMM_WORLD, through a duplicate of it (so zo's messages never
 * meet the application's) whose errors return instead of aborting. Initializes MPI
 * (asking for MPI_THREAD_MULTIPLE, accepting SERIALIZED) if nobody has yet, and then
 * finalizes it when the last communicator created that way is destroyed; an
 * application that initialized MPI itself keeps it, at a thread level of at least
 * SERIALIZED (the engine calls MPI from its worker thread). Collective over
 * MPI_COMM_WORLD. Errors: ZO_ERR_NOT_SUPPORTED (built without MPI; MPI already
 * finalized; a thread level below SERIALIZED), ZO_ERR_DEVICE (an MPI call failed),
 * ZO_ERR_INVALID_ARGUMENT, ZO_ERR_OUT_OF_MEMORY. *out is zeroed on failure. */
zo_status zo_comm_mpi_create(zo_comm *out);

#endif

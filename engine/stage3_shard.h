/* ZeRO stage 3 across ranks: each rank keeps only its own pieces of the 16-bit weights
 * in host memory (its shard, laid out like the master weights: piece `rank` of every
 * bucket, one after another), where the update writes them. A parameter's weights are
 * gathered whole from every rank's shard where they are needed whole: into the fetch's
 * host slot before its copy up (stage3.c, on the fetch stream, over a communicator of
 * its own), and into the persistent parameters' host copy after each update (on the
 * worker). With one rank the shard is the whole flat space and nothing is gathered.
 * Internal. */
#ifndef ZO_STAGE3_SHARD_H
#define ZO_STAGE3_SHARD_H

#include <stdbool.h>
#include <stddef.h>

#include "engine_internal.h"

/* Whether the pinned weights hold this rank's shard only. */
static inline bool zo_weights_sharded(const zo_engine *e) { return e->settings.stage == 3 && e->ranks > 1; }

/* The elements of 16-bit weights this rank keeps in host memory. */
static inline size_t zo_pinned_weight_elems(const zo_engine *e)
{
    return zo_weights_sharded(e) ? zo_shard_elems(&e->layout) : e->layout.padded_elems;
}

/* Where this rank's piece of bucket b lies in the pinned weights (what the update
 * writes). */
void *zo_pinned_piece(const zo_engine *e, size_t bucket);

/* Gathers the 16-bit weights of the flat elements [begin, end) from every rank's shard
 * into `dest` (end - begin elements), one all-gather per bucket the range overlaps.
 * `part_bytes` is room for e->ranks counts (one per thread that gathers). Collective
 * over `comm`: every rank passes the same range. */
zo_status zo_gather_weights(const zo_engine *e, const zo_comm *comm, size_t begin, size_t end, void *dest,
                            size_t *part_bytes);

#endif

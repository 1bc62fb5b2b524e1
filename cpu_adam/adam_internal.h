/* What the benchmark needs of cpu_adam beyond the public API. Internal. */
#ifndef ZO_ADAM_INTERNAL_H
#define ZO_ADAM_INTERNAL_H

#include "zo/adam.h"

/* Moves exactly the bytes zo_adam_step would for these buffers (same loads, same
 * stores, same chunks and threads) with one add per array instead of Adam's
 * arithmetic: the memory system's limit for the step's access pattern. Overwrites the
 * buffers with meaningless values. */
zo_status zo_adam_traffic_only(zo_adam *ctx, const zo_adam_buffers *buffers);

#endif

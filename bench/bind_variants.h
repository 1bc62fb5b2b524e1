/* `zo-bench adam --bind none,auto`: the same kernel path timed under several thread
 * placements in one run. Each placement gets its own context (its workers pinned to
 * the placement's CPUs, or as by default for "none") and, before each of its timed
 * steps, the calling thread moves to the placement's first CPU (or back to where it
 * was allowed to run). The buffers are shared, so this compares where the threads
 * run, not where the memory lives. */
#ifndef ZO_BENCH_BIND_VARIANTS_H
#define ZO_BENCH_BIND_VARIANTS_H

#include <stdbool.h>

#include "plan.h"
#include "zo/topology.h"

typedef struct bench_binding {
    size_t count;          /* placements compared; 0: no --bind, nothing placed     */
    zo_topology *topology; /* this machine, loaded when count > 0                   */
    zo_placement placements[BENCH_MAX_BINDS];
    const char *names[BENCH_MAX_BINDS];
    size_t current;    /* the placement entered last                            */
    void *caller_mask; /* owned cpu_set_t: where the calling thread may run at
                          the start (NULL if unknown)                          */
} bench_binding;

/* Places every --bind of the plan on this machine (zo.threads = plan->threads, the
 * launcher's local rank), as the engine would. 0, or -1 after printing why not
 * (release anyway). */
int bench_binding_prepare(bench_binding *binding, const bench_plan *plan);

/* One line per placement: "bind auto   <the decision in words>". */
void bench_binding_print(const bench_binding *binding);

/* Settings of placement `bind` (its CPUs and threads); untouched for "none". */
void bench_binding_apply(const bench_binding *binding, size_t bind, zo_adam_settings *settings);

/* Moves the calling thread for placement `bind`: to its first CPU, or for "none" back
 * to the mask it started with. True when that is a switch from another placement
 * (threads move: the next call pays for it). */
bool bench_binding_enter(bench_binding *binding, size_t bind);

/* Contexts are made per kernel path, then per placement: context i has placement
 * i % count (0 without --bind), named by bench_binding_name (NULL without --bind). */
size_t bench_binding_of_context(const bench_binding *binding, size_t context);
const char *bench_binding_name(const bench_binding *binding, size_t context);

void bench_binding_release(bench_binding *binding);

#endif

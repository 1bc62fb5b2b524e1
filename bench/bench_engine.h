/* The engine benchmark: the whole offload pipeline on the host backend under a
 * synthetic training loop, against each of its phases measured alone in the same
 * process. How close the pipelined step comes to the longest phase is the overlap
 * the engine achieves. */
#ifndef ZO_BENCH_ENGINE_H
#define ZO_BENCH_ENGINE_H

#include <stdbool.h>
#include <stddef.h>

#include "engine_options.h"
#include "engine_phases.h"
#include "machine.h"
#include "zo/dtype.h"

typedef struct bench_engine_result {
    bench_engine_options options;   /* as run, compute_us_per_layer resolved */
    bool compute_matched_to_update; /* compute_us_per_layer was chosen by the benchmark */
    bench_machine machine;          /* the update's kernel path and threads */
    zo_dtype dtype;                 /* of device weights and gradients */
    size_t bucket_count;
    char device_name[16];
    char placement[512]; /* zo_engine_placement: where the engine's update ran */
    size_t copy_bytes; /* per step and direction */
    size_t rank, ranks;        /* ZeRO ranks (under mpirun), this process's rank     */
    uint64_t host_state_bytes; /* this rank's master weights, moments (its shard)   */

    /* the phases alone: medians of options.repeats */
    bench_compute_times compute;
    bench_copy_times copies;
    bench_update_times update;

    /* the pipelined loop: medians of options.steps timed steps */
    double step_seconds;
    double fetch_seconds;       /* the loop's stall: inside zo_engine_fetch per step */
    double stall_fraction;      /* median of each step's fetch_seconds / step time */
    double *stall_fractions;    /* owned: each timed step's, in order */
    double *update_wait_fractions; /* owned, stage 3: each timed step's part of the stall
                                      waiting for the last update (zo_step_info's
                                      fetch_update_wait_seconds / step time); the rest
                                      waited for copies up */
    double loop_compute_seconds; /* the loop's sleeps per step, as measured */
    double grad_ready_seconds;  /* the loop, inside zo_engine_grad_ready per step */
    double info_wait_seconds;   /* zo_step_info.wait_seconds */
    double info_stats_seconds;  /* zo_step_info.stats_seconds */
    double info_update_seconds; /* zo_step_info.update_seconds */
    size_t skipped_steps;       /* of the timed ones (none is expected) */
    float loss_scale;           /* after the last step */
    double *step_samples;       /* owned: each timed step's seconds, in order */

    /* ZeRO stage 3 (streams_weights false: stages 0-2, the rest 0) */
    bool streams_weights;
    uint64_t fetches, prefetch_hits, reuses, bytes_fetched; /* sums over the timed steps */
    size_t order_matched_steps;     /* timed steps whose fetches followed the recorded order */
    uint64_t device_high_water;     /* zo_engine_device_high_water after the run */
    uint64_t device_budget;         /* zo.device_memory_budget, 0: none */
    uint64_t device_bytes;          /* the plan's device bytes: persistent + both pools */
    double fetch_copy_seconds;      /* per step, estimated: bytes_fetched / the weights-up
                                       copy's bandwidth measured alone */
    double fetch_busy_seconds;      /* per step, from the trace's fetch spans when a
                                       timeline was drawn; < 0: not measured */
    char timeline_note[256];        /* where the timeline went, or why not; "" if not asked */
} bench_engine_result;

/* Runs the benchmark. Returns BENCH_DONE, BENCH_REFUSED (after printing why: a bad
 * config, a setting the engine refuses such as zo.trace in a build without traces,
 * a model that does not fit) or BENCH_FAILED (a measurement failed). On BENCH_DONE
 * release the result with bench_engine_result_release. */
int bench_engine_run(const bench_engine_options *options, bench_engine_result *result);

void bench_engine_result_release(bench_engine_result *result);

#endif

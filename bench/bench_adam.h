/* The Adam benchmark at one size: for each mode, the fused cpu_adam step of every
 * kernel path compared, timed interleaved with its memory-traffic-only twin, a STREAM
 * triad of the same working set, and (mixed mode) the unfused three-pass way
 * DeepSpeed does it. */
#ifndef ZO_BENCH_ADAM_H
#define ZO_BENCH_ADAM_H

#include <stdbool.h>
#include <stddef.h>

#include "bench_mode.h"
#include "bind_variants.h"
#include "plan.h"
#include "zo/adam.h"

/* What one row times, each once per repeat. */
typedef enum bench_kernel {
    BENCH_KERNEL_STEP,       /* zo_adam_step, fused unscale + Adam + weights out    */
    BENCH_KERNEL_TRAFFIC,    /* zo_adam_traffic_only: the same bytes, trivial math  */
    BENCH_KERNEL_TRIAD,      /* the STREAM triad on a 16-byte-per-parameter set     */
    BENCH_KERNEL_THREE_PASS, /* unscale pass + fp32 Adam + fp16 copy (mixed only)   */
    BENCH_KERNEL_COUNT
} bench_kernel;

/* "step", "traffic", "triad", "three_pass": the keys of the JSON report. */
const char *bench_kernel_name(bench_kernel kernel);

typedef struct bench_adam_row {
    size_t params;
    bench_mode mode;
    zo_cpu_isa isa;
    const char *bind; /* the --bind placement of its step, NULL without --bind */
    int threads;
    int repeats;
    zo_cpu_isa shared_isa; /* the path that ran traffic and three-pass for this row */
    /* the modes of a size run side by side in one repeat loop, as many as fit in memory
     * at once: rows with the same mode_group (0, 1, ...) were timed together */
    int mode_group;
    /* the first mode of the group (on the same context), and how many times faster
     * this row's step ran: the median over repeats of the ratio within a repeat (1 for
     * the first mode itself; NaN if it could not be worked out) */
    bench_mode first_mode;
    double speed_vs_first_mode;
    bool measured[BENCH_KERNEL_COUNT];
    size_t bytes[BENCH_KERNEL_COUNT]; /* moved by one call (triad: STREAM's count) */
    double median_seconds[BENCH_KERNEL_COUNT];
    double *samples; /* owned: seconds of repeat r of kernel k at [k * repeats + r] */
} bench_adam_row;

/* Refuses (-1, after printing why) a size whose buffers would not fit in the memory
 * available now: past that the run would swap, timing the disk, or be killed
 * without a word. 0 if it fits or the available memory cannot be read. */
int bench_adam_check_memory(const bench_plan *plan, size_t params);

/* Measures every mode of `plan` at `params` parameters. contexts[0 .. context_count)
 * are the kernel paths (and placements, see bind_variants.h) to compare (borrowed,
 * not destroyed); each times its own step, the calling thread moved for its placement
 * first, in the same repeat loop and on the same buffers, while the traffic, triad and
 * three-pass kernels run once per repeat on contexts[0]. The modes take turns in that
 * loop too, as many at once as fit in nine tenths of the available memory (the rest
 * in later groups, one after another: see mode_group). Fills rows[m * context_count +
 * i] for mode m and context i, each with the shared kernels' samples copied in so it
 * reads on its own (release each with bench_adam_row_release). 0 on success; -1 after
 * printing why not (allocation, memory check, a zo error), rows released. */
int bench_adam_measure_size(zo_adam *const *contexts, size_t context_count,
                            bench_binding *binding, const bench_plan *plan, size_t params,
                            bench_adam_row *rows);

/* Frees the row's samples; safe twice. */
void bench_adam_row_release(bench_adam_row *row);

#endif

/* One timed training run of zo-bench train: the examples' MLP loop (host or CUDA) on
 * the engine, its step split into the loop's compute and the engine's D2H, host
 * update and H2D (from the engine's trace), and on CUDA the device memory it used. */
#ifndef ZO_BENCH_TRAIN_RUN_H
#define ZO_BENCH_TRAIN_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mlp_model.h"

typedef struct bench_train_run_spec {
    mlp_shape shape;
    size_t batch;
    size_t warmup_steps, timed_steps;
    const char *device;      /* "host" or "cuda": the loop and the engine's backend  */
    const char *offload;     /* offload_optimizer.device: "cpu" or "none"             */
    const char *config_path; /* the user's config; device, offload and zo.trace are
                                set over it                                          */
} bench_train_run_spec;

typedef struct bench_train_run {
    bench_train_run_spec spec;
    bool ran; /* false: `failure` says why                           */
    char failure[512];
    size_t params;       /* the model's parameters                              */
    double step_seconds; /* wall time per timed step                            */
    double samples_per_second;
    /* per timed step, seconds: the loop's own compute (mlp_log.compute_seconds), and
     * the time the engine's D2H stream, host worker (stats + Adam) and H2D stream
     * were busy (train_trace.h: upper bounds) */
    double compute_seconds, d2h_seconds, update_seconds, h2d_seconds;
    double largest_phase_seconds;
    double overlap_efficiency;     /* step_seconds / largest phase: 1 is perfect overlap */
    uint64_t bytes_each_way;       /* gradient bytes down = weight bytes up, per step     */
    double first_loss, final_loss; /* of the first and the last step */
    bool has_device_peak;          /* CUDA only                                           */
    uint64_t device_peak_bytes;    /* cudaMemGetInfo in use, sampled after every step,
                                      minus before the run (context already made)       */
    char device_peak_note[256];    /* why no device peak                                 */
    /* ZeRO stage 3 (stage3 false otherwise): the engine's device high-water mark
     * (zo_engine_device_high_water, the host backend counts it), the budget
     * (zo.device_memory_budget, 0: none), and the loop's totals of zo_step_info's
     * fetch counters over every micro-step of the run (warm-up included). */
    bool stage3;
    uint64_t device_high_water, device_budget;
    uint64_t micro_steps, fetches, prefetch_hits, reuses, bytes_fetched, order_mismatches;
} bench_train_run;

/* The config at config_path with zo.device, offload_optimizer.device and (unless
 * NULL) zo.trace set over it, as JSON text to free(); NULL after printing why not. */
char *bench_train_config_text(const char *config_path, const char *device,
                              const char *offload_device, const char *trace_path);

/* Runs it; fills *out (out->ran false with the reason when the loop or the engine
 * refused). -1 only when the bench itself failed (out of memory, no temp file). */
int bench_train_run_once(const bench_train_run_spec *spec, bench_train_run *out);

#endif

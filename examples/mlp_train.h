/* What train_mlp_host.c and its CUDA twin share around their compute: the command
 * line, the built-in engine config, opening an engine for the MLP, and the log of a
 * run with its verdict. Host code; every zo_status is checked. */
#ifndef MLP_TRAIN_H
#define MLP_TRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <zo/zo.h>

#include "mlp_model.h"

/* Runs a fallible zo call; on failure prints the call and zo_last_error() and jumps
 * to the function's `fail:` label, which frees what was made. */
#define MLP_CHECK(call)                                                                            \
    do {                                                                                           \
        zo_status status_ = (call);                                                                \
        if (status_ != ZO_OK) {                                                                    \
            fprintf(stderr, "%s failed (%s): %s\n", #call, zo_status_name(status_),                \
                    zo_last_error());                                                              \
            goto fail;                                                                             \
        }                                                                                          \
    } while (0)

/* --seeds: at most this many seeds in one --compare-moments command. */
enum { MLP_SEEDS_MAX = 64 };

typedef struct mlp_options {
    mlp_shape shape;         /* --layers (8), --width (256)                         */
    size_t batch;            /* --batch (64): samples per micro-step                */
    size_t steps;            /* --steps (200): optimizer steps                      */
    size_t checkpoint_every; /* --checkpoint K: keep every K-th layer's input; 0 off */
    size_t print_every;      /* --print-every (10): a log line every N steps        */
    const char *config_path; /* --config FILE; NULL: mlp_default_config_format     */
    const char *config_text; /* a JSON config as text, used before config_path
                                (programs that edit a config, e.g. zo-bench train) */
    bool compare_checkpoint; /* --compare-checkpoint: without, then with --checkpoint
                                K (default 2); passes when the losses are identical */
    bool stage3;             /* --stage3: the built-in config in its ZeRO-3 form
                                (mlp_stage3_config)                                 */
    bool compare_stage3;     /* --compare-stage3: the built-in config at stage 2, then
                                at stage 3; passes when the losses are identical    */
    const char *moments_dtype; /* --moments f32|bf16|8bit: the built-in config with this
                                zo.moments_dtype; NULL: its default (f32)           */
    bool compare_moments;    /* --compare-moments: the built-in config with f32, bf16
                                and 8bit moments from the same seed; passes when the
                                8bit run's held-out loss is within 2% of the f32 run's */
    size_t eval_batches;     /* --eval-batches (16): the held-out set, batches of
                                --batch samples drawn apart from the training data;
                                the model's mean loss on it is measured before and
                                after training (host loop). 0: none (zero-initialized
                                options, e.g. zo-bench train)                        */
    size_t eval_every;       /* --eval-every N: the held-out loss every N steps too;
                                0: only before and after training                   */
    bool eval_options_given; /* --eval-batches or --eval-every was on the command line */
    bool quiet;              /* --quiet: only the summary                           */
    uint64_t seed;           /* --seed (1): initialization and data                 */
    uint64_t seeds[MLP_SEEDS_MAX]; /* --seeds A-B or A,B,...: --compare-moments once
                                per seed; seed_count 0: --seed alone               */
    size_t seed_count;
} mlp_options;

/* The config used without --config: fp16 with dynamic loss scaling, AdamW lr 1e-3,
 * gradient clipping 1.0, ZeRO-2 with the optimizer offloaded, buckets of 65536
 * elements. A printf format: %s is the program's backend ("host" or "cuda"). */
extern const char mlp_default_config_format[];

/* The same with zo.moments_dtype: two %s, the backend and the moments' dtype. */
extern const char mlp_moments_config_format[];


/* The config used with --stage3, for `shape` on `device` ("host", "cuda"), into
 * text[size]: the built-in one's training (fp16, AdamW, clipping, buckets) at ZeRO
 * stage 3 with the 16-bit weights in host memory and the biases kept on the device
 * (persistent). On the host backend one weight matrix is live at a time and the
 * device is held to 1/8 of the model's fp16 weights (zo.device_memory_budget: the
 * engine refuses a model too shallow for that, naming the keys); on a GPU two are
 * live, with no budget. false if it does not fit text. */
bool mlp_stage3_config(mlp_shape shape, const char *device, char *text, size_t size);

/* Parses the command line into *out. Returns 0 to run, 1 after printing an error,
 * 2 after printing the help (--help). */
int mlp_parse_options(int argc, char **argv, mlp_options *out);

/* An engine for the MLP: parses the config (--config or the built-in one for
 * `device`), checks its batch keys against --batch, registers the parameters in
 * forward order and sets their initial values. `device` is the backend the program
 * computes on ("host", "cuda"): an engine on another one (zo.device "auto" choosing
 * differently) is refused, since the program could not use its pointers.
 * *micro_steps is the gradient accumulation the config asks for: micro-steps per
 * optimizer step. Returns false, with *out NULL, after printing what failed. */
bool mlp_engine_open(const mlp_options *options, const char *device, zo_engine **out,
                     size_t *micro_steps);

/* Prints what runs: model size, buckets, dtype, backend, batch, checkpointing. */
void mlp_print_setup(const mlp_options *options, zo_engine *engine, size_t micro_steps);

typedef struct mlp_log mlp_log;

/* Called by the loops after each step's log line, with the engine still open (a
 * benchmark writes the engine's trace or samples device memory there). */
typedef void (*mlp_step_hook)(void *user, zo_engine *engine, const mlp_log *log);

/* One run's history. */
struct mlp_log {
    size_t steps;            /* steps recorded so far */
    size_t capacity;         /* steps it has room for */
    double *loss;            /* mean loss of each step's micro-batches */
    double *grad_norm;       /* the engine's unscaled global norm (inf when skipped) */
    size_t skipped;          /* steps skipped for an overflow */
    size_t samples;          /* samples trained on */
    double seconds;          /* wall time of the training loop */
    size_t activation_bytes; /* activations kept for the backward (checkpointing cuts it) */
    double started;          /* mlp_seconds() when the training loop began          */
    double *compute_seconds; /* per step: the loop's own forward and backward work, its
                                calls into the engine excluded (host: wall time of its
                                GEMMs and kernels; CUDA: GPU time on its stream)      */
    mlp_step_hook hook;      /* NULL: none                                          */
    void *hook_user;
    /* ZeRO stage 3 (zeros otherwise), from every micro-step's zo_step_info: copies of
     * weights up to the device, prefetched copies a fetch claimed, fetches that found
     * the weights still in their slot, bytes copied; micro-steps whose fetches left
     * the first micro-step's order; and the last micro-step's own figures. */
    size_t micro_steps;
    uint64_t fetches, prefetch_hits, reuses, bytes_fetched;
    size_t order_mismatches;
    zo_step_info last_micro_step;
    /* Read by the loops at the end (mlp_log_device): the most device memory the engine
     * held at once (0 where the backend does not count it), what it was held to
     * (zo_memory_plan.device_limit_bytes: zo.device_memory_budget on the host backend;
     * 0 none), and the model's 16-bit (device dtype) weights for scale. */
    uint64_t device_high_water, device_limit, weight_bytes;
    /* The held-out set (mlp_options.eval_batches; host loop): the model's mean loss on
     * it before the first step (not at ZeRO stage 3, whose first micro-step records
     * the fetch order) and after the last; NAN where not measured. With eval_every,
     * held_out_curve[k] is the loss after step held_out_curve_step[k] (1-based).
     * eval_seconds: time spent evaluating, left out of `seconds`. */
    double held_out_untrained, held_out_final;
    size_t held_out_samples;
    double *held_out_curve;
    size_t *held_out_curve_step;
    size_t held_out_points;
    double eval_seconds;
};

/* false when out of memory. */
bool mlp_log_init(mlp_log *log, size_t steps);
void mlp_log_free(mlp_log *log);

/* Records the next step and, unless quiet, prints its line every print_every steps
 * (and for the last and every skipped one): step, loss, grad norm, the loss scale
 * this step used, skipped steps so far. */
void mlp_log_step(mlp_log *log, const mlp_options *options, double loss, float loss_scale,
                  const zo_step_info *info);

/* Ends step log->steps - 1 for the loops: records its compute time and runs the
 * hook. */
void mlp_log_end_step(mlp_log *log, zo_engine *engine, double compute_seconds);

/* Records one micro-step's stage-3 figures; the loops call it after every
 * zo_engine_step. */
void mlp_log_micro_step(mlp_log *log, const zo_step_info *info);

/* Records the engine's device high-water mark and limit; the loops call it before
 * closing the engine. */
void mlp_log_device(mlp_log *log, zo_engine *engine);

/* Whether the device high-water mark stayed within the limit (true when either is
 * not known). */
bool mlp_log_within_limit(const mlp_log *log);

/* The mean loss of the first and of the last min(10, steps) steps. */
double mlp_log_first_loss(const mlp_log *log);
double mlp_log_final_loss(const mlp_log *log);
/* The mean loss of the last tenth of the steps (at least the last 10): less noisy than
 * the last 10 alone when two runs' curves are compared. */
double mlp_log_tail_loss(const mlp_log *log);
/* The largest relative difference of two runs' losses over their common steps, at
 * *worst_step: how far apart the curves ever were. */
double mlp_logs_max_relative_difference(const mlp_log *a, const mlp_log *b, size_t *worst_step);

/* Records the held-out loss after step `step` (1-based) of an --eval-every run and,
 * unless quiet, prints it. */
void mlp_log_held_out(mlp_log *log, const mlp_options *options, size_t step, double loss);

/* The mean of the held-out curve (--eval-every) over the last tenth of the steps (the
 * window of mlp_log_tail_loss), its points counted in *points; NAN when it has none.
 * Same samples every time, so no minibatch noise; averaging over the window also
 * evens out how the weights themselves wander from step to step. */
double mlp_log_held_out_tail(const mlp_log *log, size_t *points);

/* Whether the model learned: the final loss is below half the first. */
bool mlp_log_learned(const mlp_log *log);

/* Prints "loss A -> B", skipped steps and throughput, and the device memory and
 * stage-3 figures where there are any, each line after `label`. */
void mlp_log_report(const mlp_log *log, const char *label);

/* Whether two runs gave bit-identical losses and gradient norms; prints the first
 * difference if not. */
bool mlp_logs_identical(const mlp_log *a, const mlp_log *b);

/* Seconds on a monotonic clock. */
double mlp_seconds(void);

#endif

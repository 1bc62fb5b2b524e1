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
    bool quiet;              /* --quiet: only the summary                           */
    uint64_t seed;           /* --seed (1): initialization and data                 */
} mlp_options;

/* The config used without --config: fp16 with dynamic loss scaling, AdamW lr 1e-3,
 * gradient clipping 1.0, ZeRO-2 with the optimizer offloaded, buckets of 65536
 * elements. A printf format: %s is the program's backend ("host" or "cuda"). */
extern const char mlp_default_config_format[];

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

/* The mean loss of the first and of the last min(10, steps) steps. */
double mlp_log_first_loss(const mlp_log *log);
double mlp_log_final_loss(const mlp_log *log);

/* Whether the model learned: the final loss is below half the first. */
bool mlp_log_learned(const mlp_log *log);

/* Prints "loss A -> B", skipped steps and throughput, each line after `label`. */
void mlp_log_report(const mlp_log *log, const char *label);

/* Whether two runs gave bit-identical losses and gradient norms; prints the first
 * difference if not. */
bool mlp_logs_identical(const mlp_log *a, const mlp_log *b);

/* Seconds on a monotonic clock. */
double mlp_seconds(void);

#endif

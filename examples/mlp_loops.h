/* The MLP's two training loops, each a whole run: open the engine (mlp_engine_open),
 * train options->steps steps, fill the log, close. train_mlp_host, train_mlp_cuda and
 * zo-bench train call them. */
#ifndef MLP_LOOPS_H
#define MLP_LOOPS_H

#include <stddef.h>

#include "mlp_train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* On the host backend, the GEMMs on OpenMP (mlp_host_loop.c); checkpoint_every K > 1
 * keeps every K-th layer's input and recomputes the rest (0 or 1: keep all).
 * Returns 0, or 1 after printing an error. */
int mlp_train_host(const mlp_options *options, size_t checkpoint_every, mlp_log *log);

/* On a CUDA GPU, the GEMMs on cuBLAS (mlp_cuda_loop.cu). No checkpointing. Returns 0,
 * or 1 after printing an error (no GPU, or built without CUDA: mlp_cuda_absent.c). */
int mlp_train_cuda(const mlp_options *options, mlp_log *log);

#ifdef __cplusplus
}
#endif

#endif

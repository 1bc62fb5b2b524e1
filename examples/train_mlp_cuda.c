/* Trains the deep MLP of mlp_model.h with the offload engine on a GPU: the twin of
 * train_mlp_host, the loop in mlp_cuda_loop.cu (cuBLAS GEMMs, the engine's CUDA
 * backend). Run with --help. */
#include <stdio.h>

#include <zo/zo.h>

#include "mlp_loops.h"
#include "mlp_train.h"

int main(int argc, char **argv)
{
    mlp_options options;
    int parsed = mlp_parse_options(argc, argv, &options);
    if (parsed != 0)
        return parsed == 2 ? 0 : 1;
    if (options.checkpoint_every || options.compare_checkpoint) {
        fprintf(stderr, "activation checkpointing is in train_mlp_host only so far\n");
        return 1;
    }
    if (options.eval_options_given || options.compare_moments) {
        fprintf(stderr, "the held-out evaluation (--eval-batches, --eval-every) and "
                        "--compare-moments are in train_mlp_host only so far\n");
        return 1;
    }
    mlp_log log = {0};
    int result = 1;
    if (!mlp_log_init(&log, options.steps)) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    if (mlp_train_cuda(&options, &log) == 0) {
        mlp_log_report(&log, "");
        result = mlp_log_learned(&log) ? 0 : 2;
    }
    mlp_log_free(&log);
    return result;
}

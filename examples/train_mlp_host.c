/* Trains a deep MLP (mlp_model.h) with the offload engine on the host backend,
 * computing as a GPU would (mlp_host_loop.c); train_mlp_cuda is its twin with cuBLAS.
 * Run with --help. */
#include <stdbool.h>
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
    mlp_log kept_all = {0}, checkpointed = {0};
    int result = 1;
    if (!mlp_log_init(&kept_all, options.steps) || !mlp_log_init(&checkpointed, options.steps)) {
        fprintf(stderr, "out of memory\n");
        goto done;
    }
    if (!options.compare_checkpoint) {
        if (mlp_train_host(&options, options.checkpoint_every, &kept_all) != 0)
            goto done;
        mlp_log_report(&kept_all, "");
        result = mlp_log_learned(&kept_all) ? 0 : 2;
        if (result != 0)
            printf("the loss did not fall below half its first value\n");
        goto done;
    }

    /* recomputing a segment must give the very same activations, so the two runs
     * must agree bit for bit, step after step (whether the model learns is the plain
     * run's test) */
    size_t every = options.checkpoint_every;
    if (mlp_train_host(&options, 0, &kept_all) != 0 || mlp_train_host(&options, every, &checkpointed) != 0)
        goto done;
    char label[64];
    snprintf(label, sizeof label, "checkpoint every %zu: ", every);
    mlp_log_report(&kept_all, "all activations kept: ");
    mlp_log_report(&checkpointed, label);
    bool identical = mlp_logs_identical(&kept_all, &checkpointed);
    printf("checkpoint every %zu layers: %zu losses and gradient norms %s; activations kept "
           "%.2f MiB instead of %.2f MiB\n",
           every, checkpointed.steps, identical ? "bit-identical" : "DIFFERENT",
           (double)checkpointed.activation_bytes / (1 << 20),
           (double)kept_all.activation_bytes / (1 << 20));
    result = identical ? 0 : 3;
done:
    mlp_log_free(&kept_all);
    mlp_log_free(&checkpointed);
    return result;
}

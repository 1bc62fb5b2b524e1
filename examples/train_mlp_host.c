/* Trains a deep MLP (mlp_model.h) with the offload engine on the host backend,
 * computing as a GPU would (mlp_host_loop.c); train_mlp_cuda is its twin with cuBLAS.
 * Run with --help. */
#include <stdbool.h>
#include <stdio.h>

#include <zo/zo.h>

#include "mlp_loops.h"
#include "mlp_train.h"

/* 4 when a run's device memory passed its budget (after saying so), else `result`. */
static int within_limit(const mlp_log *log, int result)
{
    if (mlp_log_within_limit(log))
        return result;
    printf("the device memory's high-water mark %llu B passed its budget %llu B\n",
           (unsigned long long)log->device_high_water, (unsigned long long)log->device_limit);
    return 4;
}

/* --compare-moments: the same training with f32, bf16 and 8-bit moments. 0 when the
 * 8-bit run's final loss is within 2% of the f32 run's, 5 when not, 1 on an error. */
static int compare_moments(const mlp_options *options)
{
    static const char *const dtypes[3] = {"f32", "bf16", "8bit"};
    mlp_log logs[3] = {{0}};
    int result = 1;
    for (int k = 0; k < 3; k++) {
        mlp_options run = *options;
        run.moments_dtype = dtypes[k];
        if (!mlp_log_init(&logs[k], options->steps)) {
            fprintf(stderr, "out of memory\n");
            goto done;
        }
        if (mlp_train_host(&run, options->checkpoint_every, &logs[k]) != 0)
            goto done;
    }
    double reference = mlp_log_final_loss(&logs[0]), reference_tail = mlp_log_tail_loss(&logs[0]);
    printf("moments  final loss (last 10 steps)  vs f32   last tenth of the steps  vs f32   max curve "
           "difference vs f32 (at step)\n");
    for (int k = 0; k < 3; k++) {
        size_t worst_step = 0;
        double worst = mlp_logs_max_relative_difference(&logs[0], &logs[k], &worst_step);
        double final = mlp_log_final_loss(&logs[k]), tail = mlp_log_tail_loss(&logs[k]);
        printf("%-8s %28.6f  %+7.2f%%  %23.6f  %+7.2f%%  %18.2f%% (%zu)\n", dtypes[k], final,
               100.0 * (final - reference) / reference, tail, 100.0 * (tail - reference_tail) / reference_tail,
               100.0 * worst, worst_step + 1);
    }
    double q8_final = mlp_log_final_loss(&logs[2]);
    result = q8_final <= 1.02 * reference ? 0 : 5;
    printf("8bit moments end %s 2%% of f32 (final loss, the mean of the last 10 steps)\n",
           result == 0 ? "within" : "MORE than");
done:
    for (int k = 0; k < 3; k++)
        mlp_log_free(&logs[k]);
    return result;
}

int main(int argc, char **argv)
{
    mlp_options options;
    int parsed = mlp_parse_options(argc, argv, &options);
    if (parsed != 0)
        return parsed == 2 ? 0 : 1;
    if (options.compare_moments)
        return compare_moments(&options);
    mlp_log first = {0}, second = {0};
    int result = 1;
    if (!mlp_log_init(&first, options.steps) || !mlp_log_init(&second, options.steps)) {
        fprintf(stderr, "out of memory\n");
        goto done;
    }
    if (!options.compare_checkpoint && !options.compare_stage3) {
        if (mlp_train_host(&options, options.checkpoint_every, &first) != 0)
            goto done;
        mlp_log_report(&first, "");
        result = mlp_log_learned(&first) ? 0 : 2;
        if (result != 0)
            printf("the loss did not fall below half its first value\n");
        result = within_limit(&first, result);
        goto done;
    }

    /* recomputing a segment must give the very same activations, and stage 3 the very
     * same weights to every layer, so the two runs must agree bit for bit, step after
     * step (whether the model learns is the plain run's test) */
    mlp_options first_options = options, second_options = options;
    size_t first_every = options.checkpoint_every, second_every = options.checkpoint_every;
    char first_label[64], second_label[64];
    if (options.compare_checkpoint) {
        first_every = 0;
        snprintf(first_label, sizeof first_label, "all activations kept: ");
        snprintf(second_label, sizeof second_label, "checkpoint every %zu: ", second_every);
    } else {
        first_options.stage3 = false;
        second_options.stage3 = true;
        snprintf(first_label, sizeof first_label, "stage 2: ");
        snprintf(second_label, sizeof second_label, "stage 3: ");
    }
    if (mlp_train_host(&first_options, first_every, &first) != 0 ||
        mlp_train_host(&second_options, second_every, &second) != 0)
        goto done;
    mlp_log_report(&first, first_label);
    mlp_log_report(&second, second_label);
    bool identical = mlp_logs_identical(&first, &second);
    if (options.compare_checkpoint)
        printf("checkpoint every %zu layers: %zu losses and gradient norms %s; activations kept "
               "%.2f MiB instead of %.2f MiB\n",
               second_every, second.steps, identical ? "bit-identical" : "DIFFERENT",
               (double)second.activation_bytes / (1 << 20),
               (double)first.activation_bytes / (1 << 20));
    else
        printf("stage 3 against stage 2: %zu losses and gradient norms %s; device memory "
               "high-water %.1f KiB instead of %.1f KiB\n",
               second.steps, identical ? "bit-identical" : "DIFFERENT",
               (double)second.device_high_water / 1024, (double)first.device_high_water / 1024);
    result = within_limit(&second, within_limit(&first, identical ? 0 : 3));
done:
    mlp_log_free(&first);
    mlp_log_free(&second);
    return result;
}

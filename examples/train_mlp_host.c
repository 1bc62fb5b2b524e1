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

static const char *const moments_dtypes[3] = {"f32", "bf16", "8bit"};

/* 100 (value - reference) / reference: how far above the reference, in percent. */
static double percent_over(double value, double reference)
{
    return 100.0 * (value - reference) / reference;
}

/* --compare-moments for options->seed: the same training with f32, bf16 and 8-bit
 * moments, then one table. The headline is the held-out loss: the trained model's
 * mean loss on a fixed set no run trained on, the same samples for the three runs;
 * the training losses beside it come from a fresh batch per step, noisy at the level
 * compared here. Fills held_out_percent[k]: run k's held-out loss against f32's, %.
 * 0 when the 8-bit run's held-out loss is within 2% of f32's, 5 when not, 2 when
 * the f32 run's held-out loss did not fall below the untrained model's (nothing
 * learned to compare), 1 on an error. */
static int compare_moments_seed(const mlp_options *options, double held_out_percent[3])
{
    mlp_log logs[3] = {{0}};
    int result = 1;
    for (int k = 0; k < 3; k++) {
        mlp_options run = *options;
        run.moments_dtype = moments_dtypes[k];
        if (!mlp_log_init(&logs[k], options->steps)) {
            fprintf(stderr, "out of memory\n");
            goto done;
        }
        if (mlp_train_host(&run, options->checkpoint_every, &logs[k]) != 0)
            goto done;
    }
    const mlp_log *f32 = &logs[0];
    double held_out = f32->held_out_final, untrained = f32->held_out_untrained;
    double final = mlp_log_final_loss(f32), tail = mlp_log_tail_loss(f32);
    printf("seed %llu, %zu steps: held-out set of %zu samples drawn apart from the training "
           "data; the untrained model's loss on it %.6f\n",
           (unsigned long long)options->seed, options->steps, f32->held_out_samples, untrained);
    printf("moments  held-out loss   vs f32 | last 10 steps   vs f32 | last tenth   vs f32 | max "
           "curve difference (step)%s\n",
           options->eval_every ? " | max held-out difference (after steps)" : "");
    for (int k = 0; k < 3; k++) {
        const mlp_log *log = &logs[k];
        held_out_percent[k] = percent_over(log->held_out_final, held_out);
        printf("%-8s %13.6f ", moments_dtypes[k], log->held_out_final);
        if (k == 0) {
            printf("%8s | %13.6f %8s | %10.6f %8s |\n", "", mlp_log_final_loss(log), "",
                   mlp_log_tail_loss(log), "");
            continue;
        }
        size_t worst_step = 0, worst_held_out_step = 0;
        double worst = mlp_logs_max_relative_difference(f32, log, &worst_step);
        char curve[48];
        snprintf(curve, sizeof curve, "%7.2f%% (%zu)", 100.0 * worst, worst_step + 1);
        printf("%+7.2f%% | %13.6f %+7.2f%% | %10.6f %+7.2f%% | %-27s", held_out_percent[k],
               mlp_log_final_loss(log), percent_over(mlp_log_final_loss(log), final),
               mlp_log_tail_loss(log), percent_over(mlp_log_tail_loss(log), tail), curve);
        if (options->eval_every) {
            double held_out_worst =
                mlp_logs_max_held_out_difference(f32, log, &worst_held_out_step);
            printf(" | %7.2f%% (%zu)", 100.0 * held_out_worst, worst_held_out_step);
        }
        printf("\n");
    }
    if (!(held_out < untrained)) { /* NaN too */
        printf("seed %llu: the f32 run's held-out loss %.6f did not fall below the untrained "
               "model's %.6f\n",
               (unsigned long long)options->seed, held_out, untrained);
        result = 2;
        goto done;
    }
    result = logs[2].held_out_final <= 1.02 * held_out ? 0 : 5;
    printf("seed %llu: 8bit moments end %s 2%% of f32 on the held-out set (%+.2f%%)\n",
           (unsigned long long)options->seed, result == 0 ? "within" : "MORE than",
           held_out_percent[2]);
done:
    for (int k = 0; k < 3; k++)
        mlp_log_free(&logs[k]);
    return result;
}

/* --compare-moments, once per seed (--seeds; --seed alone: one), and with several
 * seeds a summary: the mean and the worst (highest) held-out difference of bf16 and
 * 8bit against f32. The worst seed's status: 1 on an error (at once), else 2 if any
 * seed learned nothing, else 5 if 8bit ended more than 2% above f32 on any, else 0. */
static int compare_moments(const mlp_options *options)
{
    size_t seed_count = options->seed_count ? options->seed_count : 1;
    double sum[3] = {0}, worst[3] = {0};
    uint64_t worst_seed[3] = {0};
    size_t failed = 0, compared = 0; /* compared: seeds whose f32 run learned */
    int result = 0;
    for (size_t i = 0; i < seed_count; i++) {
        mlp_options run = *options;
        if (options->seed_count)
            run.seed = options->seeds[i];
        if (i > 0)
            printf("\n");
        double percent[3];
        int seed_result = compare_moments_seed(&run, percent);
        if (seed_result == 1)
            return 1;
        if (seed_result != 0) {
            failed++;
            result = seed_result == 2 || result == 2 ? 2 : seed_result;
        }
        if (seed_result == 2)
            continue;
        for (int k = 1; k < 3; k++) {
            sum[k] += percent[k];
            if (compared == 0 || percent[k] > worst[k])
                worst[k] = percent[k], worst_seed[k] = run.seed;
        }
        compared++;
    }
    if (seed_count < 2)
        return result;
    if (compared > 0)
        printf("\nover %zu seeds, held-out loss against f32: bf16 mean %+.2f%%, worst %+.2f%% "
               "(seed %llu); 8bit mean %+.2f%%, worst %+.2f%% (seed %llu)\n",
               compared, sum[1] / (double)compared, worst[1], (unsigned long long)worst_seed[1],
               sum[2] / (double)compared, worst[2], (unsigned long long)worst_seed[2]);
    if (result == 0)
        printf("8bit moments end within 2%% of f32 on the held-out set on every seed\n");
    else
        printf("%zu of %zu seeds FAILED (see each seed's last line)\n", failed, seed_count);
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

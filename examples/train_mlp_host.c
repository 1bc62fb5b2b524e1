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

/* One seed's figures against f32, in percent, for the summary: the final held-out
 * loss and, with --eval-every, its mean over the last tenth of the steps (NAN
 * without); [0] is f32 itself. */
typedef struct moments_percent {
    double held_out[3], held_out_tail[3];
} moments_percent;

/* --compare-moments for options->seed: the same training with f32, bf16 and 8-bit
 * moments, then one table. The headline is the held-out loss: the trained model's
 * mean loss on a fixed set no run trained on, the same samples for the three runs;
 * the training losses beside it come from a fresh batch per step, noisy at the level
 * compared here. With --eval-every, also the held-out loss's mean over the last tenth
 * of the steps: the weights of one step still wander by a few percent. 0 when the
 * 8-bit run's final held-out loss is within 2% of f32's, 5 when not, 2 when the f32
 * run's held-out loss did not fall below the untrained model's (nothing learned to
 * compare), 1 on an error. */
static int compare_moments_seed(const mlp_options *options, moments_percent *percent)
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
    size_t tail_points = 0;
    double held_out = f32->held_out_final, untrained = f32->held_out_untrained;
    double held_out_tail = mlp_log_held_out_tail(f32, &tail_points);
    double final = mlp_log_final_loss(f32), tail = mlp_log_tail_loss(f32);
    printf("seed %llu, %zu steps: held-out set of %zu samples drawn apart from the training "
           "data; the untrained model's loss on it %.6f\n",
           (unsigned long long)options->seed, options->steps, f32->held_out_samples, untrained);
    if (options->eval_every)
        printf("held-out last tenth: the mean of the %zu held-out losses (every %zu steps) in "
               "the last tenth of the steps\n",
               tail_points, options->eval_every);
    printf("moments  held-out loss   vs f32 |%s last 10 steps   vs f32 | last tenth   vs f32 | "
           "max curve difference (step)\n",
           options->eval_every ? " held-out last tenth   vs f32 |" : "");
    for (int k = 0; k < 3; k++) {
        const mlp_log *log = &logs[k];
        size_t points;
        double log_held_out_tail = mlp_log_held_out_tail(log, &points);
        percent->held_out[k] = percent_over(log->held_out_final, held_out);
        percent->held_out_tail[k] = percent_over(log_held_out_tail, held_out_tail);
        char versus[4][16] = {"", "", "", ""}; /* k = 0 is f32: nothing to compare */
        if (k > 0) {
            snprintf(versus[0], sizeof versus[0], "%+7.2f%%", percent->held_out[k]);
            snprintf(versus[1], sizeof versus[1], "%+7.2f%%", percent->held_out_tail[k]);
            snprintf(versus[2], sizeof versus[2], "%+7.2f%%",
                     percent_over(mlp_log_final_loss(log), final));
            snprintf(versus[3], sizeof versus[3], "%+7.2f%%",
                     percent_over(mlp_log_tail_loss(log), tail));
        }
        printf("%-8s %13.6f %8s |", moments_dtypes[k], log->held_out_final, versus[0]);
        if (options->eval_every)
            printf(" %19.6f %8s |", log_held_out_tail, versus[1]);
        printf(" %13.6f %8s | %10.6f %8s |", mlp_log_final_loss(log), versus[2],
               mlp_log_tail_loss(log), versus[3]);
        size_t worst_step = 0;
        double worst = mlp_logs_max_relative_difference(f32, log, &worst_step);
        if (k > 0)
            printf(" %7.2f%% (%zu)", 100.0 * worst, worst_step + 1);
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
           percent->held_out[2]);
done:
    for (int k = 0; k < 3; k++)
        mlp_log_free(&logs[k]);
    return result;
}

/* The summary line of one measure over the seeds compared: the mean and the worst
 * (highest) difference of bf16 and 8bit against f32. */
static void print_over_seeds(const char *measure, const double (*percent)[3],
                             const uint64_t *seeds, size_t count)
{
    printf("over %zu seeds, %s against f32:", count, measure);
    for (int k = 1; k < 3; k++) {
        double sum = 0.0;
        size_t worst = 0;
        for (size_t i = 0; i < count; i++) {
            sum += percent[i][k];
            if (percent[i][k] > percent[worst][k])
                worst = i;
        }
        printf("%s %s mean %+.2f%%, worst %+.2f%% (seed %llu)", k > 1 ? ";" : "", moments_dtypes[k],
               sum / (double)count, percent[worst][k], (unsigned long long)seeds[worst]);
    }
    printf("\n");
}

/* --compare-moments, once per seed (--seeds; --seed alone: one), and with several
 * seeds a summary: the mean and the worst (highest) held-out difference of bf16 and
 * 8bit against f32. The worst seed's status: 1 on an error (at once), else 2 if any
 * seed learned nothing, else 5 if 8bit ended more than 2% above f32 on any, else 0. */
static int compare_moments(const mlp_options *options)
{
    size_t seed_count = options->seed_count ? options->seed_count : 1;
    double held_out[MLP_SEEDS_MAX][3], held_out_tail[MLP_SEEDS_MAX][3];
    uint64_t seeds[MLP_SEEDS_MAX];
    size_t failed = 0, compared = 0; /* compared: seeds whose f32 run learned */
    int result = 0;
    for (size_t i = 0; i < seed_count; i++) {
        mlp_options run = *options;
        if (options->seed_count)
            run.seed = options->seeds[i];
        if (i > 0)
            printf("\n");
        moments_percent percent;
        int seed_result = compare_moments_seed(&run, &percent);
        if (seed_result == 1)
            return 1;
        if (seed_result != 0) {
            failed++;
            result = seed_result == 2 || result == 2 ? 2 : seed_result;
        }
        if (seed_result == 2)
            continue;
        for (int k = 0; k < 3; k++)
            held_out[compared][k] = percent.held_out[k],
            held_out_tail[compared][k] = percent.held_out_tail[k];
        seeds[compared++] = run.seed;
    }
    if (seed_count < 2)
        return result;
    printf("\n");
    if (compared > 0)
        print_over_seeds("held-out loss", (const double(*)[3])held_out, seeds, compared);
    if (compared > 0 && options->eval_every)
        print_over_seeds("held-out last tenth", (const double(*)[3])held_out_tail, seeds, compared);
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

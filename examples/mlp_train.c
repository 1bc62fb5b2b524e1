/* Command line, engine set-up and run log shared by the MLP training programs. */
#include "mlp_train.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* What the built-in configs share: the training (fp16, AdamW, clipping) and the
 * ZeRO-2 bucket layout, so that --compare-stage3's two runs differ in the stage only. */
#define MLP_TRAINING_JSON                                                                          \
    "\"gradient_clipping\": 1.0,"                                                                  \
    " \"fp16\": {\"enabled\": true, \"loss_scale\": 0, \"initial_scale_power\": 16},"              \
    " \"optimizer\": {\"type\": \"AdamW\","                                                        \
    "                 \"params\": {\"lr\": 1e-3, \"betas\": [0.9, 0.999], \"weight_decay\": 0.01}},"
#define MLP_ZERO_JSON                                                                              \
    "\"reduce_bucket_size\": 65536, \"overlap_comm\": true, \"contiguous_gradients\": true,"         \
    " \"offload_optimizer\": {\"device\": \"cpu\", \"pin_memory\": true}"

const char mlp_default_config_format[] =
    "{" MLP_TRAINING_JSON " \"zero_optimization\": {\"stage\": 2, " MLP_ZERO_JSON "},"
    " \"zo\": {\"device\": \"%s\"}}";

/* (device, moments dtype, warm-up steps, total steps). The learning rate warms up over
 * the first 5% of the steps and decays linearly to 0 at the last, so that the final
 * model settles: at a constant rate the held-out loss of one run wanders by up to 6.6%
 * between evaluations 10 steps apart, and any change to a run (bf16 rounding as much as
 * 8-bit codes) sends it down a path of its own, ending 4% apart on one seed. */
const char mlp_moments_config_format[] =
    "{" MLP_TRAINING_JSON " \"zero_optimization\": {\"stage\": 2, " MLP_ZERO_JSON "},"
    " \"scheduler\": {\"type\": \"WarmupDecayLR\", \"params\": {\"warmup_min_lr\": 0,"
    " \"warmup_max_lr\": 1e-3, \"warmup_num_steps\": %zu, \"total_num_steps\": %zu}},"
    " \"zo\": {\"device\": \"%s\", \"moments_dtype\": \"%s\"}}";

/* (backend, stage3_max_live_parameters, stage3_param_persistence_threshold,
 * stage3_prefetch_bucket_size, ", \"device_memory_budget\": N" or "") */
static const char stage3_config_format[] =
    "{" MLP_TRAINING_JSON " \"zero_optimization\": {\"stage\": 3, " MLP_ZERO_JSON ","
    " \"offload_param\": {\"device\": \"cpu\", \"pin_memory\": true},"
    " \"stage3_max_live_parameters\": %zu, \"stage3_param_persistence_threshold\": %zu,"
    " \"stage3_prefetch_bucket_size\": %zu},"
    " \"zo\": {\"device\": \"%s\"%s}}";

bool mlp_stage3_config(mlp_shape shape, const char *device, char *text, size_t size)
{
    size_t matrix = shape.width * shape.width;
    bool on_host = strcmp(device, "host") == 0;
    char budget[64] = "";
    /* the host backend counts its device memory and enforces a budget; a GPU's own
     * memory is its limit, and two live matrices let each fetch copy the next ahead */
    if (on_host)
        snprintf(budget, sizeof budget, ", \"device_memory_budget\": %zu",
                 mlp_total_elems(shape) * 2 / 8);
    /* the biases (width elements) fall below the threshold and stay; each weight
     * matrix (width^2) streams */
    int length = snprintf(text, size, stage3_config_format, on_host ? matrix : 2 * matrix,
                          matrix, matrix, device, budget);
    return length > 0 && (size_t)length < size;
}

static const char usage[] =
    "usage: %s [options]\n"
    "  --layers N            Linear layers (8)\n"
    "  --width N             input = hidden = output size (256)\n"
    "  --batch N             samples per micro-step (64)\n"
    "  --steps N             optimizer steps (200)\n"
    "  --config FILE         a DeepSpeed-style JSON config (default: built in, fp16,\n"
    "                        dynamic loss scale, AdamW lr 1e-3, clip 1.0, ZeRO-2 offload)\n"
    "  --checkpoint K        activation checkpointing: keep every K-th layer's input,\n"
    "                        recompute the rest in the backward\n"
    "  --compare-checkpoint  train twice, without and with --checkpoint K (default 2),\n"
    "                        and require bit-identical losses\n"
    "  --stage3              ZeRO stage 3: the built-in config with the 16-bit weights in\n"
    "                        host memory, fetched layer by layer; on the host backend\n"
    "                        under a device budget of 1/8 of them (about 22 layers or\n"
    "                        more: one weight matrix live plus the biases must fit)\n"
    "  --compare-stage3      train twice, with the built-in config at stage 2 and at\n"
    "                        stage 3, and require bit-identical losses\n"
    "  --moments DTYPE       the built-in config with zo.moments_dtype DTYPE (f32, bf16\n"
    "                        or 8bit) and the learning rate warmed up over 5%% of the\n"
    "                        steps, then decayed linearly to 0 (WarmupDecayLR)\n"
    "  --compare-moments     train three times from the same seed, with f32, bf16 and\n"
    "                        8bit moments (as --moments); report the held-out and the training\n"
    "                        losses and how far the curves ever were apart; pass\n"
    "                        when 8bit's held-out loss is within 2%% of f32's\n"
    "  --seeds A-B|A,B,...   --compare-moments once per seed, then a summary; pass\n"
    "                        when every seed passes\n"
    "  --eval-batches K      the held-out set: K batches of --batch samples drawn apart\n"
    "                        from the training data (same teacher, same for every run\n"
    "                        of a seed); the model's mean loss on it is reported\n"
    "                        before and after training (at stage 3 after only) (16)\n"
    "  --eval-every N        the held-out loss every N steps too (off)\n"
    "  --print-every N       a log line every N steps (10)\n"
    "  --seed N              initialization and data (1)\n"
    "  --quiet               only the summary\n"
    "Exits 0 when the loss of the last 10 steps is below half that of the first 10\n"
    "(with --compare-*: when the two runs' losses are identical), 2 when the loss\n"
    "did not fall so (--compare-moments: the f32 run's held-out loss not below the\n"
    "untrained model's), 3 when checkpointing or stage 3 changed the losses, 4 when the\n"
    "device memory's high-water mark passed its budget, 5 when 8bit moments ended\n"
    "more than 2%% above f32 on the held-out set (--compare-moments: on any seed),\n"
    "1 on an error.\n";

/* A whole decimal number in [min, max]; prints why not. */
static bool parse_count(const char *option, const char *text, size_t min, size_t max, size_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long value = text ? strtoull(text, &end, 10) : 0;
    if (!text || end == text || *end != '\0' || errno != 0 || text[0] == '-' || value < min ||
        value > max) {
        fprintf(stderr, "%s wants a whole number in [%zu, %zu], got \"%s\"\n", option, min, max,
                text ? text : "");
        return false;
    }
    *out = (size_t)value;
    return true;
}

/* A seed, the whole of text[0, length); false if it is not one. */
static bool parse_seed(const char *text, size_t length, uint64_t *out)
{
    char number[32], *end = NULL;
    if (length == 0 || length >= sizeof number || text[0] < '0' || text[0] > '9')
        return false;
    memcpy(number, text, length);
    number[length] = '\0';
    errno = 0;
    unsigned long long value = strtoull(number, &end, 10);
    *out = value;
    return *end == '\0' && errno == 0;
}

/* --seeds: "A-B" (A <= B) or "A,B,..."; prints why not. */
static bool parse_seeds(const char *text, mlp_options *out)
{
    const char *dash = text ? strchr(text, '-') : NULL;
    out->seed_count = 0;
    if (text && dash) {
        uint64_t first, last;
        bool ok = parse_seed(text, (size_t)(dash - text), &first) &&
                  parse_seed(dash + 1, strlen(dash + 1), &last) && first <= last &&
                  last - first < MLP_SEEDS_MAX;
        for (uint64_t seed = first; ok && seed <= last; seed++)
            out->seeds[out->seed_count++] = seed;
        if (ok)
            return true;
    } else if (text) {
        bool ok = true;
        for (const char *item = text; ok; item = strchr(item, ',') + 1) {
            const char *comma = strchr(item, ',');
            size_t length = comma ? (size_t)(comma - item) : strlen(item);
            ok = out->seed_count < MLP_SEEDS_MAX &&
                 parse_seed(item, length, &out->seeds[out->seed_count++]);
            if (!comma)
                break;
        }
        if (ok)
            return true;
    }
    fprintf(stderr, "--seeds wants A-B (A <= B) or a comma list, at most %d seeds, got \"%s\"\n",
            MLP_SEEDS_MAX, text ? text : "");
    return false;
}

int mlp_parse_options(int argc, char **argv, mlp_options *out)
{
    *out = (mlp_options){.shape = {.layers = 8, .width = 256},
                         .batch = 64,
                         .steps = 200,
                         .print_every = 10,
                         .eval_batches = 16,
                         .seed = 1};
    bool seed_given = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        size_t seed = 0;
        bool ok = true, takes_value = true;
        if (!strcmp(arg, "--layers"))
            ok = parse_count(arg, value, 1, 1 << 12, &out->shape.layers);
        else if (!strcmp(arg, "--width"))
            ok = parse_count(arg, value, 1, 1 << 15, &out->shape.width);
        else if (!strcmp(arg, "--batch"))
            ok = parse_count(arg, value, 1, 1 << 20, &out->batch);
        else if (!strcmp(arg, "--steps"))
            ok = parse_count(arg, value, 1, (size_t)1 << 40, &out->steps);
        else if (!strcmp(arg, "--checkpoint"))
            ok = parse_count(arg, value, 1, 1 << 12, &out->checkpoint_every);
        else if (!strcmp(arg, "--print-every"))
            ok = parse_count(arg, value, 1, (size_t)1 << 40, &out->print_every);
        else if (!strcmp(arg, "--seed"))
            ok = parse_count(arg, value, 0, SIZE_MAX, &seed), out->seed = seed, seed_given = true;
        else if (!strcmp(arg, "--seeds"))
            ok = parse_seeds(value, out);
        else if (!strcmp(arg, "--eval-batches"))
            ok = parse_count(arg, value, 1, 1 << 16, &out->eval_batches),
            out->eval_options_given = true;
        else if (!strcmp(arg, "--eval-every"))
            ok = parse_count(arg, value, 1, (size_t)1 << 40, &out->eval_every),
            out->eval_options_given = true;
        else if (!strcmp(arg, "--moments")) {
            ok = value && (!strcmp(value, "f32") || !strcmp(value, "bf16") || !strcmp(value, "8bit"));
            out->moments_dtype = value;
            if (!ok)
                fprintf(stderr, "--moments wants f32, bf16 or 8bit\n");
        } else if (!strcmp(arg, "--config")) {
            ok = value != NULL;
            out->config_path = value;
            if (!ok)
                fprintf(stderr, "--config wants a file name\n");
        } else {
            takes_value = false;
            if (!strcmp(arg, "--compare-checkpoint"))
                out->compare_checkpoint = true;
            else if (!strcmp(arg, "--stage3"))
                out->stage3 = true;
            else if (!strcmp(arg, "--compare-stage3"))
                out->compare_stage3 = true;
            else if (!strcmp(arg, "--compare-moments"))
                out->compare_moments = true;
            else if (!strcmp(arg, "--quiet"))
                out->quiet = true;
            else if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
                printf(usage, argv[0]);
                return 2;
            } else {
                fprintf(stderr, "unknown option \"%s\"\n", arg);
                ok = false;
            }
        }
        if (!ok) {
            fprintf(stderr, usage, argv[0]);
            return 1;
        }
        i += takes_value;
    }
    const char *refused = NULL;
    if (out->compare_checkpoint && out->compare_stage3)
        refused = "--compare-checkpoint and --compare-stage3 are two runs each: one at a time";
    else if ((out->stage3 || out->compare_stage3) && out->config_path)
        refused = "--stage3 and --compare-stage3 use the built-in configs: not with --config";
    else if ((out->moments_dtype || out->compare_moments) && (out->config_path || out->stage3))
        refused = "--moments and --compare-moments edit the built-in stage-2 config: not with --config or --stage3";
    else if (out->compare_moments && (out->compare_checkpoint || out->compare_stage3))
        refused = "--compare-moments is three runs: not with another --compare-*";
    else if (out->seed_count && !out->compare_moments)
        refused = "--seeds runs --compare-moments once per seed: for one run use --seed";
    else if (out->seed_count && seed_given)
        refused = "--seed and --seeds: one or the other";
    else if (out->eval_every > out->steps)
        refused = "--eval-every N wants N <= --steps: no step would be evaluated";
    else if (out->eval_every && (out->stage3 || out->compare_stage3))
        refused = "--eval-every is not supported at ZeRO stage 3: the evaluation's fetches would "
                  "enter the fetch order the engine records and prefetches along";
    if (refused) {
        fprintf(stderr, "%s\n", refused);
        return 1;
    }
    if (out->compare_checkpoint && out->checkpoint_every == 0)
        out->checkpoint_every = 2;
    return 0;
}

bool mlp_engine_open(const mlp_options *options, const char *device, zo_engine **out,
                     size_t *micro_steps)
{
    mlp_shape shape = options->shape;
    size_t param_count = mlp_param_count(shape);
    zo_config *config = NULL;
    zo_engine *engine = NULL;
    zo_param_desc *descs = calloc(param_count, sizeof *descs);
    char(*names)[MLP_NAME_MAX] = calloc(param_count, sizeof *names);
    float *values = malloc(shape.width * shape.width * sizeof *values);
    char default_config[sizeof mlp_default_config_format + 1024];
    bool opened = false;
    *out = NULL;
    if (!descs || !names || !values) {
        fprintf(stderr, "mlp_engine_open: out of memory\n");
        goto fail;
    }
    if (options->config_text)
        MLP_CHECK(zo_config_from_string(options->config_text, &config));
    else if (options->config_path)
        MLP_CHECK(zo_config_from_file(options->config_path, &config));
    else {
        if (options->moments_dtype)
            snprintf(default_config, sizeof default_config, mlp_moments_config_format,
                     options->steps / 20 + 1, options->steps + 1, device, options->moments_dtype);
        else if (!options->stage3)
            snprintf(default_config, sizeof default_config, mlp_default_config_format, device);
        else if (!mlp_stage3_config(shape, device, default_config, sizeof default_config)) {
            fprintf(stderr, "mlp_engine_open: the stage-3 config does not fit its buffer\n");
            goto fail;
        }
        MLP_CHECK(zo_config_from_string(default_config, &config));
    }
    for (size_t k = 0; k < zo_config_ignored_count(config) && !options->quiet; k++)
        printf("note: %s has no meaning for zo and is ignored\n", zo_config_ignored_key(config, k));

    /* the loop's micro-batch is --batch; the accumulation is what the engine will
     * resolve from the config (it checks the batch keys against each other) */
    const zo_settings *settings = zo_config_settings(config);
    uint64_t micro = settings->train_micro_batch_size_per_gpu, train = settings->train_batch_size;
    uint64_t accumulation = settings->gradient_accumulation_steps;
    if (!accumulation)
        accumulation = train && micro && train % micro == 0 ? train / micro : 1;
    if (micro && micro != options->batch) {
        fprintf(stderr, "train_micro_batch_size_per_gpu is %llu in the config but --batch is %zu\n",
                (unsigned long long)micro, options->batch);
        goto fail;
    }
    if (train && train != options->batch * accumulation) {
        fprintf(stderr, "train_batch_size %llu != --batch %zu * gradient_accumulation_steps %llu\n",
                (unsigned long long)train, options->batch, (unsigned long long)accumulation);
        goto fail;
    }

    /* register the parameters once, in forward order, then give them their initial
     * values (fp32 master weights on the host, rounded copies on the device) */
    mlp_param_descs(shape, descs, names);
    MLP_CHECK(zo_engine_create(config, descs, param_count, &engine));
    if (strcmp(zo_engine_device_name(engine), device) != 0) { /* its pointers are not ours */
        fprintf(stderr,
                "the engine chose the %s backend, but this program computes on the %s: set "
                "\"zo\": {\"device\": \"%s\"} in the config\n",
                zo_engine_device_name(engine), device, device);
        goto fail;
    }
    for (size_t param = 0; param < param_count; param++) {
        mlp_init_param(shape, param, options->seed, values);
        MLP_CHECK(zo_engine_set_master(engine, param, values));
    }
    *out = engine;
    *micro_steps = (size_t)accumulation;
    engine = NULL;
    opened = true;
fail:
    zo_engine_destroy(&engine);
    zo_config_destroy(&config);
    free(values);
    free(names);
    free(descs);
    return opened;
}

void mlp_print_setup(const mlp_options *options, zo_engine *engine, size_t micro_steps)
{
    if (options->quiet)
        return;
    mlp_shape shape = options->shape;
    printf("MLP %zu x Linear(%zu, %zu): %zu parameters in %zu tensors, %zu bucket(s); %s weights "
           "on the %s backend\n",
           shape.layers, shape.width, shape.width, mlp_total_elems(shape), mlp_param_count(shape),
           zo_engine_bucket_count(engine), zo_dtype_name(zo_engine_dtype(engine)),
           zo_engine_device_name(engine));
    printf("batch %zu x %zu micro-step(s), %zu steps, ", options->batch, micro_steps,
           options->steps);
    if (options->checkpoint_every > 1)
        printf("activation checkpointing every %zu layers\n", options->checkpoint_every);
    else
        printf("every activation kept\n");
    if (zo_engine_ranks(engine) > 1)
        printf("sharded over %zu ranks: this is rank %zu, drawing batches of its own\n",
               zo_engine_ranks(engine), zo_engine_rank(engine));
    zo_memory_plan plan;
    if (zo_engine_memory(engine, &plan) == ZO_OK && plan.stage3_pool_bytes > 0)
        printf("ZeRO stage 3: weights in host memory; on the device %.1f KiB: persistent "
               "parameters %.1f KiB, weight slots %.1f KiB, gradient slots %.1f KiB\n",
               (double)plan.device_bytes / 1024, (double)plan.stage3_persistent_bytes / 1024,
               (double)plan.stage3_pool_bytes / 1024, (double)plan.stage3_grad_pool_bytes / 1024);
}

bool mlp_log_init(mlp_log *log, size_t steps)
{
    *log = (mlp_log){.capacity = steps, .held_out_untrained = NAN, .held_out_final = NAN};
    log->loss = calloc(steps, sizeof *log->loss);
    log->grad_norm = calloc(steps, sizeof *log->grad_norm);
    log->compute_seconds = calloc(steps, sizeof *log->compute_seconds);
    /* at most one held-out point per step (--eval-every 1) */
    log->held_out_curve = calloc(steps, sizeof *log->held_out_curve);
    log->held_out_curve_step = calloc(steps, sizeof *log->held_out_curve_step);
    if (!log->loss || !log->grad_norm || !log->compute_seconds || !log->held_out_curve ||
        !log->held_out_curve_step) {
        mlp_log_free(log);
        return false;
    }
    return true;
}

void mlp_log_free(mlp_log *log)
{
    free(log->loss);
    free(log->grad_norm);
    free(log->compute_seconds);
    free(log->held_out_curve);
    free(log->held_out_curve_step);
    *log = (mlp_log){0};
}

void mlp_log_step(mlp_log *log, const mlp_options *options, double loss, float loss_scale,
                  const zo_step_info *info)
{
    size_t step = log->steps;
    if (step >= log->capacity)
        return;
    log->loss[step] = loss;
    log->grad_norm[step] = info->grad_norm;
    log->skipped += info->skipped;
    log->steps++;
    bool print = step % options->print_every == 0 || step + 1 == options->steps || info->skipped;
    if (options->quiet || !print)
        return;
    printf("step %5zu  loss %.6f  grad norm %9.4f  loss scale %6.0f  skipped %zu%s\n", step, loss,
           info->grad_norm, loss_scale, log->skipped,
           info->skipped ? "  (overflow: step skipped, scale lowered)" : "");
}

void mlp_log_end_step(mlp_log *log, zo_engine *engine, double compute_seconds)
{
    if (log->steps == 0)
        return;
    log->compute_seconds[log->steps - 1] = compute_seconds;
    if (log->hook)
        log->hook(log->hook_user, engine, log);
}

void mlp_log_micro_step(mlp_log *log, const zo_step_info *info)
{
    log->micro_steps++;
    log->fetches += info->fetches;
    log->prefetch_hits += info->prefetch_hits;
    log->reuses += info->reuses;
    log->bytes_fetched += info->bytes_fetched;
    /* the first micro-step records the order the others are held to */
    log->order_mismatches += log->micro_steps > 1 && info->fetches > 0 && !info->prefetch_order_matched;
    log->last_micro_step = *info;
}

void mlp_log_device(mlp_log *log, zo_engine *engine)
{
    zo_memory_plan plan;
    log->device_high_water = zo_engine_device_high_water(engine);
    if (zo_engine_memory(engine, &plan) != ZO_OK)
        return;
    log->device_limit = plan.device_limit_bytes;
    /* the flat space's elements, alignment padding included (none at widths that are
     * multiples of 64) */
    log->weight_bytes = plan.param_elems * (zo_engine_dtype(engine) == ZO_DTYPE_F32 ? 4 : 2);
}

void mlp_log_held_out(mlp_log *log, const mlp_options *options, size_t step, double loss)
{
    if (log->held_out_points >= log->capacity)
        return;
    log->held_out_curve[log->held_out_points] = loss;
    log->held_out_curve_step[log->held_out_points++] = step;
    if (!options->quiet)
        printf("after %5zu steps  held-out loss %.6f (%zu samples)\n", step, loss,
               log->held_out_samples);
}

bool mlp_log_within_limit(const mlp_log *log)
{
    return log->device_high_water == 0 || log->device_limit == 0 ||
           log->device_high_water <= log->device_limit;
}

/* The mean loss of `count` steps from `first`. */
static double mean_loss(const mlp_log *log, size_t first, size_t count)
{
    double sum = 0.0;
    for (size_t step = first; step < first + count; step++)
        sum += log->loss[step];
    return count ? sum / (double)count : NAN;
}

static size_t window(const mlp_log *log) { return log->steps < 10 ? log->steps : 10; }

double mlp_log_first_loss(const mlp_log *log) { return mean_loss(log, 0, window(log)); }

/* The last tenth of the steps, at least the last min(10, steps). */
static size_t tail_window(const mlp_log *log)
{
    return log->steps / 10 > 10 ? log->steps / 10 : window(log);
}

double mlp_log_tail_loss(const mlp_log *log)
{
    size_t tail = tail_window(log);
    return mean_loss(log, log->steps - tail, tail);
}

double mlp_log_final_loss(const mlp_log *log)
{
    return mean_loss(log, log->steps - window(log), window(log));
}

bool mlp_log_learned(const mlp_log *log)
{
    return mlp_log_final_loss(log) < 0.5 * mlp_log_first_loss(log);
}

void mlp_log_report(const mlp_log *log, const char *label)
{
    double first = mlp_log_first_loss(log), final = mlp_log_final_loss(log);
    printf("%sloss %.6f -> %.6f (mean of the first and last %zu steps: %.3fx)\n", label, first,
           final, window(log), final / first);
    printf("%s%zu steps (%zu skipped) in %.2f s: %.2f ms/step, %.0f samples/s\n", label, log->steps,
           log->skipped, log->seconds, 1e3 * log->seconds / (double)log->steps,
           (double)log->samples / log->seconds);
    if (!isnan(log->held_out_final)) {
        printf("%sheld-out loss ", label);
        if (!isnan(log->held_out_untrained))
            printf("%.6f -> ", log->held_out_untrained);
        printf("%.6f (%zu samples drawn apart from the training data", log->held_out_final,
               log->held_out_samples);
        if (!isnan(log->held_out_untrained))
            printf(": %.3fx", log->held_out_final / log->held_out_untrained);
        printf(")\n");
    }
    if (log->device_high_water > 0) {
        printf("%sdevice memory high-water %.1f KiB (the model's 16-bit weights: %.1f KiB)", label,
               (double)log->device_high_water / 1024, (double)log->weight_bytes / 1024);
        if (log->device_limit > 0)
            printf(", limit %.1f KiB (1/%.2f of the weights): %s", (double)log->device_limit / 1024,
                   (double)log->weight_bytes / (double)log->device_limit,
                   mlp_log_within_limit(log) ? "within" : "OVER");
        printf("\n");
    }
    if (log->fetches == 0)
        return;
    const zo_step_info *last = &log->last_micro_step;
    double micro_steps = (double)log->micro_steps;
    printf("%sparameter fetches per micro-step: %.1f copies up (%.1f KiB), %.1f prefetch hits, %.1f reuses; "
           "order matched in %zu of the %zu after the first\n",
           label, (double)log->fetches / micro_steps, (double)log->bytes_fetched / 1024 / micro_steps,
           (double)log->prefetch_hits / micro_steps, (double)log->reuses / micro_steps,
           log->micro_steps - 1 - log->order_mismatches, log->micro_steps - 1);
    printf("%sthe last micro-step: %llu copies up (%.1f KiB), %llu prefetch hits, %llu reuses, "
           "order %s\n",
           label, (unsigned long long)last->fetches, (double)last->bytes_fetched / 1024,
           (unsigned long long)last->prefetch_hits, (unsigned long long)last->reuses,
           last->prefetch_order_matched ? "matched" : "NOT matched");
}

bool mlp_logs_identical(const mlp_log *a, const mlp_log *b)
{
    if (a->steps != b->steps) {
        printf("the runs have %zu and %zu steps\n", a->steps, b->steps);
        return false;
    }
    for (size_t step = 0; step < a->steps; step++) {
        bool same_norm = memcmp(&a->grad_norm[step], &b->grad_norm[step], sizeof(double)) == 0;
        if (memcmp(&a->loss[step], &b->loss[step], sizeof(double)) != 0 || !same_norm) {
            printf("step %zu differs: loss %.17g vs %.17g, grad norm %.17g vs %.17g\n", step,
                   a->loss[step], b->loss[step], a->grad_norm[step], b->grad_norm[step]);
            return false;
        }
    }
    return true;
}

double mlp_logs_max_relative_difference(const mlp_log *a, const mlp_log *b, size_t *worst_step)
{
    double worst = 0.0;
    *worst_step = 0;
    for (size_t step = 0; step < a->steps && step < b->steps; step++) {
        double difference = fabs(a->loss[step] - b->loss[step]) / fabs(a->loss[step]);
        if (difference > worst)
            worst = difference, *worst_step = step;
    }
    return worst;
}

double mlp_log_held_out_tail(const mlp_log *log, size_t *points)
{
    size_t tail = tail_window(log);
    double sum = 0.0;
    *points = 0;
    for (size_t k = 0; k < log->held_out_points; k++)
        if (log->held_out_curve_step[k] > log->steps - tail)
            sum += log->held_out_curve[k], ++*points;
    return *points ? sum / (double)*points : NAN;
}

double mlp_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + 1e-9 * (double)now.tv_nsec;
}

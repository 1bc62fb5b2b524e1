/* The host training loop of the deep MLP (mlp_model.h) with the offload engine,
 * computing on the host as a GPU would: weights are read from the engine's device
 * buffer in its dtype (fp16 or bf16) and multiplied with fp32 accumulation, as
 * cublasGemmEx does; activations and their gradients are stored in that dtype; each
 * layer's gradients go into the engine's buffer the moment the backward has them, so
 * buckets copy down while the backward goes on. Every use of a layer's weights sits
 * between zo_engine_fetch and zo_engine_release, so the same loop runs ZeRO stage 3.
 * mlp_cuda_loop.cu is its twin with cuBLAS. train_mlp_host and zo-bench train run it. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zo/zo.h>

#include "mlp_loops.h"
#include "mlp_model.h"
#include "mlp_train.h"

/* An engine call of the forward or backward: its time is kept apart from the loop's
 * compute (m->engine_seconds); a failed zo_status goes back to the caller, which
 * prints it (MLP_CHECK). */
#define ENGINE_CALL(m, call)                                                                       \
    do {                                                                                           \
        double began_ = mlp_seconds();                                                             \
        zo_status status_ = (call);                                                                \
        (m)->engine_seconds += mlp_seconds() - began_;                                             \
        if (status_ != ZO_OK)                                                                      \
            return status_;                                                                        \
    } while (0)

/* ----------------------------------------------------------------------------------
 * Storage in the device dtype. A GPU keeps activations and gradients in fp16/bf16 and
 * multiplies them with fp32 accumulation; here tensors are fp32 arrays whose values
 * are rounded to the dtype wherever the GPU would store them, which gives the same
 * numbers (up to the order of the sums) and makes loss scaling matter as it does
 * there: an unscaled fp16 activation gradient underflows. */

static float round_to(zo_dtype dtype, float value)
{
    switch (dtype) {
    case ZO_DTYPE_F16: return zo_f16_to_f32(zo_f32_to_f16(value));
    case ZO_DTYPE_BF16: return zo_bf16_to_f32(zo_f32_to_bf16(value));
    default: return value;
    }
}

static float load_as_f32(zo_dtype dtype, const void *values, size_t i)
{
    switch (dtype) {
    case ZO_DTYPE_F16: return zo_f16_to_f32(((const uint16_t *)values)[i]);
    case ZO_DTYPE_BF16: return zo_bf16_to_f32(((const uint16_t *)values)[i]);
    default: return ((const float *)values)[i];
    }
}

/* dst[0..n) = src in `dtype`, rounded to nearest even. */
static void store_as(zo_dtype dtype, void *dst, const float *src, size_t n)
{
    if (dtype == ZO_DTYPE_F32) {
        memcpy(dst, src, n * sizeof(float));
        return;
    }
    uint16_t (*narrow)(float) = dtype == ZO_DTYPE_F16 ? zo_f32_to_f16 : zo_f32_to_bf16;
    uint16_t *out = dst;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        out[i] = narrow(src[i]);
}

/* ----------------------------------------------------------------------------------
 * GEMM: c[rows][cols] = op(a)[rows][depth] * b[depth][cols], row-major fp32, where
 * op(a) is a, or with transpose_a the transpose of a stored [depth][rows]. Blocked so
 * that a panel of b stays in cache while a block of c's rows is updated; the innermost
 * loop runs along contiguous rows of b and c and vectorizes. Each c element is summed
 * in increasing k whatever the blocking and thread count: the result is the same on
 * every run, which the checkpointing test relies on. */

enum { GEMM_ROWS = 8, GEMM_COLS = 256, GEMM_DEPTH = 64 };

static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

static void gemm_f32(bool transpose_a, size_t rows, size_t cols, size_t depth,
                     const float *restrict a, const float *restrict b, float *restrict c)
{
#pragma omp parallel for schedule(static)
    for (size_t row0 = 0; row0 < rows; row0 += GEMM_ROWS) {
        size_t row_end = min_size(row0 + GEMM_ROWS, rows);
        for (size_t col0 = 0; col0 < cols; col0 += GEMM_COLS) {
            size_t col_end = min_size(col0 + GEMM_COLS, cols);
            for (size_t r = row0; r < row_end; r++)
                for (size_t j = col0; j < col_end; j++)
                    c[r * cols + j] = 0.0f;
            for (size_t k0 = 0; k0 < depth; k0 += GEMM_DEPTH) {
                size_t k_end = min_size(k0 + GEMM_DEPTH, depth);
                for (size_t r = row0; r < row_end; r++) {
                    float *restrict c_row = c + r * cols;
                    for (size_t k = k0; k < k_end; k++) {
                        float a_rk = transpose_a ? a[k * rows + r] : a[r * depth + k];
                        const float *restrict b_row = b + k * cols;
                        for (size_t j = col0; j < col_end; j++)
                            c_row[j] += a_rk * b_row[j];
                    }
                }
            }
        }
    }
}

/* ----------------------------------------------------------------------------------
 * The model's tensors on the "device". Activations: layer_input[i] is layer i's input
 * [batch][width] (layer_input[layers] the output). Without checkpointing every one is
 * kept for the backward; with checkpointing every K, only the inputs of layers 0, K,
 * 2K, ... (and the output) have buffers of their own, the others share K - 1 scratch
 * slots and are recomputed, segment by segment, in the backward. */
typedef struct host_mlp {
    mlp_shape shape;
    size_t batch;
    size_t checkpoint_every; /* K; 1 keeps everything */
    zo_dtype dtype;
    float *weight;       /* the fetched layer's weight widened to fp32, [out][in] */
    float *weight_t;     /* the same transposed, [in][out]: the forward's b       */
    float *bias;         /* its bias, [width]                                     */
    float **layer_input; /* [layers + 1] into kept or scratch below              */
    float *kept, *scratch;
    float *target;      /* [batch][width]                                       */
    float *grad_out;    /* dY: d(loss * scale) / d layer output, [batch][width] */
    float *grad_in;     /* dX: d(loss * scale) / d layer input                  */
    float *grad_weight; /* [width][width] fp32, before rounding to the engine's */
    float *grad_bias;   /* [width]                                              */
    size_t activation_bytes;
    double engine_seconds; /* this step so far, inside zo_engine_* calls */
} host_mlp;

static bool is_kept(const host_mlp *m, size_t index)
{
    return index % m->checkpoint_every == 0 || index == m->shape.layers;
}

static void host_mlp_destroy(host_mlp *m)
{
    free(m->weight);
    free(m->weight_t);
    free(m->bias);
    free(m->layer_input);
    free(m->kept);
    free(m->scratch);
    free(m->target);
    free(m->grad_out);
    free(m->grad_in);
    free(m->grad_weight);
    free(m->grad_bias);
    *m = (host_mlp){0};
}

static bool host_mlp_create(host_mlp *m, mlp_shape shape, size_t batch, size_t checkpoint_every,
                            zo_dtype dtype)
{
    size_t layers = shape.layers, width = shape.width, act = batch * width;
    *m = (host_mlp){.shape = shape,
                    .batch = batch,
                    .checkpoint_every = checkpoint_every ? checkpoint_every : 1,
                    .dtype = dtype};
    size_t kept_count = 0;
    for (size_t i = 0; i <= layers; i++)
        kept_count += is_kept(m, i);
    size_t scratch_count = min_size(m->checkpoint_every - 1, layers - 1);
    m->weight = malloc(width * width * sizeof(float));
    m->weight_t = malloc(width * width * sizeof(float));
    m->bias = malloc(width * sizeof(float));
    m->layer_input = calloc(layers + 1, sizeof(float *));
    m->kept = malloc(kept_count * act * sizeof(float));
    m->scratch = malloc((scratch_count ? scratch_count : 1) * act * sizeof(float));
    m->target = malloc(act * sizeof(float));
    m->grad_out = malloc(act * sizeof(float));
    m->grad_in = malloc(act * sizeof(float));
    m->grad_weight = malloc(width * width * sizeof(float));
    m->grad_bias = malloc(width * sizeof(float));
    if (!m->weight || !m->weight_t || !m->bias || !m->layer_input || !m->kept || !m->scratch ||
        !m->target || !m->grad_out || !m->grad_in || !m->grad_weight || !m->grad_bias)
        goto fail;
    /* inside a segment, input i takes slot (i mod K) - 1: the slots of one segment
     * are distinct, and the next segment's forward reuses them */
    for (size_t i = 0, kept = 0; i <= layers; i++)
        m->layer_input[i] = is_kept(m, i) ? m->kept + act * kept++
                                          : m->scratch + act * (i % m->checkpoint_every - 1);
    m->activation_bytes = (kept_count + scratch_count) * act * sizeof(float);
    return true;
fail:
    host_mlp_destroy(m);
    return false;
}

/* Fetches the layer's weight and bias (ZeRO stage 3: copied up into a slot, or found
 * still there; stages 0-2: waits for their bucket's update) and widens them to fp32
 * (exact), in both layouts, as a GPU kernel reads them. The engine's pointers are read
 * here, between the fetch and the release, and never kept: in stage 3 the next fetch
 * may put the layer in another slot. */
static zo_status fetch_layer(host_mlp *m, zo_engine *engine, size_t layer)
{
    size_t width = m->shape.width;
    ENGINE_CALL(m, zo_engine_fetch(engine, mlp_weight_param(layer), NULL));
    ENGINE_CALL(m, zo_engine_fetch(engine, mlp_bias_param(layer), NULL));
    const void *weight = zo_engine_weights(engine, mlp_weight_param(layer));
    const void *bias = zo_engine_weights(engine, mlp_bias_param(layer));
    if (!weight || !bias)
        return ZO_ERR_INVALID_ARGUMENT; /* zo_last_error() says why */
    float *restrict w = m->weight, *restrict w_t = m->weight_t;
#pragma omp parallel for schedule(static)
    for (size_t out = 0; out < width; out++)
        for (size_t in = 0; in < width; in++)
            w[out * width + in] = w_t[in * width + out] =
                load_as_f32(m->dtype, weight, out * width + in);
    for (size_t out = 0; out < width; out++)
        m->bias[out] = load_as_f32(m->dtype, bias, out);
    return ZO_OK;
}

/* The layer's weights are no longer read: in stage 3 their slots may take others. */
static zo_status release_layer(host_mlp *m, zo_engine *engine, size_t layer)
{
    ENGINE_CALL(m, zo_engine_release(engine, mlp_weight_param(layer), NULL));
    ENGINE_CALL(m, zo_engine_release(engine, mlp_bias_param(layer), NULL));
    return ZO_OK;
}

/* output = relu(input W^T + b) (no ReLU on the last layer), stored in the dtype
 * except the last layer's, which the loss reads in fp32; W and b are the fetched
 * layer's (fetch_layer). */
static void layer_forward(const host_mlp *m, size_t layer, const float *input, float *output)
{
    size_t width = m->shape.width, batch = m->batch;
    bool hidden = layer + 1 < m->shape.layers;
    gemm_f32(false, batch, width, width, input, m->weight_t, output);
    const float *restrict bias = m->bias;
#pragma omp parallel for schedule(static)
    for (size_t n = 0; n < batch; n++)
        for (size_t j = 0; j < width; j++) {
            float value = output[n * width + j] + bias[j];
            if (hidden)
                value = round_to(m->dtype, value > 0.0f ? value : 0.0f);
            output[n * width + j] = value;
        }
}

/* Layers first .. end - 1 forward, each between its fetch and its release: a layer
 * waits for its own parameters only (the engine may still be updating and copying up
 * later layers). The forward, and with checkpointing each recomputed segment. */
static zo_status forward_layers(host_mlp *m, zo_engine *engine, size_t first, size_t end)
{
    for (size_t layer = first; layer < end; layer++) {
        zo_status status = fetch_layer(m, engine, layer);
        if (status != ZO_OK)
            return status;
        layer_forward(m, layer, m->layer_input[layer], m->layer_input[layer + 1]);
        if ((status = release_layer(m, engine, layer)) != ZO_OK)
            return status;
    }
    return ZO_OK;
}

/* Mean squared error of the output against the target over batch x width: the
 * training's loss and the held-out set's. */
static double mean_squared_error(const host_mlp *m)
{
    size_t count = m->batch * m->shape.width;
    const float *output = m->layer_input[m->shape.layers];
    double sum = 0.0;
    for (size_t i = 0; i < count; i++) {
        float error = output[i] - m->target[i];
        sum += (double)error * error;
    }
    return sum / (double)count;
}

/* The mean squared error, and the gradient the backward starts from:
 * d(loss * loss_scale) / d output, stored in the dtype. */
static double loss_and_grad(host_mlp *m, float loss_scale)
{
    size_t count = m->batch * m->shape.width;
    const float *output = m->layer_input[m->shape.layers];
    float grad_factor = 2.0f * loss_scale / (float)count;
    for (size_t i = 0; i < count; i++)
        m->grad_out[i] = round_to(m->dtype, grad_factor * (output[i] - m->target[i]));
    return mean_squared_error(m);
}

/* The backward, from the last layer. grad_out (dY) holds the gradient of loss *
 * loss_scale with respect to the current layer's output before its ReLU. For each
 * layer, fetched again: dW = dY^T X and db = the sum of dY over the batch are written
 * into the engine's gradient slots and handed over at once; then dX = dY W, masked by
 * the ReLU that produced X, is the previous layer's dY, and the layer is released. */
static zo_status backward(host_mlp *m, zo_engine *engine)
{
    size_t layers = m->shape.layers, width = m->shape.width, batch = m->batch;
    size_t every = m->checkpoint_every;
    for (size_t layer = layers; layer-- > 0;) {
        zo_status status;
        /* entering a segment from its top: recompute the inputs of its layers from
         * the kept input of its first, fetching their weights once more (the last
         * segment's are still in the scratch slots from the forward) */
        if (every > 1 && layer % every == every - 1 && layer + 1 < layers &&
            (status = forward_layers(m, engine, layer - (every - 1), layer)) != ZO_OK)
            return status;
        if ((status = fetch_layer(m, engine, layer)) != ZO_OK)
            return status;
        const float *input = m->layer_input[layer];

        gemm_f32(true, width, width, batch, m->grad_out, input, m->grad_weight);
        for (size_t j = 0; j < width; j++)
            m->grad_bias[j] = 0.0f;
        for (size_t n = 0; n < batch; n++)
            for (size_t j = 0; j < width; j++)
                m->grad_bias[j] += m->grad_out[n * width + j];
        size_t weight_param = mlp_weight_param(layer), bias_param = mlp_bias_param(layer);
        void *grad_weight = zo_engine_grads(engine, weight_param);
        void *grad_bias = zo_engine_grads(engine, bias_param);
        if (!grad_weight || !grad_bias)
            return ZO_ERR_INVALID_ARGUMENT; /* no gradient slot: zo_last_error() says why */
        store_as(m->dtype, grad_weight, m->grad_weight, width * width);
        store_as(m->dtype, grad_bias, m->grad_bias, width);
        ENGINE_CALL(m, zo_engine_grad_ready(engine, weight_param, NULL));
        ENGINE_CALL(m, zo_engine_grad_ready(engine, bias_param, NULL));

        if (layer == 0) /* nothing wants d loss / d input */
            return release_layer(m, engine, layer);
        gemm_f32(false, batch, width, width, m->grad_out, m->weight, m->grad_in);
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < batch * width; i++)
            m->grad_in[i] = input[i] > 0.0f ? round_to(m->dtype, m->grad_in[i]) : 0.0f;
        float *swap = m->grad_out;
        m->grad_out = m->grad_in;
        m->grad_in = swap;
        if ((status = release_layer(m, engine, layer)) != ZO_OK)
            return status;
    }
    return ZO_OK;
}

/* ----------------------------------------------------------------------------------
 * The held-out set: batches drawn once, before training, from a data stream no rank
 * trains on (MLP_HELD_OUT_STREAM: the same teacher, other inputs), so that every
 * evaluation of a run, and every run of the same seed, measures the very same
 * samples. The training's fresh batch per step makes its own loss a noisy measure of
 * the model; this one is not. */
typedef struct held_out_set {
    size_t batches, batch_elems; /* batch_elems = batch x width */
    float *inputs, *targets;     /* [batches][batch][width]     */
} held_out_set;

static void held_out_destroy(held_out_set *set)
{
    free(set->inputs);
    free(set->targets);
    *set = (held_out_set){0};
}

/* false when out of memory; an empty set when options->eval_batches is 0. */
static bool held_out_create(held_out_set *set, const mlp_options *options)
{
    *set = (held_out_set){.batches = options->eval_batches,
                          .batch_elems = options->batch * options->shape.width};
    if (set->batches == 0)
        return true;
    mlp_task *task = mlp_task_create(options->shape.width, options->seed, MLP_HELD_OUT_STREAM);
    set->inputs = malloc(set->batches * set->batch_elems * sizeof(float));
    set->targets = malloc(set->batches * set->batch_elems * sizeof(float));
    bool made = task && set->inputs && set->targets;
    for (size_t b = 0; made && b < set->batches; b++)
        mlp_task_next_batch(task, options->batch, set->inputs + b * set->batch_elems,
                            set->targets + b * set->batch_elems);
    mlp_task_destroy(&task);
    if (!made)
        held_out_destroy(set);
    return made;
}

/* The model's mean loss over the held-out set into *loss: the training's forward
 * (each layer between its fetch and release) on each batch, no backward. It borrows
 * the training's activation buffers, which the next micro-step's forward refills, so
 * the training is not changed. Adds its time to log->eval_seconds. */
static zo_status held_out_loss(host_mlp *m, zo_engine *engine, const held_out_set *set,
                               mlp_log *log, double *loss)
{
    double began = mlp_seconds(), sum = 0.0;
    for (size_t b = 0; b < set->batches; b++) {
        memcpy(m->layer_input[0], set->inputs + b * set->batch_elems,
               set->batch_elems * sizeof(float));
        memcpy(m->target, set->targets + b * set->batch_elems, set->batch_elems * sizeof(float));
        zo_status status = forward_layers(m, engine, 0, m->shape.layers);
        if (status != ZO_OK)
            return status;
        sum += mean_squared_error(m);
    }
    *loss = sum / (double)set->batches;
    log->eval_seconds += mlp_seconds() - began;
    return ZO_OK;
}

int mlp_train_host(const mlp_options *options, size_t checkpoint_every, mlp_log *log)
{
    int result = 1;
    zo_engine *engine = NULL;
    mlp_task *task = NULL;
    host_mlp model = {0};
    held_out_set held_out = {0};
    size_t micro_steps = 1;
    if (!mlp_engine_open(options, "host", &engine, &micro_steps))
        goto fail;
    mlp_options shown = *options;
    shown.checkpoint_every = checkpoint_every;
    mlp_print_setup(&shown, engine, micro_steps);
    task = mlp_task_create(options->shape.width, options->seed, zo_engine_rank(engine));
    if (!task ||
        !host_mlp_create(&model, options->shape, options->batch, checkpoint_every,
                         zo_engine_dtype(engine)) ||
        !held_out_create(&held_out, options)) {
        fprintf(stderr, "out of memory for the model's activations or the held-out set\n");
        goto fail;
    }
    log->activation_bytes = model.activation_bytes;
    log->held_out_samples = held_out.batches * options->batch;
    /* at stage 3 the first micro-step's fetches are recorded as the order to prefetch
     * along: an evaluation before it would enter that order */
    zo_memory_plan plan;
    MLP_CHECK(zo_engine_memory(engine, &plan));
    if (held_out.batches && plan.stage3_pool_bytes == 0)
        MLP_CHECK(held_out_loss(&model, engine, &held_out, log, &log->held_out_untrained));
    double eval_seconds_before = log->eval_seconds; /* not in the training loop's time */

    log->started = mlp_seconds();
    for (size_t step = 0; step < options->steps; step++) {
        double loss = 0.0, compute_seconds = 0.0;
        float loss_scale = zo_engine_loss_scale(engine);
        zo_step_info info;
        for (size_t micro = 0; micro < micro_steps; micro++) {
            mlp_task_next_batch(task, options->batch, model.layer_input[0], model.target);
            double began = mlp_seconds();
            model.engine_seconds = 0.0;
            MLP_CHECK(forward_layers(&model, engine, 0, model.shape.layers));
            loss += loss_and_grad(&model, loss_scale) / (double)micro_steps;
            MLP_CHECK(backward(&model, engine));
            compute_seconds += mlp_seconds() - began - model.engine_seconds;
            /* every micro-step ends with step; it decides at the accumulation's end:
             * skip (overflow) or clip and start the update, which overlaps the next
             * forward bucket by bucket */
            MLP_CHECK(zo_engine_step(engine, &info));
            mlp_log_micro_step(log, &info);
        }
        log->samples += options->batch * micro_steps;
        mlp_log_step(log, options, loss, loss_scale, &info);
        mlp_log_end_step(log, engine, compute_seconds);
        if (held_out.batches && options->eval_every && (step + 1) % options->eval_every == 0) {
            double held_out_now;
            MLP_CHECK(held_out_loss(&model, engine, &held_out, log, &held_out_now));
            mlp_log_held_out(log, options, step + 1, held_out_now);
        }
    }
    MLP_CHECK(zo_engine_synchronize(engine));
    log->seconds = mlp_seconds() - log->started - (log->eval_seconds - eval_seconds_before);
    mlp_log_device(log, engine);
    if (held_out.batches)
        MLP_CHECK(held_out_loss(&model, engine, &held_out, log, &log->held_out_final));
    result = 0;
fail:
    held_out_destroy(&held_out);
    host_mlp_destroy(&model);
    mlp_task_destroy(&task);
    zo_engine_destroy(&engine);
    return result;
}


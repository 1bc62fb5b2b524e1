/* The GPU Adam (engine/adam_cuda.h) against cpu_adam's zo_adam_step: on random data,
 * for every gradient / moment / weight-out dtype and every decay mode, several steps,
 * master weights, both moments and the weights out must be the same bits. Without a
 * GPU (or without CUDA) those tests skip saying why; the argument checks run always. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef ZO_TEST_WITH_CUDA
#include <cuda_runtime.h>
#endif

#include "device/cuda/adam.h"
#include "zo/zo.h"

/* The last error mentions `part`. */
#define expect_message(part)                                                                       \
    do {                                                                                           \
        bool mentioned_ = strstr(zo_last_error(), (part)) != NULL;                                 \
        cr_expect(mentioned_, "message: %s", zo_last_error());                                     \
    } while (0)

/* ---- always: the checks are zo_adam_step's, before any GPU is touched ------------- */

Test(adam_cuda, refuses_step_zero_by_name_or_says_it_has_no_cuda)
{
    zo_adam_hparams hp;
    zo_adam_default_hparams(&hp);
    zo_adam_buffers empty = {.n = 0, .grad_scale = 1.0f};
    zo_status status = zo_adam_cuda_step(&hp, 0, &empty, NULL);
    if (zo_cuda_built()) {
        cr_expect(eq(int, status, ZO_ERR_INVALID_ARGUMENT));
        expect_message("step is 0");
    } else {
        cr_expect(eq(int, status, ZO_ERR_NOT_SUPPORTED));
        expect_message("built without CUDA");
    }
}

Test(adam_cuda, refuses_a_bad_grad_scale_and_a_missing_array_by_name)
{
    if (!zo_cuda_built())
        cr_skip_test("built without CUDA: zo_adam_cuda_step refuses every call (checked above)");
    zo_adam_hparams hp;
    zo_adam_default_hparams(&hp);
    float dummy = 0.0f;
    zo_adam_buffers bad_scale = {.n = 0, .grad_scale = 0.0f};
    cr_expect(eq(int, zo_adam_cuda_step(&hp, 1, &bad_scale, NULL), ZO_ERR_INVALID_ARGUMENT));
    expect_message("grad_scale");
    zo_adam_buffers no_grad = {
        .n = 1, .master = &dummy, .exp_avg = &dummy, .exp_avg_sq = &dummy, .grad_scale = 1.0f};
    cr_expect(eq(int, zo_adam_cuda_step(&hp, 1, &no_grad, NULL), ZO_ERR_INVALID_ARGUMENT));
    expect_message("grad is NULL");
    zo_adam_buffers nothing = {.n = 0,
                               .grad_scale = 1.0f}; /* n = 0: nothing to do, no GPU needed */
    cr_expect(eq(int, zo_adam_cuda_step(&hp, 1, &nothing, NULL), ZO_OK), "%s", zo_last_error());
}

/* ---- with a GPU: the same bits as cpu_adam ------------------------------------------ */

#ifdef ZO_TEST_WITH_CUDA

/* An odd length, not a multiple of any block or vector width, over several blocks. */
enum { ELEMS = 100003, STEPS = 4 };

#define CUDA_OK(call)                                                                              \
    do {                                                                                           \
        cudaError_t error_ = (call);                                                               \
        cr_assert(eq(int, error_, cudaSuccess), "%s: %s", #call, cudaGetErrorString(error_));      \
    } while (0)

static void skip_without_gpu(void)
{
    int count = 0;
    if (zo_cuda_device_count(&count) != ZO_OK || count == 0)
        cr_skip_test("no GPU: %s",
                     count == 0 && zo_last_error()[0] ? zo_last_error() : "no CUDA device");
}

static float uniform(uint64_t *state) /* xorshift64 -> [-1, 1) */
{
    *state ^= *state << 13, *state ^= *state >> 7, *state ^= *state << 17;
    return (float)((double)(*state >> 11) * 0x1p-52 - 1.0);
}

/* n values of `dtype` from f(k), rounded to the dtype. */
static void *random_array(zo_dtype dtype, size_t n, uint64_t *state, float low, float high)
{
    void *out = malloc(n * zo_dtype_size(dtype));
    for (size_t k = 0; k < n; k++) {
        float value = low + (high - low) * 0.5f * (uniform(state) + 1.0f);
        if (dtype == ZO_DTYPE_F32)
            ((float *)out)[k] = value;
        else
            ((uint16_t *)out)[k] =
                dtype == ZO_DTYPE_F16 ? zo_f32_to_f16(value) : zo_f32_to_bf16(value);
    }
    return out;
}

static void *to_device(const void *host, size_t bytes)
{
    void *device = NULL;
    CUDA_OK(cudaMalloc(&device, bytes));
    CUDA_OK(cudaMemcpy(device, host, bytes, cudaMemcpyHostToDevice));
    return device;
}

/* The device array equals the host one bit for bit; else names the first difference. */
static void expect_same_bits(const char *what, const void *device, const void *host,
                             size_t elem_bytes, const char *case_name)
{
    size_t bytes = ELEMS * elem_bytes;
    unsigned char *back = malloc(bytes);
    CUDA_OK(cudaMemcpy(back, device, bytes, cudaMemcpyDeviceToHost));
    size_t first = bytes;
    for (size_t k = 0; k < bytes && first == bytes; k++)
        if (back[k] != ((const unsigned char *)host)[k])
            first = k;
    cr_expect(eq(sz, first, bytes), "%s: %s differs from cpu_adam first at element %zu", case_name,
              what, first / elem_bytes);
    free(back);
}

typedef struct adam_case {
    zo_dtype grad, moments, out; /* out ZO_DTYPE_F32 with has_out false: no weights out */
    bool has_out;
    bool adamw;
    float weight_decay;
} adam_case;

static void run_case(const adam_case *c, uint64_t seed)
{
    char name[160];
    snprintf(name, sizeof name, "grad %s, moments %s, out %s, %s, decay %g", zo_dtype_name(c->grad),
             zo_dtype_name(c->moments), c->has_out ? zo_dtype_name(c->out) : "none",
             c->adamw ? "AdamW" : "Adam", (double)c->weight_decay);
    uint64_t state = seed;
    size_t moment_bytes = zo_dtype_size(c->moments), out_bytes = zo_dtype_size(c->out);
    float *master = random_array(ZO_DTYPE_F32, ELEMS, &state, -1.0f, 1.0f);
    void *m = random_array(c->moments, ELEMS, &state, -1e-2f, 1e-2f);
    void *v = random_array(c->moments, ELEMS, &state, 0.0f, 1e-3f);
    /* gradients as a loss-scaled fp16 backward leaves them, unscaled by grad_scale */
    void *grad = random_array(c->grad, ELEMS, &state, -512.0f, 512.0f);
    void *out = c->has_out ? calloc(ELEMS, out_bytes) : NULL;
    float *d_master = to_device(master, ELEMS * sizeof(float));
    void *d_m = to_device(m, ELEMS * moment_bytes), *d_v = to_device(v, ELEMS * moment_bytes);
    void *d_grad = to_device(grad, ELEMS * zo_dtype_size(c->grad));
    void *d_out = out ? to_device(out, ELEMS * out_bytes) : NULL;

    zo_adam *cpu = NULL;
    cr_assert(eq(int, zo_adam_create(NULL, &cpu), ZO_OK), "%s", zo_last_error());
    zo_adam_hparams hp;
    zo_adam_default_hparams(&hp);
    hp.lr = 1e-2f, hp.adamw = c->adamw, hp.weight_decay = c->weight_decay;
    for (uint64_t step = 1; step <= STEPS; step++) {
        zo_adam_buffers b = {.n = ELEMS,
                             .master = master,
                             .exp_avg = m,
                             .exp_avg_sq = v,
                             .moments_dtype = c->moments,
                             .grad = grad,
                             .grad_dtype = c->grad,
                             .grad_scale =
                                 1.0f / (256.0f * (float)step), /* a new scale each step */
                             .weights_out = out,
                             .weights_out_dtype = c->out};
        zo_adam_buffers d = b;
        d.master = d_master, d.exp_avg = d_m, d.exp_avg_sq = d_v, d.grad = d_grad,
        d.weights_out = d_out;
        cr_assert(eq(int, zo_adam_step(cpu, &hp, step, &b), ZO_OK), "%s", zo_last_error());
        cr_assert(eq(int, zo_adam_cuda_step(&hp, step, &d, NULL), ZO_OK), "%s: %s", name,
                  zo_last_error());
    }
    CUDA_OK(cudaDeviceSynchronize());
    expect_same_bits("master", d_master, master, sizeof(float), name);
    expect_same_bits("exp_avg", d_m, m, moment_bytes, name);
    expect_same_bits("exp_avg_sq", d_v, v, moment_bytes, name);
    if (out)
        expect_same_bits("weights_out", d_out, out, out_bytes, name);
    zo_adam_destroy(&cpu);
    cudaFree(d_master), cudaFree(d_m), cudaFree(d_v), cudaFree(d_grad), cudaFree(d_out);
    free(master), free(m), free(v), free(grad), free(out);
}

Test(adam_cuda, matches_cpu_adam_bit_for_bit_for_every_dtype_and_decay_mode)
{
    skip_without_gpu();
    const zo_dtype dtypes[] = {ZO_DTYPE_F32, ZO_DTYPE_F16, ZO_DTYPE_BF16};
    const zo_dtype moments[] = {ZO_DTYPE_F32, ZO_DTYPE_BF16};
    const struct {
        bool adamw;
        float decay;
    } modes[] = {{true, 0.0f}, {true, 0.01f}, {false, 0.01f}};
    uint64_t seed = 0x9e3779b97f4a7c15u;
    for (size_t g = 0; g < 3; g++)
        for (size_t mo = 0; mo < 2; mo++)
            for (size_t o = 0; o <= 3; o++) /* o == 3: no weights out */
                for (size_t mode = 0; mode < 3; mode++) {
                    adam_case c = {.grad = dtypes[g],
                                   .moments = moments[mo],
                                   .out = o < 3 ? dtypes[o] : ZO_DTYPE_F32,
                                   .has_out = o < 3,
                                   .adamw = modes[mode].adamw,
                                   .weight_decay = modes[mode].decay};
                    run_case(&c, seed += 0x1234567u);
                }
}

Test(adam_cuda, runs_on_the_given_stream_in_order)
{
    skip_without_gpu();
    /* two steps queued on a non-blocking stream without synchronizing in between give
     * what two steps on the host give: each launch is ordered after the previous one */
    adam_case c = {.grad = ZO_DTYPE_F16,
                   .moments = ZO_DTYPE_F32,
                   .out = ZO_DTYPE_F16,
                   .has_out = true,
                   .adamw = true,
                   .weight_decay = 0.01f};
    uint64_t state = 7;
    float *master = random_array(ZO_DTYPE_F32, ELEMS, &state, -1.0f, 1.0f);
    float *m = calloc(ELEMS, sizeof(float)), *v = calloc(ELEMS, sizeof(float));
    void *grad = random_array(c.grad, ELEMS, &state, -1.0f, 1.0f);
    uint16_t *out = calloc(ELEMS, sizeof(uint16_t));
    float *d_master = to_device(master, ELEMS * sizeof(float));
    void *d_m = to_device(m, ELEMS * sizeof(float)), *d_v = to_device(v, ELEMS * sizeof(float));
    void *d_grad = to_device(grad, ELEMS * 2), *d_out = to_device(out, ELEMS * 2);
    cudaStream_t stream;
    CUDA_OK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    zo_adam *cpu = NULL;
    cr_assert(eq(int, zo_adam_create(NULL, &cpu), ZO_OK));
    zo_adam_hparams hp;
    zo_adam_default_hparams(&hp);
    hp.weight_decay = c.weight_decay;
    zo_adam_buffers b = {.n = ELEMS,
                         .master = master,
                         .exp_avg = m,
                         .exp_avg_sq = v,
                         .moments_dtype = c.moments,
                         .grad = grad,
                         .grad_dtype = c.grad,
                         .grad_scale = 1.0f,
                         .weights_out = out,
                         .weights_out_dtype = c.out};
    zo_adam_buffers d = b;
    d.master = d_master, d.exp_avg = d_m, d.exp_avg_sq = d_v, d.grad = d_grad,
    d.weights_out = d_out;
    for (uint64_t step = 1; step <= 2; step++) {
        cr_assert(eq(int, zo_adam_step(cpu, &hp, step, &b), ZO_OK));
        cr_assert(eq(int, zo_adam_cuda_step(&hp, step, &d, stream), ZO_OK), "%s", zo_last_error());
    }
    CUDA_OK(cudaStreamSynchronize(stream));
    expect_same_bits("master", d_master, master, sizeof(float), "two steps on one stream");
    expect_same_bits("weights_out", d_out, out, 2, "two steps on one stream");
    cudaStreamDestroy(stream);
    zo_adam_destroy(&cpu);
    cudaFree(d_master), cudaFree(d_m), cudaFree(d_v), cudaFree(d_grad), cudaFree(d_out);
    free(master), free(m), free(v), free(grad), free(out);
}

Test(adam_cuda, grad_stats_match_cpu_adam_to_rounding_and_find_an_inf_anywhere)
{
    skip_without_gpu();
    const zo_dtype dtypes[] = {ZO_DTYPE_F32, ZO_DTYPE_F16, ZO_DTYPE_BF16};
    void *scratch = NULL;
    CUDA_OK(cudaMalloc(&scratch, ZO_ADAM_CUDA_STATS_SCRATCH_BYTES));
    zo_adam *cpu = NULL;
    cr_assert(eq(int, zo_adam_create(NULL, &cpu), ZO_OK));
    for (size_t d = 0; d < 3; d++) {
        uint64_t state = 99 + d;
        size_t bytes = ELEMS * zo_dtype_size(dtypes[d]);
        void *grad = random_array(dtypes[d], ELEMS, &state, -300.0f, 300.0f);
        void *d_grad = to_device(grad, bytes);
        zo_grad_stats gpu, host;
        cr_assert(eq(int, zo_adam_cuda_grad_stats(d_grad, dtypes[d], ELEMS, scratch, NULL, &gpu), ZO_OK), "%s",
                  zo_last_error());
        cr_assert(eq(int, zo_adam_grad_stats(cpu, grad, dtypes[d], ELEMS, &host), ZO_OK));
        cr_expect(gpu.all_finite, "%s", zo_dtype_name(dtypes[d]));
        /* both sum the same exact squares in double, in other orders: 1e5 additions
         * differ by far less than 1e-12 relative */
        cr_expect(epsilon_eq(dbl, gpu.sum_squares, host.sum_squares, 1e-12 * host.sum_squares), "%s: %.17g vs %.17g",
                  zo_dtype_name(dtypes[d]), gpu.sum_squares, host.sum_squares);
        /* an inf at the first, a middle and the last element */
        const size_t places[] = {0, ELEMS / 2 + 1, ELEMS - 1};
        for (size_t k = 0; k < 3; k++) {
            void *bad = random_array(dtypes[d], 1, &state, 1.0f, 1.0f);
            if (dtypes[d] == ZO_DTYPE_F32)
                *(float *)bad = INFINITY;
            else
                *(uint16_t *)bad = dtypes[d] == ZO_DTYPE_F16 ? zo_f32_to_f16(INFINITY) : zo_f32_to_bf16(INFINITY);
            size_t size = zo_dtype_size(dtypes[d]);
            CUDA_OK(cudaMemcpy((char *)d_grad + places[k] * size, bad, size, cudaMemcpyHostToDevice));
            cr_assert(eq(int, zo_adam_cuda_grad_stats(d_grad, dtypes[d], ELEMS, scratch, NULL, &gpu), ZO_OK));
            cr_expect(eq(int, gpu.all_finite, false), "%s: inf at %zu not found", zo_dtype_name(dtypes[d]), places[k]);
            CUDA_OK(cudaMemcpy(d_grad, grad, bytes, cudaMemcpyHostToDevice));
            free(bad);
        }
        cudaFree(d_grad);
        free(grad);
    }
    zo_adam_destroy(&cpu);
    cudaFree(scratch);
}

#else

Test(adam_cuda, matches_cpu_adam_bit_for_bit_for_every_dtype_and_decay_mode)
{
    cr_skip_test("built without CUDA: the GPU Adam is not in this build");
}

#endif

/* The smallest real use of cpu_adam: a loss-scaled fp16 gradient comes back from the
 * GPU, the host checks it, and one fused pass updates fp32 master weights and Adam
 * moments and writes the fp16 weights that go back to the GPU. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <zo/zo.h>

#define CHECK(call)                                                                      \
    do {                                                                                 \
        zo_status status_ = (call);                                                      \
        if (status_ != ZO_OK) {                                                          \
            fprintf(stderr, "%s: %s\n", #call, zo_last_error());                         \
            return 1;                                                                    \
        }                                                                                \
    } while (0)

int main(void)
{
    enum { N = 1 << 20 };
    const float loss_scale = 1024.0f, max_grad_norm = 1.0f;
    float *master = calloc(N, sizeof(float)), *m = calloc(N, sizeof(float)),
          *v = calloc(N, sizeof(float));
    uint16_t *grad_f16 = malloc(N * sizeof(uint16_t)), *weights_f16 = malloc(N * sizeof(uint16_t));
    if (!master || !m || !v || !grad_f16 || !weights_f16)
        return 1;

    zo_adam *adam = NULL;
    CHECK(zo_adam_create(NULL, &adam)); /* best ISA here, all cores */
    zo_adam_hparams hparams;
    zo_adam_default_hparams(&hparams);
    hparams.weight_decay = 0.01f;

    for (uint64_t step = 1; step <= 10; step++) {
        /* stands in for the backward pass: gradient of 0.5 * (w - 1)^2, loss-scaled */
        for (size_t i = 0; i < N; i++)
            grad_f16[i] = zo_f32_to_f16((master[i] - 1.0f) * loss_scale);

        zo_grad_stats stats;
        CHECK(zo_adam_grad_stats(adam, grad_f16, ZO_DTYPE_F16, N, &stats));
        if (!stats.all_finite) { /* overflow: skip the step, lower the loss scale */
            printf("step %llu skipped\n", (unsigned long long)step);
            continue;
        }
        double grad_norm = sqrt(stats.sum_squares) / loss_scale;
        double clip = grad_norm > max_grad_norm ? max_grad_norm / grad_norm : 1.0;

        zo_adam_buffers buffers = {
            .n = N, .master = master, .exp_avg = m, .exp_avg_sq = v,
            .moments_dtype = ZO_DTYPE_F32,
            .grad = grad_f16, .grad_dtype = ZO_DTYPE_F16,
            .grad_scale = (float)(clip / loss_scale), /* unscale and clip in the same pass */
            .weights_out = weights_f16, .weights_out_dtype = ZO_DTYPE_F16,
        };
        CHECK(zo_adam_step(adam, &hparams, step, &buffers));
        printf("step %2llu: grad norm %.4f, w[0] = %.6f (fp16 copy %.6f)\n",
               (unsigned long long)step, grad_norm, master[0], zo_f16_to_f32(weights_f16[0]));
    }
    /* Adam moves each weight by about lr per step toward 1 */
    int ok = master[0] > 0.009f && master[0] < 0.011f;
    zo_adam_destroy(&adam);
    free(master), free(m), free(v), free(grad_f16), free(weights_f16);
    return ok ? 0 : 2;
}

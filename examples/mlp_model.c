/* The MLP's parameters and initialization, and the teacher task (see mlp_model.h). */
#include "mlp_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

float mlp_uniform(uint64_t *state)
{
    *state ^= *state << 13, *state ^= *state >> 7, *state ^= *state << 17;
    return (float)(*state >> 40) * 0x1p-24f * 2.0f - 1.0f;
}

/* splitmix64's finalizer: nearby (seed, stream) pairs give unrelated states. */
uint64_t mlp_seed_stream(uint64_t seed, uint64_t stream)
{
    uint64_t z = seed + (stream + 1) * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return z ? z : 0x2545f4914f6cdd1dull; /* xorshift never leaves 0 */
}

size_t mlp_param_elems(mlp_shape shape, size_t param)
{
    return param % 2 == 0 ? shape.width * shape.width : shape.width;
}

size_t mlp_total_elems(mlp_shape shape)
{
    return shape.layers * (shape.width * shape.width + shape.width);
}

void mlp_param_descs(mlp_shape shape, zo_param_desc *descs, char (*names)[MLP_NAME_MAX])
{
    for (size_t param = 0; param < mlp_param_count(shape); param++) {
        snprintf(names[param], MLP_NAME_MAX, "layer%zu.%s", param / 2,
                 param % 2 == 0 ? "weight" : "bias");
        descs[param] = (zo_param_desc){names[param], mlp_param_elems(shape, param)};
    }
}

void mlp_init_param(mlp_shape shape, size_t param, uint64_t seed, float *values)
{
    size_t elems = mlp_param_elems(shape, param);
    if (param % 2 == 1) {
        for (size_t i = 0; i < elems; i++)
            values[i] = 0.0f;
        return;
    }
    bool last_layer = param / 2 == shape.layers - 1;
    float bound = sqrtf(6.0f / (float)shape.width) * (last_layer ? 0.1f : 1.0f);
    uint64_t state = mlp_seed_stream(seed, param);
    for (size_t i = 0; i < elems; i++)
        values[i] = bound * mlp_uniform(&state);
}

/* The teacher's weights are kept transposed, [in][out], so that its forward runs
 * along contiguous rows. */
struct mlp_task {
    size_t width;
    float *weight1_t, *bias1, *weight2_t, *bias2;
    float *hidden; /* one sample's hidden layer */
    uint64_t data_state;
};

mlp_task *mlp_task_create(size_t width, uint64_t seed, uint64_t data_stream)
{
    mlp_task *task = calloc(1, sizeof *task);
    if (!task)
        return NULL;
    task->width = width;
    task->weight1_t = malloc(width * width * sizeof(float));
    task->weight2_t = malloc(width * width * sizeof(float));
    task->bias1 = malloc(width * sizeof(float));
    task->bias2 = malloc(width * sizeof(float));
    task->hidden = malloc(width * sizeof(float));
    if (!task->weight1_t || !task->weight2_t || !task->bias1 || !task->bias2 || !task->hidden) {
        mlp_task_destroy(&task);
        return NULL;
    }
    /* layer 1 = scale * P Q, P [width][rank] and Q [rank][width] uniform in [-1, 1]:
     * each entry has variance scale^2 rank / 9, which the scale sets to Kaiming's
     * 2 / width, so that on inputs of variance 1/3 the hidden pre-activations have
     * variance 2/3 and E[hidden^2] = 1/3; layer 2's bound sqrt(9 / width) then gives
     * targets of variance about 1 */
    uint64_t state = mlp_seed_stream(seed, 1000001);
    float *project = malloc(width * MLP_TEACHER_RANK * sizeof(float)); /* P */
    float *expand = malloc(MLP_TEACHER_RANK * width * sizeof(float));  /* Q */
    if (!project || !expand) {
        free(project);
        free(expand);
        mlp_task_destroy(&task);
        return NULL;
    }
    for (size_t i = 0; i < width * MLP_TEACHER_RANK; i++)
        project[i] = mlp_uniform(&state), expand[i] = mlp_uniform(&state);
    float scale1 = sqrtf(18.0f / (float)(width * MLP_TEACHER_RANK));
    for (size_t out = 0; out < width; out++)
        for (size_t in = 0; in < width; in++) {
            float sum = 0.0f;
            for (size_t k = 0; k < MLP_TEACHER_RANK; k++)
                sum += project[out * MLP_TEACHER_RANK + k] * expand[k * width + in];
            task->weight1_t[in * width + out] = scale1 * sum;
        }
    free(project);
    free(expand);
    float bound2 = sqrtf(9.0f / (float)width);
    for (size_t i = 0; i < width * width; i++)
        task->weight2_t[i] = bound2 * mlp_uniform(&state);
    for (size_t i = 0; i < width; i++)
        task->bias1[i] = 0.1f * mlp_uniform(&state), task->bias2[i] = 0.1f * mlp_uniform(&state);
    task->data_state = mlp_seed_stream(seed, 1000002 + 1000 * data_stream);
    return task;
}

void mlp_task_destroy(mlp_task **task)
{
    if (!task || !*task)
        return;
    free((*task)->weight1_t);
    free((*task)->weight2_t);
    free((*task)->bias1);
    free((*task)->bias2);
    free((*task)->hidden);
    free(*task);
    *task = NULL;
}

/* out[j] = bias[j] + sum_i in[i] * weight_t[i][j], summed in i order. */
static void teacher_linear(size_t width, const float *restrict weight_t, const float *restrict bias,
                           const float *restrict in, float *restrict out)
{
    for (size_t j = 0; j < width; j++)
        out[j] = bias[j];
    for (size_t i = 0; i < width; i++)
        for (size_t j = 0; j < width; j++)
            out[j] += in[i] * weight_t[i * width + j];
}

void mlp_task_next_batch(mlp_task *task, size_t batch, float *inputs, float *targets)
{
    size_t width = task->width;
    for (size_t n = 0; n < batch; n++) {
        float *x = inputs + n * width, *y = targets + n * width;
        for (size_t i = 0; i < width; i++)
            x[i] = mlp_uniform(&task->data_state);
        teacher_linear(width, task->weight1_t, task->bias1, x, task->hidden);
        for (size_t j = 0; j < width; j++)
            task->hidden[j] = task->hidden[j] > 0.0f ? task->hidden[j] : 0.0f;
        teacher_linear(width, task->weight2_t, task->bias2, task->hidden, y);
    }
}

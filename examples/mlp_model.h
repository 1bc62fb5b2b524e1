/* The model and the task that train_mlp_host.c (and its CUDA twin) train: a deep MLP
 * of Linear(width, width) + bias layers with ReLU between, its parameters in the order
 * the engine registers them, a deterministic initialization, and a synthetic task it
 * can learn (regressing a fixed random "teacher" network). Host code, no engine calls. */
#ifndef MLP_MODEL_H
#define MLP_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zo/engine.h>

/* y = L_{n-1}(relu(... relu(L_0(x)))), every L_i: width -> width, y = W x + b. */
typedef struct mlp_shape {
    size_t layers; /* Linear layers; a ReLU follows each one but the last */
    size_t width;  /* input, hidden and output size */
} mlp_shape;

/* The parameters in forward order: 2i is layer i's weight, [width out][width in]
 * row-major (PyTorch's nn.Linear layout), 2i + 1 its bias [width]. */
static inline size_t mlp_weight_param(size_t layer) { return 2 * layer; }
static inline size_t mlp_bias_param(size_t layer) { return 2 * layer + 1; }
static inline size_t mlp_param_count(mlp_shape shape) { return 2 * shape.layers; }

/* Elements of parameter `param`; of the whole model. */
size_t mlp_param_elems(mlp_shape shape, size_t param);
size_t mlp_total_elems(mlp_shape shape);

enum { MLP_NAME_MAX = 32 };

/* Fills descs[0 .. mlp_param_count) for zo_engine_create, naming each parameter
 * ("layer3.weight") in names[], which the caller owns; the engine copies the names. */
void mlp_param_descs(mlp_shape shape, zo_param_desc *descs, char (*names)[MLP_NAME_MAX]);

/* The initial values of parameter `param` (mlp_param_elems of them), a function of
 * (seed, param) only: Kaiming-uniform weights, U(-sqrt(6 / fan_in), +sqrt(6 / fan_in)),
 * which keeps the activations' scale through ReLU layers; the last layer, with no
 * ReLU after it, starts 10x smaller, so the first loss is the task's own variance
 * (not noise of the student's); biases start at 0. */
void mlp_init_param(mlp_shape shape, size_t param, uint64_t seed, float *values);

/* The task: inputs uniform in [-1, 1], target = teacher(input), where the teacher is a
 * fixed random 2-layer MLP of the same width (Linear, ReLU, Linear; targets of
 * variance about 1) whose first layer has rank MLP_TEACHER_RANK: the targets depend
 * on an 8-dimensional projection of the input, a structure the student finds within
 * a few thousand samples (a full-rank random teacher needs many times more steps than
 * a test can wait). An endless stream of fresh batches, the same on every machine for
 * the same seed. */
enum { MLP_TEACHER_RANK = 8 };
typedef struct mlp_task mlp_task;

/* NULL when out of memory. `data_stream` picks the batches: the same teacher for
 * every stream, different samples (data-parallel ranks each draw their own; stream 0
 * is what one process draws). */
mlp_task *mlp_task_create(size_t width, uint64_t seed, uint64_t data_stream);

/* The data stream of the held-out evaluation set: the same teacher, inputs that no
 * training rank draws (ranks draw streams 0 .. ranks - 1). */
#define MLP_HELD_OUT_STREAM ((uint64_t)1 << 32)
/* Frees *task and sets it to NULL; NULL is a no-op. */
void mlp_task_destroy(mlp_task **task);

/* Draws the next batch: inputs and targets are [batch][width], caller-owned. */
void mlp_task_next_batch(mlp_task *task, size_t batch, float *inputs, float *targets);

/* xorshift64: a deterministic, portable stream of uniform floats in [-1, 1). */
float mlp_uniform(uint64_t *state);
/* A well-mixed non-zero xorshift state for stream `stream` of `seed`. */
uint64_t mlp_seed_stream(uint64_t seed, uint64_t stream);

#endif

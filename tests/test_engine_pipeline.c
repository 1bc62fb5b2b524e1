/* The overlap the pipeline promises, made deterministic by holding the worker right
 * after it updated the first bucket: the forward of the first layer can already run,
 * while the last layer's weights are still the old ones. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <semaphore.h>
#include <time.h>

#include "engine_internal.h"
#include "test_support.h"

static const zo_param_desc model[] = {{"first", 1000}, {"middle", 37}, {"last", 2500}};

typedef struct hold {
    sem_t reached, release;
} hold;

static void hold_after_first_bucket(void *user, zo_pipeline_event event, size_t bucket, double begin, double end)
{
    (void)begin, (void)end;
    hold *h = user;
    if (event == ZO_EVENT_BUCKET_UPDATED && bucket == 0) {
        sem_post(&h->reached);
        sem_wait(&h->release);
    }
}

Test(engine_pipeline, the_first_layer_is_ready_before_the_last_is_updated, .timeout = 20)
{
    zo_config *config = NULL;
    cr_assert(eq(int, zo_config_from_string("{\"zo\": {\"device\": \"host\"}, \"bf16\": {\"enabled\": true}, \"optimizer\": {\"type\": \"AdamW\", \"params\": {\"lr\": 0.1}}, \"zero_optimization\":"
                                            " {\"reduce_bucket_size\": 1000}}", &config), ZO_OK), "%s", zo_last_error());
    zo_engine *e = NULL;
    cr_assert(eq(int, zo_engine_create(config, model, 3, &e), ZO_OK), "%s", zo_last_error());
    zo_config_destroy(&config);
    cr_assert(eq(sz, zo_engine_bucket_count(e), 4));

    static float ones[2500];
    for (size_t i = 0; i < 2500; i++)
        ones[i] = 1.0f;
    for (size_t p = 0; p < 3; p++) {
        cr_assert(eq(int, zo_engine_set_master(e, p, ones), ZO_OK));
        uint16_t *g = zo_engine_grads(e, p);
        for (size_t i = 0; i < model[p].elems; i++)
            g[i] = zo_f32_to_bf16(0.5f);
    }
    hold h;
    sem_init(&h.reached, 0, 0);
    sem_init(&h.release, 0, 0);
    e->observer = hold_after_first_bucket;
    e->observer_user = &h;

    for (size_t p = 3; p-- > 0;)
        cr_assert(eq(int, zo_engine_grad_ready(e, p, NULL), ZO_OK));
    zo_step_info info;
    cr_assert(eq(int, zo_engine_step(e, &info), ZO_OK), "%s", zo_last_error());
    sem_wait(&h.reached); /* the worker holds right after bucket 0 */

    cr_assert(eq(int, zo_engine_wait_params(e, 0, NULL), ZO_OK));
    const uint16_t *first = zo_engine_weights(e, 0), *last = zo_engine_weights(e, 2);
    cr_expect(ne(u16, first[0], zo_f32_to_bf16(1.0f)), "the first layer's new weights are on the device");
    cr_expect(eq(u16, last[2499], zo_f32_to_bf16(1.0f)), "the last layer is not updated yet");
    cr_expect(lt(u64, e->bucket_generation[3], e->generation), "bucket 3 is not published yet");

    sem_post(&h.release);
    cr_assert(eq(int, zo_engine_wait_params(e, 2, NULL), ZO_OK));
    cr_expect(ne(u16, last[2499], zo_f32_to_bf16(1.0f)), "after waiting, the last layer is updated");
    cr_expect(eq(u16, last[2499], first[0]), "same gradient, same update");
    zo_engine_destroy(&e);
    sem_destroy(&h.reached);
    sem_destroy(&h.release);
}

/* Stage 3: a fetch that finds the last update still writing its parameter's weights
 * counts that wait in zo_step_info.fetch_update_wait_seconds (the worker is held 100 ms
 * after the first bucket, so the wait for the last parameter lasts at least that). */
static void sleep_after_first_bucket(void *user, zo_pipeline_event event, size_t bucket, double begin, double end)
{
    (void)begin, (void)end;
    bool *slept = user;
    if (event == ZO_EVENT_BUCKET_UPDATED && bucket == 0 && !*slept) {
        *slept = true;
        struct timespec pause = {0, 100 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
}

static void stage3_micro_step(zo_engine *e, zo_step_info *info)
{
    for (size_t p = 0; p < 3; p++) {
        cr_assert(eq(int, zo_engine_fetch(e, p, NULL), ZO_OK), "%s", zo_last_error());
        uint16_t *g = zo_engine_grads(e, p);
        cr_assert(not(eq(ptr, g, NULL)), "%s", zo_last_error());
        for (size_t i = 0; i < model[p].elems; i++)
            g[i] = zo_f32_to_bf16(0.5f);
        cr_assert(eq(int, zo_engine_grad_ready(e, p, NULL), ZO_OK), "%s", zo_last_error());
        cr_assert(eq(int, zo_engine_release(e, p, NULL), ZO_OK), "%s", zo_last_error());
    }
    cr_assert(eq(int, zo_engine_step(e, info), ZO_OK), "%s", zo_last_error());
}

Test(engine_pipeline, a_stage3_fetch_times_its_wait_for_the_update, .timeout = 20)
{
    zo_config *config = NULL;
    cr_assert(eq(int, zo_config_from_string("{\"zo\": {\"device\": \"host\"}, \"bf16\": {\"enabled\": true},"
                                            " \"zero_optimization\": {\"stage\": 3, \"reduce_bucket_size\": 1000,"
                                            " \"offload_param\": {\"device\": \"cpu\"},"
                                            " \"stage3_param_persistence_threshold\": 0}}",
                                            &config),
                     ZO_OK),
              "%s", zo_last_error());
    zo_engine *e = NULL;
    cr_assert(eq(int, zo_engine_create(config, model, 3, &e), ZO_OK), "%s", zo_last_error());
    zo_config_destroy(&config);
    bool slept = false;
    e->observer = sleep_after_first_bucket;
    e->observer_user = &slept;
    zo_step_info first, second;
    stage3_micro_step(e, &first); /* its update runs after the step returns */
    stage3_micro_step(e, &second);
    cr_expect(slept, "the worker was held after the first bucket");
    cr_expect(eq(dbl, first.fetch_update_wait_seconds, 0.0), "no update before the first micro-step");
    cr_expect(ge(dbl, second.fetch_update_wait_seconds, 0.09),
              "the fetches after the held update waited for it: %g s counted", second.fetch_update_wait_seconds);
    zo_engine_destroy(&e);
}

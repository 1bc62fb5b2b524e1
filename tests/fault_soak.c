/* Random failures while training, as a plain program (so ThreadSanitizer runs the error
 * paths too): rounds of a fresh engine (random bucket size, delayed update,
 * accumulation) where a random copy or host function starts failing at a random call,
 * once, twice or for good, during a dozen micro-steps. Every call must return ZO_OK or
 * an error naming the injected fault, nothing may hang, and once the fault is disarmed
 * the engine must train again within two micro-steps and be destroyed cleanly.
 * Usage: fault_soak [--rounds N] [--seed S]. Exits 1 at the first broken promise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault_injection.h"
#include "plain_options.h"
#include "test_values.h"

static const zo_param_desc model[] = {{"embedding", 900}, {"bias", 17}, {"head", 1300}};
enum { PARAMS = 3, FAULTY_MICRO_STEPS = 12, RECOVERY_MICRO_STEPS = 2, CLEAN_MICRO_STEPS = 4 };

static void fail(unsigned long round, const char *what)
{
    fprintf(stderr, "fault_soak: round %lu: %s: %s\n", round, what, zo_last_error());
    exit(1);
}

static zo_engine *create_engine(zo_test_rng *rng, unsigned long round)
{
    char json[512];
    snprintf(json, sizeof json,
             "{\"fp16\": {\"enabled\": true, \"initial_scale_power\": 8}, "
             "\"gradient_accumulation_steps\": %d,"
             " \"zero_optimization\": {\"reduce_bucket_size\": %d},"
             " \"zo\": {\"device\": \"host\", \"threads\": 1, \"delayed_param_update\": %s}}",
             1 + (int)(zo_test_next(rng) % 2), 64 + (int)(zo_test_next(rng) % 1000),
             zo_test_next(rng) % 2 ? "true" : "false");
    zo_config *config = NULL;
    zo_engine *e = NULL;
    if (zo_config_from_string(json, &config) != ZO_OK ||
        zo_engine_create(config, model, PARAMS, &e) != ZO_OK)
        fail(round, "creating the engine");
    zo_config_destroy(&config);
    return e;
}

/* A forward, a backward and a step; returns the step's status. Waiting and declaring
 * never fail here: the faults strike the work, which the step reports. */
static zo_status micro_step(zo_engine *e, zo_test_rng *rng, unsigned long round)
{
    for (size_t p = 0; p < PARAMS; p++)
        if (zo_engine_wait_params(e, p, NULL) != ZO_OK)
            fail(round, "zo_engine_wait_params");
    for (size_t p = PARAMS; p-- > 0;) {
        uint16_t *grads = zo_engine_grads(e, p);
        for (size_t i = 0; i < model[p].elems; i++)
            grads[i] = zo_f32_to_f16(zo_test_uniform(rng, -1.0f, 1.0f));
        if (zo_engine_grad_ready(e, p, NULL) != ZO_OK)
            fail(round, "zo_engine_grad_ready");
    }
    return zo_engine_step(e, NULL);
}

int main(int argc, char **argv)
{
    static const char *const names[] = {"rounds", "seed"};
    unsigned long options[] = {200, 1}; /* as named */
    if (!zo_read_plain_options(argc, argv, names, options, 2, "fault_soak [--rounds N] [--seed S]"))
        return 2;
    unsigned long rounds = options[0], seed = options[1], failed_steps = 0;
    zo_test_rng rng = {0xD1B54A32D192ED03ULL ^ seed};
    static const int64_t failure_counts[] = {1, 2, ZO_FAULT_FOREVER};
    for (unsigned long round = 0; round < rounds; round++) {
        zo_engine *e = create_engine(&rng, round);
        zo_fault fault = zo_test_next(&rng) % 2 ? ZO_FAULT_COPY : ZO_FAULT_HOST_FN;
        zo_fault_arm(fault, zo_test_next(&rng) % 60, failure_counts[zo_test_next(&rng) % 3]);
        for (int m = 0; m < FAULTY_MICRO_STEPS; m++) {
            zo_status status = micro_step(e, &rng, round);
            if (status != ZO_OK &&
                (status != ZO_ERR_DEVICE || !strstr(zo_last_error(), zo_fault_name(fault))))
                fail(round, "a step failed without naming the injected fault");
            failed_steps += status != ZO_OK;
        }
        zo_fault_disarm_all();
        /* an update's failure is reported one step late: allow that much */
        for (int m = 0; m < RECOVERY_MICRO_STEPS; m++)
            failed_steps += micro_step(e, &rng, round) != ZO_OK;
        for (int m = 0; m < CLEAN_MICRO_STEPS; m++)
            if (micro_step(e, &rng, round) != ZO_OK)
                fail(round, "no recovery once the fault was disarmed");
        float master[1300];
        for (size_t p = 0; p < PARAMS; p++)
            if (zo_engine_get_master(e, p, master) != ZO_OK)
                fail(round, "zo_engine_get_master after recovery");
        zo_engine_destroy(&e);
    }
    printf(
        "fault_soak: seed %lu: %lu rounds, %llu faults injected, %lu steps failed with the fault's "
        "name, every engine trained again once disarmed\n",
        seed, rounds, (unsigned long long)zo_fault_injected_count(), failed_steps);
    return 0;
}

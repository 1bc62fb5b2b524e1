/* Random failures on one rank while all ranks train, under `mpirun -np N`: each round
 * a random rank (the same seed on every rank, so all know which) gets a random fault: a
 * copy or a host function failing from a random call on (once, twice or for good), a
 * missing grad_ready, or an allocation refused while the engine is created. Every rank
 * must fail the same micro-steps (the faulty one with its fault's words, the others
 * with ZO_ERR_PEER), within seconds, never hang; once disarmed all train on, and the
 * master weights must equal, bit for bit, those of a fault-free engine fed only the
 * micro-steps the faulty run kept (whole accumulation windows that ended in a step).
 * With --timeout-check 1 (2 ranks): rank 1 skips a zo_engine_step; rank 0 must get
 * ZO_ERR_TIMEOUT within zo.collective_timeout_seconds (1 s) plus a little, every later
 * collective must fail at once, and both must end cleanly.
 * Usage: fault_soak_mpi [--rounds N] [--seed S] [--timeout-check 0|1]. */
#include <math.h>
#include <mpi.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fault_injection.h"
#include "mpi_check_support.h"
#include "plain_options.h"
#include "test_values.h"

const char check_name[] = "fault_soak_mpi";
static int world = 0;

static const zo_param_desc model[] = {{"embedding", 900}, {"bias", 17}, {"head", 1300}};
enum {
    PARAMS = 3,
    BIGGEST = 1300,
    FAULTY_MICRO_STEPS = 12,
    RECOVERY_MICRO_STEPS = 2, /* an update's failure is reported one step late */
    CLEAN_MICRO_STEPS = 4,
    MICRO_STEPS = FAULTY_MICRO_STEPS + RECOVERY_MICRO_STEPS + CLEAN_MICRO_STEPS,
};

typedef enum fault_kind {
    FAULT_COPY,
    FAULT_HOST_FN,
    FAULT_MISSING_GRAD_READY,
    FAULT_AT_CREATE,
    FAULT_KINDS
} fault_kind;

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* A gradient element of micro-step m on this rank, from a hash: the reference replays it. */
static float gradient_value(uint64_t round, uint64_t m, uint64_t param, uint64_t i)
{
    uint64_t h = (round * 1000003u + m * 7919u + (uint64_t)my_rank * 104729u + param * 31u + i) *
                 0x9E3779B97F4A7C15ull;
    return (float)((double)(h >> 40) / (double)(1ull << 24) - 0.5);
}

static zo_status create_engine(const char *json, zo_engine **out)
{
    zo_config *config = NULL;
    check_ok(zo_config_from_string(json, &config), "config");
    zo_status status = zo_engine_create(config, model, PARAMS, out);
    zo_config_destroy(&config);
    return status;
}

static void set_initial_weights(zo_engine *e)
{
    float values[BIGGEST];
    for (size_t p = 0; p < PARAMS; p++) {
        for (size_t i = 0; i < model[p].elems; i++)
            values[i] = 0.02f * sinf((float)(p * 7 + i));
        check_ok(zo_engine_set_master(e, p, values), "set_master");
    }
}

/* A forward and a backward (skipping one grad_ready when `skip` names a parameter),
 * then the step, timed. */
static zo_status micro_step(zo_engine *e, uint64_t round, uint64_t m, size_t skip,
                            zo_step_info *info, double *seconds)
{
    for (size_t p = 0; p < PARAMS; p++)
        check_ok(zo_engine_wait_params(e, p, NULL), "wait_params");
    for (size_t p = PARAMS; p-- > 0;) {
        void *grads = zo_engine_grads(e, p);
        for (size_t i = 0; i < model[p].elems; i++)
            zo_test_store(grads, zo_engine_dtype(e), i, gradient_value(round, m, p, i));
        if (p != skip)
            check_ok(zo_engine_grad_ready(e, p, NULL), "grad_ready");
    }
    double started = now_seconds();
    zo_status status = zo_engine_step(e, info);
    *seconds = now_seconds() - started;
    return status;
}

/* True when every rank passed the same value. */
static bool same_on_all_ranks(uint64_t value)
{
    uint64_t low = value, high = value;
    MPI_Allreduce(MPI_IN_PLACE, &low, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &high, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
    return low == high;
}

typedef struct soak_totals {
    unsigned long faults, failed_steps, compared, partly_updated;
    double slowest_failing_step;
} soak_totals;

/* A create with an allocation refused on the faulty rank: all ranks fail, or none. */
static void check_create_fault(const char *json, int faulty, zo_test_rng *rng, unsigned long round,
                               soak_totals *totals)
{
    static const zo_fault kinds[] = {ZO_FAULT_HOST_ALLOC, ZO_FAULT_PINNED_ALLOC,
                                     ZO_FAULT_DEVICE_ALLOC};
    zo_fault fault = kinds[zo_test_next(rng) % 3];
    uint64_t after = zo_test_next(rng) % 5;
    if (my_rank == faulty)
        zo_fault_arm(fault, after, 1);
    zo_engine *e = NULL;
    zo_status status = create_engine(json, &e);
    zo_fault_disarm_all();
    if (!same_on_all_ranks(status == ZO_OK))
        failf("round %lu: a create failing on rank %d did not fail on every rank (here: %s: %s)",
              round, faulty, zo_status_name(status), zo_last_error());
    if (status != ZO_OK) {
        zo_status expected = my_rank == faulty ? ZO_ERR_OUT_OF_MEMORY : ZO_ERR_PEER;
        if (status != expected)
            failf("round %lu: create: %s (%s), expected %s", round, zo_status_name(status),
                  zo_last_error(), zo_status_name(expected));
        totals->faults++;
    }
    zo_engine_destroy(&e);
}

/* The micro-steps whose gradients the faulty run kept, in order: whole windows. */
typedef struct kept_steps {
    uint64_t steps[MICRO_STEPS], count;
    uint64_t window[MICRO_STEPS], window_count;
} kept_steps;

static void keep_or_drop(kept_steps *kept, uint64_t m, bool ok, bool boundary)
{
    if (!ok) {
        kept->window_count = 0; /* the window starts over on every rank */
        return;
    }
    kept->window[kept->window_count++] = m;
    if (boundary) {
        memcpy(kept->steps + kept->count, kept->window, kept->window_count * sizeof *kept->window);
        kept->count += kept->window_count;
        kept->window_count = 0;
    }
}

/* Both engines' master weights, bit for bit (get_master is collective). */
static bool same_master(zo_engine *a, zo_engine *b)
{
    static float x[BIGGEST], y[BIGGEST];
    bool same = true;
    for (size_t p = 0; p < PARAMS; p++) {
        check_ok(zo_engine_get_master(a, p, x), "get_master (faulty run)");
        check_ok(zo_engine_get_master(b, p, y), "get_master (reference)");
        same = same && memcmp(x, y, model[p].elems * sizeof(float)) == 0;
    }
    return same;
}

static void soak_round(zo_test_rng *rng, unsigned long round, soak_totals *totals)
{
    static const char *const precisions[] = {
        "\"fp16\": {\"enabled\": false}", "\"bf16\": {\"enabled\": true}",
        "\"fp16\": {\"enabled\": true, \"initial_scale_power\": 8}"};
    char json[768];
    snprintf(json, sizeof json,
             "{%s, \"gradient_accumulation_steps\": %d,"
             " \"zero_optimization\": {\"stage\": %d, \"reduce_bucket_size\": %d},"
             " \"zo\": {\"device\": \"host\", \"comm\": \"mpi\", \"threads\": 1, "
             "\"delayed_param_update\": %s,"
             "        \"collective_timeout_seconds\": 30}}",
             precisions[zo_test_next(rng) % 3], 1 + (int)(zo_test_next(rng) % 3),
             1 + (int)(zo_test_next(rng) % 2), 64 + (int)(zo_test_next(rng) % 1000),
             zo_test_next(rng) % 2 ? "true" : "false");
    int faulty = (int)(zo_test_next(rng) % (uint64_t)world);
    fault_kind kind = (fault_kind)(zo_test_next(rng) % FAULT_KINDS);
    if (kind == FAULT_AT_CREATE) {
        check_create_fault(json, faulty, rng, round, totals);
        return;
    }
    zo_engine *e = NULL;
    check_ok(create_engine(json, &e), "zo_engine_create");
    set_initial_weights(e);
    static const int64_t failure_counts[] = {1, 2, ZO_FAULT_FOREVER};
    zo_fault fault = kind == FAULT_COPY ? ZO_FAULT_COPY : ZO_FAULT_HOST_FN;
    uint64_t after = zo_test_next(rng) % 60, skipped_at = zo_test_next(rng) % FAULTY_MICRO_STEPS;
    size_t skipped_param = (size_t)(zo_test_next(rng) % PARAMS);
    int64_t failures = failure_counts[zo_test_next(rng) % 3];
    if (my_rank == faulty && kind != FAULT_MISSING_GRAD_READY)
        zo_fault_arm(fault, after, failures);
    const char *expected_words =
        kind == FAULT_MISSING_GRAD_READY ? "no grad_ready" : zo_fault_name(fault);

    kept_steps kept = {0};
    uint64_t failed_mask = 0;
    bool partly_updated = false;
    for (uint64_t m = 0; m < MICRO_STEPS; m++) {
        if (m == FAULTY_MICRO_STEPS)
            zo_fault_disarm_all();
        bool skip = my_rank == faulty && kind == FAULT_MISSING_GRAD_READY && m == skipped_at;
        zo_step_info info = {0};
        double seconds = 0.0;
        zo_status status = micro_step(e, round, m, skip ? skipped_param : PARAMS, &info, &seconds);
        if (status != ZO_OK) {
            bool own = my_rank == faulty && status != ZO_ERR_PEER &&
                       strstr(zo_last_error(), expected_words);
            bool peer = my_rank != faulty && status == ZO_ERR_PEER;
            if (!own && !peer)
                failf("round %lu, micro-step %llu: %s (%s); the fault (%s) was on rank %d", round,
                      (unsigned long long)m, zo_status_name(status), zo_last_error(),
                      expected_words, faulty);
            if (m >= FAULTY_MICRO_STEPS + RECOVERY_MICRO_STEPS)
                failf("round %lu: micro-step %llu failed after the fault was disarmed: %s", round,
                      (unsigned long long)m, zo_last_error());
            partly_updated = partly_updated || strstr(zo_last_error(), "partly updated");
            failed_mask |= 1ull << m;
            totals->failed_steps++;
            totals->slowest_failing_step =
                seconds > totals->slowest_failing_step ? seconds : totals->slowest_failing_step;
        }
        keep_or_drop(&kept, m, status == ZO_OK, info.boundary);
    }
    if (!same_on_all_ranks(failed_mask))
        failf("round %lu: the ranks failed different micro-steps (here: mask 0x%llx)", round,
              (unsigned long long)failed_mask);
    totals->faults += failed_mask != 0;

    /* a fault-free engine fed the kept micro-steps must end where the faulty run did */
    zo_engine *reference = NULL;
    check_ok(create_engine(json, &reference), "zo_engine_create (reference)");
    set_initial_weights(reference);
    for (uint64_t k = 0; k < kept.count; k++) {
        zo_step_info info;
        double seconds;
        check_ok(micro_step(reference, round, kept.steps[k], PARAMS, &info, &seconds),
                 "reference step");
    }
    check_ok(zo_engine_synchronize(e), "synchronize (faulty run)");
    check_ok(zo_engine_synchronize(reference), "synchronize (reference)");
    if (!same_on_all_ranks(partly_updated)) /* said by the failing rank and its peers alike */
        failf("round %lu: ranks disagree on whether an update was partly applied", round);
    if (partly_updated) {
        totals->partly_updated++;
    } else {
        if (!same_master(e, reference))
            failf("round %lu: the master weights differ from a fault-free run of the %llu kept "
                  "micro-steps",
                  round, (unsigned long long)kept.count);
        totals->compared++;
    }
    zo_engine_destroy(&reference);
    zo_engine_destroy(&e);
}

static void soak(unsigned long rounds, unsigned long seed)
{
    zo_test_rng rng = {0xD1B54A32D192ED03ULL ^ seed}; /* the same draws on every rank */
    soak_totals totals = {0};
    for (unsigned long round = 0; round < rounds; round++)
        soak_round(&rng, round, &totals);
    double slowest = totals.slowest_failing_step;
    MPI_Allreduce(MPI_IN_PLACE, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    if (slowest > 5.0)
        failf("the slowest failing step took %.3f s", slowest);
    printf("fault_soak_mpi: rank %d ok: seed %lu, %lu rounds, %lu faults that failed steps or "
           "creates, %lu failed "
           "steps, all ranks failed together, slowest failing step %.1f ms (all ranks), master "
           "weights equal to a "
           "fault-free run of the kept micro-steps in %lu rounds (%lu partly updated)\n",
           my_rank, seed, rounds, totals.faults, totals.failed_steps, 1e3 * slowest,
           totals.compared, totals.partly_updated);
}

/* Rank 1 skips one zo_engine_step; rank 0 must time out in its agreement. */
static void check_timeout(void)
{
    if (world != 2)
        failf("--timeout-check runs on 2 ranks (got %d)", world);
    const char *json = "{\"zero_optimization\": {\"stage\": 2, \"reduce_bucket_size\": 500},"
                       " \"zo\": {\"device\": \"host\", \"comm\": \"mpi\", \"threads\": 1,"
                       "        \"collective_timeout_seconds\": 1}}";
    zo_engine *e = NULL;
    check_ok(create_engine(json, &e), "zo_engine_create");
    zo_step_info info;
    double seconds = 0.0;
    for (uint64_t m = 0; m < 2; m++)
        check_ok(micro_step(e, 0, m, PARAMS, &info, &seconds), "a step before the skip");
    if (my_rank == 1) {
        /* its backward's reduce-scatters meet rank 0's; its step never comes */
        for (size_t p = PARAMS; p-- > 0;)
            check_ok(zo_engine_grad_ready(e, p, NULL), "grad_ready");
        check_ok(zo_engine_synchronize(e), "synchronize");
    } else {
        zo_status status = micro_step(e, 0, 2, PARAMS, &info, &seconds);
        if (status != ZO_ERR_TIMEOUT || !strstr(zo_last_error(), "MPI_Allreduce") ||
            !strstr(zo_last_error(), "collective_timeout_seconds"))
            failf("the step rank 1 skipped: %s (%s), expected ZO_ERR_TIMEOUT naming MPI_Allreduce",
                  zo_status_name(status), zo_last_error());
        if (seconds < 0.9 || seconds > 4.0)
            failf("the timeout came after %.3f s, expected about 1 s", seconds);
        printf("fault_soak_mpi: timeout: rank 0 got ZO_ERR_TIMEOUT after %.3f s: %s\n", seconds,
               zo_last_error());
        status = micro_step(e, 0, 3, PARAMS, &info, &seconds);
        if (status != ZO_ERR_TIMEOUT || !strstr(zo_last_error(), "broken") || seconds > 0.5)
            failf("the step after a timeout: %s after %.3f s (%s), expected ZO_ERR_TIMEOUT at once "
                  "saying the "
                  "communicator is broken",
                  zo_status_name(status), seconds, zo_last_error());
        printf("fault_soak_mpi: timeout: the next step failed in %.1f ms: %s\n", 1e3 * seconds,
               zo_last_error());
    }
    MPI_Barrier(MPI_COMM_WORLD); /* the test's own communicator, not the engine's */
    double started = now_seconds();
    zo_engine_destroy(&e);
    printf("fault_soak_mpi: timeout: rank %d ok, destroyed in %.1f ms\n", my_rank,
           1e3 * (now_seconds() - started));
}

int main(int argc, char **argv)
{
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &my_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world);
    static const char *const names[] = {"rounds", "seed", "timeout-check"};
    unsigned long options[] = {100, 1, 0}; /* as named */
    if (!zo_read_plain_options(argc, argv, names, options, 3,
                               "fault_soak_mpi [--rounds N] [--seed S] [--timeout-check 0|1]"))
        failf("bad options");
    if (world < 2)
        failf("run me under mpirun -np 2 or more (got %d rank)", world);
    if (options[2])
        check_timeout();
    else
        soak(options[0], options[1]);
    MPI_Finalize();
    return 0;
}

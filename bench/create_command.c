/* The create subcommand: times zo_engine_create and zo_engine_destroy of an engine of
 * N parameters, with the page faults and CPU time they cost, and a baseline in the
 * same run: the same bytes zero-filled by one thread on 4 KiB pages, as creation did
 * before its host state moved to huge pages touched by the update's threads. */
#define _GNU_SOURCE
#include "create_command.h"

#include <limits.h>
#include <omp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench_fail.h"
#include "median.h"
#include "options.h"
#include "param_count.h"
#include "synthetic_model.h"
#include "zo/byte_size.h"
#include "zo/zo.h"

enum { BENCH_CREATE_MAX_REPEATS = 100 };

/* fp16 weights on the host backend, optimizer state in fp32 on the host: 20 bytes per
 * parameter of host memory (weights and gradients on the "device" and in the pinned
 * staging, 2 B each; master weights and the two moments, 4 B each). */
static const char bench_create_default_config[] =
    "{\"fp16\": {\"enabled\": true}, \"zero_optimization\": {\"stage\": 2},"
    " \"zo\": {\"device\": \"host\"}}";

typedef struct bench_create_options {
    size_t params;
    size_t layers;
    const char *config_path; /* NULL: bench_create_default_config */
    int repeats;
    bool no_baseline;
    bool warm_up;
} bench_create_options;

#define FIELD(name) offsetof(bench_create_options, name)

static const bench_option bench_create_options_table[] = {
    {"--params", BENCH_OPTION_COUNT, FIELD(params), .value_name = "N",
     .help = "total parameters, K/M/G suffixes (default 512M)"},
    {"--layers", BENCH_OPTION_SIZE, FIELD(layers), 1, LLONG_MAX, "must be at least 1",
     .value_name = "L", .help = "split the parameters into L equal layers (default 1)"},
    {"--config", BENCH_OPTION_STRING, FIELD(config_path), .value_name = "FILE",
     .help = "a DeepSpeed ds_config.json plus \"zo\" (default: fp16, stage 2,\n"
             "zo.device \"host\")"},
    {"--repeats", BENCH_OPTION_INT, FIELD(repeats), 1, BENCH_CREATE_MAX_REPEATS,
     "must be in 1..100", .value_name = "R",
     .help = "create/destroy and baseline pairs; medians are shown (default 1)"},
    {"--no-baseline", BENCH_OPTION_FLAG, FIELD(no_baseline),
     .help = "skip the one-thread, 4 KiB-page baseline"},
    {"--warm-up", BENCH_OPTION_FLAG, FIELD(warm_up),
     .help = "first touch and free the same bytes once, untimed (see below)"},
    {0},
};

const bench_command bench_create_cli = {
    .name = "create",
    .usage =
        "  zo-bench create [OPTIONS]             how fast zo_engine_create sets up host state\n",
    .heading = "create options (zo_engine_create + zo_engine_destroy against a baseline):",
    .options = bench_create_options_table,
    .notes = "  Host state set up is what the engine's memory plan counts: pageable and pinned\n"
             "  host bytes, and the device bytes when the device is the host backend. GB/s is\n"
             "  those bytes (10^9) over zo_engine_create's wall time. The baseline zero-fills\n"
             "  the same bytes with memset on one thread on 4 KiB pages (MADV_NOHUGEPAGE), as\n"
             "  creation did before; minor page faults and user/system CPU time from getrusage.\n"
             "  The engine is also timed with ZO_HUGE_PAGES=off: the same parallel first touch\n"
             "  on 4 KiB pages.\n"
             "  In a VM with free page reporting (virtio-balloon), memory left free for a few\n"
             "  seconds goes back to the host, and touching it again costs the host's own page\n"
             "  faults (seconds per GB) on either side; --warm-up touches the bytes, untimed,\n"
             "  right before each timed run, so that it finds memory the host still backs\n"
             "  (what a machine without a balloon always has).\n",
};

/* What one timed operation cost this process. */
typedef struct bench_cost {
    double seconds, user_seconds, system_seconds, minor_faults;
} bench_cost;

typedef struct bench_cost_start {
    struct timespec wall;
    struct rusage usage;
} bench_cost_start;

static double bench_timeval_seconds(struct timeval t)
{
    return (double)t.tv_sec + 1e-6 * (double)t.tv_usec;
}

static bench_cost_start bench_cost_begin(void)
{
    bench_cost_start start;
    getrusage(RUSAGE_SELF, &start.usage);
    clock_gettime(CLOCK_MONOTONIC, &start.wall);
    return start;
}

static bench_cost bench_cost_end(const bench_cost_start *start)
{
    struct timespec wall;
    struct rusage usage;
    clock_gettime(CLOCK_MONOTONIC, &wall);
    getrusage(RUSAGE_SELF, &usage);
    return (bench_cost){
        .seconds = (double)(wall.tv_sec - start->wall.tv_sec) +
                   1e-9 * (double)(wall.tv_nsec - start->wall.tv_nsec),
        .user_seconds =
            bench_timeval_seconds(usage.ru_utime) - bench_timeval_seconds(start->usage.ru_utime),
        .system_seconds =
            bench_timeval_seconds(usage.ru_stime) - bench_timeval_seconds(start->usage.ru_stime),
        .minor_faults = (double)(usage.ru_minflt - start->usage.ru_minflt),
    };
}

/* The median of each field over `count` costs. */
static bench_cost bench_cost_median(const bench_cost *costs, int count)
{
    double seconds[BENCH_CREATE_MAX_REPEATS], user[BENCH_CREATE_MAX_REPEATS],
        system[BENCH_CREATE_MAX_REPEATS], faults[BENCH_CREATE_MAX_REPEATS];
    for (int k = 0; k < count; k++)
        seconds[k] = costs[k].seconds, user[k] = costs[k].user_seconds,
        system[k] = costs[k].system_seconds, faults[k] = costs[k].minor_faults;
    return (bench_cost){.seconds = bench_median(seconds, (size_t)count),
                        .user_seconds = bench_median(user, (size_t)count),
                        .system_seconds = bench_median(system, (size_t)count),
                        .minor_faults = bench_median(faults, (size_t)count)};
}

/* The host memory an engine of this plan sets up at create. */
static uint64_t bench_host_state_bytes(const zo_memory_plan *plan)
{
    return plan->host_bytes + plan->pinned_bytes + (plan->device_is_host ? plan->device_bytes : 0);
}

/* One create and destroy; the plan and placement of the engine it made. ZO_OK, or
 * zo_engine_create's status after printing why. */
static zo_status bench_time_engine(const zo_config *config, const bench_model *model,
                                   bench_cost *create, bench_cost *destroy, zo_memory_plan *plan,
                                   char *placement, size_t room)
{
    zo_engine *engine = NULL;
    bench_cost_start start = bench_cost_begin();
    zo_status status = zo_engine_create(config, model->params, model->layers, &engine);
    *create = bench_cost_end(&start);
    if (status != ZO_OK) {
        bench_fail("zo_engine_create: %s: %s", zo_status_name(status), zo_last_error());
        return status;
    }
    zo_engine_memory(engine, plan); /* cannot fail on an engine */
    snprintf(placement, room, "%s", zo_engine_placement(engine));
    start = bench_cost_begin();
    zo_engine_destroy(&engine);
    *destroy = bench_cost_end(&start);
    return ZO_OK;
}

/* The same with ZO_HUGE_PAGES=off: the engine's parallel first touch on 4 KiB pages.
 * The caller's own setting of ZO_HUGE_PAGES is put back. */
static zo_status bench_time_engine_small_pages(const zo_config *config, const bench_model *model,
                                               bench_cost *create, bench_cost *destroy)
{
    const char *caller = getenv("ZO_HUGE_PAGES");
    char saved[32];
    snprintf(saved, sizeof saved, "%s", caller ? caller : "");
    setenv("ZO_HUGE_PAGES", "off", 1);
    zo_memory_plan plan;
    char placement[8];
    zo_status status =
        bench_time_engine(config, model, create, destroy, &plan, placement, sizeof placement);
    if (caller)
        setenv("ZO_HUGE_PAGES", saved, 1);
    else
        unsetenv("ZO_HUGE_PAGES");
    return status;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

/* Maps, touches and unmaps `bytes` with huge pages on every CPU, untimed: right
 * afterwards, for about two seconds (the kernel's page reporting delay), the host backs
 * that much of the VM's free memory again (see the notes in the help). */
static int bench_warm_up(uint64_t bytes)
{
    if (bytes == 0)
        return 0;
    char *block = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (block == MAP_FAILED)
        return bench_fail("warm-up: cannot map %llu bytes", (unsigned long long)bytes);
    madvise(block, bytes, MADV_HUGEPAGE);
    /* a share per thread, each faulted in by the kernel in one call where it can */
    uint64_t threads = (uint64_t)omp_get_max_threads();
    uint64_t share = (bytes / threads + 4095) / 4096 * 4096;
#pragma omp parallel for schedule(static)
    for (uint64_t at = 0; at < bytes; at += share) {
        uint64_t length = bytes - at < share ? bytes - at : share;
        if (madvise(block + at, length, MADV_POPULATE_WRITE) != 0)
            for (uint64_t page = at; page < at + length; page += 4096)
                block[page] = 0;
    }
    munmap(block, bytes);
    return 0;
}

/* The same bytes zero-filled the old way: one thread, 4 KiB pages. */
static int bench_time_baseline(uint64_t bytes, bench_cost *setup, bench_cost *release)
{
    bench_cost_start start = bench_cost_begin();
    void *block = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (block == MAP_FAILED)
        return bench_fail("baseline: cannot map %llu bytes", (unsigned long long)bytes);
    madvise(block, bytes, MADV_NOHUGEPAGE); /* 4 KiB pages even where THP is "always" */
    memset(block, 0, bytes);
    *setup = bench_cost_end(&start);
    start = bench_cost_begin();
    munmap(block, bytes);
    *release = bench_cost_end(&start);
    return 0;
}

static const char *bench_thp_mode(char *out, size_t room)
{
    FILE *file = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    snprintf(out, room, "unavailable");
    if (file) {
        if (fgets(out, (int)room, file))
            out[strcspn(out, "\n")] = '\0';
        fclose(file);
    }
    return out;
}

static void bench_print_cost(const char *label, const bench_cost *cost, uint64_t bytes)
{
    printf("  %-32s %9.3f", label, cost->seconds);
    if (bytes)
        printf(" %8.2f", (double)bytes / 1e9 / cost->seconds);
    else
        printf(" %8s", "");
    printf(" %13.0f %9.2f %9.2f\n", cost->minor_faults, cost->user_seconds, cost->system_seconds);
}

static void bench_print_report(const bench_create_options *options, const zo_memory_plan *plan,
                               const char *placement, double load, const bench_cost costs[6])
{
    char params[32], total[32], device[32], pinned[32], pageable[32], thp[128];
    uint64_t bytes = bench_host_state_bytes(plan);
    bench_format_param_count(options->params, params, sizeof params);
    printf("zo-bench create: %s parameters (%zu) in %zu layer%s, %s; %d repeat%s (medians)%s\n",
           params, options->params, options->layers, options->layers == 1 ? "" : "s",
           options->config_path ? options->config_path : "fp16, stage 2, device host",
           options->repeats, options->repeats == 1 ? "" : "s",
           options->warm_up ? ", after a warm-up" : "");
    printf("  transparent huge pages: %s; load average at start: %.2f on %ld CPUs\n",
           bench_thp_mode(thp, sizeof thp), load, sysconf(_SC_NPROCESSORS_ONLN));
    printf("  placement: %s\n", placement);
    printf(
        "  host state set up: %s (%llu B): %s on the host backend's device, %s pinned, %s "
        "pageable\n",
        zo_format_byte_size(bytes, total, sizeof total), (unsigned long long)bytes,
        zo_format_byte_size(plan->device_is_host ? plan->device_bytes : 0, device, sizeof device),
        zo_format_byte_size(plan->pinned_bytes, pinned, sizeof pinned),
        zo_format_byte_size(plan->host_bytes, pageable, sizeof pageable));
    printf("  %-32s %9s %8s %13s %9s %9s\n", "", "seconds", "GB/s", "minor faults", "user s",
           "system s");
    bench_print_cost("zo_engine_create", &costs[0], bytes);
    bench_print_cost("zo_engine_destroy", &costs[1], 0);
    if (options->no_baseline)
        return;
    bench_print_cost("create, ZO_HUGE_PAGES=off", &costs[4], bytes);
    bench_print_cost("destroy, ZO_HUGE_PAGES=off", &costs[5], 0);
    bench_print_cost("baseline: 1 thread, 4 KiB pages", &costs[2], bytes);
    bench_print_cost("baseline: munmap", &costs[3], 0);
    printf("  create sets up host state %.2fx as fast as the baseline (%.2fx with "
           "ZO_HUGE_PAGES=off)\n",
           costs[2].seconds / costs[0].seconds, costs[2].seconds / costs[4].seconds);
}

int bench_create_command(int argc, char **argv, int first)
{
    bench_create_options options = {.params = 512u << 20, .layers = 1, .repeats = 1};
    if (bench_parse_options(&bench_create_cli, argc, argv, first, &options) < 0)
        return BENCH_EXIT_USAGE;
    zo_config *config = NULL;
    bench_model model = {0};
    int outcome = BENCH_FAILED;
    zo_status status = options.config_path
                           ? zo_config_from_file(options.config_path, &config)
                           : zo_config_from_string(bench_create_default_config, &config);
    if (status != ZO_OK) {
        bench_fail("config: %s", zo_last_error());
        return BENCH_EXIT_USAGE;
    }
    if (bench_model_create(&model, options.params, options.layers) < 0) {
        zo_config_destroy(&config);
        return BENCH_EXIT_USAGE;
    }
    /* create, destroy, baseline set up, baseline freed, create and destroy on 4 KiB
     * pages; per repeat */
    bench_cost costs[6][BENCH_CREATE_MAX_REPEATS] = {{{0}}};
    zo_memory_plan plan = {0};
    char placement[sizeof plan.verdict];
    double load[1] = {0};
    getloadavg(load, 1); /* a shared machine's other work shows in every figure */
    uint64_t warm_up_bytes = 0; /* none unless asked for */
    if (options.warm_up) {
        zo_memory_plan planned;
        if (zo_engine_plan(config, model.params, model.layers, 1, &planned) != ZO_OK) {
            bench_fail("zo_engine_plan: %s", zo_last_error());
            outcome = BENCH_REFUSED;
            goto done;
        }
        warm_up_bytes = bench_host_state_bytes(&planned);
    }
    for (int r = 0; r < options.repeats; r++) {
        /* alternate which goes first: the first to run after a pause may find memory the
         * host took back (a VM's free page reporting) and pay for it again */
        bool baseline_first = r % 2 == 1 && !options.no_baseline;
        if (baseline_first && (bench_warm_up(warm_up_bytes) < 0 ||
                               bench_time_baseline(bench_host_state_bytes(&plan), &costs[2][r], &costs[3][r]) < 0))
            goto done;
        if (bench_warm_up(warm_up_bytes) < 0)
            goto done;
        status = bench_time_engine(config, &model, &costs[0][r], &costs[1][r], &plan, placement,
                                   sizeof placement);
        if (status == ZO_OK && !options.no_baseline && bench_warm_up(warm_up_bytes) < 0)
            goto done;
        if (status == ZO_OK && !options.no_baseline)
            status = bench_time_engine_small_pages(config, &model, &costs[4][r], &costs[5][r]);
        if (status != ZO_OK) { /* a plan that does not fit, a setting refused: the input's fault */
            outcome =
                status == ZO_ERR_DEVICE || status == ZO_ERR_INTERNAL ? BENCH_FAILED : BENCH_REFUSED;
            goto done;
        }
        if (!baseline_first && !options.no_baseline &&
            (bench_warm_up(warm_up_bytes) < 0 ||
             bench_time_baseline(bench_host_state_bytes(&plan), &costs[2][r], &costs[3][r]) < 0))
            goto done;
    }
    bench_cost medians[6];
    for (int k = 0; k < 6; k++)
        medians[k] = bench_cost_median(costs[k], options.repeats);
    bench_print_report(&options, &plan, placement, load[0], medians);
    outcome = BENCH_DONE;
done:
    bench_model_free(&model);
    zo_config_destroy(&config);
    return bench_exit_status(outcome);
}

/* The text table and the JSON report, computed from the same derived figures so the
 * two never disagree. */
#include "report.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>

#include "bench_fail.h"
#include "engine_report.h"
#include "param_count.h"

/* What a row's medians mean in rates and ratios. */
typedef struct bench_row_figures {
    double step_seconds;
    double params_per_second;
    double step_gb_per_s;
    double traffic_gb_per_s;
    double step_over_traffic; /* traffic time / step time: share of the memory limit */
    double triad_gb_per_s;
    double step_over_triad; /* step GB/s / triad GB/s */
    double three_pass_seconds;
    double three_pass_gb_per_s;
    double fused_speedup; /* three-pass time / step time */
} bench_row_figures;

static double bench_gb_per_s(size_t bytes, double seconds)
{
    return 1e-9 * (double)bytes / seconds;
}

static bench_row_figures bench_figures_of(const bench_adam_row *row)
{
    const double *median = row->median_seconds;
    bench_row_figures f = {0};
    f.step_seconds = median[BENCH_KERNEL_STEP];
    f.params_per_second = (double)row->params / f.step_seconds;
    f.step_gb_per_s = bench_gb_per_s(row->bytes[BENCH_KERNEL_STEP], f.step_seconds);
    f.traffic_gb_per_s =
        bench_gb_per_s(row->bytes[BENCH_KERNEL_TRAFFIC], median[BENCH_KERNEL_TRAFFIC]);
    f.step_over_traffic = median[BENCH_KERNEL_TRAFFIC] / f.step_seconds;
    f.triad_gb_per_s = bench_gb_per_s(row->bytes[BENCH_KERNEL_TRIAD], median[BENCH_KERNEL_TRIAD]);
    f.step_over_triad = f.step_gb_per_s / f.triad_gb_per_s;
    if (row->measured[BENCH_KERNEL_THREE_PASS]) {
        f.three_pass_seconds = median[BENCH_KERNEL_THREE_PASS];
        f.three_pass_gb_per_s =
            bench_gb_per_s(row->bytes[BENCH_KERNEL_THREE_PASS], f.three_pass_seconds);
        f.fused_speedup = f.three_pass_seconds / f.step_seconds;
    }
    return f;
}

static const char *bench_or_unset(const char *value) { return value ? value : "unset"; }

void report_print_machine(const bench_machine *machine)
{
    printf("zo-bench: %s, kernels %s, %d threads\n"
           "OMP_PROC_BIND %s, OMP_WAIT_POLICY %s, GOMP_SPINCOUNT %s\n",
           machine->has_cpu_model ? machine->cpu_model : "unknown CPU",
           zo_cpu_isa_name(machine->isa), machine->threads, bench_or_unset(machine->omp_proc_bind),
           bench_or_unset(machine->omp_wait_policy), bench_or_unset(machine->gomp_spincount));
}

void report_print_adam_header(int repeats, size_t isa_count, zo_cpu_isa shared_isa,
                              bool bind_column)
{
    static const char *const legend[] = {
        "  traffic:      zo_adam_traffic_only, the step's loads and stores with no math",
        "  step/traffic: traffic time / step time: the share of its memory limit the step reaches",
        "  triad:        STREAM a = b + s*c on 16 bytes/param of doubles, 24 bytes/element",
        "                counted (32 move with the write-allocate read, so step/triad can pass 1)",
        "  3-pass:       unscale fp32 grads + fp32 Adam + fp16 copy (42 bytes/param), mixed only;",
        "                speedup = 3-pass time / step time",
        "  vs first:     how many times faster the step ran than the first mode's on the same",
        "                path: the modes take turns in each repeat, and this is the median of",
        "                the two steps' ratio within a repeat (\"-\": not timed side by side)",
    };
    printf("\nAdam step, median of %d repeats (GB = 1e9 bytes)\n", repeats);
    for (size_t k = 0; k < sizeof legend / sizeof legend[0]; k++)
        puts(legend[k]);
    if (isa_count > 1)
        printf("  isa:          one row per kernel path, their steps timed in turn in each repeat\n"
               "                on the same buffers; traffic and 3-pass run on the first listed\n"
               "                path (%s), so step/traffic across paths is their speed ratio\n",
               zo_cpu_isa_name(shared_isa));
    if (bind_column)
        printf("  bind:         where the step's threads ran (placements above); each repeat\n"
               "                times the placements in turn on the same buffers, so the\n"
               "                memory is the same for all: this compares thread placement\n");
    printf("\n%8s  %-12s  %-10s%s  %7s  %12s  %9s  %9s  %12s  %12s  %10s  %10s  %12s  %7s  %8s\n",
           "params", "mode", "isa", bind_column ? "  bind  " : "", "threads", "step [us]", "Mparam/s", "step GB/s", "traffic GB/s",
           "step/traffic", "triad GB/s", "step/triad", "3-pass [us]", "speedup", "vs first");
    fflush(stdout);
}

void report_print_adam_row(const bench_adam_row *row)
{
    bench_row_figures f = bench_figures_of(row);
    char params[32];
    bench_format_param_count(row->params, params, sizeof params);
    char bind[32] = "";
    if (row->bind)
        snprintf(bind, sizeof bind, "  %-6s", row->bind);
    printf("%8s  %-12s  %-10s%s  %7d  %12.1f  %9.1f  %9.2f  %12.2f  %12.3f  %10.2f  %10.3f", params,
           bench_mode_info_of(row->mode)->name, zo_cpu_isa_name(row->isa), bind, row->threads,
           1e6 * f.step_seconds, 1e-6 * f.params_per_second, f.step_gb_per_s, f.traffic_gb_per_s,
           f.step_over_traffic, f.triad_gb_per_s, f.step_over_triad);
    if (row->measured[BENCH_KERNEL_THREE_PASS])
        printf("  %12.1f  %7.2f", 1e6 * f.three_pass_seconds, f.fused_speedup);
    else
        printf("  %12s  %7s", "-", "-");
    if (row->mode_group == 0 && !isnan(row->speed_vs_first_mode))
        printf("  %7.2fx\n", row->speed_vs_first_mode);
    else /* not timed side by side, or no ratio (out of memory for it) */
        printf("  %8s\n", "-");
    fflush(stdout);
}

void report_print_mode_groups(const bench_adam_row *rows, size_t row_count)
{
    for (size_t k = 0; k < row_count; k++)
        if (rows[k].mode_group > 0 && (k == 0 || rows[k - 1].mode_group != rows[k].mode_group))
            printf("  (from %s on, modes ran after the ones above: the memory available could not\n"
                   "   hold them all at once, so compare their steps with the machine's noise in mind)\n",
                   bench_mode_info_of(rows[k].mode)->name);
    fflush(stdout);
}

void report_print_call_overhead(const bench_call_overhead *overhead)
{
    char params[32];
    bench_format_param_count(overhead->params, params, sizeof params);
    printf("\nCall overhead: mixed step of %s parameters, %d threads\n", params, overhead->threads);
    printf("  back to back:     %10.1f us  (median of %d calls)\n",
           1e6 * overhead->warm_median_seconds, overhead->warm_calls);
    printf("  after %2.0f ms idle: %10.1f us  (median of %d calls)\n", 1e3 * overhead->idle_seconds,
           1e6 * overhead->after_idle_median_seconds, overhead->idle_calls);
    fflush(stdout);
}

/* Sets key to a new value; false if the value could not be built (NULL) or set. */
static bool bench_json_set(json_t *object, const char *key, json_t *value)
{
    return value && json_object_set_new(object, key, value) == 0;
}

/* JSON null for an unset variable */
static json_t *bench_json_string_or_null(const char *value)
{
    return value ? json_string(value) : json_null();
}

json_t *report_machine_json(const bench_machine *machine)
{
    json_t *object =
        json_pack("{s:s, s:i}", "isa", zo_cpu_isa_name(machine->isa), "threads", machine->threads);
    bool ok = object != NULL;
    if (ok && machine->has_cpu_model)
        ok = bench_json_set(object, "cpu_model", json_string(machine->cpu_model));
    ok = ok &&
         bench_json_set(object, "omp_proc_bind",
                        bench_json_string_or_null(machine->omp_proc_bind)) &&
         bench_json_set(object, "omp_wait_policy",
                        bench_json_string_or_null(machine->omp_wait_policy)) &&
         bench_json_set(object, "gomp_spincount",
                        bench_json_string_or_null(machine->gomp_spincount));
    if (!ok) {
        json_decref(object);
        return NULL;
    }
    return object;
}

static json_t *bench_json_seconds(const double *samples, int count)
{
    json_t *seconds = json_array();
    for (int r = 0; seconds && r < count; r++) {
        json_t *value = json_real(samples[r]);
        if (!value || json_array_append_new(seconds, value) != 0) {
            json_decref(seconds);
            seconds = NULL;
        }
    }
    return seconds;
}

static json_t *bench_json_samples(const bench_adam_row *row)
{
    json_t *samples = json_object();
    for (int k = 0; samples && k < BENCH_KERNEL_COUNT; k++) {
        if (!row->measured[k])
            continue;
        json_t *seconds = bench_json_seconds(row->samples + k * row->repeats, row->repeats);
        if (!bench_json_set(samples, bench_kernel_name((bench_kernel)k), seconds)) {
            json_decref(samples);
            samples = NULL;
        }
    }
    return samples;
}

static json_t *bench_json_row(const bench_adam_row *row)
{
    bench_row_figures f = bench_figures_of(row);
    const double *median = row->median_seconds;
    json_t *o = json_object();
    bool ok = o && bench_json_set(o, "params", json_integer((json_int_t)row->params)) &&
              bench_json_set(o, "mode", json_string(bench_mode_info_of(row->mode)->name)) &&
              bench_json_set(o, "isa", json_string(zo_cpu_isa_name(row->isa))) &&
              bench_json_set(o, "threads", json_integer(row->threads)) &&
              bench_json_set(o, "repeats", json_integer(row->repeats)) &&
              bench_json_set(o, "bytes_per_step",
                             json_integer((json_int_t)row->bytes[BENCH_KERNEL_STEP])) &&
              bench_json_set(o, "step_seconds", json_real(f.step_seconds)) &&
              bench_json_set(o, "params_per_second", json_real(f.params_per_second)) &&
              bench_json_set(o, "step_gb_per_s", json_real(f.step_gb_per_s)) &&
              bench_json_set(o, "traffic_seconds", json_real(median[BENCH_KERNEL_TRAFFIC])) &&
              bench_json_set(o, "traffic_gb_per_s", json_real(f.traffic_gb_per_s)) &&
              bench_json_set(o, "step_over_traffic", json_real(f.step_over_traffic)) &&
              bench_json_set(o, "triad_seconds", json_real(median[BENCH_KERNEL_TRIAD])) &&
              bench_json_set(o, "triad_gb_per_s", json_real(f.triad_gb_per_s)) &&
              bench_json_set(o, "step_over_triad", json_real(f.step_over_triad));
    if (ok && row->bind)
        ok = bench_json_set(o, "bind", json_string(row->bind));
    /* only where the step ran on another path than the kernels it is compared with */
    if (ok && row->shared_isa != row->isa)
        ok = bench_json_set(o, "shared_kernels_isa", json_string(zo_cpu_isa_name(row->shared_isa)));
    /* NaN has no JSON form: null */
    ok = ok && bench_json_set(o, "mode_group", json_integer(row->mode_group)) &&
         bench_json_set(o, "first_mode_of_group", json_string(bench_mode_info_of(row->first_mode)->name)) &&
         bench_json_set(o, "speed_vs_first_mode",
                        isnan(row->speed_vs_first_mode) ? json_null() : json_real(row->speed_vs_first_mode));
    if (ok && row->measured[BENCH_KERNEL_THREE_PASS])
        ok = bench_json_set(o, "three_pass_seconds", json_real(f.three_pass_seconds)) &&
             bench_json_set(o, "three_pass_gb_per_s", json_real(f.three_pass_gb_per_s)) &&
             bench_json_set(o, "fused_speedup", json_real(f.fused_speedup));
    ok = ok && bench_json_set(o, "samples_seconds", bench_json_samples(row));
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *bench_json_call_overhead(const bench_call_overhead *overhead)
{
    json_t *o = json_object();
    bool ok = o && bench_json_set(o, "params", json_integer((json_int_t)overhead->params)) &&
              bench_json_set(o, "mode", json_string("mixed")) &&
              bench_json_set(o, "threads", json_integer(overhead->threads)) &&
              bench_json_set(o, "warm_calls", json_integer(overhead->warm_calls)) &&
              bench_json_set(o, "warm_median_us", json_real(1e6 * overhead->warm_median_seconds)) &&
              bench_json_set(o, "idle_ms", json_real(1e3 * overhead->idle_seconds)) &&
              bench_json_set(o, "after_idle_calls", json_integer(overhead->idle_calls)) &&
              bench_json_set(o, "after_idle_median_us",
                             json_real(1e6 * overhead->after_idle_median_seconds));
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int report_write_json(const char *path, const bench_machine *machine, const bench_adam_row *rows,
                      size_t row_count, const bench_call_overhead *overhead,
                      const bench_engine_result *engine)
{
    json_t *root = json_object();
    json_t *adam = json_array();
    bool ok = root && adam && bench_json_set(root, "machine", report_machine_json(machine));
    for (size_t k = 0; ok && k < row_count; k++) {
        json_t *row = bench_json_row(&rows[k]);
        ok = row && json_array_append_new(adam, row) == 0;
    }
    ok = ok && json_object_set(root, "adam", adam) == 0;
    if (ok && overhead)
        ok = bench_json_set(root, "call_overhead", bench_json_call_overhead(overhead));
    if (ok && engine)
        ok = bench_json_set(root, "engine", report_engine_json(engine));
    int result = -1;
    if (!ok)
        bench_fail("cannot build the JSON report (out of memory, or a non-finite timing)");
    else if (json_dump_file(root, path, JSON_INDENT(2)) != 0)
        bench_fail("cannot write the JSON report to %s", path);
    else
        result = 0;
    json_decref(adam);
    json_decref(root);
    return result;
}

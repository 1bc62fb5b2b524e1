/* `zo-bench ckpt`: save, load and export of one rank's state timed (medians), on an
 * engine whose master weights are set to non-zero values. The files are removed at
 * the end. */
#include "ckpt_time_command.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_fail.h"
#include "engine_config.h"
#include "median.h"
#include "options.h"
#include "synthetic_model.h"
#include "timer.h"
#include "zo/byte_size.h"
#include "zo/zo.h"

enum { BENCH_CKPT_MAX_REPEATS = 100 };

typedef struct bench_ckpt_options {
    size_t params, layers;
    int repeats;
    const char *dir, *config_path;
} bench_ckpt_options;

#define FIELD(name) offsetof(bench_ckpt_options, name)

static const bench_option bench_ckpt_options_table[] = {
    {"--params", BENCH_OPTION_COUNT, FIELD(params), .value_name = "N",
     .help = "total parameters, K/M/G suffixes (default 64M), in 16 layers"},
    {"--dir", BENCH_OPTION_STRING, FIELD(dir), .value_name = "DIR",
     .help = "where to write: the disk being measured (default\n"
             "./zo-bench-ckpt, and ./zo-bench-ckpt.safetensors for the export)"},
    {"--config", BENCH_OPTION_STRING, FIELD(config_path), .value_name = "FILE",
     .help = "the stage config (default: the engine benchmark's built-in one)"},
    {"--repeats", BENCH_OPTION_INT, FIELD(repeats), 1, BENCH_CKPT_MAX_REPEATS, .value_name = "R",
     .help = "timed saves and loads; the medians are reported (default 3)"},
    {0},
};

const bench_command bench_ckpt_cli = {
    .name = "ckpt",
    .usage = "  zo-bench ckpt [OPTIONS]               time a checkpoint's save, load and export\n",
    .heading = "ckpt options (one rank's zo_engine_save, zo_engine_load, zo_checkpoint_export;\n"
               "the files are removed at the end):",
    .options = bench_ckpt_options_table,
    .notes = "  GB/s count the shard file's bytes (12 per parameter with fp32 moments) for save\n"
             "  and load, the exported fp32 weights (4 per parameter) for export.\n",
};

static int bench_parse_ckpt_options(int argc, char **argv, int first, bench_ckpt_options *o)
{
    *o = (bench_ckpt_options){
        .params = 64u << 20, .layers = 16, .repeats = 3, .dir = "zo-bench-ckpt"};
    if (bench_parse_options(&bench_ckpt_cli, argc, argv, first, o) < 0)
        return -1;
    return o->params < o->layers ? bench_fail("ckpt: --params must be at least %zu", o->layers) : 0;
}

/* Master weights that are not all zero (a CRC of zeros is no cheaper, but a file
 * system may compress or skip them). */
static int bench_set_weights(zo_engine *engine, const bench_model *model)
{
    float *values = malloc(model->largest_layer_elems * sizeof *values);
    if (!values)
        return bench_fail("out of memory for %zu weights", model->largest_layer_elems);
    for (size_t i = 0; i < model->largest_layer_elems; i++)
        values[i] = (float)(i % 1000) * 1e-3f - 0.5f;
    for (size_t p = 0; p < model->layers; p++)
        if (zo_engine_set_master(engine, p, values) != ZO_OK) {
            free(values);
            return bench_fail("zo_engine_set_master: %s", zo_last_error());
        }
    free(values);
    return 0;
}

/* The median seconds of `repeats` calls of save (what == 's') or load ('l'). */
static int bench_time_calls(zo_engine *engine, const char *dir, char what, int repeats,
                            double *median)
{
    double samples[BENCH_CKPT_MAX_REPEATS];
    for (int r = 0; r < repeats; r++) {
        double started = now_seconds();
        zo_status status = what == 's' ? zo_engine_save(engine, dir) : zo_engine_load(engine, dir);
        samples[r] = now_seconds() - started;
        if (status != ZO_OK)
            return bench_fail("%s: %s: %s", what == 's' ? "zo_engine_save" : "zo_engine_load",
                              zo_status_name(status), zo_last_error());
    }
    *median = bench_median(samples, (size_t)repeats);
    return 0;
}

static void bench_print_time(const char *label, double seconds, unsigned long long bytes)
{
    printf("  %-8s %9.3f s  %7.2f GB/s\n", label, seconds, (double)bytes / seconds / 1e9);
}

static void bench_remove_checkpoint(const char *dir, const char *exported)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    remove(path);
    snprintf(path, sizeof path, "%s/rank0-of-1.safetensors", dir);
    remove(path);
    rmdir(dir);
    remove(exported);
}

int bench_ckpt_time_command(int argc, char **argv, int first)
{
    bench_ckpt_options o;
    if (bench_parse_ckpt_options(argc, argv, first, &o) < 0)
        return BENCH_EXIT_USAGE;
    zo_config *config = NULL;
    if (bench_engine_config_create(o.config_path, NULL, &config) < 0)
        return BENCH_EXIT_USAGE;
    bench_model model = {0};
    zo_engine *engine = NULL;
    int outcome = BENCH_FAILED;
    char exported[4200];
    snprintf(exported, sizeof exported, "%s.safetensors", o.dir);
    double save_s = 0, load_s = 0, export_s = 0;
    if (bench_model_create(&model, o.params, o.layers) < 0)
        goto done;
    zo_status status = zo_engine_create(config, model.params, model.layers, &engine);
    if (status != ZO_OK) {
        bench_fail("zo_engine_create: %s: %s", zo_status_name(status), zo_last_error());
        outcome = BENCH_REFUSED;
        goto done;
    }
    if (bench_set_weights(engine, &model) < 0 ||
        bench_time_calls(engine, o.dir, 's', o.repeats, &save_s) < 0 ||
        bench_time_calls(engine, o.dir, 'l', o.repeats, &load_s) < 0)
        goto done;
    double started = now_seconds();
    if ((status = zo_checkpoint_export(o.dir, exported)) != ZO_OK) {
        bench_fail("zo_checkpoint_export: %s: %s", zo_status_name(status), zo_last_error());
        goto done;
    }
    export_s = now_seconds() - started;
    struct stat shard;
    char shard_path[4200];
    snprintf(shard_path, sizeof shard_path, "%s/rank0-of-1.safetensors", o.dir);
    unsigned long long bytes =
        stat(shard_path, &shard) == 0 ? (unsigned long long)shard.st_size : 0;
    char readable[32];
    zo_format_byte_size(bytes, readable, sizeof readable);
    printf("checkpoint of %zu parameters (%s), %s: shard %s, median of %d\n", o.params,
           bench_engine_config_name(o.config_path), o.dir, readable, o.repeats);
    bench_print_time("save", save_s, bytes);
    bench_print_time("load", load_s, bytes);
    bench_print_time("export", export_s, (unsigned long long)o.params * 4);
    outcome = BENCH_DONE;
done:
    bench_remove_checkpoint(o.dir, exported);
    zo_engine_destroy(&engine);
    bench_model_free(&model);
    zo_config_destroy(&config);
    return bench_exit_status(outcome);
}

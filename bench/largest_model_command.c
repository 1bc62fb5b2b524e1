/* The largest model per machine and ZeRO stage (largest_model_command.h): a search over
 * the synthetic transformer's block count, each step one zo_engine_plan. */
#include "largest_model_command.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "bench_fail.h"
#include "options.h"
#include "zo/byte_size.h"
#include "zo/zo.h"

/* Far past any machine here (2^20 blocks of hidden 4096 are 2e14 parameters); a search
 * that reaches it says so. */
enum { BENCH_MAX_BLOCKS = 1 << 20 };

int bench_parse_machines(const char *option, const char *value, void *target)
{
    bench_machine_list *list = target;
    char copy[512];
    if (snprintf(copy, sizeof copy, "%s", value) >= (int)sizeof copy)
        return bench_fail("%s: the list is too long", option);
    for (char *save = NULL, *item = strtok_r(copy, ",", &save); item;
         item = strtok_r(NULL, ",", &save)) {
        char *plus = strchr(item, '+');
        bench_machine machine;
        if (!plus)
            return bench_fail("%s %s: each machine is GPU+HOST, e.g. 24GiB+64GiB", option, item);
        *plus = '\0';
        if (!zo_parse_byte_size(item, &machine.gpu_bytes) ||
            !zo_parse_byte_size(plus + 1, &machine.host_bytes) || machine.gpu_bytes == 0 ||
            machine.host_bytes == 0)
            return bench_fail("%s: \"%s+%s\" is not GPU+HOST byte sizes (e.g. 24GiB+64GiB; GB = "
                              "10^9, GiB = 2^30)",
                              option, item, plus + 1);
        if (list->count == BENCH_MAX_MACHINES)
            return bench_fail("%s: at most %d machines", option, BENCH_MAX_MACHINES);
        list->items[list->count++] = machine;
    }
    return 0;
}

/* One row: a stage and a moments dtype on one machine. */
typedef struct bench_largest_row {
    int stage;
    zo_dtype moments;
    bool planned; /* false: the config refused these settings (note says why) */
    char note[256];
    size_t blocks; /* the largest that fits */
    uint64_t params;
    zo_memory_plan plan; /* at `blocks` */
    bench_limit binds;   /* what one more block passes */
    bool at_search_cap;
} bench_largest_row;

typedef struct bench_fits_context {
    const zo_config *config;
    const bench_machine *machine;
    size_t hidden;
    zo_memory_plan plan; /* of the last question */
    bench_limit exceeds;
} bench_fits_context;

static int bench_plan_blocks(bench_fits_context *context, size_t blocks, bool *fits)
{
    bench_transformer model;
    if (bench_transformer_create(&model, context->hidden, blocks) < 0)
        return -1;
    int result = 0;
    zo_status status =
        zo_engine_plan(context->config, model.params, model.param_count, 1, &context->plan);
    if (status != ZO_OK)
        result = bench_fail("zo_engine_plan for %zu blocks: %s: %s", blocks, zo_status_name(status),
                            zo_last_error());
    else
        context->exceeds = bench_plan_exceeds(&context->plan, context->machine);
    *fits = result == 0 && context->exceeds == BENCH_LIMIT_NONE;
    bench_transformer_free(&model);
    return result;
}

static int bench_fits(void *context, size_t blocks, bool *fits)
{
    return bench_plan_blocks(context, blocks, fits);
}

static int bench_find_row(const bench_largest_request *request, const bench_machine *machine,
                          bench_largest_row *row)
{
    zo_settings settings = request->base;
    settings.stage = row->stage;
    settings.offload_param = row->stage == 3;
    settings.moments_dtype = row->moments;
    settings.device = ZO_DEVICE_CUDA; /* planned for a GPU; nothing is opened */
    zo_config *config = NULL;
    if (zo_config_from_settings(&settings, &config) != ZO_OK) {
        snprintf(row->note, sizeof row->note, "not planned: %s", zo_last_error());
        return 0;
    }
    row->planned = true;
    bench_fits_context context = {.config = config, .machine = machine, .hidden = request->hidden};
    bool fits = false;
    int result = bench_largest_fitting(bench_fits, &context, BENCH_MAX_BLOCKS, &row->blocks);
    if (result == 0 && (result = bench_plan_blocks(&context, row->blocks + 1, &fits)) == 0) {
        row->binds = context.exceeds; /* one block more: what it passes */
        row->at_search_cap = row->blocks == BENCH_MAX_BLOCKS;
        result = bench_plan_blocks(&context, row->blocks, &fits);
        row->plan = context.plan;
    }
    row->params = (uint64_t)row->blocks * bench_block_elems(request->hidden);
    zo_config_destroy(&config);
    return result;
}

static double bench_per_param(uint64_t bytes, uint64_t params)
{
    return params ? (double)bytes / (double)params : 0.0;
}

static void bench_print_row(const bench_largest_row *row)
{
    const char *moments = row->moments == ZO_DTYPE_BF16 ? "bf16" : "fp32";
    if (!row->planned) {
        printf("  %-7s %-5d %s\n", moments, row->stage, row->note);
        return;
    }
    char device[32], host[32];
    uint64_t host_total = bench_plan_host_total(&row->plan);
    printf("  %-7s %-5d %8.2f B %14llu %6zu  %10s %10s  %9.2f %9.2f  %s%s\n", moments, row->stage,
           (double)row->params / 1e9, (unsigned long long)row->params, row->blocks,
           zo_format_byte_size(row->plan.device_bytes, device, sizeof device),
           zo_format_byte_size(host_total, host, sizeof host),
           bench_per_param(row->plan.device_bytes, row->params),
           bench_per_param(host_total, row->params), bench_limit_name(row->binds),
           row->at_search_cap ? " (search cap)" : "");
}

static json_t *bench_row_json(const bench_largest_row *row)
{
    json_t *object =
        json_pack("{s:i, s:s, s:b}", "stage", row->stage, "moments",
                  row->moments == ZO_DTYPE_BF16 ? "bf16" : "fp32", "planned", row->planned);
    if (!object || !row->planned) {
        if (object)
            json_object_set_new(object, "note", json_string(row->note));
        return object;
    }
    uint64_t host_total = bench_plan_host_total(&row->plan);
    json_t *figures = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:s}", "blocks", (json_int_t)row->blocks,
        "params", (json_int_t)row->params, "device_bytes", (json_int_t)row->plan.device_bytes,
        "host_bytes", (json_int_t)host_total, "stage3_persistent_bytes",
        (json_int_t)row->plan.stage3_persistent_bytes, "stage3_pool_bytes",
        (json_int_t)row->plan.stage3_pool_bytes, "stage3_grad_pool_bytes",
        (json_int_t)row->plan.stage3_grad_pool_bytes, "device_bytes_per_param",
        bench_per_param(row->plan.device_bytes, row->params), "host_bytes_per_param",
        bench_per_param(host_total, row->params), "binds", bench_limit_name(row->binds));
    if (!figures || json_object_update(object, figures) != 0) {
        json_decref(figures);
        json_decref(object);
        return NULL;
    }
    json_decref(figures);
    return object;
}

int bench_largest_model_command(const bench_largest_request *request)
{
    static const int stages[] = {2, 3};
    static const zo_dtype moments[] = {ZO_DTYPE_F32, ZO_DTYPE_BF16};
    const zo_settings *base = &request->base;
    size_t block_elems = bench_block_elems(request->hidden);
    json_t *machines_json = request->json_path ? json_array() : NULL;
    int exit_status = BENCH_EXIT_FAILED;
    printf(
        "zo-bench plan: the largest model per machine, ZeRO stage 2 vs 3 (%s weights, settings "
        "from %s);\n"
        "a GPT-style transformer of hidden size %zu, %zu parameters per block (12h^2 + 13h: four\n"
        "matrices and eight small persistent parameters), one rank, planned by zo_engine_plan.\n"
        "Counts zo's buffers only: the loop's activations, the CUDA context and the OS are not.\n",
        base->fp16_enabled   ? "fp16"
        : base->bf16_enabled ? "bf16"
                             : "fp32",
        request->base_label, request->hidden, block_elems);
    for (size_t m = 0; m < request->machines.count; m++) {
        const bench_machine *machine = &request->machines.items[m];
        char gpu[32], host[32];
        printf("\n%s GPU + %s host RAM\n", zo_format_byte_size(machine->gpu_bytes, gpu, sizeof gpu),
               zo_format_byte_size(machine->host_bytes, host, sizeof host));
        printf("  %-7s %-5s %10s %14s %6s  %10s %10s  %9s %9s  %s\n", "moments", "stage", "largest",
               "parameters", "blocks", "device", "host", "dev B/p", "host B/p", "binds next");
        json_t *rows_json = machines_json ? json_array() : NULL;
        for (size_t d = 0; d < 2; d++)
            for (size_t s = 0; s < 2; s++) {
                bench_largest_row row = {.stage = stages[s], .moments = moments[d]};
                if (bench_find_row(request, machine, &row) < 0) {
                    json_decref(rows_json);
                    goto fail;
                }
                bench_print_row(&row);
                if (rows_json)
                    json_array_append_new(rows_json, bench_row_json(&row));
            }
        if (machines_json)
            json_array_append_new(machines_json,
                                  json_pack("{s:I, s:I, s:o}", "gpu_bytes",
                                            (json_int_t)machine->gpu_bytes, "host_bytes",
                                            (json_int_t)machine->host_bytes, "rows", rows_json));
    }
    printf("\n  largest: parameters in billions (10^9); device and host: zo's bytes at that size; "
           "B/p:\n"
           "  bytes per parameter; binds next: the limit one more block passes. Stage 3's device\n"
           "  bytes are its slot pools (stage3_max_live_parameters) and persistent parameters.\n");
    exit_status = BENCH_EXIT_OK;
    if (machines_json) {
        json_t *root =
            json_pack("{s:s, s:s, s:I, s:I, s:O}", "settings", request->base_label, "weights",
                      base->fp16_enabled   ? "fp16"
                      : base->bf16_enabled ? "bf16"
                                           : "fp32",
                      "hidden", (json_int_t)request->hidden, "block_params",
                      (json_int_t)block_elems, "machines", machines_json);
        if (!root || json_dump_file(root, request->json_path, JSON_INDENT(2)) != 0)
            exit_status = bench_fail("cannot write the JSON report to %s", request->json_path) < 0
                              ? BENCH_EXIT_FAILED
                              : exit_status;
        json_decref(root);
    }
fail:
    json_decref(machines_json);
    return exit_status;
}

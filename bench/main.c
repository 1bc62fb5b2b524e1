/* zo-bench: measures the cpu_adam kernels against the memory system. This file only
 * reads the command line (or a config file) into a plan and hands it to the suite. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_fail.h"
#include "bench_isa.h"
#include "config.h"
#include "param_count.h"
#include "plan.h"
#include "suite.h"

/* Exit statuses: a failed measurement is not a usage error, and scripts can tell. */
enum { BENCH_EXIT_OK = 0, BENCH_EXIT_FAILED = 1, BENCH_EXIT_USAGE = 2 };

static void bench_print_help(FILE *out)
{
    fputs("usage:\n"
          "  zo-bench                              the Adam benchmark with its defaults\n"
          "  zo-bench adam [OPTIONS]               the Adam benchmark\n"
          "  zo-bench --config FILE [--json OUT]   the suite a JSON config describes\n"
          "  zo-bench --help\n"
          "\n"
          "adam options:\n"
          "  --sizes LIST    comma-separated parameter counts; suffixes K = 2^10, M = 2^20,\n"
          "                  G = 2^30 (default 1M,4M,16M,64M,256M)\n"
          "  --modes LIST    comma-separated, of fp32, mixed, bf16, bf16-moments\n"
          "                  (default fp32,mixed)\n"
          "  --isas LIST     comma-separated kernel paths, of auto, scalar, avx2, avx512,\n"
          "                  avx512bf16 (default auto); each gets its own rows, its step timed\n"
          "                  in the same repeat loop as the others; traffic, 3-pass and the\n"
          "                  call overhead run on the first listed path\n"
          "  --repeats N     timed runs of each kernel; the median is reported (default 5)\n"
          "  --threads N     threads, 0 for OpenMP's default (default 0)\n"
          "  --json OUT      also write the figures to OUT as JSON\n"
          "\n"
          "modes: fp32 = fp32 grads and moments, no weights out (28 bytes/param);\n"
          "  mixed = fp16 grads, fp32 moments, fp16 weights out (28); bf16 = bf16 grads,\n"
          "  fp32 moments, bf16 weights out (28); bf16-moments = bf16 grads, moments and\n"
          "  weights out (20).\n"
          "\n"
          "The config file (see bench/configs/default.json):\n"
          "  {\"adam\": {\"sizes\": [\"1M\", \"16M\"], \"modes\": [\"fp32\", \"mixed\"],\n"
          "            \"isas\": [\"auto\"], \"repeats\": 5, \"threads\": 0}}\n"
          "\n"
          "Each size needs about 36 bytes per parameter of memory (mixed mode's buffers plus\n"
          "the triad's). ZO_CPU_ISA=scalar|avx2|avx512|avx512bf16 picks the path that auto\n"
          "runs; OMP_NUM_THREADS and OMP_PROC_BIND apply as usual.\n"
          "Exit status: 0 done, 1 a measurement failed, 2 bad command line or config.\n",
          out);
}

/* If argv[*index] is option `name`, as "--name VALUE" or "--name=VALUE", points
 * *value at VALUE (advancing *index past it) and returns 1; 0 if it is another
 * argument; -1 after printing an error if the value is missing. */
static int bench_option(int argc, char **argv, int *index, const char *name, const char **value)
{
    const char *arg = argv[*index];
    size_t length = strlen(name);
    if (strncmp(arg, name, length) != 0)
        return 0;
    if (arg[length] == '=') {
        *value = arg + length + 1;
        return 1;
    }
    if (arg[length] != '\0')
        return 0;
    if (*index + 1 >= argc)
        return bench_fail("%s needs a value (see zo-bench --help)", name);
    *value = argv[++*index];
    return 1;
}

static int bench_parse_integer(const char *option, const char *text, long long *value)
{
    char *end;
    errno = 0;
    *value = strtoll(text, &end, 10);
    if (errno || end == text || *end)
        return bench_fail("%s: \"%s\" is not an integer", option, text);
    return 0;
}

/* Calls add(item) for each comma-separated item of list; -1 at the first refusal. */
static int bench_for_each_item(const char *option, const char *list, bench_plan *plan,
                               int (*add)(const char *option, const char *item, bench_plan *plan))
{
    char item[64];
    for (const char *start = list;;) {
        size_t length = strcspn(start, ",");
        if (length == 0 || length >= sizeof item)
            return bench_fail("%s: \"%s\" has an empty or overlong item", option, list);
        memcpy(item, start, length);
        item[length] = '\0';
        if (add(option, item, plan) < 0)
            return -1;
        if (start[length] == '\0')
            return 0;
        start += length + 1;
    }
}

static int bench_add_size_item(const char *option, const char *item, bench_plan *plan)
{
    size_t params;
    if (!bench_parse_param_count(item, &params))
        return bench_fail("%s: \"%s\" is not a parameter count like 16M (K = 2^10, M = 2^20, "
                          "G = 2^30)",
                          option, item);
    const char *problem = bench_plan_add_size(plan, params);
    return problem ? bench_fail("%s: %s: %s", option, item, problem) : 0;
}

static int bench_add_mode_item(const char *option, const char *item, bench_plan *plan)
{
    bench_mode mode;
    if (!bench_mode_from_name(item, &mode))
        return bench_fail("%s: \"%s\" is not a mode (%s)", option, item, bench_mode_names());
    const char *problem = bench_plan_add_mode(plan, mode);
    return problem ? bench_fail("%s: %s: %s", option, item, problem) : 0;
}

static int bench_add_isa_item(const char *option, const char *item, bench_plan *plan)
{
    zo_cpu_isa isa;
    if (!bench_isa_from_name(item, &isa))
        return bench_fail("%s: \"%s\" is not a kernel path (%s)", option, item, bench_isa_names());
    const char *problem = bench_plan_add_isa(plan, isa);
    return problem ? bench_fail("%s: %s: %s", option, item, problem) : 0;
}

/* Reads the options of `zo-bench adam` from argv[first] on. */
static int bench_parse_adam_options(int argc, char **argv, int first, bench_plan *plan,
                                    const char **json_path)
{
    for (int i = first; i < argc; i++) {
        const char *value = NULL;
        long long number;
        int found;
        if ((found = bench_option(argc, argv, &i, "--sizes", &value)) != 0) {
            plan->size_count = 0;
            if (found < 0 || bench_for_each_item("--sizes", value, plan, bench_add_size_item) < 0)
                return -1;
        } else if ((found = bench_option(argc, argv, &i, "--modes", &value)) != 0) {
            plan->mode_count = 0;
            if (found < 0 || bench_for_each_item("--modes", value, plan, bench_add_mode_item) < 0)
                return -1;
        } else if ((found = bench_option(argc, argv, &i, "--isas", &value)) != 0) {
            plan->isa_count = 0;
            if (found < 0 || bench_for_each_item("--isas", value, plan, bench_add_isa_item) < 0)
                return -1;
        } else if ((found = bench_option(argc, argv, &i, "--repeats", &value)) != 0) {
            if (found < 0 || bench_parse_integer("--repeats", value, &number) < 0)
                return -1;
            const char *problem = bench_plan_set_repeats(plan, number);
            if (problem)
                return bench_fail("--repeats %s: %s", value, problem);
        } else if ((found = bench_option(argc, argv, &i, "--threads", &value)) != 0) {
            if (found < 0 || bench_parse_integer("--threads", value, &number) < 0)
                return -1;
            const char *problem = bench_plan_set_threads(plan, number);
            if (problem)
                return bench_fail("--threads %s: %s", value, problem);
        } else if ((found = bench_option(argc, argv, &i, "--json", &value)) != 0) {
            if (found < 0)
                return -1;
            *json_path = value;
        } else {
            return bench_fail("adam: unknown option \"%s\" (see zo-bench --help)", argv[i]);
        }
    }
    return 0;
}

/* Reads `zo-bench [--config FILE] [--json OUT]`. */
static int bench_parse_suite_options(int argc, char **argv, bench_plan *plan,
                                     const char **json_path)
{
    const char *config_path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *value = NULL;
        int found;
        if ((found = bench_option(argc, argv, &i, "--config", &value)) != 0) {
            if (found < 0)
                return -1;
            config_path = value;
        } else if ((found = bench_option(argc, argv, &i, "--json", &value)) != 0) {
            if (found < 0)
                return -1;
            *json_path = value;
        } else {
            return bench_fail("unknown command or option \"%s\" (see zo-bench --help)", argv[i]);
        }
    }
    return config_path ? bench_config_load(config_path, plan) : 0;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            bench_print_help(stdout);
            return BENCH_EXIT_OK;
        }
    bench_plan plan;
    const char *json_path = NULL;
    bench_plan_default(&plan);
    int parsed = argc > 1 && strcmp(argv[1], "adam") == 0
                     ? bench_parse_adam_options(argc, argv, 2, &plan, &json_path)
                     : bench_parse_suite_options(argc, argv, &plan, &json_path);
    if (parsed < 0)
        return BENCH_EXIT_USAGE;
    return bench_suite_run(&plan, json_path) < 0 ? BENCH_EXIT_FAILED : BENCH_EXIT_OK;
}

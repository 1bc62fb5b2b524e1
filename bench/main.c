/* zo-bench: measures the cpu_adam kernels against the memory system, and the engine's
 * pipeline against its phases alone. This file only reads the command line (or a
 * config file) and hands it to the subcommand or the suite. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_fail.h"
#include "bench_isa.h"
#include "bind_option.h"
#include "ckpt_export_command.h"
#include "ckpt_time_command.h"
#include "config.h"
#include "engine_command.h"
#include "memory_plan_command.h"
#include "options.h"
#include "plan.h"
#include "suite.h"
#include "topo_command.h"
#include "train_command.h"

static void bench_print_help(FILE *out)
{
    fputs("usage:\n"
          "  zo-bench                              the Adam benchmark with its defaults\n"
          "  zo-bench adam [OPTIONS]               the Adam benchmark\n"
          "  zo-bench plan --params N --config FILE [OPTIONS]\n"
          "                                        the engine's memory plan; allocates nothing\n"
          "  zo-bench engine [OPTIONS]             the engine's pipeline against its phases alone\n"
          "  zo-bench topo [OPTIONS]               the machine's topology and where each rank's\n"
          "                                        host update would run\n"
          "  zo-bench train --params N --config FILE [OPTIONS]\n"
          "                                        a real training loop (the examples' MLP)\n"
          "  zo-bench ckpt [OPTIONS]               time a checkpoint's save, load and export\n"
          "  zo-bench ckpt-export DIR OUT          merge checkpoint DIR (zo_engine_save) into\n"
          "                                        one safetensors file of fp32 weights\n"
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
          "  --bind B        time each step under these thread placements in turn, as zo.bind\n"
          "                  places the engine's update: none,auto (both), auto, none, or a\n"
          "                  CPU list such as 0-3,8; may be repeated (at most 3). auto and\n"
          "                  lists: --threads 0 means one per core of the placement\n"
          "  --json OUT      also write the figures to OUT as JSON\n"
          "\n"
          "modes: fp32 = fp32 grads and moments, no weights out (28 bytes/param);\n"
          "  mixed = fp16 grads, fp32 moments, fp16 weights out (28); bf16 = bf16 grads,\n"
          "  fp32 moments, bf16 weights out (28); bf16-moments = bf16 grads, moments and\n"
          "  weights out (20).\n"
          "\n"
          "plan options (zo_engine_plan on a model of N parameters; nothing is allocated):\n"
          "  --params N      total parameters, K/M/G suffixes as above (required)\n"
          "  --config FILE   a stage config: a DeepSpeed ds_config.json, plus \"zo\" (required)\n"
          "  --layers L      split the parameters into L equal layers (default 1)\n"
          "  --ranks R       data-parallel ranks sharing the optimizer state (default 1)\n"
          "  --json OUT      also write the plan to OUT as JSON\n"
          "  It prints device, pinned and pageable host bytes per rank, the host memory\n"
          "  available, the pinned limit and the engine's verdict: FITS or DOES NOT FIT (exit\n"
          "  status 0 either way).\n"
          "\n"
          "engine options (the whole pipeline on the host backend; sleeps stand in for the\n"
          "GPU's compute, which costs the host no CPU):\n"
          "  --params N      total parameters, K/M/G suffixes (default 64M)\n"
          "  --layers L      layers, one parameter each (default 16)\n"
          "  --config FILE   the stage config (default: built in, the same as\n"
          "                  bench/configs/engine.json: fp16, ZeRO stage 2, buckets of 8M\n"
          "                  elements, the host backend); update threads from zo.threads\n"
          "  --compute-us-per-layer T\n"
          "                  forward + backward microseconds per layer (1/3 forward, 2/3\n"
          "                  backward); default: the host update alone's time spread over the\n"
          "                  layers, so the compute matches the update\n"
          "  --steps S       timed steps, after 2 warm-up steps (default 10)\n"
          "  --repeats R     timed runs of each phase alone; the median is reported (default 5)\n"
          "  --trace FILE    set zo.trace to FILE in the config (a Chrome/Perfetto trace)\n"
          "  --json OUT      also write the figures to OUT as JSON\n"
          "  --ranks 1,2     run the benchmark under `mpirun -np R` for each R and compare what\n"
          "                  a rank holds and how long its step takes (ZeRO sharding; needs\n"
          "                  mpirun on PATH and a config with zero_optimization.stage >= 1)\n"
          "  It times each phase alone (compute; the gradient and weight copies, one thread\n"
          "  each way; the host update: grad stats + Adam), then the pipelined step, and\n"
          "  reports step / max(phases) (overlap efficiency: 1.0 is perfect overlap, the goal\n"
          "  is <= 1.15), step / sum(phases), and the medians of zo_step_info. It needs about\n"
          "  36 bytes of memory per parameter (the engine's 20 with fp16, plus the phases').\n"
          "\n"
          "topo options (the engine's placement decisions; nothing is bound):\n"
          "  --ranks R       local ranks to place (default: the launcher's local size, else 1)\n"
          "  --threads N     zo.threads: update threads per rank, 0 = one per core (default 0)\n"
          "  --bind B        zo.bind: auto, none or a CPU list such as 0-3,8 (default auto)\n"
          "  --synthetic D   an hwloc synthetic machine instead of this one, e.g.\n"
          "                  \"pack:2 numa:1 core:8 pu:2\"\n"
          "train options (examples/train_mlp_*'s deep MLP through the engine; see README):\n"
          "  --params N      model size, K/M/G suffixes (required); width a power of two near\n"
          "                  sqrt(N / 8), layers to match\n"
          "  --config FILE   the stage config (required; bench/configs/train.json); zo.device,\n"
          "                  zo.trace and offload_optimizer.device are set over it\n"
          "  --width W       force the width\n"
          "  --batch B       samples per step (default 64)\n"
          "  --steps S       timed steps (default 10), after --warmup W steps (default 2)\n"
          "  --device D      host, cuda or auto (default auto: CUDA when a GPU is usable)\n"
          "  --host-steps S  on CUDA, timed steps of the same model on the host backend, for\n"
          "                  the GPU / host-only ratio (default 3; 0 skips it)\n"
          "  --find-max      also the largest model of this width each way (offload, no\n"
          "                  offload, host only), from the memory plan; allocates nothing\n"
          "  --json OUT      also write the figures to OUT as JSON\n"
          "  It reports samples/s, the step split (the loop's compute; D2H, host update, H2D\n"
          "  from the engine's trace), step / largest phase, and on CUDA the PCIe GB/s against\n"
          "  a pinned cudaMemcpyAsync peak, peak GPU memory with and without offload and the\n"
          "  GPU / host-only speed ratio; without a GPU those say \"n/a (no GPU: ...)\".\n"
          "ckpt options (one rank's zo_engine_save, zo_engine_load, zo_checkpoint_export;\n"
          "the files are removed at the end):\n"
          "  --params N      total parameters, K/M/G suffixes (default 64M), in 16 layers\n"
          "  --dir DIR       where to write: the disk being measured (default\n"
          "                  ./zo-bench-ckpt, and ./zo-bench-ckpt.safetensors for the export)\n"
          "  --config FILE   the stage config (default: the engine benchmark's built-in one)\n"
          "  --repeats R     timed saves and loads; the medians are reported (default 3)\n"
          "  GB/s count the shard file's bytes (12 per parameter with fp32 moments) for save\n"
          "  and load, the exported fp32 weights (4 per parameter) for export.\n"
          "\n"
          "The config file (see bench/configs/default.json):\n"
          "  {\"adam\": {\"sizes\": [\"1M\", \"16M\"], \"modes\": [\"fp32\", \"mixed\"],\n"
          "            \"isas\": [\"auto\"], \"repeats\": 5, \"threads\": 0},\n"
          "   \"engine\": {\"params\": \"64M\", \"layers\": 16, \"compute_us_per_layer\": 4000,\n"
          "              \"steps\": 10}}\n"
          "\"adam\" is required; \"engine\" (every key optional) adds the engine benchmark with\n"
          "the built-in stage config.\n"
          "\n"
          "Each size needs about 36 bytes per parameter of memory (mixed mode's buffers plus\n"
          "the triad's). ZO_CPU_ISA=scalar|avx2|avx512|avx512bf16 picks the path that auto\n"
          "runs; OMP_NUM_THREADS and OMP_PROC_BIND apply as usual.\n"
          "Exit status: 0 done, 1 a measurement failed, 2 bad command line or config (or a\n"
          "setting the engine refuses).\n",
          out);
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
    if (bench_parse_count(option, item, &params) < 0)
        return -1;
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

static int bench_add_bind(bench_plan *plan, const char *text)
{
    bench_bind bind;
    if (bench_parse_bind("--bind", text, &bind) < 0)
        return -1;
    const char *problem = bench_plan_add_bind(plan, &bind);
    return problem ? bench_fail("--bind %s: %s", text, problem) : 0;
}

/* --bind: a comma list of "none" and "auto" ("none,auto"), or else one placement
 * (a CPU list has commas of its own). */
static int bench_add_binds(const char *value, bench_plan *plan)
{
    bool only_modes = true;
    for (const char *item = value; only_modes && *item;) {
        size_t length = strcspn(item, ",");
        only_modes = length == 4 && (strncmp(item, "none", 4) == 0 || strncmp(item, "auto", 4) == 0);
        item += length + (item[length] == ',');
    }
    if (!only_modes)
        return bench_add_bind(plan, value);
    for (const char *item = value; *item; item += item[4] ? 5 : 4)
        if (bench_add_bind(plan, strncmp(item, "none", 4) == 0 ? "none" : "auto") < 0)
            return -1;
    return 0;
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
        } else if ((found = bench_option(argc, argv, &i, "--bind", &value)) != 0) {
            if (found < 0 || bench_add_binds(value, plan) < 0)
                return -1;
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
    if (argc > 1 && strcmp(argv[1], "plan") == 0)
        return bench_memory_plan_command(argc, argv, 2);
    if (argc > 1 && strcmp(argv[1], "engine") == 0)
        return bench_engine_command(argc, argv, 2);
    if (argc > 1 && strcmp(argv[1], "topo") == 0)
        return bench_topo_command(argc, argv, 2);
    if (argc > 1 && strcmp(argv[1], "train") == 0)
        return bench_train_command(argc, argv, 2);
    if (argc > 1 && strcmp(argv[1], "ckpt") == 0)
        return bench_ckpt_time_command(argc, argv, 2);
    if (argc > 1 && strcmp(argv[1], "ckpt-export") == 0)
        return bench_ckpt_export_command(argc, argv, 2);
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

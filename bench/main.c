/* zo-bench: measures the cpu_adam kernels against the memory system, and the engine's
 * pipeline against its phases alone. This file only picks the command (each reads its
 * own options through its table, option_table.h) and prints the help of them all. */
#include <stdio.h>
#include <string.h>

#include "adam_command.h"
#include "ckpt_export_command.h"
#include "ckpt_time_command.h"
#include "create_command.h"
#include "engine_command.h"
#include "memory_plan_command.h"
#include "nvme_command.h"
#include "option_table.h"
#include "options.h"
#include "topo_command.h"
#include "train_command.h"

typedef struct bench_entry {
    const bench_command *command;
    int (*run)(int argc, char **argv, int first);
} bench_entry;

/* In the order of the help; the suite (no command word) last. */
static const bench_entry bench_entries[] = {
    {&bench_adam_cli, bench_adam_command},
    {&bench_plan_cli, bench_memory_plan_command},
    {&bench_engine_cli, bench_engine_command},
    {&bench_create_cli, bench_create_command},
    {&bench_topo_cli, bench_topo_command},
    {&bench_train_cli, bench_train_command},
    {&bench_ckpt_cli, bench_ckpt_time_command},
    {&bench_ckpt_export_cli, bench_ckpt_export_command},
    {&bench_nvme_cli, bench_nvme_command},
    {&bench_suite_cli, bench_suite_command},
};
enum { BENCH_ENTRY_COUNT = sizeof bench_entries / sizeof bench_entries[0] };

static void bench_print_section(const bench_command *command, FILE *out)
{
    if (command->heading || command->notes) {
        fputc('\n', out);
        bench_print_command_help(command, out);
    }
}

/* `zo-bench --help`: every command; `zo-bench CMD --help`: that one (only == NULL). */
static void bench_print_help(const bench_command *only, FILE *out)
{
    fputs("usage:\n", out);
    if (!only)
        fputs("  zo-bench                              the Adam benchmark with its defaults\n",
              out);
    for (int k = 0; k < BENCH_ENTRY_COUNT; k++)
        if (!only || bench_entries[k].command == only)
            fputs(bench_entries[k].command->usage, out);
    if (only) {
        bench_print_section(only, out);
        return;
    }
    fputs("  zo-bench --help                       all of this; zo-bench COMMAND --help: one\n"
          "                                        command's part\n",
          out);
    for (int k = 0; k < BENCH_ENTRY_COUNT; k++)
        bench_print_section(bench_entries[k].command, out);
    fputs("\n"
          "Each size needs about 36 bytes per parameter of memory (mixed mode's buffers plus\n"
          "the triad's). ZO_CPU_ISA=scalar|avx2|avx512|avx512bf16 picks the path that auto\n"
          "runs; OMP_NUM_THREADS and OMP_PROC_BIND apply as usual.\n"
          "Exit status: 0 done, 1 a measurement failed, 2 bad command line or config (or a\n"
          "setting the engine refuses).\n",
          out);
}

/* The command argv[1] names; the suite (the last entry) when none does. */
static const bench_entry *bench_find_entry(int argc, char **argv)
{
    for (int k = 0; k < BENCH_ENTRY_COUNT - 1; k++)
        if (argc > 1 && strcmp(argv[1], bench_entries[k].command->name) == 0)
            return &bench_entries[k];
    return &bench_entries[BENCH_ENTRY_COUNT - 1];
}

int main(int argc, char **argv)
{
    const bench_entry *entry = bench_find_entry(argc, argv);
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            bench_print_help(entry->command->name ? entry->command : NULL, stdout);
            return BENCH_EXIT_OK;
        }
    return entry->run(argc, argv, entry->command->name ? 2 : 1);
}

/* `zo-bench ckpt-export`: a thin front for zo_checkpoint_export. It lives in zo-bench
 * because the project's top level is fixed (docs/design.md): no separate tools/ folder. */
#include "ckpt_export_command.h"

#include <stdio.h>
#include <sys/stat.h>

#include "bench_fail.h"
#include "options.h"
#include "zo/zo.h"

/* Two arguments, no options: the table is empty and only the usage is shown. */
static const bench_option bench_no_options[] = {{0}};

const bench_command bench_ckpt_export_cli = {
    .name = "ckpt-export",
    .usage = "  zo-bench ckpt-export DIR OUT          merge checkpoint DIR (zo_engine_save) into\n"
             "                                        one safetensors file of fp32 weights\n",
    .options = bench_no_options,
};

int bench_ckpt_export_command(int argc, char **argv, int first)
{
    if (argc - first != 2) {
        bench_fail(
            "ckpt-export takes a checkpoint directory and an output file (see zo-bench --help)");
        return BENCH_EXIT_USAGE;
    }
    const char *dir = argv[first], *out = argv[first + 1];
    zo_status status = zo_checkpoint_export(dir, out);
    if (status != ZO_OK) {
        bench_fail("ckpt-export: %s: %s", zo_status_name(status), zo_last_error());
        return BENCH_EXIT_FAILED;
    }
    struct stat info;
    long long bytes = stat(out, &info) == 0 ? (long long)info.st_size : -1;
    printf("%s -> %s: %lld bytes of fp32 weights, one tensor per parameter\n", dir, out, bytes);
    return BENCH_EXIT_OK;
}

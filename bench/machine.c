/* Describes the machine from the kernel context, /proc/cpuinfo and the environment. */
#include "machine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Copies the value of the first "model name" line; false if there is none. */
static bool bench_read_cpu_model(char *out, size_t out_size)
{
    FILE *cpuinfo = fopen("/proc/cpuinfo", "r");
    if (!cpuinfo)
        return false;
    char line[512];
    bool found = false;
    while (!found && fgets(line, sizeof line, cpuinfo)) {
        if (strncmp(line, "model name", 10) != 0)
            continue;
        const char *value = strchr(line, ':');
        if (!value)
            continue;
        for (value++; *value == ' ' || *value == '\t'; value++)
            ;
        snprintf(out, out_size, "%s", value);
        out[strcspn(out, "\n")] = '\0';
        found = true;
    }
    fclose(cpuinfo);
    return found;
}

void bench_machine_describe(const zo_adam *ctx, bench_machine *machine)
{
    machine->isa = zo_adam_isa(ctx);
    machine->threads = zo_adam_num_threads(ctx);
    machine->has_cpu_model = bench_read_cpu_model(machine->cpu_model, sizeof machine->cpu_model);
    machine->omp_proc_bind = getenv("OMP_PROC_BIND");
    machine->omp_wait_policy = getenv("OMP_WAIT_POLICY");
    machine->gomp_spincount = getenv("GOMP_SPINCOUNT");
}

/* Kernel paths by name: the names come from zo_cpu_isa_name(), so the benchmark
 * accepts exactly what the library calls its paths. */
#include "bench_isa.h"

#include <string.h>

bool bench_isa_from_name(const char *name, zo_cpu_isa *isa)
{
    for (int k = ZO_CPU_ISA_AUTO; k <= ZO_CPU_ISA_AVX512_BF16; k++)
        if (strcmp(name, zo_cpu_isa_name((zo_cpu_isa)k)) == 0) {
            *isa = (zo_cpu_isa)k;
            return true;
        }
    return false;
}

const char *bench_isa_names(void) { return "auto, scalar, avx2, avx512, avx512bf16"; }

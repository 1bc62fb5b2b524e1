/* Which kernel paths this CPU can run: cpuid for the instructions, xgetbv for the
 * operating system's support of the wider registers. */
#include <stdbool.h>
#include <string.h>

#include "zo/adam.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static bool zo_os_saves_state(unsigned long long mask)
{
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & bit_OSXSAVE))
        return false;
    unsigned lo, hi;
    __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    unsigned long long enabled = ((unsigned long long)hi << 32) | lo;
    return (enabled & mask) == mask;
}

bool zo_cpu_supports(zo_cpu_isa isa)
{
    unsigned eax, ebx, ecx, edx;
    if (isa == ZO_CPU_ISA_AUTO || isa == ZO_CPU_ISA_SCALAR)
        return true;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
        return false;
    bool f16c = ecx & bit_F16C, fma = ecx & bit_FMA;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx))
        return false;
    bool avx2 = f16c && fma && (ebx & bit_AVX2) && zo_os_saves_state(0x6);   /* XMM, YMM */
    bool avx512 = avx2 && (ebx & bit_AVX512F) && (ebx & bit_AVX512BW) && (ebx & bit_AVX512VL) &&
                  zo_os_saves_state(0xe6); /* plus opmask and both ZMM halves */
    switch (isa) {
    case ZO_CPU_ISA_AVX2: return avx2;
    case ZO_CPU_ISA_AVX512: return avx512;
    case ZO_CPU_ISA_AVX512_BF16:
        if (!avx512 || !(ebx & bit_AVX512DQ) || !__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx))
            return false;
        return eax & (1u << 5); /* CPUID.(7,1):EAX.AVX512_BF16 */
    default: return false;
    }
}
#else
bool zo_cpu_supports(zo_cpu_isa isa) { return isa == ZO_CPU_ISA_AUTO || isa == ZO_CPU_ISA_SCALAR; }
#endif

zo_cpu_isa zo_cpu_best_isa(void)
{
    static const zo_cpu_isa best_first[] = {ZO_CPU_ISA_AVX512_BF16, ZO_CPU_ISA_AVX512,
                                            ZO_CPU_ISA_AVX2};
    for (size_t k = 0; k < sizeof best_first / sizeof best_first[0]; k++)
        if (zo_cpu_supports(best_first[k]))
            return best_first[k];
    return ZO_CPU_ISA_SCALAR;
}

const char *zo_cpu_isa_name(zo_cpu_isa isa)
{
    switch (isa) {
    case ZO_CPU_ISA_AUTO: return "auto";
    case ZO_CPU_ISA_SCALAR: return "scalar";
    case ZO_CPU_ISA_AVX2: return "avx2";
    case ZO_CPU_ISA_AVX512: return "avx512";
    case ZO_CPU_ISA_AVX512_BF16: return "avx512bf16";
    }
    return "invalid";
}

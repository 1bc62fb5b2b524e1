/* zo-bench adam's comparison of modes (bench/mode_compare.c): which modes fit in memory
 * to run side by side, and the paired ratio of two steps' samples. */
#include <criterion/criterion.h>
#include <math.h>

#include "mode_compare.h"

static const double footprints[] = {4.0, 5.0, 6.0};

Test(bench_compare, modes_run_side_by_side_as_far_as_memory_holds_them)
{
    /* 2 shared + 4 + 5 = 11: the first two fit in 11, not the third */
    cr_expect_eq(bench_modes_fitting_together(footprints, 3, 2.0, 100.0), 3);
    cr_expect_eq(bench_modes_fitting_together(footprints, 3, 2.0, 17.0), 3);
    cr_expect_eq(bench_modes_fitting_together(footprints, 3, 2.0, 16.9), 2);
    cr_expect_eq(bench_modes_fitting_together(footprints, 3, 2.0, 11.0), 2);
    cr_expect_eq(bench_modes_fitting_together(footprints, 3, 2.0, 10.9), 1);
    /* the later modes start their own group: from the second on */
    cr_expect_eq(bench_modes_fitting_together(footprints + 1, 2, 2.0, 10.9), 1);
    cr_expect_eq(bench_modes_fitting_together(footprints + 1, 2, 2.0, 13.0), 2);
}

Test(bench_compare, one_mode_at_least_and_all_when_memory_is_unknown)
{
    /* each mode was checked to fit alone before: a group is never empty */
    cr_expect_eq(bench_modes_fitting_together(footprints, 3, 2.0, 3.0), 1);
    cr_expect_eq(bench_modes_fitting_together(footprints, 3, 2.0, 0.0), 3);
    cr_expect_eq(bench_modes_fitting_together(footprints, 3, 2.0, -1.0), 3);
    cr_expect_eq(bench_modes_fitting_together(footprints, 3, 2.0, NAN), 3);
    cr_expect_eq(bench_modes_fitting_together(footprints, 0, 2.0, 100.0), 0);
}

Test(bench_compare, paired_speedup_is_the_median_of_ratios_within_repeats)
{
    /* a slow spell in repeat 2 hits both steps: it cancels in the pair */
    double baseline[] = {1.0, 1.0, 10.0, 1.0, 1.0};
    double other[] = {0.5, 0.5, 5.0, 0.5, 0.5};
    cr_expect_eq(bench_paired_speedup(baseline, other, 5), 2.0);
    /* ratios 2, 0.5, 2: the odd repeat out does not move the median */
    double slow[] = {2.0, 2.0, 2.0}, mixed_up[] = {1.0, 4.0, 1.0};
    cr_expect_eq(bench_paired_speedup(slow, mixed_up, 3), 2.0);
    /* an even count: the mean of the middle two ratios (1, 2, 3, 4: 2.5), where the
     * ratio of the two medians would be 1 / ((1/3 + 1/2) / 2) = 2.4 */
    double ones[] = {1.0, 1.0, 1.0, 1.0}, halves[] = {1.0, 0.5, 1.0 / 3.0, 0.25};
    cr_expect_float_eq(bench_paired_speedup(ones, halves, 4), 2.5, 1e-12);
}

Test(bench_compare, paired_speedup_without_samples_is_unknown)
{
    double baseline[] = {1.0, 1.0}, zero[] = {0.5, 0.0}, negative[] = {-1.0, 0.5};
    cr_expect(isnan(bench_paired_speedup(baseline, baseline, 0)));
    cr_expect(isnan(bench_paired_speedup(baseline, zero, 2)));
    cr_expect(isnan(bench_paired_speedup(negative, baseline, 2)));
    cr_expect_eq(bench_paired_speedup(baseline, baseline, 2), 1.0);
}

/* The flat layout: aligned parameter starts, buckets that cover the space, and no
 * bucket made of padding alone, whatever the bucket size. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "partition.h"

Test(partition, every_bucket_holds_a_parameter_and_starts_are_aligned)
{
    static const zo_param_desc params[] = {{"a", 1000}, {"b", 1}, {"c", 37}, {"d", 2500}, {"e", 63}};
    static const uint64_t bucket_sizes[] = {1, 7, 63, 64, 65, 100, 300, 512, 1000, 4096, 100000};
    for (size_t k = 0; k < sizeof bucket_sizes / sizeof bucket_sizes[0]; k++) {
        zo_partition p;
        cr_assert(eq(int, zo_partition_build(params, 5, bucket_sizes[k], &p), ZO_OK), "%s", zo_last_error());
        cr_expect(eq(sz, p.bucket_elems % ZO_PARAM_ALIGN_ELEMS, 0), "bucket size %llu",
                  (unsigned long long)bucket_sizes[k]);
        cr_expect(ge(sz, p.bucket_elems, (size_t)bucket_sizes[k]));
        for (size_t i = 0; i < 5; i++)
            cr_expect(eq(sz, p.param_offset[i] % ZO_PARAM_ALIGN_ELEMS, 0), "param %zu", i);
        cr_expect(eq(sz, p.total_elems, p.param_offset[4] + 63), "the space ends with the last parameter");
        cr_expect(eq(sz, zo_bucket_end(&p, p.bucket_count - 1), p.total_elems));
        for (size_t b = 0; b < p.bucket_count; b++)
            cr_expect(ge(sz, p.bucket_param_count[b], 1), "bucket %zu of size %zu holds no parameter", b,
                      p.bucket_elems);
        zo_partition_free(&p);
    }
}

/* The flat layout: aligned parameter starts, buckets that cover the space, and no
 * bucket made of padding alone, whatever the bucket size. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <string.h>

#include "partition.h"

Test(partition, every_bucket_holds_a_parameter_and_starts_are_aligned)
{
    static const zo_param_desc params[] = {{"a", 1000}, {"b", 1}, {"c", 37}, {"d", 2500}, {"e", 63}};
    static const uint64_t bucket_sizes[] = {1, 7, 63, 64, 65, 100, 300, 512, 1000, 4096, 100000};
    for (size_t k = 0; k < sizeof bucket_sizes / sizeof bucket_sizes[0]; k++) {
        zo_partition p;
        cr_assert(eq(int, zo_partition_build(params, 5, bucket_sizes[k], 1, &p), ZO_OK), "%s", zo_last_error());
        cr_expect(eq(sz, p.bucket_elems % ZO_PARAM_ALIGN_ELEMS, 0), "bucket size %llu",
                  (unsigned long long)bucket_sizes[k]);
        cr_expect(ge(sz, p.bucket_elems, (size_t)bucket_sizes[k]));
        for (size_t i = 0; i < 5; i++)
            cr_expect(eq(sz, p.param_offset[i] % ZO_PARAM_ALIGN_ELEMS, 0), "param %zu", i);
        cr_expect(eq(sz, p.total_elems, p.param_offset[4] + 63), "the space ends with the last parameter");
        cr_expect(eq(sz, p.padded_elems, p.total_elems), "one rank: no padding");
        cr_expect(eq(sz, zo_bucket_end(&p, p.bucket_count - 1), p.total_elems));
        for (size_t b = 0; b < p.bucket_count; b++)
            cr_expect(ge(sz, p.bucket_param_count[b], 1), "bucket %zu of size %zu holds no parameter", b,
                      p.bucket_elems);
        zo_partition_free(&p);
    }
}

/* Over R ranks every bucket splits into R pieces of whole alignment blocks, the pieces
 * tile the flat space exactly once, and each rank's shard is 1/R of it. */
Test(partition, buckets_split_evenly_between_ranks)
{
    static const zo_param_desc params[] = {{"a", 1000}, {"b", 1}, {"c", 37}, {"d", 2500}, {"e", 63}};
    static const uint64_t bucket_sizes[] = {1, 63, 65, 300, 1000, 4096, 100000};
    for (size_t ranks = 1; ranks <= 5; ranks++)
        for (size_t k = 0; k < sizeof bucket_sizes / sizeof bucket_sizes[0]; k++) {
            zo_partition p;
            cr_assert(eq(int, zo_partition_build(params, 5, bucket_sizes[k], ranks, &p), ZO_OK), "%s",
                      zo_last_error());
            cr_expect(eq(sz, ranks == 1 ? 0 : p.padded_elems % (ranks * ZO_PARAM_ALIGN_ELEMS), 0));
            cr_expect(ge(sz, p.padded_elems, p.total_elems));
            cr_expect(lt(sz, p.padded_elems - p.total_elems, ranks * ZO_PARAM_ALIGN_ELEMS), "padding < one block");
            size_t covered = 0, shard_pieces = 0;
            for (size_t b = 0; b < p.bucket_count; b++) {
                cr_expect(ge(sz, p.bucket_param_count[b], 1), "bucket %zu holds no parameter", b);
                if (ranks > 1) /* one rank: the last bucket ends with the last parameter */
                    cr_expect(eq(sz, zo_piece_elems(&p, b) % ZO_PARAM_ALIGN_ELEMS, 0), "bucket %zu", b);
                cr_expect(eq(sz, zo_piece_elems(&p, b) * ranks, zo_bucket_end(&p, b) - zo_bucket_begin(&p, b)));
                for (size_t r = 0; r < ranks; r++)
                    cr_expect(eq(sz, zo_piece_begin(&p, b, r), covered + r * zo_piece_elems(&p, b)));
                cr_expect(eq(sz, zo_shard_offset(&p, b), shard_pieces), "the pieces lie back to back in a shard");
                covered += ranks * zo_piece_elems(&p, b);
                shard_pieces += zo_piece_elems(&p, b);
            }
            cr_expect(eq(sz, covered, p.padded_elems));
            cr_expect(eq(sz, zo_shard_elems(&p), shard_pieces));
            zo_partition_free(&p);
        }
}

Test(partition, zero_ranks_is_refused)
{
    static const zo_param_desc params[] = {{"a", 10}};
    zo_partition p;
    cr_expect(eq(int, zo_partition_build(params, 1, 64, 0, &p), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(sz, p.param_count, 0));
}

/* Found by fuzzing the config (tests/fuzz/config_corpus/regression_millions_of_buckets.json):
 * a 2^41-element model in 144-element buckets asked for 91 GB of bucket bookkeeping.
 * Exactly ZO_MAX_BUCKETS buckets are fine; one more is refused by the key's name. */
Test(partition, more_buckets_than_zo_handles_are_refused_by_name)
{
    zo_param_desc params[] = {{"w", (size_t)ZO_MAX_BUCKETS * 64}};
    zo_partition p;
    cr_assert(eq(int, zo_partition_build(params, 1, 64, 1, &p), ZO_OK), "%s", zo_last_error());
    cr_expect(eq(sz, p.bucket_count, ZO_MAX_BUCKETS));
    zo_partition_free(&p);
    params[0].elems++;
    cr_assert(eq(int, zo_partition_build(params, 1, 64, 1, &p), ZO_ERR_CONFIG));
    cr_expect(ne(ptr, strstr(zo_last_error(), "reduce_bucket_size 64 cuts"), NULL), "%s", zo_last_error());
    cr_expect(eq(ptr, p.bucket_param_count, NULL), "nothing is left allocated");
}

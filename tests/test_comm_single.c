/* The single-rank communicator (engine/comm_single.c): rank 0 of 1, every collective a
 * copy of this rank's data (bit for bit, f16/bf16 included) or nothing in place, and
 * bad arguments refused with a message. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm.h"
#include "comm/choose.h"
#include "zo/zo.h"

static zo_comm comm;

static void open_comm(void)
{
    cr_assert(eq(int, zo_comm_single_create(&comm), ZO_OK), "%s", zo_last_error());
}

static void close_comm(void) { comm.ops->destroy(comm.ctx); }

TestSuite(comm_single, .init = open_comm, .fini = close_comm);

Test(comm_single, is_rank_zero_of_one)
{
    cr_expect(eq(str, (char *)comm.ops->name, "single"));
    cr_expect(eq(int, comm.ops->rank(comm.ctx), 0));
    cr_expect(eq(int, comm.ops->size(comm.ctx), 1));
    cr_expect(eq(int, comm.ops->barrier(comm.ctx), ZO_OK));
}

Test(comm_single, allreduces_leave_values_as_they_are)
{
    double values[3] = {1.5, -0.0, 1e300};
    cr_assert(eq(int, comm.ops->allreduce_sum_f64(comm.ctx, values, 3), ZO_OK));
    cr_expect(eq(dbl, values[0], 1.5));
    cr_expect(signbit(values[1]) != 0, "-0.0 keeps its sign");
    cr_expect(eq(dbl, values[2], 1e300));
    cr_expect(eq(int, comm.ops->allreduce_sum_f64(comm.ctx, NULL, 0), ZO_OK), "nothing to sum");

    bool flag = false;
    cr_assert(eq(int, comm.ops->allreduce_or(comm.ctx, &flag), ZO_OK));
    cr_expect(eq(int, flag, false));
    flag = true;
    cr_assert(eq(int, comm.ops->allreduce_or(comm.ctx, &flag), ZO_OK));
    cr_expect(eq(int, flag, true));
}

/* Every dtype, with a bit pattern (NaN payloads, subnormals) that any arithmetic would
 * disturb: one rank's sum is its value, copied exactly. */
Test(comm_single, reduce_scatter_copies_every_dtype_bit_for_bit)
{
    const zo_dtype dtypes[] = {ZO_DTYPE_F32, ZO_DTYPE_F16, ZO_DTYPE_BF16};
    for (size_t d = 0; d < sizeof dtypes / sizeof dtypes[0]; d++) {
        uint8_t send[7 * 4], recv[7 * 4 + 1];
        for (size_t i = 0; i < sizeof send; i++)
            send[i] = (uint8_t)(0x7d + 37 * i);
        memset(recv, 0xee, sizeof recv);
        size_t bytes = 7 * zo_dtype_size(dtypes[d]);
        cr_assert(eq(int, comm.ops->reduce_scatter_sum(comm.ctx, send, recv, 7, dtypes[d]), ZO_OK),
                  "%s: %s", zo_dtype_name(dtypes[d]), zo_last_error());
        cr_expect(memcmp(send, recv, bytes) == 0, "%s copied", zo_dtype_name(dtypes[d]));
        cr_expect(eq(u8, recv[bytes], 0xee), "%s: nothing written past recv_elems",
                  zo_dtype_name(dtypes[d]));
    }
}

Test(comm_single, in_place_collectives_change_nothing)
{
    float values[5] = {1, 2, 3, 4, 5};
    cr_assert(
        eq(int, comm.ops->reduce_scatter_sum(comm.ctx, values, values, 5, ZO_DTYPE_F32), ZO_OK));
    cr_assert(eq(int, comm.ops->allgather(comm.ctx, values, values, sizeof values), ZO_OK));
    for (int i = 0; i < 5; i++)
        cr_expect(eq(flt, values[i], (float)(i + 1)));
}

Test(comm_single, allgather_copies_the_one_part)
{
    const char send[] = "zero redundancy";
    char recv[sizeof send + 1];
    memset(recv, '#', sizeof recv);
    cr_assert(eq(int, comm.ops->allgather(comm.ctx, send, recv, sizeof send), ZO_OK));
    cr_expect(eq(str, recv, (char *)send));
    cr_expect(eq(chr, recv[sizeof send], '#'), "nothing written past size * send_bytes");
    cr_expect(eq(int, comm.ops->allgather(comm.ctx, NULL, NULL, 0), ZO_OK), "nothing to gather");
}

Test(comm_single, allgatherv_copies_the_one_part_and_duplicate_is_a_single_rank)
{
    const char send[] = "stage three";
    char recv[sizeof send + 1];
    memset(recv, '#', sizeof recv);
    size_t bytes[1] = {sizeof send};
    cr_assert(eq(int, zo_comm_allgatherv(&comm, send, recv, bytes), ZO_OK), "%s", zo_last_error());
    cr_expect(eq(str, recv, (char *)send));
    cr_expect(eq(chr, recv[sizeof send], '#'), "nothing written past recv_bytes[0]");
    cr_expect(eq(int, zo_comm_allgatherv(&comm, send, recv, NULL), ZO_ERR_INVALID_ARGUMENT));
    zo_comm copy = {0};
    cr_assert(eq(int, zo_comm_duplicate(&comm, &copy), ZO_OK), "%s", zo_last_error());
    cr_expect(eq(int, zo_comm_size(&copy), 1));
    cr_expect(eq(str, (char *)copy.ops->name, "single"));
    zo_comm_destroy(&copy);
}

Test(comm_single, bad_arguments_are_refused_with_a_message)
{
    float x[2] = {0};
    cr_expect(eq(int, comm.ops->reduce_scatter_sum(comm.ctx, x, x, 2, (zo_dtype)7),
                 ZO_ERR_INVALID_ARGUMENT));
    cr_expect(strstr(zo_last_error(), "dtype") != NULL, "%s", zo_last_error());
    cr_expect(eq(int, comm.ops->reduce_scatter_sum(comm.ctx, NULL, x, 2, ZO_DTYPE_F32),
                 ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int, comm.ops->allgather(comm.ctx, x, NULL, 8), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int, comm.ops->allreduce_sum_f64(comm.ctx, NULL, 1), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int, comm.ops->allreduce_or(comm.ctx, NULL), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int, zo_comm_single_create(NULL), ZO_ERR_INVALID_ARGUMENT));
}

/* zo.comm: "single", and "auto" outside a multi-process launch, give one rank. */
Test(comm_choose, one_process_is_one_rank)
{
    unsetenv("OMPI_COMM_WORLD_SIZE"), unsetenv("PMI_SIZE");
    char notice[256] = "";
    zo_comm chosen;
    cr_assert(eq(int, zo_comm_choose(ZO_COMM_AUTO, &chosen, notice, sizeof notice), ZO_OK), "%s", zo_last_error());
    cr_expect(eq(str, (char *)chosen.ops->name, "single"));
    cr_expect(eq(str, notice, ""));
    chosen.ops->destroy(chosen.ctx);
    setenv("OMPI_COMM_WORLD_SIZE", "1", 1); /* mpirun -np 1: still one rank, no MPI needed */
    cr_assert(eq(int, zo_comm_choose(ZO_COMM_AUTO, &chosen, notice, sizeof notice), ZO_OK));
    cr_expect(eq(str, (char *)chosen.ops->name, "single"));
    chosen.ops->destroy(chosen.ctx);
    setenv("OMPI_COMM_WORLD_SIZE", "4", 1); /* "single" overrides any launcher */
    cr_assert(eq(int, zo_comm_choose(ZO_COMM_SINGLE, &chosen, notice, sizeof notice), ZO_OK));
    cr_expect(eq(str, (char *)chosen.ops->name, "single"));
    chosen.ops->destroy(chosen.ctx);
}

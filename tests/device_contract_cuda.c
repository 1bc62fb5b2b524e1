/* The contract suite run on the CUDA backend, GPU 0. Without a GPU (or without CUDA in
 * the build) every test skips with the reason zo_device_cuda_create gives. */
#include "device/cuda/backend.h"
#include "device_contract.h"

static void open_gpu(zo_device *out)
{
    if (zo_device_cuda_create(0, out) != ZO_OK)
        cr_skip_test("%s", zo_last_error());
}

const device_contract_backend backend_under_test = {
    .name = "cuda",
    .open = open_gpu,
    .expect_nothing_left = NULL, /* CUDA keeps no registry of what is alive */
    .refusal_to_wait_for_itself = "CUDA forbids",
    .refusal_to_wait_for_later_work = "CUDA forbids",
};

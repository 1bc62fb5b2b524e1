/* The CUDA side of the build: with a GPU it must find one; without, it must say so
 * clearly instead of crashing. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "zo/zo.h"

Test(cuda, device_count_answers_or_explains)
{
    int count = -1;
    zo_status status = zo_cuda_device_count(&count);
    if (!zo_cuda_built()) {
        cr_expect(eq(int, status, ZO_ERR_NOT_SUPPORTED));
        cr_expect(eq(int, count, 0));
        cr_skip_test("libzo was built without CUDA: %s", zo_last_error());
    }
    if (status != ZO_OK) {
        cr_expect(eq(int, status, ZO_ERR_DEVICE));
        cr_expect(eq(int, count, 0));
        cr_expect(strstr(zo_last_error(), "cudaGetDeviceCount") != NULL, "%s", zo_last_error());
        cr_skip_test("no usable GPU here: %s", zo_last_error());
    }
    cr_expect(ge(int, count, 1));
    cr_expect(eq(int, zo_cuda_device_count(NULL), ZO_ERR_INVALID_ARGUMENT));
}

/* mlp_train_cuda in a build without CUDA: says so, so zo-bench train --device cuda
 * fails with the reason instead of a link error. */
#include <stdio.h>

#include "mlp_loops.h"

int mlp_train_cuda(const mlp_options *options, mlp_log *log)
{
    (void)options, (void)log;
    fprintf(stderr,
            "the CUDA training loop is not in this build: built without CUDA (nvcc not found)\n");
    return 1;
}

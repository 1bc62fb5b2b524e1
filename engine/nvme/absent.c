/* Builds without liburing: offload_optimizer.device "nvme" is refused by name. */
#include "nvme/state.h"

#include "error.h"
#include "optimizer_state.h"

zo_status zo_nvme_state_start(zo_engine *e)
{
    (void)e;
    return zo_fail(
        ZO_ERR_NOT_SUPPORTED,
        "zero_optimization.offload_optimizer.device \"nvme\": this zo was built without liburing "
        "(install liburing-dev and rebuild); use offload_optimizer.device \"cpu\"");
}

/* Never chosen in this build; defined so every build links the same symbols. */
const zo_optimizer_state_ops zo_optimizer_state_nvme = {.name = "nvme"};

zo_status zo_engine_nvme_stream(zo_engine *e, uint64_t *bytes, double *seconds)
{
    (void)e, (void)bytes, (void)seconds;
    return zo_fail(ZO_ERR_NOT_SUPPORTED,
                   "zo_engine_nvme_stream: this zo was built without liburing");
}

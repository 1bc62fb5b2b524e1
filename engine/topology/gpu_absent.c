/* A build without CUDA knows no GPU's locality. */
#include "error.h"
#include "topology.h"

zo_status zo_topology_gpu_cpus(const zo_topology *t, int device, char *list, size_t room)
{
    (void)t, (void)device;
    if (list && room)
        list[0] = '\0';
    return zo_fail(ZO_ERR_NOT_SUPPORTED, "built without CUDA: no GPU locality");
}

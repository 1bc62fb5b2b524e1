/* A CUDA device's locality (the CPUs nearest its PCIe slot), from hwloc's CUDA
 * runtime helper. Built only with CUDA; gpu_absent.c otherwise. */
#include <cuda_runtime_api.h>
#include <hwloc/cudart.h>

#include "error.h"
#include "internal.h"

zo_status zo_topology_gpu_cpus(const zo_topology *t, int device, char *list, size_t room)
{
    if (!t || !list || room == 0)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_topology_gpu_cpus: %s",
                       !t ? "topology is NULL" : "no room for the list");
    list[0] = '\0';
    if (t->synthetic)
        return zo_fail(ZO_ERR_DEVICE, "a synthetic topology has no GPUs");
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    if (!set)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "zo_topology_gpu_cpus: out of memory");
    int result = hwloc_cudart_get_device_cpuset(t->hwloc, device, set);
    if (result == 0 && !hwloc_bitmap_iszero(set) && !hwloc_bitmap_isfull(set))
        hwloc_bitmap_list_snprintf(list, room, set);
    hwloc_bitmap_free(set);
    return list[0] ? ZO_OK
                   : zo_fail(ZO_ERR_DEVICE, "the CPUs near CUDA device %d are unknown to hwloc",
                             device);
}

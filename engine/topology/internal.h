/* What topology.c, placement.c and the GPU locality share: the topology's struct and
 * a bounded string builder. Internal. */
#ifndef ZO_TOPOLOGY_INTERNAL_H
#define ZO_TOPOLOGY_INTERNAL_H

#include <hwloc.h>
#include <stdbool.h>
#include <stddef.h>

#include "topology.h"

struct zo_topology {
    hwloc_topology_t hwloc;
    bool synthetic; /* made up: describe and place, never bind */
};

/* snprintf at out + *used, advancing *used; stops quietly at room - 1 characters. */
void zo_append(char *out, size_t room, size_t *used, const char *format, ...)
    __attribute__((format(printf, 4, 5)));

#endif

/* CPU lists ("0-3,8,10-11"): zo_cpu_list_parse is public now (zo/topology.h); this
 * header stays for the engine's files and tests that name it. Internal. */
#ifndef ZO_CPU_LIST_H
#define ZO_CPU_LIST_H

#include "zo/topology.h"

#endif

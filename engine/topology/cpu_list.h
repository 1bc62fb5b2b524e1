/* CPU lists as Linux writes them (taskset -c, numactl -C, /sys/.../cpulist):
 * "0-3,8,10-11". Parsed strictly, since the lenient hwloc parser reads "-1" or "5-2"
 * as an empty set without complaint. Internal. */
#ifndef ZO_CPU_LIST_H
#define ZO_CPU_LIST_H

#include <stdbool.h>
#include <stddef.h>

/* The largest CPU number a list may name; far beyond any machine, small enough that
 * a typo ("0-99999999") is caught rather than allocated. */
enum { ZO_CPU_LIST_MAX_CPU = 65535 };

/* Called once per range, first <= last, in the order written. */
typedef void (*zo_cpu_range_fn)(void *user, unsigned first, unsigned last);

/* Checks `text` (comma-separated numbers or ranges "a-b" with a <= b, no spaces, not
 * empty) and calls add for each range (add may be NULL: check only). Returns true, or
 * false with what is wrong in problem[room] (nothing added then). */
bool zo_cpu_list_parse(const char *text, zo_cpu_range_fn add, void *user, char *problem,
                       size_t room);

#endif

/* Large zeroed host buffers set up at memory speed: mapped on transparent huge pages
 * and faulted in in parallel by a team of threads, instead of one thread taking a
 * page fault per 4 KiB (1.57 million faults, 5 s of system time, for the 6 GB of a
 * 512M-parameter engine's master weights and moments). Internal.
 *
 * Where the pages land is decided by the range's NUMA policy when one is set
 * (zo_topology_bind_memory, before the touch), else by the thread that touches each
 * page first: zo_host_pages_touch gives each thread of the team one contiguous share. */
#ifndef ZO_HOST_PAGES_H
#define ZO_HOST_PAGES_H

#include <stdbool.h>
#include <stddef.h>

#include "thread_pinning.h"

/* A transparent huge page on x86-64 and most arm64 kernels: the alignment of large
 * buffers, so that every 2 MiB of them can be one page. */
enum { ZO_HOST_PAGES_HUGE_BYTES = 2 * 1024 * 1024 };

/* A zero-filled buffer of `bytes` (0 gives a unique pointer too), NULL when the system
 * refuses (errno says why). Buffers of at least ZO_HOST_PAGES_HUGE_BYTES are their own
 * mapping, aligned to 2 MiB and advised onto transparent huge pages
 * (madvise(MADV_HUGEPAGE); nothing is lost when THP is off; see ZO_HUGE_PAGES below),
 * and left untouched: they
 * read as zeros and get their pages where and when they are first written (see
 * zo_host_pages_touch). Smaller ones come from malloc, 64-byte aligned and zeroed.
 * Free with zo_host_pages_free only. */
void *zo_host_pages_alloc(size_t bytes);

/* Frees what zo_host_pages_alloc returned; NULL is a no-op. */
void zo_host_pages_free(void *data);

/* Faults in every page of [data, data + bytes) for writing, with `threads` OpenMP
 * threads (0: OpenMP's default) each taking one contiguous share, whole huge pages
 * where the range allows, in thread order: one madvise(MADV_POPULATE_WRITE) per share,
 * or a zero written to each page where the kernel lacks it. Workers are pinned as the update's
 * are (team: its CPU list, thread i on cpus[i % count]; NULL or an empty list: each on
 * its own core after the caller's). Memory must be zero (as zo_host_pages_alloc leaves
 * it) or not yet read by anyone else: only its page tables change. */
void zo_host_pages_touch(void *data, size_t bytes, int threads, const zo_team_cpus *team);

/* False when the environment says ZO_HUGE_PAGES=off (or 0): large buffers are then
 * advised away from huge pages (MADV_NOHUGEPAGE), for a machine where they cost more
 * than they save (measured on a VM whose balloon hands free memory back to the host:
 * zo-bench create). Read at each allocation. */
bool zo_host_pages_huge_wanted(void);

/* The system's transparent huge page setting: "always", "madvise", "never", or
 * "unavailable" (no /sys/kernel/mm/transparent_hugepage/enabled). Huge pages are asked
 * for unless it is "never" or "unavailable". A static string. */
const char *zo_host_pages_thp_mode(void);

#endif

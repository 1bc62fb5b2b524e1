/* Large zeroed host buffers on transparent huge pages, first-touched in parallel; see
 * host_pages.h for why. */
#define _GNU_SOURCE
#include "host_pages.h"

#include <omp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* The 64 bytes just below every buffer's data: how to give it back. A large buffer's
 * header is at the end of a page of its own (not advised onto huge pages), so that its
 * data can start on a 2 MiB boundary. */
typedef struct zo_pages_header {
    uint64_t magic;
    void *base;          /* what to free or unmap */
    size_t mapped_bytes; /* 0: from malloc; else the mapping's length from base */
} zo_pages_header;

enum { ZO_PAGES_HEADER_BYTES = 64 };
static const uint64_t zo_pages_magic = 0x7a6f2d7061676573u; /* "zo-pages" */

static size_t zo_round_up(size_t value, size_t to) { return (value + to - 1) / to * to; }

static size_t zo_page_bytes(void)
{
    long page = sysconf(_SC_PAGESIZE);
    return page > 0 ? (size_t)page : 4096;
}

static const char *thp_mode = "unavailable";
static pthread_once_t thp_mode_once = PTHREAD_ONCE_INIT;

/* The word in brackets of "always [madvise] never". */
static void zo_read_thp_mode(void)
{
    FILE *file = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    char line[128] = "";
    if (!file)
        return;
    bool read = fgets(line, sizeof line, file) != NULL;
    fclose(file);
    static const char *const modes[] = {"always", "madvise", "never"};
    for (size_t k = 0; read && k < sizeof modes / sizeof modes[0]; k++) {
        char bracketed[16];
        snprintf(bracketed, sizeof bracketed, "[%s]", modes[k]);
        if (strstr(line, bracketed))
            thp_mode = modes[k];
    }
}

const char *zo_host_pages_thp_mode(void)
{
    pthread_once(&thp_mode_once, zo_read_thp_mode);
    return thp_mode;
}

bool zo_host_pages_huge_wanted(void)
{
    const char *text = getenv("ZO_HUGE_PAGES");
    return !text || (strcmp(text, "off") != 0 && strcmp(text, "0") != 0);
}

static void *zo_small_alloc(size_t bytes)
{
    if (bytes > SIZE_MAX - 2 * ZO_PAGES_HEADER_BYTES)
        return NULL;
    size_t total = zo_round_up(ZO_PAGES_HEADER_BYTES + bytes, ZO_PAGES_HEADER_BYTES);
    char *base = aligned_alloc(ZO_PAGES_HEADER_BYTES, total);
    if (!base)
        return NULL;
    memset(base, 0, total);
    *(zo_pages_header *)base = (zo_pages_header){.magic = zo_pages_magic, .base = base};
    return base + ZO_PAGES_HEADER_BYTES;
}

/* Maps header page + data + 2 MiB of slack, then unmaps the slack on either side of
 * the aligned data: virtual addresses only, no memory is spent on it. */
static void *zo_large_alloc(size_t bytes)
{
    size_t page = zo_page_bytes();
    if (bytes > SIZE_MAX - 2 * ZO_HOST_PAGES_HUGE_BYTES - 2 * page)
        return NULL;
    size_t length = zo_round_up(bytes, page), map_bytes = page + length + ZO_HOST_PAGES_HUGE_BYTES;
    char *base = mmap(NULL, map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED)
        return NULL;
    char *data = (char *)zo_round_up((uintptr_t)base + page, ZO_HOST_PAGES_HUGE_BYTES);
    char *header_page = data - page, *end = data + length;
    if (header_page > base)
        munmap(base, (size_t)(header_page - base));
    if (base + map_bytes > end)
        munmap(end, (size_t)(base + map_bytes - end));
    const char *mode = zo_host_pages_thp_mode();
    /* an optimization: refused, it costs speed only */
    if (!zo_host_pages_huge_wanted())
        madvise(data, length, MADV_NOHUGEPAGE); /* also where THP is "always" */
    else if (strcmp(mode, "never") != 0 && strcmp(mode, "unavailable") != 0)
        madvise(data, length, MADV_HUGEPAGE);
    *(zo_pages_header *)(data - ZO_PAGES_HEADER_BYTES) = (zo_pages_header){
        .magic = zo_pages_magic, .base = header_page, .mapped_bytes = page + length};
    return data;
}

void *zo_host_pages_alloc(size_t bytes)
{
    return bytes < ZO_HOST_PAGES_HUGE_BYTES ? zo_small_alloc(bytes) : zo_large_alloc(bytes);
}

void zo_host_pages_free(void *data)
{
    if (!data)
        return;
    zo_pages_header *header = (zo_pages_header *)((char *)data - ZO_PAGES_HEADER_BYTES);
    if (header->magic != zo_pages_magic)
        return; /* not ours: leaking it is safer than freeing a wild pointer */
    if (header->mapped_bytes)
        munmap(header->base, header->mapped_bytes);
    else
        free(header->base);
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14; older headers lack the name */
#endif

/* Has the kernel fault in [begin, end) of data for writing in one call: no trap per
 * page, and on a huge page mapping one 2 MiB fault per huge page. On this project's VM
 * (zo-bench create, 8 GiB, memory the hypervisor already backs) that is 20 GB/s where
 * a write per 4 KiB page reached 16 GB/s on huge pages and 3.7 GB/s without. False
 * where the kernel predates it (EINVAL): the caller then writes a byte per page. */
static bool zo_populate(void *data, size_t begin, size_t end)
{
    if (end <= begin)
        return true;
    return madvise((char *)data + begin, end - begin, MADV_POPULATE_WRITE) == 0;
}

void zo_host_pages_touch(void *data, size_t bytes, int threads, const zo_team_cpus *team)
{
    if (!data || bytes == 0)
        return;
    /* shares of whole huge pages, so that no page is split between two threads */
    size_t units = zo_round_up(bytes, ZO_HOST_PAGES_HUGE_BYTES) / ZO_HOST_PAGES_HUGE_BYTES;
    size_t team_size = threads > 0 ? (size_t)threads : (size_t)omp_get_max_threads();
    if (team_size > units)
        team_size = units;
    static const zo_team_cpus unlisted = {0};
    const zo_team_cpus *pinning = team && team->count > 0 ? team : &unlisted;
    size_t page = zo_page_bytes();
    volatile char *bytes_of = data;
    int master_cpu = zo_current_cpu();
#pragma omp parallel num_threads((int)team_size) if (team_size > 1)
    {
        zo_pin_team_worker(master_cpu, pinning);
        size_t team_now = (size_t)omp_get_num_threads(), thread = (size_t)omp_get_thread_num();
        size_t share = zo_round_up(units, team_now) / team_now * ZO_HOST_PAGES_HUGE_BYTES;
        size_t begin = thread * share < bytes ? thread * share : bytes;
        size_t end = bytes - begin > share ? begin + share : bytes;
        if (!zo_populate(data, begin, end))
            for (size_t at = begin; at < end; at += page)
                bytes_of[at] = 0;
    }
}

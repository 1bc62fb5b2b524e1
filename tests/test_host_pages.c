/* engine/host_pages.h: large zeroed host buffers on huge pages and their parallel first
 * touch. Speed is the bench's business (zo-bench create); here: zeros, alignment,
 * every byte usable, pages faulted in by the touch and not before. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "host_pages.h"

static const size_t huge = ZO_HOST_PAGES_HUGE_BYTES;

static bool all_zero(const unsigned char *data, size_t bytes)
{
    for (size_t i = 0; i < bytes; i++)
        if (data[i] != 0)
            return false;
    return true;
}

/* How many of the pages of [data, data + bytes) are resident. */
static size_t resident_pages(const void *data, size_t bytes)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), pages = (bytes + page - 1) / page;
    unsigned char *vector = calloc(pages, 1);
    cr_assert(ne(ptr, vector, NULL));
    cr_assert(eq(int, mincore((void *)data, bytes, vector), 0), "mincore: %s", strerror(errno));
    size_t resident = 0;
    for (size_t k = 0; k < pages; k++)
        resident += vector[k] & 1;
    free(vector);
    return resident;
}

/* Sizes around each boundary: the 64-byte header, a page, the huge-page threshold. */
static const size_t odd_sizes[] = {
    0, 1, 63, 64, 65, 4095, 4097, (2 << 20) - 1, 2 << 20, (2 << 20) + 1, (5 << 20) + 13};

Test(host_pages, gives_zeroed_aligned_usable_memory_of_odd_sizes)
{
    for (size_t k = 0; k < sizeof odd_sizes / sizeof odd_sizes[0]; k++) {
        size_t bytes = odd_sizes[k];
        unsigned char *data = zo_host_pages_alloc(bytes);
        cr_assert(ne(ptr, data, NULL), "%zu bytes", bytes);
        size_t alignment = bytes >= huge ? huge : 64;
        cr_expect(eq(u64, (uintptr_t)data % alignment, 0), "%zu bytes at %p: not %zu-aligned",
                  bytes, (void *)data, alignment);
        cr_expect(all_zero(data, bytes), "%zu bytes: not zeroed", bytes);
        memset(data, 0xa5, bytes); /* every byte is ours: ASan or a fault would say otherwise */
        cr_expect(bytes == 0 || (data[0] == 0xa5 && data[bytes - 1] == 0xa5));
        zo_host_pages_free(data);
    }
}

Test(host_pages, gives_distinct_buffers_for_zero_bytes)
{
    void *first = zo_host_pages_alloc(0), *second = zo_host_pages_alloc(0);
    cr_assert(ne(ptr, first, NULL));
    cr_assert(ne(ptr, second, NULL));
    cr_expect(ne(ptr, first, second));
    zo_host_pages_free(first);
    zo_host_pages_free(second);
}

Test(host_pages, free_of_null_does_nothing) { zo_host_pages_free(NULL); }

Test(host_pages, leaves_large_buffers_untouched_until_the_touch_faults_every_page_in)
{
    size_t bytes = 3 * huge + 4097; /* not a whole number of huge pages or threads' shares */
    unsigned char *data = zo_host_pages_alloc(bytes);
    cr_assert(ne(ptr, data, NULL));
    cr_expect(eq(sz, resident_pages(data, bytes), 0), "pages resident before any touch");
    zo_host_pages_touch(data, bytes, 3, NULL);
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    cr_expect(eq(sz, resident_pages(data, bytes), (bytes + page - 1) / page), "pages left out");
    cr_expect(all_zero(data, bytes));
    zo_host_pages_free(data);
}

/* Pinned to a CPU list as the update's threads are, more threads than huge pages. */
Test(host_pages, touches_with_a_cpu_list_and_more_threads_than_pages)
{
    size_t bytes = huge + 1;
    unsigned char *data = zo_host_pages_alloc(bytes);
    cr_assert(ne(ptr, data, NULL));
    int cpus[] = {sched_getcpu()};
    zo_team_cpus team = {.cpus = cpus, .count = 1};
    zo_host_pages_touch(data, bytes, 8, &team);
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    cr_expect(eq(sz, resident_pages(data, bytes), (bytes + page - 1) / page));
    cr_expect(all_zero(data, bytes));
    zo_host_pages_free(data);
}

/* The VmFlags of the mapping that starts at data: " hg" (MADV_HUGEPAGE) or " nh"
 * (MADV_NOHUGEPAGE) among them. */
static bool mapping_has_flag(const void *data, const char *flag)
{
    FILE *smaps = fopen("/proc/self/smaps", "r");
    cr_assert(ne(ptr, smaps, NULL));
    char line[256], start_text[32];
    snprintf(start_text, sizeof start_text, "%lx-", (unsigned long)(uintptr_t)data);
    bool in_range = false, found = false, flagged = false;
    while (fgets(line, sizeof line, smaps)) {
        char *dash = strchr(line, '-'), *space = strchr(line, ' ');
        if (dash && space && dash < space) /* a mapping's first line: "start-end perms ..." */
            in_range = strncmp(line, start_text, strlen(start_text)) == 0 ? (found = true) : false;
        if (in_range && strncmp(line, "VmFlags:", 8) == 0)
            flagged = strstr(line, flag) != NULL;
    }
    fclose(smaps);
    cr_assert(found, "no mapping starts at %p", data);
    return flagged;
}

/* The VMA of a large buffer is eligible for huge pages unless THP is off; whether the
 * kernel finds free huge pages at fault time is its business. */
Test(host_pages, advises_large_buffers_onto_huge_pages_when_thp_is_on)
{
    const char *mode = zo_host_pages_thp_mode();
    bool known = strcmp(mode, "always") == 0 || strcmp(mode, "madvise") == 0 ||
                 strcmp(mode, "never") == 0 || strcmp(mode, "unavailable") == 0;
    cr_assert(known, "mode \"%s\"", mode);
    if (strcmp(mode, "madvise") != 0)
        cr_skip_test("transparent huge pages are \"%s\", not \"madvise\"", mode);
    unsetenv("ZO_HUGE_PAGES");
    void *data = zo_host_pages_alloc(4 * huge);
    cr_assert(ne(ptr, data, NULL));
    cr_expect(mapping_has_flag(data, " hg"), "the mapping is not advised onto huge pages");
    zo_host_pages_free(data);
}

Test(host_pages, keeps_large_buffers_off_huge_pages_when_the_environment_says_off)
{
    setenv("ZO_HUGE_PAGES", "off", 1);
    cr_expect(eq(int, zo_host_pages_huge_wanted(), false));
    void *data = zo_host_pages_alloc(4 * huge);
    cr_assert(ne(ptr, data, NULL));
    cr_expect(mapping_has_flag(data, " nh"), "the mapping is not advised off huge pages");
    cr_expect(mapping_has_flag(data, " hg") == false);
    zo_host_pages_free(data);
    unsetenv("ZO_HUGE_PAGES");
    cr_expect(eq(int, zo_host_pages_huge_wanted(), true));
}

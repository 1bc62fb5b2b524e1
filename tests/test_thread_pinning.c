/* The kernel team's workers are pinned to cores of their own, and the caller's own
 * thread is left alone (see cpu_adam/thread_pinning.h for why); with a CPU list,
 * worker i goes to entry i. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <dirent.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "test_support.h"

/* How many of this process's threads other than the caller may run on exactly one
 * core, and whether the caller may run on more than one. */
static int pinned_other_threads(bool *caller_free)
{
    pid_t caller = (pid_t)syscall(SYS_gettid);
    int pinned = 0;
    DIR *tasks = opendir("/proc/self/task");
    cr_assert(tasks != NULL);
    for (struct dirent *entry; (entry = readdir(tasks));) {
        pid_t tid = (pid_t)atoi(entry->d_name);
        if (tid <= 0)
            continue;
        cpu_set_t set;
        if (sched_getaffinity(tid, sizeof set, &set) != 0)
            continue;
        if (tid == caller)
            *caller_free = CPU_COUNT(&set) > 1;
        else if (CPU_COUNT(&set) == 1)
            pinned++;
    }
    closedir(tasks);
    return pinned;
}

/* One 2-thread step of a context whose workers go to `cpus` (NULL: the default pinning). */
static void step_on(const int *cpus, int cpu_count)
{
    enum { N = 200000 };
    zo_adam_settings settings;
    zo_adam_default_settings(&settings);
    settings.num_threads = 2;
    settings.cpus = cpus, settings.cpu_count = cpu_count;
    zo_adam *ctx = NULL;
    cr_assert(eq(int, zo_adam_create(&settings, &ctx), ZO_OK), "%s", zo_last_error());
    float *master = calloc(N, sizeof(float)), *m = calloc(N, sizeof(float)), *v = calloc(N, sizeof(float)),
          *grad = calloc(N, sizeof(float));
    zo_adam_hparams hp;
    zo_adam_default_hparams(&hp);
    zo_adam_buffers b = {.n = N, .master = master, .exp_avg = m, .exp_avg_sq = v,
                         .moments_dtype = ZO_DTYPE_F32, .grad = grad, .grad_dtype = ZO_DTYPE_F32,
                         .grad_scale = 1.0f};
    cr_assert(eq(int, zo_adam_step(ctx, &hp, 1, &b), ZO_OK));
    free(master), free(m), free(v), free(grad);
    zo_adam_destroy(&ctx);
}

Test(thread_pinning, workers_get_a_core_each_and_the_caller_keeps_its_freedom)
{
    cpu_set_t allowed;
    sched_getaffinity(0, sizeof allowed, &allowed);
    if (CPU_COUNT(&allowed) < 2)
        cr_skip_test("one core only: nothing to pin");
    if (getenv("OMP_PROC_BIND"))
        cr_skip_test("OMP_PROC_BIND is set: OpenMP does the binding");
    bool caller_free = false;
    cr_assert(eq(int, pinned_other_threads(&caller_free), 0), "no thread is pinned before");

    step_on(NULL, 0);

    int pinned = pinned_other_threads(&caller_free);
    cr_expect(eq(int, pinned, 1), "the one worker of a 2-thread team is pinned");
    cr_expect(caller_free, "the caller's thread keeps its affinity");
}

/* The CPU the one worker of a 2-thread team is pinned to, -1 if none is. */
static int pinned_worker_cpu(void)
{
    pid_t caller = (pid_t)syscall(SYS_gettid);
    int found = -1;
    DIR *tasks = opendir("/proc/self/task");
    cr_assert(tasks != NULL);
    for (struct dirent *entry; (entry = readdir(tasks));) {
        pid_t tid = (pid_t)atoi(entry->d_name);
        cpu_set_t set;
        if (tid <= 0 || tid == caller || sched_getaffinity(tid, sizeof set, &set) != 0 ||
            CPU_COUNT(&set) != 1)
            continue;
        for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
            if (CPU_ISSET(cpu, &set))
                found = cpu;
    }
    closedir(tasks);
    return found;
}


Test(thread_pinning, with_a_cpu_list_worker_i_goes_to_entry_i_and_follows_a_change)
{
    cpu_set_t allowed;
    sched_getaffinity(0, sizeof allowed, &allowed);
    if (CPU_COUNT(&allowed) < 2)
        cr_skip_test("one core only: nothing to pin");
    int first = -1, second = -1;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
        if (CPU_ISSET(cpu, &allowed)) {
            if (first < 0)
                first = cpu;
            else if (second < 0)
                second = cpu;
        }
    /* first without a list: the pool's worker is made (with the caller's whole mask)
     * and pinned by the default rule, wherever the caller happens to run */
    step_on(NULL, 0);

    const int list[] = {second, first}; /* worker 1 -> entry 1 */
    step_on(list, 2);
    cr_assert(eq(int, pinned_worker_cpu(), first), "worker 1 on list entry 1");
    const int other[] = {first, second};
    step_on(other, 2); /* the same pool thread, another context */
    cr_assert(eq(int, pinned_worker_cpu(), second), "the same worker follows another list");

    /* back to a context without a list: the worker gets the whole mask it was made
     * with back (not the one CPU of its first pin) and the default rule, the CPU after
     * the caller's */
    cpu_set_t caller;
    CPU_ZERO(&caller);
    CPU_SET(second, &caller);
    cr_assert(eq(int, sched_setaffinity(0, sizeof caller, &caller), 0));
    step_on(NULL, 0);
    int after_second = first; /* the next allowed CPU, wrapping around */
    for (int cpu = CPU_SETSIZE - 1; cpu > second; cpu--)
        if (CPU_ISSET(cpu, &allowed))
            after_second = cpu;
    cr_assert(eq(int, pinned_worker_cpu(), after_second),
              "the worker leaves the listed CPU for the one after the caller's");
}

Test(thread_pinning, a_bad_cpu_list_is_refused_by_name)
{
    const int negative[] = {0, -3};
    zo_adam_settings settings;
    zo_adam_default_settings(&settings);
    zo_adam *ctx = NULL;
    settings.cpus = negative, settings.cpu_count = 2;
    cr_assert(eq(int, zo_adam_create(&settings, &ctx), ZO_ERR_INVALID_ARGUMENT));
    cr_assert(eq(str, (char *)zo_last_error(), "zo_adam_create: cpus[1] is -3, must be >= 0"));
    settings.cpus = NULL;
    cr_assert(eq(int, zo_adam_create(&settings, &ctx), ZO_ERR_INVALID_ARGUMENT));
    cr_assert(strstr(zo_last_error(), "cpus is NULL with cpu_count 2") != NULL, "%s", zo_last_error());
    cr_assert(ctx == NULL);
    settings.cpus = negative, settings.cpu_count = 1, settings.num_threads = 0;
    cr_assert(eq(int, zo_adam_create(&settings, &ctx), ZO_OK));
    cr_assert(eq(int, zo_adam_num_threads(ctx), 1), "threads default to the list's length");
    zo_adam_destroy(&ctx);
}

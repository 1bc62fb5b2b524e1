/* The kernel team's workers are pinned to cores of their own, and the caller's own
 * thread is left alone (see cpu_adam/thread_pinning.h for why). */
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

    enum { N = 200000 };
    zo_adam *ctx = zo_test_context(ZO_CPU_ISA_AUTO, 2);
    float *master = calloc(N, sizeof(float)), *m = calloc(N, sizeof(float)), *v = calloc(N, sizeof(float)),
          *grad = calloc(N, sizeof(float));
    zo_adam_hparams hp;
    zo_adam_default_hparams(&hp);
    zo_adam_buffers b = {.n = N, .master = master, .exp_avg = m, .exp_avg_sq = v,
                         .moments_dtype = ZO_DTYPE_F32, .grad = grad, .grad_dtype = ZO_DTYPE_F32,
                         .grad_scale = 1.0f};
    cr_assert(eq(int, zo_adam_step(ctx, &hp, 1, &b), ZO_OK));

    int pinned = pinned_other_threads(&caller_free);
    cr_expect(eq(int, pinned, 1), "the one worker of a 2-thread team is pinned");
    cr_expect(caller_free, "the caller's thread keeps its affinity");
    free(master), free(m), free(v), free(grad);
    zo_adam_destroy(&ctx);
}

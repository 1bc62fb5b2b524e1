/* The engine on this machine's topology (zo.bind, zo.threads): the placement it
 * reports, the update thread pinned where the placement says (or left alone with
 * "none"), and a CPU list the machine lacks refused by name. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <dirent.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zo/zo.h"

static const zo_param_desc model[] = {{"weight", 4096}, {"bias", 64}};

/* "device": "host": these tests need no GPU and must not take one. */
static zo_status create(const char *zo_section, zo_engine **engine)
{
    char json[256];
    snprintf(json, sizeof json, "{\"zo\": {\"device\": \"host\", %s}}", zo_section);
    zo_config *config = NULL;
    cr_assert(eq(int, zo_config_from_string(json, &config), ZO_OK), "%s: %s", json,
              zo_last_error());
    zo_status status = zo_engine_create(config, model, 2, engine);
    zo_config_destroy(&config);
    return status;
}

/* How many CPUs the engine's update thread (the host stream "host update", whose
 * thread is named "zo:host update") may run on; -1 if it is not found. */
static int update_thread_cpus(void)
{
    DIR *tasks = opendir("/proc/self/task");
    cr_assert(tasks != NULL);
    int cpus = -1;
    for (struct dirent *entry; (entry = readdir(tasks));) {
        char path[300], name[32] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", entry->d_name);
        FILE *file = fopen(path, "r");
        if (!file)
            continue;
        if (fgets(name, sizeof name, file) && strncmp(name, "zo:host update", 14) == 0) {
            cpu_set_t set;
            if (sched_getaffinity(atoi(entry->d_name), sizeof set, &set) == 0)
                cpus = CPU_COUNT(&set);
        }
        fclose(file);
    }
    closedir(tasks);
    return cpus;
}

static int allowed_cpus(void)
{
    cpu_set_t set;
    sched_getaffinity(0, sizeof set, &set);
    return CPU_COUNT(&set);
}

Test(engine_placement, auto_reports_its_decision_and_pins_the_update_thread)
{
    zo_engine *e = NULL;
    cr_assert(eq(int, create("\"bind\": \"auto\"", &e), ZO_OK), "%s", zo_last_error());
    const char *placement = zo_engine_placement(e);
    cr_expect(strstr(placement, "local rank 0 of 1: ") == placement, "%s", placement);
    cr_expect(strstr(placement, "one per core") != NULL, "%s", placement);
    cr_expect(eq(int, update_thread_cpus(), 1), "the update thread runs on one CPU");
    zo_engine_destroy(&e);
}

Test(engine_placement, none_leaves_the_update_thread_free)
{
    if (allowed_cpus() < 2)
        cr_skip_test("one CPU: a free thread looks pinned");
    zo_engine *e = NULL;
    cr_assert(eq(int, create("\"bind\": \"none\", \"threads\": 2", &e), ZO_OK), "%s",
              zo_last_error());
    cr_expect(strstr(zo_engine_placement(e), "zo.bind \"none\": 2 threads") != NULL, "%s",
              zo_engine_placement(e));
    cr_expect(eq(int, update_thread_cpus(), allowed_cpus()));
    zo_engine_destroy(&e);
}

Test(engine_placement, a_cpu_list_sets_the_threads_and_an_absent_cpu_is_refused)
{
    zo_engine *e = NULL;
    cr_assert(eq(int, create("\"bind\": \"0\"", &e), ZO_OK), "%s", zo_last_error());
    cr_expect(strstr(zo_engine_placement(e), "zo.bind \"0\": 1 core (CPUs 0)") != NULL, "%s",
              zo_engine_placement(e));
    cr_expect(strstr(zo_engine_placement(e), "1 thread, one per core") != NULL, "%s",
              zo_engine_placement(e));
    zo_engine_destroy(&e);

    cr_assert(eq(int, create("\"bind\": \"0-65535\"", &e), ZO_ERR_CONFIG));
    cr_expect(strstr(zo_last_error(), "zo.bind \"0-65535\" names CPUs ") != NULL, "%s",
              zo_last_error());
    cr_expect(eq(ptr, e, NULL));
    cr_expect(eq(str, (char *)zo_engine_placement(NULL), ""));
}

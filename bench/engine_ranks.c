/* `zo-bench engine --ranks 1,2`: the same engine benchmark under `mpirun -np R` for each
 * R, one after another, then a table of what each rank holds and how long its step
 * takes. Every run is this program again, told to write its figures as JSON. */
#include "engine_ranks.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_fail.h"
#include "options.h"
#include "zo/byte_size.h"

enum { BENCH_MAX_RANK_RUNS = 8 };

int bench_parse_rank_list(const char *text, bench_rank_list *out)
{
    *out = (bench_rank_list){0};
    const char *cursor = text;
    while (*cursor) {
        char *end = NULL;
        long ranks = strtol(cursor, &end, 10);
        if (end == cursor || ranks < 1 || ranks > 1024 || (*end != ',' && *end != '\0'))
            return bench_fail("--ranks %s: expected rank counts separated by commas, such as 1,2", text);
        if (out->count == BENCH_MAX_RANK_RUNS)
            return bench_fail("--ranks %s: at most %d runs", text, BENCH_MAX_RANK_RUNS);
        out->ranks[out->count++] = (int)ranks;
        cursor = *end == ',' ? end + 1 : end;
    }
    return out->count ? 0 : bench_fail("--ranks: no rank count given");
}

/* Runs `mpirun -np ranks <this program> engine <args> --json json_path`, its output
 * appended to log_path. Returns the exit status, or -1 when it could not start. */
static int bench_run_under_mpirun(int ranks, char **args, int arg_count, const char *json_path,
                                  const char *log_path)
{
    char np[16], self[4096];
    snprintf(np, sizeof np, "%d", ranks);
    /* resolved here: under mpirun "/proc/self/exe" would name mpirun's daemon */
    ssize_t length = readlink("/proc/self/exe", self, sizeof self - 1);
    if (length <= 0)
        return -1;
    self[length] = '\0';
    char *argv[64];
    int n = 0;
    argv[n++] = "mpirun";
    if (geteuid() == 0)
        argv[n++] = "--allow-run-as-root"; /* OpenMPI refuses root without it */
    argv[n++] = "--oversubscribe";
    argv[n++] = "-np";
    argv[n++] = np;
    argv[n++] = self;
    argv[n++] = "engine";
    for (int i = 0; i < arg_count && n < 60; i++)
        argv[n++] = args[i];
    argv[n++] = "--json";
    argv[n++] = (char *)json_path;
    argv[n] = NULL;
    fflush(stdout);
    pid_t child = fork();
    if (child < 0)
        return -1;
    if (child == 0) {
        if (!freopen(log_path, "a", stdout) || dup2(fileno(stdout), STDERR_FILENO) < 0)
            _exit(126);
        execvp(argv[0], argv);
        fprintf(stderr, "cannot run mpirun: not on PATH?\n");
        _exit(127);
    }
    int status = 0;
    if (waitpid(child, &status, 0) < 0)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static json_t *bench_engine_field(json_t *root, const char *key)
{
    return json_object_get(json_object_get(root, "engine"), key);
}

/* One row of the table from one run's JSON report. */
static void bench_print_rank_run(int ranks, json_t *root, double first_state)
{
    json_int_t state = json_integer_value(bench_engine_field(root, "host_state_bytes"));
    char state_text[32];
    zo_format_byte_size((size_t)state, state_text, sizeof state_text);
    double update = json_number_value(json_object_get(bench_engine_field(root, "phases_seconds"), "host_update"));
    printf("  %-6d %14.2f %18.2f %14s %14.3f\n", ranks, 1e3 * json_number_value(bench_engine_field(root, "step_seconds")),
           1e3 * update, state_text, first_state > 0 ? (double)state / first_state : 0.0);
}

int bench_engine_rank_sweep(const bench_rank_list *list, char **args, int arg_count, const char *json_path)
{
    char dir[] = "/tmp/zo-bench-ranks-XXXXXX";
    if (!mkdtemp(dir))
        return bench_fail("--ranks: cannot make a scratch directory in /tmp");
    char log_path[sizeof dir + 16];
    snprintf(log_path, sizeof log_path, "%s/runs.log", dir);
    printf("zo-bench engine --ranks: one run per rank count under mpirun; their output goes to %s\n\n", log_path);
    printf("  %-6s %14s %18s %14s %14s\n", "ranks", "step [ms]", "update alone [ms]", "host state", "x of 1 rank");
    double first_state = 0.0;
    int failures = 0;
    json_t *runs = json_array();
    for (size_t k = 0; k < list->count; k++) {
        char run_json[sizeof dir + 32];
        snprintf(run_json, sizeof run_json, "%s/ranks-%d.json", dir, list->ranks[k]);
        int status = bench_run_under_mpirun(list->ranks[k], args, arg_count, run_json, log_path);
        json_error_t error;
        json_t *root = status == 0 ? json_load_file(run_json, 0, &error) : NULL;
        if (!root) {
            printf("  %-6d failed (exit status %d): see %s\n", list->ranks[k], status, log_path);
            failures++;
            continue;
        }
        if (k == 0)
            first_state = (double)json_integer_value(bench_engine_field(root, "host_state_bytes"));
        bench_print_rank_run(list->ranks[k], root, first_state);
        json_array_append(runs, root);
        json_decref(root);
    }
    printf("\n  (rank 0's figures; each rank's own line is in the log)\n");
    if (json_path && json_dump_file(runs, json_path, JSON_INDENT(2)) != 0)
        failures += bench_fail("cannot write the JSON report to %s", json_path) != 0;
    json_decref(runs);
    return failures ? BENCH_EXIT_FAILED : BENCH_EXIT_OK;
}

/* Busy time per pipeline role from the engine's Chrome/Perfetto trace. */
#include "train_trace.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "bench_fail.h"

enum { BENCH_TRACE_MAX_TRACKS = 16 };

typedef enum bench_trace_role { ROLE_NONE, ROLE_D2H, ROLE_UPDATE, ROLE_H2D } bench_trace_role;

typedef struct bench_span {
    double begin, end; /* microseconds */
} bench_span;

/* The role of a track, from the name the engine gives it ("thread_name" metadata). */
static bench_trace_role bench_trace_role_of(const char *track_name)
{
    if (strncmp(track_name, "d2h", 3) == 0)
        return ROLE_D2H;
    if (strncmp(track_name, "h2d", 3) == 0)
        return ROLE_H2D;
    if (strncmp(track_name, "host worker", 11) == 0)
        return ROLE_UPDATE;
    return ROLE_NONE;
}

static int bench_span_order(const void *a, const void *b)
{
    double x = ((const bench_span *)a)->begin, y = ((const bench_span *)b)->begin;
    return (x > y) - (x < y);
}

/* Length of the union of the spans, in seconds; sorts them. */
static double bench_union_seconds(bench_span *spans, size_t count)
{
    qsort(spans, count, sizeof *spans, bench_span_order);
    double total = 0.0, open_begin = 0.0, open_end = -1.0;
    for (size_t k = 0; k < count; k++) {
        if (spans[k].begin > open_end) {
            total += open_end > open_begin ? open_end - open_begin : 0.0;
            open_begin = spans[k].begin;
            open_end = spans[k].end;
        } else if (spans[k].end > open_end) {
            open_end = spans[k].end;
        }
    }
    total += open_end > open_begin ? open_end - open_begin : 0.0;
    return 1e-6 * total;
}

int bench_trace_read_busy(const char *path, bench_trace_busy *out)
{
    json_error_t error;
    json_t *root = json_load_file(path, 0, &error);
    json_t *events = root ? json_object_get(root, "traceEvents") : NULL;
    bench_span *spans[4] = {NULL};
    size_t counts[4] = {0};
    bench_trace_role roles[BENCH_TRACE_MAX_TRACKS] = {ROLE_NONE};
    int result = -1;
    if (!json_is_array(events)) {
        bench_fail("the engine's trace %s: %s", path, root ? "no traceEvents array" : error.text);
        goto fail;
    }
    size_t event_count = json_array_size(events), index;
    json_t *event;
    for (int role = ROLE_D2H; role <= ROLE_H2D; role++)
        if (!(spans[role] = malloc((event_count + 1) * sizeof(bench_span)))) {
            bench_fail("out of memory reading the trace");
            goto fail;
        }
    json_array_foreach(events, index, event)
    { /* the track names come first */
        const char *phase = json_string_value(json_object_get(event, "ph"));
        json_int_t tid = json_integer_value(json_object_get(event, "tid"));
        if (!phase || tid < 0 || tid >= BENCH_TRACE_MAX_TRACKS)
            continue;
        if (strcmp(phase, "M") == 0) {
            const char *name =
                json_string_value(json_object_get(json_object_get(event, "args"), "name"));
            roles[tid] = name ? bench_trace_role_of(name) : ROLE_NONE;
        } else if (strcmp(phase, "X") == 0 && roles[tid] != ROLE_NONE) {
            double begin = json_number_value(json_object_get(event, "ts"));
            double length = json_number_value(json_object_get(event, "dur"));
            spans[roles[tid]][counts[roles[tid]]++] = (bench_span){begin, begin + length};
        }
    }
    *out =
        (bench_trace_busy){.d2h = bench_union_seconds(spans[ROLE_D2H], counts[ROLE_D2H]),
                           .update = bench_union_seconds(spans[ROLE_UPDATE], counts[ROLE_UPDATE]),
                           .h2d = bench_union_seconds(spans[ROLE_H2D], counts[ROLE_H2D])};
    result = 0;
fail:
    for (int role = 0; role < 4; role++)
        free(spans[role]);
    json_decref(root);
    return result;
}

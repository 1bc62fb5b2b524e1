/* The trace recorder: spans kept in memory under a lock, written as Chrome trace
 * event JSON with jansson. */
#include "trace.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

typedef struct zo_trace_span_record {
    const char *name; /* a string literal of the engine's */
    zo_trace_track track;
    size_t bucket;
    double begin, end;
} zo_trace_span_record;

struct zo_trace {
    char *path;
    pthread_mutex_t lock;
    zo_trace_span_record *spans;
    size_t count, capacity;
    size_t dropped;
    double origin; /* the first span's begin: timestamps start near 0 */
};

static const char *const zo_track_names[ZO_TRACK_COUNT] = {
    [ZO_TRACK_LOOP] = "training loop", [ZO_TRACK_D2H] = "d2h copies (gradients down)",
    [ZO_TRACK_STATS] = "host worker: grad stats", [ZO_TRACK_UPDATE] = "host worker: Adam update",
    [ZO_TRACK_H2D] = "h2d copies (weights up)", [ZO_TRACK_FETCH] = "fetches (stage 3: weights up to their slots)",
};

zo_status zo_trace_open(const char *path, zo_trace **out)
{
    *out = NULL;
    FILE *probe = fopen(path, "w");
    if (!probe)
        return zo_fail(ZO_ERR_IO, "zo.trace: cannot write \"%s\": %s", path, strerror(errno));
    fclose(probe);
    zo_trace *trace = calloc(1, sizeof *trace);
    if (!trace || !(trace->path = malloc(strlen(path) + 1))) {
        free(trace);
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "zo.trace: out of memory");
    }
    strcpy(trace->path, path);
    pthread_mutex_init(&trace->lock, NULL);
    trace->origin = -1.0;
    *out = trace;
    return ZO_OK;
}

void zo_trace_span(zo_trace *trace, zo_trace_track track, const char *name, size_t bucket, double begin,
                   double end)
{
    pthread_mutex_lock(&trace->lock);
    if (trace->count == trace->capacity) {
        size_t capacity = trace->capacity ? 2 * trace->capacity : 4096;
        zo_trace_span_record *grown = realloc(trace->spans, capacity * sizeof *grown);
        if (!grown) {
            trace->dropped++;
            pthread_mutex_unlock(&trace->lock);
            return;
        }
        trace->spans = grown;
        trace->capacity = capacity;
    }
    if (trace->origin < 0.0 || begin < trace->origin)
        trace->origin = begin;
    trace->spans[trace->count++] = (zo_trace_span_record){name, track, bucket, begin, end};
    pthread_mutex_unlock(&trace->lock);
}

/* One complete ("X") event, timestamps in microseconds. */
static json_t *zo_span_event(const zo_trace_span_record *span, double origin)
{
    json_t *event = json_pack("{s:s, s:s, s:s, s:f, s:f, s:i, s:i}", "name", span->name, "cat", "zo", "ph", "X",
                              "ts", (span->begin - origin) * 1e6, "dur", (span->end - span->begin) * 1e6,
                              "pid", 1, "tid", (int)span->track + 1);
    const char *index = span->track == ZO_TRACK_FETCH ? "param" : "bucket";
    if (event && span->bucket != (size_t)-1)
        json_object_set_new(event, "args", json_pack("{s:I}", index, (json_int_t)span->bucket));
    return event;
}

zo_status zo_trace_write(zo_trace *trace)
{
    json_t *events = json_array();
    for (int track = 0; events && track < ZO_TRACK_COUNT; track++) /* names of the tracks */
        json_array_append_new(events, json_pack("{s:s, s:s, s:i, s:i, s:{s:s}}", "name", "thread_name", "ph", "M",
                                                "pid", 1, "tid", track + 1, "args", "name", zo_track_names[track]));
    pthread_mutex_lock(&trace->lock);
    for (size_t k = 0; events && k < trace->count; k++)
        json_array_append_new(events, zo_span_event(&trace->spans[k], trace->origin));
    size_t dropped = trace->dropped;
    double origin = trace->origin < 0.0 ? 0.0 : trace->origin;
    pthread_mutex_unlock(&trace->lock);
    json_t *root = json_pack("{s:o, s:s, s:{s:I, s:f}}", "traceEvents", events, "displayTimeUnit", "ms", "otherData",
                             "dropped_spans", (json_int_t)dropped, "clock_origin_seconds", origin);
    if (!root)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "zo.trace: out of memory while writing \"%s\"", trace->path);
    int failed = json_dump_file(root, trace->path, JSON_COMPACT);
    json_decref(root);
    if (failed)
        return zo_fail(ZO_ERR_IO, "zo.trace: cannot write \"%s\"", trace->path);
    return ZO_OK;
}

void zo_trace_close(zo_trace **trace)
{
    if (!trace || !*trace)
        return;
    zo_trace_write(*trace);
    pthread_mutex_destroy(&(*trace)->lock);
    free((*trace)->spans);
    free((*trace)->path);
    free(*trace);
    *trace = NULL;
}

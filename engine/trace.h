/* A Chrome/Perfetto trace of the pipeline (load the file in ui.perfetto.dev or
 * chrome://tracing): one track per stream and per host worker role, one span per
 * bucket and phase, so a user can see what overlaps what. Internal. */
#ifndef ZO_TRACE_H
#define ZO_TRACE_H

#include <stddef.h>

#include "zo/status.h"

typedef enum zo_trace_track {
    ZO_TRACK_LOOP,        /* the training loop's thread: step waits, parameter waits */
    ZO_TRACK_D2H,         /* gradient copies down                                   */
    ZO_TRACK_STATS,       /* host worker: gradient stats and accumulation           */
    ZO_TRACK_UPDATE,      /* host worker: the Adam update                           */
    ZO_TRACK_H2D,         /* weight copies up                                       */
    ZO_TRACK_FETCH,       /* stage 3: weights up into their slots (index: the param) */
    ZO_TRACK_COUNT
} zo_trace_track;

typedef struct zo_trace zo_trace;

/* Opens `path` for writing now, so a path that cannot be written is refused at engine
 * creation, not at the end of a run. Errors: ZO_ERR_IO, ZO_ERR_OUT_OF_MEMORY. */
zo_status zo_trace_open(const char *path, zo_trace **out);

/* Records a span [begin, end] (seconds on zo_now_seconds' clock) on a track; `bucket`
 * is put in the span's args unless it is (size_t)-1. Thread-safe. A span that cannot
 * be stored (out of memory) is dropped and counted. */
void zo_trace_span(zo_trace *trace, zo_trace_track track, const char *name, size_t bucket, double begin,
                   double end);

/* Writes everything recorded so far (the file is rewritten whole each time); the
 * clock's reading at ts 0 goes into otherData.clock_origin_seconds, so a program on
 * the same clock can line its own timings up with the spans.
 * Errors: ZO_ERR_IO, ZO_ERR_OUT_OF_MEMORY. */
zo_status zo_trace_write(zo_trace *trace);

/* Writes (ignoring errors: use zo_trace_write first to see them) and frees. */
void zo_trace_close(zo_trace **trace);

#endif

/* One step of the engine benchmark drawn as an SVG, without a trace viewer: lanes for
 * the loop (compute, stalls in zo_engine_fetch, zo_engine_step), stage 3's fetches,
 * the gradient copies down, the host update (stats, Adam) and the weight copies up,
 * over a time axis in ms. Plain SVG text; the engine's spans come from its trace. */
#ifndef ZO_BENCH_TIMELINE_SVG_H
#define ZO_BENCH_TIMELINE_SVG_H

#include "engine_loop.h"

/* Writes `loop`'s step to `svg_path`, with the engine's spans that fall in the step
 * read from the Chrome trace at `trace_path` (written by zo_engine_write_trace).
 * *fetch_busy_seconds: how long the fetch stream copied during the step. 0, or -1
 * after printing why not. */
int bench_timeline_svg_write(const char *svg_path, const char *trace_path,
                             const bench_loop_timeline *loop, double *fetch_busy_seconds);

#endif

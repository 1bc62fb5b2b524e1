/* What the engine's own trace (zo.trace) says its streams did: per role, the time
 * during which at least one of its spans was open. zo-bench train reads it for the
 * D2H / host update / H2D split of a real training step, which zo_step_info does not
 * carry. A copy's span is stamped by host functions its stream runs just before and
 * just after the copy (cudaLaunchHostFunc on CUDA), so it includes their latency:
 * busy times are upper bounds, and GB/s computed from them lower bounds. */
#ifndef ZO_BENCH_TRAIN_TRACE_H
#define ZO_BENCH_TRAIN_TRACE_H

typedef struct bench_trace_busy {
    double d2h;    /* "d2h copies (gradients down)"                         */
    double update; /* the host worker: gradient stats and the Adam update   */
    double h2d;    /* "h2d copies (weights up)"                             */
} bench_trace_busy;

/* Reads the trace file the engine wrote at `path` and sums, per role, the union of
 * its spans, in seconds. 0, or -1 after printing why not. */
int bench_trace_read_busy(const char *path, bench_trace_busy *out);

#endif

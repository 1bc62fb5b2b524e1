/* zo-bench train's report: the table on stdout and the same figures as JSON, both
 * from one struct; a figure that could not be measured is "n/a (<reason>)" in both,
 * never a number. */
#ifndef ZO_BENCH_TRAIN_REPORT_H
#define ZO_BENCH_TRAIN_REPORT_H

#include <stdbool.h>

#include "train_find_max.h"
#include "train_gpu.h"
#include "train_run.h"

typedef struct bench_train_report {
    const char *config_path;
    const char *device;      /* where the main run trained: "host" or "cuda"     */
    char gpu_missing[256];   /* why the GPU figures are n/a ("no GPU: ..."), "" when measured */
    bench_train_run offload; /* the main run: offload_optimizer.device "cpu"     */
    bool has_no_offload;     /* CUDA: the same loop with offload "none"          */
    bench_train_run no_offload;
    bool has_host_only; /* CUDA: the same model on the host backend         */
    bench_train_run host_only;
    char host_only_note[128]; /* when !has_host_only                              */
    bool has_copy_peak;
    bench_gpu_copy_peak copy_peak;
    bool has_find_max;
    bench_train_max_report find_max;
} bench_train_report;

void bench_train_print(const bench_train_report *report);

/* Writes {"machine": ..., "train": ...} to `path`. 0, or -1 after printing why not. */
int bench_train_write_json(const char *path, const bench_train_report *report);

#endif

/* The stage config: a DeepSpeed-style JSON file (a user's ds_config.json works as it
 * is) parsed into zo_settings. Every key is documented in docs/configuration.md. */
#ifndef ZO_CONFIG_H
#define ZO_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zo/adam.h"
#include "zo/api.h"
#include "zo/dtype.h"
#include "zo/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where the engine keeps its "device" memory and runs its streams. */
typedef enum zo_device_kind {
    ZO_DEVICE_AUTO = 0, /* CUDA if a GPU is usable, else the host backend (with a notice) */
    ZO_DEVICE_HOST = 1, /* the host backend: worker threads play the GPU                */
    ZO_DEVICE_CUDA = 2  /* a CUDA GPU; an error where there is none                     */
} zo_device_kind;

/* Which ranks the engine's ZeRO shards are spread over. */
typedef enum zo_comm_kind {
    ZO_COMM_AUTO = 0,   /* MPI when the process was started by an MPI launcher (mpirun,
                           srun with PMI) or MPI is initialized, else one rank            */
    ZO_COMM_SINGLE = 1, /* this process alone, even under mpirun                          */
    ZO_COMM_MPI = 2     /* every process of MPI_COMM_WORLD; an error in a build without MPI */
} zo_comm_kind;

/* Which cores run the host update and which NUMA nodes hold its memory (zo.bind). */
typedef enum zo_bind_mode {
    ZO_BIND_AUTO = 0, /* from the hardware: this rank's share of the cores and NUMA nodes,
                         near its GPU when one is known                                  */
    ZO_BIND_NONE = 1, /* leave threads to OpenMP (and OMP_PROC_BIND), memory to first touch */
    ZO_BIND_CPUS = 2  /* exactly the CPUs of bind_cpus                                   */
} zo_bind_mode;

/* DeepSpeed's learning-rate schedulers. */
typedef enum zo_scheduler_kind {
    ZO_SCHEDULER_NONE = 0,          /* constant optimizer.params.lr                 */
    ZO_SCHEDULER_WARMUP_LR = 1,     /* warm up, then hold warmup_max_lr             */
    ZO_SCHEDULER_WARMUP_DECAY_LR = 2,  /* warm up, then linear decay to 0 at total_num_steps */
    ZO_SCHEDULER_WARMUP_COSINE_LR = 3  /* warm up as a ratio, then cosine decay          */
} zo_scheduler_kind;

typedef enum zo_warmup_type { ZO_WARMUP_LOG = 0, ZO_WARMUP_LINEAR = 1 } zo_warmup_type;

typedef struct zo_scheduler_settings {
    zo_scheduler_kind kind;
    double warmup_min_lr;     /* WarmupLR, WarmupDecayLR: 0                          */
    double warmup_max_lr;     /* WarmupLR, WarmupDecayLR: 0.001                      */
    uint64_t warmup_num_steps; /* 1000                                               */
    zo_warmup_type warmup_type; /* "log" (default) or "linear"                        */
    uint64_t total_num_steps; /* WarmupDecayLR, WarmupCosineLR: required             */
    double warmup_min_ratio;  /* WarmupCosineLR: 0                                   */
    double cos_min_ratio;     /* WarmupCosineLR: 0.0001                              */
} zo_scheduler_settings;

/* Everything a config says, with DeepSpeed's defaults for what it leaves out. */
typedef struct zo_settings {
    /* batch: 0 means "not given"; the engine resolves and checks the three against
     * the rank count as DeepSpeed does (train = micro * accumulation * ranks) */
    uint64_t train_batch_size;
    uint64_t train_micro_batch_size_per_gpu;
    uint64_t gradient_accumulation_steps;
    double gradient_clipping; /* global-norm clip; 0 = off. Default 1.0, the Hugging Face
                                 Trainer's; DeepSpeed alone defaults to 0 */

    /* fp16 with loss scaling (fp16.*) */
    bool fp16_enabled;
    double loss_scale;            /* 0 = dynamic (default)                 */
    int initial_scale_power;      /* dynamic start 2^16                    */
    uint64_t loss_scale_window;   /* grow x2 after this many good steps: 1000 */
    int hysteresis;               /* overflows tolerated before lowering: 2 */
    bool consecutive_hysteresis;  /* refill hysteresis on a good step: false */
    double min_loss_scale;        /* 1                                     */
    /* bf16 (bf16.enabled): no loss scaling */
    bool bf16_enabled;

    /* optimizer: type Adam (AdamW unless adam_w_mode is false) or AdamW */
    zo_adam_hparams adam;
    zo_scheduler_settings scheduler;

    /* zero_optimization */
    int stage;                    /* 0, 1, 2 or 3                                 */
    bool offload_optimizer;       /* offload_optimizer.device "cpu" (or cpu_offload) */
    bool pin_memory;              /* offload_optimizer.pin_memory: true (DeepSpeed:
                                     false); overlap needs page-locked buffers      */
    bool overlap_comm;
    bool contiguous_gradients;
    bool reduce_scatter;
    uint64_t reduce_bucket_size;  /* elements per bucket: 5e8                      */
    uint64_t allgather_bucket_size; /* 5e8                                         */

    /* ZeRO stage 3 (zero_optimization.stage 3): the 16-bit weights live in host memory
     * (offload_param.device "cpu") and go up to a pool of device slots when the loop
     * fetches them. Element counts, as DeepSpeed's keys are. */
    bool offload_param;                    /* offload_param.device "cpu" (default "none") */
    bool offload_param_pin_memory;         /* offload_param.pin_memory: true (DeepSpeed:
                                              false); the copies up need page-locked memory */
    uint64_t stage3_prefetch_bucket_size;  /* elements fetched ahead of the loop: 5e7     */
    uint64_t stage3_max_live_parameters;   /* elements on the device at once: 1e9         */
    uint64_t stage3_param_persistence_threshold; /* parameters smaller than this stay on
                                              the device for good: 1e5                    */
    uint64_t stage3_model_persistence_threshold; /* at most this many elements of such
                                              parameters in all: UINT64_MAX (no limit)    */

    /* zo's own section, "zo" */
    zo_device_kind device;        /* "auto" (default), "host", "cuda"              */
    zo_comm_kind comm;            /* "auto" (default), "single", "mpi"             */
    int threads;                  /* host update threads; 0 ("auto") = one per core
                                     of this rank's placement (zo.bind)             */
    zo_bind_mode bind;            /* zo.bind: "auto" (default), "none", a CPU list  */
    char bind_cpus[256];          /* ZO_BIND_CPUS: the list, e.g. "0-7,16-23"        */
    bool delayed_param_update;    /* DeepSpeed's DPU: step t's update overlaps t+1 */
    char trace_file[1024];        /* "" = no trace; else a Chrome/Perfetto JSON    */
    zo_dtype moments_dtype;       /* "f32" (default), "bf16" or "8bit" (ZO_DTYPE_Q8) */
    uint64_t max_pinned_bytes;    /* cap on pinned host memory; 0 = no cap          */
    double collective_timeout_seconds; /* a collective waiting longer fails with
                                     ZO_ERR_TIMEOUT; 0 = wait forever; default 600  */
    uint64_t device_memory_budget; /* the host backend's device memory in bytes, enforced
                                     (its allocations fail past it); 0 = no budget.
                                     Lets a machine without a GPU play a small one  */

    /* offload_optimizer.device "nvme" (ZeRO-Infinity's tier): the fp32 master weights and
     * both moments live in preallocated files under nvme.path, streamed bucket by bucket
     * through a ring of nvme.buffer_count aligned, page-locked buffers with io_uring;
     * host memory holds the ring, not the state. offload_optimizer is true with it (the
     * update runs on the host). Builds without liburing refuse it at engine creation. */
    struct {
        bool enabled;          /* offload_optimizer.device "nvme"                         */
        char path[1024];       /* offload_optimizer.nvme_path: an existing directory       */
        uint64_t buffer_count; /* offload_optimizer.buffer_count: buckets in the ring: 4   */
        bool pipeline_read;    /* read bucket k+1 while Adam runs on k: true (DeepSpeed:
                                  false; the overlap is the point)                        */
        bool pipeline_write;   /* write bucket k-1 while Adam runs on k: true (likewise)  */
        bool fast_init;        /* fast_init: the files are only fallocated at creation,
                                  not written with zeros (reads of them give zeros): false */
    } nvme;
    /* DeepSpeed's "aio" section: how the NVMe state's I/O is submitted. */
    struct {
        uint64_t block_size;    /* bytes per I/O request, a multiple of 4096: 1048576     */
        uint64_t queue_depth;   /* requests in flight (the io_uring's size): 8            */
        int thread_count;       /* thread_count / intra_op_parallelism: 1 (io_uring's queue
                                   is the parallelism; other values are refused)           */
        bool single_submit;     /* submit each request on its own: false (in batches)      */
        bool overlap_events;    /* reap completions while still submitting: true; false
                                   waits for a batch to finish before the next             */
    } aio;
    /* Room for later settings without changing the struct's size (callers allocate
     * it). Must stay zero: zo_default_settings zeroes it and zo_config_from_settings
     * refuses other bytes, so a program that sets a later field is refused by an
     * older library instead of having it ignored. */
    unsigned char reserved[64];
} zo_settings;

/* Fills `settings` with the defaults a config of "{}" would give (reserved zeroed).
 * NULL is a no-op. */
ZO_API void zo_default_settings(zo_settings *settings);

/* A parsed config: its settings and the DeepSpeed keys it held that zo ignores. */
typedef struct zo_config zo_config;

/* Parses a JSON config into *out (owned by the caller, free with zo_config_destroy).
 * Keys zo knows are checked for type and range; "auto" as a value means the default;
 * DeepSpeed keys zo has no use for are accepted and listed by zo_config_ignored_key;
 * duplicate keys are refused. On failure *out is NULL and zo_last_error() names the
 * problem: the JSON path of the key ("fp16.loss_scale_window"), with "did you mean"
 * for a near miss of a known key, or the line and column of a syntax error, or the
 * file that could not be read. Errors: ZO_ERR_CONFIG, ZO_ERR_IO (file),
 * ZO_ERR_NOT_SUPPORTED (NVMe offload of the parameters, aio.thread_count above 1, amsgrad,
 * an optimizer or scheduler zo does not have), ZO_ERR_INVALID_ARGUMENT (NULL),
 * ZO_ERR_OUT_OF_MEMORY. Stage 3 is read in full; zo_engine_create is what refuses it
 * for now. */
ZO_API zo_status zo_config_from_file(const char *path, zo_config **out);
ZO_API zo_status zo_config_from_string(const char *json, zo_config **out);

/* A config from settings a C program filled, no JSON involved: start from
 * zo_default_settings, change fields, pass them here. The settings are copied into
 * *out (owned by the caller, free with zo_config_destroy; it has no ignored keys)
 * after the checks the JSON reader applies: each key's range, the values it maps to
 * enums and strings, and the checks across keys. adam.adamw is taken as given (JSON
 * derives it from optimizer.type). On failure *out is NULL and zo_last_error() names
 * the field and its config key ("zo_settings.loss_scale_window (config key
 * fp16.loss_scale_window) is 0, must be >= 1"). Errors: ZO_ERR_CONFIG (a value out of
 * range, an enum value with no name, an unterminated string, non-zero reserved
 * bytes, checks across keys), ZO_ERR_INVALID_ARGUMENT (NULL), ZO_ERR_OUT_OF_MEMORY. */
ZO_API zo_status zo_config_from_settings(const zo_settings *settings, zo_config **out);

/* Destroys *config and sets it to NULL; NULL is a no-op. */
ZO_API void zo_config_destroy(zo_config **config);

/* The parsed settings; valid as long as the config. NULL for a NULL config. */
ZO_API const zo_settings *zo_config_settings(const zo_config *config);

/* The DeepSpeed keys of the config that zo accepts but has no use for
 * ("steps_per_print", "zero_optimization.stage3_max_reuse_distance", ...), by JSON
 * path, in file order; an ignored section counts once, by its own path. The engine
 * reports them once; nothing is ignored silently. The count is 0 and the key NULL for
 * a NULL config or an index past the end; strings live as long as the config. */
ZO_API size_t zo_config_ignored_count(const zo_config *config);
ZO_API const char *zo_config_ignored_key(const zo_config *config, size_t index);

#ifdef __cplusplus
}
#endif

#endif

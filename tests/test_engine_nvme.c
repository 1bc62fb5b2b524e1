/* offload_optimizer.device "nvme" (engine/nvme/): an engine whose master weights and
 * moments live in a file under nvme_path, streamed through an io_uring ring, trained
 * side by side with one on device "cpu" (host RAM), fed the same gradients. The NVMe
 * path runs the same Adam on the same bits in other memory, so every step decision,
 * gradient norm, loss scale, master weight and device weight must be the same bits;
 * checkpoints move between the two; each injected I/O failure names the file, offset
 * and errno, the engine refuses further steps, and a load of the last checkpoint resumes
 * bit for bit. The directories are under /tmp (a real disk here) and /dev/shm (tmpfs). */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fault_injection.h"
#include "test_support.h"
#include "three_param_model.h"
#include "zo/zo.h"

enum { STEPS = 12, OVERFLOW_STEP = 5 };

/* What varies between the trajectories compared. */
typedef struct nvme_case {
    const char *precision; /* the fp16 or bf16 section                        */
    const char *moments;   /* zo.moments_dtype                                */
    unsigned accumulation; /* gradient_accumulation_steps                     */
    const char *offload;   /* offload_optimizer's keys besides device/nvme_path */
    const char *aio;       /* the "aio" section, "" for none                  */
    const char *root;      /* where the temporary nvme_path goes              */
    const char *zero;      /* more zero_optimization keys, "" for none        */
    const char *zo;        /* more "zo" keys, "" for none                     */
} nvme_case;

static const nvme_case fp16_case = {
    "\"fp16\": {\"enabled\": true, \"initial_scale_power\": 12}", "f32", 1, "", "", "/tmp", "", ""};

/* A fresh directory under `root` (cr_assert on failure) into out[64]. */
static void make_dir(const char *root, char *out)
{
    snprintf(out, 64, "%s/zo-test-nvme-XXXXXX", root);
    cr_assert(mkdtemp(out) != NULL, "mkdtemp(%s) failed", out);
}

static void remove_dir(const char *dir)
{
    char command[128];
    snprintf(command, sizeof command, "rm -rf '%s'", dir);
    cr_expect(eq(int, system(command), 0));
}

/* The config of a case: device "cpu", or "nvme" in `dir` (NULL: cpu). */
static void case_json(const nvme_case *c, const char *dir, char *out, size_t size)
{
    char offload[512];
    if (dir)
        snprintf(offload, sizeof offload, "\"device\": \"nvme\", \"nvme_path\": \"%s\"%s%s", dir,
                 c->offload[0] ? ", " : "", c->offload);
    else
        snprintf(offload, sizeof offload, "\"device\": \"cpu\"");
    snprintf(
        out, size,
        "{%s, \"gradient_clipping\": 0.5, \"gradient_accumulation_steps\": %u,"
        " \"optimizer\": {\"type\": \"AdamW\", \"params\": {\"lr\": 0.01, \"weight_decay\": 0.01}},"
        " \"zero_optimization\": {\"stage\": %s, \"reduce_bucket_size\": 512%s, "
        "\"offload_optimizer\": {%s}}%s%s,"
        " \"zo\": {\"device\": \"host\", \"moments_dtype\": \"%s\"%s}}",
        c->precision, c->accumulation, c->zero[0] ? "3" : "2", c->zero, offload,
        c->aio[0] ? ", " : "", c->aio, c->moments, c->zo);
}

static zo_status try_engine(const nvme_case *c, const char *dir, zo_engine **out)
{
    char json[2048];
    case_json(c, dir, json, sizeof json);
    zo_config *config = NULL;
    cr_assert(eq(int, zo_config_from_string(json, &config), ZO_OK), "%s\n%s", zo_last_error(),
              json);
    zo_status status = zo_engine_create(config, model, PARAMS, out);
    zo_config_destroy(&config);
    return status;
}

static zo_engine *new_engine(const nvme_case *c, const char *dir)
{
    zo_engine *e = NULL;
    cr_assert(eq(int, try_engine(c, dir, &e), ZO_OK), "%s", zo_last_error());
    return e;
}

static void set_initial_master(zo_engine *e)
{
    float initial[MODEL_ELEMS];
    zo_test_rng rng = {77};
    for (size_t i = 0; i < MODEL_ELEMS; i++)
        initial[i] = zo_test_uniform(&rng, -1.0f, 1.0f);
    for (size_t p = 0; p < PARAMS; p++)
        cr_assert(eq(int, zo_engine_set_master(e, p, initial + model_offset(p)), ZO_OK), "%s",
                  zo_last_error());
}

/* One micro-step of `e` with the gradients of micro-step `micro` (an inf at
 * OVERFLOW_STEP), through the loop that runs in every stage: fetch before each use,
 * release after (in stages 0-2 a wait for the weights and nothing). Returns
 * zo_engine_step's status. */
static zo_status micro_step(zo_engine *e, uint64_t micro, zo_step_info *info)
{
    zo_test_rng rng = {1000 + micro};
    float scale = zo_engine_loss_scale(e);
    zo_dtype dtype = zo_engine_dtype(e);
    for (size_t p = 0; p < PARAMS; p++) {
        cr_assert(eq(int, zo_engine_fetch(e, p, NULL), ZO_OK), "%s", zo_last_error());
        cr_assert(eq(int, zo_engine_release(e, p, NULL), ZO_OK), "%s", zo_last_error());
    }
    for (size_t p = PARAMS; p-- > 0;) {
        cr_assert(eq(int, zo_engine_fetch(e, p, NULL), ZO_OK), "%s", zo_last_error());
        for (size_t i = 0; i < model[p].elems; i++) {
            float g = zo_test_uniform(&rng, -1.0f, 1.0f) * scale * 1e-3f;
            if (micro == OVERFLOW_STEP && p == 2 && i == 1234)
                g = INFINITY;
            zo_test_store(zo_engine_grads(e, p), dtype, i, g);
        }
        cr_assert(eq(int, zo_engine_grad_ready(e, p, NULL), ZO_OK), "%s", zo_last_error());
        cr_assert(eq(int, zo_engine_release(e, p, NULL), ZO_OK), "%s", zo_last_error());
    }
    return zo_engine_step(e, info);
}

static void train(zo_engine *e, uint64_t first, uint64_t last)
{
    for (uint64_t micro = first; micro <= last; micro++)
        cr_assert(eq(int, micro_step(e, micro, NULL), ZO_OK), "micro-step %llu: %s",
                  (unsigned long long)micro, zo_last_error());
}

/* Master weights and device weights of both engines are the same bits. */
static void expect_same_state(zo_engine *a, zo_engine *b, const char *what)
{
    float ma[MODEL_ELEMS], mb[MODEL_ELEMS];
    cr_assert(eq(int, zo_engine_synchronize(a), ZO_OK), "%s", zo_last_error());
    cr_assert(eq(int, zo_engine_synchronize(b), ZO_OK), "%s", zo_last_error());
    for (size_t p = 0; p < PARAMS; p++) {
        cr_assert(eq(int, zo_engine_get_master(a, p, ma + model_offset(p)), ZO_OK), "%s",
                  zo_last_error());
        cr_assert(eq(int, zo_engine_get_master(b, p, mb + model_offset(p)), ZO_OK), "%s",
                  zo_last_error());
    }
    cr_expect(eq(int, memcmp(ma, mb, sizeof ma), 0), "%s: master weights differ", what);
    /* each parameter's 16-bit weights as the loop sees them (stage 3: fetched) */
    for (size_t p = 0; p < PARAMS; p++) {
        size_t bytes = model[p].elems * (zo_engine_dtype(a) == ZO_DTYPE_F32 ? 4 : 2);
        cr_assert(eq(int, zo_engine_fetch(a, p, NULL), ZO_OK), "%s", zo_last_error());
        cr_assert(eq(int, zo_engine_fetch(b, p, NULL), ZO_OK), "%s", zo_last_error());
        cr_expect(eq(int, memcmp(zo_engine_weights(a, p), zo_engine_weights(b, p), bytes), 0),
                  "%s: the weights of %s differ", what, model[p].name);
        cr_assert(eq(int, zo_engine_release(a, p, NULL), ZO_OK), "%s", zo_last_error());
        cr_assert(eq(int, zo_engine_release(b, p, NULL), ZO_OK), "%s", zo_last_error());
    }
}

/* Trains a "cpu" and an "nvme" engine side by side and compares every step. */
static void expect_same_trajectory(const nvme_case *c)
{
    char dir[64];
    make_dir(c->root, dir);
    zo_engine *cpu = new_engine(c, NULL), *nvme = new_engine(c, dir);
    set_initial_master(cpu);
    set_initial_master(nvme);
    size_t skipped = 0, boundaries = 0;
    for (uint64_t micro = 1; micro <= STEPS * c->accumulation; micro++) {
        zo_step_info info[2];
        cr_assert(eq(int, micro_step(cpu, micro, &info[0]), ZO_OK), "%s", zo_last_error());
        cr_assert(eq(int, micro_step(nvme, micro, &info[1]), ZO_OK), "%s", zo_last_error());
        cr_expect(eq(int, info[0].skipped, info[1].skipped), "micro-step %llu",
                  (unsigned long long)micro);
        cr_expect(memcmp(&info[0].grad_norm, &info[1].grad_norm, sizeof(double)) == 0,
                  "micro-step %llu: grad norm %.17g on cpu, %.17g on nvme",
                  (unsigned long long)micro, info[0].grad_norm, info[1].grad_norm);
        cr_expect(eq(flt, info[0].loss_scale, info[1].loss_scale));
        cr_expect(eq(dbl, info[0].clip_coefficient, info[1].clip_coefficient));
        skipped += info[1].skipped;
        boundaries += info[1].boundary;
    }
    cr_expect(eq(sz, boundaries, STEPS));
    cr_expect(eq(sz, skipped, 1), "the inf of micro-step %d skips exactly its step", OVERFLOW_STEP);
    expect_same_state(cpu, nvme, "after training");
    float trained[MODEL_ELEMS], initial_first;
    zo_test_rng rng = {77};
    initial_first = zo_test_uniform(&rng, -1.0f, 1.0f);
    cr_assert(eq(int, zo_engine_get_master(nvme, 0, trained), ZO_OK));
    cr_expect(trained[0] != initial_first, "nothing was trained");
    zo_memory_plan plan;
    cr_assert(eq(int, zo_engine_memory(nvme, &plan), ZO_OK));
    cr_expect(gt(u64, plan.nvme_bytes, 0), "the plan shows the state's file");
    zo_engine_destroy(&cpu);
    zo_engine_destroy(&nvme);
    remove_dir(dir);
}

Test(engine_nvme, fp16_with_clipping_and_an_overflow_trains_as_device_cpu_bit_for_bit)
{
    expect_same_trajectory(&fp16_case);
}

Test(engine_nvme, bf16_with_bf16_moments_trains_as_device_cpu_bit_for_bit)
{
    nvme_case c = fp16_case;
    c.precision = "\"bf16\": {\"enabled\": true}";
    c.moments = "bf16";
    expect_same_trajectory(&c);
}

/* 8-bit moments: the codes in the file, the block scales in host memory */
static const nvme_case eight_bit_case = {
    "\"fp16\": {\"enabled\": true, \"initial_scale_power\": 12}", "8bit", 1, "", "", "/tmp", "", ""};

Test(engine_nvme, eight_bit_moments_train_as_device_cpu_bit_for_bit)
{
    expect_same_trajectory(&eight_bit_case);
}

Test(engine_nvme, eight_bit_moments_with_stage3_and_accumulation_train_as_device_cpu_bit_for_bit)
{
    nvme_case c = eight_bit_case;
    c.accumulation = 2;
    c.zero = ", \"offload_param\": {\"device\": \"cpu\"}, \"stage3_param_persistence_threshold\": 100";
    expect_same_trajectory(&c);
}

Test(engine_nvme, gradient_accumulation_trains_as_device_cpu_bit_for_bit)
{
    nvme_case c = fp16_case;
    c.accumulation = 3;
    expect_same_trajectory(&c);
}

Test(engine_nvme, without_pipelining_one_buffer_trains_the_same)
{
    nvme_case c = fp16_case;
    c.offload = "\"buffer_count\": 1, \"pipeline_read\": false, \"pipeline_write\": false, "
                "\"fast_init\": true";
    expect_same_trajectory(&c);
}

Test(engine_nvme, small_blocks_a_shallow_queue_and_single_submits_train_the_same)
{
    nvme_case c = fp16_case;
    c.offload = "\"buffer_count\": 3";
    c.aio = "\"aio\": {\"block_size\": 4096, \"queue_depth\": 2, \"thread_count\": 1, "
            "\"single_submit\": true,"
            " \"overlap_events\": false}";
    expect_same_trajectory(&c);
}

Test(engine_nvme, stage3_with_parameters_in_host_memory_trains_as_device_cpu_bit_for_bit)
{
    nvme_case c = fp16_case;
    c.zero =
        ", \"offload_param\": {\"device\": \"cpu\"}, \"stage3_param_persistence_threshold\": 100";
    expect_same_trajectory(&c);
}

Test(engine_nvme, the_delayed_update_trains_as_device_cpu_bit_for_bit)
{
    nvme_case c = fp16_case;
    c.zo = ", \"delayed_param_update\": true";
    expect_same_trajectory(&c);
}

Test(engine_nvme, tmpfs_trains_the_same)
{
    nvme_case c = fp16_case;
    c.root = "/dev/shm";
    expect_same_trajectory(&c);
}

/* With `fault` injected once at create, a state under `root` trains as "cpu" bit for
 * bit, and the engine's notice says `notice`. */
static void expect_fallback_with_notice(zo_fault fault, const char *root, const char *notice, const char *label)
{
    zo_fault_arm(fault, 0, 1);
    char dir[64];
    make_dir(root, dir);
    zo_engine *cpu = new_engine(&fp16_case, NULL), *nvme = new_engine(&fp16_case, dir);
    cr_expect(ne(ptr, strstr(zo_engine_notice(nvme), notice), NULL), "notice: %s", zo_engine_notice(nvme));
    cr_expect(eq(str, (char *)zo_engine_notice(cpu), ""));
    set_initial_master(cpu);
    set_initial_master(nvme);
    train(cpu, 1, 6);
    train(nvme, 1, 6);
    expect_same_state(cpu, nvme, label);
    zo_engine_destroy(&cpu);
    zo_engine_destroy(&nvme);
    remove_dir(dir);
}

Test(engine_nvme, a_file_system_without_direct_io_gets_buffered_io_and_a_notice)
{
    expect_fallback_with_notice(ZO_FAULT_NVME_NO_DIRECT, "/dev/shm", "does not take direct I/O (O_DIRECT)",
                                "buffered I/O");
}

/* Where the io_uring refuses the ring's buffers (RLIMIT_MEMLOCK), requests name them
 * as unregistered buffers: the same training, and a notice saying why. */
Test(engine_nvme, buffers_the_io_uring_refuses_to_register_train_the_same_with_a_notice)
{
    expect_fallback_with_notice(ZO_FAULT_NVME_REGISTER, "/tmp", "could not be registered with the io_uring",
                                "unregistered buffers");
}

/* 5 steps, save, 5 more, against an engine that loads the save and takes the same 5:
 * `first` saves, `second` loads (each "cpu" or "nvme"). */
static void expect_case_resumes_bit_exactly(const nvme_case *c, bool first_nvme, bool second_nvme)
{
    char dir[64], ckpt[80];
    make_dir("/tmp", dir);
    snprintf(ckpt, sizeof ckpt, "%s/ckpt", dir);
    zo_engine *straight = new_engine(c, first_nvme ? dir : NULL);
    zo_engine *resumed = new_engine(c, second_nvme ? dir : NULL);
    set_initial_master(straight);
    train(straight, 1, 6); /* the overflow included: the loss scaler's state goes too */
    cr_assert(eq(int, zo_engine_save(straight, ckpt), ZO_OK), "%s", zo_last_error());
    cr_assert(eq(int, zo_engine_load(resumed, ckpt), ZO_OK), "%s", zo_last_error());
    train(straight, 7, 11);
    train(resumed, 7, 11);
    expect_same_state(straight, resumed, "resumed");
    zo_engine_destroy(&straight);
    zo_engine_destroy(&resumed);
    remove_dir(dir);
}

static void expect_bit_exact_resume(bool first_nvme, bool second_nvme)
{
    expect_case_resumes_bit_exactly(&fp16_case, first_nvme, second_nvme);
}

Test(engine_nvme, a_checkpoint_of_nvme_state_resumes_bit_for_bit)
{
    expect_bit_exact_resume(true, true);
}

Test(engine_nvme, a_run_moves_from_cpu_to_nvme_by_checkpoint)
{
    expect_bit_exact_resume(false, true);
}

Test(engine_nvme, a_run_moves_from_nvme_to_cpu_by_checkpoint)
{
    expect_bit_exact_resume(true, false);
}

Test(engine_nvme, eight_bit_moments_resume_bit_for_bit_on_nvme_and_across_cpu)
{
    expect_case_resumes_bit_exactly(&eight_bit_case, true, true);
    expect_case_resumes_bit_exactly(&eight_bit_case, false, true);
    expect_case_resumes_bit_exactly(&eight_bit_case, true, false);
}

/* The runs a failure test starts from: a "cpu" engine trained through step 10 (what
 * the NVMe run must equal in the end) and an NVMe engine in a new directory `dir`
 * through step 6, saved to `ckpt` (dir/ckpt). */
typedef struct failure_runs {
    char dir[64], ckpt[80];
    zo_engine *reference, *nvme;
} failure_runs;

static void start_failure_runs(failure_runs *r)
{
    make_dir("/tmp", r->dir);
    snprintf(r->ckpt, sizeof r->ckpt, "%s/ckpt", r->dir);
    r->reference = new_engine(&fp16_case, NULL);
    r->nvme = new_engine(&fp16_case, r->dir);
    set_initial_master(r->reference);
    set_initial_master(r->nvme);
    train(r->reference, 1, 10);
    train(r->nvme, 1, 6);
    cr_assert(eq(int, zo_engine_save(r->nvme, r->ckpt), ZO_OK), "%s", zo_last_error());
}

/* Steps 7 and 8 with `fault` armed (zo_fault_arm's after_calls and failures) from
 * step 7: the update runs after step 7 returns, so step 8 reports it; its status. */
static zo_status step_with_fault(zo_engine *nvme, zo_fault fault, uint64_t after_calls, int64_t failures)
{
    zo_fault_arm(fault, after_calls, failures);
    cr_assert(eq(int, micro_step(nvme, 7, NULL), ZO_OK),
              "the update runs after the step returns: %s", zo_last_error());
    zo_status failed = micro_step(nvme, 8, NULL);
    zo_fault_disarm_all();
    return failed;
}

/* An injected I/O failure during step 7's update: the next step fails naming the file,
 * the offset and errno; later steps and saves are refused; a load of the checkpoint
 * of step 6 resumes, and steps 7-10 then equal a "cpu" engine that never failed. */
static void expect_failure_then_bit_exact_resume(zo_fault fault, const char *named)
{
    failure_runs runs;
    start_failure_runs(&runs);
    char *dir = runs.dir, *ckpt = runs.ckpt;
    zo_engine *reference = runs.reference, *nvme = runs.nvme;
    /* the second request of the next update */
    zo_status failed = step_with_fault(nvme, fault, 1, 1);
    cr_expect(eq(int, failed, ZO_ERR_IO), "%s", zo_last_error());
    const char *error = zo_last_error();
    cr_expect(ne(ptr, strstr(error, dir), NULL), "names the file: %s", error);
    cr_expect(ne(ptr, strstr(error, "at offset"), NULL), "names the offset: %s", error);
    cr_expect(ne(ptr, strstr(error, named), NULL), "says what failed (%s): %s", named, error);
    cr_expect(ne(ptr, strstr(error, "resume from the last checkpoint"), NULL), "%s", error);
    zo_status refused = micro_step(nvme, 8, NULL);
    cr_expect(eq(int, refused, ZO_ERR_IO), "a later step is refused");
    cr_expect(ne(ptr, strstr(zo_last_error(), "refuses further steps"), NULL), "%s",
              zo_last_error());
    char other[96];
    snprintf(other, sizeof other, "%s/other", dir);
    cr_expect(eq(int, zo_engine_save(nvme, other), ZO_ERR_IO),
              "a partly updated state is never saved");
    cr_assert(eq(int, zo_engine_load(nvme, ckpt), ZO_OK), "%s", zo_last_error());
    train(nvme, 7, 10);
    expect_same_state(reference, nvme, "resumed after the failure");
    zo_engine_destroy(&reference);
    zo_engine_destroy(&nvme);
    remove_dir(dir);
}

Test(engine_nvme, an_eio_on_read_names_the_file_and_resumes_from_the_checkpoint)
{
    expect_failure_then_bit_exact_resume(ZO_FAULT_NVME_READ, "errno 5");
}

Test(engine_nvme, a_short_read_names_the_file_and_resumes_from_the_checkpoint)
{
    expect_failure_then_bit_exact_resume(ZO_FAULT_NVME_SHORT_READ, "short read");
}

Test(engine_nvme, an_enospc_on_write_names_the_file_and_resumes_from_the_checkpoint)
{
    expect_failure_then_bit_exact_resume(ZO_FAULT_NVME_WRITE, "No space left on device");
}

/* The io_uring itself failing (its wait for completions, not one request): the waits
 * return the error at once instead of waiting on completions never reported, the
 * engine refuses steps, saves and loads (a broken ring is not revived by a load), its
 * destroy returns, and a new engine on the same directory resumes from the checkpoint
 * bit-exact. Without the broken state this test hangs (its timeout fails it). */
Test(engine_nvme, a_broken_io_uring_fails_without_hanging_and_a_new_engine_resumes, .timeout = 120)
{
    failure_runs runs;
    start_failure_runs(&runs);
    char *dir = runs.dir, *ckpt = runs.ckpt;
    zo_engine *reference = runs.reference, *nvme = runs.nvme;
    /* every wait of the ring, from its next */
    zo_status failed = step_with_fault(nvme, ZO_FAULT_NVME_RING, 0, ZO_FAULT_FOREVER);
    cr_expect(eq(int, failed, ZO_ERR_IO), "%s", zo_last_error());
    const char *error = zo_last_error();
    cr_expect(ne(ptr, strstr(error, "io_uring"), NULL), "names the io_uring: %s", error);
    cr_expect(ne(ptr, strstr(error, dir), NULL), "names the file: %s", error);
    cr_expect(ne(ptr, strstr(error, "errno 53"), NULL), "says why (EBADR): %s", error);
    cr_expect(eq(int, micro_step(nvme, 8, NULL), ZO_ERR_IO), "a later step is refused");
    cr_expect(eq(int, zo_engine_load(nvme, ckpt), ZO_ERR_IO), "a load cannot revive the ring");
    cr_expect(ne(ptr, strstr(zo_last_error(), "io_uring"), NULL), "%s", zo_last_error());
    zo_engine_destroy(&nvme); /* returns: nothing waits on the lost completions */
    cr_expect(eq(ptr, nvme, NULL));
    zo_engine *again = new_engine(&fp16_case, dir);
    cr_assert(eq(int, zo_engine_load(again, ckpt), ZO_OK), "%s", zo_last_error());
    train(again, 7, 10);
    expect_same_state(reference, again, "a new engine resumed after the broken ring");
    zo_engine_destroy(&reference);
    zo_engine_destroy(&again);
    remove_dir(dir);
}

Test(engine_nvme, no_space_at_creation_is_refused_with_the_bytes_needed_and_free)
{
    char dir[64];
    make_dir("/tmp", dir);
    zo_fault_arm(ZO_FAULT_NVME_NO_SPACE, 0, 1);
    zo_engine *e = NULL;
    cr_expect(eq(int, try_engine(&fp16_case, dir, &e), ZO_ERR_IO));
    cr_expect(eq(ptr, e, NULL));
    cr_expect(ne(ptr, strstr(zo_last_error(), "no space left"), NULL), "%s", zo_last_error());
    cr_expect(ne(ptr, strstr(zo_last_error(), "bytes free"), NULL), "%s", zo_last_error());
    remove_dir(dir);
}

Test(engine_nvme, a_state_larger_than_the_disk_is_refused_by_the_plan)
{
    char json[2048], dir[64];
    make_dir("/tmp", dir);
    snprintf(json, sizeof json,
             "{\"zero_optimization\": {\"stage\": 2, \"reduce_bucket_size\": 1e9, "
             "\"offload_optimizer\": "
             "{\"device\": \"nvme\", \"nvme_path\": \"%s\"}}, \"zo\": {\"device\": \"host\"}}",
             dir);
    zo_config *config = NULL;
    cr_assert(eq(int, zo_config_from_string(json, &config), ZO_OK), "%s", zo_last_error());
    zo_param_desc huge[] = {{"huge", (size_t)1 << 44}}; /* 16 Ti parameters: 192 TiB of state */
    zo_memory_plan plan;
    cr_assert(eq(int, zo_engine_plan(config, huge, 1, 1, &plan), ZO_OK), "%s", zo_last_error());
    cr_expect(eq(int, plan.fits, false));
    cr_expect(gt(u64, plan.nvme_bytes, plan.nvme_free_bytes));
    cr_expect(ne(ptr, strstr(plan.verdict, "the optimizer state on NVMe needs"), NULL), "%s",
              plan.verdict);
    cr_expect(ne(ptr, strstr(plan.verdict, "free"), NULL), "%s", plan.verdict);
    zo_config_destroy(&config);
    remove_dir(dir);
}

Test(engine_nvme, host_memory_for_the_state_is_the_ring_not_the_model)
{
    char dir[64];
    make_dir("/tmp", dir);
    zo_engine *cpu = new_engine(&fp16_case, NULL), *nvme = new_engine(&fp16_case, dir);
    zo_memory_plan on_cpu, on_nvme;
    cr_assert(eq(int, zo_engine_memory(cpu, &on_cpu), ZO_OK));
    cr_assert(eq(int, zo_engine_memory(nvme, &on_nvme), ZO_OK));
    /* a bucket of 512 is one rank's piece: 4096-byte pages of master, exp_avg, exp_avg_sq */
    cr_expect(eq(u64, on_nvme.host_bytes, 4 * 3 * 4096), "buffer_count 4 x one bucket's record");
    cr_expect(eq(u64, on_nvme.nvme_bytes, zo_engine_bucket_count(nvme) * 3 * 4096),
              "a record of 3 pages a bucket");
    cr_expect(eq(u64, on_cpu.nvme_bytes, 0));
    cr_expect(eq(u64, on_cpu.host_bytes, (uint64_t)on_cpu.param_elems * 12));
    zo_engine_destroy(&cpu);
    zo_engine_destroy(&nvme);
    remove_dir(dir);
}

Test(engine_nvme, a_missing_directory_is_refused_by_name)
{
    zo_engine *e = NULL;
    cr_expect(eq(int, try_engine(&fp16_case, "/tmp/zo-test-nvme-does-not-exist", &e), ZO_ERR_IO));
    cr_expect(ne(ptr, strstr(zo_last_error(), "/tmp/zo-test-nvme-does-not-exist"), NULL), "%s",
              zo_last_error());
    cr_expect(ne(ptr, strstr(zo_last_error(), "No such file or directory"), NULL), "%s",
              zo_last_error());
}

/* 8-bit moments: the ring holds records of master and codes; the block scales stay in
 * host memory and the plan counts them. */
Test(engine_nvme, eight_bit_moments_keep_their_scales_in_host_memory)
{
    char dir[64];
    make_dir("/tmp", dir);
    zo_engine *nvme = new_engine(&eight_bit_case, dir);
    zo_memory_plan plan;
    cr_assert(eq(int, zo_engine_memory(nvme, &plan), ZO_OK));
    /* a bucket of 512: one page of master, one of each moment's codes */
    uint64_t scales = 2 * zo_q8_block_count((size_t)plan.param_elems) * sizeof(float);
    cr_expect(eq(u64, plan.host_bytes, 4 * 3 * 4096 + scales), "buffer_count 4 x a record, + %llu bytes of scales",
              (unsigned long long)scales);
    cr_expect(eq(u64, plan.nvme_bytes, zo_engine_bucket_count(nvme) * 3 * 4096), "a record of 3 pages a bucket");
    zo_engine_destroy(&nvme);
    remove_dir(dir);
}

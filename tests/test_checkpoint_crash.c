/* Crash safety: a child process saves a new checkpoint over an old one and is killed
 * (SIGKILL) just before its k-th file-system change, for every k from the first to
 * past the last (writes cut into 4 KiB pieces, so files are killed half written). A
 * load afterwards must always succeed and give exactly the old or the new state, and a
 * save into the same place must work again. Once with the atomic directory exchange,
 * once with the two renames of file systems without it. A SIGKILL loses no page cache,
 * so this checks the order of the steps, not the disk's promises (fsync's job). */
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checkpoint_test_support.h"
#include "checkpoint/durable_io.h"

enum { CHUNK_BYTES = 4096 };

typedef struct kill_plan {
    long changes_seen;
    long kill_before; /* 0: never; just count */
} kill_plan;

static void kill_hook(void *user, const char *operation, const char *path)
{
    (void)operation, (void)path;
    kill_plan *plan = user;
    if (++plan->changes_seen == plan->kill_before)
        raise(SIGKILL);
}

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    cr_assert(in && out, "cannot copy %s to %s", from, to);
    char buffer[8192];
    for (size_t n; (n = fread(buffer, 1, sizeof buffer, in)) > 0;)
        cr_assert(eq(sz, fwrite(buffer, 1, n, out), n));
    fclose(in);
    fclose(out);
}

static void copy_checkpoint(const char *from, const char *to)
{
    cr_assert(eq(int, mkdir(to, 0755), 0), "mkdir %s", to);
    DIR *listing = opendir(from);
    cr_assert(listing != NULL);
    char source[512], target[512];
    for (struct dirent *entry; (entry = readdir(listing));) {
        if (entry->d_name[0] == '.')
            continue;
        snprintf(source, sizeof source, "%s/%s", from, entry->d_name);
        snprintf(target, sizeof target, "%s/%s", to, entry->d_name);
        copy_file(source, target);
    }
    closedir(listing);
}

/* In a child: an engine holding the new state saves it over `target` under `plan`.
 * Exits 0 after a successful save (the kill point was past the end), 3 on an error;
 * writes the number of changes it made to `count_file` when given. */
static void save_in_child(const char *new_state, const char *target, long kill_before,
                          bool no_exchange, const char *count_file)
{
    zo_engine *e = ckpt_engine(CKPT_CONFIG(CKPT_FP16));
    if (zo_engine_load(e, new_state) != ZO_OK)
        _exit(4);
    kill_plan plan = {0, kill_before};
    zo_io_test_settings settings = {.hook = kill_hook,
                                    .user = &plan,
                                    .write_chunk_bytes = CHUNK_BYTES,
                                    .no_exchange = no_exchange};
    zo_io_set_test_settings(&settings);
    zo_status status = zo_engine_save(e, target);
    zo_io_set_test_settings(NULL);
    if (count_file) {
        FILE *f = fopen(count_file, "w");
        fprintf(f, "%ld\n", plan.changes_seen);
        fclose(f);
    }
    _exit(status == ZO_OK ? 0 : 3);
}

/* The old and the new checkpoint, made in a child so that this process starts no
 * engine (and no OpenMP thread team) before it forks the savers. */
static void make_checkpoints_in_child(const char *old_state, const char *new_state)
{
    zo_engine *e = ckpt_engine(CKPT_CONFIG(CKPT_FP16));
    ckpt_initialize(e);
    ckpt_train(e, 3);
    bool ok = zo_engine_save(e, old_state) == ZO_OK;
    ckpt_train(e, 4);
    ok = ok && zo_engine_save(e, new_state) == ZO_OK;
    _exit(ok ? 0 : 3);
}

static int wait_for(pid_t child)
{
    int status;
    cr_assert(eq(int, waitpid(child, &status, 0), child));
    return status;
}

static bool same_state(const ckpt_snapshot *a, const ckpt_snapshot *b)
{
    return a->steps == b->steps && a->scaler.scale == b->scaler.scale &&
           memcmp(a->master, b->master, sizeof a->master) == 0 &&
           memcmp(a->exp_avg, b->exp_avg, a->moment_bytes) == 0 &&
           memcmp(a->exp_avg_sq, b->exp_avg_sq, a->moment_bytes) == 0;
}

static void snapshot_of_checkpoint(const char *path, ckpt_snapshot *out)
{
    zo_engine *e = ckpt_engine(CKPT_CONFIG(CKPT_FP16));
    cr_assert(eq(int, zo_engine_load(e, path), ZO_OK), "%s: %s", path, zo_last_error());
    ckpt_snapshot_of(e, out);
    zo_engine_destroy(&e);
}

static void kill_at_every_point(bool no_exchange)
{
    char dir[64], old_state[128], new_state[128], counted[128], count_file[128];
    ckpt_scratch_dir(dir, sizeof dir);
    snprintf(old_state, sizeof old_state, "%s/old", dir);
    snprintf(new_state, sizeof new_state, "%s/new", dir);
    snprintf(counted, sizeof counted, "%s/counted", dir);
    snprintf(count_file, sizeof count_file, "%s/changes", dir);
    pid_t child = fork();
    if (child == 0)
        make_checkpoints_in_child(old_state, new_state);
    cr_assert(eq(int, wait_for(child), 0), "the child that makes the checkpoints failed");

    /* how many file-system changes a whole save makes */
    copy_checkpoint(old_state, counted);
    if ((child = fork()) == 0)
        save_in_child(new_state, counted, 0, no_exchange, count_file);
    cr_assert(eq(int, wait_for(child), 0), "the counting save failed");
    long changes = 0;
    FILE *f = fopen(count_file, "r");
    cr_assert(f && fscanf(f, "%ld", &changes) == 1);
    fclose(f);
    cr_assert(ge(long, changes, 20), "a save makes only %ld changes?", changes);

    static char targets[256][128];
    cr_assert(lt(long, changes, 255));
    for (long k = 1; k <= changes + 1; k++) {
        snprintf(targets[k], sizeof targets[k], "%s/killed-before-%ld", dir, k);
        copy_checkpoint(old_state, targets[k]);
        if ((child = fork()) == 0)
            save_in_child(new_state, targets[k], k, no_exchange, NULL);
        int status = wait_for(child);
        bool killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
        if (k <= changes)
            cr_assert(killed, "kill before change %ld: status %d", k, status);
        else
            cr_assert(eq(int, status, 0), "the save past the last kill point failed");
    }

    /* only now an engine in this process: every kill left a loadable checkpoint */
    static ckpt_snapshot old_snapshot, new_snapshot, got;
    snapshot_of_checkpoint(old_state, &old_snapshot);
    snapshot_of_checkpoint(new_state, &new_snapshot);
    cr_assert(eq(int, same_state(&old_snapshot, &new_snapshot), 0), "the two states must differ");
    long olds = 0, news = 0;
    for (long k = 1; k <= changes + 1; k++) {
        zo_engine *e = ckpt_engine(CKPT_CONFIG(CKPT_FP16));
        zo_status status = zo_engine_load(e, targets[k]);
        cr_assert(eq(int, status, ZO_OK), "killed before change %ld of %ld: load: %s", k, changes,
                  zo_last_error());
        ckpt_snapshot_of(e, &got);
        bool is_old = same_state(&got, &old_snapshot), is_new = same_state(&got, &new_snapshot);
        cr_assert(is_old || is_new, "killed before change %ld: neither the old nor the new state",
                  k);
        olds += is_old, news += is_new;
        /* and the next save cleans up whatever the crash left */
        cr_assert(eq(int, zo_engine_save(e, targets[k]), ZO_OK),
                  "after the kill before change %ld: %s", k, zo_last_error());
        cr_assert(eq(int, zo_engine_load(e, targets[k]), ZO_OK), "%s", zo_last_error());
        zo_engine_destroy(&e);
    }
    cr_assert(gt(long, olds, 0));
    cr_assert(gt(long, news, 0));
    cr_log_info("%ld kill points: %ld left the old checkpoint, %ld the new one", changes, olds,
                news);
    ckpt_remove_scratch(dir);
}

Test(checkpoint_crash, a_kill_anywhere_in_a_save_leaves_the_old_or_the_new_checkpoint,
     .timeout = 240)
{
    kill_at_every_point(false);
}

Test(checkpoint_crash, the_same_with_two_renames_where_directories_cannot_be_exchanged,
     .timeout = 240)
{
    kill_at_every_point(true);
}

/* What a save may touch: a symbolic link at the checkpoint's name means its target
 * (the link stays, nothing else changes); a <dir>.tmp or <dir>.old that zo did not make
 * (a link to another checkpoint, a file, a FIFO) is refused by name and left as it is;
 * only files named exactly as zo names them are removed; a save that fails at any
 * file-system change leaves the old checkpoint and no <dir>.tmp, or says that the new
 * one is saved; a load that finds only <dir>.old says so. */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint/manifest.h"
#include "checkpoint_test_support.h"
#include "checkpoint/durable_io.h"

/* A scratch directory holding the checkpoint `old` (3 micro-steps) and an engine that
 * trained on to another state (`new_state`, 4 more). */
typedef struct scene {
    char dir[64], old[128];
    zo_engine *engine;
    ckpt_snapshot old_state, new_state;
} scene;

static void scene_start(scene *s)
{
    ckpt_scratch_dir(s->dir, sizeof s->dir);
    snprintf(s->old, sizeof s->old, "%s/old", s->dir);
    s->engine = ckpt_engine(CKPT_CONFIG(CKPT_FP16));
    ckpt_initialize(s->engine);
    ckpt_train(s->engine, 3);
    ckpt_snapshot_of(s->engine, &s->old_state);
    cr_assert(eq(int, zo_engine_save(s->engine, s->old), ZO_OK), "%s", zo_last_error());
    ckpt_train(s->engine, 4);
    ckpt_snapshot_of(s->engine, &s->new_state);
}

static void scene_end(scene *s)
{
    zo_engine_destroy(&s->engine);
    ckpt_remove_scratch(s->dir);
}

static void shell(const char *format, const char *a, const char *b)
{
    char command[1024];
    snprintf(command, sizeof command, format, a, b);
    cr_assert(eq(int, system(command), 0), "%s", command);
}

/* Whether the two trees are the same, byte for byte, links compared as links. */
static bool same_tree(const char *a, const char *b)
{
    char command[512];
    snprintf(command, sizeof command, "diff -r --no-dereference '%s' '%s' >/dev/null", a, b);
    return system(command) == 0;
}

/* The names in `dir`, sorted, separated by spaces. */
static void entries_of(const char *dir, char *out, size_t size)
{
    char command[256];
    snprintf(command, sizeof command, "ls -A '%s' | tr '\\n' ' '", dir);
    FILE *listing = popen(command, "r");
    cr_assert(listing != NULL);
    size_t got = fread(out, 1, size - 1, listing);
    out[got] = '\0';
    pclose(listing);
}

static bool is_symlink(const char *path)
{
    struct stat info;
    return lstat(path, &info) == 0 && S_ISLNK(info.st_mode);
}

static bool exists(const char *path)
{
    struct stat info;
    return lstat(path, &info) == 0;
}

/* The state a fresh engine loads from `path`. */
static void state_in(const char *path, ckpt_snapshot *out)
{
    zo_engine *e = ckpt_engine(CKPT_CONFIG(CKPT_FP16));
    cr_assert(eq(int, zo_engine_load(e, path), ZO_OK), "%s: %s", path, zo_last_error());
    ckpt_snapshot_of(e, out);
    zo_engine_destroy(&e);
}

/* The layouts of a link at the checkpoint's name: `latest` points at `old` through
 * `link_target` (a format of the scratch directory), `via` an intermediate link. */
typedef struct link_layout {
    const char *name;
    const char *link_target;
    bool via;
} link_layout;

static const link_layout link_layouts[] = {
    {"relative: latest -> old", "old", false},
    {"absolute: latest -> <scratch>/old", "%s/old", false},
    {"a chain: latest -> current -> old", "current", true},
};
enum { LINK_LAYOUTS = sizeof link_layouts / sizeof link_layouts[0] };

ParameterizedTestParameters(checkpoint_paths, a_linked_checkpoint_is_saved_into_its_target)
{
    static int indices[LINK_LAYOUTS];
    return ckpt_case_indices(indices, LINK_LAYOUTS);
}

/* Saved through twice: the target holds the newest state, the links are as they were,
 * and nothing else appeared or went away. */
ParameterizedTest(int *index, checkpoint_paths, a_linked_checkpoint_is_saved_into_its_target)
{
    const link_layout *layout = &link_layouts[*index];
    static scene s;
    scene_start(&s);
    char latest[128], current[128], target[128], listing[256], after[256];
    snprintf(latest, sizeof latest, "%s/latest", s.dir);
    snprintf(current, sizeof current, "%s/current", s.dir);
    snprintf(target, sizeof target, layout->link_target, s.dir);
    cr_assert(eq(int, symlink(target, latest), 0));
    if (layout->via)
        cr_assert(eq(int, symlink("old", current), 0));
    entries_of(s.dir, listing, sizeof listing);
    for (int save = 0; save < 2; save++) {
        if (save > 0)
            ckpt_train(s.engine, 1);
        cr_assert(eq(int, zo_engine_save(s.engine, latest), ZO_OK), "%s: save %d: %s", layout->name,
                  save, zo_last_error());
    }
    ckpt_snapshot_of(s.engine, &s.new_state);
    entries_of(s.dir, after, sizeof after);
    cr_assert(eq(str, after, listing), "%s: the scratch directory changed", layout->name);
    cr_assert(is_symlink(latest), "%s: the link was replaced", layout->name);
    char points_to[128] = "";
    cr_assert(gt(long, (long)readlink(latest, points_to, sizeof points_to - 1), 0));
    cr_assert(eq(str, points_to, target), "%s", layout->name);
    static ckpt_snapshot got, through_link;
    state_in(s.old, &got);
    ckpt_assert_same(&s.new_state, &got, layout->name);
    state_in(latest, &through_link);
    ckpt_assert_same(&s.new_state, &through_link, layout->name);
    scene_end(&s);
}

/* A link to nothing, or to a file, is refused by name by save and load; nothing is
 * created through it, and it stays. */
Test(checkpoint_paths, a_link_to_nothing_or_to_a_file_is_refused_by_name)
{
    static scene s;
    scene_start(&s);
    char latest[128], notes[128], to_notes[128], listing[256], after[256];
    snprintf(latest, sizeof latest, "%s/latest", s.dir);
    snprintf(notes, sizeof notes, "%s/notes.txt", s.dir);
    snprintf(to_notes, sizeof to_notes, "%s/to-notes", s.dir);
    cr_assert(eq(int, symlink("step_9", latest), 0));
    shell("echo 'keep me' > '%s'%s", notes, "");
    cr_assert(eq(int, symlink("notes.txt", to_notes), 0));
    entries_of(s.dir, listing, sizeof listing);

    cr_assert(eq(int, zo_engine_save(s.engine, latest), ZO_ERR_IO));
    cr_assert(strstr(zo_last_error(), "is a symbolic link to a missing directory, step_9") != NULL,
              "%s", zo_last_error());
    cr_assert(eq(int, zo_engine_load(s.engine, latest), ZO_ERR_IO));
    cr_assert(strstr(zo_last_error(), "is a symbolic link to a missing directory") != NULL, "%s",
              zo_last_error());
    cr_assert(eq(int, zo_engine_save(s.engine, to_notes), ZO_ERR_IO));
    cr_assert(strstr(zo_last_error(), "notes.txt, which is a regular file, not a checkpoint") !=
                  NULL,
              "%s", zo_last_error());

    entries_of(s.dir, after, sizeof after);
    cr_assert(eq(str, after, listing), "nothing may be created or removed");
    cr_assert(is_symlink(latest));
    cr_assert(eq(sz, ckpt_file_size(notes), 8));
    scene_end(&s);
}

/* (b) A path that is a file, not a directory, is refused before anything is made. */
Test(checkpoint_paths, saving_onto_a_file_is_refused_and_leaves_nothing)
{
    static scene s;
    scene_start(&s);
    char notes[128], staging[160];
    snprintf(notes, sizeof notes, "%s/notes.txt", s.dir);
    snprintf(staging, sizeof staging, "%s.tmp", notes);
    shell("echo 'keep me' > '%s'%s", notes, "");
    cr_assert(eq(int, zo_engine_save(s.engine, notes), ZO_ERR_IO));
    cr_assert(strstr(zo_last_error(), "notes.txt is a regular file, not a checkpoint directory") !=
                  NULL,
              "%s", zo_last_error());
    cr_assert(eq(int, exists(staging), 0), "%s was left behind", staging);
    cr_assert(eq(sz, ckpt_file_size(notes), 8));
    scene_end(&s);
}

/* <dir>.tmp and <dir>.old are zo's own names: each kind of thing that is not a
 * directory zo made there, beside a checkpoint or (for .old) instead of one. */
typedef struct sibling_case {
    const char *suffix; /* ".tmp", ".old" */
    bool checkpoint_missing;
    const char *kind; /* "link", "file", "fifo" */
    const char *kind_name;
} sibling_case;

static const sibling_case sibling_cases[] = {
    {".tmp", false, "link", "a symbolic link"}, {".tmp", false, "file", "a regular file"},
    {".tmp", false, "fifo", "a special file"},  {".old", false, "link", "a symbolic link"},
    {".old", false, "file", "a regular file"},  {".old", false, "fifo", "a special file"},
    {".old", true, "link", "a symbolic link"},  {".old", true, "file", "a regular file"},
    {".old", true, "fifo", "a special file"},
};
enum { SIBLING_CASES = sizeof sibling_cases / sizeof sibling_cases[0] };

ParameterizedTestParameters(checkpoint_paths, a_sibling_zo_did_not_make_is_refused_by_name)
{
    static int indices[SIBLING_CASES];
    return ckpt_case_indices(indices, SIBLING_CASES);
}

/* The save is refused naming it, and the other checkpoint a link points at, the
 * checkpoint itself and the sibling are all as they were. */
ParameterizedTest(int *index, checkpoint_paths, a_sibling_zo_did_not_make_is_refused_by_name)
{
    const sibling_case *c = &sibling_cases[*index];
    static scene s;
    scene_start(&s);
    char ckpt[128], sibling[160], old_copy[128], ckpt_copy[128], listing[256], after[256];
    snprintf(ckpt, sizeof ckpt, "%s/ckpt", s.dir);
    snprintf(sibling, sizeof sibling, "%s%s", ckpt, c->suffix);
    snprintf(old_copy, sizeof old_copy, "%s/old-copy", s.dir);
    snprintf(ckpt_copy, sizeof ckpt_copy, "%s/ckpt-copy", s.dir);
    shell("cp -r '%s' '%s'", s.old, old_copy);
    if (!c->checkpoint_missing) {
        shell("cp -r '%s' '%s'", s.old, ckpt);
        shell("cp -r '%s' '%s'", s.old, ckpt_copy);
    }
    if (strcmp(c->kind, "link") == 0)
        cr_assert(eq(int, symlink(s.old, sibling), 0));
    else if (strcmp(c->kind, "file") == 0)
        shell("echo 'keep me' > '%s'%s", sibling, "");
    else
        cr_assert(eq(int, mkfifo(sibling, 0644), 0));
    entries_of(s.dir, listing, sizeof listing);

    cr_assert(eq(int, zo_engine_save(s.engine, ckpt), ZO_ERR_IO), "%s%s%s", c->suffix,
              c->checkpoint_missing ? " (no checkpoint) " : " ", c->kind);
    char message[1024], expected[256];
    snprintf(message, sizeof message, "%s", zo_last_error());
    cr_assert(same_tree(s.old, old_copy), "the checkpoint the link points at changed");
    if (!c->checkpoint_missing)
        cr_assert(same_tree(ckpt, ckpt_copy), "the checkpoint changed");
    entries_of(s.dir, after, sizeof after);
    cr_assert(eq(str, after, listing), "nothing may be created or removed");
    snprintf(expected, sizeof expected, "%s is %s", sibling, c->kind_name);
    cr_assert(strstr(message, expected) != NULL, "\"%s\" lacks \"%s\"", message, expected);
    cr_assert(strstr(message, "not a directory zo made; remove it") != NULL, "%s", message);
    zo_io_kind kind = zo_io_kind_of(sibling);
    cr_assert(eq(int, strncmp(zo_io_kind_name(kind), c->kind_name, strlen(c->kind_name)), 0),
              "%s is now %s", sibling, zo_io_kind_name(kind));
    scene_end(&s);
}

/* A shard that is a symbolic link (a hand-assembled checkpoint) is read through, and
 * replaced by a save as the link itself: the file it points at is not touched. */
Test(checkpoint_paths, a_linked_shard_is_removed_as_a_link_not_followed)
{
    static scene s;
    scene_start(&s);
    char ckpt[128], shard[192], outside[128], outside_copy[128];
    snprintf(ckpt, sizeof ckpt, "%s/ckpt", s.dir);
    snprintf(shard, sizeof shard, "%s/rank0-of-1.safetensors", ckpt);
    snprintf(outside, sizeof outside, "%s/outside.safetensors", s.dir);
    snprintf(outside_copy, sizeof outside_copy, "%s/outside-copy", s.dir);
    shell("cp -r '%s' '%s'", s.old, ckpt);
    cr_assert(eq(int, rename(shard, outside), 0));
    cr_assert(eq(int, symlink(outside, shard), 0));
    shell("cp '%s' '%s'", outside, outside_copy);
    static ckpt_snapshot got;
    state_in(ckpt, &got);
    ckpt_assert_same(&s.old_state, &got, "read through the link");

    cr_assert(eq(int, zo_engine_save(s.engine, ckpt), ZO_OK), "%s", zo_last_error());
    cr_assert(same_tree(outside, outside_copy), "the file the link pointed at changed");
    cr_assert(eq(int, zo_io_kind_of(shard), ZO_IO_REGULAR));
    state_in(ckpt, &got);
    ckpt_assert_same(&s.new_state, &got, "after the save");
    scene_end(&s);
}

/* (a) Names that only resemble a shard's, and a directory under a shard's name: not
 * zo's, so a save over their checkpoint is refused and they stay. */
static const char *const foreign_names[] = {
    "rank+0-of-1.safetensors", "rank 0-of-1.safetensors", "rank00-of-1.safetensors",
    "rank0-of-01.safetensors", "rank-0-of-1.safetensors", "rank1-of-1.safetensors",
    "rank0-of-0.safetensors",  "rank0-of-2.safetensors/", /* a directory */
};
enum { FOREIGN_NAMES = sizeof foreign_names / sizeof foreign_names[0] };

Test(checkpoint_paths, only_zo_names_are_zo_files)
{
    const char *ours[] = {"manifest.json", "rank0-of-1.safetensors", "rank3-of-4.safetensors",
                          "rank10-of-12.safetensors"};
    for (size_t i = 0; i < sizeof ours / sizeof ours[0]; i++)
        cr_assert(zo_checkpoint_owns_file(ours[i]), "%s", ours[i]);
    for (size_t i = 0; i < FOREIGN_NAMES - 1; i++)
        cr_assert(eq(int, zo_checkpoint_owns_file(foreign_names[i]), 0), "%s", foreign_names[i]);
    cr_assert(eq(int, zo_checkpoint_owns_file("rank99999999999999999999999-of-1.safetensors"), 0));
    cr_assert(eq(int, zo_checkpoint_owns_file("manifest.json.bak"), 0));
}

ParameterizedTestParameters(checkpoint_paths, a_file_that_only_looks_like_a_shard_is_kept)
{
    static int indices[FOREIGN_NAMES];
    return ckpt_case_indices(indices, FOREIGN_NAMES);
}

ParameterizedTest(int *index, checkpoint_paths, a_file_that_only_looks_like_a_shard_is_kept)
{
    const char *name = foreign_names[*index];
    static scene s;
    scene_start(&s);
    char path[256];
    snprintf(path, sizeof path, "%s/%s", s.old, name);
    if (name[strlen(name) - 1] == '/')
        cr_assert(eq(int, mkdir(path, 0755), 0));
    else
        shell("echo 'keep me' > '%s'%s", path, "");
    cr_assert(eq(int, zo_engine_save(s.engine, s.old), ZO_ERR_IO), "%s", name);
    cr_assert(strstr(zo_last_error(), "holds files that are not part of a zo checkpoint") != NULL,
              "%s: %s", name, zo_last_error());
    cr_assert(exists(path), "%s was removed", name);
    static ckpt_snapshot got;
    state_in(s.old, &got);
    ckpt_assert_same(&s.old_state, &got, name);
    scene_end(&s);
}

/* (c) A load that finds only <dir>.old (a crash between the fallback's two renames)
 * says so through zo_engine_notice. */
Test(checkpoint_paths, loading_the_old_checkpoint_a_crash_left_aside_says_so)
{
    static scene s;
    scene_start(&s);
    char aside[160];
    snprintf(aside, sizeof aside, "%s.old", s.old);
    cr_assert(eq(int, rename(s.old, aside), 0));
    zo_engine *e = ckpt_engine(CKPT_CONFIG(CKPT_FP16));
    cr_assert(eq(str, (char *)zo_engine_notice(e), ""));
    cr_assert(eq(int, zo_engine_load(e, s.old), ZO_OK), "%s", zo_last_error());
    char expected[512];
    snprintf(expected, sizeof expected, "zo_engine_load: %s was missing; loaded %s, left by a save",
             s.old, aside);
    cr_assert(strstr(zo_engine_notice(e), expected) != NULL, "notice: \"%s\"", zo_engine_notice(e));
    zo_engine_destroy(&e);
    scene_end(&s);
}

/* Fails the k-th file-system change of a save with EIO (counts them when k is 0). */
typedef struct failure_plan {
    long changes_seen, fail_at;
} failure_plan;

static int fail_at(void *user, const char *operation, const char *path)
{
    (void)operation, (void)path;
    failure_plan *plan = user;
    return ++plan->changes_seen == plan->fail_at ? EIO : 0;
}

/* Every change of a save over `old` failed in turn: before the swap, the save fails with
 * the old checkpoint in place and no <dir>.tmp; after it, the error says the new one is
 * saved, and it is. Either way the next save works and leaves nothing beside. */
static void fail_at_every_change(bool no_exchange)
{
    static scene s;
    scene_start(&s);
    char target[128], staging[160], retired[160];
    snprintf(target, sizeof target, "%s/target", s.dir);
    snprintf(staging, sizeof staging, "%s.tmp", target);
    snprintf(retired, sizeof retired, "%s.old", target);
    failure_plan plan = {0, 0};
    zo_io_test_settings settings = {.fail = fail_at, .user = &plan, .no_exchange = no_exchange};
    shell("cp -r '%s' '%s'", s.old, target);
    zo_io_set_test_settings(&settings);
    cr_assert(eq(int, zo_engine_save(s.engine, target), ZO_OK), "%s", zo_last_error());
    zo_io_set_test_settings(NULL);
    long changes = plan.changes_seen, olds = 0, news = 0;
    cr_assert(ge(long, changes, 10), "a save makes only %ld changes?", changes);
    static ckpt_snapshot got;
    for (long k = 1; k <= changes; k++) {
        shell("rm -rf '%s'%s", target, "");
        shell("cp -r '%s' '%s'", s.old, target);
        plan = (failure_plan){0, k};
        zo_io_set_test_settings(&settings);
        zo_status status = zo_engine_save(s.engine, target);
        zo_io_set_test_settings(NULL);
        cr_assert(eq(int, status, ZO_ERR_IO), "change %ld of %ld failed, the save says %s", k,
                  changes, zo_status_name(status));
        bool saved = strstr(zo_last_error(), "the new checkpoint is saved in") != NULL;
        cr_assert(strstr(zo_last_error(), "Input/output error") != NULL, "change %ld: %s", k,
                  zo_last_error());
        state_in(target, &got);
        ckpt_assert_same(saved ? &s.new_state : &s.old_state, &got, zo_last_error());
        if (!saved)
            cr_assert(eq(int, exists(staging), 0), "change %ld failed: %s was left behind", k,
                      staging);
        olds += !saved, news += saved;
        cr_assert(eq(int, zo_engine_save(s.engine, target), ZO_OK), "after change %ld: %s", k,
                  zo_last_error());
        cr_assert(eq(int, exists(staging) || exists(retired), 0), "after change %ld", k);
    }
    cr_assert(gt(long, olds, 0));
    cr_assert(gt(long, news, 0));
    cr_log_info("%ld failure points: %ld left the old checkpoint, %ld the new one", changes, olds,
                news);
    scene_end(&s);
}

Test(checkpoint_paths, a_failure_anywhere_in_a_save_leaves_the_old_or_says_the_new_is_saved)
{
    fail_at_every_change(false);
}

Test(checkpoint_paths, the_same_with_two_renames_where_directories_cannot_be_exchanged)
{
    fail_at_every_change(true);
}

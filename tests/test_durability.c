/* test_durability.c - what a crash, a damaged file or a full disk leaves:
 *
 * - kill -9 anywhere: `ticket find` and `ticket study run` are killed with
 *   SIGKILL at 24 and 20 crash points chosen by a seeded generator among all
 *   the points a run passes (TICKET_CRASH_AT, tk_file.h: inside every atomic
 *   write and every appended metrics line), so the points are exact and do
 *   not depend on timing. After each kill every file with a finished name is
 *   whole (binary files pass magic, version and CRC-32; JSON parses; CSV,
 *   Markdown, PNG and SVG end as they must); the same command then resumes
 *   and the tree it leaves holds the same files with the same bytes as an
 *   uninterrupted run's (summary.json without its wall-clock lines). Every
 *   2nd find resume and every 4th study resume is killed again early in its
 *   own points before the last resume: recovery itself may be interrupted.
 * - a checkpoint, mask or ticket cut in half or with one byte flipped is
 *   refused with the file's name, "checksum mismatch" and the offset of the
 *   stored CRC; a deleted checkpoint is redone to the same bytes; a study's
 *   summary.json cut short is refused by the report, not left out of it.
 * - a full disk: RLIMIT_FSIZE (SIGXFSZ ignored) makes writes of checkpoints,
 *   tickets, reports and a study's jobs fail with EFBIG; as root, a small tmpfs in a mount
 *   namespace of a child process (gone with it, so never left mounted) fills
 *   up for real (ENOSPC). Either way the command exits 1 naming the file, the
 *   errno text and what to do, the previous complete file is untouched, and
 *   the rerun with space completes to the uninterrupted bytes.
 *
 * Everything runs lenet_300_100 at width 0.1 on 8x8 synthetic data. */
#define _GNU_SOURCE
#include "check.h"
#include "tk_file.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char *root; /* this test's folder: references, killed runs, copies */

static const char *const find_spec =
    "{\"train\": {\"model\": \"lenet_300_100\", \"width\": 0.1, \"dataset\": \"synthetic:1,8,8,4,240,80,1\","
    " \"batch\": 20, \"length\": \"40it\", \"eval_every\": \"20it\", \"checkpoint_every\": \"10it\", \"threads\": 1,"
    " \"seed\": 5}, \"pruning\": {\"levels\": 2, \"rate\": 0.5}, \"rewind\": \"10it\","
    " \"controls\": [\"random_ticket\"]}\n";

/* One source and one target with another dataset and optimizer: find chains
 * for both, transfers of ticket and random ticket, the report with figures. */
static const char *const study_spec =
    "{\"name\": \"kill\", \"model\": \"lenet_300_100\", \"width\": 0.1,\n"
    " \"train\": {\"length\": \"40it\", \"eval_every\": \"20it\", \"checkpoint_every\": \"10it\", \"batch\": 20,"
    " \"threads\": 1},\n"
    " \"sources\": [{\"name\": \"six\", \"train\": {\"dataset\": \"synthetic:1,8,8,6,240,80,2\", \"optimizer\": "
    "\"adam\", \"lr\": 0.01}}],\n"
    " \"targets\": [{\"name\": \"four\", \"train\": {\"dataset\": \"synthetic:1,8,8,4,240,80,1\", \"optimizer\": "
    "\"sgd\", \"lr\": 0.05}}],\n"
    " \"pruning\": {\"strategy\": \"global\", \"rate\": 0.5, \"levels\": 1},\n"
    " \"controls\": [\"random_ticket\"], \"seeds\": [0]}\n";

/* A command, run in a folder of its own that holds its spec, writing into `tree` there. */
typedef struct command {
    const char *name, *spec_file, *spec, *tree;
    char *args[10];
} command;

static command find_cmd = {"find", "spec.json", NULL, "store",
                           {"ticket", "find", "spec.json", "--root", "store", "--quiet", NULL}};
static command study_cmd = {"study", "study.json", NULL, "out",
                            {"ticket", "study", "run", "study.json", "--out", "out", "-j", "2", NULL}};

/* A fresh folder root/name holding the command's spec. */
static char *command_dir(const command *c, const char *name) {
    char *dir = path_in(root, name);
    rm_rf(dir);
    mkdir(dir, 0755);
    char *spec = path_in(dir, c->spec_file);
    write_file(spec, c->spec, strlen(c->spec));
    free(spec);
    return dir;
}

static char *log_path(const char *dir) { return path_in(dir, "log"); }

/* Runs the command in dir to the end; the wait status. */
static int run_in(const command *c, const char *dir, const char *crash_at, long long max_file_bytes) {
    char *log = log_path(dir);
    ticket_child how = {.cwd = dir, .crash_at = crash_at, .max_file_bytes = max_file_bytes};
    int status = run_ticket_how(&how, c->args, log);
    free(log);
    return status;
}

/* Runs it and checks it exits with `code`, showing its output when not. */
static bool exits_with(const command *c, const char *dir, int code, long long max_file_bytes) {
    int status = run_in(c, dir, NULL, max_file_bytes);
    bool ok = status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == code;
    if (!ok) {
        char *log = log_path(dir), *text = read_whole_file(log, NULL);
        printf("  `ticket %s` in %s: wait status %d, expected exit %d:\n%s\n", c->name, dir, status, code,
               text ? text : "(no log)");
        free(text), free(log);
    }
    return ok;
}

static char *output_of(const char *dir) {
    char *log = log_path(dir), *text = read_whole_file(log, NULL);
    free(log);
    return text;
}

/* ---- trees of files */

static char **walk_names;
static int walk_n, walk_cap;
static size_t walk_skip;
static int walk_visit(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)st, (void)ftw;
    if (type != FTW_F) return 0;
    if (walk_n == walk_cap) walk_names = realloc(walk_names, sizeof *walk_names * (size_t)(walk_cap = walk_cap * 2 + 64));
    walk_names[walk_n++] = strdup(path + walk_skip);
    return 0;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The regular files under dir, as sorted paths relative to it. */
static int list_tree(const char *dir, char ***names) {
    walk_names = NULL, walk_n = walk_cap = 0, walk_skip = strlen(dir) + 1;
    nftw(dir, walk_visit, 16, FTW_PHYS);
    if (walk_n) qsort(walk_names, (size_t)walk_n, sizeof *walk_names, by_name);
    *names = walk_names;
    return walk_n;
}

static void free_names(char **names, int n) {
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* summary.json without the lines that depend on the wall clock. */
static char *without_timing(char *text) {
    char *o = text;
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        size_t len = next ? (size_t)(++next - line) : strlen(line);
        bool timing = memmem(line, len, "second", 6) != NULL;
        if (!timing) memmove(o, line, len), o += len;
        if (!next) break;
    }
    *o = 0;
    return text;
}

/* Whether the two trees hold the same files with the same bytes; says how they differ. */
static bool same_tree(const char *got, const char *want) {
    char **a, **b;
    int na = list_tree(got, &a), nb = list_tree(want, &b), differ = 0;
    for (int i = 0, j = 0; i < na || j < nb;) {
        int c = i == na ? 1 : j == nb ? -1 : strcmp(a[i], b[j]);
        if (c) {
            if (differ++ < 5) printf("  %s is only in %s\n", c < 0 ? a[i] : b[j], c < 0 ? got : want);
            c < 0 ? i++ : j++;
            continue;
        }
        char *pa = path_in(got, a[i]), *pb = path_in(want, b[j]);
        size_t la = 0, lb = 0;
        char *x = read_whole_file(pa, &la), *y = read_whole_file(pb, &lb);
        bool same;
        if (!strcmp(base_name(a[i]), "summary.json")) same = x && y && !strcmp(without_timing(x), without_timing(y));
        else same = x && y && la == lb && !memcmp(x, y, la);
        if (!same && differ++ < 5) printf("  %s differs between %s and %s\n", a[i], got, want);
        free(x), free(y), free(pa), free(pb);
        i++, j++;
    }
    free_names(a, na), free_names(b, nb);
    return differ == 0 && na > 0;
}

/* Every file under dir with a finished name (not NAME.tmp, not NAME.tmp.png)
 * is whole; metrics.jsonl is a log whose reader drops a cut last line.
 * Returns the number of partial files, naming them. */
static int partial_files(const char *dir) {
    char **names;
    int n = list_tree(dir, &names), bad = 0;
    for (int i = 0; i < n; i++) {
        const char *name = names[i], *base = base_name(name);
        if (strstr(base, ".tmp") || !strcmp(base, "metrics.jsonl") || !strcmp(base, "log")) continue;
        char *path = path_in(dir, name);
        size_t len = 0;
        char *text = read_whole_file(path, &len);
        const uint8_t *bytes = (const uint8_t *)text;
        bool whole = text != NULL;
        static const char *const binary[][2] = {{"checkpoint", "TKCK"}, {"rewind", "TKCK"}, {"mask", "TKMK"},
                                                {"ticket", "TKTK"}};
        bool known = false;
        for (int k = 0; k < 4 && whole; k++)
            if (!strcmp(base, binary[k][0])) {
                tk_reader r;
                tk_error err = {0};
                known = true;
                whole = tk_reader_begin(&r, bytes, len, path, binary[k][1], 1, binary[k][0], &err) == 0;
                if (!whole) printf("  %s\n", err.msg);
            }
        if (known || !whole) {
        } else if (ends_with(base, ".json")) {
            cJSON *doc = cJSON_Parse(text);
            whole = doc != NULL;
            cJSON_Delete(doc);
        } else if (ends_with(base, ".png")) {
            whole = len >= 12 && !memcmp(bytes + len - 8, "IEND\xae\x42\x60\x82", 8);
        } else if (ends_with(base, ".svg")) {
            whole = len >= 8 && strstr(text, "</svg>") != NULL;
        } else if (len > 0) {
            whole = text[len - 1] == '\n'; /* .csv, .md, .dat, .gp */
        }
        if (!whole) printf("  %s is partial but has a finished name\n", path), bad++;
        free(text), free(path);
    }
    free_names(names, n);
    return bad;
}

/* ---- the uninterrupted runs */

typedef struct reference {
    char *dir, *tree;
    long points; /* crash points one run passes */
    double seconds;
} reference;
static reference find_ref, study_ref;

static bool make_reference(command *c, reference *r) {
    if (r->dir) return r->points > 0;
    char name[64];
    snprintf(name, sizeof name, "%s-reference", c->name);
    r->dir = command_dir(c, name);
    r->tree = path_in(r->dir, c->tree);
    double t0 = tk_now();
    int status = run_in(c, r->dir, "0", 0);
    r->seconds = tk_now() - t0;
    char *text = output_of(r->dir);
    const char *count = text ? strstr(text, "TICKET_CRASH_AT: ") : NULL;
    r->points = status == 0 && count ? atol(count + strlen("TICKET_CRASH_AT: ")) : 0;
    if (r->points <= 0) printf("  the reference `ticket %s` failed (status %d):\n%s\n", c->name, status, text);
    free(text);
    return r->points > 0;
}

/* ---- 1. kill -9 anywhere */

/* A folder of an unfinished training run (checkpoint, no summary.json, at
 * most one evaluation logged: the checkpoint is before the last step, so a
 * resume writes it again), copied from a killed find run for the tests of
 * damage and full disks: *copy gets the store, *ckpt the checkpoint's path
 * relative to the command folder. */
static char *unfinished_copy, *unfinished_ckpt;

static int lines_in(const char *path) {
    char *text = read_whole_file(path, NULL);
    int n = 0;
    for (const char *s = text; s && *s; s++) n += *s == '\n';
    free(text);
    return n;
}

static void keep_if_unfinished(const command *c, const char *dir) {
    if (unfinished_copy || c != &find_cmd) return;
    char **names;
    int n = list_tree(dir, &names);
    for (int i = 0; i < n && !unfinished_copy; i++) {
        if (strcmp(base_name(names[i]), "checkpoint") || strncmp(names[i], "store/", 6)) continue;
        char run[PATH_MAX], summary[PATH_MAX + 32], metrics[PATH_MAX + 32];
        snprintf(run, sizeof run, "%s/%.*s", dir, (int)(base_name(names[i]) - names[i] - 1), names[i]);
        snprintf(summary, sizeof summary, "%s/summary.json", run);
        snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", run);
        if (tk_file_exists(summary) || lines_in(metrics) > 1) continue;
        unfinished_copy = path_in(root, "unfinished");
        unfinished_ckpt = strdup(names[i]);
        char *cmd;
        if (asprintf(&cmd, "rm -rf '%s' && mkdir '%s' && cp -a '%s/store' '%s/spec.json' '%s/'", unfinished_copy,
                     unfinished_copy, dir, dir, unfinished_copy) < 0 || run_capture(cmd, NULL) != 0)
            printf("  cannot copy %s\n", dir);
        free(cmd);
    }
    free_names(names, n);
}

/* Kills the command at `points` crash points; every again_every-th resume is killed too. */
static void kill_anywhere(command *c, reference *r, int points, int again_every, uint64_t seed) {
    CHECK(make_reference(c, r));
    if (r->points <= 0) return;
    double t0 = tk_now();
    int killed = 0, whole = 0, resumed = 0, killed_again = 0, partial_again = 0;
    for (int k = 0; k < points; k++) {
        /* One point in each k-th of the run, at a seeded place inside it. */
        double u = (double)(splitmix64(&seed) >> 11) / 9007199254740992.0;
        long at = 1 + (long)(((double)k + u) * (double)r->points / points);
        if (at > r->points) at = r->points;
        char name[64], crash_at[32];
        snprintf(name, sizeof name, "%s-kill-%02d", c->name, k);
        snprintf(crash_at, sizeof crash_at, "%ld", at);
        char *dir = command_dir(c, name), *tree = path_in(dir, c->tree);
        int status = run_in(c, dir, crash_at, 0);
        bool was_killed = status >= 0 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
        if (!was_killed) printf("  %s at crash point %ld of %ld: not killed (wait status %d)\n", c->name, at, r->points, status);
        killed += was_killed;
        int partial = partial_files(dir);
        whole += partial == 0;
        keep_if_unfinished(c, dir);
        if (k % again_every == again_every - 1) {
            /* Every other resume is killed too, early in its own points (where it
             * cuts metrics.jsonl back, notes its provenance, rewrites a file the
             * first kill cut short): resuming must survive being interrupted.
             * A resume with fewer points than that finishes instead. */
            snprintf(crash_at, sizeof crash_at, "%d", 1 + (int)(splitmix64(&seed) % 24));
            int again = run_in(c, dir, crash_at, 0);
            killed_again += again >= 0 && WIFSIGNALED(again) && WTERMSIG(again) == SIGKILL;
            int cut = partial_files(dir);
            if (cut) printf("  %s: the resume killed at its crash point %s left partial files\n", c->name, crash_at);
            partial_again += cut != 0;
        }
        bool same = exits_with(c, dir, 0, 0) && same_tree(tree, r->tree);
        if (!same) printf("  %s killed at crash point %ld of %ld did not resume to the reference\n", c->name, at, r->points);
        resumed += same;
        if (was_killed && partial == 0 && same) rm_rf(dir);
        free(dir), free(tree);
    }
    printf("  %s: %d crash points in a run of %.2f s; killed at %d of them (and %d of %d resumes killed again), %d "
           "left only whole files, %d resumed to the same bytes (%.1f s)\n",
           c->name, (int)r->points, r->seconds, killed, killed_again, points / again_every, whole, resumed, tk_now() - t0);
    CHECK(killed == points);
    CHECK(whole == points);
    CHECK(partial_again == 0);
    CHECK(resumed == points);
}

static void test_kill_find_anywhere(void) { kill_anywhere(&find_cmd, &find_ref, 24, 2, 20240914); }
static void test_kill_study_anywhere(void) { kill_anywhere(&study_cmd, &study_ref, 20, 4, 20240915); }

/* ---- 2. damaged files */

/* A copy of a command folder (its spec and tree) in root/name. */
static char *copy_of(const char *from, const char *name) {
    char *to = path_in(root, name), *cmd;
    rm_rf(to);
    if (asprintf(&cmd, "cp -a '%s' '%s' && rm -f '%s/log'", from, to, to) < 0 || run_capture(cmd, NULL) != 0)
        printf("  cannot copy %s\n", from);
    free(cmd);
    return to;
}

static void flip_byte(const char *path) {
    size_t n = 0;
    char *bytes = read_whole_file(path, &n);
    if (!bytes || n == 0) return;
    bytes[n / 2] ^= 0x20;
    write_file(path, bytes, n);
    free(bytes);
}

/* The file in dir is damaged (cut in half or one byte flipped); the command
 * must refuse it with exit 2, naming it, the damage and the CRC's offset. */
static void expect_refused(const command *c, const char *dir, const char *file, bool cut) {
    char *path = path_in(dir, file);
    if (cut) cut_file(path, 1, 2);
    else flip_byte(path);
    CHECK(exits_with(c, dir, 2, 0));
    char *text = output_of(dir);
    CHECK_CONTAINS(text, file);
    CHECK_CONTAINS(text, ": checksum mismatch: the file is corrupted (or truncated)");
    CHECK_CONTAINS(text, "stored at offset");
    free(text), free(path);
}

static void test_damaged_checkpoint(void) {
    CHECK(unfinished_copy != NULL); /* from test_kill_find_anywhere */
    if (!unfinished_copy) return;
    for (int cut = 0; cut < 2; cut++) {
        char *dir = copy_of(unfinished_copy, cut ? "checkpoint-cut" : "checkpoint-flipped");
        expect_refused(&find_cmd, dir, unfinished_ckpt, cut);
        /* As the message says: deleted, the step is done again, to the same bytes. */
        char *path = path_in(dir, unfinished_ckpt), *tree = path_in(dir, "store");
        unlink(path);
        CHECK(exits_with(&find_cmd, dir, 0, 0) && same_tree(tree, find_ref.tree));
        free(path), free(tree);
        rm_rf(dir), free(dir);
    }
}

static char *level_file(const char *hash_dir, int level, const char *name) {
    char *p;
    if (asprintf(&p, "store/%s/level_%02d/%s", hash_dir, level, name) < 0) abort();
    return p;
}

/* The run's hash: the one folder in the reference store. */
static const char *run_hash(void) {
    static char hash[64];
    char **names;
    int n = list_tree(find_ref.tree, &names);
    if (n) snprintf(hash, sizeof hash, "%.*s", (int)strcspn(names[0], "/"), names[0]);
    free_names(names, n);
    return hash;
}

static void test_damaged_mask_and_ticket(void) {
    CHECK(make_reference(&find_cmd, &find_ref));
    if (find_ref.points <= 0) return;
    const char *hash = run_hash();
    for (int cut = 0; cut < 2; cut++) {
        /* A finished run reads its masks back when rerun. */
        char *dir = copy_of(find_ref.dir, "mask"), *mask = level_file(hash, 1 + cut, "mask");
        expect_refused(&find_cmd, dir, mask, cut);
        rm_rf(dir), free(dir), free(mask);
        /* `ticket export` checks the ticket before it copies it. */
        dir = copy_of(find_ref.dir, "ticket");
        char *ticket = level_file(hash, 1 + cut, "ticket"), *run;
        if (asprintf(&run, "store/%s", hash) < 0) abort();
        char level[8];
        snprintf(level, sizeof level, "%d", 1 + cut);
        command export = {"export", "spec.json", find_spec, "store",
                          {"ticket", "export", run, "--level", level, "--out", "exported.tkt", NULL}};
        expect_refused(&export, dir, ticket, cut);
        char *exported = path_in(dir, "exported.tkt");
        CHECK(!tk_file_exists(exported));
        free(exported), free(run), free(ticket);
        rm_rf(dir), free(dir);
    }
}

/* A study's summary.json cut short: the job counts as done, so the report
 * must refuse it rather than leave its row out; deleted, it is redone. */
static void test_damaged_summary(void) {
    CHECK(make_reference(&study_cmd, &study_ref));
    if (study_ref.points <= 0) return;
    char *dir = copy_of(study_ref.dir, "summary"), *out = path_in(dir, "out");
    const char *rel = "out/transfer/six/four/s0/level_01/ticket/summary.json";
    char *path = path_in(dir, rel);
    CHECK(tk_file_exists(path));
    cut_file(path, 1, 2);
    CHECK(exits_with(&study_cmd, dir, 2, 0));
    char *text = output_of(dir);
    CHECK_CONTAINS(text, rel);
    CHECK_CONTAINS(text, "delete the file to re-evaluate the run");
    free(text);
    unlink(path);
    CHECK(exits_with(&study_cmd, dir, 0, 0) && same_tree(out, study_ref.tree));
    free(path), free(out);
    rm_rf(dir), free(dir);
}

/* ---- 3. full disks */

/* The output says which file, why (the errno text) and what to do. */
static void check_full_message(const char *dir, const char *file, const char *why) {
    char *text = output_of(dir);
    CHECK_CONTAINS(text, file);
    CHECK_CONTAINS(text, why);
    CHECK_CONTAINS(text, "free some space there (or choose another output folder) and run the same command again");
    free(text);
}

static long long size_of(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* Resuming an unfinished run with too little room for its next checkpoint. */
static void test_full_disk_checkpoint(void) {
    CHECK(unfinished_copy != NULL);
    if (!unfinished_copy) return;
    char *dir = copy_of(unfinished_copy, "full-checkpoint"), *ckpt = path_in(dir, unfinished_ckpt);
    char *tmp = NULL, *before = read_whole_file(ckpt, NULL), *tree = path_in(dir, "store");
    if (asprintf(&tmp, "%s.tmp", ckpt) < 0) abort();
    long long size = size_of(ckpt);
    CHECK(exits_with(&find_cmd, dir, 1, size - 1));
    check_full_message(dir, "checkpoint", strerror(EFBIG));
    char *text = output_of(dir);
    CHECK_CONTAINS(text, "the previous file is as it was");
    free(text);
    char *after = read_whole_file(ckpt, NULL);
    CHECK(before && after && size_of(ckpt) == size && !memcmp(before, after, (size_t)size));
    CHECK(!tk_file_exists(tmp));
    CHECK(exits_with(&find_cmd, dir, 0, 0) && same_tree(tree, find_ref.tree));
    free(after), free(before), free(tmp), free(ckpt), free(tree);
    rm_rf(dir), free(dir);
}

/* A level whose ticket was not written yet: no room for it, then room. An
 * exported ticket is not replaced by a write that fails. */
static void test_full_disk_ticket(void) {
    CHECK(make_reference(&find_cmd, &find_ref));
    if (find_ref.points <= 0) return;
    char *dir = copy_of(find_ref.dir, "full-ticket"), *rel = level_file(run_hash(), 2, "ticket");
    char *ticket = path_in(dir, rel), *tree = path_in(dir, "store"), *tmp;
    if (asprintf(&tmp, "%s.tmp", ticket) < 0) abort();
    long long size = size_of(ticket);
    unlink(ticket);
    CHECK(exits_with(&find_cmd, dir, 1, size - 1));
    check_full_message(dir, rel, strerror(EFBIG));
    CHECK(!tk_file_exists(ticket) && !tk_file_exists(tmp));
    CHECK(exits_with(&find_cmd, dir, 0, 0) && same_tree(tree, find_ref.tree));

    char *run, *exported = path_in(dir, "exported.tkt"), *rel1 = level_file(run_hash(), 1, "ticket");
    char *level1 = path_in(dir, rel1);
    if (asprintf(&run, "store/%s", run_hash()) < 0) abort();
    command export1 = {"export", "spec.json", find_spec, "store",
                       {"ticket", "export", run, "--level", "1", "--out", "exported.tkt", NULL}};
    command export2 = export1;
    export2.args[4] = "2";
    CHECK(exits_with(&export1, dir, 0, 0));
    CHECK(exits_with(&export2, dir, 1, size - 1));
    check_full_message(dir, "exported.tkt", strerror(EFBIG));
    CHECK(same_bytes(exported, level1));
    free(run), free(exported), free(level1), free(rel1), free(tmp), free(ticket), free(tree), free(rel);
    rm_rf(dir), free(dir);
}

/* A study's report rewritten with no room for its files: the previous report stays, whole. */
static void test_full_disk_report(void) {
    CHECK(make_reference(&study_cmd, &study_ref));
    if (study_ref.points <= 0) return;
    char *dir = copy_of(study_ref.dir, "full-report"), *out = path_in(dir, "out");
    command report = {"report", "study.json", study_spec, "out", {"ticket", "report", "out", NULL}};
    /* The tables do not fit (the limit leaves room for the log). */
    CHECK(exits_with(&report, dir, 1, 1024));
    check_full_message(dir, "out/report/", strerror(EFBIG));
    CHECK(same_tree(out, study_ref.tree));
    /* The tables fit, the figures do not: gnuplot does not say so, the report
     * does, and keeps the previous figures (report.md says they failed). */
    CHECK(exits_with(&report, dir, 1, 20000));
    char *text = output_of(dir);
    CHECK_CONTAINS(text, "ends before its last chunk (IEND): the disk may be full; free some space");
    free(text);
    char **names;
    int n = list_tree(out, &names), figures = 0;
    for (int i = 0; i < n; i++) {
        if (!ends_with(names[i], ".png") && !ends_with(names[i], ".svg")) continue;
        char *a = path_in(out, names[i]), *b = path_in(study_ref.tree, names[i]);
        CHECK(!strstr(names[i], ".tmp") && same_bytes(a, b));
        figures++;
        free(a), free(b);
    }
    free_names(names, n);
    CHECK(figures == 8); /* accuracy, transfer matrix, layer density, training curves */
    CHECK(partial_files(out) == 0);
    CHECK(exits_with(&report, dir, 0, 0) && same_tree(out, study_ref.tree));
    CHECK(exits_with(&study_cmd, dir, 0, 0) && same_tree(out, study_ref.tree));
    free(out);
    rm_rf(dir), free(dir);
}

/* A study run out of room: the worker's job fails with the message, the
 * jobs after it are not started, and the rerun with room completes. */
static void test_full_disk_study(void) {
    CHECK(make_reference(&study_cmd, &study_ref));
    if (study_ref.points <= 0) return;
    char *dir = command_dir(&study_cmd, "full-study"), *out = path_in(dir, "out");
    CHECK(exits_with(&study_cmd, dir, 1, 20000)); /* a checkpoint is about 30 kB */
    check_full_message(dir, "out/runs/", strerror(EFBIG));
    char *text = output_of(dir);
    CHECK_CONTAINS(text, "ticket study: ");
    CHECK_CONTAINS(text, " failed");
    free(text);
    CHECK(partial_files(out) == 0);
    CHECK(exits_with(&study_cmd, dir, 0, 0) && same_tree(out, study_ref.tree));
    free(out);
    rm_rf(dir), free(dir);
}

/* In a child with a mount namespace of its own: the tmpfs goes away with
 * it, whatever happens. Exit status: the failed checks, or 77 when it could
 * not mount (not root, or no CAP_SYS_ADMIN in a container). */
static void real_full_disk(const char *mnt) {
    if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("tmpfs", mnt, "tmpfs", 0, "size=2m") != 0) {
        printf("  skipped: cannot mount a tmpfs (%s); as root outside a restricted container it runs\n",
               strerror(errno));
        fflush(stdout);
        _exit(77);
    }
    char *dir = path_in(mnt, "run"), *cmd;
    if (asprintf(&cmd, "cp -a '%s' '%s'", unfinished_copy, dir) < 0 || run_capture(cmd, NULL) != 0)
        printf("  cannot copy into the tmpfs\n"), check_failures_in_test++;
    free(cmd);
    /* The log outside the full filesystem, or the message could not be written. */
    char *log = path_in(dir, "log"), *outside = path_in(root, "tmpfs.log");
    if (symlink(outside, log) != 0) printf("  cannot link %s\n", log), check_failures_in_test++;
    free(log), free(outside);
    char *ckpt = path_in(dir, unfinished_ckpt), *before = read_whole_file(ckpt, NULL), *tree = path_in(dir, "store");
    long long size = size_of(ckpt);
    /* Fill what is left. */
    char *filler = path_in(mnt, "filler");
    int fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    static char block[4096];
    while (fd >= 0 && write(fd, block, sizeof block) > 0) {
    }
    while (fd >= 0 && write(fd, block, 1) > 0) {
    }
    if (fd >= 0) close(fd);
    CHECK(exits_with(&find_cmd, dir, 1, 0));
    check_full_message(dir, "store/", strerror(ENOSPC));
    char *after = read_whole_file(ckpt, NULL);
    CHECK(before && after && size_of(ckpt) == size && !memcmp(before, after, (size_t)size));
    unlink(filler);
    CHECK(exits_with(&find_cmd, dir, 0, 0) && same_tree(tree, find_ref.tree));
    free(after), free(before), free(ckpt), free(tree), free(filler), free(dir);
    umount2(mnt, MNT_DETACH);
    fflush(stdout);
    _exit(check_failures_in_test > 100 ? 100 : check_failures_in_test);
}

static void test_full_disk_tmpfs(void) {
    CHECK(unfinished_copy != NULL);
    if (!unfinished_copy) return;
    if (geteuid() != 0) {
        printf("  skipped: a tmpfs needs root (the RLIMIT_FSIZE tests above cover the same paths with EFBIG)\n");
        return;
    }
    char *mnt = path_in(root, "tmpfs");
    mkdir(mnt, 0755);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) real_full_disk(mnt);
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status));
    if (WIFEXITED(status) && WEXITSTATUS(status) != 77) check_failures_in_test += WEXITSTATUS(status);
    /* The mount was the child's; here the folder is an empty one. */
    CHECK(rmdir(mnt) == 0);
    free(mnt);
}

int main(void) {
    find_cmd.spec = find_spec, study_cmd.spec = study_spec;
    char cwd[PATH_MAX];
    if (!getenv("TICKET_PLOTS") && getcwd(cwd, sizeof cwd)) {
        char *plots = path_in(cwd, "plots"); /* the scripts under test */
        setenv("TICKET_PLOTS", plots, 1);
        free(plots);
    }
    unsetenv("TICKET_CRASH_AT");
    /* Some hundred runs, each fsyncing every file it writes: on a tmpfs, where
     * fsync costs nothing, unless TMPDIR says otherwise. What a SIGKILL leaves
     * is the page cache, the same on any filesystem; the kills come at exact
     * points, not after delays, so speed changes nothing that is tested. */
    struct stat st;
    if (!getenv("TMPDIR") && stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0)
        setenv("TMPDIR", "/dev/shm", 1);
    root = test_tmpdir("durability");
    RUN(test_kill_find_anywhere);
    RUN(test_kill_study_anywhere);
    RUN(test_damaged_checkpoint);
    RUN(test_damaged_mask_and_ticket);
    RUN(test_damaged_summary);
    RUN(test_full_disk_checkpoint);
    RUN(test_full_disk_ticket);
    RUN(test_full_disk_report);
    RUN(test_full_disk_study);
    RUN(test_full_disk_tmpfs);
    rm_rf(root);
    free(root);
    CHECK_MAIN_END();
}

/* test_train.c - the trainer end to end on a tiny learnable IDX dataset:
 * the same config gives the same bytes, a run killed mid-way (in-process and
 * the real binary under SIGKILL) resumes to the bytes of a run that never
 * stopped, a finished run is not touched again, training learns, and
 * config.json round-trips and rejects bad files with a useful message. */
#define _GNU_SOURCE
#include "check.h"
#include "tk_file.h"
#include "tk_train.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Holds data/mnist (the tiny dataset, found through TICKET_DATA) and the runs. */
static char *root;

/* A fresh run directory under root (removed first if a retry left one). */
static char *run_dir(const char *name) {
    char *dir = path_in(root, name);
    rm_rf(dir);
    return dir;
}

/* Short runs on the 8x8 dataset: batch 30 of 600 examples = 20 iterations per epoch. */
static tk_train_config small_config(const char *model, float width, int iterations) {
    tk_train_config c;
    tk_error err = {0};
    if (tk_train_defaults(model, &c, &err)) {
        printf("  %s\nFAIL small_config\n", err.msg);
        exit(1);
    }
    c.width = width;
    snprintf(c.dataset, sizeof c.dataset, "mnist");
    c.batch = 30;
    c.length = (tk_duration){0, iterations};
    c.eval_every = (tk_duration){0, 10};
    c.checkpoint_every = (tk_duration){0, 3};
    c.threads = 1;
    return c;
}

static int train(const tk_train_config *c, const char *dir, tk_train_result *r) {
    tk_error err = {0};
    int rc = tk_train_run(c, dir, TK_PROGRESS_NONE, r, &err);
    if (rc) printf("  training in %s failed: %s\n", dir, err.msg);
    return rc;
}

/* True when dir_a/name and dir_b/name both exist, are non-empty and hold the same bytes. */
static bool same_file(const char *dir_a, const char *dir_b, const char *name) {
    char *pa = path_in(dir_a, name), *pb = path_in(dir_b, name);
    bool same = same_bytes(pa, pb);
    free(pa), free(pb);
    return same;
}

static int count_lines(const char *dir, const char *name) {
    char *p = path_in(dir, name);
    char *text = read_whole_file(p, NULL);
    int n = 0;
    for (const char *s = text; s && *s; s++) n += *s == '\n';
    free(text), free(p);
    return n;
}

static bool exists_in(const char *dir, const char *name) {
    char *p = path_in(dir, name);
    bool e = tk_file_exists(p);
    free(p);
    return e;
}

static uint64_t le(const uint8_t *p, int bytes) {
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* The step stored in dir/checkpoint, read by walking the header laid out in
 * tk_checkpoint.h; -1 when there is no (complete) checkpoint. */
static int64_t checkpoint_step(const char *dir) {
    char *p = path_in(dir, "checkpoint");
    size_t n = 0;
    uint8_t *d = (uint8_t *)read_whole_file(p, &n);
    free(p);
    int64_t step = -1;
    size_t at = 8; /* magic, version */
#define NEED(k) if (!d || at + (k) > n) goto done
    NEED(4);
    at += 4 + le(d + at, 4); /* model name */
    at += 4 + 16;            /* width, C H W classes */
    NEED(4);
    uint64_t tensors = le(d + at, 4);
    at += 4;
    for (uint64_t i = 0; i < tensors; i++) {
        NEED(4);
        at += 4 + le(d + at, 4) + 8; /* name, count */
    }
    at += 3 * 8; /* n_params, n_prunable, n_state */
    NEED(8);
    step = (int64_t)le(d + at, 8);
#undef NEED
done:
    free(d);
    return step;
}

static bool same_result(const tk_train_result *a, const tk_train_result *b) {
    return a->iterations == b->iterations && a->final_accuracy == b->final_accuracy &&
           a->final_loss == b->final_loss && a->best_accuracy == b->best_accuracy &&
           a->best_iteration == b->best_iteration && a->early_stop_iteration == b->early_stop_iteration;
}

/* (a) Two runs of one config in two directories write the same bytes; a
 * third with another seed does not, so the comparison can tell. */
static void check_deterministic(tk_train_config c, const char *tag) {
    char name[64];
    snprintf(name, sizeof name, "det-%s-a", tag);
    char *a = run_dir(name);
    snprintf(name, sizeof name, "det-%s-b", tag);
    char *b = run_dir(name);
    snprintf(name, sizeof name, "det-%s-seed", tag);
    char *other = run_dir(name);
    tk_train_result ra, rb, rs;
    CHECK(train(&c, a, &ra) == 0);
    CHECK(train(&c, b, &rb) == 0);
    CHECK(same_file(a, b, "checkpoint"));
    CHECK(same_file(a, b, "metrics.jsonl"));
    CHECK(same_file(a, b, "config.json"));
    CHECK(same_result(&ra, &rb));
    CHECK(ra.iterations == tk_duration_iters(c.length, 0));
    CHECK(count_lines(a, "metrics.jsonl") == (int)(c.length.iterations / c.eval_every.iterations));
    c.seed++;
    CHECK(train(&c, other, &rs) == 0);
    size_t na = 0, ns = 0;
    char *pa = path_in(a, "checkpoint"), *ps = path_in(other, "checkpoint");
    char *ca = read_whole_file(pa, &na), *cs = read_whole_file(ps, &ns);
    CHECK(ca && cs && na == ns && memcmp(ca, cs, na) != 0);
    free(ca), free(cs), free(pa), free(ps);
    free(a), free(b), free(other);
}

static void test_same_config_same_bytes(void) {
    check_deterministic(small_config("lenet_300_100", 0.25f, 60), "lenet");
    /* conv2 on 1x8x8 through im2col + GEMM, with two BLAS threads (the default). */
    tk_train_config c = small_config("conv2", 0.125f, 30);
    c.threads = 2;
    check_deterministic(c, "conv2");
}

/* (b) A run killed mid-way (here: a forked child calling the library, killed
 * once its checkpoint passes a step) and resumed in-process ends with the
 * same checkpoint and metrics as a run that never stopped. resnet20 has batch
 * norm, so its running statistics must be restored too. */
static void test_resume_after_kill_matches(void) {
    tk_train_config c = small_config("resnet20", 0.25f, 30);
    c.checkpoint_every = (tk_duration){0, 2};
    c.eval_every = (tk_duration){0, 5};
    char *killed = run_dir("resume-killed"), *whole = run_dir("resume-whole");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        tk_train_result r;
        _exit(train(&c, killed, &r) ? 1 : 0);
    }
    CHECK(pid > 0);
    if (pid <= 0) return;
    int status = 0;
    pid_t reaped = 0;
    double t0 = tk_now();
    while (checkpoint_step(killed) < 10 && (reaped = waitpid(pid, &status, WNOHANG)) == 0 && tk_now() - t0 < 60)
        usleep(500);
    if (reaped == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    int64_t step = checkpoint_step(killed);
    /* The kill must land before the end, or this test resumes nothing. */
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    CHECK(step >= 10 && step < 30);
    CHECK(!exists_in(killed, "summary.json"));
    tk_train_result resumed, uninterrupted;
    CHECK(train(&c, killed, &resumed) == 0);
    CHECK(train(&c, whole, &uninterrupted) == 0);
    CHECK(same_file(killed, whole, "checkpoint"));
    CHECK(same_file(killed, whole, "metrics.jsonl"));
    CHECK(same_result(&resumed, &uninterrupted));
    CHECK(checkpoint_step(whole) == 30);
    free(killed), free(whole);
}

/* ---- the real binary under SIGKILL */

/* summary.json without the lines that depend on the wall clock. */
static char *summary_without_timing(const char *dir) {
    char *p = path_in(dir, "summary.json");
    char *text = read_whole_file(p, NULL);
    free(p);
    if (!text) return NULL;
    char *out = malloc(strlen(text) + 1), *o = out;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
        if (!strstr(line, "second")) o += sprintf(o, "%s\n", line);
    free(text);
    return out;
}

/* Acceptance: a run killed with SIGKILL at a random iteration and resumed
 * ends with weights byte-identical to a run that never stopped. Checkpoints
 * every 3 iterations and evaluations every 4 mean the kill often lands with
 * metrics.jsonl ahead of the checkpoint, which resume must cut back. */
static void test_sigkill_then_resume_is_bit_exact(void) {
    const char *bin = ticket_bin();
    CHECK(bin != NULL);
    if (!bin) return;
    enum { TOTAL = 400 };
    char *whole = run_dir("kill-whole");
    char *log = path_in(root, "kill.log");
#define TRAIN_ARGS(dir)                                                                                        \
    (char *[]) {                                                                                               \
        "ticket", "train", "--model", "lenet_300_100", "--width", "0.25", "--dataset", "mnist", "--iterations", \
            "400", "--batch", "30", "--threads", "1", "--checkpoint-every", "3it", "--eval-every", "4it",      \
            "--quiet", "--out", (dir), NULL                                                                    \
    }
    double t0 = tk_now();
    CHECK(run_ticket(TRAIN_ARGS(whole), log) == 0);
    double seconds = tk_now() - t0;
    CHECK(checkpoint_step(whole) == TOTAL);
    char *whole_summary = summary_without_timing(whole);
    uint64_t rng = 20240601;
    for (int k = 0; k < 3; k++) {
        char name[32];
        snprintf(name, sizeof name, "kill-%d", k);
        char *dir = path_in(root, name);
        /* A fixed-seed fraction of the measured run time, one in each of
         * [0.1, 0.35), [0.35, 0.6) and [0.6, 0.85), so the kills land early,
         * mid-way and late on a fast or a slow machine alike. */
        double u = (double)(splitmix64(&rng) >> 11) / 9007199254740992.0;
        double delay = seconds * (0.1 + 0.25 * k + 0.25 * u);
        int status = 0;
        int64_t step = -1;
        for (int attempt = 0; attempt < 8; attempt++) {
            rm_rf(dir);
            pid_t pid = spawn_ticket(TRAIN_ARGS(dir), log);
            CHECK(pid > 0);
            if (pid <= 0) break;
            struct timespec ts = {(time_t)delay, (long)((delay - (double)(time_t)delay) * 1e9)};
            nanosleep(&ts, NULL);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            step = checkpoint_step(dir);
            if (WIFEXITED(status) || step >= TOTAL) delay *= 0.5; /* finished first: kill sooner */
            else if (step <= 0) delay = delay * 1.5 + 0.005; /* before the first checkpoint: later */
            else break;
        }
        int ahead = count_lines(dir, "metrics.jsonl") - (int)(step / 4);
        printf("  kill %d: after %.0f ms of a %.0f ms run, checkpoint at step %lld of %d, %d evaluation(s) "
               "past it in metrics.jsonl\n", k, delay * 1e3, seconds * 1e3, (long long)step, TOTAL, ahead);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        CHECK(step > 0 && step < TOTAL);
        CHECK(!exists_in(dir, "summary.json"));
        if (k > 0) {
            /* Whatever this kill left, add what a kill just after an
             * evaluation (k = 1) or while writing its line (k = 2) leaves:
             * metrics.jsonl ahead of the checkpoint, which resume must cut. */
            char *p = path_in(dir, "metrics.jsonl");
            FILE *f = fopen(p, "a");
            CHECK(f != NULL);
            if (f) {
                fprintf(f, "{\"iteration\": %lld, \"epoch\": 0, \"test_accuracy\": 0}\n", (long long)step + 1);
                if (k == 2) fprintf(f, "{\"iteration\": %lld, \"ep", (long long)step + 2);
                fclose(f);
            }
            free(p);
        }
        CHECK(run_ticket((char *[]){"ticket", "train", "--resume", dir, "--quiet", NULL}, log) == 0);
        CHECK(same_file(dir, whole, "checkpoint"));
        CHECK(same_file(dir, whole, "metrics.jsonl"));
        char *summary = summary_without_timing(dir);
        CHECK(summary && whole_summary && !strcmp(summary, whole_summary));
        free(summary);
        free(dir);
    }
#undef TRAIN_ARGS
    free(whole_summary);
    free(whole), free(log);
}

/* ---- finished runs, learning */

static const char *const run_files[] = {"config.json", "checkpoint", "metrics.jsonl", "summary.json"};

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n++;
    if (d) closedir(d);
    return n;
}

/* (c) Calling the trainer on a finished run returns the stored summary and
 * writes nothing: every file keeps its bytes and its (back-dated) mtime. */
static void test_finished_run_is_skipped(void) {
    tk_train_config c = small_config("lenet_300_100", 0.25f, 20);
    char *dir = run_dir("finished");
    tk_train_result first, again;
    CHECK(train(&c, dir, &first) == 0);
    char *before[4];
    size_t len[4];
    const struct timespec old = {978307200, 123456789}; /* 2001-01-01, nothing writes that */
    for (int i = 0; i < 4; i++) {
        char *p = path_in(dir, run_files[i]);
        before[i] = read_whole_file(p, &len[i]);
        CHECK(before[i] != NULL);
        CHECK(utimensat(AT_FDCWD, p, (struct timespec[]){old, old}, 0) == 0);
        free(p);
    }
    int entries = count_entries(dir);
    CHECK(train(&c, dir, &again) == 0);
    CHECK(same_result(&first, &again));
    CHECK(again.iterations == 20);
    CHECK(count_entries(dir) == entries);
    for (int i = 0; i < 4; i++) {
        char *p = path_in(dir, run_files[i]);
        struct stat st;
        CHECK(stat(p, &st) == 0 && st.st_mtim.tv_sec == old.tv_sec && st.st_mtim.tv_nsec == old.tv_nsec);
        size_t n = 0;
        char *now = read_whole_file(p, &n);
        CHECK(now && before[i] && n == len[i] && !memcmp(now, before[i], n));
        free(now), free(before[i]), free(p);
    }
    /* The directory belongs to that config: another one is refused, and says how to continue. */
    tk_train_config other = c;
    other.optim.lr *= 2;
    tk_error err = {0};
    CHECK(tk_train_run(&other, dir, TK_PROGRESS_NONE, &again, &err) != 0);
    CHECK_CONTAINS(err.msg, "other hyper-parameters");
    CHECK_CONTAINS(err.msg, "--resume");
    free(dir);
}

/* (d) On the tiny dataset the network gets far above chance (10%), and
 * best / early-stopping iterations are sane when a validation split exists. */
static void test_learns_tiny_dataset(void) {
    tk_train_config c = small_config("lenet_300_100", 0.25f, 100);
    c.val_size = 60;
    c.eval_every = (tk_duration){0, 20};
    char *dir = run_dir("learn");
    tk_train_result r;
    CHECK(train(&c, dir, &r) == 0);
    printf("  final accuracy %.3f, loss %.3f; best %.3f at iteration %lld; early stop at %lld\n",
           (double)r.final_accuracy, (double)r.final_loss, (double)r.best_accuracy, (long long)r.best_iteration,
           (long long)r.early_stop_iteration);
    CHECK(r.final_accuracy > 0.8f);
    CHECK(r.final_loss < 1.0f); /* chance is ln 10 = 2.30 */
    CHECK(r.best_accuracy >= r.final_accuracy);
    CHECK(r.best_iteration >= 20 && r.best_iteration <= 100 && r.best_iteration % 20 == 0);
    CHECK(r.early_stop_iteration >= 20 && r.early_stop_iteration <= 100 && r.early_stop_iteration % 20 == 0);
    char *p = path_in(dir, "metrics.jsonl");
    char *metrics = read_whole_file(p, NULL);
    CHECK_CONTAINS(metrics, "\"val_loss\"");
    CHECK_CONTAINS(metrics, "{\"iteration\": 100, \"epoch\": 5.55556,"); /* 540 training examples / 30 = 18 per epoch */
    free(metrics), free(p), free(dir);
}

/* ---- config.json */

static void test_config_json_round_trip(void) {
    tk_train_config c = small_config("resnet20", 0.375f, 0);
    c.length = (tk_duration){3, 7};
    c.optim.nesterov = true;
    c.optim.weight_decay = 5e-4f;
    c.schedule = TK_SCHEDULE_MULTISTEP;
    c.milestones[0] = (tk_duration){2, 0};
    c.milestones[1] = (tk_duration){5, 10};
    c.milestones[2] = (tk_duration){0, 70};
    c.n_milestones = 3;
    c.gamma = 0.2f;
    c.warmup = (tk_duration){0, 3};
    c.val_size = 50;
    c.seed = 12345678901ull;
    c.threads = 3;
    char *text = tk_train_config_to_json(&c);
    tk_train_config back;
    tk_error err = {0};
    CHECK(tk_train_config_from_json(text, "config.json", &back, &err) == 0);
    char *again = tk_train_config_to_json(&back);
    CHECK(text && again && !strcmp(text, again));
    CHECK(!strcmp(back.model, "resnet20") && !strcmp(back.dataset, "mnist"));
    CHECK(back.width == 0.375f && back.optim.kind == TK_OPTIM_SGD && back.optim.nesterov);
    CHECK(back.optim.lr == c.optim.lr && back.optim.momentum == c.optim.momentum &&
          back.optim.weight_decay == c.optim.weight_decay);
    CHECK(back.n_milestones == 3 && back.milestones[1].epochs == 5 && back.milestones[1].iterations == 10 &&
          back.milestones[2].iterations == 70);
    CHECK(back.length.epochs == 3 && back.length.iterations == 7 && back.warmup.iterations == 3);
    CHECK(back.gamma == 0.2f && back.batch == 30 && back.val_size == 50 && back.threads == 3);
    CHECK(back.seed == 12345678901ull);
    CHECK(back.eval_every.iterations == 10 && back.checkpoint_every.iterations == 3);
    free(text), free(again);

    /* Keys left out take the model's defaults. */
    CHECK(tk_train_config_from_json("{\"model\": \"conv2\", \"dataset\": \"mnist\"}", "c.json", &back, &err) == 0);
    tk_train_config d;
    CHECK(tk_train_defaults("conv2", &d, &err) == 0);
    CHECK(back.optim.kind == d.optim.kind && back.optim.lr == d.optim.lr && back.batch == d.batch &&
          back.length.epochs == d.length.epochs);
}

static void expect_json_error(const char *json, const char *a, const char *b) {
    tk_train_config c;
    tk_error err = {0};
    CHECK(tk_train_config_from_json(json, "runs/x/config.json", &c, &err) != 0);
    CHECK_CONTAINS(err.msg, "runs/x/config.json");
    CHECK_CONTAINS(err.msg, a);
    if (b) CHECK_CONTAINS(err.msg, b);
}

static void test_config_json_errors(void) {
    expect_json_error("{\"model\": \"lenet_300_100\", \"widht\": 0.5}", "unknown key 'widht'",
                      "did you mean 'width'");
    expect_json_error("{\"model\": \"lenet_300_100\", \"eval_evry\": \"1ep\"}", "unknown key 'eval_evry'",
                      "did you mean 'eval_every'");
    expect_json_error("{\"model\": \"lenet_300_100\", \"batch\": \"sixty\"}", "key 'batch' must be a whole number in [0, 1073741824], not \"sixty\"", NULL);
    expect_json_error("{\"model\": \"lenet_300_100\", \"nesterov\": 1}", "'nesterov' must be true or false", NULL);
    expect_json_error("{\"model\": \"lenet_300_100\", \"length\": 20}", "'length' must be a duration", NULL);
    expect_json_error("{\"model\": \"lenet_300_100\", \"length\": \"20 epochs\"}", "'length'", "valid forms");
    expect_json_error("{\"model\": \"lenet_300_100\", \"lr\": -0.001}", "lr must be a positive number", "-0.001");
    expect_json_error("{\"model\": \"lenet_300_100\", \"optimizer\": \"adma\"}", "unknown optimizer 'adma'",
                      "did you mean 'adam'");
    expect_json_error("{\"model\": \"lenet\"}", "unknown model 'lenet'", "did you mean 'lenet_300_100'");
    expect_json_error("{\"width\": 0.5}", "missing required key 'model' (the model's name, see `ticket models`)", NULL);
    expect_json_error("{\"model\": \"lenet_300_100\",", "not valid JSON", NULL);
}

/* Integer keys given a fraction or a value out of range must be rejected,
 * naming the key: a fractional batch must not silently become another, and a
 * seed that config.json could not keep exact is refused up front. */
static void test_config_json_integer_keys(void) {
    expect_json_error("{\"model\": \"lenet_300_100\", \"batch\": 30.5}", "'batch'", NULL);
    expect_json_error("{\"model\": \"lenet_300_100\", \"threads\": 1e12}", "threads", NULL);
    tk_train_config c = small_config("lenet_300_100", 1, 10), back;
    c.seed = (1ull << 53) + 1;
    char *text = tk_train_config_to_json(&c);
    tk_error err = {0};
    int rc = tk_train_config_from_json(text, "config.json", &back, &err);
    /* Either the seed survives the round trip or it is refused up front. */
    CHECK(rc != 0 || back.seed == c.seed);
    free(text);
}

int main(void) {
    root = test_tmpdir("train");
    write_idx_dataset(root, 600, 200, 8, 8, 10, 7);
    setenv("TICKET_DATA", root, 1);
    RUN(test_resume_after_kill_matches); /* first: it forks, best before BLAS threads exist */
    RUN(test_same_config_same_bytes);
    RUN(test_sigkill_then_resume_is_bit_exact);
    RUN(test_finished_run_is_skipped);
    RUN(test_learns_tiny_dataset);
    RUN(test_config_json_round_trip);
    RUN(test_config_json_errors);
    RUN(test_config_json_integer_keys);
    rm_rf(root);
    CHECK_MAIN_END();
}

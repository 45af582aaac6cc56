/* test_scheduler.c - the worker pool on toy graphs whose jobs write marker
 * files: dependency order, skipping, failures and blocking, cycles, the
 * order among ready jobs, progress output, SIGTERM, and kill-then-rerun. */
#define _GNU_SOURCE
#include "check.h"
#include "tk_file.h"
#include "tk_scheduler.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { MAX_JOBS = 16, MAX_DEPS = 4 };

/* A toy graph: job j waits for deps[j][0..] (ended by -1) and writes
 * DIR/jNN atomically when it finishes, DIR/sNN when it starts. */
typedef struct toy {
    const char *dir;
    int n;
    int deps[MAX_JOBS][MAX_DEPS];
    double cost[MAX_JOBS]; /* 0: the callback is not given */
    int sleep_ms;
    int fail_job, crash_job, forget_job; /* -1: none */
} toy;

/* The diamonds: 0 -> {1, 2} -> 3 -> {4, 5, 6} -> 7; 8 alone; 9 <- {8, 3};
 * 10 <- {7, 9}; 11 <- 10. */
static toy diamonds(const char *dir, int sleep_ms) {
    toy t = {.dir = dir, .n = 12, .sleep_ms = sleep_ms, .fail_job = -1, .crash_job = -1, .forget_job = -1};
    static const int deps[12][MAX_DEPS] = {
        {-1}, {0, -1}, {0, -1}, {1, 2, -1}, {3, -1}, {3, -1}, {3, -1}, {4, 5, 6, -1}, {-1}, {8, 3, -1}, {7, 9, -1},
        {10, -1}};
    memcpy(t.deps, deps, sizeof deps);
    return t;
}

static void path_of(const toy *t, char kind, int j, char *out, size_t cap) {
    snprintf(out, cap, "%s/%c%02d", t->dir, kind, j);
}

static int toy_n_deps(void *ctx, int j) {
    const toy *t = ctx;
    int k = 0;
    while (k < MAX_DEPS && t->deps[j][k] >= 0) k++;
    return k;
}
static int toy_dep(void *ctx, int j, int i) { return ((const toy *)ctx)->deps[j][i]; }
static bool toy_done(void *ctx, int j) {
    char path[512];
    path_of(ctx, 'j', j, path, sizeof path);
    return tk_file_exists(path);
}
static double toy_cost(void *ctx, int j) { return ((const toy *)ctx)->cost[j]; }
static const char *toy_label(void *ctx, int j, char *buf, size_t cap) {
    (void)ctx;
    snprintf(buf, cap, "toy/%02d", j);
    return buf;
}

static int toy_run(void *ctx, int j, int threads, tk_error *err) {
    const toy *t = ctx;
    double start = tk_now();
    char path[512];
    path_of(t, 's', j, path, sizeof path);
    write_file(path, "", 0);
    for (int k = 0; k < toy_n_deps(ctx, j); k++)
        if (!toy_done(ctx, t->deps[j][k]))
            return tk_fail(err, "toy/%02d started before its dependency toy/%02d finished", j, t->deps[j][k]);
    if (j == t->fail_job) return tk_fail(err, "boom in toy/%02d", j);
    if (j == t->crash_job) raise(SIGKILL);
    if (j == t->forget_job) return 0;
    struct timespec ts = {t->sleep_ms / 1000, (long)(t->sleep_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    char text[160];
    int len = snprintf(text, sizeof text, "job=%d start=%.6f end=%.6f threads=%d pid=%d\n", j, start, tk_now(),
                       threads, (int)getpid());
    path_of(t, 'j', j, path, sizeof path);
    return tk_file_write_atomic(path, text, (size_t)len, err);
}

static tk_job_graph graph_of(toy *t) {
    bool costs = false;
    for (int j = 0; j < t->n; j++) costs |= t->cost[j] != 0;
    return (tk_job_graph){.n_jobs = t->n, .ctx = t, .n_deps = toy_n_deps, .dep = toy_dep, .done = toy_done,
                          .cost = costs ? toy_cost : NULL, .label = toy_label, .run = toy_run};
}

/* Runs the scheduler with stdout and stderr going to DIR/log, which is returned (malloc'd). */
static int run_logged(toy *t, int workers, int threads, bool tty, tk_error *err, char **log) {
    char path[512];
    snprintf(path, sizeof path, "%s/log", t->dir);
    fflush(stdout), fflush(stderr);
    int saved_out = dup(1), saved_err = dup(2), fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || saved_out < 0 || saved_err < 0) return -2;
    dup2(fd, 1), dup2(fd, 2), close(fd);
    tk_job_graph g = graph_of(t);
    err->msg[0] = 0;
    int rc = tk_scheduler_run(&g, workers, threads, tty, err);
    fflush(stdout), fflush(stderr);
    dup2(saved_out, 1), dup2(saved_err, 2), close(saved_out), close(saved_err);
    char *text = read_whole_file(path, NULL);
    if (log) *log = text;
    else free(text);
    return rc;
}

typedef struct marker {
    bool ok;
    int job, threads, pid;
    double start, end;
    char text[160];
} marker;

static marker read_marker(const toy *t, int j) {
    marker m = {0};
    char path[512];
    path_of(t, 'j', j, path, sizeof path);
    char *text = read_whole_file(path, NULL);
    if (!text) return m;
    snprintf(m.text, sizeof m.text, "%s", text);
    m.ok = sscanf(text, "job=%d start=%lf end=%lf threads=%d pid=%d\n", &m.job, &m.start, &m.end, &m.threads,
                  &m.pid) == 5 && m.job == j;
    free(text);
    return m;
}

static int count_markers(const toy *t) {
    int n = 0;
    for (int j = 0; j < t->n; j++) n += toy_done((void *)t, j);
    return n;
}

/* Every job started after each of its dependencies finished (the times are
 * CLOCK_MONOTONIC, shared by all processes). */
static void check_dependency_order(const toy *t) {
    for (int j = 0; j < t->n; j++) {
        marker m = read_marker(t, j);
        CHECK(m.ok);
        for (int k = 0; k < toy_n_deps((void *)t, j); k++) {
            marker d = read_marker(t, t->deps[j][k]);
            CHECK(d.ok && m.start > d.end);
        }
    }
}

static void test_runs_in_dependency_order(void) {
    CHECK(tk_scheduler_threads_per_job(2, 5) == 2);
    CHECK(tk_scheduler_threads_per_job(3, 2) == 1);
    for (int workers = 1; workers <= 3; workers++) {
        char *dir = test_tmpdir("sched-order");
        toy t = diamonds(dir, 20);
        tk_error err;
        char *log;
        int rc = run_logged(&t, workers, 4, false, &err, &log);
        CHECK(rc == 0);
        if (rc) printf("  workers %d: %s\n", workers, err.msg);
        CHECK(count_markers(&t) == 12);
        check_dependency_order(&t);
        int overlaps = 0;
        for (int a = 0; a < 12; a++) {
            marker ma = read_marker(&t, a);
            CHECK(ma.threads == 4 / workers);
            for (int b = a + 1; b < 12; b++) {
                marker mb = read_marker(&t, b);
                overlaps += ma.start < mb.end && mb.start < ma.end;
            }
        }
        /* One worker never overlaps two jobs; more workers run 4, 5, 6 side by side. */
        CHECK(workers == 1 ? overlaps == 0 : overlaps > 0);
        const char *p = log;
        int starts = 0, dones = 0;
        while ((p = strstr(p, "\"event\":\"start\""))) starts++, p++;
        for (p = log; (p = strstr(p, "\"event\":\"done\"")); p++) dones++;
        CHECK(starts == 12 && dones == 12);
        CHECK_CONTAINS(log, "{\"event\":\"start\",\"job\":\"toy/00\"");
        CHECK_CONTAINS(log, "\"event\":\"end\",\"done\":12,\"total\":12,\"failed\":0");
        free(log);
        rm_rf(dir);
        free(dir);
    }
}

static void test_skips_done_jobs(void) {
    char *dir = test_tmpdir("sched-skip");
    toy t = diamonds(dir, 2);
    const int pre[] = {0, 1, 2, 8};
    char path[512];
    for (int i = 0; i < 4; i++) {
        path_of(&t, 'j', pre[i], path, sizeof path);
        write_file(path, "pre-existing\n", 13);
    }
    tk_error err;
    char *log;
    CHECK(run_logged(&t, 2, 2, false, &err, &log) == 0);
    CHECK_CONTAINS(log, "\"already_done\":4");
    free(log);
    for (int i = 0; i < 4; i++) {
        path_of(&t, 's', pre[i], path, sizeof path);
        CHECK(!tk_file_exists(path)); /* never started */
        CHECK(!strcmp(read_marker(&t, pre[i]).text, "pre-existing\n"));
    }
    for (int j = 3; j < 12; j++) CHECK(j == 8 || read_marker(&t, j).ok);
    /* A second run finds everything done and runs nothing. */
    marker before[12];
    for (int j = 0; j < 12; j++) before[j] = read_marker(&t, j);
    CHECK(run_logged(&t, 2, 2, false, &err, &log) == 0);
    CHECK_CONTAINS(log, "\"already_done\":12");
    CHECK(!strstr(log, "\"event\":\"start\""));
    for (int j = 0; j < 12; j++) CHECK(!strcmp(read_marker(&t, j).text, before[j].text));
    free(log);
    rm_rf(dir);
    free(dir);
}

static void test_failure_blocks_dependents(void) {
    char *dir = test_tmpdir("sched-fail");
    toy t = diamonds(dir, 2);
    t.fail_job = 3, t.crash_job = 8;
    tk_error err;
    char *log;
    CHECK(run_logged(&t, 2, 2, false, &err, &log) == -1);
    CHECK_CONTAINS(err.msg, "2 jobs failed (7 that depend on them not started)");
    CHECK_CONTAINS(err.msg, "'toy/03': boom in toy/03");
    CHECK_CONTAINS(err.msg, "'toy/08': the worker was killed by signal 9");
    /* Everything not downstream of 3 or 8 ran; nothing downstream started. */
    for (int j = 0; j < 12; j++) {
        char started[512];
        path_of(&t, 's', j, started, sizeof started);
        bool upstream = j <= 2;
        CHECK(toy_done(&t, j) == upstream);
        CHECK(tk_file_exists(started) == (upstream || j == 3 || j == 8));
    }
    CHECK_CONTAINS(log, "{\"event\":\"blocked\",\"job\":\"toy/07\",\"by\":\"toy/03\"");
    CHECK_CONTAINS(log, "\"event\":\"failed\",\"job\":\"toy/03\"");
    free(log);
    rm_rf(dir);
    free(dir);
}

/* run() returning 0 without leaving what done() looks for is a failure, or
 * every rerun would redo the job. */
static void test_done_checked_after_run(void) {
    char *dir = test_tmpdir("sched-forget");
    toy t = diamonds(dir, 2);
    t.forget_job = 5;
    tk_error err;
    CHECK(run_logged(&t, 1, 1, false, &err, NULL) == -1);
    CHECK_CONTAINS(err.msg, "1 job failed (3 that depend on them not started): 'toy/05': run() succeeded but done()");
    CHECK(!toy_done(&t, 7) && !toy_done(&t, 10) && !toy_done(&t, 11));
    CHECK(toy_done(&t, 4) && toy_done(&t, 6) && toy_done(&t, 9));
    rm_rf(dir);
    free(dir);
}

static void test_bad_graphs(void) {
    char *dir = test_tmpdir("sched-cycle");
    toy t = diamonds(dir, 1);
    /* 1 waits for 4, which waits (through 3 and 2) for 1; 0 and 5 are off the cycle. */
    static const int deps[6][MAX_DEPS] = {{-1}, {0, 4, -1}, {1, -1}, {2, -1}, {3, -1}, {4, -1}};
    memcpy(t.deps, deps, sizeof deps);
    t.n = 6;
    tk_error err;
    tk_job_graph g = graph_of(&t);
    CHECK(tk_scheduler_run(&g, 2, 2, false, &err) == -1);
    CHECK_CONTAINS(err.msg, "dependency cycle");
    for (int j = 1; j <= 4; j++) {
        char want[32];
        snprintf(want, sizeof want, "'toy/%02d' waits for", j);
        CHECK_CONTAINS(err.msg, want);
    }
    CHECK(!strstr(err.msg, "toy/00") && !strstr(err.msg, "toy/05"));
    CHECK(count_markers(&t) == 0); /* checked before anything runs */
    tk_schedule_estimate est;
    CHECK(tk_scheduler_estimate(&g, 1, &est, &err) == -1);
    CHECK_CONTAINS(err.msg, "dependency cycle");

    t.deps[1][1] = 1, t.deps[1][2] = -1; /* a job waiting for itself */
    CHECK(tk_scheduler_run(&g, 1, 1, false, &err) == -1);
    CHECK_CONTAINS(err.msg, "cycle: 'toy/01' waits for 'toy/01'");

    t.deps[1][1] = 6; /* no such job */
    CHECK(tk_scheduler_run(&g, 1, 1, false, &err) == -1);
    CHECK_CONTAINS(err.msg, "job 'toy/01': dependency 1 is job 6, outside the graph's jobs 0..5");

    t.deps[1][1] = -1;
    t.cost[2] = -1;
    g = graph_of(&t);
    CHECK(tk_scheduler_run(&g, 1, 1, false, &err) == -1);
    CHECK_CONTAINS(err.msg, "job 'toy/02': estimated cost -1");
    CHECK(tk_scheduler_run(&g, 0, 1, false, &err) == -1);
    CHECK_CONTAINS(err.msg, "workers must be >= 1");
    CHECK(count_markers(&t) == 0);
    rm_rf(dir);
    free(dir);
}

/* A chain 0 -> 1 -> 2 of 1 s jobs and a lone 2.5 s job 3: the chain's head
 * goes first (3 s of work hangs on it), although job 3 is the longest. */
static toy chain_and_long_job(const char *dir) {
    toy t = {.dir = dir, .n = 4, .sleep_ms = 5, .fail_job = -1, .crash_job = -1, .forget_job = -1,
             .deps = {{-1}, {0, -1}, {1, -1}, {-1}}, .cost = {1, 1, 1, 2.5}};
    return t;
}

static void test_costliest_chain_first(void) {
    char *dir = test_tmpdir("sched-rank");
    toy t = chain_and_long_job(dir);
    tk_error err;
    CHECK(run_logged(&t, 1, 1, false, &err, NULL) == 0);
    marker m[4];
    for (int j = 0; j < 4; j++) m[j] = read_marker(&t, j);
    CHECK(m[0].ok && m[1].ok && m[2].ok && m[3].ok);
    /* 0 (rank 3) before 3 (2.5) before 1 (2) before 2 (1). */
    CHECK(m[0].start < m[3].start && m[3].start < m[1].start && m[1].start < m[2].start);
    rm_rf(dir);
    free(dir);
}

static void test_estimate(void) {
    char *dir = test_tmpdir("sched-estimate");
    toy t = chain_and_long_job(dir);
    tk_job_graph g = graph_of(&t);
    tk_schedule_estimate e;
    tk_error err;
    CHECK(tk_scheduler_estimate(&g, 1, &e, &err) == 0);
    CHECK(e.to_run == 4);
    CHECK_NEAR(e.work_s, 5.5, 1e-12);
    CHECK_NEAR(e.wall_s, 5.5, 1e-12);
    /* Two workers: the chain on one (0..3 s), job 3 on the other (0..2.5 s). */
    CHECK(tk_scheduler_estimate(&g, 2, &e, &err) == 0);
    CHECK_NEAR(e.wall_s, 3.0, 1e-12);
    /* With job 0 done: 1 and 3 start together, 2 follows 1 and ends at 2; 3 ends at 2.5. */
    char path[512];
    path_of(&t, 'j', 0, path, sizeof path);
    write_file(path, "x", 1);
    CHECK(tk_scheduler_estimate(&g, 2, &e, &err) == 0);
    CHECK(e.to_run == 3);
    CHECK_NEAR(e.work_s, 4.5, 1e-12);
    CHECK_NEAR(e.wall_s, 2.5, 1e-12);
    CHECK(count_markers(&t) == 1); /* nothing ran */
    rm_rf(dir);
    free(dir);
}

static void test_terminal_progress(void) {
    char *dir = test_tmpdir("sched-tty");
    toy t = diamonds(dir, 1);
    tk_error err;
    char *log;
    CHECK(run_logged(&t, 3, 3, true, &err, &log) == 0);
    CHECK_CONTAINS(log, "12 jobs, 0 already done; 3 workers x 1 BLAS thread\n");
    CHECK_CONTAINS(log, "\r\033[Kjobs 0/12 done, 1 running, ETA ");
    CHECK_CONTAINS(log, "\r\033[Kjobs 12/12 done, 0 running\n");
    CHECK(!strstr(log, "\"event\"")); /* no JSON lines on a terminal */
    free(log);
    rm_rf(dir);
    free(dir);
}

/* Polls until `want` jobs have written their start file; false after 5 s. */
static bool wait_started(const toy *t, int want) {
    for (double t0 = tk_now(); tk_now() - t0 < 5;) {
        int n = 0;
        char path[512];
        for (int j = 0; j < t->n; j++) {
            path_of(t, 's', j, path, sizeof path);
            n += tk_file_exists(path);
        }
        if (n >= want) return true;
        usleep(5000);
    }
    return false;
}

/* The scheduler in a child of its own process group, output to /dev/null;
 * exits 3 when it returns -1 (its message in DIR/err), 0 when it succeeds. */
static pid_t fork_scheduler(toy *t, int workers) {
    fflush(stdout), fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1), dup2(null, 2);
        tk_job_graph g = graph_of(t);
        tk_error err;
        int rc = tk_scheduler_run(&g, workers, workers, false, &err);
        char path[512];
        snprintf(path, sizeof path, "%s/err", t->dir);
        if (rc) write_file(path, err.msg, strlen(err.msg));
        _exit(rc ? 3 : 0);
    }
    setpgid(pid, pid); /* as well as the child, so that it holds before either runs on */
    return pid;
}

static void test_sigterm_stops_workers(void) {
    char *dir = test_tmpdir("sched-term");
    toy t = diamonds(dir, 3000);
    pid_t pid = fork_scheduler(&t, 2);
    CHECK(pid > 0);
    /* Jobs 0 and 8 are running. */
    CHECK(wait_started(&t, 2));
    double t0 = tk_now();
    kill(pid, SIGTERM);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(tk_now() - t0 < 2.0); /* the jobs were stopped, not waited out */
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 3);
    char path[512];
    snprintf(path, sizeof path, "%s/err", dir);
    char *msg = read_whole_file(path, NULL);
    CHECK_CONTAINS(msg, "interrupted by SIGTERM after 0 of 12 jobs finished (2 running jobs stopped)");
    CHECK_CONTAINS(msg, "rerun the study to continue with the 12 left");
    free(msg);
    /* The scheduler reaped its workers: nothing is left in its process group. */
    CHECK(kill(-pid, 0) == -1 && errno == ESRCH);
    CHECK(count_markers(&t) == 0);
    rm_rf(dir);
    free(dir);
}

static void test_kill_and_rerun(void) {
    char *dir = test_tmpdir("sched-kill");
    toy t = diamonds(dir, 120);
    /* Orphaned workers come back to this process, so that they can be waited
     * for: once reaped they are dead and have written their last byte. */
    CHECK(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
    pid_t pid = fork_scheduler(&t, 2);
    CHECK(pid > 0);
    for (double t0 = tk_now(); count_markers(&t) < 4 && tk_now() - t0 < 10;) usleep(2000);
    kill(-pid, SIGKILL);
    int status;
    while (waitpid(-1, &status, 0) > 0 || errno == EINTR) {
    }
    prctl(PR_SET_CHILD_SUBREAPER, 0);
    marker before[12];
    int finished = 0;
    for (int j = 0; j < 12; j++) {
        before[j] = read_marker(&t, j);
        finished += before[j].ok;
        CHECK(before[j].ok == toy_done(&t, j)); /* no marker is half written */
    }
    CHECK(finished >= 4 && finished < 12);

    t.sleep_ms = 2;
    tk_error err;
    char *log;
    CHECK(run_logged(&t, 2, 2, false, &err, &log) == 0);
    char want[64];
    snprintf(want, sizeof want, "\"already_done\":%d", finished);
    CHECK_CONTAINS(log, want);
    free(log);
    CHECK(count_markers(&t) == 12);
    for (int j = 0; j < 12; j++)
        if (before[j].ok) CHECK(!strcmp(read_marker(&t, j).text, before[j].text));
    check_dependency_order(&t);
    rm_rf(dir);
    free(dir);
}

int main(void) {
    RUN(test_runs_in_dependency_order);
    RUN(test_skips_done_jobs);
    RUN(test_failure_blocks_dependents);
    RUN(test_done_checked_after_run);
    RUN(test_bad_graphs);
    RUN(test_costliest_chain_first);
    RUN(test_estimate);
    RUN(test_terminal_progress);
    RUN(test_sigterm_stops_workers);
    RUN(test_kill_and_rerun);
    CHECK_MAIN_END();
}

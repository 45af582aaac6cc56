/* scheduler.c - a job graph on a pool of forked worker processes (see
 * tk_scheduler.h for the contract).
 *
 * The parent keeps every signal it handles blocked except inside ppoll(), so
 * handlers run only there and the loop never races them. A child's exit is
 * seen twice over: its pipe hangs up (wakes ppoll even if another thread of
 * the caller took the SIGCHLD) and SIGCHLD arrives (wakes it even if the job
 * left a grandchild holding the pipe); a one-second timeout covers the rest
 * and redraws the progress line. */
#define _GNU_SOURCE /* ppoll, pipe2 */
#include "tk_scheduler.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef enum job_state { JOB_WAITING, JOB_RUNNING, JOB_DONE, JOB_SKIPPED, JOB_FAILED, JOB_BLOCKED } job_state;

/* The graph in flat arrays, built once: dependencies and dependents as CSR
 * lists (dependents of j: users[users_at[j] .. users_at[j + 1])). */
typedef struct plan {
    const tk_job_graph *g;
    int n;
    int *deps_at, *deps, *users_at, *users;
    int *unfinished;     /* dependencies not yet finished (with multiplicity) */
    int *stack;          /* n ints of scratch: the topological order, then blocked-job walks */
    double *cost, *rank; /* rank: cost of the costliest chain of jobs to run that starts here */
    unsigned char *state;
} plan;

static const char *job_label(const plan *p, int j, char *buf, size_t cap) {
    if (p->g->label) return p->g->label(p->g->ctx, j, buf, cap);
    snprintf(buf, cap, "job %d", j);
    return buf;
}

static void plan_free(plan *p) {
    free(p->deps_at), free(p->deps), free(p->users_at), free(p->users);
    free(p->unfinished), free(p->stack), free(p->cost), free(p->rank), free(p->state);
}

/* In a graph where `left` (the in-degrees Kahn's algorithm left over) is
 * positive exactly on the jobs it could not order, each of those waits on
 * another such job: this is the first one j waits on. */
static int next_unordered(const plan *p, const int *left, int j) {
    int k = p->deps_at[j];
    while (left[p->deps[k]] == 0) k++;
    TK_ASSERT(k < p->deps_at[j + 1]);
    return p->deps[k];
}

/* Following waits for n steps from any unordered job ends on a cycle; err
 * gets that cycle. */
static int cycle_error(const plan *p, const int *left, tk_error *err) {
    int on = 0;
    while (left[on] == 0) on++;
    for (int step = 0; step < p->n; step++) on = next_unordered(p, left, on);
    char msg[sizeof err->msg], buf[256];
    size_t len = 0;
    int j = on;
    do {
        int w = snprintf(msg + len, sizeof msg - len, "'%s' waits for ", job_label(p, j, buf, sizeof buf));
        len = w < 0 || (size_t)w >= sizeof msg - len ? sizeof msg - 1 : len + (size_t)w;
        j = next_unordered(p, left, j);
    } while (j != on && len < sizeof msg - 1);
    return tk_fail(err, "the job graph has a dependency cycle: %s'%s'; a job cannot wait for itself, fix the "
                   "dependencies that build the graph", msg, job_label(p, on, buf, sizeof buf));
}

/* Checks and flattens the graph, marks done() jobs skipped and ranks the rest. */
static int plan_build(plan *p, const tk_job_graph *g, tk_error *err) {
    memset(p, 0, sizeof *p);
    p->g = g;
    if (!g || g->n_jobs < 0) return tk_fail(err, "job graph: n_jobs must be >= 0");
    if (!g->run || (!g->n_deps) != (!g->dep))
        return tk_fail(err, "job graph: run is required, and n_deps and dep come together");
    int n = p->n = g->n_jobs;
    char buf[256];
    p->deps_at = tk_calloc((size_t)n + 1, sizeof(int));
    p->users_at = tk_calloc((size_t)n + 1, sizeof(int));
    p->unfinished = tk_calloc((size_t)n + 1, sizeof(int));
    p->stack = tk_calloc((size_t)n + 1, sizeof(int));
    p->cost = tk_calloc((size_t)n + 1, sizeof(double));
    p->rank = tk_calloc((size_t)n + 1, sizeof(double));
    p->state = tk_calloc((size_t)n + 1, 1);
    for (int j = 0; j < n; j++) {
        int nd = g->n_deps ? g->n_deps(g->ctx, j) : 0;
        if (nd < 0)
            return tk_fail(err, "job '%s' has %d dependencies; expected a count >= 0", job_label(p, j, buf, sizeof buf),
                           nd);
        p->deps_at[j + 1] = p->deps_at[j] + nd;
    }
    p->deps = tk_calloc((size_t)p->deps_at[n] + 1, sizeof(int));
    p->users = tk_calloc((size_t)p->deps_at[n] + 1, sizeof(int));
    for (int j = 0; j < n; j++)
        for (int i = 0, k = p->deps_at[j]; k < p->deps_at[j + 1]; i++, k++) {
            int d = p->deps[k] = g->dep(g->ctx, j, i);
            if (d < 0 || d >= n)
                return tk_fail(err, "job '%s': dependency %d is job %d, outside the graph's jobs 0..%d",
                               job_label(p, j, buf, sizeof buf), i, d, n - 1);
            p->users_at[d + 1]++;
        }
    for (int j = 0; j < n; j++) p->users_at[j + 1] += p->users_at[j];
    /* Fill each dependent list from its start; unfinished[] is the cursor. */
    for (int j = 0; j < n; j++)
        for (int k = p->deps_at[j]; k < p->deps_at[j + 1]; k++)
            p->users[p->users_at[p->deps[k]] + p->unfinished[p->deps[k]]++] = j;

    /* Kahn's algorithm: stack[] receives the topological order. */
    int *left = p->unfinished, ordered = 0;
    for (int j = 0; j < n; j++) left[j] = p->deps_at[j + 1] - p->deps_at[j];
    for (int j = 0; j < n; j++)
        if (left[j] == 0) p->stack[ordered++] = j;
    for (int head = 0; head < ordered; head++)
        for (int k = p->users_at[p->stack[head]]; k < p->users_at[p->stack[head] + 1]; k++)
            if (--left[p->users[k]] == 0) p->stack[ordered++] = p->users[k];
    if (ordered < n) return cycle_error(p, left, err);

    for (int j = 0; j < n; j++) {
        p->state[j] = g->done && g->done(g->ctx, j) ? JOB_SKIPPED : JOB_WAITING;
        if (p->state[j] == JOB_SKIPPED) continue;
        double c = g->cost ? g->cost(g->ctx, j) : 1.0;
        if (!isfinite(c) || c < 0)
            return tk_fail(err, "job '%s': estimated cost %g; expected finite seconds >= 0",
                           job_label(p, j, buf, sizeof buf), c);
        p->cost[j] = c;
    }
    for (int t = n - 1; t >= 0; t--) {
        int j = p->stack[t];
        double longest = 0;
        for (int k = p->users_at[j]; k < p->users_at[j + 1]; k++)
            if (p->rank[p->users[k]] > longest) longest = p->rank[p->users[k]];
        p->rank[j] = p->cost[j] + longest;
    }
    for (int j = 0; j < n; j++) {
        p->unfinished[j] = 0;
        for (int k = p->deps_at[j]; k < p->deps_at[j + 1]; k++) p->unfinished[j] += p->state[p->deps[k]] != JOB_SKIPPED;
    }
    return 0;
}

/* The waiting job with all dependencies finished that heads the costliest chain; -1 if none. */
static int pick_ready(const plan *p) {
    int best = -1;
    for (int j = 0; j < p->n; j++)
        if (p->state[j] == JOB_WAITING && p->unfinished[j] == 0 && (best < 0 || p->rank[j] > p->rank[best])) best = j;
    return best;
}

static void finish_ok(plan *p, int j) {
    p->state[j] = JOB_DONE;
    for (int k = p->users_at[j]; k < p->users_at[j + 1]; k++) p->unfinished[p->users[k]]--;
}

int tk_scheduler_threads_per_job(int workers, int total_threads) {
    int t = workers > 0 ? total_threads / workers : total_threads;
    return t > 1 ? t : 1;
}

int tk_scheduler_estimate(const tk_job_graph *g, int workers, tk_schedule_estimate *out, tk_error *err) {
    if (workers < 1) return tk_fail(err, "workers must be >= 1 (got %d)", workers);
    plan p;
    if (plan_build(&p, g, err)) {
        plan_free(&p);
        return -1;
    }
    *out = (tk_schedule_estimate){0};
    int *slot_job = tk_malloc((size_t)workers * sizeof(int));
    double *slot_end = tk_malloc((size_t)workers * sizeof(double)), now = 0;
    for (int w = 0; w < workers; w++) slot_job[w] = -1;
    for (;;) {
        for (int w = 0, j; w < workers; w++)
            if (slot_job[w] < 0 && (j = pick_ready(&p)) >= 0) {
                p.state[j] = JOB_RUNNING;
                slot_job[w] = j, slot_end[w] = now + p.cost[j];
                out->to_run++, out->work_s += p.cost[j];
            }
        int next = -1;
        for (int w = 0; w < workers; w++)
            if (slot_job[w] >= 0 && (next < 0 || slot_end[w] < slot_end[next])) next = w;
        if (next < 0) break;
        now = slot_end[next];
        finish_ok(&p, slot_job[next]);
        slot_job[next] = -1;
    }
    out->wall_s = now;
    free(slot_job);
    free(slot_end);
    plan_free(&p);
    return 0;
}

/* ---- running */

static volatile sig_atomic_t stop_signal, stop_count;
static void on_stop(int sig) {
    stop_signal = sig;
    stop_count = stop_count + 1;
}
static void on_child(int sig) { (void)sig; }
static const char *stop_name(int sig) { return sig == SIGINT ? "SIGINT (Ctrl-C)" : "SIGTERM"; }

enum { N_SIGNALS = 3 };
static const int handled[N_SIGNALS] = {SIGINT, SIGTERM, SIGCHLD};

typedef struct signals {
    struct sigaction old[N_SIGNALS];
    bool installed[N_SIGNALS];
    sigset_t old_mask, wait_mask; /* wait_mask: what ppoll runs with */
} signals;

static void signals_install(signals *s) {
    sigset_t block;
    sigemptyset(&block);
    for (int i = 0; i < N_SIGNALS; i++) sigaddset(&block, handled[i]);
    pthread_sigmask(SIG_BLOCK, &block, &s->old_mask);
    s->wait_mask = s->old_mask;
    for (int i = 0; i < N_SIGNALS; i++) {
        sigaction(handled[i], NULL, &s->old[i]);
        s->installed[i] = handled[i] == SIGCHLD || s->old[i].sa_handler != SIG_IGN;
        if (!s->installed[i]) continue;
        struct sigaction sa = {0};
        sa.sa_handler = handled[i] == SIGCHLD ? on_child : on_stop;
        sa.sa_mask = block;
        sa.sa_flags = handled[i] == SIGCHLD ? SA_NOCLDSTOP : 0;
        sigaction(handled[i], &sa, NULL);
        sigdelset(&s->wait_mask, handled[i]);
    }
    stop_signal = 0, stop_count = 0;
}

/* Handlers first, then the mask: a stop signal still pending meets the
 * caller's handling (a child dies as it should; a Ctrl-C pressed as the
 * study ends stops the caller rather than vanishing). */
static void signals_restore(const signals *s) {
    for (int i = 0; i < N_SIGNALS; i++)
        if (s->installed[i]) sigaction(handled[i], &s->old[i], NULL);
    pthread_sigmask(SIG_SETMASK, &s->old_mask, NULL);
}

typedef struct worker {
    pid_t pid; /* 0: free */
    int job, fd; /* fd: read end of the child's message pipe, -1 once at EOF */
    double t0;
    size_t len;
    char msg[sizeof((tk_error *)0)->msg];
} worker;

typedef struct run_state {
    plan p;
    signals sig;
    worker *w;
    struct pollfd *pfd;
    int *pfd_worker;
    char **fail_msg; /* per job, set when it fails */
    int workers, threads, running;
    int n_done, n_skipped, n_failed, n_blocked, n_stopped;
    int forwarded; /* stop signals already passed on */
    bool tty, stopping;
    double t0, last_draw, est_done, actual_done;
    char start_error[512];
} run_state;

static void format_seconds(double s, char *out, size_t cap) {
    long t = s > 0 ? (long)(s + 0.5) : 0;
    if (t >= 3600) snprintf(out, cap, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else snprintf(out, cap, "%ldm%02lds", t / 60, t % 60);
}

static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

/* Seconds left: the remaining estimates scaled by how far off the finished
 * ones were, over the workers, but never less than the costliest chain. */
static double eta_seconds(const run_state *s, double now) {
    const plan *p = &s->p;
    double scale = s->est_done > 0 ? s->actual_done / s->est_done : 1.0, work = 0, chain = 0;
    for (int j = 0; j < p->n; j++)
        if (p->state[j] == JOB_WAITING) {
            work += scale * p->cost[j];
            if (scale * p->rank[j] > chain) chain = scale * p->rank[j];
        }
    for (int w = 0; w < s->workers; w++)
        if (s->w[w].pid) {
            int j = s->w[w].job;
            double elapsed = now - s->w[w].t0;
            double left = scale * p->cost[j] - elapsed, path = scale * p->rank[j] - elapsed;
            work += left > 0 ? left : 0;
            if (path > chain) chain = path;
        }
    work /= s->workers;
    return work > chain ? work : chain;
}

static void draw(run_state *s, bool final) {
    if (!s->tty) return;
    double now = tk_now();
    s->last_draw = now;
    char eta[32] = "";
    if (!final && (s->running || pick_ready(&s->p) >= 0)) {
        char t[24];
        format_seconds(eta_seconds(s, now), t, sizeof t);
        snprintf(eta, sizeof eta, ", ETA %s", t);
    }
    char failed[32] = "", blocked[32] = "";
    if (s->n_failed) snprintf(failed, sizeof failed, ", %d failed", s->n_failed);
    if (s->n_blocked) snprintf(blocked, sizeof blocked, ", %d blocked", s->n_blocked);
    fprintf(stderr, "\r\033[Kjobs %d/%d done, %d running%s%s%s%s", s->n_done + s->n_skipped, s->p.n, s->running, failed,
            blocked, eta, final ? "\n" : "");
    fflush(stderr);
}

/* One JSON line per event when not on a terminal; seconds < 0 and key NULL
 * leave those fields out. */
static void event(const run_state *s, const char *what, int job, double seconds, const char *key, const char *value) {
    if (s->tty) return;
    char buf[256];
    printf("{\"event\":\"%s\",\"job\":", what);
    json_string(stdout, job_label(&s->p, job, buf, sizeof buf));
    if (seconds >= 0) printf(",\"seconds\":%.3f", seconds);
    if (key) {
        printf(",\"%s\":", key);
        json_string(stdout, value);
    }
    printf(",\"done\":%d,\"total\":%d,\"running\":%d}\n", s->n_done + s->n_skipped, s->p.n, s->running);
    fflush(stdout);
}

/* A permanent line above the progress line on a terminal. */
static void note(run_state *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(run_state *s, const char *fmt, ...) {
    if (!s->tty) return;
    fputs("\r\033[K", stderr);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    draw(s, false);
}

/* Marks every job waiting, directly or not, on `failed` as blocked. Skipped
 * jobs have their results already, so what waits on them is not blocked. */
static void block_dependents(run_state *s, int failed) {
    plan *p = &s->p;
    char by[256];
    const char *by_label = job_label(p, failed, by, sizeof by);
    int top = 0;
    p->stack[top++] = failed;
    while (top > 0) {
        int j = p->stack[--top];
        for (int k = p->users_at[j]; k < p->users_at[j + 1]; k++) {
            int u = p->users[k];
            if (p->state[u] != JOB_WAITING) continue;
            p->state[u] = JOB_BLOCKED;
            s->n_blocked++;
            p->stack[top++] = u;
            event(s, "blocked", u, -1, "by", by_label);
        }
    }
}

static void job_failed(run_state *s, int j, double seconds, const char *msg) {
    s->p.state[j] = JOB_FAILED;
    s->n_failed++;
    s->fail_msg[j] = strdup(msg);
    TK_ASSERT(s->fail_msg[j]);
    char buf[256];
    note(s, "failed: %s: %s", job_label(&s->p, j, buf, sizeof buf), msg);
    event(s, "failed", j, seconds, "error", msg);
    block_dependents(s, j);
}

/* In the child: the caller's signal handling back, then the job, then _exit
 * (the parent's atexit handlers and stdio buffers are not the child's). */
static void child_main(run_state *s, int job, int fd) __attribute__((noreturn));
static void child_main(run_state *s, int job, int fd) {
    signals_restore(&s->sig);
    for (int w = 0; w < s->workers; w++)
        if (s->w[w].pid && s->w[w].fd >= 0) close(s->w[w].fd);
    tk_error e;
    e.msg[0] = 0;
    int rc = s->p.g->run(s->p.g->ctx, job, s->threads, &e);
    fflush(NULL);
    if (rc) {
        /* < PIPE_BUF bytes: one atomic write that fits the pipe, never blocks. */
        ssize_t wrote = write(fd, e.msg, strnlen(e.msg, sizeof e.msg - 1));
        (void)wrote;
    }
    _exit(rc ? 1 : 0);
}

static int start_job(run_state *s, worker *w, int job) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC)) return -1;
    fflush(NULL); /* else the child would flush the parent's pending output a second time */
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(fds[0]), close(fds[1]);
        errno = e;
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        child_main(s, job, fds[1]);
    }
    close(fds[1]);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    *w = (worker){.pid = pid, .job = job, .fd = fds[0], .t0 = tk_now()};
    s->p.state[job] = JOB_RUNNING;
    s->running++;
    return 0;
}

static void drain(worker *w) {
    char buf[512];
    for (;;) {
        ssize_t r = read(w->fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && errno == EAGAIN) return;
        if (r <= 0) {
            close(w->fd);
            w->fd = -1;
            return;
        }
        size_t room = sizeof w->msg - 1 - w->len, take = (size_t)r < room ? (size_t)r : room;
        memcpy(w->msg + w->len, buf, take);
        w->len += take;
    }
}

static void job_exited(run_state *s, worker *w, int status) {
    if (w->fd >= 0) drain(w);
    if (w->fd >= 0) close(w->fd); /* a grandchild holds the pipe open; the message is in already */
    w->msg[w->len] = 0;
    int j = w->job;
    double seconds = tk_now() - w->t0;
    const tk_job_graph *g = s->p.g;
    w->pid = 0, w->fd = -1;
    s->running--;
    bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (ok && g->done && !g->done(g->ctx, j)) {
        job_failed(s, j, seconds, "run() succeeded but done() still reports the job unfinished: its results are "
                                  "not where done() looks, so every rerun would redo it");
    } else if (ok) {
        finish_ok(&s->p, j);
        s->n_done++;
        s->est_done += s->p.cost[j], s->actual_done += seconds;
        event(s, "done", j, seconds, NULL, NULL);
    } else if (stop_count > 0) {
        s->p.state[j] = JOB_WAITING; /* stopped, not failed: a rerun runs it */
        s->n_stopped++;
        event(s, "stopped", j, seconds, NULL, NULL);
    } else {
        char why[sizeof w->msg + 64];
        if (w->len) snprintf(why, sizeof why, "%s", w->msg);
        else if (WIFSIGNALED(status))
            snprintf(why, sizeof why, "the worker was killed by signal %d (%s)", WTERMSIG(status),
                     strsignal(WTERMSIG(status)));
        else snprintf(why, sizeof why, "the worker exited with status %d without a message", WEXITSTATUS(status));
        job_failed(s, j, seconds, why);
    }
}

/* Waits for something to happen (a child exits, a signal, a second passes). */
static void wait_event(run_state *s) {
    int n = 0;
    for (int w = 0; w < s->workers; w++)
        if (s->w[w].pid && s->w[w].fd >= 0) {
            s->pfd[n] = (struct pollfd){.fd = s->w[w].fd, .events = POLLIN};
            s->pfd_worker[n++] = w;
        }
    struct timespec second = {1, 0};
    if (ppoll(s->pfd, (nfds_t)n, &second, &s->sig.wait_mask) > 0)
        for (int i = 0; i < n; i++)
            if (s->pfd[i].revents) drain(&s->w[s->pfd_worker[i]]);
    for (int w = 0; w < s->workers; w++) {
        int status;
        if (s->w[w].pid && waitpid(s->w[w].pid, &status, WNOHANG) == s->w[w].pid) job_exited(s, &s->w[w], status);
    }
}

static void forward_signals(run_state *s) {
    if (stop_count == s->forwarded) return;
    bool first = s->forwarded == 0;
    s->forwarded = stop_count;
    s->stopping = true;
    /* Unreaped children cannot have their pids reused, so these kills reach only our jobs. */
    for (int w = 0; w < s->workers; w++)
        if (s->w[w].pid) kill(s->w[w].pid, first ? stop_signal : SIGKILL);
    note(s, "%s: stopping %d running job%s; finished jobs are kept%s", stop_name(stop_signal), s->running,
         s->running == 1 ? "" : "s", first ? " (a second signal kills them at once)" : "");
    if (!s->tty) {
        printf("{\"event\":\"interrupted\",\"signal\":%d,\"running\":%d}\n", (int)stop_signal, s->running);
        fflush(stdout);
    }
}

/* Appends to err->msg, cutting at its size. */
static void append(tk_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void append(tk_error *err, const char *fmt, ...) {
    size_t len = strlen(err->msg);
    if (len >= sizeof err->msg - 1) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg + len, sizeof err->msg - len, fmt, ap);
    va_end(ap);
}

/* 0 when every job is done; otherwise why not, in one message. Jobs still
 * waiting (neither failed nor blocked) are what an interruption left over. */
static int outcome(const run_state *s, tk_error *err) {
    int left = 0;
    for (int j = 0; j < s->p.n; j++) left += s->p.state[j] == JOB_WAITING;
    if (!left && !s->n_failed) return 0;
    tk_error e;
    e.msg[0] = 0;
    if (s->start_error[0]) append(&e, "%s. ", s->start_error);
    if (left && stop_count)
        append(&e, "interrupted by %s after %d of %d jobs finished (%d running jobs stopped); finished jobs are "
                   "kept: rerun the study to continue with the %d left. ",
               stop_name(stop_signal), s->n_done + s->n_skipped, s->p.n, s->n_stopped, left);
    if (s->n_failed) {
        append(&e, "%d job%s failed", s->n_failed, s->n_failed == 1 ? "" : "s");
        if (s->n_blocked) append(&e, " (%d that depend on them not started)", s->n_blocked);
        append(&e, ":");
        char buf[256];
        for (int j = 0; j < s->p.n; j++)
            if (s->fail_msg[j]) append(&e, " '%s': %.300s;", job_label(&s->p, j, buf, sizeof buf), s->fail_msg[j]);
    }
    size_t len = strlen(e.msg);
    while (len && (e.msg[len - 1] == ' ' || e.msg[len - 1] == ';')) e.msg[--len] = 0;
    return tk_fail_system(err, "%s", e.msg);
}

int tk_scheduler_run(const tk_job_graph *g, int workers, int total_threads, bool progress_tty, tk_error *err) {
    if (workers < 1) return tk_fail(err, "workers must be >= 1 (got %d); pass -j N with N >= 1", workers);
    if (total_threads < 1) return tk_fail(err, "threads must be >= 1 (got %d)", total_threads);
    run_state s = {.workers = workers, .threads = tk_scheduler_threads_per_job(workers, total_threads),
                   .tty = progress_tty, .t0 = tk_now()};
    if (plan_build(&s.p, g, err)) {
        plan_free(&s.p);
        return -1;
    }
    s.w = tk_calloc((size_t)workers, sizeof *s.w);
    s.pfd = tk_calloc((size_t)workers, sizeof *s.pfd);
    s.pfd_worker = tk_calloc((size_t)workers, sizeof(int));
    s.fail_msg = tk_calloc((size_t)s.p.n + 1, sizeof(char *));
    for (int j = 0; j < s.p.n; j++) s.n_skipped += s.p.state[j] == JOB_SKIPPED;
    if (s.tty) {
        fprintf(stderr, "%d jobs, %d already done; %d worker%s x %d BLAS thread%s\n", s.p.n, s.n_skipped, workers,
                workers == 1 ? "" : "s", s.threads, s.threads == 1 ? "" : "s");
    } else {
        printf("{\"event\":\"study\",\"jobs\":%d,\"already_done\":%d,\"workers\":%d,\"threads_per_job\":%d}\n", s.p.n,
               s.n_skipped, workers, s.threads);
        fflush(stdout);
    }
    signals_install(&s.sig);
    draw(&s, false);
    for (;;) {
        forward_signals(&s);
        for (int w = 0, j; !s.stopping && w < workers; w++)
            if (!s.w[w].pid && (j = pick_ready(&s.p)) >= 0) {
                if (start_job(&s, &s.w[w], j)) {
                    const char *why = strerror(errno); /* before the label callback can change errno */
                    char buf[256];
                    snprintf(s.start_error, sizeof s.start_error, "cannot start job '%s': %s; no further jobs were "
                             "started", job_label(&s.p, j, buf, sizeof buf), why);
                    s.stopping = true;
                    break;
                }
                event(&s, "start", j, -1, NULL, NULL);
                draw(&s, false);
            }
        if (!s.running) break;
        int before = s.n_done + s.n_failed + s.n_stopped;
        wait_event(&s);
        if (s.n_done + s.n_failed + s.n_stopped != before || tk_now() - s.last_draw >= 1.0) draw(&s, false);
    }
    draw(&s, true);
    if (!s.tty) {
        printf("{\"event\":\"end\",\"done\":%d,\"total\":%d,\"failed\":%d,\"blocked\":%d,\"stopped\":%d,"
               "\"seconds\":%.3f}\n", s.n_done + s.n_skipped, s.p.n, s.n_failed, s.n_blocked, s.n_stopped,
               tk_now() - s.t0);
        fflush(stdout);
    }
    signals_restore(&s.sig);
    int rc = outcome(&s, err);
    for (int j = 0; j < s.p.n; j++) free(s.fail_msg[j]);
    free(s.fail_msg), free(s.w), free(s.pfd), free(s.pfd_worker);
    plan_free(&s.p);
    return rc;
}

/* dispatch.c - following a job graph on a pool of slots (dispatch.h; the
 * contract is tk_scheduler.h's).
 *
 * The loop keeps every signal it handles blocked except inside the pool's
 * waits (ppoll with wait_mask), so handlers run only there and the loop never
 * races them. */
#define _GNU_SOURCE /* strsignal */
#include "dispatch.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"

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
    sigset_t old_mask, wait_mask; /* wait_mask: what the pool's waits run with */
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

typedef struct slot {
    int job; /* -1: free */
    bool gone;
    double t0;
} slot;

struct dispatch {
    plan p;
    signals sig;
    const dispatch_pool *pool;
    slot *slots;
    char **fail_msg; /* per job, set when it fails */
    int live, running; /* live: slots not gone */
    int n_done, n_skipped, n_failed, n_blocked, n_stopped;
    int forwarded; /* stop signals already passed on */
    bool tty, stopping;
    double t0, last_draw, est_done, actual_done;
    char start_error[512];
};

void dispatch_restore_signals(dispatch *d) { signals_restore(&d->sig); }

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
 * ones were, over the slots, but never less than the costliest chain. */
static double eta_seconds(const dispatch *s, double now) {
    const plan *p = &s->p;
    double scale = s->est_done > 0 ? s->actual_done / s->est_done : 1.0, work = 0, chain = 0;
    for (int j = 0; j < p->n; j++)
        if (p->state[j] == PLAN_WAITING) {
            work += scale * p->cost[j];
            if (scale * p->rank[j] > chain) chain = scale * p->rank[j];
        }
    for (int w = 0; w < s->pool->slots; w++)
        if (s->slots[w].job >= 0) {
            int j = s->slots[w].job;
            double elapsed = now - s->slots[w].t0;
            double left = scale * p->cost[j] - elapsed, path = scale * p->rank[j] - elapsed;
            work += left > 0 ? left : 0;
            if (path > chain) chain = path;
        }
    work /= s->live > 0 ? s->live : 1;
    return work > chain ? work : chain;
}

static void draw(dispatch *s, bool final) {
    if (!s->tty) return;
    double now = tk_now();
    s->last_draw = now;
    char eta[32] = "";
    if (!final && (s->running || s->p.n_ready > 0)) {
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
static void event(const dispatch *s, const char *what, int job, double seconds, const char *key, const char *value) {
    if (s->tty) return;
    char buf[256];
    printf("{\"event\":\"%s\",\"job\":", what);
    json_string(stdout, plan_label(&s->p, job, buf, sizeof buf));
    if (seconds >= 0) printf(",\"seconds\":%.3f", seconds);
    if (key) {
        printf(",\"%s\":", key);
        json_string(stdout, value);
    }
    printf(",\"done\":%d,\"total\":%d,\"running\":%d}\n", s->n_done + s->n_skipped, s->p.n, s->running);
    fflush(stdout);
}

/* A permanent line above the progress line on a terminal. */
static void note(dispatch *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(dispatch *s, const char *fmt, ...) {
    if (!s->tty) return;
    fputs("\r\033[K", stderr);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    draw(s, false);
}

typedef struct blocking {
    dispatch *s;
    const char *by;
} blocking;

static void on_blocked(void *ctx, int job) {
    blocking *b = ctx;
    b->s->n_blocked++;
    event(b->s, "blocked", job, -1, "by", b->by);
}

static void job_failed(dispatch *s, int j, double seconds, const char *msg) {
    s->n_failed++;
    s->fail_msg[j] = strdup(msg);
    TK_ASSERT(s->fail_msg[j]);
    char buf[256];
    note(s, "failed: %s: %s", plan_label(&s->p, j, buf, sizeof buf), msg);
    event(s, "failed", j, seconds, "error", msg);
    blocking b = {s, plan_label(&s->p, j, buf, sizeof buf)};
    plan_fail(&s->p, j, on_blocked, &b);
}

/* Frees the slot of a job that stopped running; its seconds. */
static double release(dispatch *s, int w) {
    double seconds = tk_now() - s->slots[w].t0;
    s->slots[w].job = -1;
    s->running--;
    return seconds;
}

void dispatch_ended(dispatch *s, int w, bool ok, const char *why) {
    int j = s->slots[w].job;
    TK_ASSERT(j >= 0);
    double seconds = release(s, w);
    const tk_job_graph *g = s->p.g;
    if (ok && g->done && !g->done(g->ctx, j)) {
        job_failed(s, j, seconds, "run() succeeded but done() still reports the job unfinished: its results are "
                                  "not where done() looks, so every rerun would redo it");
    } else if (ok) {
        plan_finish(&s->p, j);
        s->n_done++;
        s->est_done += s->p.cost[j], s->actual_done += seconds;
        event(s, "done", j, seconds, NULL, NULL);
    } else if (stop_count > 0) {
        plan_requeue(&s->p, j); /* stopped, not failed: a rerun runs it */
        s->n_stopped++;
        event(s, "stopped", j, seconds, NULL, NULL);
    } else {
        job_failed(s, j, seconds, why);
    }
}

void dispatch_lost(dispatch *s, int w, const char *why) {
    if (s->slots[w].gone) return;
    s->slots[w].gone = true;
    s->live--;
    int j = s->slots[w].job;
    char buf[256];
    if (j >= 0) {
        double seconds = release(s, w);
        plan_requeue(&s->p, j);
        note(s, "lost: %s: %s; it goes to another worker", plan_label(&s->p, j, buf, sizeof buf), why);
        event(s, "lost", j, seconds, "error", why);
    } else {
        note(s, "lost a worker: %s", why);
    }
    if (s->live == 0 && !s->start_error[0])
        snprintf(s->start_error, sizeof s->start_error, "no worker is left (the last: %s)", why);
}

static void forward_signals(dispatch *s) {
    if (stop_count == s->forwarded) return;
    bool first = s->forwarded == 0;
    s->forwarded = stop_count;
    s->stopping = true;
    if (s->running) s->pool->stop(s->pool->ctx, first ? stop_signal : SIGKILL);
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
static int outcome(const dispatch *s, tk_error *err) {
    int left = 0;
    for (int j = 0; j < s->p.n; j++) left += s->p.state[j] == PLAN_WAITING;
    if (!left && !s->n_failed) return 0;
    tk_error e;
    e.msg[0] = 0;
    if (s->start_error[0]) append(&e, "%s. ", s->start_error);
    if (left && stop_count)
        append(&e, "interrupted by %s after %d of %d jobs finished (%d running jobs stopped); finished jobs are "
                   "kept: rerun the study to continue with the %d left. ",
               stop_name(stop_signal), s->n_done + s->n_skipped, s->p.n, s->n_stopped, left);
    else if (left)
        append(&e, "%d of %d jobs finished; finished jobs are kept: rerun the study to continue with the %d left. ",
               s->n_done + s->n_skipped, s->p.n, left);
    if (s->n_failed) {
        append(&e, "%d job%s failed", s->n_failed, s->n_failed == 1 ? "" : "s");
        if (s->n_blocked) append(&e, " (%d that depend on them not started)", s->n_blocked);
        append(&e, ":");
        char buf[256];
        for (int j = 0; j < s->p.n; j++)
            if (s->fail_msg[j]) append(&e, " '%s': %.300s;", plan_label(&s->p, j, buf, sizeof buf), s->fail_msg[j]);
    }
    size_t len = strlen(e.msg);
    while (len && (e.msg[len - 1] == ' ' || e.msg[len - 1] == ';')) e.msg[--len] = 0;
    return tk_fail_system(err, "%s", e.msg);
}

int dispatch_run(const tk_job_graph *g, const dispatch_pool *pool, bool progress_tty, tk_error *err) {
    dispatch s = {.pool = pool, .live = pool->slots, .tty = progress_tty, .t0 = tk_now()};
    if (plan_build(&s.p, g, err)) {
        plan_free(&s.p);
        return -1;
    }
    s.slots = tk_calloc((size_t)pool->slots, sizeof *s.slots);
    for (int w = 0; w < pool->slots; w++) s.slots[w].job = -1;
    s.fail_msg = tk_calloc((size_t)s.p.n + 1, sizeof(char *));
    for (int j = 0; j < s.p.n; j++) s.n_skipped += s.p.state[j] == PLAN_SKIPPED;
    if (s.tty) {
        fprintf(stderr, "%d jobs, %d already done; %d worker%s x %d BLAS thread%s\n", s.p.n, s.n_skipped, pool->slots,
                pool->slots == 1 ? "" : "s", pool->threads, pool->threads == 1 ? "" : "s");
    } else {
        printf("{\"event\":\"study\",\"jobs\":%d,\"already_done\":%d,\"workers\":%d,\"threads_per_job\":%d}\n", s.p.n,
               s.n_skipped, pool->slots, pool->threads);
        fflush(stdout);
    }
    signals_install(&s.sig);
    draw(&s, false);
    for (;;) {
        forward_signals(&s);
        for (int w = 0, j; !s.stopping && w < pool->slots; w++)
            if (s.slots[w].job < 0 && !s.slots[w].gone && (j = plan_take(&s.p)) >= 0) {
                char why[256];
                if (pool->start(pool->ctx, &s, w, j, why, sizeof why)) {
                    char buf[256];
                    plan_requeue(&s.p, j);
                    snprintf(s.start_error, sizeof s.start_error, "cannot start job '%s': %s; no further jobs were "
                             "started", plan_label(&s.p, j, buf, sizeof buf), why);
                    s.stopping = true;
                    break;
                }
                s.slots[w] = (slot){.job = j, .t0 = tk_now()};
                s.running++;
                event(&s, "start", j, -1, NULL, NULL);
                draw(&s, false);
            }
        if (!s.running) break;
        int before = s.n_done + s.n_failed + s.n_stopped;
        pool->wait(pool->ctx, &s, &s.sig.wait_mask);
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
    free(s.fail_msg), free(s.slots);
    plan_free(&s.p);
    return rc;
}

/* scheduler.c - a job graph on a pool of forked worker processes (see
 * tk_scheduler.h for the contract; dispatch.c follows the graph, this file
 * is the pool).
 *
 * A child's exit is seen twice over: its pipe hangs up (wakes ppoll even if
 * another thread of the caller took the SIGCHLD) and SIGCHLD arrives (wakes
 * it even if the job left a grandchild holding the pipe); a one-second
 * timeout covers the rest and redraws the progress line. */
#define _GNU_SOURCE /* ppoll */
#include "tk_scheduler.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "dispatch.h"
#include "plan.h"

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
            if (slot_job[w] < 0 && (j = plan_take(&p)) >= 0) {
                slot_job[w] = j, slot_end[w] = now + p.cost[j];
                out->to_run++, out->work_s += p.cost[j];
            }
        int next = -1;
        for (int w = 0; w < workers; w++)
            if (slot_job[w] >= 0 && (next < 0 || slot_end[w] < slot_end[next])) next = w;
        if (next < 0) break;
        now = slot_end[next];
        plan_finish(&p, slot_job[next]);
        slot_job[next] = -1;
    }
    out->wall_s = now;
    free(slot_job);
    free(slot_end);
    plan_free(&p);
    return 0;
}

/* ---- the pool: one forked child per running job */

typedef struct pool {
    const tk_job_graph *g;
    int workers, threads;
    child *c;
    struct pollfd *pfd;
    int *pfd_worker;
    dispatch *d; /* for the child being forked */
} pool;

/* In the child: the caller's signal handling back, and no other job's pipe
 * held open (its worker's exit would go unseen). */
static void in_child(void *ctx) {
    pool *p = ctx;
    dispatch_restore_signals(p->d);
    for (int w = 0; w < p->workers; w++)
        if (p->c[w].pid && p->c[w].fd >= 0) close(p->c[w].fd);
}

static int pool_start(void *ctx, dispatch *d, int w, int job, char *why, size_t cap) {
    pool *p = ctx;
    p->d = d;
    if (child_start(&p->c[w], p->g, job, p->threads, in_child, p) == 0) return 0;
    snprintf(why, cap, "%s", strerror(errno));
    return -1;
}

static void pool_wait(void *ctx, dispatch *d, const sigset_t *wait_mask) {
    pool *p = ctx;
    int n = 0;
    for (int w = 0; w < p->workers; w++)
        if (p->c[w].pid && p->c[w].fd >= 0) {
            p->pfd[n] = (struct pollfd){.fd = p->c[w].fd, .events = POLLIN};
            p->pfd_worker[n++] = w;
        }
    struct timespec second = {1, 0};
    if (ppoll(p->pfd, (nfds_t)n, &second, wait_mask) > 0)
        for (int i = 0; i < n; i++)
            if (p->pfd[i].revents) child_drain(&p->c[p->pfd_worker[i]]);
    for (int w = 0; w < p->workers; w++) {
        int status;
        if (p->c[w].pid && waitpid(p->c[w].pid, &status, WNOHANG) == p->c[w].pid) {
            char why[sizeof p->c[w].msg + 64];
            bool ok = child_reap(&p->c[w], status, why, sizeof why);
            dispatch_ended(d, w, ok, why);
        }
    }
}

/* Unreaped children cannot have their pids reused, so these kills reach only our jobs. */
static void pool_stop(void *ctx, int sig) {
    pool *p = ctx;
    for (int w = 0; w < p->workers; w++)
        if (p->c[w].pid) kill(p->c[w].pid, sig);
}

int tk_scheduler_run(const tk_job_graph *g, int workers, int total_threads, bool progress_tty, tk_error *err) {
    if (workers < 1) return tk_fail(err, "workers must be >= 1 (got %d); pass -j N with N >= 1", workers);
    if (total_threads < 1) return tk_fail(err, "threads must be >= 1 (got %d)", total_threads);
    pool p = {.g = g, .workers = workers, .threads = tk_scheduler_threads_per_job(workers, total_threads)};
    p.c = tk_calloc((size_t)workers, sizeof *p.c);
    p.pfd = tk_calloc((size_t)workers, sizeof *p.pfd);
    p.pfd_worker = tk_calloc((size_t)workers, sizeof(int));
    dispatch_pool dp = {.slots = workers, .threads = p.threads, .ctx = &p, .start = pool_start, .wait = pool_wait,
                        .stop = pool_stop};
    int rc = dispatch_run(g, &dp, progress_tty, err);
    free(p.c), free(p.pfd), free(p.pfd_worker);
    return rc;
}

/* plan.c - the job graph as flat arrays, ranked, with its ready set (plan.h). */
#include "plan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *plan_label(const plan *p, int j, char *buf, size_t cap) {
    if (p->g->label) return p->g->label(p->g->ctx, j, buf, cap);
    snprintf(buf, cap, "job %d", j);
    return buf;
}

void plan_free(plan *p) {
    free(p->deps_at), free(p->deps), free(p->users_at), free(p->users);
    free(p->unfinished), free(p->stack), free(p->cost), free(p->rank), free(p->state), free(p->ready);
}

/* ---- the ready set: a binary heap, so that a graph of many thousand jobs
 * costs log n per pick rather than a scan of every job. */

static bool before(const plan *p, int a, int b) {
    return p->rank[a] > p->rank[b] || (p->rank[a] == p->rank[b] && a < b);
}

static void swap(int *a, int *b) {
    int t = *a;
    *a = *b, *b = t;
}

static void push_ready(plan *p, int j) {
    int at = p->n_ready++;
    p->ready[at] = j;
    while (at > 0 && before(p, p->ready[at], p->ready[(at - 1) / 2])) {
        swap(&p->ready[at], &p->ready[(at - 1) / 2]);
        at = (at - 1) / 2;
    }
}

int plan_take(plan *p) {
    if (p->n_ready == 0) return -1;
    int best = p->ready[0], at = 0;
    p->ready[0] = p->ready[--p->n_ready];
    for (;;) {
        int first = at, l = 2 * at + 1, r = l + 1;
        if (l < p->n_ready && before(p, p->ready[l], p->ready[first])) first = l;
        if (r < p->n_ready && before(p, p->ready[r], p->ready[first])) first = r;
        if (first == at) break;
        swap(&p->ready[at], &p->ready[first]);
        at = first;
    }
    p->state[best] = PLAN_RUNNING;
    return best;
}

void plan_finish(plan *p, int j) {
    p->state[j] = PLAN_DONE;
    for (int k = p->users_at[j]; k < p->users_at[j + 1]; k++)
        if (--p->unfinished[p->users[k]] == 0 && p->state[p->users[k]] == PLAN_WAITING) push_ready(p, p->users[k]);
}

void plan_requeue(plan *p, int j) {
    p->state[j] = PLAN_WAITING;
    push_ready(p, j);
}

void plan_fail(plan *p, int failed, void (*each)(void *ctx, int blocked), void *ctx) {
    p->state[failed] = PLAN_FAILED;
    int top = 0;
    p->stack[top++] = failed;
    while (top > 0) {
        int j = p->stack[--top];
        for (int k = p->users_at[j]; k < p->users_at[j + 1]; k++) {
            int u = p->users[k];
            if (p->state[u] != PLAN_WAITING) continue;
            p->state[u] = PLAN_BLOCKED;
            p->stack[top++] = u;
            each(ctx, u);
        }
    }
}

/* ---- building */

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
        int w = snprintf(msg + len, sizeof msg - len, "'%s' waits for ", plan_label(p, j, buf, sizeof buf));
        len = w < 0 || (size_t)w >= sizeof msg - len ? sizeof msg - 1 : len + (size_t)w;
        j = next_unordered(p, left, j);
    } while (j != on && len < sizeof msg - 1);
    return tk_fail(err, "the job graph has a dependency cycle: %s'%s'; a job cannot wait for itself, fix the "
                   "dependencies that build the graph", msg, plan_label(p, on, buf, sizeof buf));
}

int plan_build(plan *p, const tk_job_graph *g, tk_error *err) {
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
    p->ready = tk_calloc((size_t)n + 1, sizeof(int));
    for (int j = 0; j < n; j++) {
        int nd = g->n_deps ? g->n_deps(g->ctx, j) : 0;
        if (nd < 0)
            return tk_fail(err, "job '%s' has %d dependencies; expected a count >= 0", plan_label(p, j, buf, sizeof buf),
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
                               plan_label(p, j, buf, sizeof buf), i, d, n - 1);
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
        p->state[j] = g->done && g->done(g->ctx, j) ? PLAN_SKIPPED : PLAN_WAITING;
        if (p->state[j] == PLAN_SKIPPED) continue;
        double c = g->cost ? g->cost(g->ctx, j) : 1.0;
        if (!isfinite(c) || c < 0)
            return tk_fail(err, "job '%s': estimated cost %g; expected finite seconds >= 0",
                           plan_label(p, j, buf, sizeof buf), c);
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
        for (int k = p->deps_at[j]; k < p->deps_at[j + 1]; k++) p->unfinished[j] += p->state[p->deps[k]] != PLAN_SKIPPED;
        if (p->state[j] == PLAN_WAITING && p->unfinished[j] == 0) push_ready(p, j);
    }
    return 0;
}

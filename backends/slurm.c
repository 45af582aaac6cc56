/* slurm.c - the Slurm backend: the job graph as sbatch job arrays.
 *
 * The jobs not done are grouped by depth (a job whose dependency is done or
 * absent has depth 0; otherwise one more than its dependency's), and each
 * depth becomes one job array (several when it has more tasks than an array
 * may hold), held by --dependency=afterok on every array of the depth
 * before. Task i of an array runs `ticket study job SPEC --out DIR --job J`
 * for the i-th job J of its list, in a fresh process that rebuilds the
 * graph; the job's claim (tk_claim.h) keeps a requeued or duplicate task
 * from training it twice. A last batch job writes the report once every
 * array has succeeded.
 *
 * DIR/slurm/ keeps the scripts, their logs (logs/) and `submitted`, one line
 * per sbatch call ("ID JOB,JOB,..." or "ID report"), from which a rerun and
 * `ticket study status` ask squeue about the tasks still queued. A task that
 * fails leaves the arrays after it waiting forever (DependencyNeverSatisfied);
 * a rerun cancels those and submits everything not done again. */
#define _DEFAULT_SOURCE
#include "tk_backend.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plan.h"
#include "tk_file.h"
#include "tk_process.h"

/* Slurm's default MaxArraySize is 1001 (indices 0..1000). */
enum { ARRAY_TASKS = 1000 };

/* ---- what a previous submission left in the queue */

typedef struct submission {
    char id[32];
    int *jobs, n_jobs; /* n_jobs 0: the report job */
} submission;

static void free_submissions(submission *s, int n) {
    for (int i = 0; i < n; i++) free(s[i].jobs);
    free(s);
}

/* DIR/slurm/submitted, parsed; lines it cannot read are skipped (a line
 * cut short by a crash names no task anyone waits for). */
static submission *read_submitted(const char *dir, int *n) {
    char path[4200];
    snprintf(path, sizeof path, "%s/slurm/submitted", dir);
    uint8_t *text;
    size_t len;
    *n = 0;
    if (tk_file_read_all(path, &text, &len, NULL)) return NULL;
    submission *s = NULL;
    int cap = 0;
    for (char *save = NULL, *line = strtok_r((char *)text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char id[32], list[1 << 14];
        if (sscanf(line, "%31s %16383s", id, list) != 2) continue;
        if (*n == cap) s = tk_realloc(s, (size_t)(cap = cap ? 2 * cap : 16) * sizeof *s);
        submission *x = &s[(*n)++];
        memset(x, 0, sizeof *x);
        snprintf(x->id, sizeof x->id, "%s", id);
        if (!strcmp(list, "report")) continue;
        for (char *save2 = NULL, *j = strtok_r(list, ",", &save2); j; j = strtok_r(NULL, ",", &save2)) {
            x->jobs = tk_realloc(x->jobs, (size_t)(x->n_jobs + 1) * sizeof(int));
            x->jobs[x->n_jobs++] = atoi(j);
        }
    }
    free(text);
    return s;
}

/* squeue's view of the submissions' tasks, one line each ("ID[_TASK] STATE
 * REASON"): 1 when it answered, 0 when squeue is absent or knows none of
 * them (it fails with "Invalid job id specified" when every id has ended
 * and been purged), -1 with err set when it could not answer (slurmctld
 * down): then nobody can tell what still runs. */
static int ask_squeue(const submission *s, int n, char *out, size_t cap, tk_error *err) {
    char squeue[4096];
    if (n == 0 || !tk_find_program("squeue", squeue, sizeof squeue)) return 0;
    tk_buf ids = {0};
    for (int i = 0; i < n; i++) tk_buf_printf(&ids, "%s%s", i ? "," : "", s[i].id);
    tk_buf_put(&ids, "", 1);
    char *argv[] = {squeue, "-h", "-r", "-o", "%i %T %r", "-j", (char *)ids.data, NULL};
    int status = tk_run_program(argv, out, cap, err);
    tk_buf_free(&ids);
    if (status == 0) return 1;
    if (status > 0 && strstr(out, "Invalid job id specified")) return 0;
    if (status > 0) tk_fail_system(err, "squeue could not say which tasks of the last submission still run (exit %d): %s",
                                   status, out[0] ? out : "(no message)");
    return -1;
}

/* Calls fn for each queued task with the job it runs (-1: the report). */
static void each_queued(const submission *s, int n, const char *squeue_out,
                        void (*fn)(void *ctx, int job, const char *id, const char *state, const char *reason),
                        void *ctx) {
    char *copy = strdup(squeue_out);
    TK_ASSERT(copy);
    for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char id[64], state[32], reason[128] = "";
        if (sscanf(line, "%63s %31s %127s", id, state, reason) < 2) continue;
        char *task = strchr(id, '_');
        if (task) *task++ = 0;
        for (int i = 0; i < n; i++) {
            if (strcmp(s[i].id, id)) continue;
            long t = task ? strtol(task, NULL, 10) : 0;
            fn(ctx, s[i].n_jobs ? (t >= 0 && t < s[i].n_jobs ? s[i].jobs[t] : -2) : -1, id, state, reason);
        }
    }
    free(copy);
}

typedef struct queue_ctx {
    tk_queue_state *state;
    int n_jobs;
} queue_ctx;

static void mark_queued(void *ctx, int job, const char *id, const char *state, const char *reason) {
    (void)id, (void)reason;
    queue_ctx *q = ctx;
    if (job >= 0 && job < q->n_jobs)
        q->state[job] = !strcmp(state, "RUNNING") || !strcmp(state, "COMPLETING") ? TK_QUEUE_RUNNING : TK_QUEUE_PENDING;
}

void tk_slurm_queued(const char *study_dir, int n_jobs, tk_queue_state *state) {
    int n;
    submission *s = read_submitted(study_dir, &n);
    char out[1 << 16];
    queue_ctx q = {state, n_jobs};
    if (ask_squeue(s, n, out, sizeof out, NULL) == 1) each_queued(s, n, out, mark_queued, &q);
    free_submissions(s, n);
}

typedef struct leftover {
    char stuck[4096];   /* arrays waiting on a failed one */
    char waiting[4096]; /* arrays waiting on others, stuck too when any array is */
    char live[512];     /* arrays with tasks that will still run */
    int n_live, n_waiting_tasks;
} leftover;

static void add_id(char *list, size_t cap, const char *id) {
    size_t len = strlen(list), n = strlen(id);
    for (const char *p = list; (p = strstr(p, id)) != NULL; p += n)
        if ((p == list || p[-1] == ',') && (p[n] == ',' || !p[n])) return;
    snprintf(list + len, cap - len, "%s%s", len ? "," : "", id);
}

static void sort_leftover(void *ctx, int job, const char *id, const char *state, const char *reason) {
    (void)job;
    leftover *l = ctx;
    if (!strcmp(state, "PENDING") && !strcmp(reason, "DependencyNeverSatisfied")) {
        add_id(l->stuck, sizeof l->stuck, id);
    } else if (!strcmp(state, "PENDING") && !strcmp(reason, "Dependency")) {
        add_id(l->waiting, sizeof l->waiting, id);
        l->n_waiting_tasks++;
    } else {
        add_id(l->live, sizeof l->live, id);
        l->n_live++;
    }
}

/* A rerun while tasks of the last submission are still queued or running
 * would submit their jobs twice: refused. Arrays that can never start are
 * cancelled, and their jobs submitted again below. */
static int settle_previous(const tk_backend_options *o, tk_error *err) {
    int n;
    submission *s = read_submitted(o->study_dir, &n);
    char out[1 << 16];
    leftover l = {.stuck = ""};
    int asked = ask_squeue(s, n, out, sizeof out, err);
    if (asked == 1) each_queued(s, n, out, sort_leftover, &l);
    free_submissions(s, n);
    if (asked < 0) return tk_fail_prefix(err, "not resubmitting study %s: ", o->study_name);
    /* Slurm marks the arrays after a failed one as never satisfied one
     * dependency step at a time: all those waiting are stuck behind it. */
    if (l.stuck[0] && l.waiting[0]) add_id(l.stuck, sizeof l.stuck, l.waiting);
    else l.n_live += l.n_waiting_tasks;
    if (l.n_live)
        return tk_fail_system(err, "study %s still has %d Slurm task%s queued or running (job %s): wait for them to "
                              "end (`ticket study status %s`) or scancel them, then rerun to submit what is left",
                              o->study_name, l.n_live, l.n_live > 1 ? "s" : "", l.live[0] ? l.live : l.waiting,
                              o->study_dir);
    char scancel[4096], said[1024];
    if (l.stuck[0] && tk_find_program("scancel", scancel, sizeof scancel) && !o->dry_run) {
        char *argv[] = {scancel, l.stuck, NULL};
        if (tk_run_program(argv, said, sizeof said, err) != 0)
            return tk_fail_system(err, "scancel %s (arrays left waiting by a failed task) failed: %s", l.stuck, said);
        printf("cancelled Slurm job%s %s, which waited on a failed task\n", strchr(l.stuck, ',') ? "s" : "", l.stuck);
    }
    return 0;
}

/* ---- submitting */

/* A path inside single quotes in a shell script. */
static int quoted(const char *what, const char *path, char *out, size_t cap, tk_error *err) {
    if (strchr(path, '\''))
        return tk_fail(err, "the %s %s holds a single quote, which a batch script cannot quote here: move or rename "
                       "it", what, path);
    snprintf(out, cap, "'%s'", path);
    return 0;
}

typedef struct submitter {
    const tk_backend_options *o;
    char dir[PATH_MAX], cwd[PATH_MAX], spec[PATH_MAX + 2], ticket[PATH_MAX + 2], out_q[PATH_MAX + 2];
    char sbatch[4096];
    tk_buf ids;       /* this submission's job ids, "id:id:..." */
    tk_buf depth_ids; /* the previous depth's, for afterok */
} submitter;

static void sbatch_header(tk_buf *b, const submitter *m, const char *name, const char *log) {
    const tk_backend_options *o = m->o;
    tk_buf_printf(b, "#!/bin/sh\n#SBATCH --job-name=ticket-%s-%s\n#SBATCH --output=%s\n#SBATCH --chdir=%s\n",
                  o->study_name, name, log, m->cwd);
    tk_buf_printf(b, "#SBATCH --cpus-per-task=%d\n", o->slurm.cpus_per_task ? o->slurm.cpus_per_task : 1);
    if (o->slurm.partition) tk_buf_printf(b, "#SBATCH --partition=%s\n", o->slurm.partition);
    if (o->slurm.time) tk_buf_printf(b, "#SBATCH --time=%s\n", o->slurm.time);
    if (o->slurm.account) tk_buf_printf(b, "#SBATCH --account=%s\n", o->slurm.account);
    if (o->slurm.sbatch_args) {
        char *args = strdup(o->slurm.sbatch_args);
        TK_ASSERT(args);
        for (char *save = NULL, *a = strtok_r(args, " ", &save); a; a = strtok_r(NULL, " ", &save))
            tk_buf_printf(b, "#SBATCH %s\n", a);
        free(args);
    }
}

/* Writes the script as DIR/slurm/NAME.sh and submits it after `after`
 * (ids "a:b", or empty); records the id with `what` in DIR/slurm/submitted.
 * A dry run prints the command and the script instead. */
static int submit(submitter *m, const char *name, const tk_buf *script, const char *after, const char *what,
                  tk_error *err) {
    char path[PATH_MAX + 64], dependency[8192] = "";
    snprintf(path, sizeof path, "%s/slurm/%s.sh", m->dir, name);
    if (after[0]) snprintf(dependency, sizeof dependency, "--dependency=afterok:%s", after);
    if (m->o->dry_run) {
        printf("# sbatch --parsable%s%s %s\n%.*s\n", dependency[0] ? " " : "", dependency, path, (int)script->len,
               (const char *)script->data);
        return 0;
    }
    if (tk_file_write_atomic(path, script->data, script->len, err)) return -1;
    char said[1024];
    char *argv[] = {m->sbatch, "--parsable", path, NULL, NULL};
    if (dependency[0]) argv[2] = dependency, argv[3] = path;
    int status = tk_run_program(argv, said, sizeof said, err);
    if (status < 0) return -1;
    char id[32];
    if (status != 0 || sscanf(said, "%31[0-9]", id) != 1)
        return tk_fail_system(err, "sbatch %s failed (exit %d): %s", path, status, said[0] ? said : "(no message)");
    char line[1 << 15], record[PATH_MAX + 32];
    int len = snprintf(line, sizeof line, "%s %s\n", id, what);
    snprintf(record, sizeof record, "%s/slurm/submitted", m->dir);
    if (tk_file_append_durable(record, line, (size_t)len, err)) return -1;
    tk_buf_printf(&m->ids, "%s%s", m->ids.len ? ":" : "", id);
    tk_buf_printf(&m->depth_ids, "%s%s", m->depth_ids.len ? ":" : "", id);
    printf("submitted %s as Slurm job %s\n", name, id);
    return 0;
}

/* One array: the jobs in list[0..n), after the ids in `after`. */
static int submit_array(submitter *m, int depth, int part, const int *list, int n, const char *after, tk_error *err) {
    char name[64], log[PATH_MAX + 64];
    snprintf(name, sizeof name, part ? "depth_%02d_%d" : "depth_%02d", depth, part);
    snprintf(log, sizeof log, "%s/slurm/logs/%s_%%a.log", m->dir, name);
    tk_buf script = {0}, what = {0};
    sbatch_header(&script, m, name, log);
    tk_buf_printf(&script, "#SBATCH --array=0-%d", n - 1);
    if (m->o->slurm.array_max) tk_buf_printf(&script, "%%%d", m->o->slurm.array_max);
    tk_buf_printf(&script, "\n# Jobs at depth %d of the graph of study %s, numbered as `ticket study plan` lists them:"
                  "\n# task i runs the i-th.\nset --", depth, m->o->study_name);
    for (int i = 0; i < n; i++) {
        tk_buf_printf(&script, "%s%d", i % 20 == 19 ? " \\\n   " : " ", list[i]);
        tk_buf_printf(&what, "%s%d", i ? "," : "", list[i]);
    }
    tk_buf_put(&what, "", 1);
    tk_buf_printf(&script, "\nshift \"$SLURM_ARRAY_TASK_ID\"\nexec %s study job %s --out %s --job \"$1\" --threads "
                  "\"${SLURM_CPUS_PER_TASK:-1}\"\n", m->ticket, m->spec, m->out_q);
    int rc = submit(m, name, &script, after, (const char *)what.data, err);
    tk_buf_free(&script), tk_buf_free(&what);
    return rc;
}

/* Depth of each job not done (-1: done), over the plan's topological
 * order: a job comes after every job it waits for. */
static int *depths(const plan *p, int *max_depth) {
    int *d = tk_malloc((size_t)(p->n ? p->n : 1) * sizeof(int));
    *max_depth = -1;
    for (int t = 0; t < p->n; t++) {
        int j = p->stack[t];
        d[j] = -1;
        if (p->state[j] == PLAN_SKIPPED) continue;
        d[j] = 0;
        for (int k = p->deps_at[j]; k < p->deps_at[j + 1]; k++)
            if (d[p->deps[k]] + 1 > d[j]) d[j] = d[p->deps[k]] + 1;
        if (d[j] > *max_depth) *max_depth = d[j];
    }
    return d;
}

int tk_slurm_run(const tk_job_graph *g, const tk_backend_options *o, tk_error *err) {
    submitter m = {.o = o};
    if (!o->dry_run && !tk_find_program("sbatch", m.sbatch, sizeof m.sbatch))
        return tk_fail(err, "--backend slurm needs sbatch on $PATH (Slurm's client commands; on Debian: apt-get "
                       "install slurm-client), or --dry-run to print the batch scripts");
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) return tk_fail_system(err, "cannot find the running ticket executable: %s", strerror(errno));
    self[len] = 0;
    /* The tasks run in this directory (--chdir) with the paths as given, so
     * that their results name the same run folders as a local run's. */
    if (!realpath(o->study_dir, m.dir) || !getcwd(m.cwd, sizeof m.cwd))
        return tk_fail_system(err, "cannot resolve %s: %s", o->study_dir, strerror(errno));
    if (quoted("executable", self, m.ticket, sizeof m.ticket, err) ||
        quoted("study file", o->spec, m.spec, sizeof m.spec, err) ||
        quoted("study folder", o->study_dir, m.out_q, sizeof m.out_q, err))
        return -1;
    char logs[PATH_MAX + 16];
    snprintf(logs, sizeof logs, "%s/slurm/logs", m.dir);
    plan p;
    if (plan_build(&p, g, err) || (!o->dry_run && tk_mkdirs(logs, err)) || settle_previous(o, err)) {
        plan_free(&p);
        return -1;
    }
    int max_depth, *d = depths(&p, &max_depth), *list = tk_malloc((size_t)(g->n_jobs + 1) * sizeof(int));
    plan_free(&p);
    int rc = 0, submitted = 0;
    char *after = strdup(""); /* the previous depth's ids */
    TK_ASSERT(after);
    for (int depth = 0; depth <= max_depth && rc == 0; depth++) {
        int n = 0;
        for (int j = 0; j < g->n_jobs; j++)
            if (d[j] == depth) list[n++] = j;
        m.depth_ids.len = 0;
        for (int part = 0; part * ARRAY_TASKS < n && rc == 0; part++) {
            int count = n - part * ARRAY_TASKS < ARRAY_TASKS ? n - part * ARRAY_TASKS : ARRAY_TASKS;
            rc = submit_array(&m, depth, part, list + part * ARRAY_TASKS, count,
                              depth && o->dry_run ? "(the arrays of the depth before)" : after, err);
        }
        submitted += n;
        free(after);
        tk_buf_put(&m.depth_ids, "", 1);
        after = strdup((const char *)m.depth_ids.data);
        TK_ASSERT(after);
    }
    free(after);
    if (rc == 0 && submitted) {
        tk_buf script = {0};
        char log[PATH_MAX + 32];
        snprintf(log, sizeof log, "%s/slurm/logs/report.log", m.dir);
        sbatch_header(&script, &m, "report", log);
        tk_buf_printf(&script, "# The report, once every array above has succeeded.\nexec %s report %s\n", m.ticket,
                      m.out_q);
        tk_buf_put(&m.ids, "", 1);
        rc = submit(&m, "report", &script, o->dry_run ? "(every array above)" : (const char *)m.ids.data, "report",
                    err);
        tk_buf_free(&script);
    }
    if (rc == 0 && !o->dry_run && submitted)
        printf("study %s: %d jobs in %d depths submitted to Slurm; `ticket study status %s` follows them, and the "
               "report is written to %s/report when they have all succeeded\n", o->study_name, submitted,
               max_depth + 1, o->study_dir, o->study_dir);
    free(d), free(list);
    tk_buf_free(&m.ids), tk_buf_free(&m.depth_ids);
    return rc ? -1 : submitted ? 1 : 0;
}

/* mpi.c - the mpi backend: `mpirun -np N ticket study run SPEC --backend mpi`.
 *
 * Every rank ran the same command, so every rank has built the same job
 * graph (each checks that by sending rank 0 a fingerprint of it). Rank 0
 * follows the graph with dispatch.c, the local scheduler's own loop (same
 * order, done() check, blocked dependents, signals, progress events), its
 * slots being ranks 1..N-1; those run each job they are handed in a forked
 * child (child.c, as the local pool does) and report how it ended. Rank 0
 * only dispatches and sleeps between messages, so it needs no core of its
 * own: N ranks give N - 1 jobs at a time.
 *
 * A rank that dies. Measured with Open MPI 4.1.4 (Debian 12) on kill -9 of
 * a rank: by default mpirun aborts every rank; with
 * --mca orte_abort_on_non_zero_status 0 the others live on but mpirun never
 * exits; with --enable-recovery (orte_enable_recovery) the others live on,
 * MPI_Finalize returns and mpirun exits 0. 4.1 has no ULFM, so no MPI call
 * tells a survivor that a peer died: a blocking send to the dead rank over
 * TCP hangs, a receive from it waits forever. Hence:
 * - every send here is non-blocking and never waited for (the outbox), so a
 *   message to a rank that just died costs nothing;
 * - heartbeats: a rank that has sent nothing for HEARTBEAT_S sends "alive";
 *   rank 0 counts a worker silent for dead_after seconds as dead and gives
 *   its job to another rank, and a worker whose rank 0 is silent that long
 *   stops. A rank that serves a job is never too busy to beat: the job runs
 *   in its child, so the rank itself only waits on the child's pipe. The
 *   child also dies with its rank (PR_SET_PDEATHSIG), so a killed rank
 *   leaves no job behind that would race the one rank 0 restarts.
 * - a job starts from the state the rank had after building the graph, as a
 *   local job starts from the scheduler's: same bits as the local backend.
 * Without --enable-recovery a dying rank still ends the whole run; rank 0
 * says so when the run starts. Finished jobs are kept either way, and the
 * same mpirun command finishes what is left.
 *
 * Worker ranks end their process when the run is over: MPI allows little
 * after MPI_Finalize, and the report is rank 0's to write. */
#define _GNU_SOURCE /* ppoll */
#include "mpi_backend.h"

#include <stdlib.h>

#include "tk_build_mpi.h"

#if TK_HAVE_MPI
#include <mpi.h>

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "dispatch.h"
#endif

#define MPI_HOW_TO "install Open MPI (apt-get install openmpi-bin libopenmpi-dev) and rebuild ticket (make)"

/* Open MPI's mpirun, or srun with PMIx or PMI. */
int tk_mpi_rank(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v) return atoi(v);
    }
    return -1;
}

#if !TK_HAVE_MPI

int tk_mpi_run(const tk_job_graph *g, const tk_backend_options *o, tk_error *err) {
    (void)g, (void)o;
    return tk_fail(err, "--backend mpi: this ticket was built without MPI (there was no mpicc); " MPI_HOW_TO);
}

#else

enum { TAG_HELLO = 1, TAG_JOB, TAG_ENDED, TAG_STOP, TAG_QUIT, TAG_ALIVE };
enum { LEADER = 0 };
static const double HEARTBEAT_S = 1.0, DEFAULT_DEAD_AFTER_S = 60.0, HELLO_WAIT_S = 60.0;

/* Every message: the fields its tag uses, then as much of `text` as it holds. */
typedef struct message {
    int job;        /* JOB, ENDED */
    int value;      /* ENDED: 1 succeeded; STOP: the signal; HELLO: jobs in the graph */
    int pid;        /* HELLO */
    uint64_t graph; /* HELLO: fingerprint of the graph */
    char text[sizeof((tk_error *)0)->msg + 64]; /* ENDED: why it failed; HELLO: host */
} message;

/* Messages not yet known to be delivered, each with its own buffer (MPI
 * reads it until the send completes). One to a dead rank never completes and
 * stays here; a few hundred bytes a heartbeat period at most. */
typedef struct outbox {
    MPI_Request *req;
    message **buf;
    int n, cap;
} outbox;

static void post(outbox *o, int to, int tag, const message *m) {
    int free_at = -1;
    for (int i = 0; i < o->n && free_at < 0; i++) {
        int done = o->req[i] == MPI_REQUEST_NULL;
        if (!done) MPI_Test(&o->req[i], &done, MPI_STATUS_IGNORE);
        if (done) free_at = i;
    }
    if (free_at < 0) {
        if (o->n == o->cap) {
            o->cap = o->cap ? 2 * o->cap : 8;
            o->req = tk_realloc(o->req, (size_t)o->cap * sizeof *o->req);
            o->buf = tk_realloc(o->buf, (size_t)o->cap * sizeof *o->buf);
        }
        free_at = o->n++;
        o->buf[free_at] = tk_malloc(sizeof(message));
    }
    *o->buf[free_at] = *m;
    int len = (int)(offsetof(message, text) + strnlen(m->text, sizeof m->text - 1) + 1);
    MPI_Isend(o->buf[free_at], len, MPI_BYTE, to, tag, MPI_COMM_WORLD, &o->req[free_at]);
}

static void post_tag(outbox *o, int to, int tag, int value) {
    message m = {.job = -1, .value = value, .pid = 0, .graph = 0, .text = ""};
    post(o, to, tag, &m);
}

/* Leaves within `seconds` whatever it cannot deliver (to a dead rank). */
static void outbox_flush(outbox *o, double seconds) {
    double until = tk_now() + seconds;
    for (int i = 0; i < o->n; i++) {
        int done = o->req[i] == MPI_REQUEST_NULL;
        while (!done && tk_now() < until) {
            MPI_Test(&o->req[i], &done, MPI_STATUS_IGNORE);
            if (!done) usleep(1000);
        }
    }
}

static void outbox_free(outbox *o) {
    for (int i = 0; i < o->n; i++) free(o->buf[i]);
    free(o->req), free(o->buf);
}

/* The next message from `from` (MPI_ANY_SOURCE for any), if one is there. */
static bool receive(int from, message *m, MPI_Status *st) {
    int there = 0;
    MPI_Iprobe(from, MPI_ANY_TAG, MPI_COMM_WORLD, &there, st);
    if (!there) return false;
    memset(m, 0, sizeof *m);
    MPI_Recv(m, (int)sizeof *m, MPI_BYTE, st->MPI_SOURCE, st->MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    m->text[sizeof m->text - 1] = 0;
    return true;
}

/* FNV-1a over what makes two graphs the same: jobs, dependencies, labels. */
static uint64_t fingerprint(const tk_job_graph *g) {
    uint64_t h = 1469598103934665603ull;
    char buf[256];
#define MIX(x) (h = (h ^ (uint64_t)(x)) * 1099511628211ull)
    MIX(g->n_jobs);
    for (int j = 0; j < g->n_jobs; j++) {
        int nd = g->n_deps ? g->n_deps(g->ctx, j) : 0;
        MIX(nd);
        for (int i = 0; i < nd; i++) MIX(g->dep(g->ctx, j, i));
        const char *label = g->label ? g->label(g->ctx, j, buf, sizeof buf) : "";
        for (const char *c = label; *c; c++) MIX((unsigned char)*c);
    }
#undef MIX
    return h;
}

/* Sleeps `seconds`, or less when a signal of those wait_mask lets through
 * arrives (false then) or `fd` (>= 0) becomes readable. */
static bool nap(double seconds, int fd, const sigset_t *wait_mask) {
    struct timespec t = {(time_t)seconds, (long)((seconds - floor(seconds)) * 1e9)};
    struct pollfd p = {.fd = fd, .events = POLLIN, .revents = 0};
    return ppoll(&p, fd >= 0 ? 1 : 0, &t, wait_mask) >= 0 || errno != EINTR;
}

/* MPI gives no descriptor to wait on, so a rank naps between looks: a
 * tenth of the time since something last happened, from 50 us to 20 ms. A
 * hand-off then costs about a tenth of the job it follows (zero-cost jobs
 * still go at hundreds a second), and a rank whose jobs run for minutes
 * wakes 50 times a second. */
static double nap_after(double quiet_s) {
    double s = quiet_s / 10;
    return s < 50e-6 ? 50e-6 : s > 0.02 ? 0.02 : s;
}

static int dead_after_seconds(double *out, tk_error *err) {
    const char *v = getenv("TICKET_MPI_DEAD_AFTER");
    *out = DEFAULT_DEAD_AFTER_S;
    if (!v) return 0;
    char *end;
    double s = strtod(v, &end);
    if (end == v || *end || !isfinite(s) || s < 2 * HEARTBEAT_S)
        return tk_fail(err, "TICKET_MPI_DEAD_AFTER='%s': expected the seconds of silence after which a rank counts "
                       "as dead, a number >= %g (a heartbeat comes every %g s); unset it for %g",
                       v, 2 * HEARTBEAT_S, HEARTBEAT_S, DEFAULT_DEAD_AFTER_S);
    *out = s;
    return 0;
}

/* ---- rank 0 */

typedef struct rank_slot {
    int rank, pid;
    char host[64];
    bool busy;
    double heard, sent; /* when it last spoke, when rank 0 last wrote to it */
} rank_slot;

typedef struct leader {
    rank_slot *slot;
    int *slot_of; /* rank -> slot, -1: none */
    int n_slots, size;
    double dead_after, last_event; /* last_event: a job handed out or a message in */
    outbox out;
} leader;

static void leader_post(leader *l, int s, int tag, const message *m) {
    post(&l->out, l->slot[s].rank, tag, m);
    l->slot[s].sent = tk_now();
}

static int leader_start(void *ctx, dispatch *d, int s, int job, char *why, size_t cap) {
    (void)d, (void)why, (void)cap;
    leader *l = ctx;
    message m = {.job = job, .value = 0, .pid = 0, .graph = 0, .text = ""};
    leader_post(l, s, TAG_JOB, &m);
    l->slot[s].busy = true;
    l->last_event = tk_now();
    return 0;
}

static void leader_stop(void *ctx, int sig) {
    leader *l = ctx;
    for (int s = 0; s < l->n_slots; s++)
        if (l->slot[s].busy) {
            message m = {.job = -1, .value = sig, .pid = 0, .graph = 0, .text = ""};
            leader_post(l, s, TAG_STOP, &m);
        }
}

static bool slot_gone(const leader *l, int s) { return l->slot[s].rank < 0; }

/* "alive" to every rank rank 0 has not written to for a heartbeat period. */
static void heartbeats(leader *l, double now) {
    for (int s = 0; s < l->n_slots; s++)
        if (!slot_gone(l, s) && now - l->slot[s].sent >= HEARTBEAT_S) {
            post_tag(&l->out, l->slot[s].rank, TAG_ALIVE, 0);
            l->slot[s].sent = now;
        }
}

/* Up to a second: messages in, heartbeats out, silent ranks counted dead.
 * Returns as soon as a job ended or a stop signal came. */
static void leader_wait(void *ctx, dispatch *d, const sigset_t *wait_mask) {
    leader *l = ctx;
    double until = tk_now() + 1.0;
    for (;;) {
        bool ended = false;
        message m;
        MPI_Status st;
        while (receive(MPI_ANY_SOURCE, &m, &st)) {
            int s = st.MPI_SOURCE < l->size ? l->slot_of[st.MPI_SOURCE] : -1;
            if (s < 0 || slot_gone(l, s)) continue; /* a rank counted dead, or one that came too late: quit sent */
            l->slot[s].heard = l->last_event = tk_now();
            if (st.MPI_TAG == TAG_ENDED && l->slot[s].busy) {
                l->slot[s].busy = false;
                dispatch_ended(d, s, m.value == 1, m.text);
                ended = true;
            }
        }
        double now = tk_now();
        for (int s = 0; s < l->n_slots; s++) {
            if (slot_gone(l, s)) continue;
            if (now - l->slot[s].heard > l->dead_after) {
                char why[256];
                snprintf(why, sizeof why, "rank %d (pid %d on %s) silent for %.0f s, counted dead", l->slot[s].rank,
                         l->slot[s].pid, l->slot[s].host, now - l->slot[s].heard);
                post_tag(&l->out, l->slot[s].rank, TAG_QUIT, 0); /* should it be alive after all */
                l->slot[s].rank = -1, l->slot[s].busy = false;
                dispatch_lost(d, s, why);
                ended = true;
            }
        }
        heartbeats(l, now);
        if (ended || now >= until || !nap(nap_after(now - l->last_event), -1, wait_mask)) return;
    }
}

/* Ranks 1..size-1 say hello with their graph's fingerprint; those heard
 * within HELLO_WAIT_S become the slots. A rank with another graph ran
 * another command or read other files: the run is refused. */
static int gather_hellos(leader *l, const tk_job_graph *g, tk_error *err) {
    uint64_t mine = fingerprint(g);
    double wait_s = l->dead_after > HELLO_WAIT_S ? l->dead_after : HELLO_WAIT_S;
    double until = tk_now() + wait_s;
    int rc = 0;
    while (l->n_slots < l->size - 1 && tk_now() < until) {
        message m;
        MPI_Status st;
        heartbeats(l, tk_now()); /* the ranks that said hello wait for rank 0 no longer than dead_after */
        if (!receive(MPI_ANY_SOURCE, &m, &st)) {
            nap(nap_after(tk_now() - l->last_event), -1, NULL);
            continue;
        }
        l->last_event = tk_now();
        if (st.MPI_TAG != TAG_HELLO || l->slot_of[st.MPI_SOURCE] >= 0) continue;
        if ((m.value != g->n_jobs || m.graph != mine) && rc == 0)
            rc = tk_fail(err, "--backend mpi: rank %d (pid %d on %s) built a job graph of %d jobs (fingerprint "
                         "%016llx), rank 0 one of %d (%016llx): every rank must run the same command on the same "
                         "files (the same study specification and ticket build on every node)", st.MPI_SOURCE,
                         m.pid, m.text, m.value, (unsigned long long)m.graph, g->n_jobs, (unsigned long long)mine);
        rank_slot *s = &l->slot[l->n_slots];
        *s = (rank_slot){.rank = st.MPI_SOURCE, .pid = m.pid, .host = "", .busy = false, .heard = tk_now(),
                         .sent = tk_now()};
        snprintf(s->host, sizeof s->host, "%s", m.text);
        l->slot_of[st.MPI_SOURCE] = l->n_slots++;
    }
    if (rc == 0 && l->n_slots == 0)
        rc = tk_fail_system(err, "--backend mpi: none of ranks 1..%d said hello within %.0f s", l->size - 1, wait_s);
    if (rc == 0 && l->n_slots < l->size - 1)
        fprintf(stderr, "ticket: --backend mpi: %d of %d worker ranks said hello within %.0f s; running on those\n",
                l->n_slots, l->size - 1, wait_s);
    return rc;
}

static int lead(const tk_job_graph *g, const tk_backend_options *o, int size, double dead_after, tk_error *err) {
    const char *recovery = getenv("OMPI_MCA_orte_enable_recovery");
    if (getenv("OMPI_COMM_WORLD_SIZE") && !(recovery && (!strcmp(recovery, "1") || !strcmp(recovery, "true"))))
        fprintf(stderr, "ticket: mpirun without --enable-recovery: a rank that dies ends the whole run (finished "
                        "jobs are kept; the same command continues); with it, rank 0 gives the job of a dead rank to "
                        "another\n");
    leader l = {.slot = tk_calloc((size_t)size, sizeof(rank_slot)), .slot_of = tk_malloc((size_t)size * sizeof(int)),
                .n_slots = 0, .size = size, .dead_after = dead_after, .last_event = tk_now(), .out = {0}};
    for (int r = 0; r < size; r++) l.slot_of[r] = -1;
    int rc = gather_hellos(&l, g, err);
    if (rc == 0) {
        dispatch_pool pool = {.slots = l.n_slots, .threads = o->threads, .ctx = &l, .start = leader_start,
                              .wait = leader_wait, .stop = leader_stop};
        rc = dispatch_run(g, &pool, o->progress_tty, err);
    }
    for (int r = 1; r < size; r++) post_tag(&l.out, r, TAG_QUIT, 0);
    outbox_flush(&l.out, HEARTBEAT_S);
    outbox_free(&l.out);
    free(l.slot), free(l.slot_of);
    return rc;
}

/* ---- ranks 1..N-1 */

static pid_t rank_pid;

/* The job dies with its rank: a rank killed midway leaves no job running. */
static void job_dies_with_rank(void *ctx) {
    (void)ctx;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != rank_pid) _exit(1); /* the rank died before the line above */
}

/* Runs what rank 0 hands out until it says quit (0), or falls silent (-1). */
static int serve(const tk_job_graph *g, int threads, double dead_after, tk_error *err) {
    outbox out = {0};
    message hello = {.job = -1, .value = g->n_jobs, .pid = (int)getpid(), .graph = fingerprint(g), .text = ""};
    gethostname(hello.text, 63);
    post(&out, LEADER, TAG_HELLO, &hello);
    rank_pid = getpid();
    child c = {.pid = 0, .fd = -1, .len = 0, .msg = ""};
    int job = -1, rc = 0;
    double heard = tk_now(), sent = tk_now(), last_event = tk_now();
    for (bool quit = false; !quit;) {
        message m;
        MPI_Status st;
        bool active = false; /* something came or went: look again before napping */
        while (!quit && receive(LEADER, &m, &st)) {
            heard = tk_now(), active = true;
            if (st.MPI_TAG == TAG_JOB && !c.pid) {
                job = m.job;
                if (child_start(&c, g, job, threads, job_dies_with_rank, NULL)) {
                    message e = {.job = job, .value = 0, .pid = 0, .graph = 0, .text = ""};
                    snprintf(e.text, sizeof e.text, "rank %d cannot start the job: %s", (int)getpid(), strerror(errno));
                    post(&out, LEADER, TAG_ENDED, &e);
                }
            } else if (st.MPI_TAG == TAG_STOP && c.pid) {
                kill(c.pid, m.value);
            } else if (st.MPI_TAG == TAG_QUIT) {
                quit = true;
            }
        }
        int status;
        if (c.pid && waitpid(c.pid, &status, WNOHANG) == c.pid) {
            message e = {.job = job, .value = 0, .pid = 0, .graph = 0, .text = ""};
            e.value = child_reap(&c, status, e.text, sizeof e.text);
            post(&out, LEADER, TAG_ENDED, &e);
            active = true;
        }
        double now = tk_now();
        if (now - heard > dead_after) {
            rc = tk_fail_system(err, "--backend mpi: rank 0 has been silent for %.0f s; this rank stops (the "
                                "same mpirun command continues the study)", now - heard);
            break;
        }
        if (now - sent >= HEARTBEAT_S) {
            post_tag(&out, LEADER, TAG_ALIVE, 0);
            sent = now;
        }
        if (active) last_event = now;
        if (!quit && !active) {
            nap(nap_after(now - last_event), c.pid ? c.fd : -1, NULL);
            if (c.pid && c.fd >= 0) child_drain(&c);
        }
    }
    if (c.pid) { /* told to quit while busy (counted dead), or rank 0 gone: the job is another rank's now */
        kill(c.pid, SIGKILL);
        int status;
        waitpid(c.pid, &status, 0);
        char why[sizeof c.msg + 64];
        child_reap(&c, status, why, sizeof why);
    }
    outbox_flush(&out, rc ? 0 : HEARTBEAT_S);
    outbox_free(&out);
    return rc;
}

int tk_mpi_run(const tk_job_graph *g, const tk_backend_options *o, tk_error *err) {
    double dead_after;
    if (dead_after_seconds(&dead_after, err)) return -1;
    if (tk_mpi_rank() < 0)
        return tk_fail(err, "--backend mpi: not started by mpirun (no OMPI_COMM_WORLD_RANK, PMIX_RANK or PMI_RANK in "
                       "the environment); run `mpirun --enable-recovery -np N ticket study run SPEC --backend mpi`, "
                       "N - 1 ranks running jobs, or use --backend local on one machine");
    if (o->threads < 1) return tk_fail(err, "threads must be >= 1 (got %d)", o->threads);
    int provided, rank, size;
    MPI_Init_thread(NULL, NULL, MPI_THREAD_SINGLE, &provided);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int rc;
    if (size < 2)
        rc = tk_fail(err, "--backend mpi needs at least 2 ranks (rank 0 hands out the jobs, ranks 1..N-1 run them); "
                     "got %d: pass mpirun -np N with N >= 2, or use --backend local", size);
    else if (rank == LEADER)
        rc = lead(g, o, size, dead_after, err);
    else
        rc = serve(g, o->threads, dead_after, err);
    if (rc && rank != LEADER) return rc; /* rank 0 is gone: MPI_Finalize would wait for it */
    MPI_Finalize();
    if (rank != LEADER) {
        fflush(NULL);
        exit(0);
    }
    return rc;
}

#endif

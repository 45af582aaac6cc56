/* cmd_study.c - `ticket study plan|run|job|bench` and `ticket report`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tk_backend.h"
#include "tk_cli.h"
#include "tk_file.h"
#include "tk_study.h"

static tk_option options[] = {
    {"out", "DIR", "study directory (default studies/NAME)", NULL},
    {"jobs", "N", "worker processes, also -j N (default: the study's \"workers\")", NULL},
    {"threads", "N", "BLAS threads shared by the workers (default 2)", NULL},
    {"backend", "NAME", "run: who runs the jobs (default local; listed above)", NULL},
    {"job", "N", "job: the job to run, numbered as `ticket study plan` lists them", NULL},
    {"dry-run", NULL, "run --backend slurm: print the batch scripts, submit nothing", NULL},
    {"partition", "P", "slurm: sbatch --partition", NULL},
    {"time", "T", "slurm: sbatch --time, each task's limit (e.g. 4:00:00)", NULL},
    {"cpus-per-task", "N", "slurm: each task's CPUs, also its BLAS threads (default 1)", NULL},
    {"account", "A", "slurm: sbatch --account", NULL},
    {"array-max", "K", "slurm: tasks of one array running at a time (--array=...%K)", NULL},
    {"sbatch-arg", "ARGS", "slurm: more sbatch options, separated by spaces (e.g. \"--qos=low --mem=4G\")", NULL},
};
/* The options only the Slurm backend takes. */
static const char *const slurm_only[] = {"dry-run", "partition", "time", "cpus-per-task", "account", "array-max",
                                         "sbatch-arg"};
enum { N_OPTIONS = sizeof options / sizeof options[0] };

/* Options that belong to one subcommand only. */
static int only_for(const char *sub, const char *option, const char *owner, tk_error *err) {
    if (strcmp(sub, owner) && tk_cli_find(options, N_OPTIONS, option)->value)
        return tk_fail(err, "--%s belongs to `ticket study %s`, not `ticket study %s`", option, owner, sub);
    return 0;
}

static int load_study(const char *path, tk_study *s, tk_error *err) {
    uint8_t *data;
    size_t n;
    if (tk_file_read_all(path, &data, &n, err)) return -1;
    int rc = tk_study_from_json((const char *)data, path, s, err);
    free(data);
    return rc;
}

/* The Slurm options, refused with another backend. */
static int slurm_options(tk_study_run_options *o, tk_error *err) {
    bool slurm = o->backend == &tk_backends[TK_BACKEND_SLURM];
    for (int i = 0; i < TK_ARRAY_LEN(slurm_only); i++)
        if (!slurm && tk_cli_find(options, N_OPTIONS, slurm_only[i])->value)
            return tk_fail(err, "--%s belongs to `ticket study run --backend slurm`", slurm_only[i]);
    o->dry_run = tk_cli_find(options, N_OPTIONS, "dry-run")->value != NULL;
    o->slurm.partition = tk_cli_find(options, N_OPTIONS, "partition")->value;
    o->slurm.time = tk_cli_find(options, N_OPTIONS, "time")->value;
    o->slurm.account = tk_cli_find(options, N_OPTIONS, "account")->value;
    o->slurm.sbatch_args = tk_cli_find(options, N_OPTIONS, "sbatch-arg")->value;
    if (tk_cli_int(options, N_OPTIONS, "cpus-per-task", &o->slurm.cpus_per_task, err) < 0 ||
        tk_cli_int(options, N_OPTIONS, "array-max", &o->slurm.array_max, err) < 0)
        return -1;
    if (o->slurm.cpus_per_task < 0 || o->slurm.array_max < 0)
        return tk_fail(err, "--cpus-per-task and --array-max must be positive");
    return 0;
}

/* A study folder holds one study: another's results would mix with its own. */
static int check_owner(const char *out, const tk_study *s, tk_error *err) {
    char copy[1100];
    snprintf(copy, sizeof copy, "%s/study.json", out);
    if (!tk_file_exists(copy)) return 0;
    tk_study owner;
    if (load_study(copy, &owner, err)) return tk_fail_prefix(err, "the study folder %s: ", out);
    if (strcmp(owner.name, s->name))
        return tk_fail(err, "%s holds the study '%s' (%s), not '%s': pass --out with a folder of its own", out,
                       owner.name, copy, s->name);
    return 0;
}

static int study_status(int argc, char **argv) {
    tk_error err = {0};
    if (argc != 1 || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
        fprintf(argc == 1 ? stdout : stderr, "usage: ticket study status DIR\n\nJobs done, running, queued (in a "
                "backend's queue: Slurm's squeue), failed and waiting, per level, of the study in DIR.\n");
        return argc == 1 ? 0 : 2;
    }
    char spec[1100];
    snprintf(spec, sizeof spec, "%s/study.json", argv[0]);
    if (!tk_file_exists(spec)) {
        fprintf(stderr, "ticket study status: %s is not a study directory (no study.json); `ticket study run` makes "
                "one\n", argv[0]);
        return 2;
    }
    tk_study s;
    if (load_study(spec, &s, &err) || tk_study_status(&s, argv[0], &err)) return tk_cli_fail("study", &err);
    return 0;
}

int tk_cmd_study(int argc, char **argv) {
    tk_error err = {0};
    const char *usage = "ticket study plan|run|job STUDY.json [--out DIR] [-j N] [--threads N] [--backend NAME] "
                        "[--job N] [Slurm options]\n       ticket study status DIR\n       ticket study bench "
                        "[--jobs N] [--backend NAME]";
    char about[1024];
    int len = snprintf(about, sizeof about,
                       "plan: the job graph (find levels per source, target and seed; transfers per source\n"
                       "level x target x seed x control), numbered, with a cost estimate from a short benchmark.\n"
                       "run: runs it, skipping finished jobs, then writes the report into DIR/report\n"
                       "(ticket report DIR rewrites it).\n"
                       "job: runs job N alone in this process, once the job it waits for is done.\n"
                       "status: jobs done, running, queued, failed and waiting per level of the study in DIR.\n"
                       "bench: jobs a second a backend dispatches (`ticket study bench --help`).\n"
                       "Backends:");
    for (int k = 0; k < TK_BACKEND_COUNT && len > 0 && (size_t)len < sizeof about; k++)
        len += snprintf(about + len, sizeof about - (size_t)len, "\n  %-8s %s", tk_backends[k].name,
                        tk_backends[k].summary);
    const char *sub = argc >= 1 ? argv[0] : "";
    if (!strcmp(sub, "status")) return study_status(argc - 1, argv + 1);
    if (!strcmp(sub, "bench")) return tk_cmd_study_bench(argc - 1, argv + 1);
    if (strcmp(sub, "plan") && strcmp(sub, "run") && strcmp(sub, "job")) {
        bool asked = !strcmp(sub, "--help") || !strcmp(sub, "-h");
        tk_cli_usage(asked ? stdout : stderr, usage, about, options, N_OPTIONS);
        return asked ? 0 : 2;
    }
    bool plan = !strcmp(sub, "plan"), job = !strcmp(sub, "job");
    const char *spec = argc > 1 && strncmp(argv[1], "-", 1) ? argv[1] : NULL;
    char **rest = argv + 1 + (spec != NULL);
    int n_rest = argc - 1 - (spec != NULL);
    for (int i = 0; i < n_rest; i++)
        if (!strcmp(rest[i], "-j")) rest[i] = "--jobs";
    bool help;
    if (tk_cli_parse(n_rest, rest, options, N_OPTIONS, &help, &err)) return tk_cli_fail("study", &err);
    if (help || !spec) {
        tk_cli_usage(help ? stdout : stderr, usage, about, options, N_OPTIONS);
        return help ? 0 : 2;
    }
    if (only_for(sub, "backend", "run", &err) || only_for(sub, "job", "job", &err)) return tk_cli_fail("study", &err);
    tk_study_run_options o = {.plan_only = plan, .progress_tty = isatty(STDERR_FILENO)};
    const char *backend = tk_cli_find(options, N_OPTIONS, "backend")->value;
    if (backend && tk_backend_parse(backend, &o.backend, &err)) return tk_cli_fail("study", &err);
    if (slurm_options(&o, &err)) return tk_cli_fail("study", &err);
    int index = -1;
    int has_job = tk_cli_int(options, N_OPTIONS, "job", &index, &err);
    if (has_job < 0) return tk_cli_fail("study", &err);
    if (job && !has_job) {
        fprintf(stderr, "ticket study job: --job N is required (`ticket study plan %s` lists the jobs)\n", spec);
        return 2;
    }
    tk_study s;
    if (load_study(spec, &s, &err)) return tk_cli_fail("study", &err);
    char out[1024];
    const char *given = tk_cli_find(options, N_OPTIONS, "out")->value;
    if (given) snprintf(out, sizeof out, "%s", given);
    else snprintf(out, sizeof out, "studies/%s", s.name);
    o.out = out;
    if (tk_cli_int(options, N_OPTIONS, "jobs", &o.workers, &err) < 0 ||
        tk_cli_int(options, N_OPTIONS, "threads", &o.threads, &err) < 0)
        return tk_cli_fail("study", &err);
    if (o.workers < 0 || o.threads < 0) {
        fprintf(stderr, "ticket study: -j and --threads must be positive\n");
        return 2;
    }
    /* A plan is useful before the data is fetched: missing data is a warning there. */
    if (tk_study_check_data(&s, &err)) {
        if (!plan) return tk_cli_fail("study", &err);
        fprintf(stderr, "ticket study: warning: %s\n(planning with the catalog's shapes and sizes)\n", err.msg);
    }
    if (!plan && check_owner(out, &s, &err)) return tk_cli_fail("study", &err);
    if (!plan && !tk_backend_serves_only(o.backend)) {
        /* The report command rebuilds the study from this copy. It is
         * rewritten only when it differs: the tasks of a Slurm array start
         * together, each with this copy as its specification. */
        uint8_t *data, *had = NULL;
        size_t n, n_had = 0;
        char copy[1100];
        snprintf(copy, sizeof copy, "%s/study.json", out);
        if (tk_mkdirs(out, &err) || tk_file_read_all(spec, &data, &n, &err)) return tk_cli_fail("study", &err);
        bool same = tk_file_read_all(copy, &had, &n_had, NULL) == 0 && n_had == n && !memcmp(had, data, n);
        int rc = same ? 0 : tk_file_write_atomic(copy, data, n, &err);
        free(data), free(had);
        if (rc) return tk_cli_fail("study", &err);
    }
    if (job) {
        bool was_done;
        if (tk_study_job(&s, out, index, o.threads ? o.threads : 1, &was_done, &err)) return tk_cli_fail("study", &err);
        printf("study %s: job %d %s\n", s.name, index, was_done ? "was already done" : "done");
        return 0;
    }
    char spec_copy[1100];
    snprintf(spec_copy, sizeof spec_copy, "%s/study.json", out);
    o.spec = spec_copy;
    int rc = tk_study_run(&s, &o, &err);
    if (rc < 0) return tk_cli_fail("study", &err);
    if (!plan && !o.dry_run && rc == 0)
        printf("study %s: done; report in %s/report (report.md, results.csv, figures/)\n", s.name, out);
    return 0;
}

int tk_cmd_report(int argc, char **argv) {
    tk_error err = {0};
    if (argc != 1 || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
        printf("usage: ticket report STUDY_DIR\n\nCollects every finished run of the study in STUDY_DIR (as "
               "`ticket study run` left it)\nand writes STUDY_DIR/report: results.csv/json, summary.csv/json, "
               "report.md, figures/.\n");
        return argc == 1 ? 0 : 2;
    }
    char spec[1100];
    snprintf(spec, sizeof spec, "%s/study.json", argv[0]);
    tk_study s;
    if (!tk_file_exists(spec)) {
        fprintf(stderr, "ticket report: %s is not a study directory (no study.json); `ticket study run` makes one\n",
                argv[0]);
        return 2;
    }
    if (load_study(spec, &s, &err) || tk_study_report(&s, argv[0], &err)) return tk_cli_fail("report", &err);
    printf("report written to %s/report\n", argv[0]);
    return 0;
}

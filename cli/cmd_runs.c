/* cmd_runs.c - the run store from the command line: `ticket runs`, `ticket show`, `ticket export`. */
#define _POSIX_C_SOURCE 200809L
#include <cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tk_cli.h"
#include "tk_file.h"
#include "tk_find.h"
#include "tk_ticket.h"

static cJSON *read_json(const char *path, tk_error *err) {
    uint8_t *data;
    size_t n;
    if (tk_file_read_all(path, &data, &n, err)) return NULL;
    cJSON *o = cJSON_ParseWithLength((const char *)data, n);
    free(data);
    if (!o) tk_fail(err, "%s: not valid JSON; delete it to have it rewritten", path);
    return o;
}

static double number(const cJSON *o, const char *key) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(it) ? it->valuedouble : 0;
}

/* A run given as a hash (looked up in root) or as a directory. */
static void run_path(const char *run, const char *root, char *out, size_t cap) {
    char probe[1200];
    snprintf(probe, sizeof probe, "%s/find.json", run);
    if (tk_file_exists(probe)) snprintf(out, cap, "%s", run);
    else snprintf(out, cap, "%s/%s", root, run);
}

int tk_cmd_runs(int argc, char **argv) {
    tk_option opts[] = {{"root", "DIR", "run store (default runs)", NULL}};
    bool help;
    int rc = tk_cli_begin("runs", argc, argv, NULL, opts, 1, "ticket runs [--root DIR]",
                          "Lists the find runs: hash, model, dataset, seed, levels done and final accuracy per level.",
                          &help);
    if (rc || help) return rc;
    const char *root = opts[0].value ? opts[0].value : "runs";
    DIR *d = opendir(root);
    if (!d) {
        fprintf(stderr, "ticket runs: cannot open %s: no runs yet (ticket find creates them) or give --root\n", root);
        return 2;
    }
    char *names[4096];
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) && n < 4096;)
        if (e->d_name[0] != '.') names[n++] = strdup(e->d_name);
    closedir(d);
    for (int i = 1; i < n; i++) /* sorted, so the listing is stable */
        for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    printf("%-16s  %-14s  %-16s %5s %7s  %s\n", "run", "model", "dataset", "seed", "levels", "final accuracy per level (%)");
    for (int i = 0; i < n; i++) {
        char dir[1200], summary[1300];
        snprintf(dir, sizeof dir, "%s/%s", root, names[i]);
        tk_find_config c;
        tk_error err = {0};
        if (tk_find_open(dir, &c, &err)) {
            snprintf(summary, sizeof summary, "%s/find.json", dir);
            if (tk_file_exists(summary)) printf("%-16s  (damaged: %s)\n", names[i], err.msg);
            free(names[i]);
            continue;
        }
        int done = 0;
        char accs[1024] = "";
        for (int l = 0; l <= 100; l++) { /* the number of levels is not stored: it may grow */
            snprintf(summary, sizeof summary, "%s/level_%02d/summary.json", dir, l);
            tk_train_result r;
            if (!tk_file_exists(summary) || tk_train_read_summary(summary, &r, &err)) break;
            done++;
            snprintf(accs + strlen(accs), sizeof accs - strlen(accs), "%s%.2f", l ? " " : "", 100.0 * r.final_accuracy);
        }
        printf("%-16s  %-14s  %-16s %5llu %7d  %s\n", names[i], c.train.model, c.train.dataset,
               (unsigned long long)c.train.seed, done, accs);
        free(names[i]);
    }
    return 0;
}

int tk_cmd_show(int argc, char **argv) {
    tk_option opts[] = {{"root", "DIR", "run store (default runs)", NULL}};
    bool help;
    const char *run;
    int rc = tk_cli_begin("show", argc, argv, &run, opts, 1, "ticket show RUN [--root DIR]",
                          "Prints each level's density and accuracy (final and best), the controls' final\n"
                          "accuracy, and the density of every prunable tensor. RUN is a hash or a directory.",
                          &help);
    if (rc || help) return rc;
    if (!run) {
        fprintf(stderr, "ticket show: name a run (a hash from `ticket runs`, or its directory)\n");
        return 2;
    }
    char dir[1200];
    run_path(run, opts[0].value ? opts[0].value : "runs", dir, sizeof dir);
    tk_find_config c;
    tk_error err = {0};
    if (tk_find_open(dir, &c, &err)) return tk_cli_fail("show", &err);
    printf("run %s: %s on %s, %s, seed %llu\n", dir, c.train.model, c.train.dataset,
           tk_optim_names[c.train.optim.kind], (unsigned long long)c.train.seed);
    /* Controls are not part of the configuration's hash: find them on disk. */
    bool has[TK_CONTROL_COUNT];
    printf("%5s %10s %10s %9s %16s", "level", "density%", "of_all%", "final%", "best% (it)");
    for (int k = 0; k < TK_CONTROL_COUNT; k++) {
        char probe[1400];
        snprintf(probe, sizeof probe, "%s/level_01/%s/config.json", dir, tk_controls[k].name);
        if ((has[k] = tk_file_exists(probe))) printf(" %14s", tk_controls[k].name);
    }
    printf("  per-tensor density %%\n");
    for (int l = 0; l <= 100; l++) {
        char path[1400];
        snprintf(path, sizeof path, "%s/level_%02d/sparsity.json", dir, l);
        if (!tk_file_exists(path)) break;
        cJSON *sp = read_json(path, &err);
        if (!sp) return tk_cli_fail("show", &err);
        tk_train_result r = {0};
        snprintf(path, sizeof path, "%s/level_%02d/summary.json", dir, l);
        bool trained = tk_file_exists(path) && tk_train_read_summary(path, &r, &err) == 0;
        printf("%5d %10.3f %10.3f", l, 100 * number(sp, "density"),
               100 * number(sp, "kept_of_all_parameters") / number(sp, "all_parameters"));
        if (trained) printf(" %9.2f %9.2f (%lld)", 100.0 * r.final_accuracy, 100.0 * r.best_accuracy, (long long)r.best_iteration);
        else printf(" %9s %16s", "-", "-");
        for (int k = 0; k < TK_CONTROL_COUNT; k++) {
            if (!has[k]) continue;
            tk_train_result cr;
            snprintf(path, sizeof path, "%s/level_%02d/%s/summary.json", dir, l, tk_controls[k].name);
            if (l > 0 && tk_file_exists(path) && tk_train_read_summary(path, &cr, &err) == 0)
                printf(" %14.2f", 100.0 * cr.final_accuracy);
            else printf(" %14s", "-");
        }
        printf(" ");
        const cJSON *layer;
        cJSON_ArrayForEach(layer, cJSON_GetObjectItemCaseSensitive(sp, "layers")) {
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(layer, "name");
            printf(" %s=%.2f", cJSON_IsString(name) ? name->valuestring : "?", 100 * number(layer, "density"));
        }
        printf("\n");
        cJSON_Delete(sp);
    }
    return 0;
}

int tk_cmd_export(int argc, char **argv) {
    tk_option opts[] = {{"level", "L", "the level to export (required)", NULL},
                        {"out", "FILE", "output file (default ticket-HASH-LEVEL.tkt)", NULL},
                        {"root", "DIR", "run store (default runs)", NULL}};
    bool help;
    const char *run;
    int rc = tk_cli_begin("export", argc, argv, &run, opts, 3, "ticket export RUN --level L [--out FILE]",
                          "Writes the ticket of one level (mask, weights at the rewind point, provenance) as a\n"
                          "self-describing file; the format is in README (Tickets).",
                          &help);
    if (rc || help) return rc;
    tk_error err = {0};
    int level = -1;
    if (!run || tk_cli_int(opts, 3, "level", &level, &err) <= 0 || level < 0) {
        fprintf(stderr, "ticket export: %s\n", err.msg[0] ? err.msg : "give a run and --level L (L >= 0)");
        return 2;
    }
    char dir[1200], path[1400], out[1400];
    run_path(run, opts[2].value ? opts[2].value : "runs", dir, sizeof dir);
    tk_find_config c;
    if (tk_find_open(dir, &c, &err)) return tk_cli_fail("export", &err);
    snprintf(path, sizeof path, "%s/level_%02d/ticket", dir, level);
    if (!tk_file_exists(path)) {
        fprintf(stderr, "ticket export: %s has no ticket at level %d yet (`ticket find` with --levels %d or more "
                "makes it; `ticket show` lists the levels done)\n", dir, level, level);
        return 2;
    }
    char hash[17];
    tk_find_hash(&c, hash);
    if (opts[1].value) snprintf(out, sizeof out, "%s", opts[1].value);
    else snprintf(out, sizeof out, "ticket-%s-%d.tkt", hash, level);
    uint8_t *data = NULL;
    size_t n = 0;
    tk_model_config mc;
    char model[64];
    /* Checked (magic, version, CRC-32) before it is copied: a damaged ticket is not exported as good. */
    if (tk_ticket_model(path, &mc, model, &err) || tk_file_read_all(path, &data, &n, &err) ||
        tk_file_write_atomic(out, data, n, &err)) {
        free(data);
        return tk_cli_fail("export", &err);
    }
    free(data);
    printf("wrote %s (%zu bytes): level %d of %s\n", out, n, level, dir);
    return 0;
}

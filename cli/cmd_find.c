/* cmd_find.c - `ticket find`: iterative magnitude pruning with rewinding, and the controls. */
#define _POSIX_C_SOURCE 200809L
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tk_cli.h"
#include "tk_file.h"
#include "tk_find.h"

static tk_option options[] = {
    {"model", "M", "architecture (without a SPEC file)", NULL},
    {"dataset", "D", "source dataset (without a SPEC file)", NULL},
    {"optimizer", "sgd|adam|adamw", "optimizer", NULL},
    {"lr", "X", "learning rate", NULL},
    {"batch", "N", "batch size", NULL},
    {"length", "T", "training length of every level, e.g. 10ep", NULL},
    {"strategy", "global|layerwise", "pruning strategy (default global)", NULL},
    {"rate", "X", "fraction of the remaining weights pruned per round (default 0.2)", NULL},
    {"levels", "N", "pruning rounds (default 10)", NULL},
    {"rewind", "T", "rewind point, e.g. 0it (default), 500it, 1ep", NULL},
    {"exclude-output", NULL, "keep the output layer dense", NULL},
    {"controls", "C,C", "controls: reinit, random_mask, random_ticket, random_global, l1", NULL},
    {"seed", "N", "replicate seed (overrides the SPEC's)", NULL},
    {"threads", "N", "threads, BLAS's and the layers' own (overrides the SPEC's)", NULL},
    {"root", "DIR", "run store (default runs)", NULL},
    {"quiet", NULL, "print only the final table", NULL},
};
enum { N_OPTIONS = sizeof options / sizeof options[0] };

static const char *opt(const char *name) { return tk_cli_find(options, N_OPTIONS, name)->value; }

/* Flags become a specification, so both routes share one parser and its checks. */
static int spec_from_flags(char **text, tk_error *err) {
    if (!opt("model") || !opt("dataset"))
        return tk_fail(err, "give a specification file (ticket find SPEC.json) or --model and --dataset");
    cJSON *root = cJSON_CreateObject(), *train = cJSON_AddObjectToObject(root, "train");
    cJSON *pruning = cJSON_AddObjectToObject(root, "pruning");
    cJSON_AddStringToObject(train, "model", opt("model"));
    cJSON_AddStringToObject(train, "dataset", opt("dataset"));
    if (opt("optimizer")) cJSON_AddStringToObject(train, "optimizer", opt("optimizer"));
    if (opt("length")) cJSON_AddStringToObject(train, "length", opt("length"));
    float lr, rate;
    int batch, levels, rc = 0;
    if ((rc = tk_cli_float(options, N_OPTIONS, "lr", &lr, err)) < 0) goto done;
    if (rc) cJSON_AddNumberToObject(train, "lr", lr);
    if ((rc = tk_cli_int(options, N_OPTIONS, "batch", &batch, err)) < 0) goto done;
    if (rc) cJSON_AddNumberToObject(train, "batch", batch);
    if (opt("strategy")) cJSON_AddStringToObject(pruning, "strategy", opt("strategy"));
    if ((rc = tk_cli_float(options, N_OPTIONS, "rate", &rate, err)) < 0) goto done;
    if (rc) cJSON_AddNumberToObject(pruning, "rate", rate);
    if ((rc = tk_cli_int(options, N_OPTIONS, "levels", &levels, err)) < 0) goto done;
    if (rc) cJSON_AddNumberToObject(pruning, "levels", levels);
    if (opt("exclude-output")) cJSON_AddTrueToObject(pruning, "exclude_output");
    if (opt("rewind")) cJSON_AddStringToObject(root, "rewind", opt("rewind"));
    if (opt("controls")) {
        cJSON *controls = cJSON_AddArrayToObject(root, "controls");
        char buf[256], *save = NULL;
        snprintf(buf, sizeof buf, "%s", opt("controls"));
        for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
            cJSON_AddItemToArray(controls, cJSON_CreateString(tok));
    }
    rc = 0;
    *text = cJSON_Print(root);
done:
    cJSON_Delete(root);
    return rc < 0 ? -1 : 0;
}

static void print_level(const tk_level_report *r, void *ctx) {
    (void)ctx;
    printf("level %2d  density %7.3f%%  final %6.2f%%  best %6.2f%% (it %lld)", r->level,
           100.0 * (double)r->kept / (double)r->covered, 100.0 * r->ticket.final_accuracy,
           100.0 * r->ticket.best_accuracy, (long long)r->ticket.best_iteration);
    for (int k = 0; k < TK_CONTROL_COUNT; k++)
        if (r->has_control[k]) printf("  %s %6.2f%%", tk_controls[k].name, 100.0 * r->control[k].final_accuracy);
    printf("\n");
    fflush(stdout);
}

int tk_cmd_find(int argc, char **argv) {
    bool help;
    const char *spec_path; /* the positional SPEC file comes first, if any */
    int rc = tk_cli_begin("find", argc, argv, &spec_path, options, N_OPTIONS,
                          "ticket find SPEC.json [--seed N] [--root DIR]\n"
                          "       ticket find --model M --dataset D [options]",
                          "Finds winning tickets by iterative magnitude pruning with rewinding: train, prune,\n"
                          "rewind the surviving weights, repeat; trains the requested controls at every level.\n"
                          "Finished work is skipped and an interrupted run resumes (see README: Tickets).",
                          &help);
    if (rc || help) return rc;
    tk_error err = {0};
    char *text = NULL;
    const char *where = spec_path ? spec_path : "(command line)";
    if (spec_path) {
        uint8_t *data;
        size_t n;
        if (tk_file_read_all(spec_path, &data, &n, &err) == 0) text = (char *)data;
    } else {
        spec_from_flags(&text, &err);
    }
    tk_find_config c;
    rc = text ? tk_find_config_from_json(text, where, &c, &err) : -1;
    free(text);
    if (rc == 0 && (tk_cli_u64(options, N_OPTIONS, "seed", &c.train.seed, &err) < 0 ||
                    tk_cli_int(options, N_OPTIONS, "threads", &c.train.threads, &err) < 0))
        rc = -1;
    if (rc) {
        fprintf(stderr, "ticket find: %s\n", err.msg);
        return 2;
    }
    const char *root = opt("root") ? opt("root") : "runs";
    bool quiet = opt("quiet") != NULL;
    tk_progress progress = quiet ? TK_PROGRESS_NONE : isatty(STDERR_FILENO) ? TK_PROGRESS_BAR : TK_PROGRESS_LINES;
    char dir[1200];
    char hash[17];
    tk_find_hash(&c, hash);
    printf("run %s/%s: %s on %s, seed %llu\n", root, hash, c.train.model, c.train.dataset,
           (unsigned long long)c.train.seed);
    if (tk_find_run(&c, root, progress, print_level, NULL, dir, sizeof dir, &err)) return tk_cli_fail("find", &err);
    return 0;
}

/* cmd_models.c - `ticket models`: the registry with sizes and costs. */
#include <stdio.h>
#include <string.h>

#include "tk_cli.h"
#include "tk_model.h"

static tk_option options[] = {
    {"input", "CxHxW", "input shape (default: each model's own, e.g. 3x32x32)", NULL},
    {"classes", "N", "output classes (default 10)", NULL},
    {"width", "X", "width multiplier (default 1)", NULL},
};
enum { N_OPTIONS = sizeof options / sizeof options[0] };

int tk_cmd_models(int argc, char **argv) {
    bool help;
    int rc = tk_cli_begin("models", argc, argv, NULL, options, N_OPTIONS,
                          "ticket models [--input CxHxW] [--classes N] [--width X]",
                          "Lists every model with its parameter count, prunable weights and forward FLOPs per\n"
                          "sample (2 x multiply-adds of conv and linear layers).",
                          &help);
    if (rc || help) return rc;
    tk_error err = {0};
    tk_model_config cfg = {.classes = 10, .width = 1};
    const char *input = tk_cli_find(options, N_OPTIONS, "input")->value;
    if (input) {
        char extra;
        if (sscanf(input, "%dx%dx%d%c", &cfg.input.C, &cfg.input.H, &cfg.input.W, &extra) != 3 ||
            cfg.input.C < 1 || cfg.input.H < 1 || cfg.input.W < 1) {
            fprintf(stderr, "ticket models: --input expects CxHxW with positive sizes, e.g. 3x32x32; got '%s'\n",
                    input);
            return 2;
        }
    }
    if (tk_cli_int(options, N_OPTIONS, "classes", &cfg.classes, &err) < 0 ||
        tk_cli_float(options, N_OPTIONS, "width", &cfg.width, &err) < 0) {
        fprintf(stderr, "ticket models: %s\n", err.msg);
        return 2;
    }
    int count;
    const tk_model_entry *entries = tk_model_registry(&count);
    printf("%-14s %-10s %12s %12s %12s  %s\n", "model", "input", "parameters", "prunable", "MFLOP/sample",
           "description");
    int failures = 0;
    for (int i = 0; i < count; i++) {
        cfg.name = entries[i].name;
        tk_model *m = tk_model_create(&cfg, &err);
        if (!m) {
            printf("%-14s %s\n", entries[i].name, err.msg);
            failures++;
            continue;
        }
        char shape[32];
        snprintf(shape, sizeof shape, "%dx%dx%d", m->input.C, m->input.H, m->input.W);
        printf("%-14s %-10s %12zu %12zu %12.2f  %s\n", m->name, shape, m->n_params, m->n_prunable,
               tk_model_flops(m) / 1e6, entries[i].description);
        tk_model_free(m);
    }
    return failures == count ? 1 : 0;
}

/* cmd_train.c - `ticket train`: train one network, or resume a run. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tk_cli.h"
#include "tk_file.h"
#include "tk_train.h"

static tk_option options[] = {
    {"model", "M", "architecture (see `ticket models`)", NULL},
    {"dataset", "D", "dataset name, e.g. fashion-mnist", NULL},
    {"optimizer", "sgd|adam|adamw", "optimizer (default: the model's, see README)", NULL},
    {"lr", "X", "learning rate", NULL},
    {"momentum", "X", "SGD momentum", NULL},
    {"nesterov", NULL, "Nesterov momentum (SGD)", NULL},
    {"weight-decay", "X", "L2 penalty (SGD, Adam) or decoupled decay (AdamW)", NULL},
    {"schedule", "constant|multistep|cosine", "learning-rate schedule", NULL},
    {"milestones", "T,T,...", "multistep milestones, e.g. 80ep,120ep", NULL},
    {"gamma", "X", "multistep factor per milestone", NULL},
    {"warmup", "T", "linear warm-up length, e.g. 1ep", NULL},
    {"batch", "N", "batch size", NULL},
    {"epochs", "N", "training length in epochs", NULL},
    {"iterations", "N", "training length in iterations", NULL},
    {"length", "T", "training length as a duration, e.g. 2ep10it", NULL},
    {"eval-every", "T", "evaluate every T (default 1ep)", NULL},
    {"checkpoint-every", "T", "checkpoint every T (default 1ep)", NULL},
    {"val", "N", "hold out N training examples for validation", NULL},
    {"width", "X", "width multiplier (default 1)", NULL},
    {"seed", "N", "replicate seed (default 0)", NULL},
    {"threads", "N", "threads, BLAS's and the layers' own (default 2)", NULL},
    {"kernels", "auto|dense|sparse", "masked layers' kernels (default auto: sparse at 30% density and below)", NULL},
    {"out", "DIR", "run directory (default runs/train-MODEL-DATASET-sSEED)", NULL},
    {"resume", "DIR", "continue the run in DIR with its own config", NULL},
    {"quiet", NULL, "print only the final result", NULL},
};
enum { N_OPTIONS = sizeof options / sizeof options[0] };

static int parse_milestones(const char *text, tk_train_config *cfg, tk_error *err) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", text);
    cfg->n_milestones = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (cfg->n_milestones == TK_ARRAY_LEN(cfg->milestones)) return tk_fail(err, "--milestones: at most 16");
        if (tk_duration_parse(tok, &cfg->milestones[cfg->n_milestones++], err))
            return tk_fail_prefix(err, "--milestones: ");
    }
    return 0;
}

/* Defaults of the model, then every option given on top. */
static int build_config(tk_train_config *cfg, tk_error *err) {
    const char *model = tk_cli_find(options, N_OPTIONS, "model")->value;
    const char *dataset = tk_cli_find(options, N_OPTIONS, "dataset")->value;
    if (!model) return tk_fail(err, "--model is required (see `ticket models`)");
    if (!dataset) return tk_fail(err, "--dataset is required (e.g. --dataset fashion-mnist)");
    if (tk_train_defaults(model, cfg, err)) return -1;
    snprintf(cfg->dataset, sizeof cfg->dataset, "%s", dataset);
    const char *opt = tk_cli_find(options, N_OPTIONS, "optimizer")->value;
    if (opt) {
        tk_optim_kind kind;
        if (tk_optim_parse(opt, &kind, err)) return -1;
        if (kind != cfg->optim.kind) {
            float lr = cfg->optim.lr;
            cfg->optim = tk_optim_defaults(kind);
            cfg->optim.lr = lr;
        }
    }
    const char *sched = tk_cli_find(options, N_OPTIONS, "schedule")->value;
    if (sched && tk_schedule_parse(sched, &cfg->schedule, err)) return -1;
    const char *kernels = tk_cli_find(options, N_OPTIONS, "kernels")->value;
    int kind;
    if (kernels && tk_parse_name("--kernels", kernels, tk_kernels_names, TK_KERNELS_COUNT, &kind, err)) return -1;
    if (kernels) cfg->kernels = (tk_kernels)kind;
    const char *ms = tk_cli_find(options, N_OPTIONS, "milestones")->value;
    if (ms && parse_milestones(ms, cfg, err)) return -1;
    cfg->optim.nesterov |= tk_cli_find(options, N_OPTIONS, "nesterov")->value != NULL;
    int epochs = 0, iterations = 0, rc;
    if (tk_cli_float(options, N_OPTIONS, "lr", &cfg->optim.lr, err) < 0 ||
        tk_cli_float(options, N_OPTIONS, "momentum", &cfg->optim.momentum, err) < 0 ||
        tk_cli_float(options, N_OPTIONS, "weight-decay", &cfg->optim.weight_decay, err) < 0 ||
        tk_cli_float(options, N_OPTIONS, "gamma", &cfg->gamma, err) < 0 ||
        tk_cli_float(options, N_OPTIONS, "width", &cfg->width, err) < 0 ||
        tk_cli_duration(options, N_OPTIONS, "warmup", &cfg->warmup, err) < 0 ||
        tk_cli_int(options, N_OPTIONS, "batch", &cfg->batch, err) < 0 ||
        tk_cli_int(options, N_OPTIONS, "val", &cfg->val_size, err) < 0 ||
        tk_cli_int(options, N_OPTIONS, "threads", &cfg->threads, err) < 0 ||
        tk_cli_u64(options, N_OPTIONS, "seed", &cfg->seed, err) < 0 ||
        tk_cli_duration(options, N_OPTIONS, "eval-every", &cfg->eval_every, err) < 0 ||
        tk_cli_duration(options, N_OPTIONS, "checkpoint-every", &cfg->checkpoint_every, err) < 0)
        return -1;
    int given = 0;
    if ((rc = tk_cli_int(options, N_OPTIONS, "epochs", &epochs, err)) < 0) return -1;
    if (rc) given++, cfg->length = (tk_duration){epochs, 0};
    if ((rc = tk_cli_int(options, N_OPTIONS, "iterations", &iterations, err)) < 0) return -1;
    if (rc) given++, cfg->length = (tk_duration){0, iterations};
    if ((rc = tk_cli_duration(options, N_OPTIONS, "length", &cfg->length, err)) < 0) return -1;
    given += rc;
    if (given > 1) return tk_fail(err, "give only one of --epochs, --iterations and --length");
    if (epochs < 0 || iterations < 0) return tk_fail(err, "--epochs and --iterations must be >= 0");
    return tk_train_validate(cfg, err);
}

static int load_run_config(const char *dir, tk_train_config *cfg, tk_error *err) {
    char path[2048];
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (!tk_file_exists(path))
        return tk_fail(err, "%s is not a run directory (no config.json); start a run with `ticket train --model "
                       "M --dataset D --out %s`", dir, dir);
    uint8_t *data;
    size_t n;
    if (tk_file_read_all(path, &data, &n, err)) return -1;
    char *text = (char *)data;
    int rc = tk_train_config_from_json(text, path, cfg, err);
    free(text);
    return rc;
}

int tk_cmd_train(int argc, char **argv) {
    bool help;
    const char *usage = "ticket train --model M --dataset D [options]\n       ticket train --resume DIR";
    int rc = tk_cli_begin("train", argc, argv, NULL, options, N_OPTIONS, usage,
                          "Trains one network, evaluating on the test split every --eval-every and writing\n"
                          "config.json, metrics.jsonl, checkpoint and summary.json into the run directory.\n"
                          "A run directory that already holds the same run resumes where it stopped.",
                          &help);
    if (rc || help) return rc;
    tk_error err = {0};
    tk_train_config cfg;
    char dir[1024];
    const char *resume = tk_cli_find(options, N_OPTIONS, "resume")->value;
    const char *out = tk_cli_find(options, N_OPTIONS, "out")->value;
    if (resume) {
        for (int i = 0; i < N_OPTIONS; i++)
            if (options[i].value && strcmp(options[i].name, "resume") && strcmp(options[i].name, "quiet")) {
                fprintf(stderr, "ticket train: --resume continues a run with its stored config; --%s cannot be "
                        "combined with it\n", options[i].name);
                return 2;
            }
        snprintf(dir, sizeof dir, "%s", resume);
        rc = load_run_config(dir, &cfg, &err);
    } else {
        rc = build_config(&cfg, &err);
        if (out) snprintf(dir, sizeof dir, "%s", out);
        else snprintf(dir, sizeof dir, "runs/train-%s-%s-s%llu", cfg.model, cfg.dataset, (unsigned long long)cfg.seed);
    }
    if (rc) {
        fprintf(stderr, "ticket train: %s\n", err.msg);
        return 2;
    }
    bool quiet = tk_cli_find(options, N_OPTIONS, "quiet")->value != NULL;
    tk_progress progress = quiet ? TK_PROGRESS_NONE : isatty(STDERR_FILENO) ? TK_PROGRESS_BAR : TK_PROGRESS_LINES;
    tk_train_result r;
    if (tk_train_run(&cfg, dir, progress, &r, &err)) return tk_cli_fail("train", &err);
    printf("run %s: %lld iterations, final accuracy %.2f%% (after the last step), best accuracy %.2f%% "
           "(iteration %lld)",
           dir, (long long)r.iterations, 100.0 * r.final_accuracy, 100.0 * r.best_accuracy,
           (long long)r.best_iteration);
    if (r.early_stop_iteration >= 0) printf(", early-stopping iteration %lld", (long long)r.early_stop_iteration);
    printf(", %.0f samples/s\n", r.samples_per_second);
    return 0;
}

/* main.c - the ticket command: dispatch to a subcommand. */
#include <stdio.h>
#include <string.h>

#include "tk_cli.h"
#include "tk_common.h"
#include "tk_file.h"
#include "tk_gemm.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} command;

static const command commands[] = {
    {"train", tk_cmd_train, "train one network (or resume a run)"},
    {"find", tk_cmd_find, "find winning tickets: iterative magnitude pruning with rewinding"},
    {"runs", tk_cmd_runs, "list the find runs in the run store"},
    {"show", tk_cmd_show, "a run's density and accuracy per level, overall and per layer"},
    {"export", tk_cmd_export, "write one level's ticket file"},
    {"study", tk_cmd_study, "plan or run a transfer study"},
    {"report", tk_cmd_report, "tables, report and figures of a study"},
    {"regress", tk_cmd_regress, "check a study's results against published numbers"},
    {"bench", tk_cmd_bench, "training and evaluation samples/s and GFLOP/s"},
    {"models", tk_cmd_models, "list the models with parameter counts and FLOPs"},
    {"data", tk_cmd_data, "list, inspect, verify and preview datasets"},
};

static void usage(FILE *f) {
    fprintf(f, "ticket %s - do lottery tickets transfer?\n\nusage: ticket COMMAND [options]\n\ncommands:\n",
            TK_VERSION);
    for (int i = 0; i < TK_ARRAY_LEN(commands); i++) fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n`ticket COMMAND --help` lists the options of a command.\n");
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("ticket %s\n", TK_VERSION);
        return 0;
    }
    tk_error err = {0};
    if (tk_gemm_check_env(&err) || tk_crash_init(&err)) {
        fprintf(stderr, "ticket: %s\n", err.msg);
        return 2;
    }
    const char *names[TK_ARRAY_LEN(commands)];
    for (int i = 0; i < TK_ARRAY_LEN(commands); i++) {
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 2, argv + 2);
        names[i] = commands[i].name;
    }
    const char *near = tk_nearest(argv[1], names, TK_ARRAY_LEN(commands));
    if (near) fprintf(stderr, "ticket: unknown command '%s' (did you mean '%s'?); see ticket --help\n", argv[1], near);
    else fprintf(stderr, "ticket: unknown command '%s'; see ticket --help\n", argv[1]);
    return 2;
}

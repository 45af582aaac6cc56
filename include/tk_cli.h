/* tk_cli.h - command-line options shared by the ticket commands.
 *
 * Options are `--name value` or `--name=value`; flags take no value. Values
 * are kept as text and converted by the typed getters, so that every error
 * names the option and what was expected. */
#ifndef TK_CLI_H
#define TK_CLI_H

#include <stdio.h>

#include "tk_common.h"
#include "tk_optim.h"

typedef struct tk_option {
    const char *name;    /* without the dashes */
    const char *metavar; /* NULL for a flag */
    const char *help;
    const char *value;   /* filled by tk_cli_parse; "1" for a given flag */
} tk_option;

/* Parses argv[0..argc) (after the command name). `--help` sets *help. */
int tk_cli_parse(int argc, char **argv, tk_option *opts, int n, bool *help, tk_error *err);
void tk_cli_usage(FILE *f, const char *usage, const char *about, const tk_option *opts, int n);
/* How a command starts: takes a leading positional argument when
 * `positional` is not NULL (*positional gets it, or NULL when argv[0] is an
 * option), then parses the options. A bad option prints "ticket CMD: why" and
 * returns 2; --help prints the usage to stdout and sets *help. Returns 0
 * otherwise, so a command goes on only when the result is 0 and !*help. */
int tk_cli_begin(const char *cmd, int argc, char **argv, const char **positional, tk_option *opts, int n,
                 const char *usage, const char *about, bool *help);
const tk_option *tk_cli_find(const tk_option *opts, int n, const char *name);
/* How a command ends on a failure: prints "ticket CMD: message" on stderr and
 * returns the exit code of the error's kind (tk_exit_code). */
int tk_cli_fail(const char *cmd, const tk_error *err);

/* Each returns 1 when the option was given and converted, 0 when absent, -1 on a bad value. */
int tk_cli_float(const tk_option *opts, int n, const char *name, float *out, tk_error *err);
int tk_cli_int(const tk_option *opts, int n, const char *name, int *out, tk_error *err);
int tk_cli_u64(const tk_option *opts, int n, const char *name, uint64_t *out, tk_error *err);
int tk_cli_duration(const tk_option *opts, int n, const char *name, tk_duration *out, tk_error *err);

/* The commands (cli/cmd_*.c). Each returns the process exit code. */
int tk_cmd_train(int argc, char **argv);
int tk_cmd_bench(int argc, char **argv);
int tk_cmd_models(int argc, char **argv);
int tk_cmd_data(int argc, char **argv);
int tk_cmd_find(int argc, char **argv);
int tk_cmd_runs(int argc, char **argv);
int tk_cmd_show(int argc, char **argv);
int tk_cmd_export(int argc, char **argv);
int tk_cmd_study(int argc, char **argv);
int tk_cmd_study_bench(int argc, char **argv); /* `ticket study bench` (cmd_study_bench.c) */
int tk_cmd_report(int argc, char **argv);
int tk_cmd_regress(int argc, char **argv);

#endif

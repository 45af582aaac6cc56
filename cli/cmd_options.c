/* cmd_options.c - parsing and converting command-line options. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tk_cli.h"

const tk_option *tk_cli_find(const tk_option *opts, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(opts[i].name, name)) return &opts[i];
    return NULL;
}

int tk_cli_parse(int argc, char **argv, tk_option *opts, int n, bool *help, tk_error *err) {
    *help = false;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            *help = true;
            continue;
        }
        if (strncmp(arg, "--", 2))
            return tk_fail(err, "unexpected argument '%s'; options start with -- (see --help)", arg);
        char name[64];
        const char *eq = strchr(arg + 2, '=');
        size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
        if (len >= sizeof name) len = sizeof name - 1;
        memcpy(name, arg + 2, len);
        name[len] = 0;
        tk_option *o = (tk_option *)tk_cli_find(opts, n, name);
        if (!o) {
            const char *names[64];
            for (int j = 0; j < n && j < 64; j++) names[j] = opts[j].name;
            const char *near = tk_nearest(name, names, n < 64 ? n : 64);
            if (near) return tk_fail(err, "unknown option --%s (did you mean --%s?); see --help", name, near);
            return tk_fail(err, "unknown option --%s; see --help", name);
        }
        if (!o->metavar) {
            if (eq) return tk_fail(err, "option --%s takes no value", name);
            o->value = "1";
        } else if (eq) {
            o->value = eq + 1;
        } else if (i + 1 < argc) {
            o->value = argv[++i];
        } else {
            return tk_fail(err, "option --%s needs a value (%s)", name, o->metavar);
        }
    }
    return 0;
}

int tk_cli_begin(const char *cmd, int argc, char **argv, const char **positional, tk_option *opts, int n,
                 const char *usage, const char *about, bool *help) {
    if (positional) {
        *positional = argc > 0 && argv[0][0] != '-' ? argv[0] : NULL; /* -h is help, not a name */
        if (*positional) argc--, argv++;
    }
    tk_error err = {0};
    if (tk_cli_parse(argc, argv, opts, n, help, &err)) {
        fprintf(stderr, "ticket %s: %s\n", cmd, err.msg);
        return 2;
    }
    if (*help) tk_cli_usage(stdout, usage, about, opts, n);
    return 0;
}

void tk_cli_usage(FILE *f, const char *usage, const char *about, const tk_option *opts, int n) {
    fprintf(f, "usage: %s\n\n%s\n\noptions:\n", usage, about);
    for (int i = 0; i < n; i++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", opts[i].name, opts[i].metavar ? " " : "",
                 opts[i].metavar ? opts[i].metavar : "");
        fprintf(f, "  %-26s %s\n", left, opts[i].help);
    }
    fprintf(f, "  %-26s %s\n", "--help", "show this help");
}

static const char *value_of(const tk_option *opts, int n, const char *name) {
    const tk_option *o = tk_cli_find(opts, n, name);
    TK_ASSERT(o);
    return o->value;
}

int tk_cli_fail(const char *cmd, const tk_error *err) {
    fprintf(stderr, "ticket %s: %s\n", cmd, err->msg);
    return tk_exit_code(err);
}

int tk_cli_float(const tk_option *opts, int n, const char *name, float *out, tk_error *err) {
    const char *v = value_of(opts, n, name);
    if (!v) return 0;
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (end == v || *end || errno || !isfinite(d))
        return tk_fail(err, "--%s expects a number, got '%s'", name, v);
    *out = (float)d;
    return 1;
}

int tk_cli_int(const tk_option *opts, int n, const char *name, int *out, tk_error *err) {
    const char *v = value_of(opts, n, name);
    if (!v) return 0;
    char *end;
    errno = 0;
    long l = strtol(v, &end, 10);
    if (end == v || *end || errno || l < -2147483647L || l > 2147483647L)
        return tk_fail(err, "--%s expects a whole number, got '%s'", name, v);
    *out = (int)l;
    return 1;
}

int tk_cli_u64(const tk_option *opts, int n, const char *name, uint64_t *out, tk_error *err) {
    const char *v = value_of(opts, n, name);
    if (!v) return 0;
    char *end;
    errno = 0;
    unsigned long long u = strtoull(v, &end, 10);
    if (end == v || *end || errno || v[0] == '-')
        return tk_fail(err, "--%s expects a non-negative whole number, got '%s'", name, v);
    *out = u;
    return 1;
}

int tk_cli_duration(const tk_option *opts, int n, const char *name, tk_duration *out, tk_error *err) {
    const char *v = value_of(opts, n, name);
    if (!v) return 0;
    if (tk_duration_parse(v, out, err)) return tk_fail_prefix(err, "--%s: ", name);
    return 1;
}

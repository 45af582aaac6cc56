/* results_row.c - results.csv: its columns, and the CSV both the report's
 * writer and regress's reader use. */
#include "tk_results.h"

#include <cJSON.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tk_train.h"

#define TEXT(f) TK_RESULTS_TEXT, offsetof(tk_result_row, f), sizeof(((tk_result_row *)0)->f), 0, 0
#define WHOLE(type, f, lo, hi) type, offsetof(tk_result_row, f), sizeof(((tk_result_row *)0)->f), lo, hi
#define PLAIN(type, f) type, offsetof(tk_result_row, f), sizeof(((tk_result_row *)0)->f), 0, 0

const tk_results_column tk_results_columns[] = {
    {"study", TEXT(study)},
    {"model", TEXT(model)},
    {"target", TEXT(target)},
    {"target_optimizer", TEXT(target_optimizer)},
    {"source", TEXT(source)},
    {"source_optimizer", TEXT(source_optimizer)},
    {"control", TEXT(control)},
    {"native", PLAIN(TK_RESULTS_BOOL, native)},
    {"level", WHOLE(TK_RESULTS_INT, level, 0, INT_MAX)},
    {"density", PLAIN(TK_RESULTS_REAL, density)},
    {"seed", WHOLE(TK_RESULTS_U64, seed, 0, (int64_t)TK_MAX_SEED)},
    {"final_accuracy", PLAIN(TK_RESULTS_REAL, final_accuracy)},
    {"best_accuracy", PLAIN(TK_RESULTS_REAL, best_accuracy)},
    /* -1: never evaluated */
    {"best_iteration", WHOLE(TK_RESULTS_I64, best_iteration, -1, TK_WHOLE_MAX)},
};
_Static_assert(TK_ARRAY_LEN(tk_results_columns) == TK_RESULTS_COLUMN_COUNT, "one row per results.csv column");

void tk_csv_field(tk_buf *b, const char *s, bool last) {
    if (strpbrk(s, ",\"\r\n")) {
        tk_buf_put(b, "\"", 1);
        for (const char *p = s; *p; p++) {
            if (*p == '"') tk_buf_put(b, "\"", 1);
            tk_buf_put(b, p, 1);
        }
        tk_buf_put(b, "\"", 1);
    } else {
        tk_buf_put(b, s, strlen(s));
    }
    tk_buf_put(b, last ? "\n" : ",", 1);
}

int tk_csv_split(char *line, char **fields, int max) {
    int n = 0;
    char *p = line;
    for (;;) {
        if (n == max) return -1;
        char *out = p;
        fields[n++] = out;
        if (*p == '"') {
            p++;
            for (;;) {
                if (!*p) return -1;
                if (*p == '"' && p[1] == '"') { *out++ = '"'; p += 2; }
                else if (*p == '"') { p++; break; }
                else *out++ = *p++;
            }
            if (*p && *p != ',') return -1;
        } else {
            while (*p && *p != ',') *out++ = *p++;
        }
        bool more = *p == ',';
        if (*p) p++;
        *out = 0;
        if (!more) return n;
    }
}

void tk_results_write_header(tk_buf *b) {
    for (int c = 0; c < TK_RESULTS_COLUMN_COUNT; c++) tk_buf_printf(b, "%s%s", c ? "," : "", tk_results_columns[c].name);
    for (int f = 0; f < TK_PROV_FIELD_COUNT; f++) tk_buf_printf(b, ",%s", tk_provenance_field_names[f]);
    tk_buf_printf(b, "\n");
}

/* The column's field in r. */
static const void *field_of(const tk_result_row *r, const tk_results_column *c) { return (const char *)r + c->offset; }

void tk_results_write_row(tk_buf *b, const tk_result_row *r, const tk_provenance *prov) {
    for (int i = 0; i < TK_RESULTS_COLUMN_COUNT; i++) {
        const tk_results_column *c = &tk_results_columns[i];
        const void *v = field_of(r, c);
        switch (c->type) {
        case TK_RESULTS_TEXT: tk_csv_field(b, v, false); continue;
        case TK_RESULTS_BOOL: tk_buf_printf(b, "%s", *(const bool *)v ? "true" : "false"); break;
        case TK_RESULTS_INT: tk_buf_printf(b, "%d", *(const int *)v); break;
        case TK_RESULTS_U64: tk_buf_printf(b, "%llu", (unsigned long long)*(const uint64_t *)v); break;
        case TK_RESULTS_I64: tk_buf_printf(b, "%lld", (long long)*(const int64_t *)v); break;
        case TK_RESULTS_REAL: tk_buf_printf(b, "%.9g", *(const double *)v); break;
        case TK_RESULTS_TYPE_COUNT: TK_ASSERT(0);
        }
        tk_buf_put(b, ",", 1);
    }
    for (int f = 0; f < TK_PROV_FIELD_COUNT; f++) tk_csv_field(b, prov->field[f], f == TK_PROV_FIELD_COUNT - 1);
}

void tk_results_to_json(cJSON *o, const tk_result_row *r) {
    for (int i = 0; i < TK_RESULTS_COLUMN_COUNT; i++) {
        const tk_results_column *c = &tk_results_columns[i];
        const void *v = field_of(r, c);
        char text[32];
        switch (c->type) {
        case TK_RESULTS_TEXT: cJSON_AddStringToObject(o, c->name, v); break;
        case TK_RESULTS_BOOL: cJSON_AddBoolToObject(o, c->name, *(const bool *)v); break;
        case TK_RESULTS_INT: cJSON_AddNumberToObject(o, c->name, *(const int *)v); break;
        case TK_RESULTS_U64:
            /* exact: a double would round seeds past 2^53 */
            snprintf(text, sizeof text, "%llu", (unsigned long long)*(const uint64_t *)v);
            cJSON_AddRawToObject(o, c->name, text);
            break;
        case TK_RESULTS_I64: cJSON_AddNumberToObject(o, c->name, (double)*(const int64_t *)v); break;
        case TK_RESULTS_REAL: cJSON_AddNumberToObject(o, c->name, *(const double *)v); break;
        case TK_RESULTS_TYPE_COUNT: TK_ASSERT(0);
        }
    }
}

static int read_field(const char *s, const tk_results_column *c, void *out, const char *path, int line,
                      tk_error *err) {
    if (c->type == TK_RESULTS_TEXT) {
        if (strlen(s) >= c->size)
            return tk_fail(err, "%s:%d: %s '%s' is too long (at most %zu characters)", path, line, c->name, s,
                           c->size - 1);
        memcpy(out, s, strlen(s) + 1);
        return 0;
    }
    if (c->type == TK_RESULTS_BOOL) {
        if (strcmp(s, "true") && strcmp(s, "false"))
            return tk_fail(err, "%s:%d: %s '%s' must be true or false", path, line, c->name, s);
        *(bool *)out = !strcmp(s, "true");
        return 0;
    }
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end || !isfinite(v)) return tk_fail(err, "%s:%d: %s '%s' is not a number", path, line, c->name, s);
    if (c->type == TK_RESULTS_REAL) {
        *(double *)out = v;
        return 0;
    }
    /* Checked before the cast, which out of range would be undefined. */
    if (!tk_whole_in(v, c->min, c->max))
        return tk_fail(err, "%s:%d: %s '%s' must be a whole number from %lld to %lld; rerun `ticket report` to "
                            "rewrite the file",
                       path, line, c->name, s, (long long)c->min, (long long)c->max);
    if (c->type == TK_RESULTS_INT) *(int *)out = (int)v;
    else if (c->type == TK_RESULTS_U64) *(uint64_t *)out = (uint64_t)v;
    else *(int64_t *)out = (int64_t)v;
    return 0;
}

int tk_results_read_row(char **fields, tk_result_row *r, const char *path, int line, tk_error *err) {
    memset(r, 0, sizeof *r);
    for (int i = 0; i < TK_RESULTS_COLUMN_COUNT; i++) {
        const tk_results_column *c = &tk_results_columns[i];
        if (read_field(fields[i], c, (char *)r + c->offset, path, line, err)) return -1;
    }
    return 0;
}

/* run_files.c - the files of a run directory: config.json's claim,
 * metrics.jsonl's lines, provenance.json's segments and summary.json. */
#define _POSIX_C_SOURCE 200809L
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run_files.h"

#include "tk_json.h"
#include "tk_file.h"
#include "tk_provenance.h"

void run_files_init(run_files *f, const char *dir) {
    f->dir = dir;
    snprintf(f->rewind, sizeof f->rewind, "%s/rewind", dir);
    snprintf(f->config, sizeof f->config, "%s/config.json", dir);
    snprintf(f->checkpoint, sizeof f->checkpoint, "%s/checkpoint", dir);
    snprintf(f->metrics, sizeof f->metrics, "%s/metrics.jsonl", dir);
    snprintf(f->summary, sizeof f->summary, "%s/summary.json", dir);
    snprintf(f->provenance, sizeof f->provenance, "%s/provenance.json", dir);
}

/* The config is written only once setup has accepted it against the data, so
 * a refused option can be corrected and rerun into the same directory. */
int run_files_claim(const run_files *f, const tk_train_config *cfg, bool write, tk_error *err) {
    char *mine = tk_train_config_to_json(cfg);
    size_t len = strlen(mine);
    int rc = 0;
    if (tk_file_exists(f->config)) {
        uint8_t *data;
        size_t n;
        rc = tk_file_read_all(f->config, &data, &n, err);
        if (rc == 0) {
            bool same = n == len + 1 && !memcmp(data, mine, len) && data[len] == '\n';
            free(data);
            if (!same)
                rc = tk_fail(err, "%s holds a run with other hyper-parameters (see its config.json); "
                             "continue it with `ticket train --resume %s` or choose another --out directory",
                             f->dir, f->dir);
        }
    } else if (write) {
        mine[len] = '\n'; /* replaces the terminator: the buffer holds len + 1 bytes */
        rc = tk_file_write_atomic(f->config, mine, len + 1, err);
    }
    free(mine);
    return rc;
}

int run_files_append_metrics(const run_files *f, const run_evaluation *e, char *line, size_t cap, tk_error *err) {
    tk_buf b = {0};
    tk_json_out o;
    tk_json_out_begin(&o, &b, "{", ", ");
    tk_json_out_int(&o, "iteration", (long long)e->iteration);
    tk_json_out_number(&o, "epoch", "%.6g", e->epoch);
    tk_json_out_number(&o, "train_loss", "%.9g", e->train_loss);
    tk_json_out_number(&o, "train_accuracy", "%.9g", e->train_accuracy);
    tk_json_out_number(&o, "test_loss", "%.9g", e->test_loss);
    tk_json_out_number(&o, "test_accuracy", "%.9g", e->test_accuracy);
    if (e->has_val) {
        tk_json_out_number(&o, "val_loss", "%.9g", e->val_loss);
        tk_json_out_number(&o, "val_accuracy", "%.9g", e->val_accuracy);
    }
    tk_json_out_number(&o, "lr", "%.9g", e->lr);
    tk_json_out_end(&o, "}\n");
    TK_ASSERT(b.len < cap);
    int rc = tk_file_append_durable(f->metrics, b.data, b.len, err);
    snprintf(line, cap, "%.*s", (int)b.len - 1, (const char *)b.data); /* the line without its newline */
    tk_buf_free(&b);
    return rc;
}

int run_files_clear_metrics(const run_files *f, tk_error *err) {
    return tk_file_exists(f->metrics) ? tk_file_write_atomic(f->metrics, "", 0, err) : 0;
}

/* After a crash, metrics.jsonl may hold evaluations past the checkpoint;
 * they will be recomputed (identically), so drop them. */
int run_files_truncate_metrics(const run_files *f, int64_t step, tk_error *err) {
    if (!tk_file_exists(f->metrics)) return 0;
    uint8_t *data;
    size_t n;
    if (tk_file_read_all(f->metrics, &data, &n, err)) return -1;
    size_t keep = 0;
    for (size_t start = 0; start < n;) {
        uint8_t *end = memchr(data + start, '\n', n - start);
        if (!end) break; /* a half-written last line goes too */
        cJSON *line = cJSON_ParseWithLength((const char *)data + start, (size_t)(end - data) - start);
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(line, "iteration");
        bool before = cJSON_IsNumber(it) && it->valuedouble <= (double)step;
        cJSON_Delete(line);
        if (!before) break;
        keep = start = (size_t)(end - data) + 1;
    }
    int rc = keep == n ? 0 : tk_file_write_atomic(f->metrics, data, keep, err);
    free(data);
    return rc;
}

/* A run resumed under another provenance (another machine, kernel or build)
 * still resumes, but its bits may differ from an uninterrupted run's, so say
 * so. */
int run_files_note_provenance(const run_files *f, int64_t step, tk_error *err) {
    tk_provenance now, before;
    bool changed;
    tk_provenance_collect(&now);
    if (tk_provenance_note_segment(f->provenance, step, &now, &changed, &before, err)) return -1;
    if (changed) {
        char was[1200], is[1200];
        tk_provenance_format(&before, was, sizeof was);
        tk_provenance_format(&now, is, sizeof is);
        fprintf(stderr, "ticket: warning: %s resumes at iteration %lld under another provenance (recorded in its "
                        "provenance.json and summary.json):\n  before: %s\n  now:    %s\n",
                f->dir, (long long)step, was, is);
    }
    return 0;
}

/* The numbers, then "provenance": the run's segments (provenance.json), one
 * line each. */
int run_files_write_summary(const run_files *f, const tk_train_result *r, tk_error *err) {
    tk_buf segments_text = {0}, b = {0};
    cJSON *segments = tk_provenance_read_segments(f->provenance), *s;
    int i = 0;
    tk_buf_printf(&segments_text, "[");
    cJSON_ArrayForEach(s, segments) {
        char *line = cJSON_PrintUnformatted(s);
        TK_ASSERT(line);
        tk_buf_printf(&segments_text, "%s\n    %s", i++ ? "," : "", line);
        free(line);
    }
    cJSON_Delete(segments);
    tk_buf_printf(&segments_text, "%s]", i ? "\n  " : "");
    tk_buf_put(&segments_text, "", 1);
    tk_json_out o;
    tk_json_out_begin(&o, &b, "{\n  ", ",\n  ");
    tk_json_out_int(&o, "iterations", (long long)r->iterations);
    tk_json_out_number(&o, "final_accuracy", "%.9g", r->final_accuracy);
    tk_json_out_number(&o, "final_loss", "%.9g", r->final_loss);
    tk_json_out_number(&o, "best_accuracy", "%.9g", r->best_accuracy);
    tk_json_out_int(&o, "best_iteration", (long long)r->best_iteration);
    tk_json_out_int(&o, "early_stop_iteration", (long long)r->early_stop_iteration);
    tk_json_out_number(&o, "seconds", "%.3f", r->seconds);
    tk_json_out_number(&o, "samples_per_second", "%.1f", r->samples_per_second);
    tk_json_out_raw(&o, "provenance", (const char *)segments_text.data);
    tk_json_out_end(&o, "\n}\n");
    int rc = tk_file_write_atomic(f->summary, b.data, b.len, err);
    tk_buf_free(&b), tk_buf_free(&segments_text);
    return rc;
}

int tk_train_read_summary(const char *path, tk_train_result *r, tk_error *err) {
    uint8_t *data;
    size_t n;
    if (tk_file_read_all(path, &data, &n, err)) return -1;
    char *text = (char *)data;
    cJSON *o = cJSON_Parse(text);
    free(text);
    const char *keys[] = {"iterations", "final_accuracy", "final_loss", "best_accuracy", "best_iteration",
                          "early_stop_iteration", "seconds", "samples_per_second"};
    double v[8];
    for (int i = 0; i < 8; i++) {
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, keys[i]);
        if (i == 2 && cJSON_IsNull(it)) { /* a loss that diverged (tk_json_out writes it so) */
            v[i] = NAN;
            continue;
        }
        if (!cJSON_IsNumber(it)) {
            cJSON_Delete(o);
            return tk_fail(err, "%s: missing or non-numeric '%s'; delete the file to re-evaluate the run", path,
                           keys[i]);
        }
        v[i] = it->valuedouble;
        /* Counts (0: iterations, 4: best, 5: early stop, -1 for none) are
         * whole; the rest are floats, seconds and rates finite: checked
         * before the casts below, which are undefined out of range. */
        bool count = i == 0 || i == 4 || i == 5;
        if (count ? !tk_whole_in(v[i], i == 5 ? -1 : 0, TK_WHOLE_MAX) : !tk_fits_float(v[i])) {
            cJSON_Delete(o);
            return tk_fail(err, "%s: '%s' is %.17g, expected %s; delete the file to re-evaluate the run", path, keys[i],
                           v[i], count ? (i == 5 ? "a whole number from -1 to 2^53" : "a whole number from 0 to 2^53")
                                       : "a finite number");
        }
    }
    cJSON_Delete(o);
    *r = (tk_train_result){(int64_t)v[0], (float)v[1], (float)v[2], (float)v[3], (int64_t)v[4], (int64_t)v[5], v[6], v[7]};
    return 0;
}

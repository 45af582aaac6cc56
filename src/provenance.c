/* provenance.c - what produced a result: version, BLAS, threads, CPU. */
#define _POSIX_C_SOURCE 200809L
#include <cJSON.h>
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tk_build_version.h" /* TK_GIT_DESCRIBE, written by the Makefile */
#include "tk_file.h"
#include "tk_gemm.h"
#include "tk_parallel.h"
#include "tk_provenance.h"

/* Declared by OpenBLAS's cblas.h; repeated so that a build against another
 * CBLAS header fails here, visibly, rather than guessing. */
char *openblas_get_config(void);
char *openblas_get_corename(void);

const char *const tk_provenance_field_names[] = {
    "ticket_version", "blas", "blas_core", "blas_coretype", "blas_threads", "engine_threads", "cpu", "isa", "gemm"};
_Static_assert(TK_ARRAY_LEN(tk_provenance_field_names) == TK_PROV_FIELD_COUNT, "one name per provenance field");

static const char separator[] = "; "; /* between the values of a merged field */

const char *tk_provenance_version(void) { return TK_GIT_DESCRIBE[0] ? TK_GIT_DESCRIBE : TK_VERSION; }

/* Copies s without line breaks and trailing blanks: every field fits one
 * CSV cell and one line. */
static void set(tk_provenance *p, tk_provenance_field f, const char *s) {
    char *out = p->field[f];
    size_t n = 0;
    for (; s && *s && n + 1 < TK_PROVENANCE_TEXT; s++) out[n++] = *s == '\n' || *s == '\r' || *s == '\t' ? ' ' : *s;
    while (n && out[n - 1] == ' ') n--;
    out[n] = 0;
}

static void cpu_model(char *out, size_t cap) {
    snprintf(out, cap, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10)) continue;
        const char *colon = strchr(line, ':');
        if (!colon) continue;
        colon++;
        while (*colon == ' ' || *colon == '\t') colon++;
        if (*colon && *colon != '\n') snprintf(out, cap, "%s", colon);
        break;
    }
    fclose(f);
}

static const char *vector_isa(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return "avx512f";
    if (__builtin_cpu_supports("avx2")) return "avx2";
    return "x86-64";
#else
    return "unknown";
#endif
}

void tk_provenance_collect(tk_provenance *p) {
    memset(p, 0, sizeof *p);
    char text[TK_PROVENANCE_TEXT];
    set(p, TK_PROV_VERSION, tk_provenance_version());
    set(p, TK_PROV_BLAS, openblas_get_config());
    set(p, TK_PROV_BLAS_CORE, openblas_get_corename());
    set(p, TK_PROV_BLAS_CORETYPE, getenv("OPENBLAS_CORETYPE"));
    snprintf(text, sizeof text, "%d", openblas_get_num_threads());
    set(p, TK_PROV_BLAS_THREADS, text);
    snprintf(text, sizeof text, "%d", tk_parallel_lanes());
    set(p, TK_PROV_ENGINE_THREADS, text);
    cpu_model(text, sizeof text);
    set(p, TK_PROV_CPU, text);
    set(p, TK_PROV_ISA, vector_isa());
    set(p, TK_PROV_GEMM, tk_gemm_kind_names[tk_gemm_kind_in_use()]);
}

bool tk_provenance_known(const tk_provenance *p) {
    for (int f = 0; f < TK_PROV_FIELD_COUNT; f++)
        if (p->field[f][0]) return true;
    return false;
}

bool tk_provenance_equal(const tk_provenance *a, const tk_provenance *b) {
    for (int f = 0; f < TK_PROV_FIELD_COUNT; f++)
        if (strcmp(a->field[f], b->field[f])) return false;
    return true;
}

bool tk_provenance_same_kernel(const tk_provenance *a, const tk_provenance *b) {
    const char *own = tk_gemm_kind_names[TK_GEMM_OWN];
    if (!strcmp(a->field[TK_PROV_GEMM], own) || !strcmp(b->field[TK_PROV_GEMM], own))
        return !strcmp(a->field[TK_PROV_GEMM], b->field[TK_PROV_GEMM]);
    return !strcmp(a->field[TK_PROV_BLAS], b->field[TK_PROV_BLAS]) &&
           !strcmp(a->field[TK_PROV_BLAS_CORE], b->field[TK_PROV_BLAS_CORE]);
}

/* Whether `value` is one of the "; "-separated values of `list`. */
static bool has_value(const char *list, const char *value) {
    size_t n = strlen(value), sep = strlen(separator);
    for (const char *p = list; p;) {
        const char *end = strstr(p, separator);
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && !strncmp(p, value, n)) return true;
        p = end ? end + sep : NULL;
    }
    return false;
}

void tk_provenance_merge(tk_provenance *a, const tk_provenance *b) {
    for (int f = 0; f < TK_PROV_FIELD_COUNT; f++) {
        char *to = a->field[f];
        const char *from = b->field[f];
        if (!has_value(to, from)) {
            size_t n = strlen(to);
            snprintf(to + n, TK_PROVENANCE_TEXT - n, "%s%s", separator, from);
        }
    }
}

void tk_provenance_format(const tk_provenance *p, char *out, size_t cap) {
#define V(f) (p->field[f][0] ? p->field[f] : "?")
    char coretype[TK_PROVENANCE_TEXT + 32];
    if (p->field[TK_PROV_BLAS_CORETYPE][0])
        snprintf(coretype, sizeof coretype, "OPENBLAS_CORETYPE=%s", p->field[TK_PROV_BLAS_CORETYPE]);
    else snprintf(coretype, sizeof coretype, "OPENBLAS_CORETYPE unset");
    snprintf(out, cap, "ticket %s, %s (core %s, %s), %s BLAS threads, %s engine threads, %s (%s), gemm %s",
             V(TK_PROV_VERSION), V(TK_PROV_BLAS), V(TK_PROV_BLAS_CORE), coretype, V(TK_PROV_BLAS_THREADS),
             V(TK_PROV_ENGINE_THREADS), V(TK_PROV_CPU), V(TK_PROV_ISA), V(TK_PROV_GEMM));
#undef V
}

static bool is_count(tk_provenance_field f) { return f == TK_PROV_BLAS_THREADS || f == TK_PROV_ENGINE_THREADS; }

cJSON *tk_provenance_to_json(const tk_provenance *p) {
    cJSON *o = cJSON_CreateObject();
    for (int f = 0; f < TK_PROV_FIELD_COUNT; f++) {
        char *end;
        long n = strtol(p->field[f], &end, 10);
        if (is_count(f) && p->field[f][0] && !*end) cJSON_AddNumberToObject(o, tk_provenance_field_names[f], (double)n);
        else cJSON_AddStringToObject(o, tk_provenance_field_names[f], p->field[f]);
    }
    return o;
}

void tk_provenance_from_json(const cJSON *o, tk_provenance *p) {
    memset(p, 0, sizeof *p);
    for (int f = 0; f < TK_PROV_FIELD_COUNT; f++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, tk_provenance_field_names[f]);
        if (cJSON_IsString(v)) set(p, f, v->valuestring);
        else if (cJSON_IsNumber(v)) snprintf(p->field[f], TK_PROVENANCE_TEXT, "%.0f", v->valuedouble);
    }
}

/* ---- segments */

static cJSON *read_json(const char *path) {
    uint8_t *data;
    size_t n;
    if (!tk_file_exists(path) || tk_file_read_all(path, &data, &n, NULL)) return NULL;
    cJSON *o = cJSON_ParseWithLength((const char *)data, n);
    free(data);
    return o;
}

cJSON *tk_provenance_read_segments(const char *path) {
    cJSON *doc = read_json(path);
    cJSON *segments = cJSON_DetachItemFromObjectCaseSensitive(doc, "segments");
    cJSON_Delete(doc);
    if (!cJSON_IsArray(segments)) {
        cJSON_Delete(segments);
        segments = cJSON_CreateArray();
    }
    return segments;
}

static double from_iteration(const cJSON *segment) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(segment, "from_iteration");
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

int tk_provenance_note_segment(const char *path, int64_t iteration, const tk_provenance *now, bool *changed,
                               tk_provenance *before, tk_error *err) {
    cJSON *segments = tk_provenance_read_segments(path);
    /* A later start crashed before its first checkpoint: this start redoes its iterations. */
    while (cJSON_GetArraySize(segments) > 0 &&
           from_iteration(cJSON_GetArrayItem(segments, cJSON_GetArraySize(segments) - 1)) >= (double)iteration)
        cJSON_DeleteItemFromArray(segments, cJSON_GetArraySize(segments) - 1);
    int n = cJSON_GetArraySize(segments);
    tk_provenance last = {{{0}}};
    if (n) tk_provenance_from_json(cJSON_GetArrayItem(segments, n - 1), &last);
    bool differs = n && !tk_provenance_equal(&last, now);
    if (changed) *changed = differs;
    if (before) *before = last;
    int rc = 0;
    if (!n || differs) {
        cJSON *segment = cJSON_CreateObject();
        cJSON_AddNumberToObject(segment, "from_iteration", (double)iteration);
        cJSON *fields = tk_provenance_to_json(now);
        for (cJSON *f = fields->child; f; f = fields->child)
            cJSON_AddItemToObject(segment, f->string, cJSON_DetachItemViaPointer(fields, f));
        cJSON_Delete(fields);
        cJSON_AddItemToArray(segments, segment);
    }
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddItemToObject(doc, "segments", segments);
    char *text = cJSON_Print(doc);
    cJSON_Delete(doc);
    TK_ASSERT(text);
    size_t len = strlen(text);
    text[len] = '\n'; /* replaces the terminator; written with its length */
    rc = tk_file_write_atomic(path, text, len + 1, err);
    free(text);
    return rc;
}

bool tk_provenance_of_run(const char *run_dir, tk_provenance *p, int *segments) {
    memset(p, 0, sizeof *p);
    if (segments) *segments = 0;
    char path[4096];
    snprintf(path, sizeof path, "%s/summary.json", run_dir);
    cJSON *doc = read_json(path);
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(doc, "provenance"), *s;
    if (!cJSON_IsArray(list)) list = NULL;
    int count = 0;
    cJSON_ArrayForEach(s, list) {
        tk_provenance one;
        tk_provenance_from_json(s, &one);
        if (count++) tk_provenance_merge(p, &one);
        else *p = one;
    }
    cJSON_Delete(doc);
    if (segments) *segments = count;
    return count > 0;
}

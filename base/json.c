/* json.c - typed reading of JSON objects with known keys, in one message form. */
#include "tk_json.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

tk_json_at tk_json_root(const char *source) {
    tk_json_at at = {.source = source, .path = "", .null_is_absent = false};
    return at;
}

tk_json_at tk_json_key(const tk_json_at *at, const char *key) {
    tk_json_at child = *at;
    snprintf(child.path, sizeof child.path, "%s%s%s", at->path, at->path[0] ? "." : "", key);
    return child;
}

tk_json_at tk_json_index(const tk_json_at *at, int i) {
    tk_json_at child = *at;
    snprintf(child.path, sizeof child.path, "%s[%d]", at->path, i);
    return child;
}

int tk_json_fail(const tk_json_at *at, tk_error *err, const char *fmt, ...) {
    char text[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (!at->path[0]) return tk_fail(err, "%s: %s", at->source, text);
    return tk_fail(err, "%s: key '%s' %s", at->source, at->path, text);
}

int tk_json_prefix(const tk_json_at *at, tk_error *err) {
    if (!at->path[0]) return tk_fail_prefix(err, "%s: ", at->source);
    return tk_fail_prefix(err, "%s: key '%s': ", at->source, at->path);
}

/* What a value is, as a message shows it: its number, its (short) text, or its type. */
static void describe(const cJSON *v, char *out, size_t cap) {
    if (cJSON_IsNumber(v)) snprintf(out, cap, "%.15g", v->valuedouble);
    else if (cJSON_IsString(v) && strlen(v->valuestring) <= 40) snprintf(out, cap, "\"%s\"", v->valuestring);
    else if (cJSON_IsString(v)) snprintf(out, cap, "\"%.37s...\"", v->valuestring);
    else if (cJSON_IsBool(v)) snprintf(out, cap, "%s", cJSON_IsTrue(v) ? "true" : "false");
    else if (cJSON_IsArray(v)) snprintf(out, cap, "an array");
    else if (cJSON_IsObject(v)) snprintf(out, cap, "an object");
    else snprintf(out, cap, "null");
}

int tk_json_wrong(const tk_json_at *at, const cJSON *v, const char *expected, tk_error *err) {
    char found[64];
    describe(v, found, sizeof found);
    return tk_json_fail(at, err, "must be %s, not %s", expected, found);
}

static int check_key(const tk_json_at *at, const cJSON *obj, const cJSON *k, const char *const *keys, int n,
                     tk_error *err) {
    tk_json_at key = tk_json_key(at, k->string);
    bool known = false;
    for (int i = 0; i < n && !known; i++) known = !strcmp(k->string, keys[i]);
    if (!known) {
        tk_fail_unknown(err, "key", key.path, k->string, keys, n);
        return tk_fail_prefix(err, "%s: ", at->source);
    }
    const cJSON *first = obj->child;
    while (strcmp(first->string, k->string)) first = first->next;
    if (first != k) return tk_json_fail(&key, err, "is given more than once; keep one");
    return 0;
}

int tk_json_check_keys(const tk_json_at *at, const cJSON *obj, const char *const *keys, int n, tk_error *err) {
    for (const cJSON *k = obj->child; k; k = k->next)
        if (check_key(at, obj, k, keys, n, err)) return -1;
    return 0;
}

void tk_json_note(tk_json_problems *p, const tk_error *e) {
    size_t len = strlen(p->text);
    snprintf(p->text + len, sizeof p->text - len, "%s%s", p->count++ ? "\n  " : "", e->msg);
}

int tk_json_note_keys(tk_json_problems *p, const tk_json_at *at, const cJSON *obj, const char *const *keys, int n) {
    int noted = 0;
    for (const cJSON *k = obj->child; k; k = k->next) {
        tk_error e;
        if (check_key(at, obj, k, keys, n, &e)) tk_json_note(p, &e), noted++;
    }
    return noted;
}

int tk_json_problems_fail(const tk_json_problems *p, const char *what, tk_error *err) {
    if (!p->count) return 0;
    if (!what) return tk_fail(err, "%s", p->text);
    return tk_fail(err, "%d problem%s %s:\n  %s", p->count, p->count > 1 ? "s" : "", what, p->text);
}

/* The value a getter reads, at *vat; NULL with *rc 0 (absent, optional) or -1 (absent, required). */
static const cJSON *value(const tk_json_at *at, const cJSON *obj, const char *key, const char *required,
                          tk_json_at *vat, int *rc, tk_error *err) {
    *vat = key ? tk_json_key(at, key) : *at;
    const cJSON *v = key ? cJSON_GetObjectItemCaseSensitive(obj, key) : obj;
    if (v && key && cJSON_IsNull(v) && at->null_is_absent && !required) v = NULL;
    *rc = 0;
    if (!v && required) *rc = tk_fail(err, "%s: missing required key '%s' (%s)", at->source, vat->path, required);
    return v;
}

int tk_json_int64(const tk_json_at *at, const cJSON *obj, const char *key, const char *required, int64_t lo,
                  int64_t hi, int64_t *out, tk_error *err) {
    tk_json_at vat;
    int rc;
    const cJSON *v = value(at, obj, key, required, &vat, &rc, err);
    if (!v) return rc;
    if (!cJSON_IsNumber(v) || !tk_whole_in(v->valuedouble, lo, hi)) {
        char expected[96];
        snprintf(expected, sizeof expected, "a whole number in [%lld, %lld]", (long long)lo, (long long)hi);
        return tk_json_wrong(&vat, v, expected, err);
    }
    *out = (int64_t)v->valuedouble;
    return 1;
}

int tk_json_int(const tk_json_at *at, const cJSON *obj, const char *key, const char *required, int lo, int hi,
                int *out, tk_error *err) {
    int64_t v;
    int rc = tk_json_int64(at, obj, key, required, lo, hi, &v, err);
    if (rc == 1) *out = (int)v;
    return rc;
}

int tk_json_double(const tk_json_at *at, const cJSON *obj, const char *key, const char *required, double *out,
                   tk_error *err) {
    tk_json_at vat;
    int rc;
    const cJSON *v = value(at, obj, key, required, &vat, &rc, err);
    if (!v) return rc;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) return tk_json_wrong(&vat, v, "a finite number", err);
    *out = v->valuedouble;
    return 1;
}

int tk_json_float(const tk_json_at *at, const cJSON *obj, const char *key, const char *required, float *out,
                  tk_error *err) {
    tk_json_at vat;
    int rc;
    const cJSON *v = value(at, obj, key, required, &vat, &rc, err);
    if (!v) return rc;
    /* Beyond a float's range the value would become infinite, which a JSON
     * file cannot store (cJSON writes null). */
    if (!cJSON_IsNumber(v)) return tk_json_wrong(&vat, v, "a number", err);
    if (!tk_fits_float(v->valuedouble)) {
        char expected[64];
        snprintf(expected, sizeof expected, "a number of magnitude at most %g", (double)FLT_MAX);
        return tk_json_wrong(&vat, v, expected, err);
    }
    *out = (float)v->valuedouble;
    return 1;
}

int tk_json_bool(const tk_json_at *at, const cJSON *obj, const char *key, const char *required, bool *out,
                 tk_error *err) {
    tk_json_at vat;
    int rc;
    const cJSON *v = value(at, obj, key, required, &vat, &rc, err);
    if (!v) return rc;
    if (!cJSON_IsBool(v)) return tk_json_wrong(&vat, v, "true or false", err);
    *out = cJSON_IsTrue(v);
    return 1;
}

int tk_json_text(const tk_json_at *at, const cJSON *obj, const char *key, const char *required, const char **out,
                 tk_error *err) {
    tk_json_at vat;
    int rc;
    const cJSON *v = value(at, obj, key, required, &vat, &rc, err);
    if (!v) return rc;
    if (!cJSON_IsString(v) || (required && !v->valuestring[0]))
        return tk_json_wrong(&vat, v, required ? "a non-empty string" : "a string", err);
    *out = v->valuestring;
    return 1;
}

int tk_json_string(const tk_json_at *at, const cJSON *obj, const char *key, const char *required, char *out,
                   size_t cap, tk_error *err) {
    const char *s = NULL;
    int rc = tk_json_text(at, obj, key, required, &s, err);
    if (rc != 1) return rc;
    if (strlen(s) >= cap) {
        tk_json_at vat = key ? tk_json_key(at, key) : *at;
        return tk_json_fail(&vat, err, "must be at most %zu characters long, not %zu", cap - 1, strlen(s));
    }
    memcpy(out, s, strlen(s) + 1);
    return 1;
}

int tk_json_name(const tk_json_at *at, const cJSON *obj, const char *key, const char *required, const char *what,
                 const char *const *names, int n, int *index, tk_error *err) {
    const char *s = NULL;
    int rc = tk_json_text(at, obj, key, required, &s, err);
    if (rc != 1) return rc;
    if (tk_parse_name(what, s, names, n, index, err)) {
        tk_json_at vat = key ? tk_json_key(at, key) : *at;
        return tk_json_prefix(&vat, err);
    }
    return 1;
}

int tk_json_duration(const tk_json_at *at, const cJSON *obj, const char *key, const char *required,
                     tk_duration *out, tk_error *err) {
    tk_json_at vat;
    int rc;
    const cJSON *v = value(at, obj, key, required, &vat, &rc, err);
    if (!v) return rc;
    if (!cJSON_IsString(v)) return tk_json_wrong(&vat, v, "a duration such as \"20ep\", \"500it\" or \"2ep10it\"", err);
    if (tk_duration_parse(v->valuestring, out, err)) return tk_json_prefix(&vat, err);
    return 1;
}

int tk_json_array(const tk_json_at *at, const cJSON *obj, const char *key, const char *required, int max,
                  const cJSON **out, tk_error *err) {
    tk_json_at vat;
    int rc;
    const cJSON *v = value(at, obj, key, required, &vat, &rc, err);
    if (!v) return rc;
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > max) {
        char expected[64];
        snprintf(expected, sizeof expected, "an array of at most %d elements", max);
        if (cJSON_IsArray(v))
            return tk_json_fail(&vat, err, "must be %s, not one of %d", expected, cJSON_GetArraySize(v));
        return tk_json_wrong(&vat, v, expected, err);
    }
    *out = v;
    return 1;
}

int tk_json_object(const tk_json_at *at, const cJSON *obj, const char *key, const char *required, const cJSON **out,
                   tk_error *err) {
    tk_json_at vat;
    int rc;
    const cJSON *v = value(at, obj, key, required, &vat, &rc, err);
    if (!v) return rc;
    if (!cJSON_IsObject(v)) return tk_json_wrong(&vat, v, "an object", err);
    *out = v;
    return 1;
}

/* ---- writing */

void tk_json_out_begin(tk_json_out *o, tk_buf *b, const char *open, const char *sep) {
    *o = (tk_json_out){.b = b, .sep = sep};
    tk_buf_printf(b, "%s", open);
}

static void put_string(tk_buf *b, const char *s) {
    tk_buf_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') tk_buf_printf(b, "\\%c", *p);
        else if (*p < 0x20) tk_buf_printf(b, "\\u%04x", *p);
        else tk_buf_put(b, p, 1);
    }
    tk_buf_put(b, "\"", 1);
}

static void put_key(tk_json_out *o, const char *key) {
    if (o->members++) tk_buf_printf(o->b, "%s", o->sep);
    put_string(o->b, key);
    tk_buf_put(o->b, ": ", 2);
}

void tk_json_out_number(tk_json_out *o, const char *key, const char *format, double v) {
    put_key(o, key);
    if (isfinite(v)) tk_buf_printf(o->b, format, v);
    else tk_buf_printf(o->b, "null");
}

void tk_json_out_int(tk_json_out *o, const char *key, long long v) {
    put_key(o, key);
    tk_buf_printf(o->b, "%lld", v);
}

void tk_json_out_string(tk_json_out *o, const char *key, const char *v) {
    put_key(o, key);
    put_string(o->b, v);
}

void tk_json_out_raw(tk_json_out *o, const char *key, const char *json) {
    put_key(o, key);
    tk_buf_printf(o->b, "%s", json);
}

void tk_json_out_end(tk_json_out *o, const char *close) { tk_buf_printf(o->b, "%s", close); }

/* tk_json.h - reading JSON objects whose keys are known, with one message form
 * for every reader (config.json, the find and study specifications, the
 * dataset catalog, the registry of published numbers).
 *
 * A value is named by where it is: the source (the file, or "reg.json: entry
 * 'x'") and its key path inside it ("pruning.rates.conv", "files[2].path").
 * Every failure is one tk_error that starts with the source and names the
 * path, what the value must be and what it is:
 *   SOURCE: unknown key 'PATH' (did you mean 'KEY'? valid: a, b, c)
 *   SOURCE: missing required key 'PATH' (WHAT IT HOLDS)
 *   SOURCE: key 'PATH' must be EXPECTED, not FOUND
 *   SOURCE: key 'PATH': unknown WHAT 'NAME' (did you mean 'N'? valid: ...)
 * Readers that report every problem at once collect the errors in a
 * tk_json_problems, one per line.
 *
 * Writing: tk_json_out puts an object's members into a tk_buf with the
 * number formats the file keeps (float32 values as %.9g, which reads back
 * to the same float), keys and strings escaped, and a number that is not
 * finite as null (a diverged loss would otherwise write "nan", which no
 * JSON reader takes). */
#ifndef TK_JSON_H
#define TK_JSON_H

#include <cJSON.h>

#include "tk_common.h"
#include "tk_duration.h"
#include "tk_file.h"

typedef struct tk_json_at {
    const char *source; /* what every message starts with */
    char path[256];     /* the key path inside it: "" at the top */
    /* The file's convention (the catalog's): an optional key given as null
     * counts as absent. Elsewhere null is a value of the wrong type. */
    bool null_is_absent;
} tk_json_at;

/* The top of `source`; a member `key` of the object at `at`; element i of the array at `at`. */
tk_json_at tk_json_root(const char *source);
tk_json_at tk_json_key(const tk_json_at *at, const char *key);
tk_json_at tk_json_index(const tk_json_at *at, int i);

/* Refuses the first key of obj that is not in keys[0..n) or that is given
 * twice (cJSON would read the first and a loop over members both). */
int tk_json_check_keys(const tk_json_at *at, const cJSON *obj, const char *const *keys, int n, tk_error *err);

/* Problems collected one per line, so that a user fixes them in one pass. */
typedef struct tk_json_problems {
    char text[sizeof(((tk_error *)0)->msg)];
    int count;
} tk_json_problems;
/* Adds e's message as the next problem. */
void tk_json_note(tk_json_problems *p, const tk_error *e);
/* Adds every key tk_json_check_keys would refuse; returns how many. */
int tk_json_note_keys(tk_json_problems *p, const tk_json_at *at, const cJSON *obj, const char *const *keys, int n);
/* 0 when p holds nothing; else fails with its problems, after "N problem(s)
 * WHAT:" when `what` ("in the study specification") is given. */
int tk_json_problems_fail(const tk_json_problems *p, const char *what, tk_error *err);

/* The getters read the member `key` of obj, or with key NULL obj itself (an
 * array element, the value at `at`). Each returns 1 when it read the value,
 * 0 when the member is absent and `required` is NULL, and -1 with err set
 * when it is absent and required (`required` says what the key holds) or
 * not what the getter reads. A present value is never left unread. */

/* A whole number in [lo, hi], checked before it is converted; |lo|, |hi| <= 2^53. */
int tk_json_int64(const tk_json_at *at, const cJSON *obj, const char *key, const char *required, int64_t lo,
                  int64_t hi, int64_t *out, tk_error *err);
int tk_json_int(const tk_json_at *at, const cJSON *obj, const char *key, const char *required, int lo, int hi,
                int *out, tk_error *err);
/* A finite number; tk_json_float: one that stays finite as a float. */
int tk_json_double(const tk_json_at *at, const cJSON *obj, const char *key, const char *required, double *out,
                   tk_error *err);
int tk_json_float(const tk_json_at *at, const cJSON *obj, const char *key, const char *required, float *out,
                  tk_error *err);
int tk_json_bool(const tk_json_at *at, const cJSON *obj, const char *key, const char *required, bool *out,
                 tk_error *err);
/* A string, non-empty when required; tk_json_text points into obj, tk_json_string copies into out[cap]. */
int tk_json_text(const tk_json_at *at, const cJSON *obj, const char *key, const char *required, const char **out,
                 tk_error *err);
int tk_json_string(const tk_json_at *at, const cJSON *obj, const char *key, const char *required, char *out,
                   size_t cap, tk_error *err);
/* A string that is one of names[0..n) (a `what`: "optimizer"); *index is its position. */
int tk_json_name(const tk_json_at *at, const cJSON *obj, const char *key, const char *required, const char *what,
                 const char *const *names, int n, int *index, tk_error *err);
/* A duration string: "20ep", "500it", "2ep10it". */
int tk_json_duration(const tk_json_at *at, const cJSON *obj, const char *key, const char *required,
                     tk_duration *out, tk_error *err);
/* An array of at most max elements; an object. */
int tk_json_array(const tk_json_at *at, const cJSON *obj, const char *key, const char *required, int max,
                  const cJSON **out, tk_error *err);
int tk_json_object(const tk_json_at *at, const cJSON *obj, const char *key, const char *required, const cJSON **out,
                   tk_error *err);

/* Fails with "SOURCE: key 'PATH' must be EXPECTED, not FOUND" for the value v
 * at `at`, for checks a reader makes beyond the getters' types. */
int tk_json_wrong(const tk_json_at *at, const cJSON *v, const char *expected, tk_error *err);
/* Prepends "SOURCE: key 'PATH': " to an error already set about the value at
 * `at` (by a parser of its own: a model's or control's name). */
int tk_json_prefix(const tk_json_at *at, tk_error *err);
/* Fails with "SOURCE: key 'PATH' " followed by the formatted text. */
int tk_json_fail(const tk_json_at *at, tk_error *err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* An object being written: members are separated by `sep` (", " on one
 * line, ",\n  " for one member a line). */
typedef struct tk_json_out {
    tk_buf *b;
    const char *sep;
    int members;
} tk_json_out;

/* Writes `open` ("{" or "{\n  ") and starts the members. */
void tk_json_out_begin(tk_json_out *o, tk_buf *b, const char *open, const char *sep);
void tk_json_out_number(tk_json_out *o, const char *key, const char *format, double v);
void tk_json_out_int(tk_json_out *o, const char *key, long long v);
void tk_json_out_string(tk_json_out *o, const char *key, const char *v);
/* A member whose value is already JSON text (an array written by the caller). */
void tk_json_out_raw(tk_json_out *o, const char *key, const char *json);
/* Writes `close` ("}" or "\n}\n"). */
void tk_json_out_end(tk_json_out *o, const char *close);

#endif

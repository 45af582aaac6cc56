/* duration.c - training lengths and rewind points written as "160ep",
 * "500it" or "2ep10it": whole epochs, whole iterations, or epochs then
 * iterations. Both parts are counts >= 0; the epoch part, when present,
 * comes first, and each unit appears at most once. */
#include "tk_duration.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define FORMS "valid forms: <N>ep, <N>it, <N>ep<M>it with whole numbers >= 0, e.g. 160ep, 500it, 2ep10it, 0it"

static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

int tk_duration_parse(const char *text, tk_duration *d, tk_error *err) {
    TK_ASSERT(text);
    if (!*text) return tk_fail(err, "invalid duration '': it is empty; " FORMS);
    tk_duration r = {0, 0};
    bool seen_ep = false, seen_it = false;
    for (const char *s = text; *s;) {
        if (*s == '-') return tk_fail(err, "invalid duration '%s': it is negative; " FORMS, text);
        if (!is_digit(*s))
            return tk_fail(err, "invalid duration '%s': expected a number at '%s'; " FORMS, text, s);
        int64_t value = 0;
        for (; is_digit(*s); s++) {
            int digit = *s - '0';
            if (value > (INT64_MAX - digit) / 10)
                return tk_fail(err, "invalid duration '%s': the number is too large (at most %" PRId64 "); " FORMS,
                               text, INT64_MAX);
            value = value * 10 + digit;
        }
        if (*s == '.' || *s == ',')
            return tk_fail(err, "invalid duration '%s': counts must be whole numbers; " FORMS, text);
        if (!*s) return tk_fail(err, "invalid duration '%s': the number %" PRId64 " has no unit; " FORMS, text, value);
        if (!strncmp(s, "ep", 2) && !is_letter(s[2])) {
            if (seen_ep) return tk_fail(err, "invalid duration '%s': 'ep' appears twice; " FORMS, text);
            if (seen_it) return tk_fail(err, "invalid duration '%s': epochs must come before iterations; " FORMS, text);
            seen_ep = true;
            r.epochs = value;
        } else if (!strncmp(s, "it", 2) && !is_letter(s[2])) {
            if (seen_it) return tk_fail(err, "invalid duration '%s': 'it' appears twice; " FORMS, text);
            seen_it = true;
            r.iterations = value;
        } else {
            int len = 0;
            while (s[len] && !is_digit(s[len]) && s[len] != '-') len++;
            return tk_fail(err, "invalid duration '%s': unknown unit '%.*s' (units are ep and it); " FORMS, text, len,
                           s);
        }
        s += 2;
    }
    *d = r;
    return 0;
}

/* Saturates instead of overflowing: "9223372036854775807ep" parses, and the
 * run it asks for is simply longer than any machine will finish. */
int64_t tk_duration_iters(tk_duration d, int64_t iters_per_epoch) {
    TK_ASSERT(d.epochs >= 0 && d.iterations >= 0 && iters_per_epoch >= 0);
    int64_t from_epochs, total;
    if (__builtin_mul_overflow(d.epochs, iters_per_epoch, &from_epochs) ||
        __builtin_add_overflow(from_epochs, d.iterations, &total))
        return INT64_MAX;
    return total;
}

void tk_duration_format(tk_duration d, char *out, size_t n) {
    if (d.epochs && d.iterations) snprintf(out, n, "%" PRId64 "ep%" PRId64 "it", d.epochs, d.iterations);
    else if (d.epochs) snprintf(out, n, "%" PRId64 "ep", d.epochs);
    else snprintf(out, n, "%" PRId64 "it", d.iterations);
}

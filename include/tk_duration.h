/* tk_duration.h - training lengths and rewind points: "160ep", "500it", "2ep10it". */
#ifndef TK_DURATION_H
#define TK_DURATION_H

#include "tk_common.h"

typedef struct tk_duration {
    int64_t epochs, iterations;
} tk_duration;
int tk_duration_parse(const char *text, tk_duration *d, tk_error *err);
int64_t tk_duration_iters(tk_duration d, int64_t iters_per_epoch);
/* Canonical text: "3ep", "500it", "2ep10it", "0it". */
void tk_duration_format(tk_duration d, char *out, size_t n);

#endif

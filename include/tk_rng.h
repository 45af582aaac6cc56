/* tk_rng.h - the one random number generator of ticket.
 *
 * xoshiro256** seeded through splitmix64 from (seed, stream). Every consumer of
 * randomness owns a stream, so adding a draw to one (say, augmentation) never
 * shifts another (say, initialization). The whole state is a plain struct that
 * checkpoints copy byte for byte. */
#ifndef TK_RNG_H
#define TK_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef enum tk_stream {
    TK_STREAM_INIT,
    TK_STREAM_DATA,
    TK_STREAM_AUGMENT,
    TK_STREAM_DROPOUT,
    TK_STREAM_CONTROL,
    TK_STREAM_COUNT
} tk_stream;

extern const char *const tk_stream_names[]; /* [TK_STREAM_COUNT] */

typedef struct tk_rng {
    uint64_t s[4];
} tk_rng;

void tk_rng_seed(tk_rng *r, uint64_t seed, uint64_t stream);
uint64_t tk_rng_u64(tk_rng *r);
/* Uniform integer in [0, n), without modulo bias. n > 0. */
uint32_t tk_rng_below(tk_rng *r, uint32_t n);
/* Uniform float in [0, 1) with 24 random bits. */
float tk_rng_uniform(tk_rng *r);
/* Standard normal by Box-Muller (no cached second value, so the state is s[] alone). */
float tk_rng_normal(tk_rng *r);
/* Fisher-Yates shuffle. */
void tk_rng_shuffle(tk_rng *r, int32_t *a, size_t n);

#endif

/* rng.c - xoshiro256** (Blackman & Vigna) with splitmix64 seeding. */
#include "tk_rng.h"

#include <math.h>

const char *const tk_stream_names[] = {"init", "data", "augment", "dropout", "control"};
_Static_assert(sizeof tk_stream_names / sizeof tk_stream_names[0] == TK_STREAM_COUNT, "stream name table");

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void tk_rng_seed(tk_rng *r, uint64_t seed, uint64_t stream) {
    /* Mix the stream id through splitmix first so that (seed, stream) and
     * (seed + 1, stream - 1) do not collide. */
    uint64_t x = stream * 0xd1b54a32d192ed03ULL;
    uint64_t k = splitmix64(&x) ^ seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&k);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t tk_rng_u64(tk_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint32_t tk_rng_below(tk_rng *r, uint32_t n) {
    /* Lemire's multiply-and-reject. */
    uint64_t m = (uint64_t)(uint32_t)(tk_rng_u64(r) >> 32) * n;
    uint32_t low = (uint32_t)m;
    if (low < n) {
        uint32_t threshold = (uint32_t)(-n) % n;
        while (low < threshold) {
            m = (uint64_t)(uint32_t)(tk_rng_u64(r) >> 32) * n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

float tk_rng_uniform(tk_rng *r) { return (float)(tk_rng_u64(r) >> 40) * (1.0f / 16777216.0f); }

float tk_rng_normal(tk_rng *r) {
    /* u1 in (0,1] keeps log() finite. Computed in double so the result does not
     * depend on float rounding of the intermediate steps. */
    double u1 = ((double)(tk_rng_u64(r) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
    double u2 = (double)(tk_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

void tk_rng_shuffle(tk_rng *r, int32_t *a, size_t n) {
    for (size_t i = n; i > 1; i--) {
        size_t j = tk_rng_below(r, (uint32_t)i);
        int32_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

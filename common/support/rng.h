/*  rng.h — the one seeded random generator of byzgd (xoshiro256**, seeded by splitmix64).
    Every random choice (initialisation, sampling, attacks, 1-p Krum, bucketing) draws from
    a byzgd_rng_t passed in; nothing reads global randomness, so a seed reproduces a run. */
#ifndef BYZGD_RNG_H
#define BYZGD_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t state[4];
} byzgd_rng_t;

// Seeds the generator; `stream` separates independent streams from one seed
// (for example worker i uses stream i). Equal (seed, stream) give equal sequences.
void byzgd_rng_seed(byzgd_rng_t *rng, uint64_t seed, uint64_t stream);

// Next 64 random bits.
uint64_t byzgd_rng_next(byzgd_rng_t *rng);

// Uniform double in [0, 1), 53 random bits.
double byzgd_rng_uniform(byzgd_rng_t *rng);

// Uniform integer in [0, bound), without modulo bias. bound must be > 0.
uint64_t byzgd_rng_below(byzgd_rng_t *rng, uint64_t bound);

// Standard normal deviate (the ziggurat: usually one 64-bit draw; the sequence depends only
// on the generator's state, never on earlier calls' spare values).
double byzgd_rng_gaussian(byzgd_rng_t *rng);

// count normal deviates times scale, as floats, for the Gaussian attack's d values a round.
// The stream layout (docs/ATTACKS.md): one draw of `rng` seeds BYZGD_RNG_FILL_LANES lane
// generators (lane k: byzgd_rng_seed(lane, draw, k)); out[i] is (float)(scale * v) for the
// next deviate v of lane i mod BYZGD_RNG_FILL_LANES, drawn by the ziggurat as in
// byzgd_rng_gaussian except that the signed uniform is (2 + top 52 bits / 2^51) - 3. The
// lanes are computed side by side in AVX2 registers where the processor has them: the same
// values, bit for bit, as byzgd_rng_gaussian_fill_portable on any machine. `rng` advances
// by one draw.
#define BYZGD_RNG_FILL_LANES 4
void byzgd_rng_gaussian_fill(byzgd_rng_t *rng, float *out, size_t count, double scale);

// The same values one lane value at a time: the reference the vector path must equal.
void byzgd_rng_gaussian_fill_portable(byzgd_rng_t *rng, float *out, size_t count, double scale);

// Gamma(shape, 1) deviate for shape > 0 (Marsaglia–Tsang), used for Dirichlet shards.
double byzgd_rng_gamma(byzgd_rng_t *rng, double shape);

// Fisher–Yates shuffle of `count` size_t values.
void byzgd_rng_shuffle(byzgd_rng_t *rng, size_t *values, size_t count);

#endif

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

// out[i] = (float)(scale * byzgd_rng_gaussian(rng)) for i < count: the same values and the
// same generator state afterwards as that loop, without a call per value.
void byzgd_rng_gaussian_fill(byzgd_rng_t *rng, float *out, size_t count, double scale);

// Gamma(shape, 1) deviate for shape > 0 (Marsaglia–Tsang), used for Dirichlet shards.
double byzgd_rng_gamma(byzgd_rng_t *rng, double shape);

// Fisher–Yates shuffle of `count` size_t values.
void byzgd_rng_shuffle(byzgd_rng_t *rng, size_t *values, size_t count);

#endif

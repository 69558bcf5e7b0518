/*  rng.c — xoshiro256** (Blackman & Vigna), seeded through splitmix64. */
#include "rng.h"

#include <math.h>

static uint64_t
s_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t
s_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void
byzgd_rng_seed(byzgd_rng_t *rng, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ s_splitmix64(&(uint64_t){stream * 0xd1342543de82ef95ULL + 1});
    for (int i = 0; i < 4; i++)
        rng->state[i] = s_splitmix64(&x);
}

uint64_t
byzgd_rng_next(byzgd_rng_t *rng)
{
    uint64_t *s = rng->state;
    uint64_t result = s_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = s_rotl(s[3], 45);
    return result;
}

double
byzgd_rng_uniform(byzgd_rng_t *rng)
{
    return (double)(byzgd_rng_next(rng) >> 11) * 0x1.0p-53;
}

uint64_t
byzgd_rng_below(byzgd_rng_t *rng, uint64_t bound)
{
    // Lemire's method would need 128-bit products; rejection on the top range is simpler.
    uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t x;
    do {
        x = byzgd_rng_next(rng);
    } while (x >= limit);
    return x % bound;
}

double
byzgd_rng_gaussian(byzgd_rng_t *rng)
{
    double u, v, s;
    do {
        u = 2.0 * byzgd_rng_uniform(rng) - 1.0;
        v = 2.0 * byzgd_rng_uniform(rng) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    return u * sqrt(-2.0 * log(s) / s);
}

double
byzgd_rng_gamma(byzgd_rng_t *rng, double shape)
{
    if (shape < 1.0) // boost: Gamma(a) = Gamma(a + 1) * U^(1/a)
        return byzgd_rng_gamma(rng, shape + 1.0) * pow(1.0 - byzgd_rng_uniform(rng), 1.0 / shape);
    double d = shape - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x, v;
        do {
            x = byzgd_rng_gaussian(rng);
            v = 1.0 + c * x;
        } while (v <= 0.0);
        v = v * v * v;
        double u = byzgd_rng_uniform(rng);
        if (u < 1.0 - 0.0331 * x * x * x * x || log(u) < 0.5 * x * x + d * (1.0 - v + log(v)))
            return d * v;
    }
}

void
byzgd_rng_shuffle(byzgd_rng_t *rng, size_t *values, size_t count)
{
    for (size_t i = count; i > 1; i--) {
        size_t j = (size_t)byzgd_rng_below(rng, i);
        size_t tmp = values[i - 1];
        values[i - 1] = values[j];
        values[j] = tmp;
    }
}

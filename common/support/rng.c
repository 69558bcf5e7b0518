/*  rng.c — xoshiro256** (Blackman & Vigna), seeded through splitmix64. */
#include "rng.h"

#include <math.h>
#include <stdbool.h>
#include <pthread.h>

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

// The ziggurat (Marsaglia & Tsang, 2000; the 128-layer form of Doornik, 2005): the area
// under exp(-x^2/2), x >= 0, is cut into 128 horizontal layers of equal area V. Layer i
// spans [0, x[i]] in x, between heights f(x[i]) and f(x[i + 1]); the base layer 0 is the
// rectangle [0, R] x [0, f(R)] plus the tail beyond R, drawn as if x[0] = V / f(R). A draw
// picks a layer and a signed uniform u from one 64-bit number: |u| < x[i + 1] / x[i] lies
// inside the curve for sure (97.2 % of trials: one random number, a multiply and a compare);
// otherwise the wedge is tested against the density (2.7 %; 45 % of these reject, and the
// trial starts again), or the base's tail sampled exactly (0.06 %). The polar method it
// replaces took a logarithm and a square root per value (about 30 ns here, against about
// 3 ns per value in byzgd_rng_gaussian_fill: bench/bench_rng.c), and the Gaussian attack
// draws d values per round.
#define S_ZIGGURAT_LAYERS 128
static const double s_ziggurat_r = 3.442619855899;      // where the tail starts
static const double s_ziggurat_v = 9.91256303526217e-3; // each layer's area
static double s_ziggurat_x[S_ZIGGURAT_LAYERS + 1];      // layer widths, x[128] = 0
static double s_ziggurat_f[S_ZIGGURAT_LAYERS + 1];      // f(x[i]) = exp(-x[i]^2 / 2)
static double s_ziggurat_inner[S_ZIGGURAT_LAYERS];      // x[i + 1] / x[i]
static pthread_once_t s_ziggurat_once = PTHREAD_ONCE_INIT;

// The wedge of layer i >= 1, |x| in [x[i + 1], x[i]], lies between two lines: the chord
// through its corners and the tangent at its middle. Where f is convex (|x| >= 1) it runs
// below the chord and above the tangent; where concave (|x| <= 1), the other way round. A
// point below the lower line by more than S_WEDGE_MARGIN is under the curve, one above the
// upper line by as much is over it: the test against exp(-x^2 / 2) would say the same, as
// every rounding between the lines and the computed exponential is below 1e-14. Only the
// points between the lines (a few percent of wedge tests, and the layer where f turns from
// concave to convex) still call exp. The verdict, so the sequence, is the exponential's.
#define S_WEDGE_MARGIN 0x1.0p-32
typedef struct {
    double lower_at_0, lower_slope; // the line below the curve: lower_at_0 + lower_slope * |x|
    double upper_at_0, upper_slope; // the line above it
} s_wedge_t;
static s_wedge_t s_ziggurat_wedge[S_ZIGGURAT_LAYERS];

static void
s_wedge_init(int i)
{
    double near = s_ziggurat_x[i + 1], far = s_ziggurat_x[i];
    double chord_slope = (s_ziggurat_f[i] - s_ziggurat_f[i + 1]) / (far - near);
    double chord_at_0 = s_ziggurat_f[i + 1] - chord_slope * near;
    double middle = 0.5 * (near + far), f_middle = exp(-0.5 * middle * middle);
    double tangent_slope = -middle * f_middle;
    double tangent_at_0 = f_middle - tangent_slope * middle;
    if (near >= 1.0)
        s_ziggurat_wedge[i] = (s_wedge_t){tangent_at_0, tangent_slope, chord_at_0, chord_slope};
    else if (far <= 1.0)
        s_ziggurat_wedge[i] = (s_wedge_t){chord_at_0, chord_slope, tangent_at_0, tangent_slope};
    else // f turns here: no line is on one side; every point asks the exponential
        s_ziggurat_wedge[i] = (s_wedge_t){-INFINITY, 0.0, INFINITY, 0.0};
}

static void
s_ziggurat_init(void)
{
    double f = exp(-0.5 * s_ziggurat_r * s_ziggurat_r);
    s_ziggurat_x[0] = s_ziggurat_v / f;
    s_ziggurat_x[1] = s_ziggurat_r;
    s_ziggurat_x[S_ZIGGURAT_LAYERS] = 0;
    for (int i = 2; i < S_ZIGGURAT_LAYERS; i++) {
        s_ziggurat_x[i] = sqrt(-2 * log(s_ziggurat_v / s_ziggurat_x[i - 1] + f));
        f = exp(-0.5 * s_ziggurat_x[i] * s_ziggurat_x[i]);
    }
    for (int i = 0; i <= S_ZIGGURAT_LAYERS; i++)
        s_ziggurat_f[i] = exp(-0.5 * s_ziggurat_x[i] * s_ziggurat_x[i]);
    for (int i = 0; i < S_ZIGGURAT_LAYERS; i++)
        s_ziggurat_inner[i] = s_ziggurat_x[i + 1] / s_ziggurat_x[i];
    for (int i = 1; i < S_ZIGGURAT_LAYERS; i++)
        s_wedge_init(i);
}

// A uniform double in (0, 1]: safe to take the logarithm of.
static double
s_uniform_open_zero(byzgd_rng_t *rng)
{
    return 1.0 - byzgd_rng_uniform(rng);
}

// One trial of the ziggurat from the generator `rng`, in the inline form the bulk fill keeps
// in registers: true with the deviate in *value, or false when the wedge test rejects (the
// caller tries again). A trial takes the same numbers whatever the wedge test decides (one,
// and one more for the wedge), so the fill adds the decision to its count instead of
// branching on it: no branch waits for the exponential, and the wedge's verdict, a coin
// toss (45 % reject), costs no misprediction.
static inline bool
s_gaussian_trial(byzgd_rng_t *rng, double *value)
{
    uint64_t bits = byzgd_rng_next(rng);
    int layer = (int)(bits & (S_ZIGGURAT_LAYERS - 1));
    // The top 53 bits as a signed uniform in [-1, 1); the low bits chose the layer.
    double u = (double)((int64_t)bits >> 11) * 0x1.0p-52;
    double x = u * s_ziggurat_x[layer];
    *value = x;
    if (__builtin_expect(fabs(u) < s_ziggurat_inner[layer], 1))
        return true;
    if (layer == 0) { // the tail beyond R (Marsaglia, 1964): exact, rarely looped
        double tail, y;
        do {
            tail = -log(s_uniform_open_zero(rng)) / s_ziggurat_r;
            y = -log(s_uniform_open_zero(rng));
        } while (2 * y < tail * tail);
        *value = u < 0 ? -(s_ziggurat_r + tail) : s_ziggurat_r + tail;
        return true;
    }
    double height = s_ziggurat_f[layer] +
                    byzgd_rng_uniform(rng) * (s_ziggurat_f[layer + 1] - s_ziggurat_f[layer]);
    const s_wedge_t *wedge = &s_ziggurat_wedge[layer];
    bool under = height < wedge->lower_at_0 + wedge->lower_slope * fabs(x) - S_WEDGE_MARGIN;
    bool over = height >= wedge->upper_at_0 + wedge->upper_slope * fabs(x) + S_WEDGE_MARGIN;
    if (__builtin_expect(under | over, 1))
        return under;
    return height < exp(-0.5 * x * x);
}

double
byzgd_rng_gaussian(byzgd_rng_t *rng)
{
    pthread_once(&s_ziggurat_once, s_ziggurat_init);
    double value;
    while (!s_gaussian_trial(rng, &value))
        continue;
    return value;
}

void
byzgd_rng_gaussian_fill(byzgd_rng_t *rng, float *out, size_t count, double scale)
{
    pthread_once(&s_ziggurat_once, s_ziggurat_init);
    byzgd_rng_t local = *rng; // a local copy stays in registers across the loop
    for (size_t done = 0; done < count;) {
        double value;
        bool accepted = s_gaussian_trial(&local, &value);
        out[done] = (float)(scale * value); // overwritten by the next trial if rejected
        done += accepted;
    }
    *rng = local;
}

double
byzgd_rng_gamma(byzgd_rng_t *rng, double shape)
{
    if (shape < 1.0) { // boost: Gamma(a) = Gamma(a + 1) * U^(1/a)
        // Two statements: the order of the draws must not be left to the compiler.
        double boosted = byzgd_rng_gamma(rng, shape + 1.0);
        return boosted * pow(s_uniform_open_zero(rng), 1.0 / shape);
    }
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

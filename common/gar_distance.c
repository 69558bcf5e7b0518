/*  gar_distance.c — pairwise squared distances and weighted sums for the rules.

    The distance matrix is computed directly from differences, never through the Gram
    identity |a|^2 + |b|^2 - 2 a.b, whose float32 cancellation gives percent-level errors on
    near-identical gradients (DESIGN.md §5). The d axis is cut into blocks small enough that
    the n rows' blocks stay in L2; all pairs are computed block by block, four partner rows
    at a time so row a's load is shared. Inside a block each pair's squared differences are
    summed in 16 float lanes over chunks of CHUNK values, and every chunk's lane sum is
    added into the pair's total in double: relative error stays around 1e-7. A chunk whose
    float sum overflowed (differences above ~1e19) is recomputed in double, so huge finite
    rows never produce Inf. Each pair is always summed in the same order, whatever the
    number of threads: results are bit-identical run to run. */
#include "gar_internal.h"

#include <math.h>
#include <string.h>

#define LANES 16
#define CHUNK 512

typedef float s_v16f __attribute__((vector_size(64), aligned(4), may_alias));
typedef float s_v8f __attribute__((vector_size(32), aligned(4), may_alias));
typedef double s_v8d __attribute__((vector_size(64)));

static double
s_hsum(s_v16f v)
{
    double total = 0;
    for (int l = 0; l < LANES; l++)
        total += (double)v[l];
    return total;
}

// Squared distance over `count` values in double (the slow path for overflowing chunks).
static double
s_exact(const float *a, const float *b, size_t count)
{
    double total = 0;
    for (size_t j = 0; j < count; j++) {
        double t = (double)a[j] - (double)b[j];
        total += t * t;
    }
    return total;
}

// out[k] += |a - b_k|^2 over len values, k < 4.
static void
s_tile4(double *out, const float *a, const float *b0, const float *b1, const float *b2,
        const float *b3, size_t len)
{
    size_t j = 0;
    size_t vector_end = len - len % LANES;
    while (j < vector_end) {
        size_t start = j;
        size_t end = j + CHUNK < vector_end ? j + CHUNK : vector_end;
        s_v16f s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
        for (; j < end; j += LANES) {
            s_v16f x = *(const s_v16f *)(a + j);
            s_v16f t0 = x - *(const s_v16f *)(b0 + j);
            s_v16f t1 = x - *(const s_v16f *)(b1 + j);
            s_v16f t2 = x - *(const s_v16f *)(b2 + j);
            s_v16f t3 = x - *(const s_v16f *)(b3 + j);
            s0 += t0 * t0;
            s1 += t1 * t1;
            s2 += t2 * t2;
            s3 += t3 * t3;
        }
        double h0 = s_hsum(s0), h1 = s_hsum(s1), h2 = s_hsum(s2), h3 = s_hsum(s3);
        if (!isfinite(h0))
            h0 = s_exact(a + start, b0 + start, end - start);
        if (!isfinite(h1))
            h1 = s_exact(a + start, b1 + start, end - start);
        if (!isfinite(h2))
            h2 = s_exact(a + start, b2 + start, end - start);
        if (!isfinite(h3))
            h3 = s_exact(a + start, b3 + start, end - start);
        out[0] += h0;
        out[1] += h1;
        out[2] += h2;
        out[3] += h3;
    }
    out[0] += s_exact(a + j, b0 + j, len - j);
    out[1] += s_exact(a + j, b1 + j, len - j);
    out[2] += s_exact(a + j, b2 + j, len - j);
    out[3] += s_exact(a + j, b3 + j, len - j);
}

// |a - b|^2 over len values, same summation scheme as s_tile4.
static double
s_pair(const float *a, const float *b, size_t len)
{
    double total = 0;
    size_t j = 0;
    size_t vector_end = len - len % LANES;
    while (j < vector_end) {
        size_t start = j;
        size_t end = j + CHUNK < vector_end ? j + CHUNK : vector_end;
        s_v16f s = {0};
        for (; j < end; j += LANES) {
            s_v16f t = *(const s_v16f *)(a + j) - *(const s_v16f *)(b + j);
            s += t * t;
        }
        double h = s_hsum(s);
        if (!isfinite(h))
            h = s_exact(a + start, b + start, end - start);
        total += h;
    }
    return total + s_exact(a + j, b + j, len - j);
}

void
byzgd_gar_distances(double *distances, const float *const *rows, size_t n, size_t d)
{
    memset(distances, 0, n * n * sizeof *distances);
    // Block so that n rows x block floats take about 1 MiB of the 2 MiB L2 per core.
    size_t block = ((size_t)1 << 20) / (sizeof(float) * n);
    block -= block % CHUNK;
    if (block < CHUNK)
        block = CHUNK;
#pragma omp parallel if (n * d > 100000)
    for (size_t j0 = 0; j0 < d; j0 += block) {
        size_t len = d - j0 < block ? d - j0 : block;
#pragma omp for schedule(dynamic, 1)
        for (size_t a = 0; a < n; a++) {
            const float *x = rows[a] + j0;
            double *out = distances + a * n;
            size_t b = a + 1;
            for (; b + 4 <= n; b += 4)
                s_tile4(out + b, x, rows[b] + j0, rows[b + 1] + j0, rows[b + 2] + j0,
                        rows[b + 3] + j0, len);
            for (; b < n; b++)
                out[b] += s_pair(x, rows[b] + j0, len);
        }
    }
    for (size_t a = 0; a < n; a++)
        for (size_t b = a + 1; b < n; b++)
            distances[b * n + a] = distances[a * n + b];
}

void
byzgd_gar_weighted_sum(double *sum, const float *const *rows, const double *weights, size_t n,
                       size_t d)
{
    const size_t block = 2048;
#pragma omp parallel for schedule(static) if (n * d > 100000)
    for (size_t j0 = 0; j0 < d; j0 += block) {
        size_t len = d - j0 < block ? d - j0 : block;
        double *s = sum + j0;
        for (size_t l = 0; l < len; l++)
            s[l] = 0;
        for (size_t i = 0; i < n; i++) {
            const float *r = rows[i] + j0;
            double w = weights ? weights[i] : 1.0;
            for (size_t l = 0; l < len; l++)
                s[l] += w * (double)r[l];
        }
    }
}

void
byzgd_gar_mean(float *out, double *sum, const float *const *rows, const double *weights, size_t n,
               size_t d)
{
    byzgd_gar_weighted_sum(sum, rows, weights, n, d);
    double total = 0;
    for (size_t i = 0; i < n; i++)
        total += weights ? weights[i] : 1.0;
#pragma omp parallel for schedule(static) if (d > 100000)
    for (size_t j = 0; j < d; j++)
        out[j] = (float)(sum[j] / total);
}

double
byzgd_gar_distance_to(const float *row, const double *point, size_t d)
{
    s_v8d acc = {0};
    size_t j = 0;
    for (; j + 8 <= d; j += 8) {
        s_v8f x = *(const s_v8f *)(row + j);
        s_v8d p;
        memcpy(&p, point + j, sizeof p);
        s_v8d t = __builtin_convertvector(x, s_v8d) - p;
        acc += t * t;
    }
    double total = 0;
    for (int l = 0; l < 8; l++)
        total += acc[l];
    for (; j < d; j++) {
        double t = (double)row[j] - point[j];
        total += t * t;
    }
    return sqrt(total);
}

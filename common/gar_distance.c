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
#include <stdbool.h>
#include <string.h>

#define LANES 16
#define CHUNK 512

typedef float s_v16f __attribute__((vector_size(64), aligned(4), may_alias));
typedef float s_v8f __attribute__((vector_size(32), aligned(4), may_alias));
typedef double s_v8d __attribute__((vector_size(64)));

static inline double
s_hsum(const s_v16f *vector)
{
    s_v16f v = *vector;
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
        double h0 = s_hsum(&s0), h1 = s_hsum(&s1), h2 = s_hsum(&s2), h3 = s_hsum(&s3);
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

// out0[k] += |a0 - b_k|^2 and out1[k] += |a1 - b_k|^2 over len values, k < 4: two rows
// against four share each load, which halves the L2 traffic per pair compared with 1 x 4.
static void
s_tile8(double *out0, double *out1, const float *a0, const float *a1, const float *const *b,
        size_t len)
{
    const float *b0 = b[0], *b1 = b[1], *b2 = b[2], *b3 = b[3];
    size_t j = 0;
    size_t vector_end = len - len % LANES;
    while (j < vector_end) {
        size_t start = j;
        size_t end = j + CHUNK < vector_end ? j + CHUNK : vector_end;
        s_v16f s[8] = {{0}};
        for (; j < end; j += LANES) {
            s_v16f x = *(const s_v16f *)(a0 + j), y = *(const s_v16f *)(a1 + j);
            s_v16f c0 = *(const s_v16f *)(b0 + j), c1 = *(const s_v16f *)(b1 + j);
            s_v16f c2 = *(const s_v16f *)(b2 + j), c3 = *(const s_v16f *)(b3 + j);
            s_v16f t0 = x - c0, t1 = x - c1, t2 = x - c2, t3 = x - c3;
            s_v16f u0 = y - c0, u1 = y - c1, u2 = y - c2, u3 = y - c3;
            s[0] += t0 * t0;
            s[1] += t1 * t1;
            s[2] += t2 * t2;
            s[3] += t3 * t3;
            s[4] += u0 * u0;
            s[5] += u1 * u1;
            s[6] += u2 * u2;
            s[7] += u3 * u3;
        }
        for (int k = 0; k < 8; k++) {
            const float *row = k < 4 ? a0 : a1, *other = b[k % 4];
            double h = s_hsum(&s[k]);
            if (!isfinite(h))
                h = s_exact(row + start, other + start, end - start);
            (k < 4 ? out0 : out1)[k % 4] += h;
        }
    }
    for (int k = 0; k < 4; k++) {
        out0[k] += s_exact(a0 + j, b[k] + j, len - j);
        out1[k] += s_exact(a1 + j, b[k] + j, len - j);
    }
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
        double h = s_hsum(&s);
        if (!isfinite(h))
            h = s_exact(a + start, b + start, end - start);
        total += h;
    }
    return total + s_exact(a + j, b + j, len - j);
}

// Pairs (a, b), a < b, with a in [a_first, a_last) and b in [b_first, b_last) (b > a when
// the ranges are the same), over the values [j0, j0 + len).
static void
s_group_block(double *distances, const float *const *rows, size_t n, size_t a_first, size_t a_last,
              size_t b_first, size_t b_last, size_t j0, size_t len)
{
    bool diagonal = a_first == b_first;
    size_t a = a_first;
    for (; a + 2 <= a_last; a += 2) {
        double *out0 = distances + a * n, *out1 = out0 + n;
        const float *x = rows[a] + j0, *y = rows[a + 1] + j0;
        size_t b = diagonal ? a + 2 : b_first;
        if (diagonal)
            out0[a + 1] += s_pair(x, y, len);
        for (; b + 4 <= b_last; b += 4) {
            const float *quad[4] = {rows[b] + j0, rows[b + 1] + j0, rows[b + 2] + j0,
                                    rows[b + 3] + j0};
            s_tile8(out0 + b, out1 + b, x, y, quad, len);
        }
        for (; b < b_last; b++) {
            out0[b] += s_pair(x, rows[b] + j0, len);
            out1[b] += s_pair(y, rows[b] + j0, len);
        }
    }
    for (; a < a_last; a++) {
        const float *x = rows[a] + j0;
        double *out = distances + a * n;
        size_t b = diagonal ? a + 1 : b_first;
        for (; b + 4 <= b_last; b += 4)
            s_tile4(out + b, x, rows[b] + j0, rows[b + 1] + j0, rows[b + 2] + j0, rows[b + 3] + j0,
                    len);
        for (; b < b_last; b++)
            out[b] += s_pair(x, rows[b] + j0, len);
    }
}

void
byzgd_gar_distances(double *distances, const float *const *rows, size_t n, size_t d)
{
    memset(distances, 0, n * n * sizeof *distances);
    // Rows are split in two halves L and R; the pairs fall in three groups (L x R, L x L,
    // R x R, the first as large as the other two together), each walked over all of d by
    // one thread without any barrier, so a thread delayed by another process on this
    // shared machine does not stall the other at every block. Blocks are sized so that a
    // group's rows x block floats take about 1 MiB of the 2 MiB L2 of a core.
    size_t half = n >= 4 ? n / 2 : n;
    size_t groups[3][4] = {{0, half, half, n}, {0, half, 0, half}, {half, n, half, n}};
    size_t group_count = half < n ? 3 : 1;
    if (group_count == 1)
        groups[0][2] = 0;
    size_t block = ((size_t)1 << 20) / (sizeof(float) * n);
    block -= block % CHUNK;
    if (block < CHUNK)
        block = CHUNK;
#pragma omp parallel for schedule(dynamic, 1) if (n * d > 100000)
    for (size_t g = 0; g < group_count; g++)
        for (size_t j0 = 0; j0 < d; j0 += block)
            s_group_block(distances, rows, n, groups[g][0], groups[g][1], groups[g][2],
                          groups[g][3], j0, d - j0 < block ? d - j0 : block);
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

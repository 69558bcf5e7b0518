/*  gar_distance.c — pairwise squared distances and weighted sums for the rules.

    The distance matrix is computed directly from differences, never through the Gram
    identity |a|^2 + |b|^2 - 2 a.b, whose float32 cancellation gives percent-level errors on
    near-identical gradients (ARCHITECTURE.md §7). The d axis is cut into blocks small enough that
    the n rows' blocks stay in L2; all pairs are computed block by block, four partner rows
    at a time so row a's load is shared. Inside a block each pair's squared differences are
    summed in 16 float lanes over chunks of CHUNK values, and every chunk's lanes are added
    into 16 double lanes (no horizontal sum until the block ends): relative error stays
    around 1e-7. A pair whose float chunks overflowed (differences above ~1e19) has an
    infinite block total and that block is recomputed in double, so huge finite rows never
    produce Inf. Each pair is always summed in the same order, whatever the
    number of threads: results are bit-identical run to run. */
#include "gar_internal.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#define LANES 16
#define CHUNK 512

// ISO C mode (-std=c11) turns floating-point contraction off; the distance loops are
// compute-bound, and fusing (x - y)^2 + s into one FMA saves a third of their operations
// (and rounds once instead of twice). Results stay deterministic for a given binary.
#if defined(__GNUC__) && !defined(__clang__)
#define S_CONTRACT __attribute__((optimize("fp-contract=fast")))
#else
#define S_CONTRACT
#endif

typedef float s_v16f __attribute__((vector_size(64), aligned(4), may_alias));
typedef float s_v8f __attribute__((vector_size(32), aligned(4), may_alias));
typedef double s_v8d __attribute__((vector_size(64)));

// Adds the 16 float lanes of `sum` into the 8 + 8 double lanes of `total`.
static inline void
s_fold(s_v8d *total, const s_v16f *sum)
{
    s_v8f low, high;
    memcpy(&low, sum, sizeof low);
    memcpy(&high, (const char *)sum + sizeof low, sizeof high);
    total[0] += __builtin_convertvector(low, s_v8d);
    total[1] += __builtin_convertvector(high, s_v8d);
}

static inline double
s_hsum(const s_v8d *total)
{
    double result = 0;
    for (int l = 0; l < 8; l++)
        result += total[0][l] + total[1][l];
    return result;
}

// Squared distance over `count` values in double (the slow path for overflowing sums).
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

// The double total of a pair over [0, vector_end), or the exact sum when the float
// chunks overflowed (the total is then +Inf; differences of finite floats never give NaN).
static inline double
s_finish(const s_v8d *total, const float *a, const float *b, size_t vector_end)
{
    double result = s_hsum(total);
    return isfinite(result) ? result : s_exact(a, b, vector_end);
}

// out[k] += |a - b_k|^2 over len values, k < 4.
S_CONTRACT static void
s_tile4(double *out, const float *a, const float *const *b, size_t len)
{
    size_t j = 0, vector_end = len - len % LANES;
    s_v8d total[4][2] = {{{0}}};
    while (j < vector_end) {
        size_t end = j + CHUNK < vector_end ? j + CHUNK : vector_end;
        s_v16f s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
        for (; j < end; j += LANES) {
            s_v16f x = *(const s_v16f *)(a + j);
            s_v16f t0 = x - *(const s_v16f *)(b[0] + j);
            s_v16f t1 = x - *(const s_v16f *)(b[1] + j);
            s_v16f t2 = x - *(const s_v16f *)(b[2] + j);
            s_v16f t3 = x - *(const s_v16f *)(b[3] + j);
            s0 += t0 * t0;
            s1 += t1 * t1;
            s2 += t2 * t2;
            s3 += t3 * t3;
        }
        s_fold(total[0], &s0);
        s_fold(total[1], &s1);
        s_fold(total[2], &s2);
        s_fold(total[3], &s3);
    }
    for (int k = 0; k < 4; k++)
        out[k] += s_finish(total[k], a, b[k], vector_end) +
                  s_exact(a + vector_end, b[k] + vector_end, len - vector_end);
}

// out0[k] += |a0 - b_k|^2 and out1[k] += |a1 - b_k|^2 over len values, k < 4: two rows
// against four share each load, which halves the L2 traffic per pair compared with 1 x 4.
S_CONTRACT static void
s_tile8(double *out0, double *out1, const float *a0, const float *a1, const float *const *b,
        size_t len)
{
    const float *b0 = b[0], *b1 = b[1], *b2 = b[2], *b3 = b[3];
    size_t j = 0, vector_end = len - len % LANES;
    s_v8d total[8][2] = {{{0}}};
    while (j < vector_end) {
        size_t end = j + CHUNK < vector_end ? j + CHUNK : vector_end;
        // Named accumulators, not an array: gcc keeps an indexed array in memory, and the
        // store-to-load chain then costs three times the arithmetic.
        s_v16f s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0}, s4 = {0}, s5 = {0}, s6 = {0}, s7 = {0};
        for (; j < end; j += LANES) {
            s_v16f x = *(const s_v16f *)(a0 + j), y = *(const s_v16f *)(a1 + j);
            s_v16f c0 = *(const s_v16f *)(b0 + j), c1 = *(const s_v16f *)(b1 + j);
            s_v16f c2 = *(const s_v16f *)(b2 + j), c3 = *(const s_v16f *)(b3 + j);
            s_v16f t0 = x - c0, t1 = x - c1, t2 = x - c2, t3 = x - c3;
            s_v16f u0 = y - c0, u1 = y - c1, u2 = y - c2, u3 = y - c3;
            s0 += t0 * t0;
            s1 += t1 * t1;
            s2 += t2 * t2;
            s3 += t3 * t3;
            s4 += u0 * u0;
            s5 += u1 * u1;
            s6 += u2 * u2;
            s7 += u3 * u3;
        }
        s_fold(total[0], &s0);
        s_fold(total[1], &s1);
        s_fold(total[2], &s2);
        s_fold(total[3], &s3);
        s_fold(total[4], &s4);
        s_fold(total[5], &s5);
        s_fold(total[6], &s6);
        s_fold(total[7], &s7);
    }
    for (int k = 0; k < 4; k++) {
        out0[k] += s_finish(total[k], a0, b[k], vector_end) +
                   s_exact(a0 + vector_end, b[k] + vector_end, len - vector_end);
        out1[k] += s_finish(total[k + 4], a1, b[k], vector_end) +
                   s_exact(a1 + vector_end, b[k] + vector_end, len - vector_end);
    }
}

// out_i[k] += |a_i - b_k|^2 over len values, i, k < 4: four rows against four, so each
// loaded vector serves four pairs (0.5 loads per pair and vector instead of 0.75 for 2 x 4).
S_CONTRACT static void
s_tile16(double *const *out, const float *const *a, const float *const *b, size_t len)
{
    const float *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3];
    const float *b0 = b[0], *b1 = b[1], *b2 = b[2], *b3 = b[3];
    size_t j = 0, vector_end = len - len % LANES;
    s_v8d total[16][2] = {{{0}}};
    while (j < vector_end) {
        size_t end = j + CHUNK < vector_end ? j + CHUNK : vector_end;
        s_v16f s00 = {0}, s01 = {0}, s02 = {0}, s03 = {0}, s10 = {0}, s11 = {0}, s12 = {0},
               s13 = {0}, s20 = {0}, s21 = {0}, s22 = {0}, s23 = {0}, s30 = {0}, s31 = {0},
               s32 = {0}, s33 = {0};
        for (; j < end; j += LANES) {
            s_v16f c0 = *(const s_v16f *)(b0 + j), c1 = *(const s_v16f *)(b1 + j);
            s_v16f c2 = *(const s_v16f *)(b2 + j), c3 = *(const s_v16f *)(b3 + j);
            s_v16f x = *(const s_v16f *)(a0 + j), t;
            t = x - c0, s00 += t * t;
            t = x - c1, s01 += t * t;
            t = x - c2, s02 += t * t;
            t = x - c3, s03 += t * t;
            x = *(const s_v16f *)(a1 + j);
            t = x - c0, s10 += t * t;
            t = x - c1, s11 += t * t;
            t = x - c2, s12 += t * t;
            t = x - c3, s13 += t * t;
            x = *(const s_v16f *)(a2 + j);
            t = x - c0, s20 += t * t;
            t = x - c1, s21 += t * t;
            t = x - c2, s22 += t * t;
            t = x - c3, s23 += t * t;
            x = *(const s_v16f *)(a3 + j);
            t = x - c0, s30 += t * t;
            t = x - c1, s31 += t * t;
            t = x - c2, s32 += t * t;
            t = x - c3, s33 += t * t;
        }
        s_fold(total[0], &s00);
        s_fold(total[1], &s01);
        s_fold(total[2], &s02);
        s_fold(total[3], &s03);
        s_fold(total[4], &s10);
        s_fold(total[5], &s11);
        s_fold(total[6], &s12);
        s_fold(total[7], &s13);
        s_fold(total[8], &s20);
        s_fold(total[9], &s21);
        s_fold(total[10], &s22);
        s_fold(total[11], &s23);
        s_fold(total[12], &s30);
        s_fold(total[13], &s31);
        s_fold(total[14], &s32);
        s_fold(total[15], &s33);
    }
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 4; k++)
            out[i][k] += s_finish(total[4 * i + k], a[i], b[k], vector_end) +
                         s_exact(a[i] + vector_end, b[k] + vector_end, len - vector_end);
}

// |a - b|^2 over len values, same summation scheme as s_tile4.
S_CONTRACT static double
s_pair(const float *a, const float *b, size_t len)
{
    size_t j = 0, vector_end = len - len % LANES;
    s_v8d total[2] = {{0}};
    while (j < vector_end) {
        size_t end = j + CHUNK < vector_end ? j + CHUNK : vector_end;
        s_v16f s = {0};
        for (; j < end; j += LANES) {
            s_v16f t = *(const s_v16f *)(a + j) - *(const s_v16f *)(b + j);
            s += t * t;
        }
        s_fold(total, &s);
    }
    return s_finish(total, a, b, vector_end) +
           s_exact(a + vector_end, b + vector_end, len - vector_end);
}

// Pairs (a, b), a < b, with a in [a_first, a_last) and b in [b_first, b_last) (b > a when
// the ranges are the same), over the values [j0, j0 + len).
S_CONTRACT static void
s_group_block(double *distances, const float *const *rows, size_t n, size_t a_first, size_t a_last,
              size_t b_first, size_t b_last, size_t j0, size_t len)
{
    bool diagonal = a_first == b_first;
    size_t a = a_first;
    for (; a + 4 <= a_last; a += 4) {
        double *out[4] = {distances + a * n, distances + (a + 1) * n, distances + (a + 2) * n,
                          distances + (a + 3) * n};
        const float *x[4] = {rows[a] + j0, rows[a + 1] + j0, rows[a + 2] + j0, rows[a + 3] + j0};
        size_t b = diagonal ? a + 4 : b_first;
        if (diagonal)
            for (int p = 0; p < 3; p++)
                for (int q = p + 1; q < 4; q++)
                    out[p][a + (size_t)q] += s_pair(x[p], x[q], len);
        for (; b + 4 <= b_last; b += 4) {
            const float *quad[4] = {rows[b] + j0, rows[b + 1] + j0, rows[b + 2] + j0,
                                    rows[b + 3] + j0};
            double *at[4] = {out[0] + b, out[1] + b, out[2] + b, out[3] + b};
            s_tile16(at, x, quad, len);
        }
        for (; b < b_last; b++)
            for (int p = 0; p < 4; p++)
                out[p][b] += s_pair(x[p], rows[b] + j0, len);
    }
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
        for (; b + 4 <= b_last; b += 4) {
            const float *quad[4] = {rows[b] + j0, rows[b + 1] + j0, rows[b + 2] + j0,
                                    rows[b + 3] + j0};
            s_tile4(out + b, x, quad, len);
        }
        for (; b < b_last; b++)
            out[b] += s_pair(x, rows[b] + j0, len);
    }
}

void
byzgd_gar_distances(double *distances, double *partial, const float *const *rows, size_t n,
                    size_t d)
{
    // d is cut into BYZGD_GAR_DISTANCE_SEGMENTS = 8 segments (aligned to CHUNK), each computed
    // for all pairs into its own matrix by one thread, without any barrier: the matrix is
    // read from memory once, and a thread delayed by another process on this shared
    // machine does not stall the other at every block. The segment matrices are then
    // added in a fixed order, so the result does not depend on the thread count. Inside a
    // segment, blocks are sized so that n rows x block floats take about 1 MiB of the
    // 2 MiB L2 of a core.
    size_t segments = n <= BYZGD_GAR_SEGMENTED_MAX_N ? BYZGD_GAR_DISTANCE_SEGMENTS : 1;
    size_t segment = (d + segments - 1) / segments;
    segment = (segment + CHUNK - 1) / CHUNK * CHUNK;
    size_t block = ((size_t)1 << 20) / (sizeof(float) * n);
    block -= block % CHUNK;
    if (block < CHUNK)
        block = CHUNK;
#pragma omp parallel for schedule(dynamic, 1) if (n * d > 100000)
    for (size_t g = 0; g < segments; g++) {
        double *out = g == 0 ? distances : partial + (g - 1) * n * n;
        memset(out, 0, n * n * sizeof *out);
        size_t first = g * segment < d ? g * segment : d;
        size_t last = first + segment < d ? first + segment : d;
        for (size_t j0 = first; j0 < last; j0 += block)
            s_group_block(out, rows, n, 0, n, 0, n, j0, last - j0 < block ? last - j0 : block);
    }
    for (size_t a = 0; a < n; a++)
        for (size_t b = a + 1; b < n; b++) {
            double total = distances[a * n + b];
            for (size_t g = 1; g < segments; g++)
                total += partial[(g - 1) * n * n + a * n + b];
            distances[a * n + b] = distances[b * n + a] = total;
        }
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
        // Four rows per sweep of the block: a quarter of the loads and stores of s.
        size_t i = 0;
        for (; i + 4 <= n; i += 4) {
            const float *r0 = rows[i] + j0, *r1 = rows[i + 1] + j0, *r2 = rows[i + 2] + j0,
                        *r3 = rows[i + 3] + j0;
            double w0 = weights ? weights[i] : 1.0, w1 = weights ? weights[i + 1] : 1.0;
            double w2 = weights ? weights[i + 2] : 1.0, w3 = weights ? weights[i + 3] : 1.0;
            for (size_t l = 0; l < len; l++)
                s[l] += (w0 * (double)r0[l] + w1 * (double)r1[l]) +
                        (w2 * (double)r2[l] + w3 * (double)r3[l]);
        }
        for (; i < n; i++) {
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

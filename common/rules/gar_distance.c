/*  gar_distance.c — pairwise squared distances and weighted sums for the rules.

    Two distance kernels. The direct one sums each pair's squared differences: 8 float lanes
    per chunk of 512 values (a product and a sum per value, never fused), the chunks in
    double, an overflowing chunk recomputed in double, so huge finite rows never produce
    Inf. The Gram one, on x86-64 CPUs with AVX2 and FMA (chosen at run time, so the program
    runs on any x86-64), uses |a|^2 + |b|^2 - 2 a.b: one FMA per pair and value where the
    direct kernel needs a subtraction, a product and a sum. It works on blocks of at most
    512 values packed in L2, 4 x 3 register tiles against them, and is made as exact as
    differences: each block is centred on a central row, each pair's products are summed
    in 8 float lanes over the block and then in double, and a pair still much closer than
    its centred norms (ratio 1/16) is recomputed from its differences (byzgd_gar_distances
    says why). Blocks with values above 1e15 or non-finite ones, blocks shorter than 64
    values and the first block of each segment (which picks the central row) use the direct
    kernel. Every pair is summed the same way whichever tile computes it and whatever the
    number of threads: duplicate rows tie exactly and results are bit-identical run to run.
    (The two kernels agree to about 1e-7 relative, so a machine without AVX2 and FMA, where
    every block is direct, may differ from one with them in the last digits.) */
#include "gar_internal.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define LANES 8
#define CHUNK 512

// The direct kernels multiply and add in two steps, never fused: ISO C mode (-std=c11)
// keeps gcc from contracting them, the standard pragma keeps clang from it. Left to the
// compiler, fusion depends on its tuning (gcc avoids FMA in a loop with one accumulator
// on some CPUs, not in one with several), so s_pair and the tiles summed the same pair
// differently. Unfused, every pair's direct distance is the same in every build and on
// every machine.
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

// Keeps a loaded vector in a register: without it gcc folds each of the three partner
// loads into every subtraction that uses it, doubling the loads of s_tile9's inner loop.
#if defined(__GNUC__) && defined(__AVX__)
#define S_IN_REGISTER(v) __asm__("" : "+x"(v))
#else
#define S_IN_REGISTER(v) (void)0
#endif

typedef float s_v8f __attribute__((vector_size(32), aligned(4), may_alias));
typedef double s_v4d __attribute__((vector_size(32)));
typedef int s_v8i __attribute__((vector_size(32)));
typedef double s_v8d __attribute__((vector_size(64)));

// Adds the 8 float lanes of `sum` into the 4 + 4 double lanes of `total`.
static inline void
s_fold(s_v4d *total, s_v8f sum)
{
    s_v4d low = {sum[0], sum[1], sum[2], sum[3]}, high = {sum[4], sum[5], sum[6], sum[7]};
    total[0] += low;
    total[1] += high;
}

static inline double
s_hsum(const s_v4d *total)
{
    double result = 0;
    for (int l = 0; l < 4; l++)
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

// The double total of a pair over [0, vector_end) plus the tail, or the exact sum when the
// float chunks overflowed (the total is then +Inf; differences of finite floats never give
// NaN).
static inline double
s_finish(const s_v4d *total, const float *a, const float *b, size_t vector_end, size_t len)
{
    double result = s_hsum(total);
    if (!isfinite(result))
        result = s_exact(a, b, vector_end);
    return result + s_exact(a + vector_end, b + vector_end, len - vector_end);
}

// |a - b|^2 over len values. Every direct kernel sums a pair exactly this way (8 float lanes
// per chunk of CHUNK values, each chunk's lanes added into 8 double lanes, a product and a
// sum per value), so a pair's distance does not depend on which kernel or tile computed it.
static double
s_pair(const float *a, const float *b, size_t len)
{
    size_t j = 0, vector_end = len - len % LANES;
    s_v4d total[2] = {{0}};
    while (j < vector_end) {
        size_t end = j + CHUNK < vector_end ? j + CHUNK : vector_end;
        s_v8f s = {0};
        for (; j < end; j += LANES) {
            s_v8f t = *(const s_v8f *)(a + j) - *(const s_v8f *)(b + j), square = t * t;
            s += square;
        }
        s_fold(total, s);
    }
    return s_finish(total, a, b, vector_end, len);
}

// out[i][k] += |a_i - b_k|^2 over len values, i, k < 3: nine pairs per step from six loads.
// Nine accumulators, three partner vectors and three temporaries fit the 16 AVX registers
// (a 4 x 4 tile would spill them, and the spills cost more than the loads saved).
static void
s_tile9(double *const *out, const float *const *a, const float *const *b, size_t len)
{
    const float *a0 = a[0], *a1 = a[1], *a2 = a[2];
    const float *b0 = b[0], *b1 = b[1], *b2 = b[2];
    size_t j = 0, vector_end = len - len % LANES;
    s_v4d total[9][2] = {{{0}}};
    while (j < vector_end) {
        size_t end = j + CHUNK < vector_end ? j + CHUNK : vector_end;
        // Named accumulators, not an array: gcc keeps an indexed array in memory.
        s_v8f s00 = {0}, s01 = {0}, s02 = {0}, s10 = {0}, s11 = {0}, s12 = {0}, s20 = {0},
              s21 = {0}, s22 = {0};
        for (; j < end; j += LANES) {
            s_v8f c0 = *(const s_v8f *)(b0 + j), c1 = *(const s_v8f *)(b1 + j);
            s_v8f c2 = *(const s_v8f *)(b2 + j);
            S_IN_REGISTER(c0);
            S_IN_REGISTER(c1);
            S_IN_REGISTER(c2);
            s_v8f x = *(const s_v8f *)(a0 + j), t, square;
            t = x - c0, square = t * t, s00 += square;
            t = x - c1, square = t * t, s01 += square;
            t = x - c2, square = t * t, s02 += square;
            x = *(const s_v8f *)(a1 + j);
            t = x - c0, square = t * t, s10 += square;
            t = x - c1, square = t * t, s11 += square;
            t = x - c2, square = t * t, s12 += square;
            x = *(const s_v8f *)(a2 + j);
            t = x - c0, square = t * t, s20 += square;
            t = x - c1, square = t * t, s21 += square;
            t = x - c2, square = t * t, s22 += square;
        }
        s_fold(total[0], s00);
        s_fold(total[1], s01);
        s_fold(total[2], s02);
        s_fold(total[3], s10);
        s_fold(total[4], s11);
        s_fold(total[5], s12);
        s_fold(total[6], s20);
        s_fold(total[7], s21);
        s_fold(total[8], s22);
    }
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 3; k++)
            out[i][k] += s_finish(total[3 * i + k], a[i], b[k], vector_end, len);
}

// Pairs (a, b), a < b < n, over the values [j0, j0 + len): rows in groups of three, each
// group against every later group of three (s_tile9), the rest pair by pair.
static void
s_group_block(double *distances, const float *const *rows, size_t n, size_t j0, size_t len)
{
    size_t a = 0;
    for (; a + 3 <= n; a += 3) {
        double *out[3] = {distances + a * n, distances + (a + 1) * n, distances + (a + 2) * n};
        const float *x[3] = {rows[a] + j0, rows[a + 1] + j0, rows[a + 2] + j0};
        out[0][a + 1] += s_pair(x[0], x[1], len);
        out[0][a + 2] += s_pair(x[0], x[2], len);
        out[1][a + 2] += s_pair(x[1], x[2], len);
        size_t b = a + 3;
        for (; b + 3 <= n; b += 3) {
            const float *y[3] = {rows[b] + j0, rows[b + 1] + j0, rows[b + 2] + j0};
            double *at[3] = {out[0] + b, out[1] + b, out[2] + b};
            s_tile9(at, x, y, len);
        }
        for (; b < n; b++)
            for (int p = 0; p < 3; p++)
                out[p][b] += s_pair(x[p], rows[b] + j0, len);
    }
    for (; a < n; a++)
        for (size_t b = a + 1; b < n; b++)
            distances[a * n + b] += s_pair(rows[a] + j0, rows[b] + j0, len);
}

// out[k] = |a - b_k|^2 over len values, k < 4: four pairs per load of a, each summed
// exactly as s_pair sums it.
static void
s_row4(double *out, const float *a, const float *const *b, size_t len)
{
    const float *b0 = b[0], *b1 = b[1], *b2 = b[2], *b3 = b[3];
    size_t j = 0, vector_end = len - len % LANES;
    s_v4d total[4][2] = {{{0}}};
    while (j < vector_end) {
        size_t end = j + CHUNK < vector_end ? j + CHUNK : vector_end;
        s_v8f s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
        for (; j < end; j += LANES) {
            s_v8f x = *(const s_v8f *)(a + j), t, square;
            t = x - *(const s_v8f *)(b0 + j), square = t * t, s0 += square;
            t = x - *(const s_v8f *)(b1 + j), square = t * t, s1 += square;
            t = x - *(const s_v8f *)(b2 + j), square = t * t, s2 += square;
            t = x - *(const s_v8f *)(b3 + j), square = t * t, s3 += square;
        }
        s_fold(total[0], s0);
        s_fold(total[1], s1);
        s_fold(total[2], s2);
        s_fold(total[3], s3);
    }
    for (int k = 0; k < 4; k++)
        out[k] = s_finish(total[k], a, b[k], vector_end, len);
}

void
byzgd_gar_distances_to_rows(double *out, const float *row, const float *const *others, size_t count,
                            size_t d)
{
    size_t groups = count / 4;
#pragma omp parallel for schedule(dynamic, 1) if (count * d > 100000)
    for (size_t g = 0; g <= groups; g++) {
        if (g < groups)
            s_row4(out + 4 * g, row, others + 4 * g, d);
        else
            for (size_t k = 4 * groups; k < count; k++)
                out[k] = s_pair(row, others[k], d);
    }
}

// ---- Gram kernels: |a - b|^2 = |a|^2 + |b|^2 - 2 a.b, one FMA per pair and value, on
// x86-64 CPUs with AVX2 and FMA (chosen at run time, whatever -march the program was built
// with; elsewhere every block uses the direct kernels).

// Centred values above this go to the direct kernel: the float chunk sums of their squares
// could overflow (and NaN or Inf rows, whose distances must stay non-finite, land there).
#define S_GRAM_LIMIT 1e15f
// A pair whose Gram distance is below this fraction of its two centred squared norms is
// recomputed directly from its differences (see byzgd_gar_distances).
#define S_RECOMPUTE_RATIO (1.0 / 16)
// Blocks shorter than this use the direct kernel.
#define S_GRAM_MIN_LENGTH 64
// A tile: 4 rows a, a + 1, ... against 3 rows b, b + 1, ..., 12 pairs.
#define S_TILE_ROWS    4
#define S_TILE_COLUMNS 3
#define S_TILE_PAIRS   (S_TILE_ROWS * S_TILE_COLUMNS)
// Zero rows packed after the n rows, so that the last tiles need no edge case.
#define S_PAD_ROWS 3

// Tiles of s_gram_tiles for n rows: row groups a = 0, 4, 8, ... against column groups
// b = a, a + 3, ... (< n).
static size_t
s_tile_count(size_t n)
{
    size_t count = 0;
    for (size_t a = 0; a < n; a += S_TILE_ROWS)
        count += (n - a + S_TILE_COLUMNS - 1) / S_TILE_COLUMNS;
    return count;
}

// Columns per block for n rows: the packed n x block floats take at most 256 KiB (half the
// L2 of a core), at most 512 (each float lane sums at most 64 products).
static size_t
s_gram_block_length(size_t n)
{
    size_t block = ((size_t)1 << 16) / n;
    block = block > 512 ? 512 : block - block % LANES;
    return block < LANES ? LANES : block;
}

// Floats of a pack: n + S_PAD_ROWS rows of at most a block each (a bound that does not fall
// as n grows, so scratch sized for n serves every smaller n).
static size_t
s_pack_floats(size_t n)
{
    size_t bound = ((size_t)1 << 16) + S_PAD_ROWS * 512, large = (n + S_PAD_ROWS) * LANES;
    return large > bound ? large : bound;
}

// Doubles of one segment's workspace: its tiles, n norms and a pack (32-byte aligned).
static size_t
s_segment_doubles(size_t n)
{
    return S_TILE_PAIRS * s_tile_count(n) + n + (s_pack_floats(n) + 1) / 2 + 4;
}

size_t
byzgd_gar_distance_scratch(size_t n)
{
    size_t segments = n <= BYZGD_GAR_SEGMENTED_MAX_N ? BYZGD_GAR_DISTANCE_SEGMENTS : 1;
    // (segments - 1) partial matrices (the first segment adds into the result).
    return (segments - 1) * n * n + segments * s_segment_doubles(n);
}

// The k-th smallest of values[0 .. count) (k < count, no NaN), reordering them: quickselect
// with Hoare's partition around the middle element.
static double
s_select(double *values, size_t count, size_t k)
{
    ptrdiff_t low = 0, high = (ptrdiff_t)count - 1, target = (ptrdiff_t)k;
    while (low < high) {
        double pivot = values[low + (high - low) / 2];
        ptrdiff_t i = low - 1, j = high + 1;
        for (;;) {
            do
                i++;
            while (values[i] < pivot);
            do
                j--;
            while (values[j] > pivot);
            if (i >= j)
                break;
            double swap = values[i];
            values[i] = values[j];
            values[j] = swap;
        }
        if (target <= j)
            high = j;
        else
            low = j + 1;
    }
    return values[target];
}

// The row whose (n / 2)-th nearest row is nearest, by the distances in the upper triangle
// of `distances` (NaN counts as +Inf; ties go to the smaller index): a row inside the
// majority of the rows, wherever outliers lie. `scratch` holds n doubles.
static size_t
s_central_row(const double *distances, double *scratch, size_t n)
{
    size_t best = 0;
    double best_score = INFINITY;
    for (size_t a = 0; n > 1 && a < n; a++) {
        size_t count = 0;
        for (size_t b = 0; b < n; b++)
            if (b != a) {
                double value = distances[a < b ? a * n + b : b * n + a];
                scratch[count++] = isnan(value) ? INFINITY : value;
            }
        double score = s_select(scratch, count, (n - 1) / 2);
        if (score < best_score) {
            best_score = score;
            best = a;
        }
    }
    return best;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define S_HAVE_GRAM   1
#define S_GRAM_INLINE static inline __attribute__((always_inline, target("avx2,fma")))

// Keeps a loaded vector in a register: otherwise the compiler folds the load into each of
// the three FMAs that use it, and s_gram_tile's loop waits on the load ports (15 loads for
// 12 FMAs instead of 7).
#define S_KEEP(v) __asm__("" : "+x"(v))

// tile[p] += the sum of the 8 float lanes of s_p, p < 4, in double:
// ((l0 + l4) + (l1 + l5)) + ((l2 + l6) + (l3 + l7)), four sums at once.
S_GRAM_INLINE void
s_add_lanes4(double *tile, __m256 s0, __m256 s1, __m256 s2, __m256 s3)
{
#define S_WIDEN(s)                                                                                 \
    _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(s)),                                      \
                  _mm256_cvtps_pd(_mm256_extractf128_ps(s, 1)))
    __m256d h01 = _mm256_hadd_pd(S_WIDEN(s0), S_WIDEN(s1));
    __m256d h23 = _mm256_hadd_pd(S_WIDEN(s2), S_WIDEN(s3));
#undef S_WIDEN
    __m256d sums = _mm256_add_pd(_mm256_permute2f128_pd(h01, h23, 0x20),
                                 _mm256_permute2f128_pd(h01, h23, 0x31));
    _mm256_storeu_pd(tile, _mm256_add_pd(_mm256_loadu_pd(tile), sums));
}

// tile[4 k + i] += a_i.b_k over `stride` values (a multiple of 8, at most 512), i < 4, k < 3,
// rows `stride` floats apart. Every pair is summed the same way, whichever tile holds it:
// 8 float lanes (at most 64 products each, one FMA per value), the lanes added in double by
// s_add_lanes4. Twelve accumulators, three b vectors and one a vector fill the 16 AVX
// registers; per 8 values 7 loads feed 12 FMAs, so the FMA units bound the loop.
S_GRAM_INLINE void
s_gram_tile(double *tile, const float *a0, const float *b0, size_t stride)
{
    const float *a1 = a0 + stride, *a2 = a1 + stride, *a3 = a2 + stride;
    const float *b1 = b0 + stride, *b2 = b1 + stride;
    __m256 s00 = _mm256_setzero_ps(), s01 = s00, s02 = s00, s10 = s00, s11 = s00, s12 = s00;
    __m256 s20 = s00, s21 = s00, s22 = s00, s30 = s00, s31 = s00, s32 = s00;
    for (size_t j = 0; j < stride; j += LANES) {
        __m256 c0 = _mm256_loadu_ps(b0 + j), c1 = _mm256_loadu_ps(b1 + j);
        __m256 c2 = _mm256_loadu_ps(b2 + j), x = _mm256_loadu_ps(a0 + j);
        S_KEEP(c0);
        S_KEEP(c1);
        S_KEEP(c2);
        S_KEEP(x);
        s00 = _mm256_fmadd_ps(x, c0, s00);
        s01 = _mm256_fmadd_ps(x, c1, s01);
        s02 = _mm256_fmadd_ps(x, c2, s02);
        x = _mm256_loadu_ps(a1 + j);
        S_KEEP(x);
        s10 = _mm256_fmadd_ps(x, c0, s10);
        s11 = _mm256_fmadd_ps(x, c1, s11);
        s12 = _mm256_fmadd_ps(x, c2, s12);
        x = _mm256_loadu_ps(a2 + j);
        S_KEEP(x);
        s20 = _mm256_fmadd_ps(x, c0, s20);
        s21 = _mm256_fmadd_ps(x, c1, s21);
        s22 = _mm256_fmadd_ps(x, c2, s22);
        x = _mm256_loadu_ps(a3 + j);
        S_KEEP(x);
        s30 = _mm256_fmadd_ps(x, c0, s30);
        s31 = _mm256_fmadd_ps(x, c1, s31);
        s32 = _mm256_fmadd_ps(x, c2, s32);
    }
    s_add_lanes4(tile, s00, s10, s20, s30);
    s_add_lanes4(tile + 4, s01, s11, s21, s31);
    s_add_lanes4(tile + 8, s02, s12, s22, s32);
}

// The next block's rows, fetched a few lines per tile so that the memory works while the
// tiles compute (a burst of all the lines at once stalls on the cache's miss buffers).
typedef struct {
    const float *const *rows;
    size_t n, row, offset, start, end, per_tile;
} s_prefetch_t;

S_GRAM_INLINE void
s_prefetch_some(s_prefetch_t *next)
{
    for (size_t k = 0; k < next->per_tile && next->row < next->n; k++) {
        _mm_prefetch((const char *)(next->rows[next->row] + next->offset), _MM_HINT_T0);
        next->offset += 64 / sizeof(float);
        if (next->offset >= next->end) {
            next->offset = next->start;
            next->row++;
        }
    }
}

// Every tile of a packed block (rows `stride` floats apart) in s_tile_count's order, the
// tiles one after the other in `tiles`. The four rows of a group stay in L1 while the
// column groups stream from L2.
S_GRAM_INLINE void
s_gram_tiles(double *tiles, const float *pack, size_t n, size_t stride, s_prefetch_t *next)
{
    for (size_t a = 0; a < n; a += S_TILE_ROWS)
        for (size_t b = a; b < n; b += S_TILE_COLUMNS, tiles += S_TILE_PAIRS) {
            s_prefetch_some(next);
            s_gram_tile(tiles, pack + a * stride, pack + b * stride, stride);
        }
}

// Adds the block [j0, j0 + len) of every pair: its rows are packed minus the centre row
// (distances do not change under a translation, and a central centre keeps |a|^2 + |b|^2
// close to |a - b|^2) and every tile's products added to `tiles`; a short block, or one
// with huge or non-finite values, adds its direct distances to `out` instead. `next_len`
// values of the next block are fetched meanwhile.
S_GRAM_INLINE void
s_gram_block(double *out, double *tiles, float *pack, const float *const *rows, size_t n,
             size_t centre_row, size_t j0, size_t len, size_t next_len, size_t tile_count)
{
    // Short blocks (small d, or the last block of a segment) gain nothing from the Gram
    // form, and the direct kernel keeps small exact cases (integers) exact.
    if (len < S_GRAM_MIN_LENGTH) {
        s_group_block(out, rows, n, j0, len);
        return;
    }
    size_t stride = (len + LANES - 1) / LANES * LANES, vector_end = len - len % LANES;
    const float *centre = rows[centre_row] + j0;
    // Pack, and flag values above the limit, Inf and NaN: their magnitude bits compare
    // above the limit's as integers. The columns [len, stride) and the rows after the n-th
    // are zero: they add nothing to any sum.
    const __m256i magnitude = _mm256_set1_epi32(0x7fffffff);
    const __m256i limit = _mm256_castps_si256(_mm256_set1_ps(S_GRAM_LIMIT));
    __m256i too_large = _mm256_setzero_si256();
    bool tail_too_large = false;
    for (size_t i = 0; i < n; i++) {
        const float *row = rows[i] + j0;
        float *packed = pack + i * stride;
        size_t j = 0;
        for (; j < vector_end; j += LANES) {
            __m256 value = _mm256_sub_ps(_mm256_loadu_ps(row + j), _mm256_loadu_ps(centre + j));
            _mm256_store_ps(packed + j, value);
            __m256i bits = _mm256_and_si256(_mm256_castps_si256(value), magnitude);
            too_large = _mm256_or_si256(too_large, _mm256_cmpgt_epi32(bits, limit));
        }
        for (; j < len; j++) {
            packed[j] = row[j] - centre[j];
            tail_too_large |= !(fabsf(packed[j]) <= S_GRAM_LIMIT);
        }
        for (; j < stride; j++)
            packed[j] = 0;
    }
    memset(pack + n * stride, 0, S_PAD_ROWS * stride * sizeof *pack);
    if (tail_too_large || !_mm256_testz_si256(too_large, too_large)) {
        s_group_block(out, rows, n, j0, len);
        return;
    }
    size_t lines = (next_len + 15) / 16;
    s_prefetch_t next = {rows,
                         n,
                         0,
                         j0 + len,
                         j0 + len,
                         j0 + len + next_len,
                         (n * lines + tile_count - 1) / tile_count};
    s_gram_tiles(tiles, pack, n, stride, &next);
}

// One segment, the values [first, last), block after block: the first with the direct
// kernel, which picks the centre row (s_central_row) for the others. `scratch` holds n
// doubles.
__attribute__((target("avx2,fma"))) static void
s_gram_segment(double *out, double *tiles, float *pack, double *scratch, const float *const *rows,
               size_t n, size_t first, size_t last, size_t block, size_t tile_count)
{
    size_t len = last - first < block ? last - first : block;
    if (len == 0)
        return;
    s_group_block(out, rows, n, first, len);
    size_t centre_row = first + len < last ? s_central_row(out, scratch, n) : 0;
    for (size_t j0 = first + len; j0 < last; j0 += block) {
        size_t next = j0 + (len = last - j0 < block ? last - j0 : block);
        s_gram_block(out, tiles, pack, rows, n, centre_row, j0, len,
                     last - next < block ? last - next : block, tile_count);
    }
}
#endif

// True if this CPU runs the Gram kernels. (FMA rounds each product once, the direct
// kernels twice: distances are bit-identical run to run on one machine, and agree across
// machines to about 1e-7 relative.)
static bool
s_gram_available(void)
{
#ifdef S_HAVE_GRAM
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return false;
#endif
}

// Sets norms[r] to the centred squared norms the tiles hold and adds each pair's distance
// norms[a] + norms[b] - 2 a.b to out (pairs a < b).
static void
s_gram_unpack(double *out, double *norms, const double *tiles, size_t n)
{
    const double *tile = tiles;
    for (size_t a = 0; a < n; a += S_TILE_ROWS)
        for (size_t b = a; b < n; b += S_TILE_COLUMNS, tile += S_TILE_PAIRS)
            for (size_t i = 0; i < S_TILE_ROWS; i++)
                if (a + i >= b && a + i < b + S_TILE_COLUMNS && a + i < n)
                    norms[a + i] = tile[S_TILE_ROWS * (a + i - b) + i];
    tile = tiles;
    for (size_t a = 0; a < n; a += S_TILE_ROWS)
        for (size_t b = a; b < n; b += S_TILE_COLUMNS, tile += S_TILE_PAIRS)
            for (size_t k = 0; k < S_TILE_COLUMNS; k++)
                for (size_t i = 0; i < S_TILE_ROWS; i++) {
                    size_t r = a + i, c = b + k;
                    if (r < c && c < n)
                        out[r * n + c] += norms[r] + norms[c] - 2 * tile[S_TILE_ROWS * k + i];
                }
}

// The flagged pairs a < b of the lower triangle (distances[b * n + a] != 0) as lists in
// place: row b's partners a at distances[b * n + q], q < their count at distances[b * n + b].
static void
s_list_partners(double *distances, size_t n)
{
    for (size_t b = 0; b < n; b++) {
        size_t count = 0;
        for (size_t a = 0; a < b; a++)
            if (distances[b * n + a] != 0)
                distances[b * n + count++] = (double)a;
        distances[b * n + b] = (double)count;
    }
}

// Adds to out[a * n + b] the distance over [first, last) of every listed pair (a, b) with b
// in [b_first, b_last), block after block so that the block's rows stay in L2; each pair
// is summed the same way (s_row4 and s_pair agree), its blocks' totals added in double.
static void
s_recompute_rows(double *out, const double *lists, const float *const *rows, size_t n,
                 size_t b_first, size_t b_last, size_t first, size_t last, size_t block)
{
    for (size_t j0 = first; j0 < last; j0 += block) {
        size_t len = last - j0 < block ? last - j0 : block;
        for (size_t b = b_first; b < b_last; b++) {
            const double *partner = lists + b * n;
            size_t count = (size_t)partner[b], q = 0;
            const float *row = rows[b] + j0, *others[4];
            for (; q + 4 <= count; q += 4) {
                double part[4];
                for (size_t k = 0; k < 4; k++)
                    others[k] = rows[(size_t)partner[q + k]] + j0;
                s_row4(part, row, others, len);
                for (size_t k = 0; k < 4; k++)
                    out[(size_t)partner[q + k] * n + b] += part[k];
            }
            for (; q < count; q++)
                out[(size_t)partner[q] * n + b] += s_pair(row, rows[(size_t)partner[q]] + j0, len);
        }
    }
}

// Recomputes the flagged pairs' distances (flags in the lower triangle of `distances`) from
// their differences, over the same segments and blocks as the Gram pass: a few close pairs
// or all of them, the work stays blocked in cache and spread over the threads. With one
// segment (large n) the rows are split into chunks of equal pair counts instead. Leaves
// the lower triangle and the diagonal to the caller.
static void
s_recompute(double *distances, double *partial, const float *const *rows, size_t n, size_t d,
            size_t segments, size_t segment, size_t block)
{
    s_list_partners(distances, n);
    for (size_t b = 0; b < n; b++)
        for (size_t q = 0; q < (size_t)distances[b * n + b]; q++)
            distances[(size_t)distances[b * n + q] * n + b] = 0;
    size_t chunks = segments == 1 ? 8 : 1;
#pragma omp parallel for schedule(dynamic, 1) if (n * d > 100000)
    for (size_t unit = 0; unit < segments * chunks; unit++) {
        size_t g = unit / chunks, c = unit % chunks;
        double *out = g == 0 ? distances : partial + (g - 1) * n * n;
        if (g > 0)
            memset(out, 0, n * n * sizeof *out);
        size_t first = g * segment < d ? g * segment : d;
        size_t last = first + segment < d ? first + segment : d;
        size_t b_first = (size_t)((double)n * sqrt((double)c / (double)chunks));
        size_t b_last =
            c + 1 == chunks ? n : (size_t)((double)n * sqrt((double)(c + 1) / (double)chunks));
        s_recompute_rows(out, distances, rows, n, b_first, b_last, first, last, block);
    }
    for (size_t b = 0; b < n; b++)
        for (size_t q = 0; q < (size_t)distances[b * n + b]; q++)
            for (size_t g = 1; g < segments; g++) {
                size_t a = (size_t)distances[b * n + q];
                distances[a * n + b] += partial[(g - 1) * n * n + a * n + b];
            }
}

void
byzgd_gar_distances(double *distances, double *scratch, const float *const *rows, size_t n,
                    size_t d)
{
    // Cancellation. The Gram identity loses the digits |a|^2 + |b|^2 has above |a - b|^2:
    // on near-identical float rows it gives percent-level errors. Three things keep the
    // distances as exact as differences would: (1) each block is centred on a central row
    // (s_central_row: the row whose (n/2)-th nearest row is nearest, over its segment's
    // first block), so |a|^2 + |b|^2 is the rows' spread, not their common offset; a row
    // inside the majority, not the column mean, which a few far rows (a Gaussian attack)
    // drag away from all the others; (2) each pair's products are summed in float over at
    // most 64 values per lane, then in double; (3) a pair whose distance is still below
    // 1/16 of its two centred squared norms (two rows much closer to each other than to
    // the centre, duplicates for instance) is recomputed from its differences
    // (s_recompute), so its relative error stays about 1e-7 like every other pair's (at
    // most 16 times the Gram sums' own ~1e-7). Blocks with huge or non-finite values use
    // the direct kernel throughout.
    //
    // d is cut into BYZGD_GAR_DISTANCE_SEGMENTS = 8 segments, each computed for all pairs
    // into its own matrix by one thread, without any barrier (a thread delayed by another
    // process on this shared machine does not stall the other at every block). Within a
    // segment the tiles add up each pair's products block after block in double; the
    // distances come from them once, at the segment's end. The segment matrices are added
    // in a fixed order, so the result does not depend on the thread count.
    size_t segments = n <= BYZGD_GAR_SEGMENTED_MAX_N ? BYZGD_GAR_DISTANCE_SEGMENTS : 1;
    size_t segment = (d + segments - 1) / segments;
    segment = (segment + CHUNK - 1) / CHUNK * CHUNK;
    size_t block = s_gram_block_length(n), tile_count = s_tile_count(n);
    size_t own_size = s_segment_doubles(n);
    double *partial = scratch, *own = scratch + (segments - 1) * n * n;
    bool gram = s_gram_available() && block >= S_GRAM_MIN_LENGTH;
#pragma omp parallel for schedule(dynamic, 1) if (n * d > 100000)
    for (size_t g = 0; g < segments; g++) {
        double *out = g == 0 ? distances : partial + (g - 1) * n * n;
        double *tiles = own + g * own_size, *norms = tiles + S_TILE_PAIRS * tile_count;
        float *pack = (float *)(void *)(((uintptr_t)(norms + n) + 31) & ~(uintptr_t)31);
        memset(out, 0, n * n * sizeof *out);
        if (gram)
            memset(tiles, 0, S_TILE_PAIRS * tile_count * sizeof *tiles);
        size_t first = g * segment < d ? g * segment : d;
        size_t last = first + segment < d ? first + segment : d;
#ifdef S_HAVE_GRAM
        if (gram) {
            s_gram_segment(out, tiles, pack, norms, rows, n, first, last, block, tile_count);
            s_gram_unpack(out, norms, tiles, n);
            continue;
        }
#endif
        for (size_t j0 = first; j0 < last; j0 += block)
            s_group_block(out, rows, n, j0, last - j0 < block ? last - j0 : block);
        memset(norms, 0, n * sizeof *norms);
    }
    double *norms = own + S_TILE_PAIRS * tile_count;
    for (size_t g = 1; g < segments; g++)
        for (size_t a = 0; a < n; a++)
            norms[a] += own[g * own_size + S_TILE_PAIRS * tile_count + a];
    for (size_t a = 0; a < n; a++)
        for (size_t b = a + 1; b < n; b++) {
            double total = distances[a * n + b];
            for (size_t g = 1; g < segments; g++)
                total += partial[(g - 1) * n * n + a * n + b];
            distances[a * n + b] = total;
        }
    // Recompute the close pairs (their list reuses the lower triangle as flags).
    size_t close = 0;
    for (size_t a = 0; a < n; a++) {
        distances[a * n + a] = 0;
        for (size_t b = a + 1; b < n; b++) {
            bool flag = distances[a * n + b] < S_RECOMPUTE_RATIO * (norms[a] + norms[b]);
            distances[b * n + a] = flag;
            close += flag;
        }
    }
    if (close)
        s_recompute(distances, partial, rows, n, d, segments, segment, block);
    for (size_t a = 0; a < n; a++) {
        distances[a * n + a] = 0;
        for (size_t b = a + 1; b < n; b++)
            distances[b * n + a] = distances[a * n + b];
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

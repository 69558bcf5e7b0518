/*  gar_coordinate.c — coordinate-wise median, trimmed mean and "closest to the median"
    means (Meamed, Bulyan's second stage).

    Coordinates are processed in blocks of WIDTH: the n rows' values of a block are copied
    into a small tile (row i's WIDTH values contiguous), and a sorting network (Batcher's
    odd-even merge sort, comparators outside n dropped, which is exact because padding
    positions would hold +Inf) sorts all WIDTH columns at once with vector min/max. For the
    median only the comparators that feed the middle positions are kept. Blocks are spread
    over threads; each block's result depends only on its values, so the output is
    bit-identical whatever the thread count. Above TILE_MAX_N rows a per-coordinate sort
    is used instead. */
#include "gar_internal.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define WIDTH      32
#define TILE_MAX_N 256

// Calls emit(a, b) for each comparator of Batcher's odd-even merge sort on n inputs.
// Returns the number of comparators (written to `pairs` when non-NULL).
static size_t
s_network(uint16_t *pairs, size_t n)
{
    size_t size = 1, count = 0;
    while (size < n)
        size <<= 1;
    for (size_t p = 1; p < size; p <<= 1)
        for (size_t k = p; k >= 1; k >>= 1) {
            for (size_t j = k % p; j + k < size; j += 2 * k)
                for (size_t i = 0; i < k && i + j + k < size; i++) {
                    size_t a = i + j, b = i + j + k;
                    if (a / (2 * p) != b / (2 * p) || b >= n)
                        continue;
                    if (pairs) {
                        pairs[2 * count] = (uint16_t)a;
                        pairs[2 * count + 1] = (uint16_t)b;
                    }
                    count++;
                }
            if (k == 1)
                break;
        }
    return count;
}

// Keeps only the comparators whose outputs reach a needed position (needed[] is updated
// in place, scanning backwards). Returns the new count; order is preserved.
static size_t
s_prune(uint16_t *pairs, size_t count, unsigned char *needed)
{
    size_t kept = 0;
    for (size_t c = count; c-- > 0;) {
        uint16_t a = pairs[2 * c], b = pairs[2 * c + 1];
        if (!needed[a] && !needed[b])
            continue;
        needed[a] = needed[b] = 1;
        kept++;
        // Compact towards the end so the surviving order is kept.
        pairs[2 * (count - kept)] = a;
        pairs[2 * (count - kept) + 1] = b;
    }
    if (kept)
        memmove(pairs, pairs + 2 * (count - kept), 2 * kept * sizeof *pairs);
    return kept;
}

static inline void
s_compare_swap(float *restrict low, float *restrict high)
{
    for (int l = 0; l < WIDTH; l++) {
        float x = low[l], y = high[l];
        low[l] = x < y ? x : y;
        high[l] = x < y ? y : x;
    }
}

// The median of sorted values (even count: mean of the two middle ones, in double).
static double
s_sorted_median(const float *sorted, size_t stride, size_t n)
{
    if (n % 2)
        return sorted[(n / 2) * stride];
    return ((double)sorted[(n / 2 - 1) * stride] + (double)sorted[(n / 2) * stride]) / 2;
}

// One coordinate's result from its sorted values sorted[i * stride], i < n. For the
// closest-to-median mean, `rows` and `column` give the unsorted values, used only to break
// ties by row index.
static float
s_reduce_sorted(const float *sorted, size_t stride, const float *const *rows, size_t column,
                byzgd_gar_coord_t mode, size_t k, size_t n)
{
    if (mode == BYZGD_GAR_COORD_MEDIAN)
        return (float)s_sorted_median(sorted, stride, n);
    size_t first, last; // the values averaged are sorted[first .. last)
    if (mode == BYZGD_GAR_COORD_TRIMMED) {
        first = k;
        last = n - k;
    } else {
        // The k values closest to the median form a window of the sorted values; grow it
        // from the middle, taking the nearer side. When the two sides are equally near and
        // not all of the tied values fit, the rows with the smallest indices are taken.
        double median = s_sorted_median(sorted, stride, n);
        size_t left = n / 2; // window [left, right), starting empty or at the middle value
        size_t right = n % 2 && k > 0 ? left + 1 : left;
        while (right - left < k) {
            if (right >= n) {
                left--;
                continue;
            }
            if (left == 0) {
                right++;
                continue;
            }
            float low = sorted[(left - 1) * stride], high = sorted[right * stride];
            double below = median - (double)low, above = (double)high - median;
            if (below < above || low == high) {
                left--;
                continue;
            }
            if (above < below) {
                right++;
                continue;
            }
            size_t low_count = 0, high_count = 0, wanted = k - (right - left);
            while (left - low_count > 0 && sorted[(left - low_count - 1) * stride] == low)
                low_count++;
            while (right + high_count < n && sorted[(right + high_count) * stride] == high)
                high_count++;
            if (wanted >= low_count + high_count) {
                left -= low_count;
                right += high_count;
                continue;
            }
            size_t taken_low = 0, taken_high = 0;
            for (size_t i = 0; i < n && taken_low + taken_high < wanted; i++) {
                float value = rows[i][column];
                taken_low += value == low;
                taken_high += value == high;
            }
            left -= taken_low;
            right += taken_high;
        }
        first = left;
        last = right;
    }
    double total = 0;
    for (size_t i = first; i < last; i++)
        total += sorted[i * stride];
    return (float)(total / (double)(last - first));
}

// The k-closest-to-median means of one tile of sorted columns. The k values nearest the
// median are the window of sorted values of least radius (largest distance inside); the
// f + 1 candidate windows are scanned for all WIDTH columns at once. A column where two
// windows share the least radius has tied distances, and goes to s_reduce_sorted(),
// which breaks ties by row index.
static void
s_closest_block(float *out, const float *tile, const float *const *rows, size_t j0, size_t width,
                size_t k, size_t n)
{
    double median[WIDTH], best[WIDTH];
    size_t start[WIDTH] = {0};
    unsigned char tie[WIDTH] = {0};
    const float *low = tile + (n / 2 - (n % 2 ? 0 : 1)) * WIDTH, *high = tile + (n / 2) * WIDTH;
    for (size_t l = 0; l < WIDTH; l++) {
        median[l] = ((double)low[l] + (double)high[l]) / 2;
        best[l] = INFINITY;
    }
    for (size_t s = 0; s + k <= n; s++) {
        const float *first = tile + s * WIDTH, *last = tile + (s + k - 1) * WIDTH;
        for (size_t l = 0; l < WIDTH; l++) {
            double below = median[l] - (double)first[l], above = (double)last[l] - median[l];
            double radius = below > above ? below : above;
            tie[l] = radius == best[l] ? 1 : radius < best[l] ? 0 : tie[l];
            start[l] = radius < best[l] ? s : start[l];
            best[l] = radius < best[l] ? radius : best[l];
        }
    }
    for (size_t l = 0; l < width; l++) {
        if (tie[l]) {
            out[l] = s_reduce_sorted(tile + l, WIDTH, rows, j0 + l, BYZGD_GAR_COORD_CLOSEST, k, n);
            continue;
        }
        double total = 0;
        for (size_t i = start[l]; i < start[l] + k; i++)
            total += tile[i * WIDTH + l];
        out[l] = (float)(total / (double)k);
    }
}

static int
s_compare_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

// Fallback for large n: sort each coordinate's column.
static void
s_coordinate_sort(float *out, const float *const *rows, byzgd_gar_coord_t mode, size_t k, size_t n,
                  size_t d)
{
#pragma omp parallel
    {
        float *column = malloc(n * sizeof *column);
        if (!column)
            abort();
#pragma omp for schedule(static)
        for (size_t j = 0; j < d; j++) {
            for (size_t i = 0; i < n; i++)
                column[i] = rows[i][j];
            qsort(column, n, sizeof *column, s_compare_float);
            out[j] = s_reduce_sorted(column, 1, rows, j, mode, k, n);
        }
        free(column);
    }
}

void
byzgd_gar_coordinate(float *out, byzgd_gar_workspace_t *ws, const float *const *rows,
                     byzgd_gar_coord_t mode, size_t k, size_t n, size_t d)
{
    assert(n >= 1);
    if (n > TILE_MAX_N) {
        s_coordinate_sort(out, rows, mode, k, n, d);
        return;
    }
    size_t count = s_network(NULL, n);
    if (count > ws->network_capacity) {
        free(ws->network);
        ws->network = malloc(2 * count * sizeof *ws->network);
        if (!ws->network)
            abort();
        ws->network_capacity = count;
    }
    uint16_t *pairs = ws->network;
    s_network(pairs, n);
    unsigned char needed[TILE_MAX_N] = {0};
    if (mode == BYZGD_GAR_COORD_MEDIAN) {
        needed[n / 2] = 1;
        if (n % 2 == 0)
            needed[n / 2 - 1] = 1;
    } else if (mode == BYZGD_GAR_COORD_TRIMMED) {
        for (size_t i = k; i < n - k; i++)
            needed[i] = 1;
    } else {
        memset(needed, 1, n);
    }
    count = s_prune(pairs, count, needed);

    // Dynamic chunks of 256 blocks: a thread slowed by another process does not hold
    // back the end of the loop; each block's result is independent of the schedule.
    size_t block_count = (d + WIDTH - 1) / WIDTH;
#pragma omp parallel for schedule(dynamic, 256) if (n * d > 100000)
    for (size_t block = 0; block < block_count; block++) {
        float tile[TILE_MAX_N * WIDTH];
        size_t j0 = block * WIDTH;
        size_t width = d - j0 < WIDTH ? d - j0 : WIDTH;
        for (size_t i = 0; i < n; i++) {
            memcpy(tile + i * WIDTH, rows[i] + j0, width * sizeof(float));
            if (width < WIDTH)
                memset(tile + i * WIDTH + width, 0, (WIDTH - width) * sizeof(float));
        }
        for (size_t c = 0; c < count; c++)
            s_compare_swap(tile + pairs[2 * c] * WIDTH, tile + pairs[2 * c + 1] * WIDTH);
        if (mode == BYZGD_GAR_COORD_MEDIAN && n % 2) {
            memcpy(out + j0, tile + (n / 2) * WIDTH, width * sizeof(float));
        } else if (mode == BYZGD_GAR_COORD_MEDIAN) {
            const float *low = tile + (n / 2 - 1) * WIDTH, *high = tile + (n / 2) * WIDTH;
            for (size_t l = 0; l < width; l++)
                out[j0 + l] = (float)(((double)low[l] + (double)high[l]) / 2);
        } else if (mode == BYZGD_GAR_COORD_TRIMMED) {
            double total[WIDTH] = {0};
            for (size_t i = k; i < n - k; i++)
                for (size_t l = 0; l < WIDTH; l++)
                    total[l] += tile[i * WIDTH + l];
            for (size_t l = 0; l < width; l++)
                out[j0 + l] = (float)(total[l] / (double)(n - 2 * k));
        } else {
            s_closest_block(out + j0, tile, rows, j0, width, k, n);
        }
    }
}

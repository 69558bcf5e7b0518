/*  test_gar.c — the aggregation rules: hand-computed golden vectors, properties, every
    precondition error, random inputs against slow double-precision references written
    here (per-pair loops, full sorts, exhaustive subsets), non-finite rows for every rule,
    numerics, determinism and the pre-aggregators. */
#include "rules/gar.h"
#include "rules/gar_options.h"
#include "support/rng.h"
#include "test.h"

#include <float.h>
#include <omp.h>
#include <stdbool.h>
#include <stdint.h>

#define MAX_N 64

static byzgd_gar_config_t
s_config(const char *rule, size_t f)
{
    byzgd_gar_config_t config;
    byzgd_gar_config_init(&config);
    char error[256], value[32];
    ASSERT_MSG(byzgd_gar_config_parse_option(&config, "rule", rule, error, sizeof error) == 0, "%s",
               error);
    snprintf(value, sizeof value, "%zu", f);
    ASSERT_EQ_INT(byzgd_gar_config_parse_option(&config, "f", value, error, sizeof error), 0);
    return config;
}

// Applies and asserts success; the caller destroys the result.
static byzgd_gar_result_t *
s_apply(const byzgd_gar_config_t *config, const float *rows, size_t n, size_t d)
{
    byzgd_gar_result_t *result = byzgd_gar_result_new(n, d);
    char error[256] = "";
    ASSERT(result);
    int status = byzgd_gar_apply(config, result, rows, n, d, error, sizeof error);
    ASSERT_MSG(status == 0, "%s failed: %s", byzgd_gar_rule_name(config->rule), error);
    return result;
}

static void
s_assert_vector(const float *got, const double *expected, size_t d, double tolerance)
{
    for (size_t j = 0; j < d; j++)
        ASSERT_MSG(fabs(got[j] - expected[j]) <= tolerance * (1 + fabs(expected[j])),
                   "coordinate %zu: got %.9g expected %.9g", j, got[j], expected[j]);
}

// ---------------------------------------------------------------- slow references

static double
s_ref_dist2(const float *x, size_t d, size_t a, size_t b)
{
    double total = 0;
    for (size_t j = 0; j < d; j++) {
        double t = (double)x[a * d + j] - (double)x[b * d + j];
        total += t * t;
    }
    return total;
}

static int
s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// Krum score of row `list[a]` among the `count` rows listed.
static double
s_ref_krum_score(const float *x, size_t d, const size_t *list, size_t count, size_t a,
                 size_t neighbours)
{
    double values[MAX_N];
    size_t m = 0;
    for (size_t b = 0; b < count; b++)
        if (b != a)
            values[m++] = s_ref_dist2(x, d, list[a], list[b]);
    qsort(values, m, sizeof *values, s_cmp_double);
    double total = 0;
    for (size_t q = 0; q < neighbours && q < m; q++)
        total += values[q];
    return total;
}

static void
s_ref_mean(double *out, const float *x, size_t d, const size_t *list, size_t count)
{
    for (size_t j = 0; j < d; j++) {
        double total = 0;
        for (size_t q = 0; q < count; q++)
            total += x[list[q] * d + j];
        out[j] = total / (double)count;
    }
}

// Column statistic by full sort: mode 0 median, 1 trimmed mean (k each side), 2 mean of the
// k closest to the median (ties: smaller row index first).
static double
s_ref_column(const double *column_in, size_t n, int mode, size_t k)
{
    double column[512];
    memcpy(column, column_in, n * sizeof *column);
    qsort(column, n, sizeof *column, s_cmp_double);
    double median = n % 2 ? column[n / 2] : (column[n / 2 - 1] + column[n / 2]) / 2;
    if (mode == 0)
        return median;
    double total = 0;
    if (mode == 1) {
        for (size_t i = k; i < n - k; i++)
            total += column[i];
        return total / (double)(n - 2 * k);
    }
    // The k values nearest the median; equal distances go to the smaller position (row
    // index), by repeated selection.
    bool used[512] = {false};
    for (size_t t = 0; t < k; t++) {
        size_t best = SIZE_MAX;
        for (size_t i = 0; i < n; i++)
            if (!used[i] &&
                (best == SIZE_MAX || fabs(column_in[i] - median) < fabs(column_in[best] - median)))
                best = i;
        used[best] = true;
        total += column_in[best];
    }
    return total / (double)k;
}

static void
s_ref_coordinate(double *out, const float *x, size_t d, const size_t *list, size_t count, int mode,
                 size_t k)
{
    double column[512];
    for (size_t j = 0; j < d; j++) {
        for (size_t q = 0; q < count; q++)
            column[q] = x[list[q] * d + j];
        out[j] = s_ref_column(column, count, mode, k);
    }
}

// The reference of each rule on rows x (n x d), all finite. Returns the selection count.
static size_t
s_ref_apply(const byzgd_gar_config_t *config, double *out, size_t *selected, const float *x,
            size_t n, size_t d)
{
    size_t f = config->f, all[MAX_N * 8];
    for (size_t i = 0; i < n; i++)
        all[i] = i;
    switch (config->rule) {
    case BYZGD_GAR_AVERAGE:
        s_ref_mean(out, x, d, all, n);
        return 0;
    case BYZGD_GAR_KRUM:
    case BYZGD_GAR_MULTI_KRUM: {
        double scores[MAX_N];
        for (size_t i = 0; i < n; i++)
            scores[i] = s_ref_krum_score(x, d, all, n, i, n - f - 2);
        size_t m = config->rule == BYZGD_GAR_KRUM ? 1 : (config->m ? config->m : n - f);
        // Selection sort by (score, index).
        bool used[MAX_N] = {false};
        for (size_t q = 0; q < m; q++) {
            size_t best = SIZE_MAX;
            for (size_t i = 0; i < n; i++)
                if (!used[i] && (best == SIZE_MAX || scores[i] < scores[best]))
                    best = i;
            used[best] = true;
            selected[q] = best;
        }
        s_ref_mean(out, x, d, selected, m);
        return m;
    }
    case BYZGD_GAR_MEDOID: {
        size_t best = 0;
        double best_total = INFINITY;
        for (size_t i = 0; i < n; i++) {
            double total = 0;
            for (size_t b = 0; b < n; b++)
                total += sqrt(s_ref_dist2(x, d, i, b));
            if (total < best_total) {
                best_total = total;
                best = i;
            }
        }
        selected[0] = best;
        s_ref_mean(out, x, d, selected, 1);
        return 1;
    }
    case BYZGD_GAR_MEDIAN:
        s_ref_coordinate(out, x, d, all, n, 0, 0);
        return 0;
    case BYZGD_GAR_TRIMMED_MEAN:
        s_ref_coordinate(out, x, d, all, n, 1, f);
        return 0;
    case BYZGD_GAR_MEAMED:
        s_ref_coordinate(out, x, d, all, n, 2, n - f);
        return 0;
    case BYZGD_GAR_BULYAN: {
        size_t remaining[MAX_N], count = n, theta = n - 2 * f;
        memcpy(remaining, all, n * sizeof *remaining);
        for (size_t s = 0; s < theta; s++) {
            size_t neighbours = count > f + 2 ? count - f - 2 : 0, best = 0;
            double best_score = INFINITY;
            for (size_t a = 0; a < count; a++) {
                double score = s_ref_krum_score(x, d, remaining, count, a, neighbours);
                if (score < best_score) {
                    best_score = score;
                    best = a;
                }
            }
            selected[s] = remaining[best];
            memmove(remaining + best, remaining + best + 1, (count - best - 1) * sizeof(size_t));
            count--;
        }
        size_t ascending[MAX_N]; // ties of the second stage go to the smaller row index
        memcpy(ascending, selected, theta * sizeof *ascending);
        for (size_t q = 1; q < theta; q++)
            for (size_t p = q; p > 0 && ascending[p - 1] > ascending[p]; p--) {
                size_t swap = ascending[p];
                ascending[p] = ascending[p - 1];
                ascending[p - 1] = swap;
            }
        s_ref_coordinate(out, x, d, ascending, theta, 2, theta - 2 * f);
        return theta;
    }
    case BYZGD_GAR_MDA: {
        // Every subset of n - f rows in lexicographic order; keep the first of least
        // diameter.
        size_t keep = n - f, current[MAX_N];
        double best = INFINITY;
        for (size_t i = 0; i < keep; i++)
            current[i] = i;
        for (;;) {
            double diameter = 0;
            for (size_t a = 0; a < keep; a++)
                for (size_t b = 0; b < keep; b++)
                    diameter = fmax(diameter, s_ref_dist2(x, d, current[a], current[b]));
            if (diameter < best) {
                best = diameter;
                memcpy(selected, current, keep * sizeof *selected);
            }
            size_t i = keep;
            while (i > 0 && current[i - 1] == n - keep + i - 1)
                i--;
            if (i == 0)
                break;
            current[i - 1]++;
            for (size_t q = i; q < keep; q++)
                current[q] = current[q - 1] + 1;
        }
        s_ref_mean(out, x, d, selected, keep);
        return keep;
    }
    case BYZGD_GAR_GEOMED: {
        // Plain Weiszfeld iterations from the mean until the step is negligible.
        double *z = calloc(d, sizeof *z), *next = calloc(d, sizeof *next);
        s_ref_mean(z, x, d, all, n);
        for (int iteration = 0; iteration < 100000; iteration++) {
            double total = 0, step = 0;
            memset(next, 0, d * sizeof *next);
            for (size_t i = 0; i < n; i++) {
                double distance = 0;
                for (size_t j = 0; j < d; j++)
                    distance += (x[i * d + j] - z[j]) * (x[i * d + j] - z[j]);
                double w = 1 / fmax(sqrt(distance), config->smoothing);
                total += w;
                for (size_t j = 0; j < d; j++)
                    next[j] += w * x[i * d + j];
            }
            for (size_t j = 0; j < d; j++) {
                step += (next[j] / total - z[j]) * (next[j] / total - z[j]);
                z[j] = next[j] / total;
            }
            if (sqrt(step) < 1e-12)
                break;
        }
        memcpy(out, z, d * sizeof *out);
        free(z);
        free(next);
        return 0;
    }
    case BYZGD_GAR_CCLIP: {
        double *v = calloc(d, sizeof *v);
        size_t iterations = config->iterations ? config->iterations : 1;
        if (config->start == BYZGD_GAR_START_MEDIAN) {
            double *median = calloc(d, sizeof *median);
            s_ref_coordinate(median, x, d, all, n, 0, 0);
            for (size_t j = 0; j < d; j++)
                v[j] = (float)median[j]; // the rule starts from the float median
            free(median);
        } else if (config->start == BYZGD_GAR_START_AVERAGE) {
            s_ref_mean(v, x, d, all, n);
        }
        for (size_t l = 0; l < iterations; l++) {
            double *delta = calloc(d, sizeof *delta);
            for (size_t i = 0; i < n; i++) {
                double norm = 0;
                for (size_t j = 0; j < d; j++)
                    norm += (x[i * d + j] - v[j]) * (x[i * d + j] - v[j]);
                norm = sqrt(norm);
                double scale = norm > config->tau ? config->tau / norm : 1;
                for (size_t j = 0; j < d; j++)
                    delta[j] += (x[i * d + j] - v[j]) * scale / (double)n;
            }
            for (size_t j = 0; j < d; j++)
                v[j] += delta[j];
            free(delta);
        }
        memcpy(out, v, d * sizeof *out);
        free(v);
        return 0;
    }
    default:
        ASSERT_MSG(0, "no reference for %s", byzgd_gar_rule_name(config->rule));
        return 0;
    }
}

// Checks one rule against its reference on x; `tolerance` relative.
static void
s_check_against_reference(const byzgd_gar_config_t *config, const float *x, size_t n, size_t d,
                          double tolerance)
{
    double *expected = calloc(d, sizeof *expected);
    size_t selected[MAX_N];
    size_t count = s_ref_apply(config, expected, selected, x, n, d);
    byzgd_gar_result_t *result = s_apply(config, x, n, d);
    const char *name = byzgd_gar_rule_name(config->rule);
    if (count) {
        ASSERT_MSG(result->selected_count == count, "%s n=%zu f=%zu: %zu selected, expected %zu",
                   name, n, config->f, result->selected_count, count);
        for (size_t q = 0; q < count; q++)
            ASSERT_MSG(result->selected[q] == selected[q],
                       "%s n=%zu d=%zu f=%zu: selected[%zu] = %zu, expected %zu", name, n, d,
                       config->f, q, result->selected[q], selected[q]);
    }
    for (size_t j = 0; j < d; j++)
        ASSERT_MSG(fabs(result->aggregate[j] - expected[j]) <= tolerance * (1 + fabs(expected[j])),
                   "%s n=%zu d=%zu f=%zu coordinate %zu: got %.9g expected %.9g", name, n, d,
                   config->f, j, result->aggregate[j], expected[j]);
    byzgd_gar_result_destroy(&result);
    free(expected);
}

static float *
s_random_rows(byzgd_rng_t *rng, size_t n, size_t d, double scale)
{
    float *x = malloc(n * d * sizeof *x);
    for (size_t k = 0; k < n * d; k++)
        x[k] = (float)(byzgd_rng_gaussian(rng) * scale);
    return x;
}

// The largest f the rule accepts for n, or SIZE_MAX if none.
static size_t
s_max_f(const byzgd_gar_config_t *base, size_t n)
{
    size_t best = SIZE_MAX;
    for (size_t f = 0; f <= n; f++) {
        byzgd_gar_config_t config = *base;
        config.f = f;
        if (byzgd_gar_check(&config, n, NULL, 0) == 0)
            best = f;
    }
    return best;
}

// ---------------------------------------------------------------- golden vectors

// Five 1-D points 0, 1, 2, 3, 10 (d = 1) and a 2-D set, worked by hand.
static const float s_line[5] = {0, 1, 2, 3, 10};

TEST(golden_average_median_trimmed_meamed)
{
    // average (0+1+2+3+10)/5 = 3.2; median 2; trimmed f=1 drops 0 and 10: (1+2+3)/3 = 2;
    // meamed f=1: the 4 closest to median 2 are 2, 1, 3 (distance 1, 1) and 0 (distance
    // 2; 10 is 8 away): (0+1+2+3)/4 = 1.5.
    struct {
        const char *rule;
        size_t f;
        float expected;
    } cases[] = {{"average", 0, 3.2f},      {"median", 1, 2.0f}, {"trimmed-mean", 1, 2.0f},
                 {"trimmed-mean", 2, 2.0f}, {"meamed", 1, 1.5f}, {"meamed", 2, 2.0f}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        byzgd_gar_config_t config = s_config(cases[c].rule, cases[c].f);
        byzgd_gar_result_t *result = s_apply(&config, s_line, 5, 1);
        ASSERT_MSG(fabsf(result->aggregate[0] - cases[c].expected) < 1e-6f, "%s f=%zu: %g",
                   cases[c].rule, cases[c].f, result->aggregate[0]);
        byzgd_gar_result_destroy(&result);
    }
    // Even count: median of 0, 1, 2, 3 is (1+2)/2 = 1.5.
    byzgd_gar_config_t config = s_config("median", 0);
    byzgd_gar_result_t *result = s_apply(&config, s_line, 4, 1);
    ASSERT_NEAR(result->aggregate[0], 1.5, 1e-7);
    byzgd_gar_result_destroy(&result);
    // meamed n=4 f=1 on 0,1,2,3 (median 1.5) takes 3 values: 1, 2, then 0 and 3 tie at
    // distance 1.5 -> the smaller row index, row 0 (value 0): (0+1+2)/3 = 1. Reversed rows
    // 3,2,1,0: the tie now goes to row 0 holding 3: (3+2+1)/3 = 2.
    config = s_config("meamed", 1);
    result = s_apply(&config, s_line, 4, 1);
    ASSERT_NEAR(result->aggregate[0], 1.0, 1e-7);
    byzgd_gar_result_destroy(&result);
    const float reversed[4] = {3, 2, 1, 0};
    result = s_apply(&config, reversed, 4, 1);
    ASSERT_NEAR(result->aggregate[0], 2.0, 1e-7);
    byzgd_gar_result_destroy(&result);
    // Ties among repeated values: 5, 1, 1, 3, 3 (median 3) with f = 1 takes 4: 3, 3, then
    // 1, 1 at distance 2 and 5 at distance 2 -> two of rows 0, 1, 2 by index: rows 0 (5)
    // and 1 (1): (3+3+5+1)/4 = 3.
    const float repeated[5] = {5, 1, 1, 3, 3};
    result = s_apply(&config, repeated, 5, 1);
    ASSERT_NEAR(result->aggregate[0], 3.0, 1e-7);
    byzgd_gar_result_destroy(&result);
}

TEST(golden_krum_line)
{
    // n = 5, f = 1: n - f - 2 = 2 neighbours. Squared distances from 0: 1, 4, 9, 100 ->
    // score 1 + 4 = 5; from 1: 1, 1, 4, 81 -> 2; from 2: 4, 1, 1, 64 -> 2; from 3: 9, 4,
    // 1, 49 -> 5; from 10: 49 + 64 = 113. Rows 1 and 2 tie at 2: the smaller index wins.
    byzgd_gar_config_t config = s_config("krum", 1);
    byzgd_gar_result_t *result = s_apply(&config, s_line, 5, 1);
    ASSERT_EQ_INT(result->selected_count, 1);
    ASSERT_EQ_INT(result->selected[0], 1);
    ASSERT_EQ_INT(result->aggregate[0], 1);
    ASSERT(result->has_scores);
    const double scores[5] = {5, 2, 2, 5, 113};
    for (int i = 0; i < 5; i++)
        ASSERT_NEAR(result->scores[i], scores[i], 1e-12);
    byzgd_gar_result_destroy(&result);
    // Multi-Krum m = 3 orders by (score, index): 1, 2, then 0 (5, index 0 before 3):
    // mean (1 + 2 + 0) / 3 = 1. Default m = n - f = 4: rows 1, 2, 0, 3 -> 1.5.
    config = s_config("multi-krum", 1);
    config.m = 3;
    result = s_apply(&config, s_line, 5, 1);
    ASSERT_EQ_INT(result->selected_count, 3);
    ASSERT_EQ_INT(result->selected[0], 1);
    ASSERT_EQ_INT(result->selected[1], 2);
    ASSERT_EQ_INT(result->selected[2], 0);
    ASSERT_NEAR(result->aggregate[0], 1.0, 1e-7);
    byzgd_gar_result_destroy(&result);
    config.m = 0;
    result = s_apply(&config, s_line, 5, 1);
    ASSERT_EQ_INT(result->selected_count, 4);
    ASSERT_NEAR(result->aggregate[0], 1.5, 1e-7);
    byzgd_gar_result_destroy(&result);
}

TEST(golden_medoid_and_mda)
{
    // Medoid (non-squared): sums of |x_i - x_j|: 0 -> 1+2+3+10 = 16; 1 -> 1+1+2+9 = 13;
    // 2 -> 2+1+1+8 = 12; 3 -> 3+2+1+7 = 13; 10 -> 10+9+8+7 = 34. Pick row 2.
    byzgd_gar_config_t config = s_config("medoid", 0);
    byzgd_gar_result_t *result = s_apply(&config, s_line, 5, 1);
    ASSERT_EQ_INT(result->selected[0], 2);
    ASSERT_NEAR(result->scores[0], 16, 1e-12);
    ASSERT_NEAR(result->scores[4], 34, 1e-12);
    byzgd_gar_result_destroy(&result);
    // MDA f = 1 keeps 4 rows of least diameter: {0,1,2,3} has diameter 3, any set with 10
    // at least 7: mean 1.5. f = 2: {0,1,2}, {1,2,3} both diameter 2; the first in
    // lexicographic order wins: mean 1.
    config = s_config("mda", 1);
    result = s_apply(&config, s_line, 5, 1);
    ASSERT_NEAR(result->aggregate[0], 1.5, 1e-7);
    ASSERT_EQ_INT(result->selected_count, 4);
    ASSERT_EQ_INT(result->selected[3], 3);
    byzgd_gar_result_destroy(&result);
    config = s_config("mda", 2);
    result = s_apply(&config, s_line, 5, 1);
    ASSERT_NEAR(result->aggregate[0], 1.0, 1e-7);
    byzgd_gar_result_destroy(&result);
}

TEST(golden_bulyan)
{
    // n = 7, f = 1 (n >= 4f + 3): points 0, 1, 2, 3, 4, 5, 100. theta = 5 Krum rounds,
    // beta = 3. Round 1 (7 left, 4 neighbours): 2 and 3 score 1+1+4+4 = 10, 3 wins? No:
    // 2 -> {1,1,4,4} = 10 and 3 -> {1,1,4,4} = 10: tie, index 2 first. Round 2 (6 left,
    // 3 neighbours; 0,1,3,4,5,100): 1 -> 1,4,9 = 14; 3 -> 1,4,4 = 9; 4 -> 1,1,9 = 11;
    // pick 3. Round 3 (0,1,4,5,100; 2 neighbours): 0 -> 1+16; 1 -> 1+9 = 10;
    // 4 -> 1+9 = 10; 5 -> 1+16; tie 1 vs 4: pick 1. Round 4 (0,4,5,100; 1 neighbour):
    // 0 -> 16, 4 -> 1, 5 -> 1: pick 4. Round 5 (0,5,100; 0 neighbours): all 0, pick 0.
    // Selection {2,3,1,4,0} = values 0..4, median 2, 3 closest: 1, 2, 3 -> mean 2.
    const float x[7] = {0, 1, 2, 3, 4, 5, 100};
    byzgd_gar_config_t config = s_config("bulyan", 1);
    byzgd_gar_result_t *result = s_apply(&config, x, 7, 1);
    const size_t expected[5] = {2, 3, 1, 4, 0};
    ASSERT_EQ_INT(result->selected_count, 5);
    for (int q = 0; q < 5; q++)
        ASSERT_EQ_INT(result->selected[q], expected[q]);
    ASSERT_NEAR(result->aggregate[0], 2.0, 1e-7);
    byzgd_gar_result_destroy(&result);
}

TEST(golden_geomed_and_cclip)
{
    // Geometric median of (0,0), (1,0), (0,1), (1,1), (10,10): by symmetry on the
    // diagonal x = y = t; the gradient 2*(-t)/(sqrt2 t)... numerically t = 0.5 + e with
    // the outlier pulling: minimise 2 sqrt(2) |t| ... we check against 3 facts instead:
    // the point lies on the diagonal, stays inside the unit square, and is a fixed point
    // of the Weiszfeld map within 1e-5.
    const float x[10] = {0, 0, 1, 0, 0, 1, 1, 1, 10, 10};
    byzgd_gar_config_t config = s_config("geomed", 0);
    config.tolerance = 1e-9;
    byzgd_gar_result_t *result = s_apply(&config, x, 5, 2);
    double zx = result->aggregate[0], zy = result->aggregate[1];
    ASSERT_NEAR(zx, zy, 1e-5);
    ASSERT(zx > 0.5 && zx < 1.0);
    double sx = 0, sy = 0, total = 0;
    for (int i = 0; i < 5; i++) {
        double w = 1 / hypot(x[2 * i] - zx, x[2 * i + 1] - zy);
        sx += w * x[2 * i];
        sy += w * x[2 * i + 1];
        total += w;
    }
    ASSERT_NEAR(sx / total, zx, 1e-5);
    ASSERT_NEAR(sy / total, zy, 1e-5);
    ASSERT(result->iterations >= 2);
    byzgd_gar_result_destroy(&result);
    // Three points with an angle of about 179 degrees at (0, 0): the Fermat point is that
    // vertex (unit pulls (1, 0) and (-1, 0.01)/|.| sum to norm 0.01 < 1), returned exactly
    // although Weiszfeld only creeps towards it.
    const float wide[6] = {1, 0, 0, 0, -1, 0.01f};
    result = s_apply(&config, wide, 3, 2);
    ASSERT_EQ_INT(result->aggregate[0] == 0.0f && result->aggregate[1] == 0.0f, 1);
    byzgd_gar_result_destroy(&result);
    // Centered clipping from zero, tau = 1, one iteration on (3, 4) and (0, 0.5):
    // |(3,4)| = 5 -> scaled by 1/5 to (0.6, 0.8); (0, 0.5) kept; mean (0.3, 0.65).
    const float y[4] = {3, 4, 0, 0.5f};
    config = s_config("cclip", 0);
    config.tau = 1;
    config.start = BYZGD_GAR_START_ZERO;
    result = s_apply(&config, y, 2, 2);
    ASSERT_NEAR(result->aggregate[0], 0.3, 1e-7);
    ASSERT_NEAR(result->aggregate[1], 0.65, 1e-7);
    ASSERT_EQ_INT(result->iterations, 1);
    byzgd_gar_result_destroy(&result);
}

// ---------------------------------------------------------------- properties

TEST(random_inputs_match_references)
{
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 2024, 0);
    const size_t ns[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 13, 17, 24, 33};
    const size_t ds[] = {1, 3, 17, 100, 531, 1100};
    for (const char *const *name = byzgd_gar_rule_names(); *name; name++) {
        for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++) {
            size_t n = ns[ni], d = ds[(ni + (size_t)(name - byzgd_gar_rule_names())) % 6];
            byzgd_gar_config_t config = s_config(*name, 0);
            if (config.rule == BYZGD_GAR_ONE_P_KRUM)
                continue; // covered by one_p_krum_*
            size_t max_f = s_max_f(&config, n);
            if (max_f == SIZE_MAX)
                continue;
            float *x = s_random_rows(&rng, n, d, 1 + (double)ni);
            for (size_t f = 0; f <= max_f && f <= 4; f++) {
                config.f = f;
                if (config.rule == BYZGD_GAR_MDA && n > 17)
                    continue; // the reference enumerates every subset
                if (config.rule == BYZGD_GAR_GEOMED)
                    config.tolerance = 1e-10;
                double tolerance = config.rule == BYZGD_GAR_GEOMED ? 1e-4 : 2e-6;
                s_check_against_reference(&config, x, n, d, tolerance);
            }
            free(x);
        }
    }
}

TEST(coordinate_rules_large_n_fallback)
{
    // Above 256 rows the coordinate rules sort each column instead of using a network.
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 5, 0);
    size_t n = 300, d = 7;
    float *x = s_random_rows(&rng, n, d, 1);
    const char *rules[] = {"median", "trimmed-mean", "meamed"};
    for (int r = 0; r < 3; r++) {
        byzgd_gar_config_t config = s_config(rules[r], 40);
        double expected[7];
        size_t all[300];
        for (size_t i = 0; i < n; i++)
            all[i] = i;
        s_ref_coordinate(expected, x, d, all, n, r, r == 1 ? 40 : n - 40);
        byzgd_gar_result_t *result = s_apply(&config, x, n, d);
        s_assert_vector(result->aggregate, expected, d, 1e-6);
        byzgd_gar_result_destroy(&result);
    }
    free(x);
}

TEST(krum_large_n_unsegmented)
{
    // Above 512 rows the distance kernel uses one d-segment; scores still match a slow
    // per-pair reference, and a result sized for 600 rows gives bit-identical results
    // for 40 rows as one sized for 40.
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 61, 0);
    size_t n = 600, d = 1100, f = 100;
    float *x = s_random_rows(&rng, n, d, 1);
    byzgd_gar_config_t config = s_config("krum", f);
    byzgd_gar_result_t *result = s_apply(&config, x, n, d);
    double *values = malloc(n * sizeof *values);
    for (size_t i = 0; i < n; i += 37) {
        size_t m = 0;
        for (size_t b = 0; b < n; b++)
            if (b != i)
                values[m++] = s_ref_dist2(x, d, i, b);
        qsort(values, m, sizeof *values, s_cmp_double);
        double expected = 0;
        for (size_t q = 0; q < n - f - 2; q++)
            expected += values[q];
        ASSERT_NEAR(result->scores[i], expected, 1e-6 * expected);
    }
    char error[256];
    config.f = 5;
    byzgd_gar_result_t *small = s_apply(&config, x, 40, d);
    ASSERT_EQ_INT(byzgd_gar_apply(&config, result, x, 40, d, error, sizeof error), 0);
    for (size_t i = 0; i < 40; i++)
        ASSERT(result->scores[i] == small->scores[i]);
    byzgd_gar_result_destroy(&small);
    byzgd_gar_result_destroy(&result);
    free(values);
    free(x);
}

TEST(row_order)
{
    // Permuting rows leaves the order-free rules unchanged and moves Krum's pick with its row.
    // (Not Bulyan: its last Krum rounds score with one neighbour, where a mutual nearest
    // pair ties exactly and the index decides.)
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 11, 0);
    size_t n = 13, d = 40, permutation[13];
    float *x = s_random_rows(&rng, n, d, 1), *y = malloc(n * d * sizeof *y);
    for (size_t i = 0; i < n; i++)
        permutation[i] = i;
    byzgd_rng_shuffle(&rng, permutation, n);
    for (size_t i = 0; i < n; i++)
        memcpy(y + i * d, x + permutation[i] * d, d * sizeof *y);
    const char *rules[] = {"average",    "median", "trimmed-mean", "meamed", "krum",
                           "multi-krum", "medoid", "mda",          "geomed"};
    for (int r = 0; r < 9; r++) {
        byzgd_gar_config_t config = s_config(rules[r], 2);
        byzgd_gar_result_t *a = s_apply(&config, x, n, d), *b = s_apply(&config, y, n, d);
        for (size_t j = 0; j < d; j++)
            ASSERT_MSG(
                fabsf(a->aggregate[j] - b->aggregate[j]) <= 1e-5f * (1 + fabsf(a->aggregate[j])),
                "%s coordinate %zu: %g vs %g", rules[r], j, a->aggregate[j], b->aggregate[j]);
        if (config.rule == BYZGD_GAR_KRUM || config.rule == BYZGD_GAR_MEDOID)
            ASSERT_EQ_INT(permutation[b->selected[0]], a->selected[0]);
        byzgd_gar_result_destroy(&a);
        byzgd_gar_result_destroy(&b);
    }
    free(x);
    free(y);
}

TEST(multi_krum_m1_equals_krum)
{
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 3, 0);
    for (size_t n = 3; n < 20; n += 3) {
        float *x = s_random_rows(&rng, n, 33, 1);
        for (size_t f = 0; 2 * f + 2 < n; f++) {
            byzgd_gar_config_t krum = s_config("krum", f), multi = s_config("multi-krum", f);
            multi.m = 1;
            byzgd_gar_result_t *a = s_apply(&krum, x, n, 33), *b = s_apply(&multi, x, n, 33);
            ASSERT_EQ_INT(a->selected[0], b->selected[0]);
            ASSERT(memcmp(a->aggregate, b->aggregate, 33 * sizeof(float)) == 0);
            byzgd_gar_result_destroy(&a);
            byzgd_gar_result_destroy(&b);
        }
        free(x);
    }
}

TEST(krum_picks_honest_rows)
{
    // 20 rows, f = 6 Byzantine at the end: far outliers, then a tight colluding cluster
    // placed far from the honest ones (the cluster gets small distances among its own 6
    // members, but n - f - 2 = 12 neighbours must include honest rows).
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 17, 0);
    size_t n = 20, f = 6, d = 50;
    const char *rules[] = {"krum", "multi-krum", "medoid", "bulyan", "1-p-krum"};
    for (int attack = 0; attack < 2; attack++) {
        for (int r = 0; r < 5; r++) {
            byzgd_gar_config_t config = s_config(rules[r], f);
            config.round = 1000000; // 1-p-krum: p = 0.001
            config.seed = 1;
            if (config.rule == BYZGD_GAR_BULYAN)
                config.f = 4; // n >= 4f + 3
            size_t byzantine = config.f;
            float *x = s_random_rows(&rng, n, d, 1);
            for (size_t i = n - byzantine; i < n; i++)
                for (size_t j = 0; j < d; j++)
                    x[i * d + j] = attack == 0 ? (float)(1000 * byzgd_rng_gaussian(&rng))
                                               : 8.0f + 0.001f * (float)byzgd_rng_gaussian(&rng);
            byzgd_gar_result_t *result = s_apply(&config, x, n, d);
            ASSERT(result->selected_count > 0);
            // Bulyan's last Krum rounds (few neighbours) may pick a cluster row, by its
            // definition; its coordinate-wise stage keeps the output in the honest range.
            for (size_t j = 0; j < d && config.rule == BYZGD_GAR_BULYAN; j++) {
                float low = INFINITY, high = -INFINITY;
                for (size_t i = 0; i < n - byzantine; i++) {
                    low = fminf(low, x[i * d + j]);
                    high = fmaxf(high, x[i * d + j]);
                }
                ASSERT(result->aggregate[j] >= low && result->aggregate[j] <= high);
            }
            for (size_t q = 0; q < result->selected_count && config.rule != BYZGD_GAR_BULYAN; q++)
                ASSERT_MSG(result->selected[q] < n - byzantine,
                           "%s attack %d picked Byzantine row %zu", rules[r], attack,
                           result->selected[q]);
            byzgd_gar_result_destroy(&result);
            free(x);
        }
    }
}

TEST(trimmed_mean_f0_is_mean)
{
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 4, 0);
    for (size_t n = 1; n < 30; n += 4) {
        float *x = s_random_rows(&rng, n, 77, 3);
        byzgd_gar_config_t trimmed = s_config("trimmed-mean", 0), mean = s_config("average", 0);
        byzgd_gar_result_t *a = s_apply(&trimmed, x, n, 77), *b = s_apply(&mean, x, n, 77);
        for (size_t j = 0; j < 77; j++)
            ASSERT_NEAR(a->aggregate[j], b->aggregate[j], 1e-6 * (1 + fabs(b->aggregate[j])));
        byzgd_gar_result_destroy(&a);
        byzgd_gar_result_destroy(&b);
        free(x);
    }
}

TEST(precondition_errors)
{
    struct {
        const char *rule;
        size_t n, f;
        const char *message; // NULL: accepted
    } cases[] = {
        {"krum", 6, 2, "krum needs n > 2f+2, got n=6 f=2"},
        {"krum", 7, 2, NULL},
        {"krum", 2, 0, "krum needs n > 2f+2, got n=2 f=0"},
        {"krum", 3, 0, NULL},
        {"multi-krum", 8, 3, "multi-krum needs n > 2f+2, got n=8 f=3"},
        {"1-p-krum", 4, 1, "1-p-krum needs n > 2f+2, got n=4 f=1"},
        {"bulyan", 10, 2, "bulyan needs n >= 4f+3, got n=10 f=2"},
        {"bulyan", 11, 2, NULL},
        {"bulyan", 3, 0, NULL},
        {"median", 4, 2, "median needs n >= 2f+1, got n=4 f=2"},
        {"median", 5, 2, NULL},
        {"trimmed-mean", 6, 3, "trimmed-mean needs n >= 2f+1, got n=6 f=3"},
        {"meamed", 2, 1, "meamed needs n >= 2f+1, got n=2 f=1"},
        {"mda", 2, 1, "mda needs n >= 2f+1, got n=2 f=1"},
        {"mda", 60, 10, "mda refuses C(n, f) > 1000000 subsets, got C(60, 10)"},
        {"mda", 30, 5, NULL},
        {"average", 1, 5, NULL},
        {"medoid", 1, 0, NULL},
        {"geomed", 1, 3, NULL},
        {"cclip", 1, 3, NULL},
        {"average", 0, 0, "average needs at least one row, got n=0"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        byzgd_gar_config_t config = s_config(cases[c].rule, cases[c].f);
        char error[256] = "";
        int status = byzgd_gar_check(&config, cases[c].n, error, sizeof error);
        if (!cases[c].message) {
            ASSERT_MSG(status == 0, "%s n=%zu f=%zu refused: %s", cases[c].rule, cases[c].n,
                       cases[c].f, error);
            continue;
        }
        ASSERT_MSG(status == -1, "%s n=%zu f=%zu accepted", cases[c].rule, cases[c].n, cases[c].f);
        ASSERT_STR_EQ(error, cases[c].message);
        if (cases[c].n == 0)
            continue;
        // byzgd_gar_apply refuses the same way and names the inequality.
        float *x = calloc(cases[c].n * 3, sizeof *x);
        byzgd_gar_result_t *result = byzgd_gar_result_new(cases[c].n, 3);
        ASSERT_EQ_INT(byzgd_gar_apply(&config, result, x, cases[c].n, 3, error, sizeof error), -1);
        ASSERT_STR_CONTAINS(error, cases[c].message);
        byzgd_gar_result_destroy(&result);
        free(x);
    }
    // multi-krum m out of range, after bucketing, and after dropping rows.
    byzgd_gar_config_t config = s_config("multi-krum", 1);
    config.m = 6;
    char error[256];
    ASSERT_EQ_INT(byzgd_gar_check(&config, 5, error, sizeof error), -1);
    ASSERT_STR_EQ(error, "multi-krum needs 1 <= m <= n, got m=6 n=5");
    config = s_config("krum", 1);
    config.bucket_size = 2;
    ASSERT_EQ_INT(byzgd_gar_check(&config, 9, error, sizeof error), 0);
    ASSERT_EQ_INT(byzgd_gar_check(&config, 8, error, sizeof error), -1);
    ASSERT_STR_CONTAINS(error, "krum needs n > 2f+2, got n=4 f=1 (after bucketing 8 rows by 2)");
    float x[5 * 2] = {0, 0, 1, 1, NAN, 2, 3, 3, 4, 4};
    byzgd_gar_result_t *result = byzgd_gar_result_new(5, 2);
    config = s_config("krum", 1);
    ASSERT_EQ_INT(byzgd_gar_apply(&config, result, x, 5, 2, error, sizeof error), -1);
    ASSERT_STR_EQ(error, "krum needs n > 2f+2, got n=4 f=1 (1 non-finite row dropped)");
    byzgd_gar_result_destroy(&result);
}

TEST(non_finite_rows_every_rule)
{
    // 12 rows of which 3 hold NaN, +Inf, -Inf: every rule must give the same output as on
    // the 9 finite rows, never select a bad row, and stay finite.
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 21, 0);
    size_t n = 12, d = 20, bad[3] = {1, 6, 11};
    float *x = s_random_rows(&rng, n, d, 1), *clean = malloc(9 * d * sizeof *clean);
    x[1 * d + 3] = NAN;
    x[6 * d + 0] = INFINITY;
    x[11 * d + 19] = -INFINITY;
    size_t map[9], kept = 0;
    for (size_t i = 0; i < n; i++)
        if (i != bad[0] && i != bad[1] && i != bad[2]) {
            memcpy(clean + kept * d, x + i * d, d * sizeof *clean);
            map[kept++] = i;
        }
    for (const char *const *name = byzgd_gar_rule_names(); *name; name++) {
        byzgd_gar_config_t config = s_config(*name, 1);
        config.round = 3;
        byzgd_gar_result_t *a = s_apply(&config, x, n, d), *b = s_apply(&config, clean, 9, d);
        ASSERT_EQ_INT(a->dropped, 3);
        ASSERT_EQ_INT(a->used, 9);
        for (size_t j = 0; j < d; j++) {
            ASSERT_MSG(isfinite(a->aggregate[j]), "%s: coordinate %zu not finite", *name, j);
            ASSERT_MSG(a->aggregate[j] == b->aggregate[j], "%s: coordinate %zu %g vs %g", *name, j,
                       a->aggregate[j], b->aggregate[j]);
        }
        ASSERT_EQ_INT(a->selected_count, b->selected_count);
        for (size_t q = 0; q < a->selected_count; q++)
            ASSERT_EQ_INT(a->selected[q], map[b->selected[q]]);
        if (a->has_scores)
            for (int k = 0; k < 3; k++)
                ASSERT(isnan(a->scores[bad[k]]));
        byzgd_gar_result_destroy(&a);
        byzgd_gar_result_destroy(&b);
    }
    // All rows non-finite: an error, not a NaN.
    for (size_t k = 0; k < n * d; k += d)
        x[k] = NAN;
    byzgd_gar_config_t config = s_config("average", 0);
    byzgd_gar_result_t *result = byzgd_gar_result_new(n, d);
    char error[256];
    ASSERT_EQ_INT(byzgd_gar_apply(&config, result, x, n, d, error, sizeof error), -1);
    ASSERT_STR_CONTAINS(error, "no finite row");
    byzgd_gar_result_destroy(&result);
    free(x);
    free(clean);
}

TEST(huge_finite_values_stay_finite)
{
    // Values near FLT_MAX overflow float32 squares and sums; every rule must still give a
    // finite aggregate, and Krum must still see the huge rows as far.
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 8, 0);
    size_t n = 11, d = 600;
    float *x = s_random_rows(&rng, n, d, 1);
    for (size_t j = 0; j < d; j++) {
        x[9 * d + j] = j % 2 ? FLT_MAX : -FLT_MAX;
        x[10 * d + j] = j % 2 ? -FLT_MAX : FLT_MAX;
    }
    for (const char *const *name = byzgd_gar_rule_names(); *name; name++) {
        byzgd_gar_config_t config = s_config(*name, 2);
        config.round = 2;
        byzgd_gar_result_t *result = s_apply(&config, x, n, d);
        for (size_t j = 0; j < d; j++)
            ASSERT_MSG(isfinite(result->aggregate[j]), "%s: coordinate %zu is %g", *name, j,
                       result->aggregate[j]);
        for (size_t q = 0; q < result->selected_count; q++)
            if (config.rule != BYZGD_GAR_MDA && config.rule != BYZGD_GAR_BULYAN &&
                config.rule != BYZGD_GAR_MULTI_KRUM)
                ASSERT_MSG(result->selected[q] < 9, "%s picked a huge row", *name);
        if (config.rule == BYZGD_GAR_KRUM) {
            ASSERT(isfinite(result->scores[9]));
            ASSERT(result->scores[9] > 1e70);
        }
        byzgd_gar_result_destroy(&result);
    }
    free(x);
}

TEST(distances_near_identical_rows_are_accurate)
{
    // Rows 1 + 1e-3 * noise: the float Gram identity loses everything here; the direct
    // kernel must stay within 1e-5 relative of a double reference (Krum scores).
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 13, 0);
    size_t n = 9, d = 100003;
    float *x = malloc(n * d * sizeof *x);
    for (size_t k = 0; k < n * d; k++)
        x[k] = (float)(1.0 + 1e-3 * byzgd_rng_gaussian(&rng));
    byzgd_gar_config_t config = s_config("krum", 1);
    byzgd_gar_result_t *result = s_apply(&config, x, n, d);
    size_t all[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
    for (size_t i = 0; i < n; i++) {
        double expected = s_ref_krum_score(x, d, all, n, i, n - 3);
        ASSERT_MSG(fabs(result->scores[i] - expected) <= 1e-5 * expected, "row %zu: %.12g vs %.12g",
                   i, result->scores[i], expected);
    }
    byzgd_gar_result_destroy(&result);
    free(x);
}

TEST(distances_of_close_rows_far_from_the_mean_are_accurate)
{
    // Ten rows at +100 and four at -100, spread 1e-2: centring each block on its mean
    // leaves |a|^2 + |b|^2 ~ 1e7 times the distance inside the big cluster, which the Gram
    // form alone would lose entirely; those pairs must come out of the direct recompute.
    // The big cluster's Krum scores (its 9 neighbours are its own rows) must be within 1e-6
    // relative of a double reference. Rows 4 and 6 differ in a single value.
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 17, 0);
    size_t n = 14, d = 20011;
    float *x = malloc(n * d * sizeof *x);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            x[i * d + j] = (float)((i < 10 ? 100.0 : -100.0) + 1e-2 * byzgd_rng_gaussian(&rng));
    memcpy(x + 6 * d, x + 4 * d, d * sizeof *x);
    x[6 * d + 7] += 1e-3f;
    byzgd_gar_config_t config = s_config("krum", 3);
    byzgd_gar_result_t *result = s_apply(&config, x, n, d);
    size_t all[14] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13};
    for (size_t i = 0; i < n; i++) {
        double expected = s_ref_krum_score(x, d, all, n, i, n - 5);
        ASSERT_MSG(fabs(result->scores[i] - expected) <= 1e-6 * expected, "row %zu: %.12g vs %.12g",
                   i, result->scores[i], expected);
    }
    byzgd_gar_result_destroy(&result);
    free(x);
}

TEST(duplicate_rows_tie_exactly)
{
    // Row 17 copies row 3 (they sit in different halves of the distance kernel's groups
    // and tiles): their Krum and Medoid scores must be bit-equal, so the tie goes to 3.
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 15, 0);
    size_t n = 24, d = 3001;
    float *x = s_random_rows(&rng, n, d, 1);
    for (size_t j = 0; j < d; j++)
        x[3 * d + j] = 0.01f * x[3 * d + j];
    memcpy(x + 17 * d, x + 3 * d, d * sizeof *x);
    const char *rules[] = {"krum", "medoid", "multi-krum"};
    for (int r = 0; r < 3; r++) {
        byzgd_gar_config_t config = s_config(rules[r], 5);
        byzgd_gar_result_t *result = s_apply(&config, x, n, d);
        ASSERT_MSG(result->scores[3] == result->scores[17], "%s: %.17g vs %.17g", rules[r],
                   result->scores[3], result->scores[17]);
        ASSERT_EQ_INT(result->selected[0], 3);
        if (config.rule == BYZGD_GAR_MULTI_KRUM)
            ASSERT_EQ_INT(result->selected[1], 17);
        byzgd_gar_result_destroy(&result);
    }
    free(x);
}

TEST(duplicate_rows_tie_in_every_distance_kernel)
{
    // Gradient-like rows (a common vector plus 1 % noise), six far Gaussian rows and two
    // zero rows, d long enough for Gram tiles, direct first and last blocks of a segment
    // and the recompute of close pairs (the zero rows). Rows 3, 17 and 26 are copies, so
    // their pairs with any other row land in different tiles and kernels; their Krum and
    // Medoid scores must be bit-equal, and every score the same with one thread as with two.
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 19, 0);
    size_t n = 30, d = 20011;
    float *x = malloc(n * d * sizeof *x), *common = malloc(d * sizeof *common);
    for (size_t j = 0; j < d; j++)
        common[j] = (float)byzgd_rng_gaussian(&rng);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            x[i * d + j] = i >= 28   ? 0.0f
                           : i >= 22 ? (float)(14 * byzgd_rng_gaussian(&rng))
                                     : common[j] + (float)(0.01 * byzgd_rng_gaussian(&rng));
    memcpy(x + 17 * d, x + 3 * d, d * sizeof *x);
    memcpy(x + 26 * d, x + 3 * d, d * sizeof *x);
    const char *rules[] = {"krum", "medoid"};
    for (int r = 0; r < 2; r++) {
        byzgd_gar_config_t config = s_config(rules[r], 6);
        omp_set_num_threads(2);
        byzgd_gar_result_t *two = s_apply(&config, x, n, d);
        omp_set_num_threads(1);
        byzgd_gar_result_t *one = s_apply(&config, x, n, d);
        ASSERT_MSG(two->scores[3] == two->scores[17] && two->scores[3] == two->scores[26],
                   "%s: %.17g %.17g %.17g", rules[r], two->scores[3], two->scores[17],
                   two->scores[26]);
        ASSERT_MSG(memcmp(one->scores, two->scores, n * sizeof *one->scores) == 0,
                   "%s: scores depend on the thread count", rules[r]);
        byzgd_gar_result_destroy(&one);
        byzgd_gar_result_destroy(&two);
    }
    omp_set_num_threads(2);
    free(common);
    free(x);
}

TEST(deterministic_and_reusable)
{
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 14, 0);
    size_t n = 23, d = 5000;
    float *x = s_random_rows(&rng, n, d, 1);
    byzgd_gar_result_t *result = byzgd_gar_result_new(30, 6000);
    float *first = malloc(d * sizeof *first);
    char error[256];
    for (const char *const *name = byzgd_gar_rule_names(); *name; name++) {
        byzgd_gar_config_t config = s_config(*name, 3);
        config.seed = 99;
        config.round = 7;
        config.bucket_size = config.rule == BYZGD_GAR_AVERAGE ? 2 : 0;
        config.nnm = config.rule == BYZGD_GAR_MEDIAN;
        ASSERT_EQ_INT(byzgd_gar_apply(&config, result, x, n, d, error, sizeof error), 0);
        float *aggregate = result->aggregate;
        memcpy(first, result->aggregate, d * sizeof *first);
        ASSERT_EQ_INT(byzgd_gar_apply(&config, result, x, n, d, error, sizeof error), 0);
        ASSERT(result->aggregate == aggregate); // no reallocation within capacity
        ASSERT_MSG(memcmp(first, result->aggregate, d * sizeof *first) == 0,
                   "%s is not deterministic", *name);
    }
    byzgd_gar_result_destroy(&result);
    free(first);
    free(x);
}

TEST(one_p_krum_choice)
{
    // Same (seed, round) -> same choice; round 1 always averages; over many seeds the
    // average is chosen with frequency close to 1/sqrt(t).
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 6, 0);
    size_t n = 7, d = 5;
    float *x = s_random_rows(&rng, n, d, 1);
    byzgd_gar_config_t config = s_config("1-p-krum", 1);
    byzgd_gar_result_t *result = byzgd_gar_result_new(n, d);
    char error[256];
    int averaged = 0;
    config.round = 16;
    for (uint64_t seed = 0; seed < 2000; seed++) {
        config.seed = seed;
        ASSERT_EQ_INT(byzgd_gar_apply(&config, result, x, n, d, error, sizeof error), 0);
        const char *chose = result->chose;
        ASSERT_EQ_INT(byzgd_gar_apply(&config, result, x, n, d, error, sizeof error), 0);
        ASSERT_STR_EQ(result->chose, chose);
        if (strcmp(chose, "average") == 0) {
            averaged++;
            ASSERT_EQ_INT(result->selected_count, 0);
        } else {
            ASSERT_STR_EQ(chose, "krum");
            ASSERT_EQ_INT(result->selected_count, 1);
        }
    }
    ASSERT_NEAR(averaged / 2000.0, 0.25, 0.04); // p_16 = 1/4
    config.round = 1;
    ASSERT_EQ_INT(byzgd_gar_apply(&config, result, x, n, d, error, sizeof error), 0);
    ASSERT_STR_EQ(result->chose, "average");
    byzgd_gar_result_destroy(&result);
    free(x);
}

TEST(pre_aggregators)
{
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 31, 0);
    size_t n = 10, d = 30;
    float *x = s_random_rows(&rng, n, d, 2);
    char error[256];
    // Clipping to norm 1, then average: the mean of the clipped rows.
    byzgd_gar_config_t config = s_config("average", 0);
    config.clip_norm = 1.0;
    byzgd_gar_result_t *result = s_apply(&config, x, n, d);
    double expected[30] = {0};
    for (size_t i = 0; i < n; i++) {
        double norm = 0;
        for (size_t j = 0; j < d; j++)
            norm += (double)x[i * d + j] * x[i * d + j];
        norm = sqrt(norm);
        for (size_t j = 0; j < d; j++)
            expected[j] += x[i * d + j] * (norm > 1 ? 1 / norm : 1) / (double)n;
    }
    s_assert_vector(result->aggregate, expected, d, 1e-6);
    byzgd_gar_result_destroy(&result);
    // NNM then krum f=2: krum of the mixed vectors (each the mean of its 8 nearest rows).
    config = s_config("krum", 2);
    config.nnm = true;
    result = s_apply(&config, x, n, d);
    float mixed[10 * 30];
    for (size_t i = 0; i < n; i++) {
        double distance[10];
        size_t order[10];
        for (size_t b = 0; b < n; b++) {
            distance[b] = s_ref_dist2(x, d, i, b);
            order[b] = b;
        }
        for (size_t p = 0; p < n; p++) // selection sort by (distance, index)
            for (size_t q = p + 1; q < n; q++)
                if (distance[order[q]] < distance[order[p]] ||
                    (distance[order[q]] == distance[order[p]] && order[q] < order[p])) {
                    size_t t = order[p];
                    order[p] = order[q];
                    order[q] = t;
                }
        double mean[30];
        s_ref_mean(mean, x, d, order, n - 2);
        for (size_t j = 0; j < d; j++)
            mixed[i * d + j] = (float)mean[j];
    }
    byzgd_gar_config_t krum = s_config("krum", 2);
    byzgd_gar_result_t *plain = s_apply(&krum, mixed, n, d);
    ASSERT_EQ_INT(result->selected[0], plain->selected[0]);
    ASSERT(memcmp(result->aggregate, plain->aggregate, d * sizeof(float)) == 0);
    byzgd_gar_result_destroy(&result);
    byzgd_gar_result_destroy(&plain);
    // Bucketing by 3 (4 buckets, the last of 1 row) then medoid: the selection lists the
    // members of one bucket, ascending; bucketing by n is the average.
    config = s_config("medoid", 0);
    config.bucket_size = 3;
    config.seed = 5;
    result = s_apply(&config, x, n, d);
    ASSERT_EQ_INT(result->used, 4);
    ASSERT(result->selected_count >= 1 && result->selected_count <= 3);
    for (size_t q = 1; q < result->selected_count; q++)
        ASSERT(result->selected[q - 1] < result->selected[q]);
    double bucket_mean[30];
    s_ref_mean(bucket_mean, x, d, result->selected, result->selected_count);
    s_assert_vector(result->aggregate, bucket_mean, d, 1e-6);
    byzgd_gar_result_destroy(&result);
    config = s_config("median", 0);
    config.bucket_size = n;
    result = s_apply(&config, x, n, d);
    size_t all[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    s_ref_mean(expected, x, d, all, n);
    s_assert_vector(result->aggregate, expected, d, 1e-6);
    byzgd_gar_result_destroy(&result);
    // NNM needs n > f.
    config = s_config("average", 3);
    config.nnm = true;
    ASSERT_EQ_INT(byzgd_gar_check(&config, 3, error, sizeof error), -1);
    ASSERT_STR_EQ(error, "nnm needs n > f, got n=3 f=3");
    free(x);
}

TEST(pre_aggregators_with_every_rule)
{
    // Every rule behind every pre-aggregator combination, with two non-finite rows: finite
    // output, selected indices valid and never a dropped row, scores only on kept rows.
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 51, 0);
    size_t n = 23, d = 70;
    float *x = s_random_rows(&rng, n, d, 2);
    x[4 * d + 9] = NAN;
    x[20 * d] = -INFINITY;
    for (const char *const *name = byzgd_gar_rule_names(); *name; name++)
        for (int combination = 0; combination < 8; combination++) {
            byzgd_gar_config_t config = s_config(*name, 1);
            config.clip_norm = combination & 1 ? 5.0 : 0.0;
            config.nnm = combination & 2;
            config.bucket_size = combination & 4 ? 2 : 0;
            config.round = 9;
            config.seed = (uint64_t)combination;
            char error[256];
            byzgd_gar_result_t *result = byzgd_gar_result_new(n, d);
            if (byzgd_gar_check(&config, n - 2, error, sizeof error) != 0) {
                ASSERT_EQ_INT(byzgd_gar_apply(&config, result, x, n, d, error, sizeof error), -1);
                byzgd_gar_result_destroy(&result);
                continue;
            }
            ASSERT_MSG(byzgd_gar_apply(&config, result, x, n, d, error, sizeof error) == 0,
                       "%s combination %d: %s", *name, combination, error);
            ASSERT_EQ_INT(result->dropped, 2);
            for (size_t j = 0; j < d; j++)
                ASSERT(isfinite(result->aggregate[j]));
            for (size_t q = 0; q < result->selected_count; q++)
                ASSERT(result->selected[q] < n && result->selected[q] != 4 &&
                       result->selected[q] != 20);
            if (result->has_scores)
                for (size_t i = 0; i < n; i++)
                    ASSERT((i == 4 || i == 20) == (bool)isnan(result->scores[i]));
            byzgd_gar_result_destroy(&result);
        }
    free(x);
}

TEST(cclip_given_centre_and_options)
{
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 41, 0);
    size_t n = 9, d = 12;
    float *x = s_random_rows(&rng, n, d, 3), centre[12];
    for (size_t j = 0; j < d; j++)
        centre[j] = 0.5f;
    byzgd_gar_config_t config = s_config("cclip", 0);
    config.start = BYZGD_GAR_START_GIVEN;
    config.centre = centre;
    config.tau = 2;
    config.iterations = 3;
    // The reference started from zero and shifted: clipping is translation invariant, so
    // cclip(x, start c) = c + cclip(x - c, start 0).
    float *shifted = malloc(n * d * sizeof *shifted);
    for (size_t k = 0; k < n * d; k++)
        shifted[k] = x[k] - 0.5f;
    byzgd_gar_config_t zero = config;
    zero.start = BYZGD_GAR_START_ZERO;
    double expected[12];
    size_t none[1];
    s_ref_apply(&zero, expected, none, shifted, n, d);
    for (size_t j = 0; j < d; j++)
        expected[j] += 0.5;
    byzgd_gar_result_t *result = s_apply(&config, x, n, d);
    s_assert_vector(result->aggregate, expected, d, 1e-5);
    ASSERT_EQ_INT(result->iterations, 3);
    byzgd_gar_result_destroy(&result);
    // Median and average starts against the reference.
    config.start = BYZGD_GAR_START_MEDIAN;
    s_check_against_reference(&config, x, n, d, 1e-6);
    config.start = BYZGD_GAR_START_AVERAGE;
    s_check_against_reference(&config, x, n, d, 1e-6);
    // A non-finite given centre is refused.
    centre[4] = NAN;
    config.start = BYZGD_GAR_START_GIVEN;
    result = byzgd_gar_result_new(n, d);
    char error[256];
    ASSERT_EQ_INT(byzgd_gar_apply(&config, result, x, n, d, error, sizeof error), -1);
    ASSERT_STR_CONTAINS(error, "not finite");
    byzgd_gar_result_destroy(&result);
    free(x);
    free(shifted);
}

TEST(config_parsing)
{
    byzgd_gar_config_t config;
    byzgd_gar_config_init(&config);
    char error[256];
    ASSERT_EQ_INT(byzgd_gar_config_parse_option(&config, "rule", "bulyan", error, sizeof error), 0);
    ASSERT_EQ_INT(config.rule, BYZGD_GAR_BULYAN);
    ASSERT_EQ_INT(byzgd_gar_config_parse_option(&config, "rule", "krum2", error, sizeof error), -1);
    ASSERT_STR_CONTAINS(error, "unknown rule 'krum2'");
    ASSERT_EQ_INT(byzgd_gar_config_parse_option(&config, "f", "-1", error, sizeof error), -1);
    ASSERT_EQ_INT(byzgd_gar_config_parse_option(&config, "f", "3x", error, sizeof error), -1);
    ASSERT_EQ_INT(byzgd_gar_config_parse_option(&config, "f", "", error, sizeof error), -1);
    ASSERT_EQ_INT(byzgd_gar_config_parse_option(&config, "round", "0", error, sizeof error), -1);
    ASSERT_EQ_INT(byzgd_gar_config_parse_option(&config, "tau", "nan", error, sizeof error), -1);
    ASSERT_EQ_INT(byzgd_gar_config_parse_option(&config, "tau", "2.5", error, sizeof error), 0);
    ASSERT_NEAR(config.tau, 2.5, 0);
    ASSERT_EQ_INT(byzgd_gar_config_parse_option(&config, "nnm", NULL, error, sizeof error), 0);
    ASSERT(config.nnm);
    ASSERT_EQ_INT(byzgd_gar_config_parse_option(&config, "start", "zero", error, sizeof error), 0);
    ASSERT_EQ_INT(config.start, BYZGD_GAR_START_ZERO);
    ASSERT_EQ_INT(byzgd_gar_config_parse_option(&config, "bogus", "1", error, sizeof error), -1);
    ASSERT_STR_CONTAINS(error, "unknown aggregation option --bogus");
    size_t count = 0;
    for (const char *const *name = byzgd_gar_rule_names(); *name; name++, count++) {
        byzgd_gar_rule_t rule;
        ASSERT_EQ_INT(byzgd_gar_rule_from_name(*name, &rule), 0);
        ASSERT_STR_EQ(byzgd_gar_rule_name(rule), *name);
    }
    ASSERT_EQ_INT(count, BYZGD_GAR_RULE_COUNT);
}

static const byzgd_test_case_t cases[] = {
    TEST_CASE(golden_average_median_trimmed_meamed),
    TEST_CASE(golden_krum_line),
    TEST_CASE(golden_medoid_and_mda),
    TEST_CASE(golden_bulyan),
    TEST_CASE(golden_geomed_and_cclip),
    TEST_CASE_TIMEOUT(random_inputs_match_references, 240),
    TEST_CASE(coordinate_rules_large_n_fallback),
    TEST_CASE(krum_large_n_unsegmented),
    TEST_CASE(row_order),
    TEST_CASE(multi_krum_m1_equals_krum),
    TEST_CASE(krum_picks_honest_rows),
    TEST_CASE(trimmed_mean_f0_is_mean),
    TEST_CASE(precondition_errors),
    TEST_CASE(non_finite_rows_every_rule),
    TEST_CASE(huge_finite_values_stay_finite),
    TEST_CASE(distances_near_identical_rows_are_accurate),
    TEST_CASE(distances_of_close_rows_far_from_the_mean_are_accurate),
    TEST_CASE(duplicate_rows_tie_exactly),
    TEST_CASE(duplicate_rows_tie_in_every_distance_kernel),
    TEST_CASE(deterministic_and_reusable),
    TEST_CASE(one_p_krum_choice),
    TEST_CASE(pre_aggregators),
    TEST_CASE(pre_aggregators_with_every_rule),
    TEST_CASE(cclip_given_centre_and_options),
    TEST_CASE(config_parsing),
};
BYZGD_TEST_MAIN(cases)

/*  test_resilience.c — the live estimate of Proposition 1's condition: η(n, f) against
    hand-computed values, the spread estimate on Gaussian rows, its bounds under Byzantine
    rows that try to shrink or inflate it, the ratio, non-finite rows and errors. */
#include "rules/resilience.h"
#include "support/rng.h"
#include "test.h"

#include <math.h>
#include <stdlib.h>

#define D 4000
#define N 20

// n rows of D floats: row i = g + σ · N(0, I), g = (mean, …, mean).
static float *
s_gaussian_rows(size_t n, double mean, double sigma, uint64_t seed)
{
    float *rows = malloc(n * D * sizeof *rows);
    ASSERT(rows);
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, seed, 0);
    for (size_t i = 0; i < n * D; i++)
        rows[i] = (float)(mean + sigma * byzgd_rng_gaussian(&rng));
    return rows;
}

static void
s_fill(float *row, float value)
{
    for (size_t k = 0; k < D; k++)
        row[k] = value;
}

TEST(eta_matches_hand_computed_values)
{
    // η² = 2 (n − f + (f (n − f − 2) + f² (n − f − 1)) / (n − 2f − 2))
    ASSERT_NEAR(byzgd_resilience_eta(20, 6), sqrt(208.0), 1e-12); // 2 (14 + 540 / 6)
    ASSERT_NEAR(byzgd_resilience_eta(20, 8), sqrt(808.0), 1e-12); // 2 (12 + 784 / 2)
    ASSERT_NEAR(byzgd_resilience_eta(5, 1), sqrt(18.0), 1e-12);   // 2 (4 + 5 / 1)
    ASSERT_NEAR(byzgd_resilience_eta(20, 0), sqrt(40.0), 1e-12);  // f = 0: 2 n
    ASSERT(isnan(byzgd_resilience_eta(20, 9)));                   // 2f + 2 = 20, not < n
    ASSERT(isnan(byzgd_resilience_eta(4, 1)));
}

TEST(spread_of_gaussian_rows_is_sigma)
{
    float *rows = s_gaussian_rows(N, 0.3, 0.5, 1);
    float aggregate[D];
    s_fill(aggregate, 0.3f);
    byzgd_resilience_t estimate;
    ASSERT_EQ_INT(byzgd_resilience_estimate(&estimate, rows, N, D, 6, aggregate), 0);
    ASSERT_EQ_INT(estimate.rows, N);
    ASSERT_NEAR(estimate.sigma, 0.5, 0.5 * 0.03);
    ASSERT_NEAR(estimate.eta, sqrt(208.0), 1e-12);
    ASSERT_NEAR(estimate.bound, estimate.eta * sqrt((double)D) * estimate.sigma, 1e-9);
    ASSERT_NEAR(estimate.aggregate_norm, 0.3 * sqrt((double)D), 1e-3);
    ASSERT_NEAR(estimate.ratio, estimate.bound / estimate.aggregate_norm, 1e-12);
    free(rows);
}

TEST(byzantine_rows_cannot_shrink_the_spread)
{
    // Six attackers sit exactly on the honest mean (the closest a row can be to all the
    // others): a plain median of the 190 pairwise distances would fall to ~half of 2dσ²'s
    // neighbourhood; S_n stays within the honest distances.
    float *rows = s_gaussian_rows(N, 0, 1, 2);
    for (size_t i = N - 6; i < N; i++)
        s_fill(rows + i * D, 0);
    float aggregate[D];
    s_fill(aggregate, 1);
    byzgd_resilience_t estimate;
    ASSERT_EQ_INT(byzgd_resilience_estimate(&estimate, rows, N, D, 6, aggregate), 0);
    ASSERT_MSG(estimate.sigma > 0.75 && estimate.sigma < 1.05, "sigma %g", estimate.sigma);
    free(rows);
}

TEST(byzantine_rows_cannot_inflate_the_spread)
{
    float *rows = s_gaussian_rows(N, 0, 1, 3);
    for (size_t i = 0; i < 6; i++)
        s_fill(rows + i * D, (float)(1e6 * (i + 1)));
    float aggregate[D];
    s_fill(aggregate, 1);
    byzgd_resilience_t estimate;
    ASSERT_EQ_INT(byzgd_resilience_estimate(&estimate, rows, N, D, 6, aggregate), 0);
    ASSERT_MSG(estimate.sigma > 0.95 && estimate.sigma < 1.3, "sigma %g", estimate.sigma);
    free(rows);
}

TEST(ratio_below_one_when_the_gradient_dominates)
{
    // η(20, 6) √d σ ≈ 14.4 · 63.2 · 0.01 ≈ 9.1 < ‖g‖ = 0.5 · 63.2 ≈ 31.6.
    float *rows = s_gaussian_rows(N, 0.5, 0.01, 4);
    float aggregate[D];
    s_fill(aggregate, 0.5f);
    byzgd_resilience_t estimate;
    ASSERT_EQ_INT(byzgd_resilience_estimate(&estimate, rows, N, D, 6, aggregate), 0);
    ASSERT_MSG(estimate.ratio > 0.25 && estimate.ratio < 0.33, "ratio %g", estimate.ratio);
    // The same rows with ten times the noise: the condition no longer holds.
    free(rows);
    rows = s_gaussian_rows(N, 0.5, 0.1, 4);
    ASSERT_EQ_INT(byzgd_resilience_estimate(&estimate, rows, N, D, 6, aggregate), 0);
    ASSERT_MSG(estimate.ratio > 2.5 && estimate.ratio < 3.3, "ratio %g", estimate.ratio);
    free(rows);
}

TEST(non_finite_rows_are_skipped)
{
    float *rows = s_gaussian_rows(N, 0, 1, 5);
    rows[3 * D + 7] = NAN;
    rows[5 * D] = INFINITY;
    float aggregate[D];
    s_fill(aggregate, 1);
    byzgd_resilience_t estimate;
    ASSERT_EQ_INT(byzgd_resilience_estimate(&estimate, rows, N, D, 2, aggregate), 0);
    ASSERT_EQ_INT(estimate.rows, N - 2);
    ASSERT_NEAR(estimate.eta, byzgd_resilience_eta(N - 2, 2), 1e-12);
    ASSERT(isfinite(estimate.sigma));
    free(rows);
}

TEST(undefined_eta_and_errors)
{
    float *rows = s_gaussian_rows(N, 0, 1, 6);
    float aggregate[D];
    s_fill(aggregate, 0);
    byzgd_resilience_t estimate;
    // f = 9 of 20: Proposition 1 does not apply; the spread is still reported.
    ASSERT_EQ_INT(byzgd_resilience_estimate(&estimate, rows, N, D, 9, aggregate), 0);
    ASSERT(isnan(estimate.eta) && isnan(estimate.bound) && isnan(estimate.ratio));
    ASSERT(isfinite(estimate.sigma));
    // A zero aggregate with a defined η: the ratio is +Inf.
    ASSERT_EQ_INT(byzgd_resilience_estimate(&estimate, rows, N, D, 6, aggregate), 0);
    ASSERT(isinf(estimate.ratio) && estimate.ratio > 0);
    ASSERT_EQ_INT(byzgd_resilience_estimate(&estimate, rows, 1, D, 0, aggregate), -1);
    ASSERT(isnan(estimate.sigma));
    aggregate[0] = NAN;
    ASSERT_EQ_INT(byzgd_resilience_estimate(&estimate, rows, N, D, 6, aggregate), -1);
    ASSERT_EQ_INT(byzgd_resilience_estimate(&estimate, rows, N, 0, 6, aggregate), -1);
    free(rows);
}

static const byzgd_test_case_t cases[] = {
    TEST_CASE(eta_matches_hand_computed_values),
    TEST_CASE(spread_of_gaussian_rows_is_sigma),
    TEST_CASE(byzantine_rows_cannot_shrink_the_spread),
    TEST_CASE(byzantine_rows_cannot_inflate_the_spread),
    TEST_CASE(ratio_below_one_when_the_gradient_dominates),
    TEST_CASE(non_finite_rows_are_skipped),
    TEST_CASE(undefined_eta_and_errors),
};
BYZGD_TEST_MAIN(cases)

/*  test_attack_vs_gar.c — property tests of the attacks against the aggregation rules, on
    synthetic gradients: n = 20 workers of which f = 6 attack (the paper's 33 %), honest
    proposals g + N(0, s²) per coordinate around a true gradient g. Each property holds
    over many seeds, not one lucky draw. */
#include "learning/attack.h"
#include "rules/gar.h"
#include "rules/gar_options.h"
#include "support/rng.h"
#include "test.h"

enum { N = 20, F = 6, D = 100, TRIALS = 25 };
#define HONEST_SPREAD 0.5 // s: per-coordinate standard deviation of honest gradients

typedef struct {
    float rows[N][D]; // rows 0 .. N-F-1 honest, the last F Byzantine
    float truth[D];   // the true gradient g
    byzgd_gar_result_t *result;
} s_round_t;

// A true gradient of norm ~sqrt(D) and N - F honest proposals around it.
static void
s_honest(s_round_t *round, uint64_t seed)
{
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, seed, 1000);
    for (int j = 0; j < D; j++)
        round->truth[j] = (float)(1.0 + 0.5 * byzgd_rng_gaussian(&rng));
    for (int i = 0; i < N - F; i++)
        for (int j = 0; j < D; j++)
            round->rows[i][j] = (float)(round->truth[j] + HONEST_SPREAD * byzgd_rng_gaussian(&rng));
}

/* Fills the F Byzantine rows as byzgd-byzantine would: each attacker i (worker index
   N - F + i) computes the inputs its attack needs from its own draws of the honest
   distribution (the omniscient assumption: it can sample the training data itself). */
static void
s_byzantine(s_round_t *round, byzgd_attack_config_t *config, uint64_t seed)
{
    byzgd_attack_moments_t *moments = byzgd_attack_moments_new(D);
    float own[D], mean[D], stddev[D];
    for (int b = 0; b < F; b++) {
        config->seed = seed;
        config->worker_index = (size_t)(N - F + b);
        unsigned needs = byzgd_attack_needs(config);
        byzgd_rng_t rng;
        byzgd_attack_sampling_rng(config, seed, &rng);
        if (needs & BYZGD_ATTACK_NEEDS_OWN_GRADIENT)
            for (int j = 0; j < D; j++)
                own[j] = (float)(round->truth[j] + HONEST_SPREAD * byzgd_rng_gaussian(&rng));
        if (needs & BYZGD_ATTACK_NEEDS_MOMENTS) {
            byzgd_attack_moments_reset(moments);
            for (size_t k = 0; k < config->estimate_batches; k++) {
                float sample[D];
                for (int j = 0; j < D; j++)
                    sample[j] = (float)(round->truth[j] + HONEST_SPREAD * byzgd_rng_gaussian(&rng));
                byzgd_attack_moments_add(moments, sample);
            }
            byzgd_attack_moments_finish(moments, mean, stddev);
        }
        byzgd_attack_input_t input = {.own_gradient = own,
                                      .full_gradient = round->truth, // the exact true gradient
                                      .mean = mean,
                                      .stddev = stddev,
                                      .n = N,
                                      .f = F,
                                      .round = seed};
        char error[256] = "";
        int rc = byzgd_attack_apply(config, round->rows[N - F + b], &input, D, error, sizeof error);
        ASSERT_MSG(rc == 0, "attack: %s", error);
    }
    byzgd_attack_moments_destroy(&moments);
}

static void
s_aggregate(s_round_t *round, const char *rule)
{
    byzgd_gar_config_t config;
    byzgd_gar_config_init(&config);
    char error[256] = "";
    ASSERT_EQ_INT(byzgd_gar_config_parse_option(&config, "rule", rule, error, sizeof error), 0);
    ASSERT_EQ_INT(byzgd_gar_config_parse_option(&config, "f", "6", error, sizeof error), 0);
    int rc = byzgd_gar_apply(&config, round->result, &round->rows[0][0], N, D, error, sizeof error);
    ASSERT_MSG(rc == 0, "%s: %s", rule, error);
}

// ‖aggregate − g‖ / ‖g‖ and the cosine between aggregate and g.
static void
s_quality(const s_round_t *round, double *relative_error, double *cosine)
{
    double error_sq = 0, truth_sq = 0, aggregate_sq = 0, dot = 0;
    const float *a = round->result->aggregate;
    for (int j = 0; j < D; j++) {
        double difference = (double)a[j] - round->truth[j];
        error_sq += difference * difference;
        truth_sq += (double)round->truth[j] * round->truth[j];
        aggregate_sq += (double)a[j] * a[j];
        dot += (double)a[j] * round->truth[j];
    }
    *relative_error = sqrt(error_sq / truth_sq);
    *cosine = dot / sqrt(truth_sq * aggregate_sq);
}

static s_round_t *
s_round_new(void)
{
    s_round_t *round = calloc(1, sizeof *round);
    ASSERT(round);
    round->result = byzgd_gar_result_new(N, D);
    ASSERT(round->result);
    return round;
}

static void
s_round_destroy(s_round_t **round_p)
{
    byzgd_gar_result_destroy(&(*round_p)->result);
    free(*round_p);
    *round_p = NULL;
}

static byzgd_attack_config_t
s_attack(const char *name)
{
    byzgd_attack_config_t config;
    byzgd_attack_config_init(&config);
    char error[256];
    ASSERT_EQ_INT(byzgd_attack_config_parse_option(&config, "attack", name, error, sizeof error),
                  0);
    ASSERT_EQ_INT(byzgd_attack_config_check(&config, N, F, error, sizeof error), 0);
    return config;
}

// Krum picks an honest row in every trial.
static void
s_assert_krum_selects_honest(s_round_t *round, const char *attack)
{
    ASSERT_EQ_INT(round->result->selected_count, 1);
    ASSERT_MSG(round->result->selected[0] < N - F, "%s: krum selected Byzantine row %zu", attack,
               round->result->selected[0]);
}

TEST(gaussian_breaks_average_not_krum)
{
    // The paper's Figure 5 setting in miniature: variance 200 against spread 0.5.
    s_round_t *round = s_round_new();
    byzgd_attack_config_t attack = s_attack("gaussian");
    int average_broken = 0;
    for (uint64_t trial = 1; trial <= TRIALS; trial++) {
        s_honest(round, trial);
        s_byzantine(round, &attack, trial);
        double relative_error, cosine;
        s_aggregate(round, "average");
        s_quality(round, &relative_error, &cosine);
        average_broken += relative_error > 1.0; // the error outweighs the gradient itself
        s_aggregate(round, "krum");
        s_assert_krum_selects_honest(round, "gaussian");
        s_quality(round, &relative_error, &cosine);
        ASSERT_MSG(relative_error < 0.6 && cosine > 0.8, "krum: error %.3f cosine %.3f",
                   relative_error, cosine);
    }
    ASSERT_EQ_INT(average_broken, TRIALS);
    s_round_destroy(&round);
}

TEST(omniscient_reverses_average_not_krum)
{
    s_round_t *round = s_round_new();
    byzgd_attack_config_t attack = s_attack("omniscient"); // κ = 10 > (n − f)/f
    for (uint64_t trial = 1; trial <= TRIALS; trial++) {
        s_honest(round, trial);
        s_byzantine(round, &attack, trial);
        double relative_error, cosine;
        s_aggregate(round, "average");
        s_quality(round, &relative_error, &cosine);
        ASSERT_MSG(cosine < -0.9, "average should point backwards, cosine %.3f", cosine);
        const char *rules[] = {"krum", "multi-krum", "medoid"};
        for (int r = 0; r < 3; r++) {
            s_aggregate(round, rules[r]);
            s_quality(round, &relative_error, &cosine);
            ASSERT_MSG(cosine > 0.8, "%s: cosine %.3f", rules[r], cosine);
            for (size_t k = 0; k < round->result->selected_count; k++)
                ASSERT_MSG(round->result->selected[k] < N - F, "%s selected row %zu", rules[r],
                           round->result->selected[k]);
        }
    }
    s_round_destroy(&round);
}

TEST(alie_is_selected_by_krum)
{
    // ALIE's point (Baruch et al.): μ − zσ with z for (20, 6) sits closer to the honest
    // rows than they are to each other, and the colluders agree, so Krum picks it.
    s_round_t *round = s_round_new();
    byzgd_attack_config_t attack = s_attack("alie");
    int byzantine_selected = 0;
    for (uint64_t trial = 1; trial <= TRIALS; trial++) {
        s_honest(round, trial);
        s_byzantine(round, &attack, trial);
        for (int b = 1; b < F; b++) // colluders: bit-identical rows
            ASSERT(memcmp(round->rows[N - F], round->rows[N - F + b], sizeof round->rows[0]) == 0);
        s_aggregate(round, "krum");
        byzantine_selected += round->result->selected[0] >= N - F;
    }
    ASSERT_MSG(byzantine_selected == TRIALS, "krum picked ALIE in %d of %d trials",
               byzantine_selected, TRIALS);
    s_round_destroy(&round);
}

TEST(nonfinite_rows_dropped)
{
    s_round_t *round = s_round_new();
    const char *attacks[] = {"nan", "inf"};
    for (int a = 0; a < 2; a++) {
        byzgd_attack_config_t attack = s_attack(attacks[a]);
        s_honest(round, 7);
        s_byzantine(round, &attack, 7);
        // Krum is absent: 14 finite rows do not meet its 2f + 2 < n with f = 6.
        const char *rules[] = {"average", "median"};
        for (int r = 0; r < 2; r++) {
            s_aggregate(round, rules[r]);
            ASSERT_EQ_INT(round->result->dropped, F);
            for (int j = 0; j < D; j++)
                ASSERT_MSG(isfinite(round->result->aggregate[j]), "%s/%s: coordinate %d",
                           attacks[a], rules[r], j);
        }
    }
    s_round_destroy(&round);
}

static const byzgd_test_case_t cases[] = {
    TEST_CASE(gaussian_breaks_average_not_krum),
    TEST_CASE(omniscient_reverses_average_not_krum),
    TEST_CASE(alie_is_selected_by_krum),
    TEST_CASE(nonfinite_rows_dropped),
};
BYZGD_TEST_MAIN(cases)

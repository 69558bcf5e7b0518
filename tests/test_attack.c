/*  test_attack.c — attack vectors on hand-checked inputs, option parsing, ALIE's z and the
    normal quantile, the moments accumulator, determinism and collusion. */
#include "learning/attack.h"
#include "support/rng.h"
#include "test.h"

#include <stdint.h>

static byzgd_attack_config_t
s_config(const char *attack)
{
    byzgd_attack_config_t config;
    byzgd_attack_config_init(&config);
    char error[256];
    int rc = byzgd_attack_config_parse_option(&config, "--attack", attack, error, sizeof error);
    ASSERT_MSG(rc == 0, "--attack %s: %s", attack, error);
    return config;
}

static void
s_parse_ok(byzgd_attack_config_t *config, const char *name, const char *value)
{
    char error[256] = "";
    int rc = byzgd_attack_config_parse_option(config, name, value, error, sizeof error);
    ASSERT_MSG(rc == 0, "--%s %s returned %d: %s", name, value ? value : "(null)", rc, error);
}

// Expects a parse error whose message contains `needle`.
static void
s_parse_fails(byzgd_attack_config_t *config, const char *name, const char *value,
              const char *needle)
{
    char error[256] = "";
    int rc = byzgd_attack_config_parse_option(config, name, value, error, sizeof error);
    ASSERT_MSG(rc == -1, "--%s %s returned %d, expected -1", name, value ? value : "(null)", rc);
    ASSERT_STR_CONTAINS(error, needle);
}

static double
s_normal_cdf(double x)
{
    return 0.5 * erfc(-x / sqrt(2.0));
}

TEST(names_round_trip)
{
    for (int k = 0; k < BYZGD_ATTACK_KIND_COUNT; k++) {
        byzgd_attack_kind_t kind = BYZGD_ATTACK_KIND_COUNT;
        const char *name = byzgd_attack_kind_name((byzgd_attack_kind_t)k);
        ASSERT(name != NULL);
        ASSERT_EQ_INT(byzgd_attack_kind_from_name(name, &kind), 0);
        ASSERT_EQ_INT(kind, k);
    }
    for (int k = 0; k < BYZGD_MISBEHAVE_KIND_COUNT; k++) {
        byzgd_misbehaviour_t mode = BYZGD_MISBEHAVE_KIND_COUNT;
        const char *name = byzgd_misbehaviour_name((byzgd_misbehaviour_t)k);
        ASSERT(name != NULL);
        ASSERT_EQ_INT(byzgd_misbehaviour_from_name(name, &mode), 0);
        ASSERT_EQ_INT(mode, k);
    }
    byzgd_misbehaviour_t alias = BYZGD_MISBEHAVE_NONE;
    ASSERT_EQ_INT(byzgd_misbehaviour_from_name("wrong-dim", &alias), 0);
    ASSERT_EQ_INT(alias, BYZGD_MISBEHAVE_WRONG_DIMENSION);
    ASSERT_EQ_INT(byzgd_misbehaviour_from_name("silent", &alias), 0);
    ASSERT_EQ_INT(alias, BYZGD_MISBEHAVE_SILENCE);
    ASSERT_EQ_INT(byzgd_misbehaviour_from_name("wrong", &alias), -1);
    byzgd_attack_kind_t kind;
    ASSERT_EQ_INT(byzgd_attack_kind_from_name("krum", &kind), -1);
    ASSERT_EQ_INT(byzgd_attack_kind_from_name(NULL, &kind), -1);
    ASSERT(byzgd_attack_kind_name(BYZGD_ATTACK_KIND_COUNT) == NULL);
    ASSERT(byzgd_misbehaviour_name(BYZGD_MISBEHAVE_KIND_COUNT) == NULL);
    ASSERT_STR_EQ(byzgd_attack_kind_name(BYZGD_ATTACK_ALIE), "alie");
    ASSERT_STR_EQ(byzgd_misbehaviour_name(BYZGD_MISBEHAVE_WRONG_DIMENSION), "wrong-dimension");
}

TEST(parse_defaults_and_values)
{
    byzgd_attack_config_t config;
    byzgd_attack_config_init(&config);
    ASSERT_EQ_INT(config.kind, BYZGD_ATTACK_NONE);
    ASSERT_NEAR(config.gaussian_sigma * config.gaussian_sigma, 200.0, 1e-9); // the paper's
    ASSERT_EQ_INT(config.misbehaviour, BYZGD_MISBEHAVE_NONE);

    s_parse_ok(&config, "--attack", "gaussian");
    ASSERT_EQ_INT(config.kind, BYZGD_ATTACK_GAUSSIAN);
    s_parse_ok(&config, "sigma", "3");
    ASSERT_NEAR(config.gaussian_sigma, 3.0, 0);
    s_parse_ok(&config, "--sigma", "2.5"); // repeating the same flag overrides
    ASSERT_NEAR(config.gaussian_sigma, 2.5, 0);

    byzgd_attack_config_init(&config);
    s_parse_ok(&config, "--variance", "16");
    ASSERT_NEAR(config.gaussian_sigma, 4.0, 1e-12);
    s_parse_ok(&config, "--kappa", "1e3");
    ASSERT_NEAR(config.kappa, 1000.0, 0);
    s_parse_ok(&config, "--z", "-0.5");
    ASSERT(config.alie_z_given);
    ASSERT_NEAR(config.alie_z, -0.5, 0);
    s_parse_ok(&config, "--epsilon", "0.25");
    ASSERT_NEAR(config.ipm_epsilon, 0.25, 0);
    s_parse_ok(&config, "--signflip-scale", "4");
    ASSERT_NEAR(config.signflip_scale, 4.0, 0);
    s_parse_ok(&config, "--estimate-batches", "12");
    ASSERT_EQ_INT(config.estimate_batches, 12);
    s_parse_ok(&config, "--full-examples", "5000");
    ASSERT_EQ_INT(config.full_examples, 5000);
    s_parse_ok(&config, "--attack-seed", "18446744073709551615");
    ASSERT(config.seed == UINT64_MAX && config.seed_given);
    s_parse_ok(&config, "--misbehave", "stale");
    ASSERT_EQ_INT(config.misbehaviour, BYZGD_MISBEHAVE_STALE);
    s_parse_ok(&config, "--stale-rounds", "3");
    ASSERT_EQ_INT(config.stale_rounds, 3);
    s_parse_ok(&config, "--misbehave-every", "5");
    ASSERT_EQ_INT(config.misbehave_every, 5);
    s_parse_ok(&config, "--slow-ms", "250");
    ASSERT_EQ_INT(config.slow_ms, 250);
    s_parse_ok(&config, "--oversized-bytes", "1000");
    ASSERT_EQ_INT(config.oversized_bytes, 1000);
    s_parse_ok(&config, "--garbage-bytes", "13");
    ASSERT_EQ_INT(config.garbage_bytes, 13);

    // Not an attack option: 1, config untouched.
    byzgd_attack_config_t before = config;
    char error[64] = "";
    ASSERT_EQ_INT(
        byzgd_attack_config_parse_option(&config, "--batch-size", "3", error, sizeof error), 1);
    ASSERT(memcmp(&before, &config, sizeof config) == 0);
    ASSERT_STR_EQ(error, "");
}

TEST(parse_errors)
{
    byzgd_attack_config_t config;
    byzgd_attack_config_init(&config);
    s_parse_fails(&config, "attack", "krum", "unknown attack 'krum'");
    s_parse_fails(&config, "attack", NULL, "--attack: '' is not a name");
    s_parse_fails(&config, "sigma", "-1", "--sigma: -1 is outside [0,");
    s_parse_fails(&config, "variance", "-200", "--variance: -200 is outside [0,");
    s_parse_fails(&config, "sigma", "nan", "--sigma: 'nan' is not a number");
    s_parse_fails(&config, "sigma", "1e400", "is not a number");
    s_parse_fails(&config, "sigma", "3x", "is not a number");
    s_parse_fails(&config, "sigma", "", "is not a number");
    s_parse_fails(&config, "kappa", "0", "must be positive");
    s_parse_fails(&config, "epsilon", "-0.1", "must be positive");
    s_parse_fails(&config, "estimate-batches", "1", "outside [2,");
    s_parse_fails(&config, "estimate-batches", "-3", "outside [2,");
    s_parse_fails(&config, "estimate-batches", " 3", "is not an integer");
    s_parse_fails(&config, "attack-seed", "18446744073709551616", "is not an integer");
    s_parse_fails(&config, "misbehave-every", "0", "outside [1,");
    s_parse_fails(&config, "collude", "maybe", "not yes, no or auto");
    s_parse_fails(&config, "misbehave", "loud", "unknown misbehaviour 'loud'");
    // Failed parses leave the defaults.
    ASSERT_NEAR(config.gaussian_sigma * config.gaussian_sigma, 200.0, 1e-9);
    ASSERT_EQ_INT(config.estimate_batches, 8);

    // --sigma and --variance are exclusive, in either order.
    s_parse_ok(&config, "sigma", "3");
    s_parse_fails(&config, "variance", "9", "not both");
    byzgd_attack_config_init(&config);
    s_parse_ok(&config, "variance", "9");
    s_parse_fails(&config, "sigma", "3", "not both");
    ASSERT_NEAR(config.gaussian_sigma, 3.0, 1e-12);
}

TEST(usage_lists_only_real_options)
{
    // Every option of the attack sections must be understood by the parser.
    const byzgd_option_section_t *const sections[] = {&byzgd_attack_option_section,
                                                      &byzgd_misbehaviour_option_section};
    int seen = 0;
    for (size_t s = 0; s < 2; s++)
        for (size_t i = 0; i < sections[s]->count; i++) {
            const char *name = sections[s]->options[i].name;
            byzgd_attack_config_t config;
            byzgd_attack_config_init(&config);
            char error[256];
            int rc = byzgd_attack_config_parse_option(&config, name, "1", error, sizeof error);
            ASSERT_MSG(rc != 1, "the table lists --%s but the parser does not know it", name);
            seen++;
        }
    ASSERT(seen >= 17);
}

TEST(collude_defaults_and_check)
{
    byzgd_attack_config_t config = s_config("alie");
    ASSERT(byzgd_attack_colludes(&config));
    config = s_config("ipm");
    ASSERT(byzgd_attack_colludes(&config));
    config = s_config("mimic");
    ASSERT(byzgd_attack_colludes(&config));
    config = s_config("gaussian");
    ASSERT(!byzgd_attack_colludes(&config));
    s_parse_ok(&config, "collude", "yes");
    ASSERT(byzgd_attack_colludes(&config));
    s_parse_ok(&config, "collude", "auto");
    ASSERT(!byzgd_attack_colludes(&config));
    s_parse_ok(&config, "collude", "on");
    ASSERT(byzgd_attack_colludes(&config));
    s_parse_fails(&config, "collude", NULL, "--collude: '' is not a name"); // no bare flag

    char error[256] = "";
    config = s_config("mimic");
    ASSERT_EQ_INT(byzgd_attack_config_check(&config, 20, 6, error, sizeof error), 0);
    s_parse_ok(&config, "collude", "no");
    ASSERT(!byzgd_attack_colludes(&config));
    ASSERT_EQ_INT(byzgd_attack_config_check(&config, 20, 6, error, sizeof error), -1);
    ASSERT_STR_CONTAINS(error, "mimic");

    config = s_config("alie");
    ASSERT_EQ_INT(byzgd_attack_config_check(&config, 20, 6, error, sizeof error), 0);
    // n = 10, f = 6: s = 6 - 6 = 0, so (n - s)/n = 1 and z is infinite.
    ASSERT_EQ_INT(byzgd_attack_config_check(&config, 10, 6, error, sizeof error), -1);
    ASSERT_STR_CONTAINS(error, "give --z");
    s_parse_ok(&config, "z", "1.5");
    ASSERT_EQ_INT(byzgd_attack_config_check(&config, 10, 6, error, sizeof error), 0);
    ASSERT_EQ_INT(byzgd_attack_config_check(&config, 5, 6, error, sizeof error), -1);
    ASSERT_EQ_INT(byzgd_attack_config_check(&config, 0, 0, error, sizeof error), -1);
}

TEST(needs_masks)
{
    static const struct {
        const char *attack;
        unsigned needs;
        bool training_set; // by default (alie, ipm and mimic collude)
    } table[] = {
        {"none", BYZGD_ATTACK_NEEDS_OWN_GRADIENT, false},
        {"gaussian", 0, false},
        {"omniscient", BYZGD_ATTACK_NEEDS_FULL_GRADIENT, true},
        {"signflip", BYZGD_ATTACK_NEEDS_OWN_GRADIENT, false},
        {"alie", BYZGD_ATTACK_NEEDS_MOMENTS, true},
        {"ipm", BYZGD_ATTACK_NEEDS_MOMENTS, true},
        {"labelflip", BYZGD_ATTACK_NEEDS_FLIPPED_GRADIENT, false},
        {"mimic", BYZGD_ATTACK_NEEDS_OWN_GRADIENT, true},
        {"zero", 0, false},
        {"nan", 0, false},
        {"inf", 0, false},
    };
    ASSERT_EQ_INT(sizeof table / sizeof table[0], BYZGD_ATTACK_KIND_COUNT);
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        byzgd_attack_config_t config = s_config(table[i].attack);
        ASSERT_MSG(byzgd_attack_needs(&config) == table[i].needs, "%s: needs 0x%x, expected 0x%x",
                   table[i].attack, byzgd_attack_needs(&config), table[i].needs);
        ASSERT_MSG(byzgd_attack_needs_training_set(&config) == table[i].training_set, "%s",
                   table[i].attack);
        // Colluding draws come from the whole set; an attack that draws nothing needs none.
        config.collude = 1;
        ASSERT_EQ_INT(byzgd_attack_needs_training_set(&config), table[i].needs != 0);
        config.collude = 0;
        ASSERT_EQ_INT(byzgd_attack_needs_training_set(&config),
                      table[i].needs == BYZGD_ATTACK_NEEDS_FULL_GRADIENT);
    }
}

// Applies `config` and expects success.
static void
s_apply(const byzgd_attack_config_t *config, float *out, const byzgd_attack_input_t *input,
        size_t d)
{
    char error[256] = "";
    int rc = byzgd_attack_apply(config, out, input, d, error, sizeof error);
    ASSERT_MSG(rc == 0, "%s: %s", byzgd_attack_kind_name(config->kind), error);
}

static void
s_assert_vector(const float *actual, const float *expected, size_t d, double tolerance)
{
    for (size_t i = 0; i < d; i++)
        ASSERT_MSG(fabs((double)actual[i] - (double)expected[i]) <= tolerance,
                   "coordinate %zu: %.9g != %.9g", i, actual[i], expected[i]);
}

TEST(vectors_hand_checked)
{
    const float own[3] = {1.0f, -2.0f, 0.5f};
    const float full[3] = {0.5f, 0.25f, -4.0f};
    const float mean[3] = {1.0f, 2.0f, -1.0f};
    const float stddev[3] = {2.0f, 0.5f, 0.0f};
    const float flipped[3] = {7.0f, 8.0f, 9.0f};
    const byzgd_attack_input_t input = {.own_gradient = own,
                                        .full_gradient = full,
                                        .mean = mean,
                                        .stddev = stddev,
                                        .flipped_gradient = flipped,
                                        .n = 20,
                                        .f = 6,
                                        .round = 3};
    float out[3];

    byzgd_attack_config_t config = s_config("none");
    s_apply(&config, out, &input, 3);
    s_assert_vector(out, own, 3, 0);

    config = s_config("omniscient"); // default κ = 10
    s_apply(&config, out, &input, 3);
    s_assert_vector(out, (const float[]){-5.0f, -2.5f, 40.0f}, 3, 0);
    s_parse_ok(&config, "kappa", "3");
    s_apply(&config, out, &input, 3);
    s_assert_vector(out, (const float[]){-1.5f, -0.75f, 12.0f}, 3, 0);

    config = s_config("signflip");
    s_apply(&config, out, &input, 3);
    s_assert_vector(out, (const float[]){-1.0f, 2.0f, -0.5f}, 3, 0);
    s_parse_ok(&config, "signflip-scale", "2");
    s_apply(&config, out, &input, 3);
    s_assert_vector(out, (const float[]){-2.0f, 4.0f, -1.0f}, 3, 0);

    config = s_config("ipm");
    s_parse_ok(&config, "epsilon", "0.5");
    s_apply(&config, out, &input, 3);
    s_assert_vector(out, (const float[]){-0.5f, -1.0f, 0.5f}, 3, 0);

    config = s_config("alie");
    s_parse_ok(&config, "z", "1.5");
    s_apply(&config, out, &input, 3);
    s_assert_vector(out, (const float[]){-2.0f, 1.25f, -1.0f}, 3, 0);

    // z from n = 20, f = 6: s = 11 - 6 = 5, z = Φ⁻¹(15/20) = 0.6744897502.
    config = s_config("alie");
    s_apply(&config, out, &input, 3);
    s_assert_vector(
        out,
        (const float[]){(float)(1.0 - 2 * 0.6744897502), (float)(2.0 - 0.5 * 0.6744897502), -1.0f},
        3, 1e-6);

    config = s_config("labelflip");
    s_apply(&config, out, &input, 3);
    s_assert_vector(out, flipped, 3, 0);

    config = s_config("mimic");
    s_apply(&config, out, &input, 3);
    s_assert_vector(out, own, 3, 0);

    config = s_config("zero");
    s_apply(&config, out, &input, 3);
    s_assert_vector(out, (const float[]){0, 0, 0}, 3, 0);
    ASSERT(!signbit(out[0]) && !signbit(out[2]));

    config = s_config("nan");
    s_apply(&config, out, &input, 3);
    for (int i = 0; i < 3; i++)
        ASSERT(isnan(out[i]));
}

TEST(inf_positions)
{
    byzgd_attack_config_t config = s_config("inf");
    const byzgd_attack_input_t input = {.n = 20, .f = 6};
    float out[7];
    for (size_t d = 1; d <= 7; d++) {
        for (size_t i = 0; i < 7; i++)
            out[i] = 5.0f;
        s_apply(&config, out, &input, d);
        for (size_t i = 0; i < d; i++) {
            bool expect_inf = i == 0 || i == d / 2 || i == d - 1;
            ASSERT_MSG(expect_inf ? (isinf(out[i]) && out[i] > 0) : out[i] == 0.0f,
                       "d=%zu coordinate %zu is %g", d, i, out[i]);
        }
        for (size_t i = d; i < 7; i++)
            ASSERT(out[i] == 5.0f); // nothing written past d
    }
}

TEST(apply_in_place)
{
    float vector[4] = {1, 2, 3, 4};
    byzgd_attack_input_t input = {.own_gradient = vector, .mean = vector, .n = 20, .f = 6};
    byzgd_attack_config_t config = s_config("signflip");
    s_apply(&config, vector, &input, 4);
    s_assert_vector(vector, (const float[]){-1, -2, -3, -4}, 4, 0);
    config = s_config("ipm");
    s_parse_ok(&config, "epsilon", "2");
    s_apply(&config, vector, &input, 4);
    s_assert_vector(vector, (const float[]){2, 4, 6, 8}, 4, 0);
}

TEST(missing_inputs_are_errors)
{
    const char *attacks[] = {"none", "omniscient", "signflip", "alie", "ipm", "labelflip", "mimic"};
    const byzgd_attack_input_t empty = {.n = 20, .f = 6};
    float out[2];
    for (size_t i = 0; i < sizeof attacks / sizeof attacks[0]; i++) {
        byzgd_attack_config_t config = s_config(attacks[i]);
        char error[256] = "";
        ASSERT_EQ_INT(byzgd_attack_apply(&config, out, &empty, 2, error, sizeof error), -1);
        ASSERT_STR_CONTAINS(error, "was not computed");
    }
    // ALIE with the mean but no standard deviation; and with an undefined z.
    const float mean[2] = {1, 2};
    byzgd_attack_input_t input = {.mean = mean, .n = 20, .f = 6};
    byzgd_attack_config_t config = s_config("alie");
    char error[256] = "";
    ASSERT_EQ_INT(byzgd_attack_apply(&config, out, &input, 2, error, sizeof error), -1);
    ASSERT_STR_CONTAINS(error, "stddev");
    input.stddev = mean;
    input.n = 10;
    ASSERT_EQ_INT(byzgd_attack_apply(&config, out, &input, 2, error, sizeof error), -1);
    ASSERT_STR_CONTAINS(error, "z is undefined");
}

// Sample mean and standard deviation of a Gaussian proposal.
static void
s_gaussian_moments(const byzgd_attack_config_t *config, size_t d, double *mean, double *stddev)
{
    float *out = malloc(d * sizeof *out);
    ASSERT(out);
    byzgd_attack_input_t input = {.n = 20, .f = 6, .round = 1};
    s_apply(config, out, &input, d);
    double sum = 0, sum_sq = 0;
    for (size_t i = 0; i < d; i++) {
        sum += out[i];
        sum_sq += (double)out[i] * out[i];
    }
    *mean = sum / (double)d;
    *stddev = sqrt(sum_sq / (double)d - *mean * *mean);
    free(out);
}

TEST(gaussian_moments_sigma_and_variance)
{
    const size_t d = 200000; // the standard error of the std estimate is σ/sqrt(2d) ≈ 0.16 %
    double mean, stddev;
    byzgd_attack_config_t config = s_config("gaussian");
    s_gaussian_moments(&config, d, &mean, &stddev); // default: variance 200
    ASSERT_NEAR(mean, 0.0, 0.1);
    ASSERT_NEAR(stddev * stddev, 200.0, 200.0 * 0.01);

    s_parse_ok(&config, "sigma", "3");
    s_gaussian_moments(&config, d, &mean, &stddev);
    ASSERT_NEAR(mean, 0.0, 0.03);
    ASSERT_NEAR(stddev, 3.0, 3.0 * 0.01);

    config = s_config("gaussian");
    s_parse_ok(&config, "variance", "16");
    s_gaussian_moments(&config, d, &mean, &stddev);
    ASSERT_NEAR(stddev, 4.0, 4.0 * 0.01); // sqrt(16), not 16
}

TEST(determinism_per_seed_and_round)
{
    enum { D = 64 };
    float a[D], b[D], c[D], e[D];
    byzgd_attack_config_t config = s_config("gaussian");
    config.seed = 42;
    config.worker_index = 3;
    byzgd_attack_input_t input = {.n = 20, .f = 6, .round = 7};
    s_apply(&config, a, &input, D);
    s_apply(&config, b, &input, D);
    ASSERT(memcmp(a, b, sizeof a) == 0);
    input.round = 8;
    s_apply(&config, c, &input, D);
    ASSERT(memcmp(a, c, sizeof a) != 0);
    input.round = 7;
    config.seed = 43;
    s_apply(&config, e, &input, D);
    ASSERT(memcmp(a, e, sizeof a) != 0);

    // The sampling stream is reproducible too, and differs from round to round.
    byzgd_rng_t r1, r2;
    config.seed = 42;
    byzgd_attack_sampling_rng(&config, 7, &r1);
    byzgd_attack_sampling_rng(&config, 7, &r2);
    for (int i = 0; i < 100; i++)
        ASSERT(byzgd_rng_next(&r1) == byzgd_rng_next(&r2));
    byzgd_attack_sampling_rng(&config, 8, &r2);
    ASSERT(byzgd_rng_next(&r1) != byzgd_rng_next(&r2));
}

// A toy "training set" of gradients: attacker draws rows with its sampling stream.
enum { TOY_ROWS = 50, TOY_D = 16 };

static void
s_toy_gradients(float rows[TOY_ROWS][TOY_D])
{
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 99, 0);
    for (int r = 0; r < TOY_ROWS; r++)
        for (int j = 0; j < TOY_D; j++)
            rows[r][j] = (float)(1.0 + byzgd_rng_gaussian(&rng));
}

// What a Byzantine worker does for ALIE: k "minibatch gradients" drawn with its sampling
// stream, their moments, then the attack.
static void
s_alie_worker(const byzgd_attack_config_t *config, float rows[TOY_ROWS][TOY_D], uint64_t round,
              float *out)
{
    byzgd_attack_moments_t *moments = byzgd_attack_moments_new(TOY_D);
    byzgd_rng_t rng;
    byzgd_attack_sampling_rng(config, round, &rng);
    for (size_t k = 0; k < config->estimate_batches; k++)
        byzgd_attack_moments_add(moments, rows[byzgd_rng_below(&rng, TOY_ROWS)]);
    float mean[TOY_D], stddev[TOY_D];
    byzgd_attack_moments_finish(moments, mean, stddev);
    byzgd_attack_input_t input = {.mean = mean, .stddev = stddev, .n = 20, .f = 6, .round = round};
    s_apply(config, out, &input, TOY_D);
    byzgd_attack_moments_destroy(&moments);
    ASSERT(moments == NULL);
}

TEST(collusion_bit_identical)
{
    static float rows[TOY_ROWS][TOY_D];
    s_toy_gradients(rows);
    float a[TOY_D], b[TOY_D];
    const char *attacks[] = {"gaussian", "alie"};
    for (int t = 0; t < 2; t++) {
        byzgd_attack_config_t one = s_config(attacks[t]), two = s_config(attacks[t]);
        one.seed = two.seed = 1234;
        one.worker_index = 14;
        two.worker_index = 17;
        s_parse_ok(&one, "collude", "yes");
        s_parse_ok(&two, "collude", "yes");
        byzgd_attack_input_t input = {.n = 20, .f = 6, .round = 5};
        if (t == 0) {
            s_apply(&one, a, &input, TOY_D);
            s_apply(&two, b, &input, TOY_D);
        } else {
            s_alie_worker(&one, rows, 5, a);
            s_alie_worker(&two, rows, 5, b);
        }
        ASSERT_MSG(memcmp(a, b, sizeof a) == 0, "%s: colluders differ", attacks[t]);

        // Without collusion the two workers draw different streams.
        s_parse_ok(&one, "collude", "no");
        s_parse_ok(&two, "collude", "no");
        if (t == 0) {
            s_apply(&one, a, &input, TOY_D);
            s_apply(&two, b, &input, TOY_D);
        } else {
            s_alie_worker(&one, rows, 5, a);
            s_alie_worker(&two, rows, 5, b);
        }
        ASSERT_MSG(memcmp(a, b, sizeof a) != 0, "%s: independent attackers agree", attacks[t]);
    }
}

TEST(alie_z_formula)
{
    // n = 20, f = 6 (the paper's 33 %): s = 5, p = 15/20.
    ASSERT_NEAR(byzgd_attack_alie_z(20, 6), 0.6744897501960817, 1e-12);
    // n = 20, f = 9 (45 %): s = 2, p = 18/20 → Φ⁻¹(0.9) = 1.2815515655446004.
    ASSERT_NEAR(byzgd_attack_alie_z(20, 9), 1.2815515655446004, 1e-12);
    // n = 50, f = 24: s = 2, p = 0.96 → 1.7506860712521695.
    ASSERT_NEAR(byzgd_attack_alie_z(50, 24), 1.7506860712521695, 1e-12);
    // f = 0: s = 11, p = 0.45 → negative z (Φ⁻¹(0.45) = −Φ⁻¹(0.55)).
    ASSERT_NEAR(byzgd_attack_alie_z(20, 0), -0.12566134685507402, 1e-12);
    // Odd n: n = 21, f = 5: s = floor(11.5) − 5 = 6, p = 15/21.
    ASSERT_NEAR(byzgd_attack_alie_z(21, 5), byzgd_normal_quantile(15.0 / 21.0), 0);
    // Undefined: s ≤ 0 or n = 0 or f > n.
    ASSERT(isnan(byzgd_attack_alie_z(10, 6)));
    ASSERT(isnan(byzgd_attack_alie_z(20, 11)));
    ASSERT(isnan(byzgd_attack_alie_z(0, 0)));
    ASSERT(isnan(byzgd_attack_alie_z(3, 4)));
}

TEST(normal_quantile_known_values)
{
    ASSERT_NEAR(byzgd_normal_quantile(0.975), 1.959963984540054, 1e-12);
    ASSERT_NEAR(byzgd_normal_quantile(0.5), 0.0, 0);
    ASSERT_NEAR(byzgd_normal_quantile(0.8413447), 1.0, 1e-6);
    ASSERT_NEAR(byzgd_normal_quantile(0.025), -1.959963984540054, 1e-12);
    ASSERT_NEAR(byzgd_normal_quantile(0.999), 3.090232306167813, 1e-12);
    ASSERT_NEAR(byzgd_normal_quantile(1e-10), -6.361340902404056, 1e-10);
    ASSERT(isinf(byzgd_normal_quantile(0.0)) && byzgd_normal_quantile(0.0) < 0);
    ASSERT(isinf(byzgd_normal_quantile(1.0)) && byzgd_normal_quantile(1.0) > 0);
    ASSERT(isnan(byzgd_normal_quantile(-0.1)));
    ASSERT(isnan(byzgd_normal_quantile(1.5)));
    ASSERT(isnan(byzgd_normal_quantile(NAN)));
}

TEST(normal_quantile_inverts_cdf)
{
    // All three branches of AS241: central (|p − 0.5| ≤ 0.425), r ≤ 5 and far tail.
    const double ps[] = {1e-300, 1e-20, 1e-12, 1e-6, 0.001, 0.02, 0.074, 0.076, 0.2,
                         0.3,    0.45,  0.5,   0.6,  0.75,  0.9,  0.925, 0.99,  0.999999};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
        double x = byzgd_normal_quantile(ps[i]);
        double back = s_normal_cdf(x);
        ASSERT_MSG(fabs(back - ps[i]) <= 1e-12 * ps[i] + 1e-15, "p=%g: Φ(Φ⁻¹(p)) = %.17g", ps[i],
                   back);
        if (ps[i] >= 1e-3 && ps[i] <= 1 - 1e-3) // where 1 − p is exact enough
            ASSERT_NEAR(byzgd_normal_quantile(1.0 - ps[i]), -x, 1e-9 * (1 + fabs(x)));
    }
    // Monotone on a fine grid.
    double previous = -INFINITY;
    for (int k = 1; k < 10000; k++) {
        double x = byzgd_normal_quantile(k / 10000.0);
        ASSERT(x > previous);
        previous = x;
    }
}

TEST(moments_welford)
{
    byzgd_attack_moments_t *moments = byzgd_attack_moments_new(2);
    byzgd_attack_moments_add(moments, (const float[]){1, 2});
    byzgd_attack_moments_add(moments, (const float[]){3, 2});
    byzgd_attack_moments_add(moments, (const float[]){5, 8});
    ASSERT_EQ_INT(byzgd_attack_moments_count(moments), 3);
    float mean[2], stddev[2];
    byzgd_attack_moments_finish(moments, mean, stddev);
    ASSERT_NEAR(mean[0], 3.0, 0);
    ASSERT_NEAR(mean[1], 4.0, 0);
    ASSERT_NEAR(stddev[0], 2.0, 1e-6);        // sample std: sqrt((4 + 0 + 4) / 2)
    ASSERT_NEAR(stddev[1], sqrt(12.0), 1e-6); // sqrt((4 + 4 + 16) / 2)

    // A large offset: the naive sum-of-squares formula would lose these digits in float.
    byzgd_attack_moments_reset(moments);
    ASSERT_EQ_INT(byzgd_attack_moments_count(moments), 0);
    for (int k = 0; k < 3; k++)
        byzgd_attack_moments_add(moments, (const float[]){1e6f + (float)k, -7.0f});
    byzgd_attack_moments_finish(moments, NULL, stddev);
    ASSERT_NEAR(stddev[0], 1.0, 1e-9);
    ASSERT_NEAR(stddev[1], 0.0, 0);

    // One gradient: its own mean, zero spread.
    byzgd_attack_moments_reset(moments);
    byzgd_attack_moments_add(moments, (const float[]){-2.5f, 9.0f});
    byzgd_attack_moments_finish(moments, mean, stddev);
    ASSERT_NEAR(mean[0], -2.5, 0);
    ASSERT_NEAR(stddev[0], 0.0, 0);
    byzgd_attack_moments_destroy(&moments);
    ASSERT(moments == NULL);
    byzgd_attack_moments_destroy(&moments); // idempotent
}

TEST(flip_labels)
{
    uint8_t labels[] = {0, 3, 9, 5, 4};
    byzgd_attack_flip_labels(labels, 5, 10);
    const uint8_t expected[] = {9, 6, 0, 4, 5};
    ASSERT(memcmp(labels, expected, 5) == 0);
    byzgd_attack_flip_labels(labels, 5, 10);
    const uint8_t original[] = {0, 3, 9, 5, 4};
    ASSERT(memcmp(labels, original, 5) == 0);
    uint8_t binary[] = {0, 1, 1};
    byzgd_attack_flip_labels(binary, 3, 2); // spam: ham ↔ spam
    ASSERT(binary[0] == 1 && binary[1] == 0 && binary[2] == 0);
}

TEST(misbehaviour_schedule_and_garbage)
{
    byzgd_attack_config_t config;
    byzgd_attack_config_init(&config);
    ASSERT(!byzgd_attack_misbehaves(&config, 0));
    s_parse_ok(&config, "misbehave", "garbage");
    s_parse_ok(&config, "misbehave-every", "3");
    for (uint64_t round = 0; round < 10; round++)
        ASSERT_EQ_INT(byzgd_attack_misbehaves(&config, round), round % 3 == 0);

    uint8_t a[13], b[13], c[13];
    byzgd_attack_garbage(&config, a, sizeof a, 4);
    byzgd_attack_garbage(&config, b, sizeof b, 4);
    byzgd_attack_garbage(&config, c, sizeof c, 5);
    ASSERT(memcmp(a, b, sizeof a) == 0);
    ASSERT(memcmp(a, c, sizeof a) != 0);
    int nonzero = 0;
    for (size_t i = 0; i < sizeof a; i++)
        nonzero += a[i] != 0;
    ASSERT(nonzero >= 8);
}

TEST(describe_line)
{
    char line[256];
    byzgd_attack_config_t config = s_config("gaussian");
    config.worker_index = 4;
    byzgd_attack_config_describe(&config, line, sizeof line);
    ASSERT_STR_CONTAINS(line, "attack=gaussian sigma=14.1421 (variance 200)");
    ASSERT_STR_CONTAINS(line, "collude=no");
    ASSERT_STR_CONTAINS(line, "worker=4");
    config = s_config("alie");
    byzgd_attack_config_describe(&config, line, sizeof line);
    ASSERT_STR_CONTAINS(line, "attack=alie z=auto estimate_batches=8 collude=yes");
    int length = byzgd_attack_config_describe(&config, line, 8); // truncated, still terminated
    ASSERT(length > 8 && strlen(line) == 7);
}

static const byzgd_test_case_t cases[] = {
    TEST_CASE(names_round_trip),
    TEST_CASE(parse_defaults_and_values),
    TEST_CASE(parse_errors),
    TEST_CASE(usage_lists_only_real_options),
    TEST_CASE(collude_defaults_and_check),
    TEST_CASE(needs_masks),
    TEST_CASE(vectors_hand_checked),
    TEST_CASE(inf_positions),
    TEST_CASE(apply_in_place),
    TEST_CASE(missing_inputs_are_errors),
    TEST_CASE(gaussian_moments_sigma_and_variance),
    TEST_CASE(determinism_per_seed_and_round),
    TEST_CASE(collusion_bit_identical),
    TEST_CASE(alie_z_formula),
    TEST_CASE(normal_quantile_known_values),
    TEST_CASE(normal_quantile_inverts_cdf),
    TEST_CASE(moments_welford),
    TEST_CASE(flip_labels),
    TEST_CASE(misbehaviour_schedule_and_garbage),
    TEST_CASE(describe_line),
};
BYZGD_TEST_MAIN(cases)

/*  test_round.c — the round engine without sockets: acceptance rules, quorum, slot order,
    the update, the robust train loss, divergence. */
#include "test.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "server/round.h"

#define D 3

static byzgd_round_t *
s_engine(size_t n, size_t quorum, size_t f, byzgd_gar_rule_t rule)
{
    byzgd_round_config_t config = {.worker_count = n, .dimension = D, .quorum = quorum};
    byzgd_gar_config_init(&config.gar);
    config.gar.rule = rule;
    config.gar.f = f;
    config.learning_rate.kind = BYZGD_LR_CONSTANT;
    config.learning_rate.initial = 0.5;
    float x0[D] = {1, 2, 3};
    char error[256];
    byzgd_round_t *engine = byzgd_round_new(&config, x0, 1, error, sizeof error);
    ASSERT_MSG(engine, "%s", error);
    return engine;
}

TEST(accept_reasons)
{
    byzgd_round_t *engine = s_engine(4, 0, 1, BYZGD_GAR_AVERAGE);
    float g[D] = {1, 1, 1};
    ASSERT_EQ_INT(byzgd_round_accept(engine, 4, 1, g, D, 0.1), BYZGD_MSG_REJECT_VALUE);
    ASSERT_EQ_INT(byzgd_round_accept(engine, 0, 2, g, D, 0.1), BYZGD_MSG_REJECT_FUTURE_ROUND);
    ASSERT_EQ_INT(byzgd_round_accept(engine, 0, 1, g, D - 1, 0.1), BYZGD_MSG_REJECT_DIMENSION);
    ASSERT_EQ_INT(byzgd_round_accept(engine, 0, 1, g, D, 0.1), BYZGD_MSG_OK);
    ASSERT_EQ_INT(byzgd_round_accept(engine, 0, 1, g, D, 0.1), BYZGD_MSG_REJECT_DUPLICATE);
    float nan_row[D] = {1, NAN, 1};
    ASSERT_EQ_INT(byzgd_round_accept(engine, 1, 1, nan_row, D, 0.1), BYZGD_MSG_REJECT_NON_FINITE);
    float inf_row[D] = {INFINITY, 0, 0};
    ASSERT_EQ_INT(byzgd_round_accept(engine, 2, 1, inf_row, D, 0.1), BYZGD_MSG_REJECT_NON_FINITE);
    ASSERT_EQ_INT(byzgd_round_accept(engine, 3, 1, g, D, INFINITY), BYZGD_MSG_REJECT_NON_FINITE);
    // A rejected proposal leaves the slot free to propose a good one.
    ASSERT_EQ_INT(byzgd_round_accept(engine, 1, 1, g, D, 0.1), BYZGD_MSG_OK);
    ASSERT_EQ_INT(byzgd_round_accepted(engine), 2);
    ASSERT(!byzgd_round_ready(engine));
    ASSERT(byzgd_round_has_proposed(engine, 1));
    ASSERT(!byzgd_round_has_proposed(engine, 2));
    byzgd_round_destroy(&engine);
}

TEST(stale_after_close)
{
    byzgd_round_t *engine = s_engine(2, 0, 0, BYZGD_GAR_AVERAGE);
    float g[D] = {0, 0, 0};
    ASSERT_EQ_INT(byzgd_round_accept(engine, 0, 1, g, D, 1), BYZGD_MSG_OK);
    ASSERT_EQ_INT(byzgd_round_accept(engine, 1, 1, g, D, 1), BYZGD_MSG_OK);
    ASSERT(byzgd_round_ready(engine));
    byzgd_round_outcome_t outcome;
    ASSERT_EQ_INT(byzgd_round_close(engine, &outcome), BYZGD_ROUND_RUNNING);
    ASSERT_EQ_INT(byzgd_round_current(engine), 2);
    ASSERT_EQ_INT(byzgd_round_accept(engine, 0, 1, g, D, 1), BYZGD_MSG_REJECT_STALE_ROUND);
    ASSERT_EQ_INT(byzgd_round_accept(engine, 0, 2, g, D, 1), BYZGD_MSG_OK);
    byzgd_round_destroy(&engine);
}

TEST(update_and_unaligned_input)
{
    byzgd_round_t *engine = s_engine(2, 0, 0, BYZGD_GAR_AVERAGE);
    // The codec hands over tensors at any address.
    unsigned char bytes[1 + D * sizeof(float)];
    float a[D] = {2, 0, -2};
    memcpy(bytes + 1, a, sizeof a);
    float b[D] = {0, 4, 2};
    ASSERT_EQ_INT(byzgd_round_accept(engine, 1, 1, b, D, 3.0), BYZGD_MSG_OK);
    ASSERT_EQ_INT(byzgd_round_accept(engine, 0, 1, bytes + 1, D, 1.0), BYZGD_MSG_OK);
    byzgd_round_outcome_t outcome;
    ASSERT_EQ_INT(byzgd_round_close(engine, &outcome), BYZGD_ROUND_RUNNING);
    ASSERT_EQ_INT(outcome.round, 1);
    ASSERT_EQ_INT(outcome.accepted, 2);
    ASSERT_NEAR(outcome.learning_rate, 0.5, 0);
    ASSERT_NEAR(outcome.train_loss, 1.0, 0); // lower median of {1, 3}
    const float *x = byzgd_round_params(engine);
    // x = (1, 2, 3) − 0.5 · (1, 2, 0)
    ASSERT_NEAR(x[0], 0.5, 1e-6);
    ASSERT_NEAR(x[1], 1.0, 1e-6);
    ASSERT_NEAR(x[2], 3.0, 1e-6);
    byzgd_round_destroy(&engine);
}

// Rows enter the rule in slot order: two arrival orders give bit-identical parameters and
// the same selection, even for a rule whose result depends on the order of its input.
static void
s_run_order(const size_t *order, float *x_out, size_t *selected_out, size_t *selected_count)
{
    byzgd_round_t *engine = s_engine(5, 0, 1, BYZGD_GAR_MULTI_KRUM);
    float rows[5][D] = {
        {1e-3f, 7, 1}, {0.1f, 3e5f, 1}, {1.1f, 7.3f, 0.9f}, {1, 7.1f, 1.2f}, {0.9f, 6.8f, 1}};
    for (size_t i = 0; i < 5; i++)
        ASSERT_EQ_INT(byzgd_round_accept(engine, order[i], 1, rows[order[i]], D, 0.5),
                      BYZGD_MSG_OK);
    byzgd_round_outcome_t outcome;
    ASSERT_EQ_INT(byzgd_round_close(engine, &outcome), BYZGD_ROUND_RUNNING);
    memcpy(x_out, byzgd_round_params(engine), D * sizeof *x_out);
    *selected_count = outcome.selected_count;
    memcpy(selected_out, outcome.selected, outcome.selected_count * sizeof *selected_out);
    byzgd_round_destroy(&engine);
}

TEST(slot_order_not_arrival_order)
{
    size_t forward[5] = {0, 1, 2, 3, 4}, backward[5] = {4, 2, 0, 3, 1};
    float x1[D], x2[D];
    size_t s1[5], s2[5], c1 = 0, c2 = 0;
    s_run_order(forward, x1, s1, &c1);
    s_run_order(backward, x2, s2, &c2);
    ASSERT(memcmp(x1, x2, sizeof x1) == 0);
    ASSERT_EQ_INT(c1, c2);
    ASSERT(c1 > 0);
    for (size_t i = 0; i < c1; i++) {
        ASSERT_EQ_INT(s1[i], s2[i]);
        ASSERT_NE_INT(s1[i], 1); // the outlier slot is never kept
    }
}

TEST(selected_are_slots_not_rows)
{
    byzgd_round_t *engine = s_engine(5, 3, 0, BYZGD_GAR_KRUM);
    float near[D] = {1, 1, 1}, nearer[D] = {1, 1, 1.1f}, far[D] = {100, 100, 100};
    // Slots 4, 3 and 1 propose (rows 0, 1, 2 of the rule); Krum keeps slot 3 or 4 and must
    // report the slot, not the row.
    ASSERT_EQ_INT(byzgd_round_accept(engine, 4, 1, near, D, 1), BYZGD_MSG_OK);
    ASSERT_EQ_INT(byzgd_round_accept(engine, 1, 1, far, D, 1), BYZGD_MSG_OK);
    ASSERT_EQ_INT(byzgd_round_accept(engine, 3, 1, nearer, D, 1), BYZGD_MSG_OK);
    ASSERT(byzgd_round_ready(engine));
    byzgd_round_outcome_t outcome;
    ASSERT_EQ_INT(byzgd_round_close(engine, &outcome), BYZGD_ROUND_RUNNING);
    ASSERT_EQ_INT(outcome.selected_count, 1);
    ASSERT_MSG(outcome.selected[0] == 3 || outcome.selected[0] == 4, "selected %zu",
               outcome.selected[0]);
    byzgd_round_destroy(&engine);
}

TEST(closable_follows_the_rule)
{
    byzgd_round_t *engine = s_engine(7, 0, 2, BYZGD_GAR_KRUM);
    char why[256];
    ASSERT(!byzgd_round_closable(engine, why, sizeof why));
    ASSERT_STR_EQ(why, "no proposal");
    float g[D] = {1, 1, 1};
    for (size_t slot = 0; slot < 4; slot++)
        byzgd_round_accept(engine, slot, 1, g, D, 1);
    ASSERT(!byzgd_round_closable(engine, why, sizeof why)); // Krum needs n > 2f + 2
    for (size_t slot = 4; slot < 7; slot++)
        byzgd_round_accept(engine, slot, 1, g, D, 1);
    ASSERT(byzgd_round_closable(engine, why, sizeof why));
    byzgd_round_destroy(&engine);
}

// One liar reporting DBL_MAX does not move the round's train loss (issue: 2.57e307).
TEST(train_loss_is_the_median)
{
    byzgd_round_t *engine = s_engine(5, 0, 1, BYZGD_GAR_AVERAGE);
    float g[D] = {0, 0, 0};
    double losses[5] = {0.5, DBL_MAX, 0.7, 0.6, 0.4};
    for (size_t slot = 0; slot < 5; slot++)
        ASSERT_EQ_INT(byzgd_round_accept(engine, slot, 1, g, D, losses[slot]), BYZGD_MSG_OK);
    byzgd_round_outcome_t outcome;
    byzgd_round_close(engine, &outcome);
    ASSERT_NEAR(outcome.train_loss, 0.6, 0);
    byzgd_round_destroy(&engine);
    double scratch[4];
    double none[2] = {NAN, INFINITY};
    ASSERT(isnan(byzgd_round_median(none, 2, scratch)));
    double four[4] = {4, 1, 3, 2};
    ASSERT_NEAR(byzgd_round_median(four, 4, scratch), 2, 0);
}

TEST(non_finite_up_to_f_is_not_divergence)
{
    byzgd_round_t *engine = s_engine(5, 4, 1, BYZGD_GAR_AVERAGE);
    float g[D] = {1, 1, 1}, bad[D] = {NAN, 0, 0};
    ASSERT_EQ_INT(byzgd_round_accept(engine, 4, 1, bad, D, 1), BYZGD_MSG_REJECT_NON_FINITE);
    ASSERT_EQ_INT(byzgd_round_accept(engine, 4, 1, bad, D, 1), BYZGD_MSG_REJECT_NON_FINITE);
    ASSERT(!byzgd_round_diverging(engine)); // one slot, counted once, f = 1
    for (size_t slot = 0; slot < 4; slot++)
        byzgd_round_accept(engine, slot, 1, g, D, 1);
    byzgd_round_outcome_t outcome;
    ASSERT_EQ_INT(byzgd_round_close(engine, &outcome), BYZGD_ROUND_RUNNING);
    ASSERT_EQ_INT(outcome.non_finite, 1);
    byzgd_round_destroy(&engine);
}

// More than f slots (and more than half) with a non-finite loss: at least one honest
// worker saw the model diverge, even though every gradient was finite.
TEST(non_finite_losses_beyond_f_diverge)
{
    byzgd_round_t *engine = s_engine(5, 0, 1, BYZGD_GAR_AVERAGE);
    float g[D] = {1, 1, 1};
    ASSERT_EQ_INT(byzgd_round_accept(engine, 0, 1, g, D, INFINITY), BYZGD_MSG_REJECT_NON_FINITE);
    ASSERT(!byzgd_round_diverging(engine));
    byzgd_round_note_non_finite(engine, 3); // rejected by the codec before the engine
    ASSERT(!byzgd_round_diverging(engine)); // 2 > f, but not more than half of n = 5
    byzgd_round_note_non_finite(engine, 4);
    ASSERT(byzgd_round_diverging(engine));
    ASSERT_EQ_INT(byzgd_round_accept(engine, 1, 1, g, D, 1), BYZGD_MSG_OK);
    byzgd_round_outcome_t outcome;
    ASSERT_EQ_INT(byzgd_round_close(engine, &outcome), BYZGD_ROUND_DIVERGED);
    ASSERT_EQ_INT(outcome.non_finite, 3);
    ASSERT_STR_CONTAINS(outcome.message, "non-finite");
    byzgd_round_destroy(&engine);
}

TEST(overflowing_update_diverges)
{
    byzgd_round_t *engine = s_engine(1, 0, 0, BYZGD_GAR_AVERAGE);
    float huge[D] = {-FLT_MAX, 0, 0};
    ASSERT_EQ_INT(byzgd_round_accept(engine, 0, 1, huge, D, 1), BYZGD_MSG_OK);
    byzgd_round_outcome_t outcome;
    // 1 + 0.5 · FLT_MAX is finite; x then grows by 0.5 · FLT_MAX per round and overflows.
    ASSERT_EQ_INT(byzgd_round_close(engine, &outcome), BYZGD_ROUND_RUNNING);
    ASSERT_EQ_INT(byzgd_round_accept(engine, 0, 2, huge, D, 1), BYZGD_MSG_OK);
    ASSERT_EQ_INT(byzgd_round_close(engine, &outcome), BYZGD_ROUND_RUNNING);
    ASSERT_EQ_INT(byzgd_round_accept(engine, 0, 3, huge, D, 1), BYZGD_MSG_OK);
    ASSERT_EQ_INT(byzgd_round_close(engine, &outcome), BYZGD_ROUND_DIVERGED);
    ASSERT_STR_CONTAINS(outcome.message, "parameters");
    byzgd_round_destroy(&engine);
}

TEST(rule_refusal_is_a_failure_not_divergence)
{
    byzgd_round_t *engine = s_engine(7, 1, 2, BYZGD_GAR_KRUM);
    float g[D] = {1, 1, 1};
    ASSERT_EQ_INT(byzgd_round_accept(engine, 0, 1, g, D, 1), BYZGD_MSG_OK);
    byzgd_round_outcome_t outcome;
    ASSERT_EQ_INT(byzgd_round_close(engine, &outcome), BYZGD_ROUND_FAILED);
    const float *x = byzgd_round_params(engine);
    ASSERT_NEAR(x[0], 1, 0); // unchanged
    ASSERT_EQ_INT(byzgd_round_current(engine), 2);
    byzgd_round_destroy(&engine);
}

// The resilience diagnostic runs on the rounds asked for, over the rows and aggregate of
// that round: η(7, 2), σ̂ from the rows, ‖aggregate‖ of the update actually applied.
TEST(resilience_on_diagnosed_rounds_only)
{
    byzgd_round_config_t config = {.worker_count = 7, .dimension = D, .resilience_every = 2};
    byzgd_gar_config_init(&config.gar);
    config.gar.rule = BYZGD_GAR_KRUM;
    config.gar.f = 2;
    config.learning_rate.kind = BYZGD_LR_CONSTANT;
    config.learning_rate.initial = 1;
    float x0[D] = {0, 0, 0};
    char error[256];
    byzgd_round_t *engine = byzgd_round_new(&config, x0, 1, error, sizeof error);
    ASSERT_MSG(engine, "%s", error);
    for (uint64_t round = 1; round <= 2; round++) {
        for (size_t slot = 0; slot < 7; slot++) {
            float g[D] = {1 + 0.1f * (float)slot, 1, slot >= 5 ? 100.0f : 1};
            ASSERT_EQ_INT(byzgd_round_accept(engine, slot, round, g, D, 0.1), BYZGD_MSG_OK);
        }
        float before[D];
        memcpy(before, byzgd_round_params(engine), sizeof before);
        byzgd_round_outcome_t outcome;
        ASSERT_EQ_INT(byzgd_round_close(engine, &outcome), BYZGD_ROUND_RUNNING);
        ASSERT_EQ_INT(outcome.diagnosed, round == 2);
        if (round == 1) {
            ASSERT(isnan(outcome.resilience.ratio) && isnan(outcome.resilience.sigma));
            continue;
        }
        ASSERT_EQ_INT(outcome.resilience.rows, 7);
        ASSERT_NEAR(outcome.resilience.eta, byzgd_resilience_eta(7, 2), 1e-12);
        double norm = 0;
        for (size_t j = 0; j < D; j++) {
            double step = before[j] - byzgd_round_params(engine)[j];
            norm += step * step;
        }
        ASSERT_NEAR(outcome.resilience.aggregate_norm, sqrt(norm), 1e-5);
        ASSERT(outcome.resilience.sigma > 0 && isfinite(outcome.resilience.ratio));
        ASSERT_NEAR(outcome.resilience.ratio,
                    outcome.resilience.bound / outcome.resilience.aggregate_norm, 1e-9);
    }
    byzgd_round_destroy(&engine);
}

TEST(bad_configuration)
{
    byzgd_round_config_t config = {.worker_count = 3, .dimension = D, .quorum = 4};
    byzgd_gar_config_init(&config.gar);
    float x0[D] = {0};
    char error[256] = "";
    ASSERT(!byzgd_round_new(&config, x0, 1, error, sizeof error));
    ASSERT_STR_CONTAINS(error, "q = 4");
}

static const byzgd_test_case_t cases[] = {
    TEST_CASE(accept_reasons),
    TEST_CASE(stale_after_close),
    TEST_CASE(update_and_unaligned_input),
    TEST_CASE(slot_order_not_arrival_order),
    TEST_CASE(selected_are_slots_not_rows),
    TEST_CASE(closable_follows_the_rule),
    TEST_CASE(train_loss_is_the_median),
    TEST_CASE(non_finite_up_to_f_is_not_divergence),
    TEST_CASE(non_finite_losses_beyond_f_diverge),
    TEST_CASE(overflowing_update_diverges),
    TEST_CASE(rule_refusal_is_a_failure_not_divergence),
    TEST_CASE(resilience_on_diagnosed_rounds_only),
    TEST_CASE(bad_configuration),
};
BYZGD_TEST_MAIN(cases)

/*  test_gar_stream.c — streamed aggregation: bit-identical results in every order of
    arrival, every grouping of arrivals into the thread's batches and with the threads of
    drain, the same selection and aggregate as byzgd_gar_apply with scores within 1e-6,
    rows over several slices, NNM fed by the stream, rules that leave the thread idle,
    missing slots, non-finite rows, reuse across rounds and the error paths. */
#include "rules/gar.h"
#include "rules/gar_options.h"
#include "rules/gar_stream.h"
#include "support/rng.h"
#include "test.h"

#include <math.h>
#include <string.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define N 13
#define D 3001

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
    ASSERT_EQ_INT(byzgd_gar_config_parse_option(&config, "round", "9", error, sizeof error), 0);
    return config;
}

// N rows: Gaussian around 0.5, row 4 an outlier, row 9 a copy of row 2.
static float *
s_rows(void)
{
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 23, 0);
    float *x = malloc((size_t)N * D * sizeof *x);
    ASSERT(x);
    for (size_t k = 0; k < (size_t)N * D; k++)
        x[k] = (float)(0.5 + byzgd_rng_gaussian(&rng));
    for (size_t j = 0; j < D; j++)
        x[4 * D + j] += 30;
    memcpy(x + 9 * D, x + 2 * D, D * sizeof *x);
    return x;
}

// Streams rows of d values slot by slot in the order `order` (count of them), draining
// after arrivals 0, drain_every, 2 drain_every, ... (0: never) and pausing 3 ms after
// arrival pause_after (count or more: never), then finishes.
static void
s_stream_paced(byzgd_gar_stream_t *stream, const byzgd_gar_config_t *config,
               byzgd_gar_result_t *result, const float *x, size_t d, const size_t *order,
               size_t count, size_t drain_every, size_t pause_after)
{
    char error[256] = "";
    byzgd_gar_stream_reset(stream, config);
    for (size_t k = 0; k < count; k++) {
        ASSERT_MSG(
            byzgd_gar_stream_add_row(stream, order[k], x + order[k] * d, error, sizeof error) == 0,
            "%s", error);
        if (drain_every && k % drain_every == 0)
            byzgd_gar_stream_drain(stream);
        if (k == pause_after)
            usleep(3000);
    }
    ASSERT_EQ_INT(byzgd_gar_stream_count(stream), count);
    ASSERT_MSG(byzgd_gar_stream_finish(stream, result, error, sizeof error) == 0, "%s: %s",
               byzgd_gar_rule_name(config->rule), error);
}

// Streams rows of D values in the order `order` (count of them) and finishes.
static void
s_stream(byzgd_gar_stream_t *stream, const byzgd_gar_config_t *config, byzgd_gar_result_t *result,
         const float *x, const size_t *order, size_t count)
{
    s_stream_paced(stream, config, result, x, D, order, count, 0, count);
}

static void
s_assert_same_d(const byzgd_gar_result_t *a, const byzgd_gar_result_t *b, bool exact_scores,
                const char *rule, size_t d)
{
    ASSERT_EQ_INT(a->selected_count, b->selected_count);
    for (size_t q = 0; q < a->selected_count; q++)
        ASSERT_MSG(a->selected[q] == b->selected[q], "%s: pick %zu: %zu vs %zu", rule, q,
                   a->selected[q], b->selected[q]);
    ASSERT_MSG(memcmp(a->aggregate, b->aggregate, d * sizeof(float)) == 0, "%s: aggregates differ",
               rule);
    ASSERT_EQ_INT(a->has_scores, b->has_scores);
    if (!a->has_scores)
        return;
    for (size_t i = 0; i < a->n; i++) {
        ASSERT_EQ_INT(isnan(a->scores[i]) != 0, isnan(b->scores[i]) != 0);
        if (isnan(a->scores[i]))
            continue;
        if (exact_scores)
            ASSERT_MSG(memcmp(&a->scores[i], &b->scores[i], sizeof(double)) == 0,
                       "%s: score %zu: %.17g vs %.17g", rule, i, a->scores[i], b->scores[i]);
        else
            ASSERT_MSG(fabs(a->scores[i] - b->scores[i]) <= 1e-6 * fabs(b->scores[i]),
                       "%s: score %zu: %.17g vs %.17g", rule, i, a->scores[i], b->scores[i]);
    }
}

static void
s_assert_same(const byzgd_gar_result_t *a, const byzgd_gar_result_t *b, bool exact_scores,
              const char *rule)
{
    s_assert_same_d(a, b, exact_scores, rule, D);
}

TEST(stream_matches_batch_in_every_order)
{
    float *x = s_rows();
    const char *rules[] = {"krum",   "multi-krum", "medoid",  "1-p-krum",
                           "bulyan", "mda",        "average", "median"};
    byzgd_gar_stream_t *stream = byzgd_gar_stream_new(N, D);
    ASSERT(stream);
    byzgd_gar_result_t *first = byzgd_gar_result_new(N, D), *other = byzgd_gar_result_new(N, D);
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 29, 0);
    for (size_t r = 0; r < sizeof rules / sizeof *rules; r++) {
        byzgd_gar_config_t config = s_config(rules[r], 2);
        byzgd_gar_result_t *batch = byzgd_gar_result_new(N, D);
        char error[256] = "";
        ASSERT_MSG(byzgd_gar_apply(&config, batch, x, N, D, error, sizeof error) == 0, "%s", error);
        for (int trial = 0; trial < 6; trial++) {
            size_t order[N];
            for (size_t k = 0; k < N; k++)
                order[k] = k;
            if (trial == 1) // reversed
                for (size_t k = 0; k < N; k++)
                    order[k] = N - 1 - k;
            if (trial >= 2) // shuffled
                for (size_t k = N - 1; k > 0; k--) {
                    size_t pick = (size_t)byzgd_rng_below(&rng, k + 1), swap = order[k];
                    order[k] = order[pick];
                    order[pick] = swap;
                }
            s_stream(stream, &config, trial == 0 ? first : other, x, order, N);
            if (trial > 0)
                s_assert_same(other, first, true, rules[r]);
        }
        s_assert_same(first, batch, false, rules[r]);
        byzgd_gar_result_destroy(&batch);
    }
    byzgd_gar_result_destroy(&first);
    byzgd_gar_result_destroy(&other);
    byzgd_gar_stream_destroy(&stream);
    free(x);
}

TEST(stream_with_missing_slots_and_nonfinite_rows)
{
    // Slots 3 and 7 never arrive; slot 5 holds a NaN. The rule sees the filled slots in
    // increasing order, and drops the NaN row as byzgd_gar_apply does.
    float *x = s_rows();
    x[5 * D + 17] = NAN;
    byzgd_gar_stream_t *stream = byzgd_gar_stream_new(N, D);
    byzgd_gar_result_t *streamed = byzgd_gar_result_new(N, D);
    size_t order[] = {12, 0, 5, 9, 1, 2, 11, 4, 6, 8, 10};
    size_t count = sizeof order / sizeof *order;
    float *packed = malloc(count * D * sizeof *packed);
    size_t slots[] = {0, 1, 2, 4, 5, 6, 8, 9, 10, 11, 12};
    for (size_t i = 0; i < count; i++)
        memcpy(packed + i * D, x + slots[i] * D, D * sizeof *packed);
    const char *rules[] = {"krum", "multi-krum", "medoid"};
    for (int r = 0; r < 3; r++) {
        byzgd_gar_config_t config = s_config(rules[r], 2);
        s_stream(stream, &config, streamed, x, order, count);
        for (size_t i = 0; i < count; i++)
            ASSERT_EQ_INT(byzgd_gar_stream_slot(stream, i), slots[i]);
        ASSERT_EQ_INT(streamed->dropped, 1);
        byzgd_gar_result_t *batch = byzgd_gar_result_new(count, D);
        char error[256] = "";
        ASSERT_MSG(byzgd_gar_apply(&config, batch, packed, count, D, error, sizeof error) == 0,
                   "%s", error);
        s_assert_same(streamed, batch, false, rules[r]);
        ASSERT(isnan(streamed->scores[4])); // slot 5
        byzgd_gar_result_destroy(&batch);
    }
    free(packed);
    byzgd_gar_result_destroy(&streamed);
    byzgd_gar_stream_destroy(&stream);
    free(x);
}

TEST(stream_errors)
{
    float row[4] = {1, 2, 3, 4};
    char error[256] = "";
    byzgd_gar_stream_t *stream = byzgd_gar_stream_new(3, 4);
    ASSERT(stream);
    ASSERT_EQ_INT(byzgd_gar_stream_add_row(stream, 3, row, error, sizeof error), -1);
    ASSERT(strstr(error, "out of range"));
    ASSERT_EQ_INT(byzgd_gar_stream_add_row(stream, 1, row, error, sizeof error), 0);
    ASSERT_EQ_INT(byzgd_gar_stream_add_row(stream, 1, row, error, sizeof error), -1);
    ASSERT(strstr(error, "already"));
    // Krum needs n > 2f + 2: one row is not enough, and finish says so.
    byzgd_gar_config_t config = s_config("krum", 1);
    byzgd_gar_stream_reset(stream, &config);
    ASSERT_EQ_INT(byzgd_gar_stream_add_row(stream, 1, row, error, sizeof error), 0);
    byzgd_gar_result_t *result = byzgd_gar_result_new(3, 4);
    ASSERT_EQ_INT(byzgd_gar_stream_finish(stream, result, error, sizeof error), -1);
    ASSERT(strstr(error, "krum"));
    // After a reset the slot is free again.
    byzgd_gar_stream_reset(stream, &config);
    ASSERT_EQ_INT(byzgd_gar_stream_count(stream), 0);
    ASSERT_EQ_INT(byzgd_gar_stream_add_row(stream, 1, row, error, sizeof error), 0);
    ASSERT(byzgd_gar_stream_new(0, 4) == NULL);
    byzgd_gar_result_destroy(&result);
    byzgd_gar_stream_destroy(&stream);
    byzgd_gar_stream_destroy(&stream); // NULL: no-op
}

// Rows longer than a slice (three slices and a tail): one pair's distance is the same
// whether the stream computed it alone, in a batch of all rows split among threads while
// finish waited (drain), or in batches of any size; and it agrees with byzgd_gar_apply.
TEST(stream_batches_and_threads_give_the_same_bits)
{
    const size_t n = 9, d = 40 * BYZGD_GAR_STREAM_SLICE + 101;
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 31, 0);
    float *x = malloc(n * d * sizeof *x);
    ASSERT(x);
    for (size_t k = 0; k < n * d; k++)
        x[k] = (float)(2.0 + byzgd_rng_gaussian(&rng));
    for (size_t j = 0; j < d; j++)
        x[6 * d + j] -= 5; // an outlier
    const char *rules[] = {"krum", "multi-krum", "bulyan"};
    byzgd_gar_stream_t *stream = byzgd_gar_stream_new(n, d);
    ASSERT(stream);
    byzgd_gar_result_t *first = byzgd_gar_result_new(n, d), *other = byzgd_gar_result_new(n, d);
    byzgd_gar_result_t *batch = byzgd_gar_result_new(n, d);
    const size_t order[9] = {3, 8, 0, 6, 1, 5, 2, 7, 4};
    size_t backwards[9], order_reversed[9];
    for (size_t k = 0; k < n; k++) {
        backwards[k] = n - 1 - k;
        order_reversed[k] = order[n - 1 - k];
    }
    char error[256] = "";
    for (int r = 0; r < 3; r++) {
        byzgd_gar_config_t config = s_config(rules[r], 1);
        // (a) every row on its own: drain after each arrival, the thread alone.
#ifdef _OPENMP
        omp_set_num_threads(1);
#endif
        s_stream_paced(stream, &config, first, x, d, order, n, 1, n);
        ASSERT(byzgd_gar_stream_busy_s(stream) > 0);
        // (b) all at once, in another order: batches as the thread finds them, the rest
        // split among the two threads finish waits with.
#ifdef _OPENMP
        omp_set_num_threads(2);
#endif
        s_stream_paced(stream, &config, other, x, d, backwards, n, 0, n);
        s_assert_same_d(other, first, true, rules[r], d);
        // (c) a caller with four threads: the thread computes on two while rows arrive.
#ifdef _OPENMP
        omp_set_num_threads(4);
#endif
        s_stream_paced(stream, &config, other, x, d, order_reversed, n, 3, n);
        s_assert_same_d(other, first, true, rules[r], d);
#ifdef _OPENMP
        omp_set_num_threads(2);
#endif
        // (d) sweeps stopped for newer rows: four rows start one; while it runs (usually:
        // 41 slices), five more arrive and stop it, the new sweep takes them up to the first
        // four's progress.
        s_stream_paced(stream, &config, other, x, d, order, n, 0, 3);
        s_assert_same_d(other, first, true, rules[r], d);
        ASSERT_MSG(byzgd_gar_apply(&config, batch, x, n, d, error, sizeof error) == 0, "%s", error);
        s_assert_same_d(first, batch, false, rules[r], d);
        for (size_t q = 0; q < first->selected_count; q++)
            ASSERT_NE_INT(first->selected[q], 6);
    }
    byzgd_gar_result_destroy(&first);
    byzgd_gar_result_destroy(&other);
    byzgd_gar_result_destroy(&batch);
    byzgd_gar_stream_destroy(&stream);
    free(x);
}

// NNM mixes by the rows' distances: the stream computes them for it (not behind clipping),
// and the result is that of byzgd_gar_apply; rules that do not take distances leave the
// thread idle.
TEST(stream_feeds_nnm_and_skips_other_rules)
{
    float *x = s_rows();
    char error[256] = "";
    byzgd_gar_config_t config = s_config("krum", 2);
    ASSERT_EQ_INT(byzgd_gar_config_parse_option(&config, "nnm", "", error, sizeof error), 0);
    ASSERT(byzgd_gar_uses_distances(&config));
    byzgd_gar_stream_t *stream = byzgd_gar_stream_new(N, D);
    byzgd_gar_result_t *streamed = byzgd_gar_result_new(N, D), *batch = byzgd_gar_result_new(N, D);
    size_t order[N];
    for (size_t k = 0; k < N; k++)
        order[k] = (k * 5) % N;
    s_stream(stream, &config, streamed, x, order, N);
    ASSERT(byzgd_gar_stream_busy_s(stream) > 0);
    ASSERT_MSG(byzgd_gar_apply(&config, batch, x, N, D, error, sizeof error) == 0, "%s", error);
    s_assert_same(streamed, batch, false, "krum+nnm");
    const char *idle[][2] = {{"median", ""}, {"krum", "clip"}, {"krum", "bucket"}};
    for (int i = 0; i < 3; i++) {
        config = s_config(idle[i][0], 2);
        if (*idle[i][1])
            ASSERT_EQ_INT(
                byzgd_gar_config_parse_option(&config, idle[i][1], "2", error, sizeof error), 0);
        ASSERT(!byzgd_gar_uses_distances(&config));
        s_stream(stream, &config, streamed, x, order, N);
        ASSERT(byzgd_gar_stream_busy_s(stream) == 0);
        ASSERT_MSG(byzgd_gar_apply(&config, batch, x, N, D, error, sizeof error) == 0, "%s", error);
        s_assert_same(streamed, batch, true, idle[i][0]);
    }
    byzgd_gar_result_destroy(&streamed);
    byzgd_gar_result_destroy(&batch);
    byzgd_gar_stream_destroy(&stream);
    free(x);
}

// Streaming only where it pays, a function of (slots, d) alone: more than 32 slots of rows
// too large to share the cache aggregate at finish exactly as byzgd_gar_apply does, with
// the thread idle; fewer slots, or small rows, stream.
TEST(stream_streams_only_where_it_pays)
{
    ASSERT(byzgd_gar_stream_pays(BYZGD_GAR_STREAM_MAX_N, 1000000));
    ASSERT(!byzgd_gar_stream_pays(BYZGD_GAR_STREAM_MAX_N + 1, 1000000));
    ASSERT(!byzgd_gar_stream_pays(100, 1000000));
    ASSERT(byzgd_gar_stream_pays(100, BYZGD_GAR_STREAM_CACHED_VALUES / 100));
    ASSERT(!byzgd_gar_stream_pays(100, BYZGD_GAR_STREAM_CACHED_VALUES / 100 + 1));
    const size_t n = 40, sizes[2] = {BYZGD_GAR_STREAM_CACHED_VALUES / n + 8, 3001};
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 43, 0);
    char error[256] = "";
    size_t order[40];
    for (size_t i = 0; i < n; i++)
        order[i] = (i * 7) % n;
    for (int k = 0; k < 2; k++) {
        size_t d = sizes[k];
        float *x = malloc(n * d * sizeof *x);
        ASSERT(x);
        for (size_t v = 0; v < n * d; v++)
            x[v] = (float)(1.0 + byzgd_rng_gaussian(&rng));
        for (size_t j = 0; j < d; j++)
            x[7 * d + j] += 10; // an outlier
        byzgd_gar_stream_t *stream = byzgd_gar_stream_new(n, d);
        byzgd_gar_result_t *streamed = byzgd_gar_result_new(n, d);
        byzgd_gar_result_t *batch = byzgd_gar_result_new(n, d);
        ASSERT(stream && streamed && batch);
        byzgd_gar_config_t config = s_config("multi-krum", 9);
        s_stream_paced(stream, &config, streamed, x, d, order, n, 0, n);
        ASSERT_MSG(byzgd_gar_apply(&config, batch, x, n, d, error, sizeof error) == 0, "%s", error);
        bool streams = k == 1;
        ASSERT_EQ_INT(byzgd_gar_stream_pays(n, d), streams);
        ASSERT_EQ_INT(byzgd_gar_stream_busy_s(stream) > 0, streams);
        s_assert_same_d(streamed, batch, !streams, "multi-krum", d);
        for (size_t q = 0; q < streamed->selected_count; q++)
            ASSERT_NE_INT(streamed->selected[q], 7);
        byzgd_gar_result_destroy(&streamed);
        byzgd_gar_result_destroy(&batch);
        byzgd_gar_stream_destroy(&stream);
        free(x);
    }
}

static const byzgd_test_case_t cases[] = {
    TEST_CASE(stream_streams_only_where_it_pays),
    TEST_CASE(stream_batches_and_threads_give_the_same_bits),
    TEST_CASE(stream_feeds_nnm_and_skips_other_rules),
    TEST_CASE(stream_matches_batch_in_every_order),
    TEST_CASE(stream_with_missing_slots_and_nonfinite_rows),
    TEST_CASE(stream_errors),
};
BYZGD_TEST_MAIN(cases)

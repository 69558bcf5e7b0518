/*  test_evaluations.c — byzgd-simulate's evaluations in chunks (simulate/evaluations.h):
    the scores are the server evaluator's bits whatever the threads and the order of the
    chunks, a round takes its share, a backlog is caught up, evaluations complete in order
    with what the caller carried. */
#include "test.h"

#include <math.h>
#include <string.h>

#include "learning/dataset.h"
#include "learning/model.h"
#include "server/evaluator.h"
#include "simulate/evaluations.h"
#include "support/rng.h"

enum { S_EXAMPLES = 1000 }; // 4 chunks of 256, the last of 232

static byzgd_dataset_t *
s_test_set(byzgd_model_spec_t *spec_out)
{
    byzgd_dataset_options_t options = {0};
    options.split = BYZGD_SPLIT_TEST;
    options.synthetic_count = S_EXAMPLES;
    char error[256];
    byzgd_dataset_t *test_set = byzgd_dataset_load("synthetic", &options, error, sizeof error);
    ASSERT_MSG(test_set, "%s", error);
    *spec_out = byzgd_dataset_model_spec(test_set, "mlp", (size_t[2]){8, 4});
    return test_set;
}

// What the server's evaluator computes: one model, batches of BYZGD_EVAL_CHUNK, one thread.
static void
s_reference(const byzgd_model_spec_t *spec, const float *params, double *loss, double *accuracy)
{
    byzgd_model_spec_t model_spec = *spec;
    char error[256];
    byzgd_model_t *model = byzgd_model_new(&model_spec, BYZGD_EVAL_CHUNK, error, sizeof error);
    ASSERT_MSG(model, "%s", error);
    byzgd_model_set_threads(model, 1);
    byzgd_model_spec_t ignored;
    byzgd_dataset_t *test_set = s_test_set(&ignored);
    byzgd_model_evaluate_arrays(model, loss, accuracy, params, test_set->features, test_set->labels,
                                test_set->count);
    byzgd_dataset_destroy(&test_set);
    byzgd_model_destroy(&model);
}

static float *
s_params(const byzgd_model_spec_t *spec, uint64_t seed, size_t *d_out)
{
    char error[256];
    byzgd_model_t *model = byzgd_model_new(spec, 1, error, sizeof error);
    ASSERT_MSG(model, "%s", error);
    *d_out = byzgd_model_dimension(model);
    float *params = malloc(*d_out * sizeof *params);
    ASSERT(params);
    byzgd_model_init(model, params, seed);
    byzgd_model_destroy(&model);
    return params;
}

// Evaluations of the test set for `threads` threads, one queued every `every` rounds; the
// set is theirs from now on.
static byzgd_evaluations_t *
s_evaluations(int threads, uint64_t every, byzgd_model_spec_t *spec_out)
{
    byzgd_dataset_t *test_set = s_test_set(spec_out);
    char error[256];
    byzgd_evaluations_t *evaluations =
        byzgd_evaluations_new(spec_out, &test_set, threads, every, error, sizeof error);
    ASSERT_MSG(evaluations, "%s", error);
    ASSERT(test_set == NULL);
    return evaluations;
}

// Computes the handed-out tasks in reverse order on alternating threads.
static void
s_loop(byzgd_evaluations_t *evaluations, size_t tasks, int threads)
{
    for (size_t k = tasks; k-- > 0;)
        byzgd_evaluations_compute(evaluations, k, (int)(k % (size_t)threads));
}

TEST(chunks_on_any_thread_give_the_evaluator_bits)
{
    byzgd_model_spec_t spec;
    byzgd_evaluations_t *evaluations = s_evaluations(3, 3, &spec);
    size_t d;
    float *params = s_params(&spec, 5, &d);
    byzgd_evaluations_queue(
        evaluations,
        &(byzgd_evaluation_t){.round = 3, .train_loss = 0.5, .ratio = 2.5, .rejected_total = 7},
        params, d);
    float kept = params[0];
    params[0] = NAN; // the queue keeps its own copy
    byzgd_evaluation_t done;
    // Every third round queues one: a round takes ceil(4 / 3) = 2 of its 4 chunks.
    ASSERT_EQ_INT(byzgd_evaluations_hand_out(evaluations, false), 2);
    s_loop(evaluations, 2, 3);
    ASSERT(!byzgd_evaluations_next_complete(evaluations, &done));
    ASSERT_EQ_INT(byzgd_evaluations_hand_out(evaluations, false), 2);
    s_loop(evaluations, 2, 3);
    ASSERT(byzgd_evaluations_next_complete(evaluations, &done));
    params[0] = kept;
    double loss, accuracy;
    s_reference(&spec, params, &loss, &accuracy);
    ASSERT_MSG(done.loss == loss && done.accuracy == accuracy, "%.17g %.17g vs %.17g %.17g",
               done.loss, done.accuracy, loss, accuracy);
    ASSERT(isfinite(loss) && accuracy > 0);
    ASSERT_EQ_INT(done.round, 3);
    ASSERT(done.train_loss == 0.5 && done.ratio == 2.5 && done.rejected_total == 7);
    ASSERT_EQ_INT(byzgd_evaluations_pending(evaluations), 0);
    ASSERT_EQ_INT(byzgd_evaluations_hand_out(evaluations, false), 0);
    free(params);
    byzgd_evaluations_destroy(&evaluations);
}

TEST(a_backlog_is_caught_up_and_evaluations_complete_in_order)
{
    byzgd_model_spec_t spec;
    byzgd_evaluations_t *evaluations = s_evaluations(2, 10, &spec);
    size_t d;
    float *first = s_params(&spec, 1, &d), *second = s_params(&spec, 2, &d);
    byzgd_evaluations_queue(evaluations, &(byzgd_evaluation_t){.round = 10}, first, d);
    // A round takes ceil(4 / 10) = 1 chunk; a second evaluation queued early adds 4 waiting
    // chunks to the 3 left: a round then takes 1 plus the 3 beyond one evaluation.
    ASSERT_EQ_INT(byzgd_evaluations_hand_out(evaluations, false), 1);
    s_loop(evaluations, 1, 2);
    byzgd_evaluations_queue(evaluations, &(byzgd_evaluation_t){.round = 12}, second, d);
    ASSERT_EQ_INT(byzgd_evaluations_pending(evaluations), 2);
    ASSERT_EQ_INT(byzgd_evaluations_hand_out(evaluations, false), 4);
    s_loop(evaluations, 4, 2);
    byzgd_evaluation_t done;
    ASSERT(byzgd_evaluations_next_complete(evaluations, &done));
    ASSERT_EQ_INT(done.round, 10);
    double loss, accuracy;
    s_reference(&spec, first, &loss, &accuracy);
    ASSERT(done.loss == loss && done.accuracy == accuracy);
    ASSERT(!byzgd_evaluations_next_complete(evaluations, &done));
    // The run's end: every waiting chunk at once.
    ASSERT_EQ_INT(byzgd_evaluations_hand_out(evaluations, true), 3);
    s_loop(evaluations, 3, 2);
    ASSERT(byzgd_evaluations_next_complete(evaluations, &done));
    ASSERT_EQ_INT(done.round, 12);
    s_reference(&spec, second, &loss, &accuracy);
    ASSERT(done.loss == loss && done.accuracy == accuracy);
    ASSERT_EQ_INT(byzgd_evaluations_pending(evaluations), 0);
    free(first);
    free(second);
    byzgd_evaluations_destroy(&evaluations);
}

static const byzgd_test_case_t cases[] = {
    TEST_CASE(chunks_on_any_thread_give_the_evaluator_bits),
    TEST_CASE(a_backlog_is_caught_up_and_evaluations_complete_in_order),
};

BYZGD_TEST_MAIN(cases)

/*  evaluations.h — byzgd-simulate's test-set evaluations, computed on the simulation's own
    threads (free of ZeroMQ).

    The evaluation of x_t is cut into chunks of BYZGD_EVAL_CHUNK test examples, the chunks
    of the server's evaluator (server/evaluator.h). Each round's parallel loop computes a
    share of the waiting chunks after its proposals, on whichever thread is free; once an
    evaluation's last chunk is done, the chunks' sums added in chunk order give the server
    evaluator's bits. A round takes 1 / every of an evaluation, so each is complete by the
    time the next is queued, and more when a backlog builds (a last round off the period
    queues one early). Why not a thread of its own: beside --threads busy threads, an
    evaluator thread took a core from one of them mid-round, and every round waited for
    the one delayed (docs/SIMULATE.md).

    byzgd_evaluations_t *evaluations =
        byzgd_evaluations_new(&spec, &test_set, threads, every, error, sizeof error);
    byzgd_evaluations_queue(evaluations, &(byzgd_evaluation_t){.round = t}, x_t, d);
    size_t chunks = byzgd_evaluations_hand_out(evaluations, false);   // before a loop
    ... task k < chunks of the loop, on OpenMP thread `thread`:
        byzgd_evaluations_compute(evaluations, k, thread);
    byzgd_evaluation_t done;                                           // after the loop
    while (byzgd_evaluations_next_complete(evaluations, &done)) ...

    Not thread-safe except byzgd_evaluations_compute, which threads call for different
    tasks between a hand-out and the next call of any other function. */
#ifndef BYZGD_EVALUATIONS_H
#define BYZGD_EVALUATIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "learning/dataset.h"
#include "learning/model.h"

typedef struct byzgd_evaluations_t byzgd_evaluations_t;

typedef struct {
    uint64_t round;
    // Carried for the caller from byzgd_evaluations_queue to the completed evaluation (what
    // its progress line shows besides the scores).
    double train_loss, ratio;
    uint64_t rejected_total;
    // The scores, set when the evaluation is complete (byzgd_model_evaluate_arrays').
    double loss, accuracy;
} byzgd_evaluation_t;

// Evaluations of `spec` on *test_set_p (owned from now on, nulled) for `threads` threads, a
// new one queued every `every` rounds (≥ 1). Returns NULL with a message if the model
// cannot be built.
byzgd_evaluations_t *byzgd_evaluations_new(const byzgd_model_spec_t *spec,
                                           byzgd_dataset_t **test_set_p, int threads,
                                           uint64_t every, char *error, size_t error_size);
void byzgd_evaluations_destroy(byzgd_evaluations_t **self_p);

// Queues the evaluation of params[d] (copied); `what`'s round and carried fields are kept.
void byzgd_evaluations_queue(byzgd_evaluations_t *self, const byzgd_evaluation_t *what,
                             const float *params, size_t d);

// Chooses the chunks the next loop computes (every waiting one when `all`) and returns
// their number, the tasks 0 .. count - 1 of byzgd_evaluations_compute.
size_t byzgd_evaluations_hand_out(byzgd_evaluations_t *self, bool all);

// Computes task `task` of the last hand-out with the model of thread `thread`
// (0 ≤ thread < threads).
void byzgd_evaluations_compute(byzgd_evaluations_t *self, size_t task, int thread);

// After a loop that computed every task handed out: takes the oldest complete evaluation
// into *out and returns true, or returns false when none is complete.
bool byzgd_evaluations_next_complete(byzgd_evaluations_t *self, byzgd_evaluation_t *out);

// Evaluations queued and not yet taken.
size_t byzgd_evaluations_pending(const byzgd_evaluations_t *self);

#endif

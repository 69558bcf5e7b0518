/*  evaluator.h — test-set evaluation on its own actor (thread), so that a long evaluation
    never stalls proposal collection. The server submits a copy of the parameters of a
    round; the result comes back on the actor's pipe, which the server polls with its other
    sockets.

    byzgd_evaluator_t *evaluator = byzgd_evaluator_new(&spec, &test_set, error, size);
    byzgd_evaluator_submit(evaluator, round, params, d);       // copies params
    ... zpoller on byzgd_evaluator_socket(evaluator) ...
    byzgd_evaluator_recv(evaluator, &round, &loss, &accuracy); */
#ifndef BYZGD_EVALUATOR_H
#define BYZGD_EVALUATOR_H

#include <stddef.h>
#include <stdint.h>

#include "learning/dataset.h"
#include "learning/model.h"

typedef struct byzgd_evaluator_t byzgd_evaluator_t;

// An evaluation runs through the test set in chunks of this many examples, on one thread,
// their sums added in order (byzgd_model_evaluate_arrays); byzgd-simulate computes the same
// chunks on its threads and adds them in the same order, for the same bits.
#define BYZGD_EVAL_CHUNK 256

// Starts an evaluator for `spec` that owns *test_set_p (nulled). Returns NULL with a
// message if the model cannot be built.
byzgd_evaluator_t *byzgd_evaluator_new(const byzgd_model_spec_t *spec, byzgd_dataset_t **test_set_p,
                                       char *error, size_t error_size);

// Stops the actor (an evaluation in progress finishes first) and frees it. NULL-safe.
void byzgd_evaluator_destroy(byzgd_evaluator_t **self_p);

// Queues the evaluation of params[d] (copied) for `round`. Results arrive in submission
// order. Returns 0, or -1 if d does not match the model.
int byzgd_evaluator_submit(byzgd_evaluator_t *self, uint64_t round, const float *params, size_t d);

// The socket to poll for results (borrowed; a zactor_t *, usable as a zsock_t *).
void *byzgd_evaluator_socket(byzgd_evaluator_t *self);

// Receives one result (blocks until one is there). Returns 0, or -1 if interrupted.
int byzgd_evaluator_recv(byzgd_evaluator_t *self, uint64_t *round_out, double *loss_out,
                         double *accuracy_out);

// Evaluations submitted whose result has not been received yet.
size_t byzgd_evaluator_outstanding(const byzgd_evaluator_t *self);

#endif

/*  gar_stream.h — aggregation of rows that arrive one by one (no I/O).

    A round's proposals arrive over the collection window. A stream computes each arriving
    row's squared distances to the rows already in while the others are still on their way,
    so that closing the round only runs the rule's selection on the precomputed matrix and
    averages: the Krum family (krum, multi-krum, medoid, 1-p-krum, bulyan, mda) costs little
    more than the average after the last arrival. Other rules, and distance rules with
    pre-aggregators (clip, nnm, bucket), ignore the matrix and aggregate at finish.

        byzgd_gar_stream_t *stream = byzgd_gar_stream_new(n, d);   // once
        byzgd_gar_stream_reset(stream);                            // each round
        byzgd_gar_stream_add_row(stream, slot, row, ...);          // each arrival
        byzgd_gar_stream_finish(stream, &config, result, ...);     // at close

    The rows are borrowed: each must stay valid and unchanged until finish returns.
    Determinism: a pair's distance is summed from its two rows alone (the direct kernel of
    gar_distance.c), so the matrix, and with it every result, is bit-identical in every
    order of arrival. Against byzgd_gar_apply on the same rows (whose blocked Gram kernel
    sums differently) the distances agree within about 1e-7 relative: the selection and
    the aggregate are the same unless two scores tie to that precision, the scores agree
    to that precision. */
#ifndef BYZGD_GAR_STREAM_H
#define BYZGD_GAR_STREAM_H

#include "rules/gar.h"

#include <stddef.h>

typedef struct byzgd_gar_stream_t byzgd_gar_stream_t;

// A stream for rows of d floats in slots 0 .. max_n - 1. NULL when out of memory.
byzgd_gar_stream_t *byzgd_gar_stream_new(size_t max_n, size_t d);
void byzgd_gar_stream_destroy(byzgd_gar_stream_t **self_p);

// Empties every slot (a new round).
void byzgd_gar_stream_reset(byzgd_gar_stream_t *self);

// Adds `row` (d floats, borrowed until finish) in `slot` and computes its squared distances
// to every row already added. Returns 0, or -1 with a message when the slot is out of range
// or already filled.
int byzgd_gar_stream_add_row(byzgd_gar_stream_t *self, size_t slot, const float *row, char *error,
                             size_t error_size);

// Rows added so far.
size_t byzgd_gar_stream_count(const byzgd_gar_stream_t *self);

// The slot of the i-th row the rule sees: finish aggregates the filled slots in increasing
// order, and result->selected / result->scores index rows in that order.
size_t byzgd_gar_stream_slot(const byzgd_gar_stream_t *self, size_t i);

// Aggregates the rows added, like byzgd_gar_apply on them in slot order. Returns 0, or -1
// with a message (as byzgd_gar_apply). The stream keeps its rows until reset.
int byzgd_gar_stream_finish(byzgd_gar_stream_t *self, const byzgd_gar_config_t *config,
                            byzgd_gar_result_t *result, char *error, size_t error_size);

#endif

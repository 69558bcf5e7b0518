/*  gar_stream.h — aggregation of rows that arrive one by one (no I/O).

    A round's proposals arrive over the collection window. A stream computes each arriving
    row's squared distances to the rows already in on its own thread, while the caller goes
    on receiving, so that closing the round only waits for the last rows' distances, runs
    the rule's selection on the precomputed matrix and averages: for the rules that take
    the rows' distances (byzgd_gar_uses_distances: krum, multi-krum, medoid, 1-p-krum when
    it draws Krum, bulyan, mda, and nnm) closing costs little more than the average. Other
    rules aggregate at finish as byzgd_gar_apply does, and so does every rule when
    streaming does not pay (byzgd_gar_stream_pays: more than BYZGD_GAR_STREAM_MAX_N slots
    of rows too large to share the cache, where the thread cannot keep up with the
    arrivals on the transport's cores and would leave more at close than the batch
    kernel takes).

        byzgd_gar_stream_t *stream = byzgd_gar_stream_new(n, d);   // once: starts the thread
        byzgd_gar_stream_reset(stream, &config);                   // each round
        byzgd_gar_stream_add_row(stream, slot, row, ...);          // each arrival
        byzgd_gar_stream_finish(stream, result, ...);              // at close

    One thread drives a stream (reset, add_row, drain, finish); the stream's own thread
    only reads the rows. The rows are borrowed: each must stay valid and unchanged until
    the next reset.

    Determinism: a pair's distance is a function of its two rows alone — summed by the
    direct kernel (byzgd_gar_distances_to_rows) over fixed slices of
    BYZGD_GAR_STREAM_SLICE values, the slices added in double in increasing order, each
    slice of a pair by one thread — so the matrix, and with it every result, is
    bit-identical in every order of arrival, for every grouping of the arrivals into the
    thread's sweeps (gar_stream.c), every number of threads and every timing. Against
   byzgd_gar_apply on the same rows (whose blocked Gram kernel sums differently) the distances agree
   within about 1e-7 relative: the selection and the aggregate are the same unless two scores tie to
   that precision. */
#ifndef BYZGD_GAR_STREAM_H
#define BYZGD_GAR_STREAM_H

#include "rules/gar.h"

#include <stdbool.h>
#include <stddef.h>

// Values per slice of a row: the unit of one kernel call, and the cache block (a slice of
// every row of a round at n = 100 is 3.2 MB, inside the L3). Part of the streamed
// distances' definition: changing it changes their last bits.
#define BYZGD_GAR_STREAM_SLICE 8192

// Streaming pays while the thread keeps up with the arrivals (byzgd_gar_stream_pays): for
// at most this many slots, or when all the rows fit together in this many floats (16 MB,
// inside the last-level cache). Above, the distances are computed at finish, by the
// blocked Gram kernel of byzgd_gar_apply.
#define BYZGD_GAR_STREAM_MAX_N         32
#define BYZGD_GAR_STREAM_CACHED_VALUES ((size_t)1 << 22)

typedef struct byzgd_gar_stream_t byzgd_gar_stream_t;

// A stream for rows of d floats in slots 0 .. max_n - 1, with its thread started; it
// aggregates with the default configuration (average) until the first reset. NULL when
// out of memory or when the thread cannot start.
byzgd_gar_stream_t *byzgd_gar_stream_new(size_t max_n, size_t d);
void byzgd_gar_stream_destroy(byzgd_gar_stream_t **self_p);

// True when a stream of max_n slots of d floats computes the distances as rows arrive; a
// function of (max_n, d) alone, never of timing, so that a run's results do not depend on
// the machine's load: each choice is deterministic, and the two agree within ~1e-7.
bool byzgd_gar_stream_pays(size_t max_n, size_t d);

// Starts a new round aggregated with `config` (copied; its pointers stay borrowed): waits
// for the thread to finish the previous rows, empties every slot. The thread computes
// distances only when byzgd_gar_uses_distances(config) and byzgd_gar_stream_pays, alone, or on all
// but two of the caller's OpenMP threads (omp_get_max_threads) when it has more than three.
void byzgd_gar_stream_reset(byzgd_gar_stream_t *self, const byzgd_gar_config_t *config);

// Adds `row` (d floats, borrowed until the next reset) in `slot`; its distances to the
// rows already in are computed on the stream's thread. Returns 0, or -1 with a message
// when the slot is out of range or already filled.
int byzgd_gar_stream_add_row(byzgd_gar_stream_t *self, size_t slot, const float *row, char *error,
                             size_t error_size);

// Waits until the distances of every row added are computed; the thread then uses as many
// OpenMP threads as the caller would (omp_get_max_threads) instead of one.
void byzgd_gar_stream_drain(byzgd_gar_stream_t *self);

// Rows added since the reset.
size_t byzgd_gar_stream_count(const byzgd_gar_stream_t *self);

// Seconds the thread spent computing distances since the reset (while the caller
// collected, and while it waited in drain).
double byzgd_gar_stream_busy_s(byzgd_gar_stream_t *self);

// The slot of the i-th row the rule saw in the last finish: finish aggregates the filled
// slots in increasing order, and result->selected / result->scores index rows in that
// order.
size_t byzgd_gar_stream_slot(const byzgd_gar_stream_t *self, size_t i);

// Drains, then aggregates the rows added, like byzgd_gar_apply on them in slot order with
// the configuration of the reset. Returns 0, or -1 with a message (as byzgd_gar_apply).
// The stream keeps its rows until the next reset.
int byzgd_gar_stream_finish(byzgd_gar_stream_t *self, byzgd_gar_result_t *result, char *error,
                            size_t error_size);

#endif

/*  metrics.h — the server's per-round metrics, one JSON object per line (metrics.jsonl).

    A round's line is written when the round is aggregated, except on rounds sent to the
    evaluator: such a line waits until its test loss and accuracy arrive, and the lines of
    later rounds wait behind it, so the file stays in round order and every line is final.

    Fields: round, elapsed_s, phase times collect_s / aggregate_s / update_s / publish_s,
    stream_s (time the round engine's stream spent on the rows' distances, mostly while
    they arrived: rules/gar_stream.h),
    learning_rate, accepted, rejected (total), rejected_by_reason {reason: count} (names of
    byzgd_msg_reject_name), selected
    (slots the rule kept, when it selects), selected_byzantine (how many of them are
    Byzantine, when the writer knows the roles), train_loss (median of the accepted
    losses: a liar cannot move it, see round.h), status ("diverged" on the round that ended
    the run that way; absent otherwise),
    deadline (true when the round closed on its deadline), non_finite (rows the rule
    dropped), disconnects (connections the transport closed during the round: a frame over
    ZMQ_MAXMSGSIZE never reaches the server, libzmq drops the connection instead), test_accuracy and
   test_loss on evaluated rounds. */
#ifndef BYZGD_METRICS_H
#define BYZGD_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "round.h"
#include "wire/msg.h"

typedef struct {
    uint64_t round;
    double elapsed_s; // since the run (or the resumed run) started
    double collect_s, aggregate_s, update_s, publish_s, stream_s;
    double learning_rate;
    size_t accepted;
    uint64_t rejected[BYZGD_MSG_REJECT_COUNT]; // by reason, named by byzgd_msg_reject_name
    const size_t *selected; // borrowed worker ids, NULL when the rule does not select
    size_t selected_count;
    // Byzantine rows among `selected`, written after it; -1: not known here (the server
    // does not know the roles; byzgd-cluster adds it afterwards, byzgd-simulate directly)
    int selected_byzantine;
    double train_loss; // median of the accepted losses, NaN when none was finite
    bool deadline;
    size_t non_finite;
    uint64_t disconnects; // connections libzmq closed, e.g. for a frame over ZMQ_MAXMSGSIZE
    bool diverged;        // this round ended the run: "status":"diverged"
    bool evaluated;       // set by byzgd_metrics_set_evaluation, not by the caller
    double test_loss, test_accuracy;
    // The resilience diagnostic (rules/resilience.h), written when diagnosed as
    // sigma_estimate, resilience_eta, resilience_bound, aggregate_norm, resilience_ratio
    // (null when NaN)
    bool diagnosed;
    byzgd_resilience_t resilience;
} byzgd_round_record_t;

typedef struct byzgd_metrics_t byzgd_metrics_t;

// Copies what the round engine decided (accepted, selected, train loss, timings, status)
// into a record; the caller adds times, rejections and selected_byzantine.
void byzgd_metrics_record_outcome(byzgd_round_record_t *record,
                                  const byzgd_round_outcome_t *outcome);

// Opens `path` for writing (append = true keeps existing lines, for --resume). path NULL:
// records are only kept for byzgd_metrics_last (tests, --metrics not given).
// Returns NULL with a message if the file cannot be opened.
byzgd_metrics_t *byzgd_metrics_new(const char *path, bool append, char *error, size_t error_size);

// For a resume after round `last_round`: cuts the file at `path` before its first line of a
// later round (or its first incomplete or unreadable line), so the resumed rounds are not
// written twice. A missing file is fine. Returns 0, or -1 with a message.
int byzgd_metrics_truncate_after(const char *path, uint64_t last_round, char *error,
                                 size_t error_size);

// Flushes every line that can be written (pending evaluations are written without test
// fields) and closes the file. NULL-safe.
void byzgd_metrics_destroy(byzgd_metrics_t **self_p);

// Queues the record of a finished round (copied, selected too). evaluation_pending: the
// line waits for byzgd_metrics_set_evaluation(round). Returns 0, or -1 on a write error.
int byzgd_metrics_add(byzgd_metrics_t *self, const byzgd_round_record_t *record,
                      bool evaluation_pending);

// Fills the evaluation of a queued round and writes what became writable. Unknown rounds
// are ignored. Returns 0, or -1 on a write error.
int byzgd_metrics_set_evaluation(byzgd_metrics_t *self, uint64_t round, double test_loss,
                                 double test_accuracy);

// Number of rounds still waiting for their evaluation.
size_t byzgd_metrics_pending(const byzgd_metrics_t *self);

// Writes the queued lines that wait for nothing, then fflush + fsync. Returns 0 or -1.
int byzgd_metrics_flush(byzgd_metrics_t *self);

// The JSON text of the last line written (borrowed; "" before the first).
const char *byzgd_metrics_last_line(const byzgd_metrics_t *self);

#endif

/*  round.h — the round engine: the rules of one synchronous training round, free of any
    transport. The server actor (server.c) and the in-process simulator (byzgd-simulate)
    drive the same engine, which is why their metrics agree value for value.

    byzgd_round_t *engine = byzgd_round_new(&config, x0, first_round, error, sizeof error);
    for each proposal:  reason = byzgd_round_accept(engine, slot, round, gradient, d, loss);
    when byzgd_round_ready(engine) (quorum in), or at the deadline when
    byzgd_round_closable(engine):
        byzgd_round_close(engine, &outcome);   // aggregate, x ← x − γ·g, next round
    byzgd_round_params(engine);                // x of the current round

    Rules of a round t (docs/PROTOCOL.md §4):
    - a proposal is accepted when its slot is < n, its round is t (else stale_round /
      future_round), its slot has not proposed in t (duplicate), its length is d
      (dimension) and its gradient and loss are finite (non_finite);
    - the proposal of slot s is row s of an n×d matrix: rows enter the rule in SLOT ORDER,
      whatever order they arrived in, so a run with quorum n is a function of its inputs;
    - a non-finite report (a gradient with NaN/±Inf, or a non-finite loss beside a finite
      gradient) means the model diverged for the slot that computed it: it is not
      aggregated, and when more than f distinct slots — and more than half of the n —
      report non-finite in one round, at least one of them is honest and the run has
      diverged (outcome status DIVERGED); the majority bound keeps insiders beyond the
      declared f from ending a run at will;
    - an accepted row goes to the engine's stream (rules/gar_stream.h), whose thread
      computes its distances to the rows already in while the caller collects, when the
      rule takes them; a pair's distance depends on its two rows alone, so results do
      not depend on arrival order nor on timing;
    - close waits for the stream's last distances, aggregates the accepted rows with the
      rule (in slot order, on the precomputed matrix), updates x ← x − γ_t·g, and ends the
      run as DIVERGED when x is no longer finite;
    - train_loss of a round is the median of the accepted finite losses (lower median for an
      even count): robust to up to half of the rows lying about their loss. */
#ifndef BYZGD_ROUND_H
#define BYZGD_ROUND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "learning/lr_schedule.h"
#include "rules/gar.h"
#include "rules/resilience.h"
#include "wire/msg.h"

typedef struct {
    size_t worker_count;    // n: slots 0 … n − 1
    size_t dimension;       // d
    size_t quorum;          // proposals that make a round ready (0 = n)
    byzgd_gar_config_t gar; // rule, f and pre-aggregators (gar.f is the declared f)
    byzgd_lr_schedule_t learning_rate;
    // The resilience diagnostic (rules/resilience.h) on rounds that are multiples of this
    // (0: never). It computes all pairwise distances (28-45 ms at n = 20, d = 10^5), so the
    // server and byzgd-simulate ask for it on the evaluated rounds only (--eval-every).
    uint64_t resilience_every;
} byzgd_round_config_t;

typedef enum {
    BYZGD_ROUND_RUNNING = 0, // the round closed normally
    BYZGD_ROUND_DIVERGED,    // the model or the honest losses became non-finite: stop
    BYZGD_ROUND_FAILED,      // the rule refused the rows (precondition): x unchanged
} byzgd_round_status_t;

// What one close produced; the pointers are borrowed until the next close.
typedef struct {
    uint64_t round;
    size_t accepted;        // rows aggregated
    const size_t *selected; // slots the rule kept, ascending as the rule reports them; NULL
    size_t selected_count;  // when the rule does not select
    size_t non_finite;      // slots that reported non-finite this round, plus rows the rule dropped
    double train_loss;      // median of the accepted finite losses, NaN if none
    double learning_rate;   // γ_t applied
    double aggregate_s; // time in the rule, from close (the last rows' distances) to the aggregate
    double stream_s;    // time the stream's thread spent on this round's distances
    double update_s;    // time of x ← x − γ·g
    byzgd_round_status_t status;
    char message[256]; // why, when status is not RUNNING
    // The resilience diagnostic of this round's accepted rows and aggregate (diagnosed:
    // computed this round); a field is NaN when it cannot be estimated.
    bool diagnosed;
    byzgd_resilience_t resilience;
} byzgd_round_outcome_t;

typedef struct byzgd_round_t byzgd_round_t;

// Starts at round first_round with x = x0 (d floats, copied), and the stream's thread.
// Returns NULL with a message (bad sizes, out of memory, no thread).
byzgd_round_t *byzgd_round_new(const byzgd_round_config_t *config, const float *x0,
                               uint64_t first_round, char *error, size_t error_size);
void byzgd_round_destroy(byzgd_round_t **self_p);

// Offers the proposal of `slot` for `round`: `gradient` points to dimension float32 values,
// in any alignment (copied). Returns BYZGD_MSG_OK when accepted, else the reason it was
// not (value: slot ≥ n; stale_round, future_round, duplicate, dimension, non_finite).
// A rejected proposal changes nothing except the non-finite count.
byzgd_msg_reject_t byzgd_round_accept(byzgd_round_t *self, size_t slot, uint64_t round,
                                      const void *gradient, size_t dimension, double train_loss);

// Where `slot`'s proposal for the current round may be computed in place (d floats), to be
// offered with byzgd_round_accept(self, slot, round, that pointer, d, loss) without a copy;
// NULL when slot ≥ n. Its content is the engine's until the next accept of that slot; once
// accepted it is read by the stream's thread until the round closes: never write the row
// of a slot that has proposed in the current round (byzgd_round_has_proposed).
float *byzgd_round_slot_row(byzgd_round_t *self, size_t slot);

// Records that `slot` reported a non-finite proposal for the current round that never
// reached byzgd_round_accept (the codec rejected it first). Idempotent per slot and round.
void byzgd_round_note_non_finite(byzgd_round_t *self, size_t slot);

// The quorum is in.
bool byzgd_round_ready(const byzgd_round_t *self);
// The rule's precondition holds for the rows accepted so far (closing early is allowed).
bool byzgd_round_closable(const byzgd_round_t *self, char *why, size_t why_size);
// More than f distinct slots, and more than half of the n, reported non-finite this round:
// the run has diverged.
bool byzgd_round_diverging(const byzgd_round_t *self);

// Closes the current round (see the rules above) and moves to the next. Returns the
// outcome's status.
byzgd_round_status_t byzgd_round_close(byzgd_round_t *self, byzgd_round_outcome_t *outcome);

uint64_t byzgd_round_current(const byzgd_round_t *self);
size_t byzgd_round_accepted(const byzgd_round_t *self);
bool byzgd_round_has_proposed(const byzgd_round_t *self, size_t slot);
// x of the current round (d floats, borrowed; changes at close).
const float *byzgd_round_params(const byzgd_round_t *self);
size_t byzgd_round_dimension(const byzgd_round_t *self);

// The median of `count` values that are finite (others are skipped); lower median for an
// even count; NaN when none is finite. `scratch` holds count doubles.
double byzgd_round_median(const double *values, size_t count, double *scratch);

#endif

/*  round.c — the round engine (see round.h). No I/O, no sockets, no clocks except the
    phase timings reported in the outcome. */
#include "round.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rules/gar_stream.h"
#include "support/log.h"

struct byzgd_round_t {
    byzgd_round_config_t config;
    size_t n, d, quorum;
    uint64_t round;
    float *params; // x_t
    float *rows;   // n × d, row s = the proposal of slot s
    // The accepted rows, their distances computed on the stream's thread as they arrive
    // when the rule takes them (rules/gar_stream.h); it aggregates them at close.
    byzgd_gar_stream_t *stream;
    bool *present;          // slot s proposed in the current round
    bool *non_finite;       // slot s reported non-finite in the current round
    double *loss;           // per slot
    double *loss_scratch;   // n doubles: the accepted losses in slot order
    double *median_scratch; // n doubles for the median
    size_t accepted, non_finite_count;
    size_t *selected; // slots the rule kept, for the outcome
    byzgd_gar_result_t *gar_result;
};

static double
s_now_s(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

// The stream takes the rows of round self->round, aggregated with the rule as configured
// for that round (1-p Krum's draw depends on it).
static void
s_begin_round(byzgd_round_t *self)
{
    self->config.gar.round = self->round;
    byzgd_gar_stream_reset(self->stream, &self->config.gar);
}

byzgd_round_t *
byzgd_round_new(const byzgd_round_config_t *config, const float *x0, uint64_t first_round,
                char *error, size_t error_size)
{
    if (config->worker_count == 0 || config->worker_count > BYZGD_MSG_WORKERS_MAX ||
        config->dimension == 0 || config->quorum > config->worker_count || first_round == 0) {
        byzgd_set_error(error, error_size, "round engine: bad n = %zu, d = %zu, q = %zu",
                        config->worker_count, config->dimension, config->quorum);
        return NULL;
    }
    byzgd_round_t *self = calloc(1, sizeof *self);
    if (!self)
        abort();
    self->config = *config;
    self->n = config->worker_count;
    self->d = config->dimension;
    self->quorum = config->quorum ? config->quorum : config->worker_count;
    self->round = first_round;
    self->params = malloc(self->d * sizeof *self->params);
    self->rows = malloc(self->n * self->d * sizeof *self->rows);
    self->present = calloc(self->n, sizeof *self->present);
    self->non_finite = calloc(self->n, sizeof *self->non_finite);
    self->loss = calloc(self->n, sizeof *self->loss);
    self->loss_scratch = calloc(self->n, sizeof *self->loss_scratch);
    self->median_scratch = calloc(self->n, sizeof *self->median_scratch);
    self->selected = calloc(self->n, sizeof *self->selected);
    self->gar_result = byzgd_gar_result_new(self->n, self->d);
    self->stream = byzgd_gar_stream_new(self->n, self->d);
    if (!self->params || !self->rows || !self->present || !self->non_finite || !self->loss ||
        !self->loss_scratch || !self->median_scratch || !self->selected || !self->gar_result ||
        !self->stream) {
        byzgd_set_error(error, error_size, "out of memory for n = %zu, d = %zu", self->n, self->d);
        byzgd_round_destroy(&self);
        return NULL;
    }
    memcpy(self->params, x0, self->d * sizeof *self->params);
    s_begin_round(self);
    return self;
}

void
byzgd_round_destroy(byzgd_round_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    byzgd_round_t *self = *self_p;
    byzgd_gar_stream_destroy(&self->stream); // first: its thread reads the rows
    free(self->params);
    free(self->rows);
    free(self->present);
    free(self->non_finite);
    free(self->loss);
    free(self->loss_scratch);
    free(self->median_scratch);
    free(self->selected);
    byzgd_gar_result_destroy(&self->gar_result);
    free(self);
    *self_p = NULL;
}

void
byzgd_round_note_non_finite(byzgd_round_t *self, size_t slot)
{
    if (slot < self->n && !self->non_finite[slot]) {
        self->non_finite[slot] = true;
        self->non_finite_count++;
    }
}

float *
byzgd_round_slot_row(byzgd_round_t *self, size_t slot)
{
    return slot < self->n ? self->rows + slot * self->d : NULL;
}

byzgd_msg_reject_t
byzgd_round_accept(byzgd_round_t *self, size_t slot, uint64_t round, const void *gradient,
                   size_t dimension, double train_loss)
{
    if (slot >= self->n)
        return BYZGD_MSG_REJECT_VALUE;
    if (round < self->round)
        return BYZGD_MSG_REJECT_STALE_ROUND;
    if (round > self->round)
        return BYZGD_MSG_REJECT_FUTURE_ROUND;
    if (self->present[slot])
        return BYZGD_MSG_REJECT_DUPLICATE;
    if (dimension != self->d || !gradient)
        return BYZGD_MSG_REJECT_DIMENSION;
    float *row = self->rows + slot * self->d;
    if (gradient != row) // written in place through byzgd_round_slot_row: nothing to copy
        memcpy(row, gradient, self->d * sizeof *row);
    if (!isfinite(train_loss) || !byzgd_gar_row_finite(row, self->d)) {
        byzgd_round_note_non_finite(self, slot);
        return BYZGD_MSG_REJECT_NON_FINITE;
    }
    self->present[slot] = true;
    self->loss[slot] = train_loss;
    self->accepted++;
    // Cannot fail: the slot is < n and was empty.
    byzgd_gar_stream_add_row(self->stream, slot, row, NULL, 0);
    return BYZGD_MSG_OK;
}

bool
byzgd_round_ready(const byzgd_round_t *self)
{
    return self->accepted >= self->quorum;
}

bool
byzgd_round_closable(const byzgd_round_t *self, char *why, size_t why_size)
{
    if (self->accepted == 0) {
        if (why)
            snprintf(why, why_size, "no proposal");
        return false;
    }
    return byzgd_gar_check(&self->config.gar, self->accepted, why, why ? why_size : 0) == 0;
}

bool
byzgd_round_diverging(const byzgd_round_t *self)
{
    // More than f: at least one honest slot saw the model blow up. More than half of all
    // slots too: insiders beyond the declared f must not be able to end a run at will.
    return self->non_finite_count > self->config.gar.f && 2 * self->non_finite_count > self->n;
}

double
byzgd_round_median(const double *values, size_t count, double *scratch)
{
    size_t finite = 0;
    for (size_t i = 0; i < count; i++)
        if (isfinite(values[i]))
            scratch[finite++] = values[i];
    if (finite == 0)
        return NAN;
    // Insertion sort: n is at most a few thousand and this runs once per round.
    for (size_t i = 1; i < finite; i++) {
        double value = scratch[i];
        size_t j = i;
        for (; j > 0 && scratch[j - 1] > value; j--)
            scratch[j] = scratch[j - 1];
        scratch[j] = value;
    }
    return scratch[(finite - 1) / 2];
}

static bool
s_params_finite(const byzgd_round_t *self)
{
    return byzgd_gar_row_finite(self->params, self->d);
}

byzgd_round_status_t
byzgd_round_close(byzgd_round_t *self, byzgd_round_outcome_t *outcome)
{
    memset(outcome, 0, sizeof *outcome);
    outcome->round = self->round;
    outcome->resilience = (byzgd_resilience_t){
        .sigma = NAN, .eta = NAN, .bound = NAN, .aggregate_norm = NAN, .ratio = NAN};
    outcome->status = BYZGD_ROUND_RUNNING;
    outcome->learning_rate = byzgd_lr_schedule_rate(&self->config.learning_rate, self->round);
    size_t count = 0;
    for (size_t slot = 0; slot < self->n; slot++)
        if (self->present[slot])
            self->loss_scratch[count++] = self->loss[slot];
    outcome->accepted = count;
    outcome->train_loss = byzgd_round_median(self->loss_scratch, count, self->median_scratch);
    outcome->non_finite = self->non_finite_count;

    bool diverging = byzgd_round_diverging(self);
    // Closing right after the last arrival, this is the aggregation left after it: the
    // last rows' distances (the rest were computed while they arrived), the rule, the mean.
    double started = s_now_s();
    char error[200] = "";
    int applied = -1;
    if (count > 0)
        applied = byzgd_gar_stream_finish(self->stream, self->gar_result, error, sizeof error);
    else
        snprintf(error, sizeof error, "no proposal");
    double aggregated = s_now_s();
    outcome->aggregate_s = aggregated - started;
    outcome->stream_s = byzgd_gar_stream_busy_s(self->stream);
    if (applied == 0) {
        const float *aggregate = self->gar_result->aggregate;
        float *params = self->params;
        float step = (float)outcome->learning_rate;
        for (size_t j = 0; j < self->d; j++)
            params[j] -= step * aggregate[j];
        outcome->non_finite += self->gar_result->dropped;
        if (self->gar_result->selected_count > 0) {
            size_t kept = self->gar_result->selected_count;
            if (kept > self->n)
                kept = self->n;
            for (size_t i = 0; i < kept; i++) {
                size_t row = self->gar_result->selected[i];
                self->selected[i] = row < count ? byzgd_gar_stream_slot(self->stream, row) : row;
            }
            outcome->selected = self->selected;
            outcome->selected_count = kept;
        }
    }
    outcome->update_s = s_now_s() - aggregated;
    if (applied == 0 && self->config.resilience_every &&
        self->round % self->config.resilience_every == 0) {
        // Rows in slot order, as the rule saw them (finish left them unchanged and the
        // stream no longer reads them), moved down in place: a target never lies above
        // its source. A failed estimate (fewer than two finite rows) leaves its NaNs.
        size_t row = 0;
        for (size_t slot = 0; slot < self->n; slot++)
            if (self->present[slot]) {
                if (row != slot)
                    memmove(self->rows + row * self->d, self->rows + slot * self->d,
                            self->d * sizeof *self->rows);
                row++;
            }
        outcome->diagnosed = true;
        byzgd_resilience_estimate(&outcome->resilience, self->rows, count, self->d,
                                  self->config.gar.f, self->gar_result->aggregate);
    }
    if (diverging) {
        outcome->status = BYZGD_ROUND_DIVERGED;
        snprintf(outcome->message, sizeof outcome->message,
                 "%zu of %zu slots (more than f = %zu and than half) reported a non-finite "
                 "gradient or loss",
                 self->non_finite_count, self->n, self->config.gar.f);
    } else if (applied != 0) {
        outcome->status = BYZGD_ROUND_FAILED;
        snprintf(outcome->message, sizeof outcome->message, "aggregation failed: %s", error);
    } else if (!s_params_finite(self)) {
        outcome->status = BYZGD_ROUND_DIVERGED;
        snprintf(outcome->message, sizeof outcome->message,
                 "the parameters became non-finite (|γ·g| overflowed)");
    }
    memset(self->present, 0, self->n * sizeof *self->present);
    memset(self->non_finite, 0, self->n * sizeof *self->non_finite);
    self->accepted = 0;
    self->non_finite_count = 0;
    self->round++;
    s_begin_round(self);
    return outcome->status;
}

uint64_t
byzgd_round_current(const byzgd_round_t *self)
{
    return self->round;
}

size_t
byzgd_round_accepted(const byzgd_round_t *self)
{
    return self->accepted;
}

bool
byzgd_round_has_proposed(const byzgd_round_t *self, size_t slot)
{
    return slot < self->n && self->present[slot];
}

const float *
byzgd_round_params(const byzgd_round_t *self)
{
    return self->params;
}

size_t
byzgd_round_dimension(const byzgd_round_t *self)
{
    return self->d;
}

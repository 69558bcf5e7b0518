/*  byzantine.c — attack and misbehaviour hooks for the worker actor. */
#include "byzantine.h"

#include <stdlib.h>
#include <string.h>

#include "support/log.h"

typedef struct {
    byzgd_attack_config_t attack;
    byzgd_attack_moments_t *moments;
    size_t d;
    float *own, *full, *mean, *stddev, *flipped, *extra; // d floats each (extra: d + 1)
    bool checked;
} s_state_t;

static void
s_free_buffers(s_state_t *state)
{
    byzgd_attack_moments_destroy(&state->moments);
    free(state->own);
    free(state->full);
    free(state->mean);
    free(state->stddev);
    free(state->flipped);
    free(state->extra);
    state->own = state->full = state->mean = state->stddev = state->flipped = state->extra = NULL;
}

static void
s_destroy(void *arg)
{
    s_state_t *state = arg;
    s_free_buffers(state);
    free(state);
}

static float *
s_alloc(size_t count)
{
    float *buffer = calloc(count, sizeof *buffer);
    if (!buffer)
        abort();
    return buffer;
}

static int
s_propose(void *arg, byzgd_worker_context_t *context, float *proposal_out, double *loss_out)
{
    s_state_t *state = arg;
    const byzgd_msg_config_t *session = byzgd_worker_context_session(context);
    uint64_t round = byzgd_worker_context_round(context);
    size_t d = session->dimension;
    char error[512];
    if (!state->checked || state->d != d) {
        // The run's n, f, seed and this worker's slot are known only once CONFIG arrived.
        s_free_buffers(state);
        state->d = d;
        state->attack.worker_index = session->slot;
        if (!state->attack.seed_given)
            state->attack.seed = session->seed;
        if (byzgd_attack_config_check(&state->attack, session->worker_count,
                                      session->byzantine_count, error, sizeof error) != 0) {
            byzgd_error("attack: %s", error);
            return -1;
        }
        state->own = s_alloc(d);
        state->extra = s_alloc(d + 1);
        state->checked = true;
    }
    unsigned needs = byzgd_attack_needs(&state->attack);
    bool shared = byzgd_attack_colludes(&state->attack);
    byzgd_rng_t rng;
    byzgd_attack_sampling_rng(&state->attack, round, &rng);
    byzgd_attack_input_t input = {
        .n = session->worker_count, .f = session->byzantine_count, .round = round};
    // The loss a Byzantine worker reports must look plausible (and be finite, or the codec
    // drops the proposal before the rule sees the vector): the loss of its own minibatch.
    double loss = byzgd_worker_context_gradient(context, state->own, NULL, false, false);
    if (needs & BYZGD_ATTACK_NEEDS_OWN_GRADIENT) {
        // Colluders draw the same minibatch of the whole training set; others their own.
        loss = byzgd_worker_context_gradient(context, state->own, &rng, shared, false);
        input.own_gradient = state->own;
    }
    if (needs & BYZGD_ATTACK_NEEDS_FLIPPED_GRADIENT) {
        if (!state->flipped)
            state->flipped = s_alloc(d);
        byzgd_worker_context_gradient(context, state->flipped, &rng, shared, true);
        input.flipped_gradient = state->flipped;
    }
    if (needs & BYZGD_ATTACK_NEEDS_MOMENTS) {
        if (!state->moments) {
            state->moments = byzgd_attack_moments_new(d);
            state->mean = s_alloc(d);
            state->stddev = s_alloc(d);
        }
        byzgd_attack_moments_reset(state->moments);
        for (size_t k = 0; k < state->attack.estimate_batches; k++) {
            byzgd_worker_context_gradient(context, state->extra, &rng, shared, false);
            byzgd_attack_moments_add(state->moments, state->extra);
        }
        byzgd_attack_moments_finish(state->moments, state->mean, state->stddev);
        input.mean = state->mean;
        input.stddev = state->stddev;
    }
    if (needs & BYZGD_ATTACK_NEEDS_FULL_GRADIENT) {
        if (!state->full)
            state->full = s_alloc(d);
        byzgd_worker_context_full_gradient(context, state->full, state->attack.full_examples);
        input.full_gradient = state->full;
    }
    if (state->attack.kind == BYZGD_ATTACK_NONE)
        memcpy(proposal_out, state->own, d * sizeof *proposal_out);
    else if (byzgd_attack_apply(&state->attack, proposal_out, &input, d, error, sizeof error) !=
             0) {
        byzgd_error("attack: %s", error);
        return -1;
    }
    *loss_out = loss;
    return 0;
}

static int
s_delay_ms(void *arg, uint64_t round)
{
    s_state_t *state = arg;
    if (state->attack.misbehaviour == BYZGD_MISBEHAVE_SLOW &&
        byzgd_attack_misbehaves(&state->attack, round))
        return (int)(state->attack.slow_ms > 3600000 ? 3600000 : state->attack.slow_ms);
    return 0;
}

static int
s_send(void *arg, byzgd_worker_sender_t *sender, const float *proposal, size_t d, double loss)
{
    s_state_t *state = arg;
    uint64_t round = byzgd_worker_sender_round(sender);
    if (!byzgd_attack_misbehaves(&state->attack, round))
        return byzgd_worker_send_proposal(sender, round, proposal, d, loss);
    switch (state->attack.misbehaviour) {
    case BYZGD_MISBEHAVE_DUPLICATE:
        byzgd_worker_send_proposal(sender, round, proposal, d, loss);
        return byzgd_worker_send_proposal(sender, round, proposal, d, loss);
    case BYZGD_MISBEHAVE_STALE:
        // Round 0 does not exist: in the first rounds the worker has nothing stale to send.
        if (round <= state->attack.stale_rounds)
            return byzgd_worker_send_proposal(sender, round, proposal, d, loss);
        return byzgd_worker_send_proposal(sender, round - state->attack.stale_rounds, proposal, d,
                                          loss);
    case BYZGD_MISBEHAVE_WRONG_DIMENSION:
        memcpy(state->extra, proposal, d * sizeof *proposal);
        state->extra[d] = 0;
        return byzgd_worker_send_proposal(sender, round, state->extra, d + 1, loss);
    case BYZGD_MISBEHAVE_OVERSIZED:
    case BYZGD_MISBEHAVE_GARBAGE: {
        size_t size = state->attack.misbehaviour == BYZGD_MISBEHAVE_OVERSIZED
                          ? state->attack.oversized_bytes
                          : state->attack.garbage_bytes;
        uint8_t *bytes = malloc(size ? size : 1);
        if (!bytes)
            abort();
        byzgd_attack_garbage(&state->attack, bytes, size, round);
        int status = byzgd_worker_send_raw(sender, bytes, size);
        free(bytes);
        return status;
    }
    case BYZGD_MISBEHAVE_SILENCE:
        return 0;
    case BYZGD_MISBEHAVE_SLOW: // delayed by s_delay_ms, then sent as usual
    default:
        return byzgd_worker_send_proposal(sender, round, proposal, d, loss);
    }
}

int
byzgd_byzantine_hooks(byzgd_worker_hooks_t *hooks, const byzgd_attack_config_t *attack, char *error,
                      size_t error_size)
{
    (void)error;
    (void)error_size;
    s_state_t *state = calloc(1, sizeof *state);
    if (!state)
        abort();
    state->attack = *attack;
    memset(hooks, 0, sizeof *hooks);
    hooks->state = state;
    hooks->propose = s_propose;
    hooks->delay_ms = s_delay_ms;
    hooks->send = s_send;
    hooks->destroy = s_destroy;
    return 0;
}

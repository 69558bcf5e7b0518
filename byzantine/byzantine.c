/*  byzantine.c — attack and misbehaviour hooks for the worker actor. */
#include "byzantine.h"

#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "support/log.h"

// One shared input: valid for (round, params checksum), d floats (two for the moments).
typedef struct {
    uint64_t round, checksum;
    size_t d;
    float *first, *second;
    bool valid;
} s_shared_t;

struct byzgd_collusion_t {
    pthread_mutex_t lock;
    unsigned references;
    s_shared_t full, moments;
    unsigned long computed, shared;
};

byzgd_collusion_t *
byzgd_collusion_new(void)
{
    byzgd_collusion_t *self = calloc(1, sizeof *self);
    if (!self)
        abort();
    pthread_mutex_init(&self->lock, NULL);
    self->references = 1;
    return self;
}

static byzgd_collusion_t *
s_collusion_take(byzgd_collusion_t *self)
{
    pthread_mutex_lock(&self->lock);
    self->references++;
    pthread_mutex_unlock(&self->lock);
    return self;
}

void
byzgd_collusion_release(byzgd_collusion_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    byzgd_collusion_t *self = *self_p;
    *self_p = NULL;
    pthread_mutex_lock(&self->lock);
    bool last = --self->references == 0;
    pthread_mutex_unlock(&self->lock);
    if (!last)
        return;
    free(self->full.first);
    free(self->moments.first);
    free(self->moments.second);
    pthread_mutex_destroy(&self->lock);
    free(self);
}

void
byzgd_collusion_counts(byzgd_collusion_t *self, unsigned long *computed, unsigned long *shared)
{
    pthread_mutex_lock(&self->lock);
    *computed = self->computed;
    *shared = self->shared;
    pthread_mutex_unlock(&self->lock);
}

// x_t identifies the input with the round: a resumed server may publish a round again.
static uint64_t
s_checksum(const float *params, size_t d)
{
    uint64_t sum = 0xcbf29ce484222325u;
    for (size_t j = 0; j < d; j++) {
        uint32_t bits;
        memcpy(&bits, &params[j], sizeof bits);
        sum = (sum ^ bits) * 0x100000001b3u;
    }
    return sum;
}

typedef struct {
    byzgd_attack_config_t attack;
    byzgd_collusion_t *collusion; // NULL: compute alone
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
    byzgd_collusion_release(&state->collusion);
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

// Stores a computed input in the cache (the caller holds the lock).
static void
s_remember(byzgd_collusion_t *collusion, s_shared_t *cache, uint64_t round, uint64_t checksum,
           size_t d, const float *first, const float *second)
{
    if (cache->d != d) {
        free(cache->first);
        free(cache->second);
        cache->first = s_alloc(d);
        cache->second = s_alloc(d);
        cache->d = d;
    }
    assert(first && cache->first && cache->second);
    memcpy(cache->first, first, d * sizeof *first);
    if (second)
        memcpy(cache->second, second, d * sizeof *second);
    cache->round = round;
    cache->checksum = checksum;
    cache->valid = true;
    collusion->computed++;
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
    // drops the proposal before the rule sees the vector): the loss of the minibatch whose
    // gradient it computes (none, signflip, mimic), else of its own minibatch by a forward
    // pass alone; an attack that reads no data (byzgd_byzantine_data: its worker loads none)
    // reports ln C, the cross-entropy of a uniform prediction over the C classes, where
    // every model starts.
    double loss;
    if (needs & BYZGD_ATTACK_NEEDS_OWN_GRADIENT) {
        // Colluders draw the same minibatch of the whole training set; others their own.
        loss = byzgd_worker_context_gradient(context, state->own, &rng, shared, false);
        input.own_gradient = state->own;
    } else
        loss = needs == 0 ? log((double)session->class_count) : byzgd_worker_context_loss(context);
    if (needs & BYZGD_ATTACK_NEEDS_FLIPPED_GRADIENT) {
        if (!state->flipped)
            state->flipped = s_alloc(d);
        byzgd_worker_context_gradient(context, state->flipped, &rng, shared, true);
        input.flipped_gradient = state->flipped;
    }
    // Only the shared caches below need x_t's checksum (d serial multiplies).
    uint64_t checksum =
        state->collusion &&
                (needs & (BYZGD_ATTACK_NEEDS_MOMENTS | BYZGD_ATTACK_NEEDS_FULL_GRADIENT))
            ? s_checksum(byzgd_worker_context_params(context), d)
            : 0;
    if (needs & BYZGD_ATTACK_NEEDS_MOMENTS) {
        if (!state->moments) {
            state->moments = byzgd_attack_moments_new(d);
            state->mean = s_alloc(d);
            state->stddev = s_alloc(d);
        }
        // Only colluders draw from a common stream: their estimates agree, so one suffices.
        s_shared_t *cache = state->collusion && shared ? &state->collusion->moments : NULL;
        if (cache)
            pthread_mutex_lock(&state->collusion->lock);
        assert(state->mean && state->stddev);
        if (cache && cache->valid && cache->round == round && cache->checksum == checksum &&
            cache->d == d) {
            memcpy(state->mean, cache->first, d * sizeof *state->mean);
            memcpy(state->stddev, cache->second, d * sizeof *state->stddev);
            state->collusion->shared++;
        } else {
            byzgd_attack_moments_reset(state->moments);
            for (size_t k = 0; k < state->attack.estimate_batches; k++) {
                byzgd_worker_context_gradient(context, state->extra, &rng, shared, false);
                byzgd_attack_moments_add(state->moments, state->extra);
            }
            byzgd_attack_moments_finish(state->moments, state->mean, state->stddev);
            if (cache)
                s_remember(state->collusion, cache, round, checksum, d, state->mean, state->stddev);
        }
        if (cache)
            pthread_mutex_unlock(&state->collusion->lock);
        input.mean = state->mean;
        input.stddev = state->stddev;
    }
    if (needs & BYZGD_ATTACK_NEEDS_FULL_GRADIENT) {
        if (!state->full)
            state->full = s_alloc(d);
        // The mean gradient over the same examples at the same x: the same for everyone.
        s_shared_t *cache = state->collusion ? &state->collusion->full : NULL;
        if (cache)
            pthread_mutex_lock(&state->collusion->lock);
        if (cache && cache->valid && cache->round == round && cache->checksum == checksum &&
            cache->d == d) {
            memcpy(state->full, cache->first, d * sizeof *state->full);
            state->collusion->shared++;
        } else {
            byzgd_worker_context_full_gradient(context, state->full, state->attack.full_examples);
            if (cache)
                s_remember(state->collusion, cache, round, checksum, d, state->full, NULL);
        }
        if (cache)
            pthread_mutex_unlock(&state->collusion->lock);
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

byzgd_worker_data_t
byzgd_byzantine_data(const byzgd_attack_config_t *attack)
{
    if (byzgd_attack_needs(attack) == 0)
        return BYZGD_WORKER_DATA_NONE;
    return byzgd_attack_needs_training_set(attack) ? BYZGD_WORKER_DATA_FULL
                                                   : BYZGD_WORKER_DATA_SHARD;
}

int
byzgd_byzantine_hooks(byzgd_worker_hooks_t *hooks, const byzgd_attack_config_t *attack,
                      byzgd_collusion_t *collusion, char *error, size_t error_size)
{
    (void)error;
    (void)error_size;
    s_state_t *state = calloc(1, sizeof *state);
    if (!state)
        abort();
    state->attack = *attack;
    state->collusion = collusion ? s_collusion_take(collusion) : NULL;
    *hooks = (byzgd_worker_hooks_t){
        .state = state,
        .propose = s_propose,
        .delay_ms = s_delay_ms,
        .send = s_send,
        .destroy = s_destroy,
    };
    return 0;
}

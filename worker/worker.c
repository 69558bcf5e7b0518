/*  worker.c — the worker actor (see worker.h; docs/PROTOCOL.md §4 is the state machine).

    States: CONNECTING (HELLO every hello interval until a CONFIG arrives) → JOINED
    (PARAMS → compute → PROPOSAL) → DONE (BYE received, or an ERROR that ends the worker).
    A CONFIG with another epoch while JOINED means the server restarted: start over.
    Pipe grammar, private to this file:
        caller → actor  "STATS" | "$TERM"
        actor → caller  "STATS" bytes | "DONE" status(i)  ("DONE" may come unsolicited) */
#include "worker.h"

#include <assert.h>
#include <czmq.h>
#include <malloc.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wire/actor.h"
#include "learning/dataset.h"
#include "support/log.h"
#include "learning/model.h"
#include "wire/security.h"

#define S_SOFTWARE   "byzgd-worker/1"
#define S_FULL_CHUNK 256 // examples per gradient call over the whole training set

#define S_LEAVE_GRACE_MS 2000 // after BYE: wait this long for the server to close first

// LEAVING: told BYE; the worker stays until the server's connection closes (or the grace
// period ends), so that it never ends before the server process that stopped it.
typedef enum { S_CONNECTING, S_JOINED, S_LEAVING, S_DONE } s_phase_t;

struct byzgd_worker_context_t {
    byzgd_msg_config_t session;
    uint64_t round;
    size_t d;
    byzgd_model_t *model;
    byzgd_dataset_t *shard;      // NULL with BYZGD_WORKER_DATA_NONE
    const byzgd_dataset_t *full; // whole training set (NULL unless BYZGD_WORKER_DATA_FULL)
    byzgd_dataset_t *owned_full; // `full` when the context loaded it itself
    byzgd_rng_t rng;             // the worker's sampling stream (seed, slot)
    const float *params;         // x_t during byzgd_worker_context_propose, else NULL
    float *params_copy;          // x_t copied when the caller's values are misaligned
    float *features;             // max_batch × feature_count
    uint8_t *labels;
    float *scratch; // d floats, for the full-set gradient
    size_t max_batch;
};

struct byzgd_worker_sender_t {
    void *dealer;
    uint64_t epoch, round;
    uint64_t *sent;
};

typedef struct {
    byzgd_worker_config_t config;
    // The DEALER (shell.socket) and its ZMQ_EVENT_DISCONNECTED and _HANDSHAKE_SUCCEEDED
    // monitor.
    byzgd_actor_shell_t shell;
    void *dealer_handle;
    int64_t bye_at_ms;
    s_phase_t phase;
    uint64_t epoch;
    uint64_t last_round;
    byzgd_worker_context_t *context; // NULL until a CONFIG was set up
    float *proposal;
    double proposal_loss;
    bool proposal_pending; // held back by the delay hook
    int64_t send_at_ms;
    int64_t last_sent_ms, last_heard_ms, last_server_ms, last_hello_ms;
    int64_t backoff_until_ms;
    int heartbeat_interval_ms, heartbeat_timeout_ms;
    byzgd_worker_stats_t stats;
    int exit_status;
    bool logged_drop;
    bool hello_refused; // the last HELLO found no connection (ZMQ_IMMEDIATE): resend on handshake
} s_worker_t;

struct byzgd_worker_t {
    byzgd_actor_t actor;
};

// ---------------------------------------------------------------------------------------
// Context functions (what hooks may call)

const byzgd_msg_config_t *
byzgd_worker_context_session(const byzgd_worker_context_t *context)
{
    return &context->session;
}

uint64_t
byzgd_worker_context_round(const byzgd_worker_context_t *context)
{
    return context->round;
}

const float *
byzgd_worker_context_params(const byzgd_worker_context_t *context)
{
    return context->params;
}

double
byzgd_worker_context_gradient(byzgd_worker_context_t *context, float *gradient_out,
                              byzgd_rng_t *rng, bool from_full_set, bool flip_labels)
{
    const byzgd_dataset_t *data = from_full_set && context->full ? context->full : context->shard;
    assert(data); // a context without data computes no gradient
    size_t batch = context->session.batch_size;
    byzgd_dataset_sample(data, rng ? rng : &context->rng, batch, context->features,
                         context->labels);
    if (flip_labels)
        for (size_t i = 0; i < batch; i++)
            context->labels[i] = (uint8_t)(data->class_count - 1 - context->labels[i]);
    return byzgd_model_gradient(context->model, gradient_out, context->params, context->features,
                                context->labels, batch);
}

double
byzgd_worker_context_loss(byzgd_worker_context_t *context)
{
    assert(context->shard); // a context without data computes no loss
    size_t batch = context->session.batch_size;
    byzgd_dataset_sample(context->shard, &context->rng, batch, context->features, context->labels);
    double loss, accuracy;
    byzgd_model_evaluate_arrays(context->model, &loss, &accuracy, context->params,
                                context->features, context->labels, batch);
    return loss;
}

double
byzgd_worker_context_full_gradient(byzgd_worker_context_t *context, float *gradient_out,
                                   size_t limit)
{
    const byzgd_dataset_t *data = context->full ? context->full : context->shard;
    assert(data); // a context without data computes no gradient
    size_t count = limit && limit < data->count ? limit : data->count;
    size_t d = context->d;
    double loss = 0;
    memset(gradient_out, 0, d * sizeof *gradient_out);
    // Chunks are weighted by their size, so the result is the mean over all examples.
    for (size_t start = 0; start < count; start += context->max_batch) {
        size_t chunk = count - start < context->max_batch ? count - start : context->max_batch;
        double chunk_loss = byzgd_model_gradient(
            context->model, context->scratch, context->params,
            byzgd_dataset_rows(data, start, chunk, context->features), data->labels + start, chunk);
        float weight = (float)((double)chunk / (double)count);
        for (size_t j = 0; j < d; j++)
            gradient_out[j] += weight * context->scratch[j];
        loss += chunk_loss * (double)chunk / (double)count;
    }
    return loss;
}

void
byzgd_worker_context_destroy(byzgd_worker_context_t **context_p)
{
    if (!context_p || !*context_p)
        return;
    byzgd_worker_context_t *context = *context_p;
    byzgd_model_destroy(&context->model);
    byzgd_dataset_destroy(&context->shard);
    byzgd_dataset_destroy(&context->owned_full);
    free(context->params_copy);
    free(context->features);
    free(context->labels);
    free(context->scratch);
    free(context);
    *context_p = NULL;
}

byzgd_worker_context_t *
byzgd_worker_context_new(const byzgd_msg_config_t *session, const byzgd_dataset_t *train_set,
                         const char *data_dir, byzgd_worker_data_t data, int threads, char *error,
                         size_t error_size)
{
    byzgd_worker_context_t *context = calloc(1, sizeof *context);
    if (!context)
        abort();
    context->session = *session;
    bool keep_full_set = data == BYZGD_WORKER_DATA_FULL;
    const byzgd_dataset_t *full = data == BYZGD_WORKER_DATA_NONE ? NULL : train_set;
    if (!full && data != BYZGD_WORKER_DATA_NONE) {
        byzgd_dataset_options_t options = {0};
        options.data_dir = data_dir && *data_dir ? data_dir : NULL;
        options.split = BYZGD_SPLIT_TRAIN;
        options.seed = session->seed;
        context->owned_full = byzgd_dataset_load(session->dataset, &options, error, error_size);
        if (!context->owned_full)
            goto failed;
        full = context->owned_full;
    }
    if (full) {
        // A set shared in this process (byzgd-simulate's) is viewed: no copy of the rows. A
        // worker process copies its shard and drops the set it loaded.
        context->shard = (train_set ? byzgd_dataset_shard_view : byzgd_dataset_shard)(
            full, session->shard_index, session->shard_count, session->dirichlet_alpha,
            session->seed, error, error_size);
        if (!context->shard)
            goto failed;
        if (keep_full_set)
            context->full = full;
        else
            byzgd_dataset_destroy(&context->owned_full);
    }
    byzgd_model_spec_t spec = {.architecture = session->architecture,
                               .channels = session->channels,
                               .height = session->height,
                               .width = session->width,
                               .class_count = session->class_count,
                               .hidden = {session->hidden[0], session->hidden[1]}};
    context->max_batch = session->batch_size;
    if (keep_full_set && context->max_batch < S_FULL_CHUNK)
        context->max_batch = S_FULL_CHUNK;
    context->model = byzgd_model_new(&spec, context->max_batch, error, error_size);
    if (!context->model)
        goto failed;
    byzgd_model_set_threads(context->model, threads < 1 ? 1 : threads);
    context->d = byzgd_model_dimension(context->model);
    if (context->d != session->dimension) {
        byzgd_set_error(error, error_size,
                        "the server's model has d = %" PRIu64 ", mine has d = %zu",
                        session->dimension, context->d);
        goto failed;
    }
    if (context->shard &&
        context->shard->feature_count != byzgd_model_feature_count(context->model)) {
        byzgd_set_error(error, error_size, "dataset and model shapes differ");
        goto failed;
    }
    if (context->shard) {
        size_t feature_count = context->shard->feature_count;
        context->scratch = calloc(context->d, sizeof *context->scratch);
        context->features = calloc(context->max_batch * feature_count, sizeof *context->features);
        context->labels = calloc(context->max_batch, sizeof *context->labels);
        if (!context->scratch || !context->features || !context->labels)
            abort();
    }
    byzgd_rng_seed(&context->rng, session->seed, session->slot);
    return context;
failed:
    byzgd_worker_context_destroy(&context);
    return NULL;
}

size_t
byzgd_worker_context_dimension(const byzgd_worker_context_t *context)
{
    return context->d;
}

int
byzgd_worker_context_propose(byzgd_worker_context_t *context, const byzgd_worker_hooks_t *hooks,
                             uint64_t round, const void *params, float *proposal_out,
                             double *loss_out)
{
    context->round = round;
    // Aligned values (byzgd-simulate's x_t, and a PARAMS tensor that happens to be aligned in
    // its frame) are read in place for this call; others are copied once, as bytes. Reading
    // in place saved byzgd-simulate a copy of x_t per slot and round (~7 % of its CPU).
    if ((uintptr_t)params % _Alignof(float) == 0)
        context->params = params;
    else {
        if (!context->params_copy && !(context->params_copy = malloc(context->d * sizeof(float))))
            abort();
        memcpy(context->params_copy, params, context->d * sizeof(float));
        context->params = context->params_copy;
    }
    int status = 0;
    if (hooks && hooks->propose)
        status = hooks->propose(hooks->state, context, proposal_out, loss_out);
    else
        *loss_out = byzgd_worker_context_gradient(context, proposal_out, NULL, false, false);
    context->params = NULL; // the caller's values may go away once the call returns
    return status;
}

// ---------------------------------------------------------------------------------------
// Sending

static int
s_send_frame(void *dealer, const void *data, size_t size)
{
    return zmq_send(dealer, data, size, ZMQ_DONTWAIT) < 0 ? -1 : 0;
}

static int
s_send_small(s_worker_t *self, const byzgd_msg_t *msg)
{
    uint8_t buffer[BYZGD_MSG_SMALL_MAX];
    size_t size = 0;
    char error[256];
    if (byzgd_msg_encode(buffer, sizeof buffer, &size, msg, error, sizeof error) != 0) {
        byzgd_error("cannot encode %s: %s", byzgd_msg_type_name(msg->type), error);
        return -1;
    }
    if (s_send_frame(self->dealer_handle, buffer, size) != 0)
        return -1;
    self->last_sent_ms = zclock_mono();
    return 0;
}

int
byzgd_worker_send_proposal(byzgd_worker_sender_t *sender, uint64_t round, const float *values,
                           size_t dimension, double train_loss)
{
    byzgd_msg_t msg = {.type = BYZGD_MSG_PROPOSAL, .epoch = sender->epoch, .round = round};
    msg.proposal.train_loss = train_loss;
    msg.proposal.gradient = values;
    msg.proposal.dimension = dimension;
    size_t size = 0;
    char error[256];
    void *buffer = byzgd_msg_encode_new(&msg, &size, error, sizeof error);
    if (!buffer) {
        byzgd_error("cannot encode PROPOSAL: %s", error);
        return -1;
    }
    // The encoded buffer goes to libzmq as is (freed after the send), no second copy.
    zmq_msg_t frame;
    zmq_msg_init_data(&frame, buffer, size, byzgd_msg_free_fn, NULL);
    if (zmq_msg_send(&frame, sender->dealer, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&frame);
        return -1;
    }
    (*sender->sent)++;
    return 0;
}

int
byzgd_worker_send_raw(byzgd_worker_sender_t *sender, const void *bytes, size_t size)
{
    if (zmq_send(sender->dealer, bytes, size, ZMQ_DONTWAIT) < 0)
        return -1;
    (*sender->sent)++;
    return 0;
}

uint64_t
byzgd_worker_sender_round(const byzgd_worker_sender_t *sender)
{
    return sender->round;
}

static void
s_send_proposal(s_worker_t *self)
{
    uint64_t sent = 0;
    byzgd_worker_sender_t sender = {.dealer = self->dealer_handle,
                                    .epoch = self->epoch,
                                    .round = self->context->round,
                                    .sent = &sent};
    if (self->config.hooks.send)
        self->config.hooks.send(self->config.hooks.state, &sender, self->proposal, self->context->d,
                                self->proposal_loss);
    else
        byzgd_worker_send_proposal(&sender, self->context->round, self->proposal, self->context->d,
                                   self->proposal_loss);
    self->proposal_pending = false;
    self->stats.proposals_sent += sent;
    if (sent)
        self->last_sent_ms = zclock_mono();
}

static void
s_send_hello(s_worker_t *self)
{
    byzgd_msg_t msg = {.type = BYZGD_MSG_HELLO};
    snprintf(msg.hello.software, sizeof msg.hello.software, "%s", S_SOFTWARE);
    self->hello_refused = s_send_small(self, &msg) != 0;
    self->last_hello_ms = zclock_mono();
}

static void
s_finish(s_worker_t *self, int status)
{
    self->phase = S_DONE;
    self->exit_status = status;
    byzgd_actor_shell_done(&self->shell, status);
}

// ---------------------------------------------------------------------------------------
// Messages from the server

static bool
s_same_session(const byzgd_msg_config_t *a, const byzgd_msg_config_t *b)
{
    return a->slot == b->slot && a->worker_count == b->worker_count &&
           a->dimension == b->dimension && streq(a->architecture, b->architecture) &&
           a->hidden[0] == b->hidden[0] && a->hidden[1] == b->hidden[1] &&
           a->channels == b->channels && a->height == b->height && a->width == b->width &&
           a->class_count == b->class_count && streq(a->dataset, b->dataset) &&
           a->shard_index == b->shard_index && a->shard_count == b->shard_count &&
           a->dirichlet_alpha == b->dirichlet_alpha && a->batch_size == b->batch_size &&
           a->seed == b->seed;
}

// Loads the shard and builds the model the CONFIG names. Returns 0, or -1 with a message.
static int
s_prepare(s_worker_t *self, const byzgd_msg_config_t *session, char *error, size_t error_size)
{
    byzgd_worker_context_destroy(&self->context);
    self->context =
        byzgd_worker_context_new(session, NULL, self->config.data_dir, self->config.data,
                                 self->config.threads, error, error_size);
    if (!self->context)
        return -1;
    free(self->proposal);
    self->proposal = calloc(self->context->d, sizeof *self->proposal);
    if (!self->proposal)
        abort();
    return 0;
}

static void
s_on_config(s_worker_t *self, const byzgd_msg_t *msg)
{
    self->stats.configs++;
    bool new_epoch = msg->epoch != self->epoch;
    if (!self->context || !s_same_session(&self->context->session, &msg->config)) {
        char error[512];
        if (s_prepare(self, &msg->config, error, sizeof error) != 0) {
            byzgd_error("cannot set up the session: %s", error);
            byzgd_msg_t bye = {.type = BYZGD_MSG_BYE, .epoch = msg->epoch, .round = 0};
            bye.bye.code = BYZGD_MSG_BYE_SHUTDOWN;
            s_send_small(self, &bye);
            s_finish(self, 1);
            return;
        }
    }
    if (new_epoch) {
        self->epoch = msg->epoch;
        self->last_round = 0;
        self->proposal_pending = false;
        self->stats.epochs++;
    }
    self->heartbeat_interval_ms = (int)msg->config.heartbeat_interval_ms;
    self->heartbeat_timeout_ms = (int)msg->config.heartbeat_timeout_ms;
    self->phase = S_JOINED;
    self->stats.joined = true;
    // Loading the shard may have taken seconds: the silence clock starts now.
    self->last_heard_ms = self->last_server_ms = zclock_mono();
    self->stats.slot = msg->config.slot;
}

static void
s_on_params(s_worker_t *self, const byzgd_msg_t *msg)
{
    if (msg->round <= self->last_round) {
        self->stats.dropped++;
        return;
    }
    self->last_round = msg->round;
    self->stats.last_round = msg->round;
    assert(self->context); // PARAMS are computed only when JOINED, after a CONFIG set it up
    if (byzgd_worker_context_propose(self->context, &self->config.hooks, msg->round,
                                     msg->params.parameters, self->proposal,
                                     &self->proposal_loss) != 0)
        return;
    int delay = self->config.hooks.delay_ms
                    ? self->config.hooks.delay_ms(self->config.hooks.state, msg->round)
                    : 0;
    // A rate-limited worker keeps its proposal until the back-off ends (PROTOCOL.md §3.2).
    int64_t now = zclock_mono();
    if (delay > 0 || now < self->backoff_until_ms) {
        self->proposal_pending = true;
        self->send_at_ms =
            now + delay > self->backoff_until_ms ? now + delay : self->backoff_until_ms;
        return;
    }
    s_send_proposal(self);
}

static void
s_on_error(s_worker_t *self, const byzgd_msg_t *msg)
{
    switch (msg->error.code) {
    case BYZGD_MSG_ERROR_NOT_JOINED:
        self->phase = S_CONNECTING;
        s_send_hello(self);
        break;
    case BYZGD_MSG_ERROR_RATE_LIMITED:
        self->backoff_until_ms = zclock_mono() + self->heartbeat_interval_ms;
        self->stats.backoffs++;
        break;
    default:
        byzgd_error("the server refused this worker: %s (%s)",
                    byzgd_msg_error_code_name(msg->error.code), msg->error.text);
        s_finish(self, 1);
        break;
    }
}

// The exit status after BYE: 0 when the run ended (every round done, or diverged: a
// result), BYZGD_WORKER_EXIT_STOPPED when the server stopped or failed before that.
static int
s_left_status(const s_worker_t *self)
{
    return self->stats.bye_code == BYZGD_MSG_BYE_DONE ? 0 : BYZGD_WORKER_EXIT_STOPPED;
}

// BYE ends the session (PROTOCOL.md §4.1): answered with BYE(same code), the
// acknowledgement the server waits for, every time one arrives (an answer may be lost);
// the first one starts LEAVING. A worker still connecting takes it too: the run it was
// joining is over.
static void
s_on_bye(s_worker_t *self, const byzgd_msg_t *msg)
{
    byzgd_msg_t bye = {.type = BYZGD_MSG_BYE, .epoch = msg->epoch, .round = self->last_round};
    bye.bye.code = msg->bye.code;
    s_send_small(self, &bye);
    if (self->phase == S_LEAVING)
        return;
    self->phase = S_LEAVING;
    self->bye_at_ms = zclock_mono();
    self->stats.bye_code = msg->bye.code;
}

static void
s_drop(s_worker_t *self, const char *why)
{
    self->stats.dropped++;
    if (!self->logged_drop) {
        self->logged_drop = true;
        byzgd_warn("dropped a message from the server (%s); further drops are only counted", why);
    }
}

// Receives what the server sent (up to a budget of queued messages). Of several queued
// PARAMS only the newest is computed (docs/PROTOCOL.md §4): a worker that fell behind
// skips straight to the current round instead of answering rounds already closed. While
// LEAVING a BYE is still answered; once DONE whatever arrives is dropped.
static void
s_on_dealer(void *arg)
{
    s_worker_t *self = arg;
    if (self->phase == S_DONE) {
        zmsg_destroy(&(zmsg_t *){zmsg_recv(self->shell.socket)});
        return;
    }
    zmsg_t *newest = NULL; // the newest PARAMS seen in this batch, computed at the end
    byzgd_msg_t newest_msg = {0};
    for (int budget = 0; budget < 64; budget++) {
        if (budget > 0 && !(zsock_events(self->shell.socket) & ZMQ_POLLIN))
            break;
        zmsg_t *message = zmsg_recv(self->shell.socket);
        if (!message)
            break;
        if (zmsg_size(message) != 1) {
            zmsg_destroy(&message);
            s_drop(self, "extra_frames");
            continue;
        }
        zframe_t *frame = zmsg_first(message);
        byzgd_msg_t msg;
        size_t d = self->context ? self->context->d : 0;
        byzgd_msg_reject_t reason = byzgd_msg_decode(&msg, zframe_data(frame), zframe_size(frame),
                                                     BYZGD_MSG_FROM_SERVER, d);
        if (reason != BYZGD_MSG_OK) {
            zmsg_destroy(&message);
            s_drop(self, byzgd_msg_reject_name(reason));
            continue;
        }
        int64_t now = zclock_mono();
        self->last_server_ms = now;
        if (msg.type == BYZGD_MSG_CONFIG) {
            self->last_heard_ms = now;
            s_on_config(self, &msg);
        } else if (msg.type == BYZGD_MSG_ERROR) {
            s_on_error(self, &msg);
        } else if (msg.type == BYZGD_MSG_BYE &&
                   (msg.epoch == self->epoch || self->phase == S_CONNECTING)) {
            s_on_bye(self, &msg);
        } else if (self->phase != S_JOINED) {
            s_drop(self, "unexpected");
        } else if (msg.epoch != self->epoch) {
            s_drop(self, "epoch");
        } else {
            self->last_heard_ms = now;
            if (msg.type == BYZGD_MSG_PARAMS && msg.round > self->last_round) {
                if (newest)
                    self->stats.skipped++;
                zmsg_destroy(&newest);
                newest = message; // newest_msg points into this frame
                newest_msg = msg;
                message = NULL;
            } else if (msg.type == BYZGD_MSG_PARAMS)
                self->stats.dropped++; // a round already computed
        }
        zmsg_destroy(&message);
    }
    // A CONFIG, ERROR or BYE after the PARAMS may have changed the session meanwhile.
    if (newest && self->phase == S_JOINED && newest_msg.epoch == self->epoch &&
        newest_msg.round > self->last_round)
        s_on_params(self, &newest_msg);
    zmsg_destroy(&newest);
}

// ---------------------------------------------------------------------------------------
// Timers and the pipe

static void
s_on_timers(void *arg)
{
    s_worker_t *self = arg;
    int64_t now = zclock_mono();
    if (self->phase == S_DONE)
        return;
    if (self->phase == S_LEAVING) {
        if (now - self->bye_at_ms >= S_LEAVE_GRACE_MS)
            s_finish(self, s_left_status(self));
        return;
    }
    if (now - self->last_server_ms > self->config.give_up_ms) {
        byzgd_error("no server for %d ms; giving up", self->config.give_up_ms);
        s_finish(self, 1);
        return;
    }
    if (self->phase == S_JOINED && now - self->last_heard_ms > self->heartbeat_timeout_ms) {
        byzgd_warn("the server has been silent for %d ms; joining again",
                   self->heartbeat_timeout_ms);
        self->phase = S_CONNECTING;
        self->proposal_pending = false;
    }
    if (now < self->backoff_until_ms)
        return;
    if (self->phase == S_CONNECTING && now - self->last_hello_ms >= self->config.hello_interval_ms)
        s_send_hello(self);
    if (self->phase == S_JOINED) {
        if (self->proposal_pending && now >= self->send_at_ms)
            s_send_proposal(self);
        if (now - self->last_sent_ms >= self->heartbeat_interval_ms) {
            byzgd_msg_t heartbeat = {
                .type = BYZGD_MSG_HEARTBEAT, .epoch = self->epoch, .round = self->last_round};
            s_send_small(self, &heartbeat);
        }
    }
}

static int64_t
s_wake_at(const void *arg, int64_t now)
{
    const s_worker_t *self = arg;
    int64_t wake = now + 1000;
    if (self->phase == S_CONNECTING)
        wake = self->last_hello_ms + self->config.hello_interval_ms;
    else if (self->phase == S_LEAVING)
        wake = self->bye_at_ms + S_LEAVE_GRACE_MS;
    else if (self->phase == S_JOINED) {
        int64_t heartbeat = self->last_sent_ms + self->heartbeat_interval_ms;
        if (heartbeat < wake)
            wake = heartbeat;
        if (self->proposal_pending && self->send_at_ms < wake)
            wake = self->send_at_ms;
    }
    return wake;
}

// The connection to the server closed: after BYE this is the moment to end. A handshake
// completed: a HELLO refused for want of a connection goes out now, not an interval later
// (PROTOCOL.md §4).
static void
s_on_monitor(void *arg, unsigned type)
{
    s_worker_t *self = arg;
    if (type == ZMQ_EVENT_DISCONNECTED && self->phase == S_LEAVING)
        s_finish(self, s_left_status(self));
    else if (type == ZMQ_EVENT_HANDSHAKE_SUCCEEDED && self->phase == S_CONNECTING &&
             self->hello_refused && zclock_mono() >= self->backoff_until_ms)
        s_send_hello(self);
}

// Frees a state, whether its actor ran or not.
static void
s_state_destroy(s_worker_t *self)
{
    byzgd_actor_shell_destroy(&self->shell);
    byzgd_worker_context_destroy(&self->context);
    free(self->proposal);
    if (self->config.hooks.destroy)
        self->config.hooks.destroy(self->config.hooks.state);
    free(self);
}

// A worker still joined says goodbye: BYE(shutdown).
static void
s_on_end(void *arg)
{
    s_worker_t *self = arg;
    if (self->phase == S_JOINED) {
        byzgd_msg_t bye = {.type = BYZGD_MSG_BYE, .epoch = self->epoch, .round = self->last_round};
        bye.bye.code = BYZGD_MSG_BYE_SHUTDOWN;
        s_send_small(self, &bye);
    }
    s_state_destroy(self);
}

static const byzgd_actor_handlers_t s_handlers = {.wake_at = s_wake_at,
                                                  .on_socket = s_on_dealer,
                                                  .on_monitor = s_on_monitor,
                                                  .on_timers = s_on_timers,
                                                  .on_end = s_on_end};

// ---------------------------------------------------------------------------------------
// Typed API and options

void
byzgd_worker_config_init(byzgd_worker_config_t *config)
{
    memset(config, 0, sizeof *config);
    snprintf(config->endpoint, sizeof config->endpoint, "tcp://127.0.0.1:5555");
    config->threads = 1;
    config->hello_interval_ms = 1000;
    config->give_up_ms = 60000;
    config->slot = -1;
}

static int
s_copy(char *out, size_t size, const char *name, const char *value, char *error, size_t error_size)
{
    if (!value || !*value || strlen(value) >= size)
        return byzgd_set_error(error, error_size, "--%s needs a value (shorter than %zu)", name,
                               size);
    snprintf(out, size, "%s", value);
    return 0;
}

static int
s_int(int *out, const char *name, const char *value, int min, int max, char *error,
      size_t error_size)
{
    char *end = NULL;
    errno = 0;
    long parsed = value ? strtol(value, &end, 10) : 0;
    if (!value || !*value || errno || *end || parsed < min || parsed > max)
        return byzgd_set_error(error, error_size, "--%s %s: expected an integer in [%d, %d]", name,
                               value ? value : "", min, max);
    *out = (int)parsed;
    return 0;
}

static int
s_apply_option(void *state, const byzgd_option_section_t *section, const byzgd_option_t *option,
               const char *value, char *error, size_t error_size)
{
    (void)section;
    byzgd_worker_config_t *config = state;
    const char *name = option->name;
    if (streq(name, "insecure")) {
        config->insecure = streq(value, "true");
        return 0;
    }
    if (streq(name, "endpoint"))
        return s_copy(config->endpoint, sizeof config->endpoint, name, value, error, error_size);
    if (streq(name, "cert"))
        return s_copy(config->cert, sizeof config->cert, name, value, error, error_size);
    if (streq(name, "server-cert"))
        return s_copy(config->server_cert, sizeof config->server_cert, name, value, error,
                      error_size);
    if (streq(name, "data-dir"))
        return s_copy(config->data_dir, sizeof config->data_dir, name, value, error, error_size);
    if (streq(name, "threads"))
        return s_int(&config->threads, name, value, 1, 256, error, error_size);
    if (streq(name, "hello-ms"))
        return s_int(&config->hello_interval_ms, name, value, 1, 600000, error, error_size);
    if (streq(name, "slot"))
        return s_int(&config->slot, name, value, 0, BYZGD_MSG_WORKERS_MAX - 1, error, error_size);
    assert(streq(name, "give-up-ms"));
    return s_int(&config->give_up_ms, name, value, 1, 86400000, error, error_size);
}

// clang-format off
static const byzgd_option_t s_options[] = {
    {"endpoint", BYZGD_OPTION_TEXT, 0, 0, "tcp://127.0.0.1:5555", 0, "the server", "EP", NULL},
    {"cert", BYZGD_OPTION_TEXT, 0, 0, NULL, 0,
     "this worker's certificate (public file; _secret beside it)", "FILE", NULL},
    {"server-cert", BYZGD_OPTION_TEXT, 0, 0, NULL, 0, "the server's public certificate", "FILE",
     NULL},
    {"insecure", BYZGD_OPTION_FLAG, 0, 0, NULL, 0, "no CURVE (the server must run --insecure too)",
     NULL, NULL},
    {"data-dir", BYZGD_OPTION_TEXT, 0, 0, NULL, 0,
     "where the dataset lives (default: the dataset's default)", "DIR", NULL},
    {"threads", BYZGD_OPTION_INT, 1, 256, "1", 0, "model and OpenBLAS threads", "N", NULL},
    {"hello-ms", BYZGD_OPTION_INT, 1, 600000, "1000", 0, "HELLO retry period while joining", "MS",
     NULL},
    {"give-up-ms", BYZGD_OPTION_INT, 1, 86400000, "60000", 0,
     "exit 1 after this long without a server", "MS", NULL},
    {"slot", BYZGD_OPTION_INT, 0, BYZGD_MSG_WORKERS_MAX - 1, NULL, 0,
     "with --insecure: ask for slot N (its shard and random stream); with keys the key's name "
     "decides", "N", NULL},
};
// clang-format on

const byzgd_option_section_t byzgd_worker_option_section =
    BYZGD_OPTION_SECTION("Worker options", s_options, s_apply_option);

int
byzgd_worker_config_check(const byzgd_worker_config_t *config, char *error, size_t error_size)
{
    if (!config->insecure && (!config->cert[0] || !config->server_cert[0]))
        return byzgd_set_error(error, error_size,
                               "CURVE is on by default: give --cert and --server-cert, or "
                               "--insecure");
    if (!config->insecure && config->slot >= 0)
        return byzgd_set_error(error, error_size,
                               "--slot is for --insecure: with keys, the key's name decides "
                               "the slot");
    return 0;
}

byzgd_worker_t *
byzgd_worker_new(const byzgd_worker_config_t *config, char *error, size_t error_size)
{
    s_worker_t *state = calloc(1, sizeof *state);
    if (!state)
        abort();
    state->config = *config;
    if (state->config.threads < 1)
        state->config.threads = 1;
    if (state->config.hello_interval_ms < 1)
        state->config.hello_interval_ms = 1000;
    if (state->config.give_up_ms < 1)
        state->config.give_up_ms = 60000;
    state->shell.socket = zsock_new(ZMQ_DEALER);
    if (!state->shell.socket) {
        byzgd_set_error(error, error_size, "cannot create the DEALER socket");
        goto failed;
    }
    if (byzgd_security_client_setup(
            state->shell.socket, config->insecure, config->cert[0] ? config->cert : NULL,
            config->server_cert[0] ? config->server_cert : NULL,
            byzgd_msg_max_size(BYZGD_MSG_DIMENSION_MAX), error, error_size) != 0)
        goto failed;
    if (config->insecure && config->slot >= 0) {
        // The server reads the slot from the routing id in insecure mode (the identity).
        char name[32];
        byzgd_keys_worker_name(name, sizeof name, (size_t)config->slot);
        zmq_setsockopt(zsock_resolve(state->shell.socket), ZMQ_ROUTING_ID, name, strlen(name));
    }
    state->shell.monitor = byzgd_monitor_new(
        state->shell.socket, ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    if (zsock_connect(state->shell.socket, "%s", config->endpoint) != 0) {
        byzgd_set_error(error, error_size, "cannot connect to %s: %s", config->endpoint,
                        zmq_strerror(zmq_errno()));
        goto failed;
    }
    state->dealer_handle = zsock_resolve(state->shell.socket);
    state->shell.stats = &state->stats;
    state->shell.stats_size = sizeof state->stats;
    // The silence clocks start now. No HELLO has gone out: the first timer sends one.
    int64_t now = zclock_mono();
    state->last_server_ms = now;
    state->last_heard_ms = now;
    state->last_hello_ms = now - state->config.hello_interval_ms;
    state->heartbeat_interval_ms = state->config.hello_interval_ms;
    state->heartbeat_timeout_ms = 10 * state->config.hello_interval_ms;
    byzgd_worker_t *self = calloc(1, sizeof *self);
    if (!self)
        abort();
    byzgd_actor_start(&self->actor, &state->shell, &s_handlers, state);
    return self;
failed:
    s_state_destroy(state);
    return NULL;
}

void
byzgd_worker_destroy(byzgd_worker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    byzgd_actor_stop(&(*self_p)->actor);
    free(*self_p);
    *self_p = NULL;
}

int
byzgd_worker_wait(byzgd_worker_t *self, int timeout_ms)
{
    return byzgd_actor_wait(&self->actor, timeout_ms);
}

int
byzgd_worker_stats(byzgd_worker_t *self, byzgd_worker_stats_t *stats)
{
    return byzgd_actor_call(&self->actor, "STATS", stats, sizeof *stats, 10000);
}

int
byzgd_worker_run(const byzgd_worker_config_t *configs, size_t count)
{
    // Received PARAMS and sent proposals are megabytes each: keep freed memory in the heap
    // instead of mmap/munmap per round (docs/ARCHITECTURE.md §7).
    mallopt(M_MMAP_THRESHOLD, 256 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 512 * 1024 * 1024);
    zsys_init();
    zsys_set_linger(200);
    byzgd_worker_t **workers = calloc(count, sizeof(byzgd_worker_t *));
    if (!workers)
        abort();
    int status = 0;
    for (size_t i = 0; i < count; i++) {
        char error[1024];
        workers[i] = status == 0 ? byzgd_worker_new(&configs[i], error, sizeof error) : NULL;
        if (!workers[i] && status == 0) {
            byzgd_error("%s", error);
            status = 1;
        } else if (!workers[i] && configs[i].hooks.destroy) {
            configs[i].hooks.destroy(configs[i].hooks.state); // the hooks' state is ours
        }
    }
    // The process ends when every identity has ended; its status is the worst of theirs.
    for (size_t i = 0; i < count && status == 0; i++) {
        int ended = -1;
        while (ended < 0 && !zsys_interrupted)
            ended = byzgd_worker_wait(workers[i], 200);
        if (ended > status)
            status = ended;
    }
    if (zsys_interrupted && count > 1) {
        // Stopped by a signal (the launcher's SIGTERM): nothing here needs flushing, and
        // tearing down several actors mid-session can trip CZMQ's assertions.
        fflush(NULL);
        _exit(status);
    }
    for (size_t i = 0; i < count; i++)
        byzgd_worker_destroy(&workers[i]);
    free(workers);
    return status;
}

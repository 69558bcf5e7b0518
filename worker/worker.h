/*  worker.h — the worker as a CZMQ actor behind a typed API: a DEALER that joins the
    server (HELLO), receives its configuration (model, dataset and shard, batch size, seed)
    and the parameters of each round, computes the gradient of a minibatch of its shard and
    sends it as a PROPOSAL. It survives a server restart (ZMQ_IMMEDIATE, epochs: a CONFIG
    with a new epoch starts over; a silent server sends the worker back to HELLO) and exits
    when told BYE, or with status 1 after give_up_ms without hearing from any server.

    The Byzantine worker is this worker with hooks (byzgd_worker_hooks_t): `propose`
    replaces the honest gradient by an attack vector computed through the context functions
    below, `delay_ms` and `send` carry out protocol misbehaviours. Without hooks the worker
    is honest.

    byzgd_worker_config_t config;
    byzgd_worker_config_init(&config);
    snprintf(config.endpoint, sizeof config.endpoint, "tcp://127.0.0.1:5555");
    config.insecure = true;
    byzgd_worker_t *worker = byzgd_worker_new(&config, error, sizeof error);
    int status = byzgd_worker_wait(worker, -1);    // 0 after BYE
    byzgd_worker_destroy(&worker); */
#ifndef BYZGD_WORKER_H
#define BYZGD_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "learning/dataset.h"
#include "support/options.h"
#include "support/rng.h"
#include "wire/msg.h"

#define BYZGD_WORKER_PATH_MAX 1024

// The worker's view of the session while it computes a proposal (valid during a hook call).
typedef struct byzgd_worker_context_t byzgd_worker_context_t;

// The training data a worker holds.
typedef enum {
    BYZGD_WORKER_DATA_SHARD = 0, // its shard (honest workers; the default)
    BYZGD_WORKER_DATA_FULL,      // its shard and the whole training set (attacks drawing from it)
    BYZGD_WORKER_DATA_NONE,      // nothing: an attack that computes no gradient (gaussian, zero…)
} byzgd_worker_data_t;

// Builds what a worker computes with from a session (what CONFIG carries): the model, the
// shard session->shard_index of session->shard_count, the sampling stream (seed, slot).
// train_set: the whole training split, borrowed and shared (the shard is a view of it: it
// must outlive the context), or NULL: loaded from data_dir ("" or NULL for the dataset's
// default) and the shard copied from it. data: what to hold; with BYZGD_WORKER_DATA_NONE
// nothing is loaded and the gradient functions below must not be called. threads: model /
// OpenBLAS threads. Returns NULL with a message.
byzgd_worker_context_t *byzgd_worker_context_new(const byzgd_msg_config_t *session,
                                                 const byzgd_dataset_t *train_set,
                                                 const char *data_dir, byzgd_worker_data_t data,
                                                 int threads, char *error, size_t error_size);
void byzgd_worker_context_destroy(byzgd_worker_context_t **context_p);
size_t byzgd_worker_context_dimension(const byzgd_worker_context_t *context);

// The session configuration the server sent (slot, n, f, d, model, dataset, seed, ...).
const byzgd_msg_config_t *byzgd_worker_context_session(const byzgd_worker_context_t *context);
// The round being computed and the parameters x_round (d floats, borrowed: valid during
// byzgd_worker_context_propose only; the collusion keys its shared inputs by them).
uint64_t byzgd_worker_context_round(const byzgd_worker_context_t *context);
const float *byzgd_worker_context_params(const byzgd_worker_context_t *context);

// Gradient at x_round of one minibatch of the session's batch size, written to
// gradient_out[d]; returns the mean loss. from_full_set: draw from the whole training set
// (what an omniscient attacker may read), else from the worker's shard. rng: where the
// draws come from (NULL: the worker's own sampling stream). flip_labels: y → C − 1 − y.
double byzgd_worker_context_gradient(byzgd_worker_context_t *context, float *gradient_out,
                                     byzgd_rng_t *rng, bool from_full_set, bool flip_labels);

// The mean loss at x_round of one minibatch drawn from the worker's shard with its own
// sampling stream (the draws byzgd_worker_context_gradient(context, out, NULL, false,
// false) would make), by a forward pass only: what an attacker that sends no gradient of
// its own reports as its loss.
double byzgd_worker_context_loss(byzgd_worker_context_t *context);

// Mean gradient at x_round over the first `limit` examples of the whole training set
// (0 = all), written to gradient_out[d]; returns the mean loss.
double byzgd_worker_context_full_gradient(byzgd_worker_context_t *context, float *gradient_out,
                                          size_t limit);

// Lets a send hook put messages on the wire (valid during the hook call).
typedef struct byzgd_worker_sender_t byzgd_worker_sender_t;

// Sends a PROPOSAL for `round` with `dimension` floats of `values` (any round and
// dimension: this is how misbehaving workers test the server). Returns 0 or -1.
int byzgd_worker_send_proposal(byzgd_worker_sender_t *sender, uint64_t round, const float *values,
                               size_t dimension, double train_loss);
// Sends one frame of raw bytes. Returns 0 or -1.
int byzgd_worker_send_raw(byzgd_worker_sender_t *sender, const void *bytes, size_t size);
// The round the proposal is for and the current epoch.
uint64_t byzgd_worker_sender_round(const byzgd_worker_sender_t *sender);

typedef struct {
    void *state; // handed to every hook; freed by `destroy` when the worker ends
    // Replaces the honest proposal: fill proposal_out[d] and *train_loss_out. Returns 0, or
    // -1 to send nothing this round (a message says why). NULL: the honest gradient.
    int (*propose)(void *state, byzgd_worker_context_t *context, float *proposal_out,
                   double *train_loss_out);
    // Milliseconds to hold the proposal of `round` before sending it (heartbeats go on
    // meanwhile). NULL: no delay.
    int (*delay_ms)(void *state, uint64_t round);
    // Sends the proposal of the round (instead of one honest PROPOSAL message). NULL: the
    // normal send.
    int (*send)(void *state, byzgd_worker_sender_t *sender, const float *proposal, size_t dimension,
                double train_loss);
    void (*destroy)(void *state);
} byzgd_worker_hooks_t;

// Computes the proposal of `round` at params (d float32 values at any address: read in place
// when aligned, else copied; not kept after the call):
// the hooks' propose when hooks->propose is set, else the honest gradient of one minibatch.
// Writes proposal_out[d] and *loss_out. Returns 0, or -1 when the hook sends nothing. The
// worker actor and byzgd-simulate both compute through this function.
int byzgd_worker_context_propose(byzgd_worker_context_t *context, const byzgd_worker_hooks_t *hooks,
                                 uint64_t round, const void *params, float *proposal_out,
                                 double *loss_out);

typedef struct {
    char endpoint[BYZGD_WORKER_PATH_MAX];
    bool insecure;
    char cert[BYZGD_WORKER_PATH_MAX];        // the worker's certificate (public file path)
    char server_cert[BYZGD_WORKER_PATH_MAX]; // the server's public certificate
    char data_dir[BYZGD_WORKER_PATH_MAX];    // "" = the dataset's default
    int threads;                             // model / OpenBLAS threads (default 1)
    int hello_interval_ms;                   // HELLO retry period while joining (1000)
    int give_up_ms;                          // exit 1 after this long without a server (60000)
    byzgd_worker_data_t data;                // the data it holds (the shard unless hooks say)
    int slot; // insecure mode: the slot this worker asks for (-1: any free one); with keys
              // the key's name decides (PROTOCOL.md §4, "Slots")
    byzgd_worker_hooks_t hooks; // zero: honest
} byzgd_worker_config_t;

typedef struct {
    uint64_t proposals_sent;
    uint64_t configs;    // CONFIG messages received
    uint64_t epochs;     // distinct server epochs joined
    uint64_t dropped;    // messages from the server dropped (stale, wrong epoch, malformed)
    uint64_t skipped;    // PARAMS passed over because a newer one was already queued
    uint64_t last_round; // last PARAMS round computed
    uint64_t backoffs;   // ERROR(rate_limited) received: one heartbeat interval of silence
    uint32_t bye_code;   // the server's BYE: BYZGD_MSG_BYE_DONE or _SHUTDOWN (valid once left)
    uint32_t slot;
    bool joined;
} byzgd_worker_stats_t;

typedef struct byzgd_worker_t byzgd_worker_t;

// Exit status of a worker told BYE(shutdown): the server was stopped (a signal) or failed
// before the run's end; BYE(done) gives 0.
#define BYZGD_WORKER_EXIT_STOPPED 4

// Defaults: endpoint tcp://127.0.0.1:5555, secure, 1 thread, HELLO every second, give up
// after 60 s, honest.
void byzgd_worker_config_init(byzgd_worker_config_t *config);

// The worker's options (support/options.h); its apply function takes a
// byzgd_worker_config_t *. Everything else (model, dataset, shard, batch, seed) comes from
// the server.
extern const byzgd_option_section_t byzgd_worker_option_section;

// Checks the options together: CURVE needs --cert and --server-cert unless --insecure.
// Returns 0, or -1 with a message.
int byzgd_worker_config_check(const byzgd_worker_config_t *config, char *error, size_t error_size);

// A worker process's life: sets the allocator for megabyte messages, starts one worker per
// configuration (several: the identities of one colluding byzgd-byzantine process), waits
// until each has seen BYE, given up, or a signal (SIGINT/SIGTERM) came, and returns the
// process's exit status, the worst of the workers' (0 after BYE or a signal, 1 on errors or
// without a server; a start-up failure is reported on stderr). Takes every hooks' state.
int byzgd_worker_run(const byzgd_worker_config_t *configs, size_t count);

// Starts the worker actor and connects. Takes the hooks' state (destroyed with the worker,
// also on failure). Returns NULL with a message.
byzgd_worker_t *byzgd_worker_new(const byzgd_worker_config_t *config, char *error,
                                 size_t error_size);

// Stops the worker (BYE to the server if joined) and frees it. NULL-safe.
void byzgd_worker_destroy(byzgd_worker_t **self_p);

// Waits up to timeout_ms (-1: forever) for the worker to end. Returns its exit status
// (0 told to stop; 1 error or no server), or -1 if still running.
int byzgd_worker_wait(byzgd_worker_t *self, int timeout_ms);

// Fills *stats with the actor's counters. Returns 0, or -1 if the actor has gone.
int byzgd_worker_stats(byzgd_worker_t *self, byzgd_worker_stats_t *stats);

#endif

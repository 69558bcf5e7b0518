/*  server.c — the parameter server actor (see server.h for the contract and
    docs/PROTOCOL.md for the wire grammar). The round rules live in the round engine
    (round.h); this file keeps sockets, peers, timers, metrics and checkpoints.

    State machine (one state at a time in self->state; no flag stands in for a state):

    state         event                                   action                    next
    ------------  --------------------------------------  ------------------------  ------------
    STARTING      HELLO, fewer than n joined              CONFIG                    STARTING
    STARTING      HELLO, n joined                         publish round             COLLECTING
    STARTING      start timer (deadline after q joined)   publish round             COLLECTING
    UNDERSTAFFED  HELLO, q joined                         CONFIG, PARAMS, deadline  COLLECTING
    UNDERSTAFFED  HELLO, fewer than q joined              CONFIG, PARAMS            UNDERSTAFFED
    COLLECTING    HELLO                                   CONFIG, PARAMS            COLLECTING
    COLLECTING    PROPOSAL accepted, quorum in            close, publish next       COLLECTING
    COLLECTING    deadline, rule precondition holds       close, publish next       COLLECTING
    COLLECTING    deadline, precondition fails            re-send PARAMS            WAITING
    WAITING       PROPOSAL accepted, precondition holds   close, publish next       COLLECTING
    WAITING       re-send timer                           PARAMS to silent workers  WAITING
    WAITING       give-up timer                           checkpoint, status 1      DRAINING
    any round     close of the last round                 checkpoint                DRAINING
    any round     > f and > n/2 slots non-finite, or x    close as diverged         DRAINING
                  non-finite
    DRAINING      evaluations done                        flush, BYE(done) to all   CLOSING
    CLOSING       BYE from a worker (its acknowledgement)  forget it                 CLOSING
    CLOSING       a BYE send fails: connection gone       forget it                 CLOSING
    CLOSING       other message from a worker             BYE                       CLOSING
    CLOSING       re-send timer (every 100 ms)            BYE to the unanswered     CLOSING
    CLOSING       all answered or gone, or closing limit  DONE (or STOPPED)         FINISHED
    FINISHED      HELLO / HEARTBEAT                       BYE(done)                 FINISHED
    any           STOP (pipe)                             BYE(shutdown), flush      CLOSING

    CLOSING makes the end of a run reliable (PROTOCOL.md §4.1): a single BYE can be lost
    (sends never block; a slow worker's full queue drops it), so BYE is re-sent until each
    worker that was alive answers BYE or its connection is gone, for at most the closing
    limit (2 heartbeat intervals, at least 2 s); the process exits only after that.

    "any round" is UNDERSTAFFED, COLLECTING or WAITING; a publish enters UNDERSTAFFED when
    fewer than q identities have joined (no deadline until they have), COLLECTING otherwise.
    Proposals are accepted in every round state (a round can fill while understaffed).

    The actor loop only dispatches: the pipe (typed commands), the ROUTER, the evaluator and
    the timers (deadline, heartbeats). Pipe grammar, private to this file:
        caller → actor  "STATS" | "PARAMS" | "STOP" | "$TERM"
        actor → caller  "STATS" bytes | "PARAMS" bytes | "STOPPED" | "DONE" status(i)
    "DONE" may arrive unsolicited at any time; the API remembers it while waiting for a
    reply. */
#include "server.h"

#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "wire/actor.h"
#include "checkpoint.h"
#include "learning/dataset.h"
#include "evaluator.h"
#include "support/log.h"
#include "metrics.h"
#include "round.h"
#include "learning/model.h"
#include "wire/msg.h"
#include "wire/security.h"

_Static_assert(BYZGD_MSG_REJECT_COUNT <= 32, "byzgd_server_stats_t.rejected is too small");

#define S_SOFTWARE              "byzgd-server/1"
#define S_UNKNOWN_ERRORS        64 // identities without a slot remembered for ERROR rate limiting
#define S_RECV_BUDGET           256
#define S_EVALUATIONS_IN_FLIGHT 4
#define S_ARRIVALS              16   // recent rounds whose last arrival sets a short deadline
#define S_DEADLINE_FLOOR_MS     500  // a short deadline is at least this
#define S_BYE_RESEND_MS         100  // CLOSING: BYE re-sent this often to the unanswered
#define S_CLOSING_LIMIT_MIN_MS  2000 // CLOSING lasts at most max(this, 2 heartbeat intervals)

typedef enum {
    S_STARTING,     // no round published yet
    S_UNDERSTAFFED, // round published, fewer than q identities joined: no deadline yet
    S_COLLECTING,   // round published, deadline armed
    S_WAITING,      // deadline passed without the rule's precondition
    S_DRAINING,     // training over: waiting for the last evaluations
    S_CLOSING,      // everything on disk: BYE re-sent until every worker answered or left
    S_FINISHED,     // DONE reported; stragglers get BYE
} s_state_t;

static const char *const s_state_names[] = {"STARTING", "UNDERSTAFFED", "COLLECTING", "WAITING",
                                            "DRAINING", "CLOSING",      "FINISHED"};
typedef enum { S_PROGRESS_ROUND, S_PROGRESS_EVALUATION, S_PROGRESS_FINAL } s_progress_t;

typedef struct {
    char identity[BYZGD_IDENTITY_SIZE]; // "" = free slot
    uint8_t routing_id[256];            // return address of the last accepted message
    size_t routing_id_size;
    bool alive;
    int64_t last_heard_ms;
    int64_t last_sent_ms;
    int64_t last_error_ms;
    int64_t last_hello_ms;
    bool bye_unanswered; // CLOSING: BYE sent, no BYE back yet, connection not known gone
} s_peer_t;

typedef struct {
    char identity[BYZGD_IDENTITY_SIZE];
    int64_t last_error_ms;
} s_stranger_t;

typedef struct {
    byzgd_server_config_t config;
    size_t n, quorum, d;
    // The ROUTER (shell.socket), its ZMQ_EVENT_DISCONNECTED monitor (e.g. frames over
    // MAXMSGSIZE) and the evaluator's socket (shell.extra).
    byzgd_actor_shell_t shell;
    void *router_handle;
    byzgd_security_t *security;
    byzgd_evaluator_t *evaluator; // NULL when eval_every = 0
    byzgd_metrics_t *metrics;
    byzgd_msg_config_t session; // CONFIG template (slot and shard filled per worker)

    byzgd_round_t *engine; // x, the round number and its proposals

    s_peer_t *peers; // n slots
    size_t joined;
    s_stranger_t strangers[S_UNKNOWN_ERRORS];

    uint64_t epoch, first_round;
    zmq_msg_t params_msg; // PARAMS of the current round, shared by every send

    int64_t start_ms;
    double resumed_elapsed_s; // run time before this start (from the checkpoint)
    uint64_t next_checkpoint; // the first round whose checkpoint is due
    int64_t published_ms;     // when the current round's PARAMS went out
    int64_t deadline_at_ms;   // COLLECTING: when the deadline passes
    int64_t give_up_at_ms;    // WAITING: deadline + max wait
    int64_t resend_at_ms;     // WAITING: next PARAMS re-send
    int64_t last_tick_ms;
    int64_t quorum_joined_ms; // when q identities had joined (0: not yet)
    int64_t last_accept_ms;   // when the current round's last proposal was accepted
    // The adaptive deadline: seconds from publish to the last accepted proposal of recent
    // rounds (a ring), and whether the previous round closed by its deadline.
    double arrival_s[S_ARRIVALS];
    size_t arrival_count, arrival_next;
    bool previous_by_deadline;
    int64_t closing_until_ms; // CLOSING: the closing limit
    int64_t bye_resend_at_ms; // CLOSING: next BYE to the unanswered
    uint32_t bye_code;        // CLOSING: BYZGD_MSG_BYE_DONE or _SHUTDOWN
    double publish_s;         // time to publish the current round

    uint64_t rejected_round[BYZGD_MSG_REJECT_COUNT];
    uint64_t disconnects_round;
    byzgd_server_stats_t stats;

    // progress line
    double last_accuracy, last_test_loss;
    double last_ratio; // resilience_ratio of the last diagnosed round (NaN: none)
    uint64_t evaluated_round;
    int64_t progress_ms; // start of the rounds/s window
    int64_t progress_shown_ms;
    uint64_t progress_round;
    double rounds_per_s;

    s_state_t state;
    int exit_status; // 0 done, 1 failed, BYZGD_SERVER_EXIT_DIVERGED
    char description[256];
    bool reason_logged[BYZGD_MSG_REJECT_COUNT];
    bool params_ready; // params_msg holds an encoded PARAMS
    bool progress_tty;
    bool evaluated;
    bool evaluation_skip_logged;
    bool stop_requested; // STOP came: STOPPED is owed when CLOSING ends
} s_server_t;

struct byzgd_server_t {
    byzgd_actor_t actor;
    char endpoint[BYZGD_SERVER_PATH_MAX];
    size_t dimension;
    uint64_t epoch;
};

// ---------------------------------------------------------------------------------------
// Small helpers

static double
s_seconds(int64_t ms)
{
    return (double)ms / 1000.0;
}

static uint64_t
s_round(const s_server_t *self)
{
    return byzgd_round_current(self->engine);
}

static bool
s_in_round(const s_server_t *self)
{
    return self->state == S_UNDERSTAFFED || self->state == S_COLLECTING || self->state == S_WAITING;
}

// Every transition of the table at the top of this file goes through here.
static void
s_enter(s_server_t *self, s_state_t next)
{
    self->state = next;
}

// Rejections only a misbehaving peer causes count towards a ban (security.h strikes).
// Stale rounds, other epochs, non-finite gradients (a diverging model) and the like also
// happen to honest workers, so they are only counted.
static bool
s_is_strike(byzgd_msg_reject_t reason)
{
    switch (reason) {
    case BYZGD_MSG_REJECT_MALFORMED:
    case BYZGD_MSG_REJECT_TRUNCATED:
    case BYZGD_MSG_REJECT_TRAILING_BYTES:
    case BYZGD_MSG_REJECT_TOO_LARGE:
    case BYZGD_MSG_REJECT_TYPE:
    case BYZGD_MSG_REJECT_SCHEMA:
    case BYZGD_MSG_REJECT_VALUE:
    case BYZGD_MSG_REJECT_DIMENSION:
    case BYZGD_MSG_REJECT_EXTRA_FRAMES:
    case BYZGD_MSG_REJECT_DUPLICATE:
    case BYZGD_MSG_REJECT_FUTURE_ROUND:
        return true;
    default:
        return false;
    }
}

static void
s_reject(s_server_t *self, byzgd_msg_reject_t reason, const char *identity, const char *detail)
{
    self->rejected_round[reason]++;
    self->stats.rejected[reason]++;
    if (!self->reason_logged[reason]) {
        self->reason_logged[reason] = true;
        byzgd_warn("round %" PRIu64 ": dropped a message (%s%s%s) from %s; further drops of "
                   "this kind are only counted",
                   s_round(self), byzgd_msg_reject_name(reason), detail ? ": " : "",
                   detail ? detail : "", identity && *identity ? identity : "an unknown peer");
    }
    if (identity && *identity && s_is_strike(reason))
        byzgd_security_strike(self->security, identity, byzgd_msg_reject_name(reason));
    else if (identity && *identity)
        byzgd_security_rejected(self->security, identity, byzgd_msg_reject_name(reason));
}

static s_peer_t *
s_peer_find(s_server_t *self, const char *identity)
{
    for (size_t slot = 0; slot < self->n; slot++)
        if (self->peers[slot].identity[0] && streq(self->peers[slot].identity, identity))
            return &self->peers[slot];
    return NULL;
}

static size_t
s_slot_of(const s_server_t *self, const s_peer_t *peer)
{
    return (size_t)(peer - self->peers);
}

// Encodes and sends one small message (everything except PARAMS) to a routing id.
static int
s_send_small_to(s_server_t *self, const uint8_t *routing_id, size_t routing_id_size,
                const byzgd_msg_t *msg)
{
    uint8_t buffer[BYZGD_MSG_SMALL_MAX];
    size_t size = 0;
    char error[256];
    if (byzgd_msg_encode(buffer, sizeof buffer, &size, msg, error, sizeof error) != 0) {
        byzgd_error("cannot encode %s: %s", byzgd_msg_type_name(msg->type), error);
        return -1;
    }
    if (zmq_send(self->router_handle, routing_id, routing_id_size, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return -1;
    return zmq_send(self->router_handle, buffer, size, ZMQ_DONTWAIT) < 0 ? -1 : 0;
}

static int
s_send_small(s_server_t *self, s_peer_t *peer, const byzgd_msg_t *msg)
{
    if (s_send_small_to(self, peer->routing_id, peer->routing_id_size, msg) != 0)
        return -1;
    peer->last_sent_ms = zclock_mono();
    return 0;
}

static void
s_send_error_to(s_server_t *self, const uint8_t *routing_id, size_t routing_id_size, uint32_t code,
                const char *text)
{
    byzgd_msg_t msg = {.type = BYZGD_MSG_ERROR, .epoch = self->epoch, .round = s_round(self)};
    msg.error.code = code;
    snprintf(msg.error.text, sizeof msg.error.text, "%s", text);
    s_send_small_to(self, routing_id, routing_id_size, &msg);
}

// ERROR to an identity without a slot, at most once per heartbeat interval per identity
// (so the server never amplifies a flood).
static void
s_send_error_to_stranger(s_server_t *self, const char *identity, const uint8_t *routing_id,
                         size_t routing_id_size, uint32_t code, const char *text)
{
    int64_t now = zclock_mono();
    s_stranger_t *oldest = &self->strangers[0];
    for (size_t i = 0; i < S_UNKNOWN_ERRORS; i++) {
        s_stranger_t *stranger = &self->strangers[i];
        if (streq(stranger->identity, identity)) {
            if (now - stranger->last_error_ms < self->config.heartbeat_interval_ms)
                return;
            stranger->last_error_ms = now;
            s_send_error_to(self, routing_id, routing_id_size, code, text);
            return;
        }
        if (stranger->last_error_ms < oldest->last_error_ms)
            oldest = stranger;
    }
    snprintf(oldest->identity, sizeof oldest->identity, "%s", identity);
    oldest->last_error_ms = now;
    s_send_error_to(self, routing_id, routing_id_size, code, text);
}

// Returns -1 with errno EHOSTUNREACH when the peer's connection is gone (ROUTER_MANDATORY),
// -1 with EAGAIN when its queue is full (retried by CLOSING), else 0.
static int
s_send_bye(s_server_t *self, s_peer_t *peer, uint32_t code)
{
    byzgd_msg_t msg = {.type = BYZGD_MSG_BYE, .epoch = self->epoch, .round = s_round(self)};
    msg.bye.code = code;
    return s_send_small(self, peer, &msg);
}

static void
s_send_config(s_server_t *self, s_peer_t *peer)
{
    byzgd_msg_t msg = {.type = BYZGD_MSG_CONFIG, .epoch = self->epoch, .round = s_round(self)};
    msg.config = self->session;
    msg.config.slot = (uint32_t)s_slot_of(self, peer);
    msg.config.shard_index = msg.config.slot;
    s_send_small(self, peer, &msg);
}

// Sends the current PARAMS: a reference to the one encoded buffer, no copy per worker.
static void
s_send_params(s_server_t *self, s_peer_t *peer)
{
    if (!self->params_ready)
        return;
    zmq_msg_t copy;
    zmq_msg_init(&copy);
    zmq_msg_copy(&copy, &self->params_msg);
    if (zmq_send(self->router_handle, peer->routing_id, peer->routing_id_size,
                 ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_msg_send(&copy, self->router_handle, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&copy);
        return;
    }
    peer->last_sent_ms = zclock_mono();
}

// ---------------------------------------------------------------------------------------
// Rounds

static int
s_max_wait_ms(const s_server_t *self)
{
    return self->config.max_wait_ms ? self->config.max_wait_ms : 10 * self->config.deadline_ms;
}

// When the current round's deadline passes, counted from `now`. The first round of a run
// counts it from its first accepted proposal instead (at the latest deadline + max wait
// after now): workers load their data after they joined (seconds for 20 workers sharing 2
// cores), and that start-up is not round time — otherwise round 1 of a large run would
// close short of the quorum, differently each time.
// The round deadline. --deadline-ms is its ceiling. While rounds close by their deadline
// (a slot stays silent), waiting the full ceiling again for it would make every round that
// long: the next deadline is then 3 × the median time to the last accepted proposal over
// the last S_ARRIVALS rounds, at least S_DEADLINE_FLOOR_MS. A round that fills its quorum
// restores the ceiling, so runs whose workers all answer never see a short deadline.
static int64_t
s_deadline(const s_server_t *self, int64_t now)
{
    if (s_round(self) == self->first_round && byzgd_round_accepted(self->engine) == 0)
        return now + self->config.deadline_ms + s_max_wait_ms(self);
    int64_t deadline_ms = self->config.deadline_ms;
    if (self->previous_by_deadline && self->arrival_count > 0) {
        double scratch[S_ARRIVALS];
        double median = byzgd_round_median(self->arrival_s, self->arrival_count, scratch);
        int64_t adaptive = (int64_t)(3000.0 * median);
        if (adaptive < S_DEADLINE_FLOOR_MS)
            adaptive = S_DEADLINE_FLOOR_MS;
        if (adaptive < deadline_ms)
            deadline_ms = adaptive;
    }
    return now + deadline_ms;
}

// Encodes PARAMS(round) once and sends it to every live worker; the round's state is
// UNDERSTAFFED until q identities have joined, then COLLECTING with its deadline armed.
static void
s_publish(s_server_t *self)
{
    int64_t started = zclock_mono();
    if (self->params_ready) {
        zmq_msg_close(&self->params_msg);
        self->params_ready = false;
    }
    byzgd_msg_t msg = {.type = BYZGD_MSG_PARAMS, .epoch = self->epoch, .round = s_round(self)};
    msg.params.parameters = byzgd_round_params(self->engine);
    msg.params.dimension = self->d;
    size_t size = 0;
    char error[256];
    void *buffer = byzgd_msg_encode_new(&msg, &size, error, sizeof error);
    if (!buffer) {
        byzgd_error("cannot encode PARAMS: %s", error);
        self->exit_status = 1;
        self->shell.terminated = true;
        return;
    }
    zmq_msg_init_data(&self->params_msg, buffer, size, byzgd_msg_free_fn, NULL);
    self->params_ready = true;
    for (size_t slot = 0; slot < self->n; slot++)
        if (self->peers[slot].identity[0] && self->peers[slot].alive)
            s_send_params(self, &self->peers[slot]);
    int64_t now = zclock_mono();
    self->publish_s = s_seconds(now - started);
    self->published_ms = now;
    memset(self->rejected_round, 0, sizeof self->rejected_round);
    self->disconnects_round = 0;
    self->give_up_at_ms = 0;
    self->resend_at_ms = 0;
    if (self->joined >= self->quorum) {
        self->deadline_at_ms = s_deadline(self, now);
        s_enter(self, S_COLLECTING);
    } else {
        self->deadline_at_ms = 0;
        s_enter(self, S_UNDERSTAFFED);
    }
}

static bool
s_evaluation_due(const s_server_t *self, uint64_t round)
{
    return self->evaluator &&
           (round % self->config.eval_every == 0 || round == self->config.rounds);
}

static void
s_save_checkpoint(s_server_t *self, uint64_t rounds_done)
{
    if (!self->config.checkpoint[0])
        return;
    byzgd_checkpoint_info_t info = {.round = rounds_done,
                                    .seed = self->config.seed,
                                    .description = self->description,
                                    .elapsed_s = self->resumed_elapsed_s +
                                                 s_seconds(zclock_mono() - self->start_ms)};
    char error[512];
    if (byzgd_checkpoint_save(self->config.checkpoint, &info, byzgd_round_params(self->engine),
                              self->d, error, sizeof error) != 0)
        byzgd_error("checkpoint: %s", error);
}

// The one-line progress display. On a terminal it is rewritten in place after every round
// (at most 5 times a second); in a log file a line is added per evaluation and at the end.
static void
s_progress(s_server_t *self, s_progress_t kind)
{
    if (self->config.quiet)
        return;
    int64_t now = zclock_mono();
    uint64_t done = self->stats.rounds_done;
    // rounds/s over a window of 0.1 to 2 s that restarts every 2 s
    if (now - self->progress_ms >= 100)
        self->rounds_per_s =
            (double)(done - self->progress_round) / s_seconds(now - self->progress_ms);
    if (now - self->progress_ms >= 2000) {
        self->progress_ms = now;
        self->progress_round = done;
    }
    if (self->progress_tty && kind == S_PROGRESS_ROUND && now - self->progress_shown_ms < 200)
        return;
    if (!self->progress_tty && kind == S_PROGRESS_ROUND)
        return;
    self->progress_shown_ms = now;
    char evaluation[96] = "no evaluation yet";
    if (self->evaluated)
        snprintf(evaluation, sizeof evaluation,
                 "test accuracy %.4f  test loss %.4f (round %" PRIu64 ")", self->last_accuracy,
                 self->last_test_loss, self->evaluated_round);
    char ratio[32] = "";
    if (!isnan(self->last_ratio))
        snprintf(ratio, sizeof ratio, "  ratio %.2f", self->last_ratio);
    char line[288];
    snprintf(line, sizeof line,
             "round %" PRIu64 "/%" PRIu64 "  %s  train loss %.4f  %.2f rounds/s%s",
             done + self->first_round - 1, self->config.rounds, evaluation,
             self->stats.last_train_loss, self->rounds_per_s, ratio);
    if (self->progress_tty)
        fprintf(stderr, "\r%s\033[K%s", line, kind == S_PROGRESS_FINAL ? "\n" : "");
    else
        fprintf(stderr, "%s\n", line);
}

// Aggregates the round (the engine), records it and publishes the next one, or moves to
// DRAINING after the last round or a divergence.
static void
s_close_round(s_server_t *self, bool by_deadline)
{
    int64_t closed = zclock_mono();
    uint64_t round = s_round(self);
    byzgd_round_record_t record = {.round = round};
    record.collect_s = s_seconds(closed - self->published_ms);
    record.publish_s = self->publish_s;
    record.deadline = by_deadline;
    memcpy(record.rejected, self->rejected_round, sizeof record.rejected);
    record.disconnects = self->disconnects_round;

    byzgd_round_outcome_t outcome;
    byzgd_round_status_t status = byzgd_round_close(self->engine, &outcome);
    byzgd_metrics_record_outcome(&record, &outcome);
    record.elapsed_s = self->resumed_elapsed_s + s_seconds(zclock_mono() - self->start_ms);
    if (status == BYZGD_ROUND_FAILED)
        byzgd_error("round %" PRIu64 ": %s; parameters unchanged", round, outcome.message);

    self->stats.rounds_done++;
    self->stats.last_accepted = outcome.accepted;
    self->stats.last_train_loss = outcome.train_loss;
    if (outcome.diagnosed)
        self->last_ratio = outcome.resilience.ratio;
    if (by_deadline)
        self->stats.deadline_rounds++;
    self->previous_by_deadline = by_deadline;
    if (outcome.accepted > 0 && self->last_accept_ms >= self->published_ms) {
        self->arrival_s[self->arrival_next] = s_seconds(self->last_accept_ms - self->published_ms);
        self->arrival_next = (self->arrival_next + 1) % S_ARRIVALS;
        if (self->arrival_count < S_ARRIVALS)
            self->arrival_count++;
    }

    bool last = round >= self->config.rounds || status == BYZGD_ROUND_DIVERGED;
    bool evaluate = self->evaluator && (s_evaluation_due(self, round) || last);
    // Evaluations slower than K rounds would queue a copy of x each: beyond a few in
    // flight, intermediate ones are skipped (never the last round's).
    if (evaluate && !last &&
        byzgd_evaluator_outstanding(self->evaluator) >= S_EVALUATIONS_IN_FLIGHT) {
        evaluate = false;
        if (!self->evaluation_skip_logged) {
            self->evaluation_skip_logged = true;
            byzgd_warn("round %" PRIu64 ": evaluation skipped, %d still running (raise "
                       "--eval-every); further skips are silent",
                       round, S_EVALUATIONS_IN_FLIGHT);
        }
    }
    if (evaluate && byzgd_evaluator_submit(self->evaluator, round, byzgd_round_params(self->engine),
                                           self->d) != 0)
        evaluate = false;
    if (byzgd_metrics_add(self->metrics, &record, evaluate) != 0)
        byzgd_error("cannot write the metrics file %s", self->config.metrics);
    // A checkpoint of round r only once the metrics lines up to r are on disk (none waits
    // for an evaluation), so a resume neither loses nor repeats a line (RELIABILITY.md).
    if (self->config.checkpoint_every && round >= self->next_checkpoint &&
        byzgd_metrics_pending(self->metrics) == 0 && byzgd_metrics_flush(self->metrics) == 0) {
        s_save_checkpoint(self, round);
        self->next_checkpoint =
            (round / self->config.checkpoint_every + 1) * self->config.checkpoint_every;
    }
    self->stats.round = s_round(self);
    s_progress(self, S_PROGRESS_ROUND);
    if (status == BYZGD_ROUND_DIVERGED) {
        // A result, not a failure: the run ends here and its metrics say so.
        byzgd_warn("round %" PRIu64 ": the model diverged (%s); stopping", round, outcome.message);
        self->exit_status = BYZGD_SERVER_EXIT_DIVERGED;
        self->stats.diverged = true;
        s_save_checkpoint(self, round);
        s_enter(self, S_DRAINING);
        return;
    }
    if (last) {
        s_save_checkpoint(self, round);
        s_enter(self, S_DRAINING);
        return;
    }
    s_publish(self);
}

// The deadline passed (COLLECTING) or a WAITING timer fired: close with what arrived if
// the rule accepts that many, else wait (re-sending PARAMS to the silent workers) until
// the documented limit.
static void
s_on_deadline(s_server_t *self, int64_t now)
{
    char reason[256] = "";
    if (byzgd_round_closable(self->engine, reason, sizeof reason)) {
        s_close_round(self, true);
        return;
    }
    if (self->state == S_COLLECTING) {
        self->stats.waited_rounds++;
        int max_wait = s_max_wait_ms(self);
        self->give_up_at_ms = now + max_wait;
        byzgd_warn("round %" PRIu64 ": deadline passed with %zu of %zu proposals (%s); "
                   "waiting up to %d ms more",
                   s_round(self), byzgd_round_accepted(self->engine), self->quorum, reason,
                   max_wait);
        s_enter(self, S_WAITING);
    }
    if (now >= self->give_up_at_ms) {
        byzgd_error("round %" PRIu64 ": not enough proposals (%zu) after the deadline and "
                    "the extra wait; stopping",
                    s_round(self), byzgd_round_accepted(self->engine));
        self->exit_status = 1;
        s_save_checkpoint(self, s_round(self) - 1);
        s_enter(self, S_DRAINING);
        return;
    }
    if (now >= self->resend_at_ms) {
        self->resend_at_ms = now + self->config.deadline_ms;
        for (size_t slot = 0; slot < self->n; slot++) {
            s_peer_t *peer = &self->peers[slot];
            if (peer->identity[0] && peer->alive && !byzgd_round_has_proposed(self->engine, slot))
                s_send_params(self, peer);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Messages from workers

static void
s_bind_routing_id(s_peer_t *peer, zframe_t *routing_id)
{
    size_t size = zframe_size(routing_id);
    if (size > sizeof peer->routing_id)
        size = sizeof peer->routing_id;
    memcpy(peer->routing_id, zframe_data(routing_id), size);
    peer->routing_id_size = size;
    peer->alive = true;
    peer->last_heard_ms = zclock_mono();
}

static void
s_on_hello(s_server_t *self, const char *identity, zframe_t *routing_id)
{
    s_peer_t *peer = s_peer_find(self, identity);
    int64_t now = zclock_mono();
    if (peer && now - peer->last_hello_ms < self->config.heartbeat_interval_ms / 2) {
        // Each HELLO costs a PARAMS send: a flood of them must not turn the server into
        // an amplifier. Honest workers repeat HELLO once per heartbeat interval at most.
        s_reject(self, BYZGD_MSG_REJECT_RATE_LIMITED, identity, "HELLO too often");
        return;
    }
    if (!peer) {
        // The key decides the slot (PROTOCOL.md §4, "Slots"); only insecure workers that
        // name no slot take the lowest free one.
        size_t slot = 0;
        bool named = byzgd_security_slot(self->security, identity, &slot) == 0;
        if (!named && !self->config.insecure) {
            s_reject(self, BYZGD_MSG_REJECT_UNEXPECTED, identity, "key names no slot");
            s_send_error_to_stranger(self, identity, zframe_data(routing_id),
                                     zframe_size(routing_id), BYZGD_MSG_ERROR_NOT_ALLOWED,
                                     "this key is not named worker-NNN");
            return;
        }
        if (named && slot < self->n && (!self->peers[slot].identity[0] || !self->peers[slot].alive))
            peer = &self->peers[slot];
        for (size_t free_slot = 0; !named && free_slot < self->n && !peer; free_slot++)
            if (!self->peers[free_slot].identity[0])
                peer = &self->peers[free_slot];
        if (!peer && !named) {
            // Without keys an identity cannot come back after its process restarted:
            // a new one may take over the slot of a worker that went silent.
            for (size_t gone = 0; gone < self->n && !peer; gone++)
                if (!self->peers[gone].alive)
                    peer = &self->peers[gone];
        }
        if (!peer) {
            s_reject(self, BYZGD_MSG_REJECT_UNEXPECTED, identity, "server full");
            s_send_error_to_stranger(self, identity, zframe_data(routing_id),
                                     zframe_size(routing_id), BYZGD_MSG_ERROR_SERVER_FULL,
                                     named && slot >= self->n ? "no such slot in this run"
                                                              : "all slots are taken");
            return;
        }
        if (!peer->identity[0])
            self->joined++;
        memset(peer, 0, sizeof *peer);
        snprintf(peer->identity, sizeof peer->identity, "%s", identity);
        self->stats.joined = self->joined;
    }
    s_bind_routing_id(peer, routing_id);
    peer->last_hello_ms = now;
    switch (self->state) {
    case S_FINISHED:
        s_send_bye(self, peer, BYZGD_MSG_BYE_DONE);
        return;
    case S_CLOSING:
        peer->bye_unanswered = true;
        s_send_bye(self, peer, self->bye_code);
        return;
    case S_DRAINING:
        return;
    case S_STARTING:
        s_send_config(self, peer);
        if (self->joined >= self->quorum && !self->quorum_joined_ms)
            self->quorum_joined_ms = now;
        if (self->joined == self->n)
            s_publish(self);
        return;
    case S_UNDERSTAFFED:
        s_send_config(self, peer);
        s_send_params(self, peer);
        if (self->joined >= self->quorum) {
            // The deadline counts from when the quorum can be reached.
            self->deadline_at_ms = s_deadline(self, now);
            s_enter(self, S_COLLECTING);
        }
        return;
    case S_COLLECTING:
    case S_WAITING:
        s_send_config(self, peer);
        s_send_params(self, peer);
        return;
    }
}

// After a proposal changed the round: close it when the quorum is in, when the deadline
// has already passed and the rule's precondition holds, or when it diverged.
static void
s_after_proposal(s_server_t *self)
{
    if (byzgd_round_diverging(self->engine) || byzgd_round_ready(self->engine))
        s_close_round(self, false);
    else if (self->state == S_WAITING && byzgd_round_closable(self->engine, NULL, 0))
        s_close_round(self, true); // past its deadline, short of the quorum
}

static void
s_on_proposal(s_server_t *self, s_peer_t *peer, const byzgd_msg_t *msg)
{
    if (msg->epoch != self->epoch)
        return s_reject(self, BYZGD_MSG_REJECT_EPOCH, peer->identity, NULL);
    if (self->state == S_STARTING)
        return s_reject(self, BYZGD_MSG_REJECT_UNEXPECTED, peer->identity, "no round yet");
    if (!s_in_round(self))
        return s_reject(self, BYZGD_MSG_REJECT_UNEXPECTED, peer->identity, "training is over");
    byzgd_msg_reject_t reason =
        byzgd_round_accept(self->engine, s_slot_of(self, peer), msg->round, msg->proposal.gradient,
                           msg->proposal.dimension, msg->proposal.train_loss);
    if (reason != BYZGD_MSG_OK)
        return s_reject(self, reason, peer->identity, NULL);
    self->stats.accepted++;
    self->last_accept_ms = zclock_mono();
    int64_t counted_from_now = self->last_accept_ms + self->config.deadline_ms;
    if (self->state == S_COLLECTING && s_round(self) == self->first_round &&
        byzgd_round_accepted(self->engine) == 1 && counted_from_now < self->deadline_at_ms)
        self->deadline_at_ms = counted_from_now; // the first round's clock starts now
    s_after_proposal(self);
}

// A PROPOSAL the codec rejected as non-finite still tells the engine that this slot saw
// the model diverge in the current round (round.h); more than f such slots end the run.
static void
s_on_non_finite(s_server_t *self, s_peer_t *peer, const byzgd_msg_t *msg)
{
    if (!peer || msg->type != BYZGD_MSG_PROPOSAL || msg->epoch != self->epoch ||
        !s_in_round(self) || msg->round != s_round(self))
        return;
    byzgd_round_note_non_finite(self->engine, s_slot_of(self, peer));
    s_after_proposal(self);
}

// One admitted message: decode, then dispatch on its type.
static void
s_on_message(s_server_t *self, const char *identity, zframe_t *routing_id, zframe_t *body)
{
    byzgd_msg_t msg;
    byzgd_msg_reject_t reason = byzgd_msg_decode(&msg, zframe_data(body), zframe_size(body),
                                                 BYZGD_MSG_FROM_WORKER, self->d);
    s_peer_t *peer = s_peer_find(self, identity);
    if (reason != BYZGD_MSG_OK) {
        s_reject(self, reason, identity, msg.reject_field);
        if (reason == BYZGD_MSG_REJECT_VERSION)
            s_send_error_to_stranger(self, identity, zframe_data(routing_id),
                                     zframe_size(routing_id), BYZGD_MSG_ERROR_VERSION,
                                     "this server speaks protocol version 1");
        if (peer)
            peer->last_heard_ms = zclock_mono();
        if (reason == BYZGD_MSG_REJECT_NON_FINITE)
            s_on_non_finite(self, peer, &msg);
        return;
    }
    if (msg.type == BYZGD_MSG_HELLO)
        return s_on_hello(self, identity, routing_id);
    if (!peer) {
        s_reject(self, BYZGD_MSG_REJECT_NOT_JOINED, identity, byzgd_msg_type_name(msg.type));
        if (msg.type != BYZGD_MSG_BYE)
            s_send_error_to_stranger(self, identity, zframe_data(routing_id),
                                     zframe_size(routing_id), BYZGD_MSG_ERROR_NOT_JOINED,
                                     "send HELLO first");
        return;
    }
    if (self->state == S_CLOSING) {
        // The run is over: BYE answers BYE; anything else is answered with BYE.
        s_bind_routing_id(peer, routing_id);
        if (msg.type == BYZGD_MSG_BYE) {
            peer->bye_unanswered = false;
            peer->alive = false;
        } else
            s_send_bye(self, peer, self->bye_code);
        return;
    }
    bool was_alive = peer->alive;
    s_bind_routing_id(peer, routing_id);
    if (!was_alive && s_in_round(self) &&
        !byzgd_round_has_proposed(self->engine, s_slot_of(self, peer)))
        s_send_params(self, peer); // it came back after being counted as gone
    switch (msg.type) {
    case BYZGD_MSG_PROPOSAL:
        s_on_proposal(self, peer, &msg);
        break;
    case BYZGD_MSG_HEARTBEAT:
        if (msg.epoch != self->epoch)
            s_reject(self, BYZGD_MSG_REJECT_EPOCH, identity, "heartbeat");
        else if (self->state == S_FINISHED)
            s_send_bye(self, peer, BYZGD_MSG_BYE_DONE);
        break;
    case BYZGD_MSG_BYE:
        peer->alive = false;
        break;
    default:
        s_reject(self, BYZGD_MSG_REJECT_TYPE, identity, byzgd_msg_type_name(msg.type));
        break;
    }
}

// The one receive path (the same the security tests drive): byzgd_security_recv reads a
// message frame by frame (extra frames are drained, never kept), names the identity (CURVE
// key, or the routing id in insecure mode) and applies the deny-list and rate limits.
static void
s_on_router(void *arg)
{
    s_server_t *self = arg;
    for (int budget = 0; budget < S_RECV_BUDGET && !self->shell.terminated; budget++) {
        zmsg_t *message = NULL;
        char identity[BYZGD_IDENTITY_SIZE] = "";
        byzgd_admit_t verdict =
            byzgd_security_recv(self->security, self->shell.socket, &message, identity);
        switch (verdict) {
        case BYZGD_ADMIT_NOTHING:
            return;
        case BYZGD_ADMIT_OK: {
            zframe_t *routing_id = zmsg_first(message);
            zframe_t *body = zmsg_next(message);
            s_on_message(self, identity, routing_id, body);
            break;
        }
        case BYZGD_ADMIT_NO_IDENTITY:
            s_reject(self, BYZGD_MSG_REJECT_UNAUTHENTICATED, NULL, NULL);
            break;
        case BYZGD_ADMIT_DENIED: {
            s_reject(self, BYZGD_MSG_REJECT_DENIED, identity, NULL);
            zframe_t *routing_id = zmsg_first(message); // PROTOCOL.md §3.2
            s_send_error_to_stranger(self, identity, zframe_data(routing_id),
                                     zframe_size(routing_id), BYZGD_MSG_ERROR_BANNED,
                                     "this identity is on the deny-list");
            break;
        }
        case BYZGD_ADMIT_RATE_LIMITED: {
            s_reject(self, BYZGD_MSG_REJECT_RATE_LIMITED, identity, NULL);
            zframe_t *routing_id = zmsg_first(message);
            s_send_error_to_stranger(self, identity, zframe_data(routing_id),
                                     zframe_size(routing_id), BYZGD_MSG_ERROR_RATE_LIMITED,
                                     "over the message or byte rate: wait one heartbeat interval");
            break;
        }
        case BYZGD_ADMIT_TOO_MANY_FRAMES:
            s_reject(self, BYZGD_MSG_REJECT_EXTRA_FRAMES, identity, NULL);
            break;
        default:
            s_reject(self, BYZGD_MSG_REJECT_MALFORMED, identity, "empty message");
            break;
        }
        zmsg_destroy(&message);
    }
}

// ---------------------------------------------------------------------------------------
// Closing: BYE until every worker answered (PROTOCOL.md §4.1)

static void
s_finish(s_server_t *self, bool natural_end)
{
    s_enter(self, S_FINISHED);
    if (natural_end) {
        self->stats.finished = self->exit_status != 1;
        byzgd_actor_shell_done(&self->shell, self->exit_status);
    }
    if (self->stop_requested)
        zsock_send(self->shell.pipe, "s", "STOPPED");
}

// Re-sends BYE to the workers that have not answered (a send to a gone connection takes
// the worker off the list) and ends CLOSING when none is left or the limit has passed.
static void
s_closing_tick(s_server_t *self, int64_t now)
{
    if (now >= self->bye_resend_at_ms) {
        self->bye_resend_at_ms = now + S_BYE_RESEND_MS;
        for (size_t slot = 0; slot < self->n; slot++) {
            s_peer_t *peer = &self->peers[slot];
            if (peer->bye_unanswered && s_send_bye(self, peer, self->bye_code) != 0 &&
                errno == EHOSTUNREACH)
                peer->bye_unanswered = false;
        }
    }
    size_t unanswered = 0;
    char names[256] = "";
    for (size_t slot = 0; slot < self->n; slot++)
        if (self->peers[slot].bye_unanswered) {
            size_t used = strlen(names);
            if (used + 16 < sizeof names)
                snprintf(names + used, sizeof names - used, "%s%zu", unanswered ? ", " : "", slot);
            unanswered++;
        }
    if (unanswered > 0 && now < self->closing_until_ms)
        return;
    if (unanswered > 0)
        byzgd_warn("%zu worker%s did not acknowledge BYE (slots %s)", unanswered,
                   unanswered == 1 ? "" : "s", names);
    s_finish(self, !self->stop_requested || self->bye_code == BYZGD_MSG_BYE_DONE);
}

// Everything is on disk: BYE(code) to every worker alive (the silent ones are not waited
// for), re-sent by s_closing_tick until each answers or the closing limit passes.
static void
s_begin_closing(s_server_t *self, uint32_t code)
{
    int64_t now = zclock_mono();
    int limit = 2 * self->config.heartbeat_interval_ms;
    self->bye_code = code;
    self->closing_until_ms =
        now + (limit > S_CLOSING_LIMIT_MIN_MS ? limit : S_CLOSING_LIMIT_MIN_MS);
    self->bye_resend_at_ms = now;
    for (size_t slot = 0; slot < self->n; slot++)
        self->peers[slot].bye_unanswered = self->peers[slot].identity[0] && self->peers[slot].alive;
    s_enter(self, S_CLOSING);
    s_closing_tick(self, now);
}

// ---------------------------------------------------------------------------------------
// Timers: liveness, heartbeats, the round deadline

static void
s_on_timers(void *arg)
{
    s_server_t *self = arg;
    int64_t now = zclock_mono();
    if (now - self->last_tick_ms >= self->config.heartbeat_interval_ms / 2) {
        self->last_tick_ms = now;
        byzgd_msg_t heartbeat = {
            .type = BYZGD_MSG_HEARTBEAT, .epoch = self->epoch, .round = s_round(self)};
        for (size_t slot = 0; slot < self->n; slot++) {
            s_peer_t *peer = &self->peers[slot];
            if (!peer->identity[0] || !peer->alive)
                continue;
            if (now - peer->last_heard_ms > self->config.heartbeat_timeout_ms) {
                peer->alive = false;
                byzgd_warn("worker %zu went silent (no message for %d ms)", slot,
                           self->config.heartbeat_timeout_ms);
                continue;
            }
            if (now - peer->last_sent_ms >= self->config.heartbeat_interval_ms)
                s_send_small(self, peer, &heartbeat);
        }
    }
    if (self->state == S_STARTING && self->quorum_joined_ms &&
        now >= self->quorum_joined_ms + self->config.deadline_ms)
        s_publish(self);
    if ((self->state == S_COLLECTING && now >= self->deadline_at_ms) ||
        (self->state == S_WAITING && (now >= self->resend_at_ms || now >= self->give_up_at_ms)))
        s_on_deadline(self, now);
    if (self->state == S_DRAINING &&
        (!self->evaluator || byzgd_evaluator_outstanding(self->evaluator) == 0)) {
        byzgd_metrics_flush(self->metrics);
        s_progress(self, S_PROGRESS_FINAL);
        // BYE goes last, so workers end after everything is on disk, shortly before the
        // server process itself.
        // BYE(done): every round done or diverged (a result); a failed run is not done.
        s_begin_closing(self, self->exit_status == 1 ? BYZGD_MSG_BYE_SHUTDOWN : BYZGD_MSG_BYE_DONE);
    } else if (self->state == S_CLOSING)
        s_closing_tick(self, now);
}

static int64_t
s_wake_at(const void *arg, int64_t now)
{
    const s_server_t *self = arg;
    int64_t wake = self->last_tick_ms + self->config.heartbeat_interval_ms / 2;
    int64_t timer = wake;
    if (self->state == S_COLLECTING)
        timer = self->deadline_at_ms;
    else if (self->state == S_WAITING)
        timer = self->resend_at_ms < self->give_up_at_ms ? self->resend_at_ms : self->give_up_at_ms;
    else if (self->state == S_STARTING && self->quorum_joined_ms)
        timer = self->quorum_joined_ms + self->config.deadline_ms;
    if (timer < wake)
        wake = timer;
    if (self->state == S_DRAINING)
        wake = now + 50;
    if (self->state == S_CLOSING && self->bye_resend_at_ms < wake)
        wake = self->bye_resend_at_ms;
    return wake;
}

// ---------------------------------------------------------------------------------------
// Evaluation results and pipe commands

// libzmq closes a connection that sends a frame over ZMQ_MAXMSGSIZE before the
// application sees any byte of it: such frames are counted here, as disconnects.
static void
s_on_monitor(void *arg, unsigned event)
{
    s_server_t *self = arg;
    if (event == ZMQ_EVENT_DISCONNECTED) {
        self->disconnects_round++;
        self->stats.disconnects++;
    }
}

static void
s_on_evaluation(void *arg)
{
    s_server_t *self = arg;
    uint64_t round = 0;
    double loss = 0, accuracy = 0;
    if (byzgd_evaluator_recv(self->evaluator, &round, &loss, &accuracy) != 0)
        return;
    self->last_accuracy = accuracy;
    self->last_test_loss = loss;
    self->evaluated = true;
    self->evaluated_round = round;
    if (byzgd_metrics_set_evaluation(self->metrics, round, loss, accuracy) != 0)
        byzgd_error("cannot write the metrics file %s", self->config.metrics);
    s_progress(self, S_PROGRESS_EVALUATION);
}

// Stops on request: final checkpoint, metrics flushed, then CLOSING with BYE(shutdown);
// STOPPED is sent when CLOSING ends (at once if the server has finished already).
static void
s_stop(s_server_t *self)
{
    if (self->state == S_FINISHED) {
        zsock_send(self->shell.pipe, "s", "STOPPED");
        return;
    }
    self->stop_requested = true;
    if (self->state == S_CLOSING)
        return; // the run's own end is under way
    if (self->state != S_DRAINING)
        s_save_checkpoint(self, s_round(self) - 1);
    // Evaluations in flight finish first, so their lines are complete.
    while (self->evaluator && byzgd_evaluator_outstanding(self->evaluator) > 0)
        s_on_evaluation(self);
    byzgd_metrics_flush(self->metrics);
    s_progress(self, S_PROGRESS_FINAL);
    s_begin_closing(self, BYZGD_MSG_BYE_SHUTDOWN);
}

static void
s_on_command(void *arg, const char *command)
{
    s_server_t *self = arg;
    if (streq(command, "STATS")) {
        self->stats.round = s_round(self);
        self->stats.epoch = self->epoch;
        self->stats.state = s_state_names[self->state];
        self->stats.joined = self->joined;
    } else if (streq(command, "PARAMS"))
        byzgd_actor_reply(self->shell.pipe, "PARAMS", byzgd_round_params(self->engine),
                          self->d * sizeof(float));
    else if (streq(command, "STOP"))
        s_stop(self);
}

// ---------------------------------------------------------------------------------------
// Construction (in the caller's thread, so errors come back synchronously)

// Frees a state, whether its actor ran or not (the actor's last handler, on_end).
static void
s_state_destroy(void *arg)
{
    s_server_t *self = arg;
    if (self->params_ready)
        zmq_msg_close(&self->params_msg);
    if (self->shell.socket)
        zsock_set_linger(self->shell.socket, 500); // let BYE reach the workers
    byzgd_actor_shell_destroy(&self->shell);
    byzgd_evaluator_destroy(&self->evaluator);
    byzgd_metrics_destroy(&self->metrics);
    byzgd_security_destroy(&self->security);
    byzgd_round_destroy(&self->engine);
    free(self->peers);
    free(self);
}

static uint64_t
s_random_epoch(void)
{
    uint64_t epoch = 0;
    while (epoch == 0)
        if (getrandom(&epoch, sizeof epoch, 0) != (ssize_t)sizeof epoch)
            epoch = (uint64_t)zclock_time() ^ ((uint64_t)getpid() << 32);
    return epoch;
}

static s_server_t *
s_state_new(const byzgd_server_config_t *config, char *endpoint_out, char *error, size_t error_size)
{
    s_server_t *self = calloc(1, sizeof *self);
    byzgd_model_t *model = NULL;
    byzgd_dataset_t *test_set = NULL;
    float *x0 = NULL;
    if (!self)
        abort();
    self->config = *config;
    self->n = config->worker_count;
    self->quorum = config->quorum ? config->quorum : config->worker_count;
    self->config.gar.f = config->byzantine_count;
    self->config.gar.seed = config->seed;

    byzgd_dataset_options_t data_options = {0};
    data_options.data_dir = config->data_dir[0] ? config->data_dir : NULL;
    data_options.split = BYZGD_SPLIT_TEST;
    data_options.limit = config->eval_examples;
    data_options.seed = config->seed;
    test_set = byzgd_dataset_load(config->dataset, &data_options, error, error_size);
    if (!test_set)
        goto failed;
    byzgd_model_spec_t spec =
        byzgd_dataset_model_spec(test_set, self->config.architecture, config->hidden);
    model = byzgd_model_new(&spec, 1, error, error_size);
    if (!model)
        goto failed;
    self->d = byzgd_model_dimension(model);
    if (self->d > BYZGD_MSG_DIMENSION_MAX) {
        byzgd_set_error(error, error_size, "model has d = %zu, the protocol allows %u", self->d,
                        BYZGD_MSG_DIMENSION_MAX);
        goto failed;
    }
    snprintf(self->description, sizeof self->description, "%s", byzgd_model_description(model));

    byzgd_msg_config_t *session = &self->session;
    session->worker_count = (uint32_t)self->n;
    session->byzantine_count = (uint32_t)config->byzantine_count;
    session->dimension = self->d;
    snprintf(session->architecture, sizeof session->architecture, "%s", config->architecture);
    session->hidden[0] = (uint32_t)config->hidden[0];
    session->hidden[1] = (uint32_t)config->hidden[1];
    session->channels = (uint32_t)test_set->channels;
    session->height = (uint32_t)test_set->height;
    session->width = (uint32_t)test_set->width;
    session->class_count = (uint32_t)test_set->class_count;
    snprintf(session->dataset, sizeof session->dataset, "%s", config->dataset);
    session->shard_count = (uint32_t)self->n;
    session->dirichlet_alpha = config->dirichlet_alpha;
    session->batch_size = (uint32_t)config->batch_size;
    session->seed = config->seed;
    session->heartbeat_interval_ms = (uint32_t)config->heartbeat_interval_ms;
    session->heartbeat_timeout_ms = (uint32_t)config->heartbeat_timeout_ms;

    self->peers = calloc(self->n, sizeof *self->peers);
    x0 = malloc(self->d * sizeof *x0);
    if (!self->peers || !x0) {
        byzgd_set_error(error, error_size, "out of memory for n = %zu, d = %zu", self->n, self->d);
        goto failed;
    }
    byzgd_model_init(model, x0, config->seed);
    uint64_t first_round = 1;
    if (config->resume) {
        byzgd_checkpoint_info_t expected = {.seed = config->seed, .description = self->description};
        uint64_t done = 0;
        if (byzgd_checkpoint_load(config->checkpoint, &expected, x0, self->d, &done,
                                  &self->resumed_elapsed_s, error, error_size) != 0)
            goto failed;
        // Lines past the checkpoint are rounds about to be trained again.
        if (config->metrics[0] &&
            byzgd_metrics_truncate_after(config->metrics, done, error, error_size) != 0)
            goto failed;
        first_round = done + 1;
        if (first_round > config->rounds) {
            byzgd_set_error(error, error_size,
                            "the checkpoint has all %" PRIu64 " rounds done already", done);
            goto failed;
        }
        byzgd_info("resuming after round %" PRIu64 " from %s", done, config->checkpoint);
    }
    self->first_round = first_round;
    // The engine holds x and the n×d proposal matrix, allocated once for the whole run.
    byzgd_round_config_t round_config = {.worker_count = self->n,
                                         .dimension = self->d,
                                         .quorum = self->quorum,
                                         .gar = self->config.gar,
                                         .learning_rate = config->learning_rate,
                                         .resilience_every = config->eval_every};
    self->engine = byzgd_round_new(&round_config, x0, first_round, error, error_size);
    if (!self->engine)
        goto failed;
    free(x0);
    x0 = NULL;
    self->next_checkpoint = config->checkpoint_every;
    byzgd_model_destroy(&model);

    self->metrics = byzgd_metrics_new(config->metrics[0] ? config->metrics : NULL, config->resume,
                                      error, error_size);
    if (!self->metrics)
        goto failed;
    if (config->eval_every > 0) {
        self->evaluator = byzgd_evaluator_new(&spec, &test_set, error, error_size);
        if (!self->evaluator)
            goto failed;
        self->shell.extra = byzgd_evaluator_socket(self->evaluator);
    }
    byzgd_dataset_destroy(&test_set);

    byzgd_security_options_t security_options;
    byzgd_security_options_defaults(&security_options, self->d);
    security_options.insecure = config->insecure;
    security_options.keys_dir = config->keys_dir[0] ? config->keys_dir : NULL;
    security_options.deny_list_path = config->deny_list[0] ? config->deny_list : NULL;
    security_options.max_frames = 1; // one body frame per message (PROTOCOL.md §1)
    security_options.heartbeat_ivl_ms = config->heartbeat_interval_ms;
    self->security = byzgd_security_new(&security_options, error, error_size);
    if (!self->security)
        goto failed;
    self->shell.socket = zsock_new(ZMQ_ROUTER);
    if (!self->shell.socket) {
        byzgd_set_error(error, error_size, "cannot create the ROUTER socket");
        goto failed;
    }
    if (byzgd_security_server_setup(self->security, self->shell.socket, error, error_size) != 0)
        goto failed;
    zsock_set_rcvtimeo(self->shell.socket, 0);
    self->router_handle = zsock_resolve(self->shell.socket);
    self->shell.monitor = byzgd_monitor_new(self->shell.socket, ZMQ_EVENT_DISCONNECTED);
    if (zsock_bind(self->shell.socket, "%s", config->endpoint) < 0) {
        byzgd_set_error(error, error_size, "cannot bind %s: %s", config->endpoint,
                        zmq_strerror(zmq_errno()));
        goto failed;
    }
    char *bound = zsock_last_endpoint(self->shell.socket);
    snprintf(endpoint_out, BYZGD_SERVER_PATH_MAX, "%s", bound ? bound : config->endpoint);
    zstr_free(&bound);
    self->router_handle = zsock_resolve(self->shell.socket);
    self->epoch = s_random_epoch();
    self->stats.epoch = self->epoch;
    self->stats.round = first_round;
    self->shell.stats = &self->stats;
    self->shell.stats_size = sizeof self->stats;
    return self;
failed:
    free(x0);
    byzgd_model_destroy(&model);
    byzgd_dataset_destroy(&test_set);
    s_state_destroy(self);
    return NULL;
}

// The run's clocks start just before its thread does; its parameters go to the log.
static void
s_start(s_server_t *self)
{
    self->progress_tty = isatty(STDERR_FILENO);
    self->last_ratio = NAN;
    self->start_ms = zclock_mono();
    self->last_tick_ms = self->start_ms;
    self->progress_ms = self->start_ms;
    self->progress_round = 0;
    byzgd_info("epoch %016" PRIx64 ", d = %zu, n = %zu, f = %zu, q = %zu, rule %s, seed %" PRIu64
               ", round %" PRIu64 " of %" PRIu64,
               self->epoch, self->d, self->n, self->config.byzantine_count, self->quorum,
               byzgd_gar_rule_name(self->config.gar.rule), self->config.seed, s_round(self),
               self->config.rounds);
}

static const byzgd_actor_handlers_t s_handlers = {.wake_at = s_wake_at,
                                                  .on_command = s_on_command,
                                                  .on_socket = s_on_router,
                                                  .on_monitor = s_on_monitor,
                                                  .on_extra = s_on_evaluation,
                                                  .on_timers = s_on_timers,
                                                  .on_end = s_state_destroy};

// ---------------------------------------------------------------------------------------
// Typed API

byzgd_server_t *
byzgd_server_new(const byzgd_server_config_t *config, char *error, size_t error_size)
{
    if (byzgd_server_config_check(config, error, error_size) != 0)
        return NULL;
    byzgd_server_t *self = calloc(1, sizeof *self);
    if (!self)
        abort();
    s_server_t *state = s_state_new(config, self->endpoint, error, error_size);
    if (!state) {
        free(self);
        return NULL;
    }
    self->dimension = state->d;
    self->epoch = state->epoch;
    if (config->endpoint_file[0]) {
        // The file tells a client where to dial: a wildcard bind is reachable on loopback,
        // while "0.0.0.0" is no address to dial (other hosts are told --advertise).
        static const char wildcard[] = "tcp://0.0.0.0:";
        char dialable[sizeof self->endpoint + 8];
        if (strncmp(self->endpoint, wildcard, sizeof wildcard - 1) == 0)
            snprintf(dialable, sizeof dialable, "tcp://127.0.0.1:%s",
                     self->endpoint + sizeof wildcard - 1);
        else
            snprintf(dialable, sizeof dialable, "%s", self->endpoint);
        char tmp[BYZGD_SERVER_PATH_MAX + 8];
        snprintf(tmp, sizeof tmp, "%s.tmp", config->endpoint_file);
        FILE *file = fopen(tmp, "w");
        if (!file || fprintf(file, "%s\n", dialable) < 0 || fclose(file) != 0 ||
            rename(tmp, config->endpoint_file) != 0) {
            byzgd_set_error(error, error_size, "cannot write %s", config->endpoint_file);
            s_state_destroy(state);
            free(self);
            return NULL;
        }
    }
    s_start(state);
    byzgd_actor_start(&self->actor, &state->shell, &s_handlers, state);
    return self;
}

void
byzgd_server_destroy(byzgd_server_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    byzgd_server_t *self = *self_p;
    byzgd_actor_stop(&self->actor);
    free(self);
    *self_p = NULL;
}

const char *
byzgd_server_endpoint(const byzgd_server_t *self)
{
    return self->endpoint;
}

size_t
byzgd_server_dimension(const byzgd_server_t *self)
{
    return self->dimension;
}

uint64_t
byzgd_server_epoch(const byzgd_server_t *self)
{
    return self->epoch;
}

int
byzgd_server_wait(byzgd_server_t *self, int timeout_ms)
{
    return byzgd_actor_wait(&self->actor, timeout_ms);
}

void
byzgd_server_stop(byzgd_server_t *self)
{
    if (zstr_send(self->actor.zactor, "STOP") != 0)
        return;
    zmsg_t *reply = byzgd_actor_recv_reply(&self->actor, "STOPPED", 60000);
    zmsg_destroy(&reply);
    if (!self->actor.done) {
        self->actor.done = true;
        self->actor.status = 0;
    }
}

int
byzgd_server_stats(byzgd_server_t *self, byzgd_server_stats_t *stats)
{
    return byzgd_actor_call(&self->actor, "STATS", stats, sizeof *stats, 10000);
}

int
byzgd_server_params(byzgd_server_t *self, float *params_out)
{
    return byzgd_actor_call(&self->actor, "PARAMS", params_out, self->dimension * sizeof(float),
                            10000);
}

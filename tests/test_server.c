/*  test_server.c — the server actor against scripted fake workers (DEALER sockets speaking
    the codec), the configuration parser, metrics and checkpoints, and the worker actor
    (honest and with Byzantine hooks) against the real server. Everything runs on a small
    synthetic dataset with logistic regression (d = 42), insecure mode, on tcp://127.0.0.1:*. */
#include <czmq.h>
#include <inttypes.h>

#include "byzantine/byzantine.h"
#include "server/checkpoint.h"
#include "server/metrics.h"
#include "rules/gar_options.h"
#include "server/server.h"
#include "worker/worker.h"
#include "learning/attack.h"
#include "learning/model.h"
#include "wire/msg.h"
#include "wire/security.h"
#include "test.h"

#define D 42 // logreg on the default synthetic mixture: 20 features × 2 classes + 2 biases

// ---------------------------------------------------------------------------------------
// Fake workers

typedef struct {
    zsock_t *dealer;
    uint64_t epoch;
    uint64_t round; // last PARAMS round received
    uint32_t slot;
    float params[D];
    bool bye;
} fake_t;

static void
s_config(byzgd_server_config_t *config, size_t n)
{
    byzgd_server_config_init(config);
    snprintf(config->endpoint, sizeof config->endpoint, "tcp://127.0.0.1:*");
    snprintf(config->architecture, sizeof config->architecture, "logreg");
    snprintf(config->dataset, sizeof config->dataset, "synthetic");
    config->worker_count = n;
    config->insecure = true;
    config->quiet = true;
    config->rounds = 100;
    config->eval_every = 0;
    config->learning_rate.initial = 0.5;
    config->deadline_ms = 20000;
    config->heartbeat_interval_ms = 1000;
    config->heartbeat_timeout_ms = 20000;
}

// The session CONFIG of the tests' logistic regression (d = D: 20 inputs, 2 classes) for
// worker `slot` of `worker_count`, each with its own shard; seed 1.
static byzgd_msg_config_t
s_logreg_session(const char *dataset, uint32_t worker_count, uint32_t slot)
{
    byzgd_msg_config_t session = {.worker_count = worker_count,
                                  .dimension = D,
                                  .architecture = "logreg",
                                  .channels = 1,
                                  .height = 1,
                                  .width = 20,
                                  .class_count = 2,
                                  .shard_index = slot,
                                  .shard_count = worker_count,
                                  .slot = slot,
                                  .seed = 1};
    snprintf(session.dataset, sizeof session.dataset, "%s", dataset);
    return session;
}

static byzgd_server_t *
s_server(const byzgd_server_config_t *config)
{
    char error[512] = "";
    byzgd_server_t *server = byzgd_server_new(config, error, sizeof error);
    ASSERT_MSG(server, "byzgd_server_new: %s", error);
    ASSERT_EQ_INT(byzgd_server_dimension(server), D);
    return server;
}

static void
s_send(fake_t *fake, const byzgd_msg_t *msg)
{
    char error[256];
    size_t size = 0;
    void *buffer = byzgd_msg_encode_new(msg, &size, error, sizeof error);
    ASSERT_MSG(buffer, "encode: %s", error);
    zframe_t *frame = zframe_new(buffer, size);
    free(buffer);
    ASSERT_EQ_INT(zframe_send(&frame, fake->dealer, 0), 0);
}

// Receives and decodes one message from the server (fails after timeout_ms).
static byzgd_msg_t
s_recv(fake_t *fake, zframe_t **frame_out, int timeout_ms)
{
    zsock_set_rcvtimeo(fake->dealer, timeout_ms);
    zframe_t *frame = zframe_recv(fake->dealer);
    ASSERT_MSG(frame, "no message from the server within %d ms", timeout_ms);
    byzgd_msg_t msg;
    byzgd_msg_reject_t reason =
        byzgd_msg_decode(&msg, zframe_data(frame), zframe_size(frame), BYZGD_MSG_FROM_SERVER, D);
    ASSERT_MSG(reason == BYZGD_MSG_OK, "server sent a message the codec rejects: %s",
               byzgd_msg_reject_name(reason));
    *frame_out = frame;
    return msg;
}

// Waits for the next PARAMS (skipping heartbeats and CONFIG) and stores it.
static void
s_expect_params(fake_t *fake, uint64_t round)
{
    while (true) {
        zframe_t *frame = NULL;
        byzgd_msg_t msg = s_recv(fake, &frame, 10000);
        if (msg.type == BYZGD_MSG_CONFIG) {
            fake->epoch = msg.epoch;
            fake->slot = msg.config.slot;
            ASSERT_EQ_INT(msg.config.dimension, D);
        } else if (msg.type == BYZGD_MSG_PARAMS && msg.round < round) {
            // a re-sent PARAMS of an earlier round (the server re-sends while it waits)
        } else if (msg.type == BYZGD_MSG_PARAMS) {
            ASSERT_EQ_INT(msg.epoch, fake->epoch);
            ASSERT_EQ_INT(msg.round, round);
            fake->round = msg.round;
            byzgd_msg_tensor_copy(fake->params, msg.params.parameters, D);
            zframe_destroy(&frame);
            return;
        } else if (msg.type == BYZGD_MSG_BYE) {
            zframe_destroy(&frame);
            ASSERT_MSG(false, "BYE while waiting for PARAMS %" PRIu64, round);
        }
        zframe_destroy(&frame);
    }
}

static void
s_expect_bye(fake_t *fake, uint32_t code)
{
    while (true) {
        zframe_t *frame = NULL;
        byzgd_msg_t msg = s_recv(fake, &frame, 10000);
        zframe_destroy(&frame);
        if (msg.type == BYZGD_MSG_BYE) {
            ASSERT_EQ_INT(msg.bye.code, code);
            return;
        }
    }
}

static fake_t *
s_fake_new(byzgd_server_t *server)
{
    fake_t *fake = calloc(1, sizeof *fake);
    ASSERT(fake);
    fake->dealer = zsock_new(ZMQ_DEALER);
    ASSERT(fake->dealer);
    // A routing id of our own, not zero-prefixed (as real workers do).
    uint8_t id[16];
    for (size_t i = 0; i < sizeof id; i++)
        id[i] = (uint8_t)(1 + (rand() % 250));
    zmq_setsockopt(zsock_resolve(fake->dealer), ZMQ_ROUTING_ID, id, sizeof id);
    zsock_set_linger(fake->dealer, 0);
    ASSERT_EQ_INT(zsock_connect(fake->dealer, "%s", byzgd_server_endpoint(server)), 0);
    return fake;
}

static void
s_fake_hello(fake_t *fake)
{
    byzgd_msg_t hello = {.type = BYZGD_MSG_HELLO};
    snprintf(hello.hello.software, sizeof hello.hello.software, "test");
    s_send(fake, &hello);
}

// Waits for the CONFIG that answers HELLO and stores the session's epoch and slot.
static void
s_expect_config(fake_t *fake)
{
    while (true) {
        zframe_t *frame = NULL;
        byzgd_msg_t msg = s_recv(fake, &frame, 10000);
        zframe_destroy(&frame);
        if (msg.type == BYZGD_MSG_CONFIG) {
            fake->epoch = msg.epoch;
            fake->slot = msg.config.slot;
            ASSERT_EQ_INT(msg.config.dimension, D);
            return;
        }
    }
}

// Connects `count` fake workers, joins them all, then waits for each one's PARAMS of
// `round` (the first round starts once every expected worker has joined).
static void
s_fake_join_all(byzgd_server_t *server, fake_t **fakes, size_t count, uint64_t round)
{
    for (size_t i = 0; i < count; i++) {
        fakes[i] = s_fake_new(server);
        s_fake_hello(fakes[i]);
        s_expect_config(fakes[i]);
    }
    for (size_t i = 0; i < count; i++)
        s_expect_params(fakes[i], round);
}

static fake_t *
s_fake_join(byzgd_server_t *server, uint64_t round)
{
    fake_t *fake = NULL;
    s_fake_join_all(server, &fake, 1, round);
    return fake;
}

static void
s_fake_destroy(fake_t **fake_p)
{
    zsock_destroy(&(*fake_p)->dealer);
    free(*fake_p);
    *fake_p = NULL;
}

static void
s_propose(fake_t *fake, uint64_t round, const float *gradient, size_t d, double loss)
{
    byzgd_msg_t msg = {.type = BYZGD_MSG_PROPOSAL, .epoch = fake->epoch, .round = round};
    msg.proposal.train_loss = loss;
    msg.proposal.gradient = gradient;
    msg.proposal.dimension = d;
    s_send(fake, &msg);
}

static void
s_fill(float *vector, size_t d, float value)
{
    for (size_t j = 0; j < d; j++)
        vector[j] = value;
}

static byzgd_server_stats_t
s_stats(byzgd_server_t *server)
{
    byzgd_server_stats_t stats;
    ASSERT_EQ_INT(byzgd_server_stats(server, &stats), 0);
    return stats;
}

// Polls the server's counters until `done` rejections of `reason` are counted (or fails).
static byzgd_server_stats_t
s_wait_rejected(byzgd_server_t *server, byzgd_msg_reject_t reason, uint64_t count)
{
    int64_t end = zclock_mono() + 10000;
    while (true) {
        byzgd_server_stats_t stats = s_stats(server);
        if (stats.rejected[reason] >= count)
            return stats;
        ASSERT_MSG(zclock_mono() < end, "%s: %" PRIu64 " rejections counted, expected %" PRIu64,
                   byzgd_msg_reject_name(reason), stats.rejected[reason], count);
        zclock_sleep(5); // polling a counter, not synchronising on time
    }
}

// ---------------------------------------------------------------------------------------
// Rounds

TEST(round_completes_with_quorum_and_updates_parameters)
{
    byzgd_server_config_t config;
    s_config(&config, 3);
    byzgd_server_t *server = s_server(&config);
    fake_t *fakes[3];
    s_fake_join_all(server, fakes, 3, 1);
    ASSERT(fakes[0]->slot != fakes[1]->slot && fakes[1]->slot != fakes[2]->slot &&
           fakes[0]->slot != fakes[2]->slot);
    float x1[D];
    memcpy(x1, fakes[0]->params, sizeof x1);
    // Gradients 1, 2, 3 everywhere: the average is 2, so x2 = x1 − 0.5 · 2.
    for (int i = 0; i < 3; i++) {
        float gradient[D];
        s_fill(gradient, D, (float)(i + 1));
        s_propose(fakes[i], 1, gradient, D, 0.5 + i);
    }
    for (int i = 0; i < 3; i++)
        s_expect_params(fakes[i], 2);
    for (size_t j = 0; j < D; j++)
        ASSERT_NEAR(fakes[1]->params[j], x1[j] - 1.0f, 1e-5);
    byzgd_server_stats_t stats = s_stats(server);
    ASSERT_EQ_INT(stats.rounds_done, 1);
    ASSERT_EQ_INT(stats.accepted, 3);
    ASSERT_EQ_INT(stats.last_accepted, 3);
    ASSERT_NEAR(stats.last_train_loss, 1.5, 1e-9);
    ASSERT_EQ_INT(stats.joined, 3);
    float params[D];
    ASSERT_EQ_INT(byzgd_server_params(server, params), 0);
    ASSERT_EQ_INT(memcmp(params, fakes[2]->params, sizeof params), 0);
    for (int i = 0; i < 3; i++)
        s_fake_destroy(&fakes[i]);
    byzgd_server_destroy(&server);
}

// Waits until the server has accepted `count` proposals in total.
static void
s_wait_accepted(byzgd_server_t *server, uint64_t count)
{
    int64_t end = zclock_mono() + 10000;
    while (s_stats(server).accepted < count) {
        ASSERT_MSG(zclock_mono() < end, "fewer than %d proposals accepted", (int)count);
        zclock_sleep(2); // polling a counter
    }
}

TEST(krum_selection_is_reported_by_slot_and_lr_schedule_applies)
{
    char metrics[512];
    snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", byzgd_test_tmpdir());
    byzgd_server_config_t config;
    s_config(&config, 3);
    char error[256];
    ASSERT_EQ_INT(byzgd_gar_config_parse_option(&config.gar, "rule", "krum", error, sizeof error),
                  0);
    ASSERT_EQ_INT(
        byzgd_lr_schedule_parse(&config.learning_rate, "inv-sqrt", 0.5, error, sizeof error), 0);
    snprintf(config.metrics, sizeof config.metrics, "%s", metrics);
    config.rounds = 2;
    byzgd_server_t *server = s_server(&config);
    fake_t *fakes[3];
    s_fake_join_all(server, fakes, 3, 1);
    float x1[D], outlier[D], good[D];
    memcpy(x1, fakes[0]->params, sizeof x1);
    s_fill(outlier, D, 100.0f);
    s_fill(good, D, 1.0f);
    // Arrival order (outlier from worker 2 first) differs from the slot order: the rule
    // picks row 1 (the first of the two equal vectors), reported as worker 0's slot.
    s_propose(fakes[2], 1, outlier, D, 1);
    s_wait_accepted(server, 1);
    s_propose(fakes[0], 1, good, D, 1);
    s_wait_accepted(server, 2);
    s_propose(fakes[1], 1, good, D, 1);
    s_expect_params(fakes[0], 2);
    for (size_t j = 0; j < D; j++)
        ASSERT_NEAR(fakes[0]->params[j], x1[j] - 0.5f, 1e-5); // γ_1 = 0.5
    float x2[D];
    memcpy(x2, fakes[0]->params, sizeof x2);
    for (int i = 0; i < 3; i++)
        s_propose(fakes[i], 2, good, D, 1);
    ASSERT_EQ_INT(byzgd_server_wait(server, 10000), 0);
    float x3[D];
    ASSERT_EQ_INT(byzgd_server_params(server, x3), 0);
    for (size_t j = 0; j < D; j++)
        ASSERT_NEAR(x3[j], x2[j] - 0.5f / sqrtf(2.0f), 1e-5); // γ_2 = 0.5 / √2
    byzgd_server_destroy(&server);
    FILE *file = fopen(metrics, "r");
    ASSERT(file);
    char line[4096];
    ASSERT(fgets(line, sizeof line, file));
    char expected[64];
    snprintf(expected, sizeof expected, "\"selected\":[%u]", (unsigned)fakes[0]->slot);
    ASSERT_STR_CONTAINS(line, expected);
    ASSERT_STR_CONTAINS(line, "\"learning_rate\":0.5");
    fclose(file);
    for (int i = 0; i < 3; i++)
        s_fake_destroy(&fakes[i]);
}

TEST(hostile_proposals_are_rejected_and_counted_per_reason)
{
    byzgd_server_config_t config;
    s_config(&config, 2);
    config.byzantine_count = config.gar.f =
        1; // one slot's non-finite report is not yet a divergence
    byzgd_server_t *server = s_server(&config);
    fake_t *pair[2];
    s_fake_join_all(server, pair, 2, 1);
    fake_t *a = pair[0], *b = pair[1];
    float gradient[D + 1];
    s_fill(gradient, D + 1, 0.25f);
    // Round 1 completes, so that a stale round exists.
    s_propose(a, 1, gradient, D, 1);
    s_propose(a, 1, gradient, D, 1); // duplicate
    s_wait_rejected(server, BYZGD_MSG_REJECT_DUPLICATE, 1);
    s_propose(b, 1, gradient, D, 1);
    s_expect_params(a, 2);
    s_expect_params(b, 2);

    s_propose(a, 1, gradient, D, 1);     // stale
    s_propose(a, 3, gradient, D, 1);     // future
    s_propose(a, 2, gradient, D + 1, 1); // wrong dimension
    s_propose(a, 2, gradient, D - 1, 1); // wrong dimension
    gradient[5] = NAN;
    s_propose(a, 2, gradient, D, 1); // non-finite
    gradient[5] = 0.25f;
    uint64_t good_epoch = a->epoch;
    a->epoch = good_epoch + 1;
    s_propose(a, 2, gradient, D, 1); // another epoch
    a->epoch = good_epoch;
    const uint8_t garbage[] = {0xc1, 0xff, 0x00, 0x13, 0x37};
    zsock_send(a->dealer, "b", garbage, sizeof garbage);   // not msgpack
    const uint8_t bomb[] = {0xdd, 0xff, 0xff, 0xff, 0xff}; // array32 of 2^32-1 elements
    zsock_send(a->dealer, "b", bomb, sizeof bomb);
    zsock_send(a->dealer, "bb", garbage, sizeof garbage, garbage, sizeof garbage); // 2 frames
    fake_t *stranger = s_fake_new(server);
    stranger->epoch = a->epoch;
    s_propose(stranger, 2, gradient, D, 1); // never joined
    s_wait_rejected(server, BYZGD_MSG_REJECT_NOT_JOINED, 1);

    byzgd_server_stats_t stats = s_wait_rejected(server, BYZGD_MSG_REJECT_EXTRA_FRAMES, 1);
    ASSERT_EQ_INT(stats.rejected[BYZGD_MSG_REJECT_DUPLICATE], 1);
    ASSERT_EQ_INT(stats.rejected[BYZGD_MSG_REJECT_STALE_ROUND], 1);
    ASSERT_EQ_INT(stats.rejected[BYZGD_MSG_REJECT_FUTURE_ROUND], 1);
    ASSERT_EQ_INT(stats.rejected[BYZGD_MSG_REJECT_DIMENSION], 2);
    ASSERT_EQ_INT(stats.rejected[BYZGD_MSG_REJECT_NON_FINITE], 1);
    ASSERT_EQ_INT(stats.rejected[BYZGD_MSG_REJECT_EPOCH], 1);
    ASSERT_EQ_INT(stats.rejected[BYZGD_MSG_REJECT_MALFORMED], 1);
    ASSERT_EQ_INT(stats.rejected[BYZGD_MSG_REJECT_TRUNCATED], 1);
    ASSERT_EQ_INT(stats.rejected[BYZGD_MSG_REJECT_EXTRA_FRAMES], 1);
    ASSERT_EQ_INT(stats.rejected[BYZGD_MSG_REJECT_NOT_JOINED], 1);
    // None of it counted as a proposal: round 2 still needs both workers.
    ASSERT_EQ_INT(stats.rounds_done, 1);
    ASSERT_EQ_INT(stats.accepted, 2);
    // The stranger was told to join first.
    zframe_t *frame = NULL;
    byzgd_msg_t msg = s_recv(stranger, &frame, 10000);
    zframe_destroy(&frame);
    ASSERT_EQ_INT(msg.type, BYZGD_MSG_ERROR);
    ASSERT_EQ_INT(msg.error.code, BYZGD_MSG_ERROR_NOT_JOINED);
    // The honest proposals of round 2 still go through after all that.
    s_propose(a, 2, gradient, D, 1);
    s_propose(b, 2, gradient, D, 1);
    s_expect_params(a, 3);
    stats = s_stats(server);
    ASSERT_EQ_INT(stats.rounds_done, 2);
    ASSERT_EQ_INT(stats.accepted, 4);
    // A frame over ZMQ_MAXMSGSIZE never reaches the server: libzmq drops the connection,
    // which the server counts as a disconnect.
    fake_t *big = s_fake_new(server);
    size_t big_size = byzgd_security_max_frame_bytes(D) + 1;
    zframe_t *oversized = zframe_new(NULL, big_size);
    memset(zframe_data(oversized), 0x42, big_size);
    zframe_send(&oversized, big->dealer, 0);
    int64_t end = zclock_mono() + 10000;
    while (s_stats(server).disconnects < 1) {
        ASSERT_MSG(zclock_mono() < end, "the oversized frame was not noticed");
        zclock_sleep(5);
    }
    s_fake_destroy(&big);
    s_fake_destroy(&stranger);
    s_fake_destroy(&a);
    s_fake_destroy(&b);
    byzgd_server_destroy(&server);
}

TEST(deadline_closes_a_round_with_fewer_proposals)
{
    byzgd_server_config_t config;
    s_config(&config, 3);
    config.deadline_ms = 300;
    byzgd_server_t *server = s_server(&config);
    fake_t *fakes[3];
    s_fake_join_all(server, fakes, 3, 1);
    float gradient[D];
    s_fill(gradient, D, 1.0f);
    s_propose(fakes[0], 1, gradient, D, 1);
    s_propose(fakes[1], 1, gradient, D, 1);
    // The third stays silent: the deadline closes the round with two proposals.
    s_expect_params(fakes[0], 2);
    byzgd_server_stats_t stats = s_stats(server);
    ASSERT_EQ_INT(stats.rounds_done, 1);
    ASSERT_EQ_INT(stats.last_accepted, 2);
    ASSERT_EQ_INT(stats.deadline_rounds, 1);
    for (int i = 0; i < 3; i++)
        s_fake_destroy(&fakes[i]);
    byzgd_server_destroy(&server);
}

TEST(deadline_waits_while_the_rule_precondition_fails)
{
    byzgd_server_config_t config;
    s_config(&config, 5);
    char error[256];
    ASSERT_EQ_INT(byzgd_gar_config_parse_option(&config.gar, "rule", "krum", error, sizeof error),
                  0);
    config.byzantine_count = config.gar.f = 1;
    config.gar.f = 1; // krum needs n > 2f + 2 = 4 proposals
    config.deadline_ms = 200;
    config.max_wait_ms = 20000;
    byzgd_server_t *server = s_server(&config);
    fake_t *fakes[5];
    s_fake_join_all(server, fakes, 5, 1);
    float gradient[D];
    s_fill(gradient, D, 1.0f);
    for (int i = 0; i < 3; i++)
        s_propose(fakes[i], 1, gradient, D, 1);
    // Past the deadline with 3 proposals the server keeps waiting (and re-sends PARAMS to
    // the two silent workers).
    s_expect_params(fakes[3], 1);
    byzgd_server_stats_t stats = s_stats(server);
    ASSERT_EQ_INT(stats.waited_rounds, 1);
    ASSERT_EQ_INT(stats.rounds_done, 0);
    s_propose(fakes[3], 1, gradient, D, 1);
    s_propose(fakes[4], 1, gradient, D, 1);
    s_expect_params(fakes[4], 2);
    stats = s_stats(server);
    ASSERT_EQ_INT(stats.rounds_done, 1);
    ASSERT_EQ_INT(stats.last_accepted, 5);
    for (int i = 0; i < 5; i++)
        s_fake_destroy(&fakes[i]);
    byzgd_server_destroy(&server);
}

// Waits for an ERROR from the server (skipping other messages) and returns its code.
static uint32_t
s_expect_error(fake_t *fake)
{
    while (true) {
        zframe_t *frame = NULL;
        byzgd_msg_t msg = s_recv(fake, &frame, 10000);
        zframe_destroy(&frame);
        if (msg.type == BYZGD_MSG_ERROR)
            return msg.error.code;
    }
}

// PROTOCOL.md §3.2: a message admission drops for its rate gets ERROR(rate_limited), one
// from a banned identity ERROR(banned), each at most once per heartbeat interval.
TEST(rate_limited_and_banned_identities_are_told)
{
    byzgd_server_config_t config;
    s_config(&config, 2);
    byzgd_server_t *server = s_server(&config);
    fake_t *pair[2];
    s_fake_join_all(server, pair, 2, 1);
    fake_t *flood = pair[0];
    // 20000 heartbeats at once: the bucket holds 2000 and refills 1000 a second, the rest
    // are dropped (one strike each), and the 1000th strike bans the identity (security.h
    // defaults). 3200 used to be sent, which bans only if the server reads them all within
    // 0.2 s: under load it did not, and no ban came.
    byzgd_msg_t heartbeat = {.type = BYZGD_MSG_HEARTBEAT, .epoch = flood->epoch, .round = 1};
    for (int i = 0; i < 20000; i++)
        s_send(flood, &heartbeat);
    ASSERT_EQ_INT(s_expect_error(flood), BYZGD_MSG_ERROR_RATE_LIMITED);
    zclock_sleep(config.heartbeat_interval_ms + 100); // the limiter lets one ERROR through
    s_send(flood, &heartbeat);
    // A flood that outlasted an interval may have earned another rate_limited first.
    uint32_t code;
    while ((code = s_expect_error(flood)) == BYZGD_MSG_ERROR_RATE_LIMITED)
        ;
    ASSERT_EQ_INT(code, BYZGD_MSG_ERROR_BANNED);
    s_fake_destroy(&pair[0]);
    s_fake_destroy(&pair[1]);
    byzgd_server_destroy(&server);
}

TEST(gives_up_after_the_documented_wait)
{
    byzgd_server_config_t config;
    s_config(&config, 2);
    config.deadline_ms = 100;
    config.max_wait_ms = 200;
    byzgd_server_t *server = s_server(&config);
    fake_t *pair[2];
    s_fake_join_all(server, pair, 2, 1);
    fake_t *a = pair[0], *b = pair[1];
    // Nobody proposes: average needs one proposal, so after deadline + max wait it stops.
    ASSERT_EQ_INT(byzgd_server_wait(server, 10000), 1);
    // A failed run is not done: BYE(shutdown), so that workers (and --join) can tell.
    s_expect_bye(a, BYZGD_MSG_BYE_SHUTDOWN);
    s_fake_destroy(&a);
    s_fake_destroy(&b);
    byzgd_server_destroy(&server);
}

TEST(run_ends_with_bye_metrics_and_checkpoint_then_resumes)
{
    char metrics[512], checkpoint[512];
    snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", byzgd_test_tmpdir());
    snprintf(checkpoint, sizeof checkpoint, "%s/server.ckpt", byzgd_test_tmpdir());
    byzgd_server_config_t config;
    s_config(&config, 2);
    config.rounds = 3;
    config.eval_every = 2;
    snprintf(config.metrics, sizeof config.metrics, "%s", metrics);
    snprintf(config.checkpoint, sizeof config.checkpoint, "%s", checkpoint);
    config.checkpoint_every = 1;
    byzgd_server_t *server = s_server(&config);
    fake_t *pair[2];
    s_fake_join_all(server, pair, 2, 1);
    fake_t *a = pair[0], *b = pair[1];
    float gradient[D];
    s_fill(gradient, D, 0.1f);
    for (uint64_t round = 1; round <= 3; round++) {
        s_propose(a, round, gradient, D, 0.7);
        s_propose(b, round, gradient, D, 0.9);
        if (round < 3) {
            s_expect_params(a, round + 1);
            s_expect_params(b, round + 1);
        }
    }
    ASSERT_EQ_INT(byzgd_server_wait(server, 20000), 0);
    s_expect_bye(a, BYZGD_MSG_BYE_DONE);
    float final_params[D];
    ASSERT_EQ_INT(byzgd_server_params(server, final_params), 0);
    byzgd_server_destroy(&server);

    // metrics: one line per round, evaluations on rounds 2 and 3 (the last).
    FILE *file = fopen(metrics, "r");
    ASSERT(file);
    char line[4096];
    int lines = 0;
    while (fgets(line, sizeof line, file)) {
        lines++;
        char expected[32];
        snprintf(expected, sizeof expected, "{\"round\":%d,", lines);
        ASSERT_MSG(strncmp(line, expected, strlen(expected)) == 0, "line %d: %s", lines, line);
        ASSERT_STR_CONTAINS(line, "\"accepted\":2");
        ASSERT_STR_CONTAINS(line, "\"train_loss\":0.7"); // lower median of 0.7 and 0.9
        ASSERT_STR_CONTAINS(line, "\"collect_s\":");
        if (lines >= 2)
            ASSERT_STR_CONTAINS(line, "\"test_accuracy\":");
        else
            ASSERT(!strstr(line, "test_accuracy"));
    }
    fclose(file);
    ASSERT_EQ_INT(lines, 3);

    // The checkpoint holds round 3 and the final parameters; resuming a finished run is
    // refused, resuming with more rounds continues at round 4.
    config.resume = true;
    char error[512];
    ASSERT(!byzgd_server_new(&config, error, sizeof error));
    ASSERT_STR_CONTAINS(error, "rounds done");
    config.rounds = 5;
    config.quorum = 1;
    config.deadline_ms = 300; // one of the two workers comes back: start without the other
    server = s_server(&config);
    fake_t *c = s_fake_join(server, 4);
    ASSERT_EQ_INT(memcmp(c->params, final_params, sizeof final_params), 0);
    byzgd_server_stop(server);
    byzgd_server_destroy(&server);
    s_fake_destroy(&c);
    s_fake_destroy(&a);
    s_fake_destroy(&b);
}

TEST(stop_sends_bye_shutdown_and_writes_a_checkpoint)
{
    char checkpoint[512];
    snprintf(checkpoint, sizeof checkpoint, "%s/stop.ckpt", byzgd_test_tmpdir());
    byzgd_server_config_t config;
    s_config(&config, 1);
    snprintf(config.checkpoint, sizeof config.checkpoint, "%s", checkpoint);
    byzgd_server_t *server = s_server(&config);
    fake_t *a = s_fake_join(server, 1);
    float gradient[D];
    s_fill(gradient, D, 1.0f);
    s_propose(a, 1, gradient, D, 1);
    s_expect_params(a, 2);
    byzgd_server_stop(server);
    ASSERT_EQ_INT(byzgd_server_wait(server, 0), 0);
    s_expect_bye(a, BYZGD_MSG_BYE_SHUTDOWN);
    byzgd_server_destroy(&server);
    byzgd_model_spec_t spec = {
        .architecture = "logreg", .channels = 1, .height = 1, .width = 20, .class_count = 2};
    char error[512];
    byzgd_model_t *model = byzgd_model_new(&spec, 1, error, sizeof error);
    ASSERT_MSG(model, "%s", error);
    byzgd_checkpoint_info_t info = {.seed = config.seed,
                                    .description = byzgd_model_description(model)};
    float params[D];
    uint64_t round = 0;
    ASSERT_MSG(
        byzgd_checkpoint_load(checkpoint, &info, params, D, &round, NULL, error, sizeof error) == 0,
        "%s", error);
    ASSERT_EQ_INT(round, 1); // one round done when the stop came
    ASSERT_EQ_INT(memcmp(params, a->params, sizeof params), 0);
    byzgd_model_destroy(&model);
    s_fake_destroy(&a);
}

TEST(server_full_and_rejoin_keep_slots)
{
    byzgd_server_config_t config;
    s_config(&config, 1);
    config.heartbeat_interval_ms = 2000; // HELLOs closer than 1 s are refused
    byzgd_server_t *server = s_server(&config);
    fake_t *a = s_fake_join(server, 1);
    uint32_t slot = a->slot;
    // A second identity finds no free slot (the first is alive).
    fake_t *b = s_fake_new(server);
    s_fake_hello(b);
    zframe_t *frame = NULL;
    byzgd_msg_t msg = s_recv(b, &frame, 10000);
    zframe_destroy(&frame);
    ASSERT_EQ_INT(msg.type, BYZGD_MSG_ERROR);
    ASSERT_EQ_INT(msg.error.code, BYZGD_MSG_ERROR_SERVER_FULL);
    // A HELLO right after the last one costs the server a PARAMS send: refused, counted.
    s_fake_hello(a);
    s_wait_rejected(server, BYZGD_MSG_REJECT_RATE_LIMITED, 1);
    // Half a heartbeat interval later the worker may say HELLO again (it restarted): same
    // slot, CONFIG and PARAMS again.
    zclock_sleep(config.heartbeat_interval_ms / 2 + 10); // the rule is about elapsed time
    s_fake_hello(a);
    s_expect_params(a, 1);
    ASSERT_EQ_INT(a->slot, slot);
    ASSERT_EQ_INT(s_stats(server).joined, 1);
    s_fake_destroy(&a);
    s_fake_destroy(&b);
    byzgd_server_destroy(&server);
}

// ---------------------------------------------------------------------------------------
// Configuration, metrics, checkpoints

static int
s_parse(byzgd_server_config_t *config, const char *line, char *error, size_t error_size)
{
    char copy[1024];
    snprintf(copy, sizeof copy, "byzgd-server %s", line);
    char *argv[64];
    int argc = 0;
    for (char *token = strtok(copy, " "); token && argc < 63; token = strtok(NULL, " "))
        argv[argc++] = token;
    argv[argc] = NULL;
    byzgd_server_config_init(config);
    return byzgd_server_config_parse(config, argc, argv, error, error_size);
}

TEST(config_parses_the_agreed_flags)
{
    byzgd_server_config_t config;
    char error[512] = "";
    int status = s_parse(&config,
                         "--endpoint tcp://127.0.0.1:* --workers 20 -f 6 --rule multi-krum -m 10 "
                         "--model mlp --hidden 32,16 --dataset fashion-mnist --batch 16 --lr 0.05 "
                         "--lr-schedule step:100:0.5 --rounds 150 --seed 7 --quorum 18 "
                         "--deadline-ms 5000 --eval-every 5 --metrics m.jsonl --checkpoint c.bin "
                         "--checkpoint-every 10 --insecure --quiet --nnm --alpha 0.5",
                         error, sizeof error);
    ASSERT_MSG(status == 0, "%s", error);
    ASSERT_EQ_INT(config.worker_count, 20);
    ASSERT_EQ_INT(config.byzantine_count, 6);
    ASSERT_EQ_INT(config.gar.rule, BYZGD_GAR_MULTI_KRUM);
    ASSERT_EQ_INT(config.gar.m, 10);
    ASSERT_EQ_INT(config.gar.f, 6);
    ASSERT_EQ_INT(config.gar.seed, 7);
    ASSERT(config.gar.nnm);
    ASSERT_EQ_INT(config.hidden[0], 32);
    ASSERT_EQ_INT(config.hidden[1], 16);
    ASSERT_EQ_INT(config.quorum, 18);
    ASSERT_EQ_INT(config.learning_rate.kind, BYZGD_LR_STEP);
    ASSERT_NEAR(config.learning_rate.initial, 0.05, 1e-12);
    ASSERT_NEAR(config.dirichlet_alpha, 0.5, 1e-12);
    ASSERT_STR_EQ(config.metrics, "m.jsonl");
    ASSERT(config.insecure && config.quiet);
}

TEST(config_refuses_bad_combinations)
{
    byzgd_server_config_t config;
    char error[512] = "";
    ASSERT_EQ_INT(s_parse(&config, "--workers 5 -f 5 --insecure", error, sizeof error), -1);
    ASSERT_STR_CONTAINS(error, "-f");
    ASSERT_EQ_INT(s_parse(&config, "--workers 5 --quorum 6 --insecure", error, sizeof error), -1);
    ASSERT_EQ_INT(s_parse(&config, "--workers 6 -f 2 --rule krum --insecure", error, sizeof error),
                  -1);
    ASSERT_STR_CONTAINS(error, "krum");
    ASSERT_EQ_INT(s_parse(&config, "--workers 3 --bogus 1 --insecure", error, sizeof error), -1);
    ASSERT_EQ_INT(s_parse(&config, "--workers 3 --batch 0 --insecure", error, sizeof error), -1);
    ASSERT_EQ_INT(s_parse(&config, "--workers 3 --resume --insecure", error, sizeof error), -1);
    ASSERT_EQ_INT(s_parse(&config, "--workers 3", error, sizeof error), -1);
    ASSERT_STR_CONTAINS(error, "--insecure");
    ASSERT_EQ_INT(s_parse(&config, "--workers", error, sizeof error), -1);
}

TEST(metrics_lines_wait_for_their_evaluation)
{
    byzgd_metrics_t *metrics = byzgd_metrics_new(NULL, false, NULL, 0);
    byzgd_round_record_t record = {.round = 1, .accepted = 3, .train_loss = 0.5};
    record.rejected[BYZGD_MSG_REJECT_DUPLICATE] = 2;
    size_t selected[] = {2, 0};
    record.selected = selected;
    record.selected_count = 2;
    ASSERT_EQ_INT(byzgd_metrics_add(metrics, &record, false), 0);
    ASSERT_STR_CONTAINS(byzgd_metrics_last_line(metrics), "\"round\":1,");
    ASSERT_STR_CONTAINS(byzgd_metrics_last_line(metrics), "\"rejected\":2");
    ASSERT_STR_CONTAINS(byzgd_metrics_last_line(metrics), "\"duplicate\":2");
    ASSERT_STR_CONTAINS(byzgd_metrics_last_line(metrics), "\"selected\":[2,0]");
    record.round = 2;
    ASSERT_EQ_INT(byzgd_metrics_add(metrics, &record, true), 0);
    record.round = 3;
    record.selected = NULL;
    ASSERT_EQ_INT(byzgd_metrics_add(metrics, &record, false), 0);
    // Round 2 waits for its evaluation, and round 3 behind it.
    ASSERT_STR_CONTAINS(byzgd_metrics_last_line(metrics), "\"round\":1,");
    ASSERT_EQ_INT(byzgd_metrics_pending(metrics), 1);
    ASSERT_EQ_INT(byzgd_metrics_set_evaluation(metrics, 2, 0.25, 0.875), 0);
    ASSERT_EQ_INT(byzgd_metrics_pending(metrics), 0);
    ASSERT_STR_CONTAINS(byzgd_metrics_last_line(metrics), "\"round\":3,");
    ASSERT(!strstr(byzgd_metrics_last_line(metrics), "selected"));
    byzgd_metrics_destroy(&metrics);
    ASSERT(!metrics);
}

TEST(checkpoint_round_trip_and_refusals)
{
    char path[512];
    snprintf(path, sizeof path, "%s/ckpt", byzgd_test_tmpdir());
    float params[100], loaded[100];
    for (int j = 0; j < 100; j++)
        params[j] = (float)j * 0.5f - 3.0f;
    byzgd_checkpoint_info_t info = {
        .round = 17, .seed = 5, .description = "mlp test", .elapsed_s = 123.25};
    char error[512];
    ASSERT_EQ_INT(byzgd_checkpoint_save(path, &info, params, 100, error, sizeof error), 0);
    uint64_t round = 0;
    double elapsed_s = 0;
    ASSERT_EQ_INT(
        byzgd_checkpoint_load(path, &info, loaded, 100, &round, &elapsed_s, error, sizeof error),
        0);
    ASSERT_EQ_INT(round, 17);
    ASSERT(elapsed_s == 123.25); // a resumed run's elapsed_s continues from here
    ASSERT_EQ_INT(memcmp(params, loaded, sizeof params), 0);
    ASSERT_EQ_INT(byzgd_checkpoint_load(path, &info, loaded, 99, &round, NULL, error, sizeof error),
                  -1);
    ASSERT_STR_CONTAINS(error, "d =");
    byzgd_checkpoint_info_t other = info;
    other.description = "convnet test";
    ASSERT_EQ_INT(
        byzgd_checkpoint_load(path, &other, loaded, 100, &round, NULL, error, sizeof error), -1);
    other = info;
    other.seed = 6;
    ASSERT_EQ_INT(
        byzgd_checkpoint_load(path, &other, loaded, 100, &round, NULL, error, sizeof error), -1);
    // Flip one parameter byte: the checksum catches it.
    FILE *file = fopen(path, "r+b");
    ASSERT(file);
    fseek(file, -3, SEEK_END);
    fputc(0x5a, file);
    fclose(file);
    ASSERT_EQ_INT(
        byzgd_checkpoint_load(path, &info, loaded, 100, &round, NULL, error, sizeof error), -1);
    ASSERT_STR_CONTAINS(error, "checksum");
    ASSERT_EQ_INT(memcmp(params, loaded, sizeof params), 0);
    // Truncated.
    ASSERT_EQ_INT(truncate(path, 30), 0);
    ASSERT_EQ_INT(
        byzgd_checkpoint_load(path, &info, loaded, 100, &round, NULL, error, sizeof error), -1);
}

// Regression: a resume after a kill -9 wrote the rounds past the checkpoint a second time.
TEST(metrics_truncate_after_drops_later_and_torn_lines)
{
    char path[512], error[512];
    snprintf(path, sizeof path, "%s/metrics.jsonl", byzgd_test_tmpdir());
    ASSERT_EQ_INT(byzgd_metrics_truncate_after(path, 3, error, sizeof error), 0); // missing: fine
    FILE *file = fopen(path, "w");
    ASSERT(file);
    fputs("{\"round\":1,\"x\":1}\n{\"round\":2,\"x\":2}\n{\"round\":3,\"x\":3}\n"
          "{\"round\":4,\"x\":4}\n{\"round\":5,\"x",
          file);
    fclose(file);
    ASSERT_EQ_INT(byzgd_metrics_truncate_after(path, 3, error, sizeof error), 0);
    char text[256] = "";
    file = fopen(path, "r");
    ASSERT(file);
    size_t size = fread(text, 1, sizeof text - 1, file);
    fclose(file);
    text[size] = '\0';
    ASSERT_STR_EQ(text, "{\"round\":1,\"x\":1}\n{\"round\":2,\"x\":2}\n{\"round\":3,\"x\":3}\n");
    // A torn line before the checkpoint's round ends the kept part too.
    file = fopen(path, "a");
    fputs("{\"round\":4", file);
    fclose(file);
    ASSERT_EQ_INT(byzgd_metrics_truncate_after(path, 9, error, sizeof error), 0);
    struct stat info;
    ASSERT_EQ_INT(stat(path, &info), 0);
    ASSERT_EQ_INT(info.st_size, 3 * 18);
}

// ---------------------------------------------------------------------------------------
// Worker actors against the real server

static byzgd_worker_t *
s_worker(byzgd_server_t *server, const byzgd_worker_hooks_t *hooks)
{
    byzgd_worker_config_t config;
    byzgd_worker_config_init(&config);
    snprintf(config.endpoint, sizeof config.endpoint, "%s", byzgd_server_endpoint(server));
    config.insecure = true;
    config.hello_interval_ms = 100;
    config.give_up_ms = 30000;
    if (hooks) {
        config.hooks = *hooks;
        config.data = BYZGD_WORKER_DATA_FULL;
    }
    char error[512];
    byzgd_worker_t *worker = byzgd_worker_new(&config, error, sizeof error);
    ASSERT_MSG(worker, "%s", error);
    return worker;
}

// A fake server: receives one message from the worker, returns its type and routing id.
static byzgd_msg_type_t
s_fake_server_recv(zsock_t *router, zframe_t **routing_out)
{
    zmsg_t *message = zmsg_recv(router);
    ASSERT(message && zmsg_size(message) == 2);
    *routing_out = zmsg_pop(message);
    zframe_t *body = zmsg_first(message);
    byzgd_msg_t msg;
    ASSERT_EQ_INT(
        byzgd_msg_decode(&msg, zframe_data(body), zframe_size(body), BYZGD_MSG_FROM_WORKER, 0),
        BYZGD_MSG_OK);
    zmsg_destroy(&message);
    return msg.type;
}

static void
s_fake_server_error(zsock_t *router, zframe_t *routing, uint32_t code)
{
    byzgd_msg_t msg = {.type = BYZGD_MSG_ERROR, .epoch = 7, .round = 0};
    msg.error.code = code;
    snprintf(msg.error.text, sizeof msg.error.text, "%s", byzgd_msg_error_code_name(code));
    size_t size = 0;
    char error[256];
    void *data = byzgd_msg_encode_new(&msg, &size, error, sizeof error);
    ASSERT(data);
    zframe_send(&routing, router, ZFRAME_MORE | ZFRAME_REUSE);
    zframe_t *body = zframe_new(data, size);
    zframe_send(&body, router, 0);
    free(data);
}

// PROTOCOL.md §3.2: ERROR(rate_limited) silences the worker for one heartbeat interval (the
// back-off path, unreachable while the server never sent the code); ERROR(banned) ends it.
TEST(worker_backs_off_on_rate_limited_and_exits_on_banned)
{
    zsock_t *router = zsock_new(ZMQ_ROUTER);
    ASSERT(router);
    int port = zsock_bind(router, "tcp://127.0.0.1:*");
    ASSERT(port > 0);
    zsock_set_rcvtimeo(router, 20000);
    byzgd_worker_config_t config;
    byzgd_worker_config_init(&config);
    snprintf(config.endpoint, sizeof config.endpoint, "tcp://127.0.0.1:%d", port);
    config.insecure = true;
    config.hello_interval_ms = 1000; // before CONFIG, also the back-off interval
    config.give_up_ms = 30000;
    char error[512];
    byzgd_worker_t *worker = byzgd_worker_new(&config, error, sizeof error);
    ASSERT_MSG(worker, "%s", error);
    zframe_t *routing = NULL;
    ASSERT_EQ_INT(s_fake_server_recv(router, &routing), BYZGD_MSG_HELLO);
    int64_t first = zclock_mono();
    zclock_sleep(500);
    s_fake_server_error(router, routing, BYZGD_MSG_ERROR_RATE_LIMITED);
    int64_t limited = zclock_mono();
    zframe_destroy(&routing);
    // Without the back-off the next HELLO would come 1000 ms after the first (500 after
    // the ERROR); with it, one interval after the ERROR. The worker has 500 ms to read the
    // ERROR before its HELLO timer fires (with 300 / 200 ms it had 100, and under load the
    // HELLO went out first).
    ASSERT_EQ_INT(s_fake_server_recv(router, &routing), BYZGD_MSG_HELLO);
    int64_t second = zclock_mono();
    ASSERT_MSG(second - limited >= 800, "HELLO %lld ms after the ERROR, %lld after the first",
               (long long)(second - limited), (long long)(second - first));
    byzgd_worker_stats_t stats;
    ASSERT_EQ_INT(byzgd_worker_stats(worker, &stats), 0);
    ASSERT_EQ_INT(stats.backoffs, 1);
    ASSERT_EQ_INT(byzgd_worker_wait(worker, 0), -1); // still running
    s_fake_server_error(router, routing, BYZGD_MSG_ERROR_BANNED);
    zframe_destroy(&routing);
    ASSERT_EQ_INT(byzgd_worker_wait(worker, 10000), 1);
    byzgd_worker_destroy(&worker);
    zsock_destroy(&router);
}

TEST(workers_train_and_stop_on_bye)
{
    byzgd_server_config_t config;
    s_config(&config, 3);
    config.rounds = 5;
    config.eval_every = 5;
    byzgd_server_t *server = s_server(&config);
    byzgd_worker_t *workers[3];
    for (int i = 0; i < 3; i++)
        workers[i] = s_worker(server, NULL);
    ASSERT_EQ_INT(byzgd_server_wait(server, 30000), 0);
    byzgd_server_stats_t stats = s_stats(server);
    ASSERT_EQ_INT(stats.rounds_done, 5);
    ASSERT_EQ_INT(stats.accepted, 15);
    ASSERT(isfinite(stats.last_train_loss) && stats.last_train_loss > 0);
    // Told BYE, the workers wait for the server to close its connection, then end.
    byzgd_server_destroy(&server);
    for (int i = 0; i < 3; i++) {
        ASSERT_EQ_INT(byzgd_worker_wait(workers[i], 10000), 0);
        byzgd_worker_stats_t worker_stats;
        ASSERT_EQ_INT(byzgd_worker_stats(workers[i], &worker_stats), 0);
        ASSERT_EQ_INT(worker_stats.last_round, 5);
        ASSERT(worker_stats.proposals_sent >= 5);
        byzgd_worker_destroy(&workers[i]);
    }
}

// Runs 2 honest workers and one Byzantine worker for 4 rounds (q = n = 3) and checks that the
// run completes and that the server counted at least one rejection for one of `reasons`
// (BYZGD_MSG_OK-terminated; an empty list: any reason).
TEST(secure_workers_train_with_curve_identities)
{
    char keys[512], cert[1024], server_cert[1024], error[512];
    snprintf(keys, sizeof keys, "%s/keys", byzgd_test_tmpdir());
    ASSERT_MSG(byzgd_keys_generate(keys, 2, false, error, sizeof error) == 0, "%s", error);
    byzgd_server_config_t config;
    s_config(&config, 2);
    config.insecure = false;
    snprintf(config.keys_dir, sizeof config.keys_dir, "%s", keys);
    config.rounds = 3;
    byzgd_server_t *server = s_server(&config);
    byzgd_worker_t *workers[2];
    for (size_t i = 0; i < 2; i++) {
        byzgd_worker_config_t worker_config;
        byzgd_worker_config_init(&worker_config);
        snprintf(worker_config.endpoint, sizeof worker_config.endpoint, "%s",
                 byzgd_server_endpoint(server));
        // Key worker-001 starts first: slots follow the keys, not the order of joining.
        ASSERT_EQ_INT(byzgd_keys_worker_cert_path(cert, sizeof cert, keys, 1 - i), 0);
        snprintf(server_cert, sizeof server_cert, "%s/%s", keys, BYZGD_KEYS_SERVER_CERT);
        snprintf(worker_config.cert, sizeof worker_config.cert, "%s", cert);
        snprintf(worker_config.server_cert, sizeof worker_config.server_cert, "%s", server_cert);
        worker_config.hello_interval_ms = 100;
        workers[i] = byzgd_worker_new(&worker_config, error, sizeof error);
        ASSERT_MSG(workers[i], "%s", error);
    }
    ASSERT_EQ_INT(byzgd_server_wait(server, 30000), 0);
    byzgd_server_stats_t stats = s_stats(server);
    ASSERT_EQ_INT(stats.rounds_done, 3);
    ASSERT_EQ_INT(stats.accepted, 6);
    ASSERT_EQ_INT(stats.rejected[BYZGD_MSG_REJECT_UNAUTHENTICATED], 0);
    // An anonymous plaintext peer never gets a message through.
    fake_t *intruder = s_fake_new(server);
    s_fake_hello(intruder);
    zsock_set_rcvtimeo(intruder->dealer, 300);
    zframe_t *frame = zframe_recv(intruder->dealer);
    ASSERT(!frame);
    s_fake_destroy(&intruder);
    for (int i = 0; i < 2; i++) {
        byzgd_worker_stats_t worker_stats;
        ASSERT_EQ_INT(byzgd_worker_stats(workers[i], &worker_stats), 0);
        ASSERT_EQ_INT(worker_stats.slot, 1 - i);
    }
    byzgd_server_destroy(&server);
    for (int i = 0; i < 2; i++) {
        ASSERT_EQ_INT(byzgd_worker_wait(workers[i], 10000), 0);
        byzgd_worker_destroy(&workers[i]);
    }
}

TEST(worker_survives_a_server_restart)
{
    char checkpoint[512];
    snprintf(checkpoint, sizeof checkpoint, "%s/restart.ckpt", byzgd_test_tmpdir());
    byzgd_server_config_t config;
    s_config(&config, 1);
    config.rounds = 1000000;
    config.heartbeat_interval_ms = 100;
    config.heartbeat_timeout_ms = 1000;
    snprintf(config.checkpoint, sizeof config.checkpoint, "%s", checkpoint);
    // The second server binds the very endpoint of the first. An ipc endpoint in the case's
    // own directory: a tcp port freed by the first server may meanwhile be taken as the
    // local port of some other connection on this machine, and the rebind would fail.
    snprintf(config.endpoint, sizeof config.endpoint, "ipc://%s/server.ipc", byzgd_test_tmpdir());
    byzgd_server_t *server = s_server(&config);
    uint64_t first_epoch = byzgd_server_epoch(server);
    byzgd_worker_t *worker = s_worker(server, NULL);
    while (s_stats(server).rounds_done < 3)
        zclock_sleep(10);          // polling a counter
    byzgd_server_destroy(&server); // killed: no BYE, the worker keeps running
    config.rounds = 1000000;
    config.resume = false;
    server = s_server(&config);
    ASSERT(byzgd_server_epoch(server) != first_epoch);
    int64_t end = zclock_mono() + 20000;
    while (s_stats(server).rounds_done < 3) {
        ASSERT_MSG(zclock_mono() < end, "the worker did not come back to the new server");
        zclock_sleep(10);
    }
    byzgd_worker_stats_t stats;
    ASSERT_EQ_INT(byzgd_worker_stats(worker, &stats), 0);
    ASSERT_EQ_INT(stats.epochs, 2);
    // Nothing written for the first server was accepted by the second.
    byzgd_server_stats_t server_stats = s_stats(server);
    ASSERT_EQ_INT(server_stats.rejected[BYZGD_MSG_REJECT_EPOCH], 0);
    ASSERT_EQ_INT(server_stats.accepted, server_stats.rounds_done);
    byzgd_server_stop(server);
    ASSERT_EQ_INT(byzgd_worker_wait(worker, 10000), BYZGD_WORKER_EXIT_STOPPED); // BYE(shutdown)
    byzgd_worker_destroy(&worker);
    byzgd_server_destroy(&server);
}

static int
s_slow_propose(void *state, byzgd_worker_context_t *context, float *proposal_out, double *loss_out)
{
    (void)state;
    zclock_sleep(200); // a slow model: the server's next PARAMS queue up meanwhile
    *loss_out = byzgd_worker_context_gradient(context, proposal_out, NULL, false, false);
    return 0;
}

TEST(worker_skips_to_the_newest_queued_params)
{
    // A scripted server: CONFIG and four PARAMS back to back.
    zsock_t *router = zsock_new(ZMQ_ROUTER);
    ASSERT(router);
    int port = zsock_bind(router, "tcp://127.0.0.1:*");
    ASSERT(port > 0);
    byzgd_worker_config_t config;
    byzgd_worker_config_init(&config);
    snprintf(config.endpoint, sizeof config.endpoint, "tcp://127.0.0.1:%d", port);
    config.insecure = true;
    config.hooks.propose = s_slow_propose;
    char error[512];
    byzgd_worker_t *worker = byzgd_worker_new(&config, error, sizeof error);
    ASSERT_MSG(worker, "%s", error);
    zsock_set_rcvtimeo(router, 10000);
    zmsg_t *hello = zmsg_recv(router);
    ASSERT(hello);
    zframe_t *routing_id = zmsg_pop(hello);
    zmsg_destroy(&hello);
    const uint64_t epoch = 77;
    byzgd_msg_t msg = {.type = BYZGD_MSG_CONFIG, .epoch = epoch, .round = 1};
    msg.config = s_logreg_session("synthetic", 1, 0);
    msg.config.batch_size = 4;
    msg.config.heartbeat_interval_ms = 1000;
    msg.config.heartbeat_timeout_ms = 10000;
    float params[D] = {0};
    for (uint64_t round = 0; round <= 4; round++) {
        if (round > 0) {
            msg = (byzgd_msg_t){.type = BYZGD_MSG_PARAMS, .epoch = epoch, .round = round};
            msg.params.parameters = params;
            msg.params.dimension = D;
        }
        size_t size = 0;
        void *buffer = byzgd_msg_encode_new(&msg, &size, error, sizeof error);
        ASSERT_MSG(buffer, "%s", error);
        zframe_t *address = zframe_dup(routing_id);
        zframe_send(&address, router, ZFRAME_MORE);
        zframe_t *body = zframe_new(buffer, size);
        free(buffer);
        zframe_send(&body, router, 0);
    }
    // Proposals come back for at most two rounds, the last one for round 4.
    uint64_t last = 0;
    int proposals = 0;
    while (last != 4) {
        zmsg_t *reply = zmsg_recv(router);
        ASSERT_MSG(reply, "no proposal for round 4 (last %d)", (int)last);
        zframe_t *body = zmsg_last(reply);
        byzgd_msg_t decoded;
        ASSERT_EQ_INT(byzgd_msg_decode(&decoded, zframe_data(body), zframe_size(body),
                                       BYZGD_MSG_FROM_WORKER, D),
                      BYZGD_MSG_OK);
        if (decoded.type == BYZGD_MSG_PROPOSAL) {
            ASSERT(decoded.round > last);
            last = decoded.round;
            proposals++;
        }
        zmsg_destroy(&reply);
    }
    ASSERT(proposals <= 2);
    byzgd_worker_stats_t stats;
    ASSERT_EQ_INT(byzgd_worker_stats(worker, &stats), 0);
    ASSERT_EQ_INT(stats.skipped, 4 - proposals);
    byzgd_worker_destroy(&worker);
    zframe_destroy(&routing_id);
    zsock_destroy(&router);
}

static void
s_byzantine_run(const char *attack_name, const char *misbehaviour,
                const byzgd_msg_reject_t *reasons)
{
    byzgd_server_config_t config;
    s_config(&config, 3);
    config.rounds = 4;
    config.deadline_ms = 300; // q = n: a round waits for the Byzantine worker or the deadline
    config.byzantine_count = config.gar.f = 1;
    config.gar.f = 1;
    byzgd_server_t *server = s_server(&config);
    byzgd_attack_config_t attack;
    byzgd_attack_config_init(&attack);
    char error[512];
    ASSERT_EQ_INT(
        byzgd_attack_config_parse_option(&attack, "attack", attack_name, error, sizeof error), 0);
    if (misbehaviour)
        ASSERT_EQ_INT(byzgd_attack_config_parse_option(&attack, "misbehave", misbehaviour, error,
                                                       sizeof error),
                      0);
    byzgd_worker_hooks_t hooks;
    ASSERT_EQ_INT(byzgd_byzantine_hooks(&hooks, &attack, NULL, error, sizeof error), 0);
    byzgd_worker_t *honest[2] = {s_worker(server, NULL), s_worker(server, NULL)};
    byzgd_worker_t *byzantine = s_worker(server, &hooks);
    ASSERT_EQ_INT(byzgd_server_wait(server, 30000), 0);
    byzgd_server_stats_t stats = s_stats(server);
    ASSERT_EQ_INT(stats.rounds_done, 4);
    uint64_t counted = 0;
    if (reasons[0] == BYZGD_MSG_OK)
        for (int r = 1; r < BYZGD_MSG_REJECT_COUNT; r++)
            counted += stats.rejected[r];
    for (size_t i = 0; reasons[i] != BYZGD_MSG_OK; i++)
        counted += stats.rejected[reasons[i]];
    ASSERT_MSG(counted >= 1, "%s: no rejection of the expected kind counted",
               misbehaviour ? misbehaviour : attack_name);
    byzgd_server_destroy(&server);
    for (int i = 0; i < 2; i++) {
        ASSERT_EQ_INT(byzgd_worker_wait(honest[i], 10000), 0);
        byzgd_worker_destroy(&honest[i]);
    }
    byzgd_worker_wait(byzantine, 10000);
    byzgd_worker_destroy(&byzantine);
}

TEST(byzantine_nan_vectors_are_rejected_as_non_finite)
{
    const byzgd_msg_reject_t reasons[] = {BYZGD_MSG_REJECT_NON_FINITE, BYZGD_MSG_OK};
    s_byzantine_run("nan", NULL, reasons);
}

TEST(byzantine_duplicates_are_rejected)
{
    // The second copy is a duplicate, or stale when the first copy closed the round.
    const byzgd_msg_reject_t reasons[] = {BYZGD_MSG_REJECT_DUPLICATE, BYZGD_MSG_REJECT_STALE_ROUND,
                                          BYZGD_MSG_OK};
    s_byzantine_run("signflip", "duplicate", reasons);
}

TEST(byzantine_wrong_dimension_is_rejected)
{
    const byzgd_msg_reject_t reasons[] = {BYZGD_MSG_REJECT_DIMENSION, BYZGD_MSG_OK};
    s_byzantine_run("gaussian", "wrong-dimension", reasons);
}

TEST(byzantine_garbage_is_rejected)
{
    const byzgd_msg_reject_t any[] = {BYZGD_MSG_OK};
    s_byzantine_run("zero", "garbage", any);
}

TEST(byzantine_stale_rounds_are_rejected)
{
    const byzgd_msg_reject_t reasons[] = {BYZGD_MSG_REJECT_STALE_ROUND, BYZGD_MSG_OK};
    s_byzantine_run("alie", "stale", reasons);
}

// Insecure workers name their slot in their routing id (byzgd-worker --slot N): the slot
// follows the name, not the order of joining; a name beyond n gets ERROR(server_full).
static fake_t *
s_fake_named(byzgd_server_t *server, size_t slot)
{
    fake_t *fake = calloc(1, sizeof *fake);
    ASSERT(fake);
    fake->dealer = zsock_new(ZMQ_DEALER);
    char name[32];
    ASSERT_EQ_INT(byzgd_keys_worker_name(name, sizeof name, slot), 0);
    zmq_setsockopt(zsock_resolve(fake->dealer), ZMQ_ROUTING_ID, name, strlen(name));
    zsock_set_linger(fake->dealer, 0);
    ASSERT_EQ_INT(zsock_connect(fake->dealer, "%s", byzgd_server_endpoint(server)), 0);
    return fake;
}

TEST(insecure_slots_follow_the_named_routing_id)
{
    byzgd_server_config_t config;
    s_config(&config, 3);
    byzgd_server_t *server = s_server(&config);
    fake_t *two = s_fake_named(server, 2);
    s_fake_hello(two);
    s_expect_config(two);
    ASSERT_EQ_INT(two->slot, 2);
    fake_t *anonymous = s_fake_new(server); // no name: the lowest free slot
    s_fake_hello(anonymous);
    s_expect_config(anonymous);
    ASSERT_EQ_INT(anonymous->slot, 0);
    fake_t *nine = s_fake_named(server, 9);
    s_fake_hello(nine);
    zframe_t *frame = NULL;
    byzgd_msg_t msg = s_recv(nine, &frame, 10000);
    zframe_destroy(&frame);
    ASSERT_EQ_INT(msg.type, BYZGD_MSG_ERROR);
    ASSERT_EQ_INT(msg.error.code, BYZGD_MSG_ERROR_SERVER_FULL);
    fake_t *one = s_fake_named(server, 1);
    s_fake_hello(one);
    s_expect_config(one);
    ASSERT_EQ_INT(one->slot, 1);
    size_t slot = 0;
    ASSERT_EQ_INT(byzgd_keys_slot_of_name("worker-007.cert", &slot), 0);
    ASSERT_EQ_INT(slot, 7);
    ASSERT_EQ_INT(byzgd_keys_slot_of_name("worker-7", &slot), 0);
    ASSERT_EQ_INT(slot, 7);
    ASSERT_EQ_INT(byzgd_keys_slot_of_name("worker-", &slot), -1);
    ASSERT_EQ_INT(byzgd_keys_slot_of_name("worker-007.cert_secret", &slot), -1);
    ASSERT_EQ_INT(byzgd_keys_slot_of_name("admin-007", &slot), -1);
    byzgd_server_destroy(&server);
    fake_t *fakes[] = {two, anonymous, nine, one};
    for (size_t i = 0; i < 4; i++)
        s_fake_destroy(&fakes[i]);
}

// More than f slots reporting non-finite proposals in one round: the run ends as diverged
// (a result: exit status BYZGD_SERVER_EXIT_DIVERGED, "status":"diverged" in the metrics).
TEST(non_finite_reports_beyond_f_end_the_run_as_diverged)
{
    char metrics[512];
    snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", byzgd_test_tmpdir());
    byzgd_server_config_t config;
    s_config(&config, 3);
    config.byzantine_count = config.gar.f = 1;
    snprintf(config.metrics, sizeof config.metrics, "%s", metrics);
    byzgd_server_t *server = s_server(&config);
    fake_t *fakes[3];
    s_fake_join_all(server, fakes, 3, 1);
    float gradient[D];
    s_fill(gradient, D, 0.25f);
    s_propose(fakes[0], 1, gradient, D, 1);
    s_propose(fakes[1], 1, gradient, D, INFINITY); // finite gradient, loss overflowed
    s_wait_rejected(server, BYZGD_MSG_REJECT_NON_FINITE, 1);
    ASSERT_EQ_INT(byzgd_server_wait(server, 100), -1); // one slot (≤ f): still running
    gradient[3] = NAN;
    s_propose(fakes[2], 1, gradient, D, 1);
    ASSERT_EQ_INT(byzgd_server_wait(server, 20000), BYZGD_SERVER_EXIT_DIVERGED);
    byzgd_server_stats_t stats = s_stats(server);
    ASSERT(stats.diverged);
    ASSERT(stats.finished);
    ASSERT_STR_EQ(stats.state, "FINISHED");
    for (size_t i = 0; i < 3; i++)
        s_expect_bye(fakes[i], BYZGD_MSG_BYE_DONE);
    byzgd_server_destroy(&server);
    FILE *file = fopen(metrics, "r");
    ASSERT(file);
    char line[4096] = "";
    ASSERT(fgets(line, sizeof line, file));
    fclose(file);
    ASSERT_STR_CONTAINS(line, "\"round\":1,");
    ASSERT_STR_CONTAINS(line, "\"non_finite\":2");
    ASSERT_STR_CONTAINS(line, "\"status\":\"diverged\"");
    for (size_t i = 0; i < 3; i++)
        s_fake_destroy(&fakes[i]);
}

TEST(attackers_hold_only_the_data_their_attack_reads)
{
    // An attack that computes no gradient loads nothing: its context builds with a data
    // directory that does not exist, and it reports the loss ln C of a uniform prediction.
    const char *kinds[] = {"gaussian", "signflip", "omniscient", "alie"};
    const byzgd_worker_data_t expected[] = {BYZGD_WORKER_DATA_NONE, BYZGD_WORKER_DATA_SHARD,
                                            BYZGD_WORKER_DATA_FULL, BYZGD_WORKER_DATA_FULL};
    char error[512];
    byzgd_attack_config_t attack;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        byzgd_attack_config_init(&attack);
        ASSERT_EQ_INT(
            byzgd_attack_config_parse_option(&attack, "attack", kinds[i], error, sizeof error), 0);
        ASSERT_MSG(byzgd_byzantine_data(&attack) == expected[i], "%s", kinds[i]);
    }
    byzgd_attack_config_init(&attack);
    ASSERT_EQ_INT(
        byzgd_attack_config_parse_option(&attack, "attack", "gaussian", error, sizeof error), 0);
    byzgd_msg_config_t session = s_logreg_session("fashion-mnist", 3, 2);
    session.byzantine_count = 1;
    session.batch_size = 8;
    session.seed = 5;
    byzgd_worker_context_t *context = byzgd_worker_context_new(
        &session, NULL, "/nonexistent/byzgd-data", BYZGD_WORKER_DATA_NONE, 1, error, sizeof error);
    ASSERT_MSG(context, "%s", error);
    byzgd_worker_hooks_t hooks;
    ASSERT_EQ_INT(byzgd_byzantine_hooks(&hooks, &attack, NULL, error, sizeof error), 0);
    float params[D] = {0}, proposal[D];
    double loss = 0;
    ASSERT_EQ_INT(byzgd_worker_context_propose(context, &hooks, 1, params, proposal, &loss), 0);
    ASSERT_NEAR(loss, log(2.0), 1e-12);
    double energy = 0;
    for (size_t j = 0; j < D; j++)
        energy += (double)proposal[j] * proposal[j];
    ASSERT_MSG(isfinite(energy) && energy > 0, "gaussian vector energy %g", energy);
    hooks.destroy(hooks.state);
    byzgd_worker_context_destroy(&context);
}

// The worker reads aligned parameters in place and copies misaligned ones (a PARAMS tensor
// may sit at any address in its frame): both give the same proposal, and the context keeps
// no pointer to the caller's values once the call returned.
TEST(proposal_is_the_same_from_aligned_and_misaligned_parameters)
{
    byzgd_msg_config_t session = s_logreg_session("synthetic", 2, 1);
    session.batch_size = 8;
    char error[512];
    byzgd_worker_context_t *contexts[2];
    for (int i = 0; i < 2; i++) {
        contexts[i] = byzgd_worker_context_new(&session, NULL, NULL, BYZGD_WORKER_DATA_SHARD, 1,
                                               error, sizeof error);
        ASSERT_MSG(contexts[i], "%s", error);
    }
    float aligned[D];
    unsigned char bytes[D * sizeof(float) + 1];
    for (size_t j = 0; j < D; j++)
        aligned[j] = 0.01f * (float)j - 0.2f;
    memcpy(bytes + 1, aligned, sizeof aligned);
    for (uint64_t round = 1; round <= 3; round++) {
        float from_aligned[D], from_bytes[D];
        double loss_aligned = NAN, loss_bytes = NAN;
        ASSERT_EQ_INT(byzgd_worker_context_propose(contexts[0], NULL, round, aligned, from_aligned,
                                                   &loss_aligned),
                      0);
        ASSERT_EQ_INT(byzgd_worker_context_propose(contexts[1], NULL, round, bytes + 1, from_bytes,
                                                   &loss_bytes),
                      0);
        ASSERT_MSG(memcmp(from_aligned, from_bytes, sizeof from_aligned) == 0,
                   "round %" PRIu64 ": the proposals differ", round);
        ASSERT_MSG(loss_aligned == loss_bytes && isfinite(loss_aligned), "losses %g and %g",
                   loss_aligned, loss_bytes);
        for (int i = 0; i < 2; i++)
            ASSERT_MSG(byzgd_worker_context_params(contexts[i]) == NULL,
                       "context %d kept the caller's parameters", i);
    }
    for (int i = 0; i < 2; i++)
        byzgd_worker_context_destroy(&contexts[i]);
}

static const byzgd_test_case_t cases[] = {
    TEST_CASE(round_completes_with_quorum_and_updates_parameters),
    TEST_CASE(krum_selection_is_reported_by_slot_and_lr_schedule_applies),
    TEST_CASE(hostile_proposals_are_rejected_and_counted_per_reason),
    TEST_CASE(deadline_closes_a_round_with_fewer_proposals),
    TEST_CASE(deadline_waits_while_the_rule_precondition_fails),
    TEST_CASE(rate_limited_and_banned_identities_are_told),
    TEST_CASE(gives_up_after_the_documented_wait),
    TEST_CASE(run_ends_with_bye_metrics_and_checkpoint_then_resumes),
    TEST_CASE(stop_sends_bye_shutdown_and_writes_a_checkpoint),
    TEST_CASE(server_full_and_rejoin_keep_slots),
    TEST_CASE(insecure_slots_follow_the_named_routing_id),
    TEST_CASE(non_finite_reports_beyond_f_end_the_run_as_diverged),
    TEST_CASE(config_parses_the_agreed_flags),
    TEST_CASE(config_refuses_bad_combinations),
    TEST_CASE(metrics_lines_wait_for_their_evaluation),
    TEST_CASE(proposal_is_the_same_from_aligned_and_misaligned_parameters),
    TEST_CASE(checkpoint_round_trip_and_refusals),
    TEST_CASE(metrics_truncate_after_drops_later_and_torn_lines),
    TEST_CASE(worker_backs_off_on_rate_limited_and_exits_on_banned),
    TEST_CASE(workers_train_and_stop_on_bye),
    TEST_CASE(secure_workers_train_with_curve_identities),
    TEST_CASE(worker_survives_a_server_restart),
    TEST_CASE(worker_skips_to_the_newest_queued_params),
    TEST_CASE(byzantine_nan_vectors_are_rejected_as_non_finite),
    TEST_CASE(byzantine_duplicates_are_rejected),
    TEST_CASE(byzantine_wrong_dimension_is_rejected),
    TEST_CASE(byzantine_garbage_is_rejected),
    TEST_CASE(byzantine_stale_rounds_are_rejected),
    TEST_CASE(attackers_hold_only_the_data_their_attack_reads),
};

BYZGD_TEST_MAIN(cases)

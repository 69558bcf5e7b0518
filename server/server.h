/*  server.h — the parameter server as a CZMQ actor behind a typed API.

    The actor binds a ROUTER socket, admits up to n workers (identity = authenticated CURVE
    key, or the routing id with --insecure), sends each its CONFIG and the current PARAMS,
    and runs rounds: collect at most one PROPOSAL per worker per round into a preallocated
    n×d matrix, close the round when the quorum q is in (or when the deadline passes and
    the rule's precondition holds for the count received), aggregate with the configured
    rule, update x ← x − γ_t·GAR(…), publish the next PARAMS (encoded once, one shared
    buffer for every worker). Evaluation runs on its own actor; metrics, checkpoints and
    a one-line progress display are written from the round loop. docs/PROTOCOL.md is the
    wire contract.

    byzgd_server_config_t config;
    byzgd_server_config_init(&config);
    ... set fields, or byzgd_server_config_parse(&config, argc, argv, ...) ...
    byzgd_server_t *server = byzgd_server_new(&config, error, sizeof error);
    printf("bound to %s\n", byzgd_server_endpoint(server));
    int status = byzgd_server_wait(server, -1);      // 0: all rounds done
    byzgd_server_destroy(&server);

    Start rule: the first round is published when all n workers have joined, or
    deadline_ms after q of them had (workers that start late still get round 1). The first
    round's deadline counts from its first accepted proposal, not from its publication:
    workers load their data after joining, and that start-up is not round time.

    Waiting rule (documented limit): when the deadline passes with fewer proposals than
    the rule's precondition needs, the server keeps waiting and re-sends PARAMS to the
    workers that have not proposed, up to max_wait_ms after the deadline; after that it
    stops with status 1 ("not enough proposals").

    Divergence rule: when more than f slots, and more than half of the n, report a
    non-finite proposal in one round, or x
    becomes non-finite, the run stops with BYZGD_SERVER_EXIT_DIVERGED (round.h). */
#ifndef BYZGD_SERVER_H
#define BYZGD_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "learning/dataset.h"
#include "rules/gar.h"
#include "support/options.h"
#include "learning/lr_schedule.h"

#define BYZGD_SERVER_PATH_MAX 1024

// Exit status of a run whose model diverged (a result, recorded as "status":"diverged" in
// the metrics): distinct from 0 (all rounds done) and 1 (the run failed).
#define BYZGD_SERVER_EXIT_DIVERGED 3

typedef struct {
    char endpoint[BYZGD_SERVER_PATH_MAX];      // tcp://127.0.0.1:5555, tcp://127.0.0.1:*, ipc://…
    char endpoint_file[BYZGD_SERVER_PATH_MAX]; // "" or where to write the bound endpoint
    size_t worker_count;                       // n
    size_t byzantine_count;                    // f declared (also the rule's f)
    byzgd_gar_config_t gar;                    // rule and pre-aggregators
    char architecture[16];                     // logreg | mlp | convnet
    size_t hidden[2];                          // 0 = model default
    char dataset[32];                          // fashion-mnist | mnist | spam | synthetic
    char data_dir[BYZGD_SERVER_PATH_MAX];      // "" = the dataset's default
    double dirichlet_alpha;                    // 0 = iid shards
    size_t batch_size;
    byzgd_lr_schedule_t learning_rate;
    uint64_t rounds;
    uint64_t seed;
    size_t quorum;   // proposals that close a round (0 = n)
    int deadline_ms; // round deadline, measured from the publication
    int max_wait_ms; // after the deadline, when the precondition fails (0 = 10×deadline)
    int heartbeat_interval_ms;
    int heartbeat_timeout_ms;
    uint64_t eval_every;  // evaluate every K rounds and after the last (0: never)
    size_t eval_examples; // evaluate on the first N test examples (0 = the whole test split)
    char metrics[BYZGD_SERVER_PATH_MAX];    // "" = no metrics file
    char checkpoint[BYZGD_SERVER_PATH_MAX]; // "" = no checkpoints
    uint64_t checkpoint_every;              // 0 = only the final checkpoint
    bool resume;
    char keys_dir[BYZGD_SERVER_PATH_MAX]; // server certificate and allowed worker keys
    char deny_list[BYZGD_SERVER_PATH_MAX];
    bool insecure; // no CURVE: identity = routing id (unsafe, for tests and local runs)
    bool quiet;    // no progress line
} byzgd_server_config_t;

// Counters the actor reports through byzgd_server_stats (and the tests assert on).
typedef struct {
    uint64_t round;       // current round (rounds completed = round - 1 while running)
    uint64_t rounds_done; // rounds aggregated
    uint64_t epoch;
    size_t joined;            // identities holding a slot
    uint64_t accepted;        // proposals accepted, all rounds
    uint64_t rejected[32];    // by byzgd_msg_reject_t, all rounds
    uint64_t deadline_rounds; // rounds closed by their deadline with fewer than q proposals
    uint64_t waited_rounds;   // rounds whose deadline passed without the rule's precondition
    uint64_t disconnects;     // connections libzmq closed (frames over ZMQ_MAXMSGSIZE, peers gone)
    size_t last_accepted;     // proposals in the last aggregated round
    double last_train_loss;
    bool finished;     // the run ended with a result: all rounds done, or diverged
    bool diverged;     // the model or the honest losses became non-finite
    const char *state; // the actor's state (server.c), a static string
} byzgd_server_stats_t;

typedef struct byzgd_server_t byzgd_server_t;

// Fills config with the defaults (endpoint tcp://127.0.0.1:5555, mlp on fashion-mnist,
// average, batch 16, lr 0.05 constant, 100 rounds, seed 1, deadline 10 s, eval every 10).
void byzgd_server_config_init(byzgd_server_config_t *config);

// Parses byzgd-server's command line (argv[0] is skipped) into config, which should hold
// the defaults. Returns 0, 1 for --help (usage printed to stdout), or -1 with a message.
int byzgd_server_config_parse(byzgd_server_config_t *config, int argc, char **argv, char *error,
                              size_t error_size);

// Checks the configuration as a whole (n, f, q, the rule's precondition for q, …).
// Returns 0, or -1 with a message.
int byzgd_server_config_check(const byzgd_server_config_t *config, char *error, size_t error_size);

// Builds the configured model on the configured dataset's shape (loading one test
// example) exactly as byzgd_server_new does, so a launcher can refuse an unknown model or
// dataset, impossible hidden sizes, a missing data directory or a too large d before it
// starts anything. Writes d into *dimension_out (may be NULL). Returns 0, or -1 with a message.
int byzgd_server_config_check_model(const byzgd_server_config_t *config, size_t *dimension_out,
                                    char *error, size_t error_size);

// Loads the first `limit` examples (0: all) of the configured dataset's test split (the
// configured data directory and seed), and writes into *spec the model the configuration
// builds on that data's shape. Returns the test set, or NULL with a message.
byzgd_dataset_t *byzgd_server_config_load_test_set(const byzgd_server_config_t *config,
                                                   size_t limit, byzgd_model_spec_t *spec,
                                                   char *error, size_t error_size);

// byzgd-server's command line: its own options and the rule options (static).
const byzgd_program_t *byzgd_server_program(void);

// Starts the server actor: loads the model and test data, restores the checkpoint when
// asked, binds the endpoint. Returns NULL with a message if any of that fails.
byzgd_server_t *byzgd_server_new(const byzgd_server_config_t *config, char *error,
                                 size_t error_size);

// Stops the actor (writes the final checkpoint and flushes metrics if it still runs)
// and frees everything. NULL-safe.
void byzgd_server_destroy(byzgd_server_t **self_p);

// The endpoint actually bound (port resolved), borrowed.
const char *byzgd_server_endpoint(const byzgd_server_t *self);

// The parameter dimension d of the model.
size_t byzgd_server_dimension(const byzgd_server_t *self);

// The session epoch (nonzero, random per start).
uint64_t byzgd_server_epoch(const byzgd_server_t *self);

// Waits up to timeout_ms (-1: forever) for the run to end. Returns its exit status
// (0: all rounds done; 1: runtime failure; BYZGD_SERVER_EXIT_DIVERGED), or -1 if still
// running.
int byzgd_server_wait(byzgd_server_t *self, int timeout_ms);

// Asks the actor to stop now (signal): final checkpoint, flushed metrics, workers are
// told BYE(shutdown). Returns once the actor has stopped; the exit status is 0.
void byzgd_server_stop(byzgd_server_t *self);

// Fills *stats with the actor's counters. Returns 0, or -1 if the actor has gone.
int byzgd_server_stats(byzgd_server_t *self, byzgd_server_stats_t *stats);

// Copies the current parameters x (d floats) into params_out. Returns 0 or -1.
int byzgd_server_params(byzgd_server_t *self, float *params_out);

#endif

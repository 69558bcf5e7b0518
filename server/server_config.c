/*  server_config.c — byzgd-server's defaults, command line and whole-configuration check. */
#include <assert.h>
#include <czmq.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "learning/dataset.h"
#include "learning/model.h"
#include "rules/gar_options.h"
#include "support/log.h"
#include "support/options.h"
#include "wire/msg.h"
#include "server.h"

void
byzgd_server_config_init(byzgd_server_config_t *config)
{
    memset(config, 0, sizeof *config);
    snprintf(config->endpoint, sizeof config->endpoint, "tcp://127.0.0.1:5555");
    config->worker_count = 1;
    byzgd_gar_config_init(&config->gar);
    snprintf(config->architecture, sizeof config->architecture, "mlp");
    snprintf(config->dataset, sizeof config->dataset, "fashion-mnist");
    config->batch_size = 16;
    config->learning_rate.kind = BYZGD_LR_CONSTANT;
    config->learning_rate.initial = 0.05;
    config->learning_rate.every = 1;
    config->learning_rate.factor = 1.0;
    config->rounds = 100;
    config->seed = 1;
    config->deadline_ms = 10000;
    config->heartbeat_interval_ms = 1000;
    config->heartbeat_timeout_ms = 30000;
    config->eval_every = 10;
}

static int
s_parse_hidden(size_t hidden[2], const char *value, char *error, size_t error_size)
{
    unsigned long first = 0, second = 0;
    char tail = 0;
    int fields = value ? sscanf(value, "%lu,%lu%c", &first, &second, &tail) : 0;
    if (fields != 2 || first == 0 || second == 0 || first > BYZGD_MSG_HIDDEN_MAX ||
        second > BYZGD_MSG_HIDDEN_MAX)
        return byzgd_set_error(error, error_size, "--hidden %s: expected A,B (two widths)",
                               value ? value : "");
    hidden[0] = first;
    hidden[1] = second;
    return 0;
}

// The options of s_options stored as given: where in the configuration, as what. Their
// values arrive checked against s_options (type and range), so only a string's length
// against its field remains to check.
typedef enum { S_TEXT, S_SIZE, S_U64, S_INT, S_NUMBER, S_FLAG } s_field_kind_t;

typedef struct {
    const char *name;
    s_field_kind_t kind;
    size_t offset, size;
} s_field_t;

#define S_FIELD(name, kind, member)                                                                \
    {                                                                                              \
        (name), (kind), offsetof(byzgd_server_config_t, member),                                   \
            sizeof(((byzgd_server_config_t *)NULL)->member)                                        \
    }

static const s_field_t s_fields[] = {
    S_FIELD("endpoint", S_TEXT, endpoint),
    S_FIELD("endpoint-file", S_TEXT, endpoint_file),
    S_FIELD("workers", S_SIZE, worker_count),
    S_FIELD("n", S_SIZE, worker_count),
    S_FIELD("f", S_SIZE, byzantine_count),
    S_FIELD("byzantine", S_SIZE, byzantine_count),
    S_FIELD("model", S_TEXT, architecture),
    S_FIELD("dataset", S_TEXT, dataset),
    S_FIELD("data-dir", S_TEXT, data_dir),
    S_FIELD("alpha", S_NUMBER, dirichlet_alpha),
    S_FIELD("batch", S_SIZE, batch_size),
    S_FIELD("rounds", S_U64, rounds),
    S_FIELD("seed", S_U64, seed),
    S_FIELD("quorum", S_SIZE, quorum),
    S_FIELD("deadline-ms", S_INT, deadline_ms),
    S_FIELD("max-wait-ms", S_INT, max_wait_ms),
    S_FIELD("heartbeat-ms", S_INT, heartbeat_interval_ms),
    S_FIELD("heartbeat-timeout-ms", S_INT, heartbeat_timeout_ms),
    S_FIELD("eval-every", S_U64, eval_every),
    S_FIELD("eval-examples", S_SIZE, eval_examples),
    S_FIELD("metrics", S_TEXT, metrics),
    S_FIELD("checkpoint", S_TEXT, checkpoint),
    S_FIELD("checkpoint-every", S_U64, checkpoint_every),
    S_FIELD("resume", S_FLAG, resume),
    S_FIELD("keys", S_TEXT, keys_dir),
    S_FIELD("deny-list", S_TEXT, deny_list),
    S_FIELD("insecure", S_FLAG, insecure),
    S_FIELD("quiet", S_FLAG, quiet),
};

static int
s_store(byzgd_server_config_t *config, const s_field_t *field, const char *value, char *error,
        size_t error_size)
{
    void *at = (char *)config + field->offset;
    switch (field->kind) {
    case S_TEXT:
        if (strlen(value) >= field->size)
            return byzgd_set_error(error, error_size, "--%s: value too long", field->name);
        memcpy(at, value, strlen(value) + 1);
        break;
    case S_SIZE:
        *(size_t *)at = (size_t)strtoull(value, NULL, 10);
        break;
    case S_U64:
        *(uint64_t *)at = strtoull(value, NULL, 10);
        break;
    case S_INT:
        *(int *)at = (int)strtol(value, NULL, 10);
        break;
    case S_NUMBER:
        *(double *)at = strtod(value, NULL);
        break;
    case S_FLAG:
        *(bool *)at = streq(value, "true");
        break;
    }
    return 0;
}

// The parser's state: the configuration and the two flags read together at the end.
typedef struct {
    byzgd_server_config_t *config;
    double lr;
    const char *schedule;
} s_parse_state_t;

static int
s_apply_option(void *state, const byzgd_option_section_t *section, const byzgd_option_t *option,
               const char *value, char *error, size_t error_size)
{
    (void)section;
    s_parse_state_t *parse = state;
    const char *name = option->name;
    if (streq(name, "hidden"))
        return s_parse_hidden(parse->config->hidden, value, error, error_size);
    if (streq(name, "lr")) {
        parse->lr = strtod(value, NULL);
        return parse->lr > 0 ? 0 : byzgd_set_error(error, error_size, "--lr must be > 0");
    }
    if (streq(name, "lr-schedule")) {
        parse->schedule = value;
        return 0;
    }
    for (size_t i = 0; i < sizeof s_fields / sizeof s_fields[0]; i++)
        if (streq(name, s_fields[i].name))
            return s_store(parse->config, &s_fields[i], value, error, error_size);
    assert(!"an option of s_options without its field in s_fields");
    return -1;
}

#define S_U32_MAX 4294967295.0
#define S_U64_MAX 18446744073709551615.0

// clang-format off
static const byzgd_option_t s_options[] = {
    {"endpoint", BYZGD_OPTION_TEXT, 0, 0, "tcp://127.0.0.1:5555", 0,
     "ROUTER endpoint (port * = any free port)", "EP", NULL},
    {"endpoint-file", BYZGD_OPTION_TEXT, 0, 0, NULL, 0, "write the bound endpoint there", "FILE",
     NULL},
    {"workers", BYZGD_OPTION_INT, 1, BYZGD_MSG_WORKERS_MAX, "1", 0, "n, the workers expected",
     "N", NULL},
    {"n", BYZGD_OPTION_INT, 1, BYZGD_MSG_WORKERS_MAX, NULL, 0, NULL, "N", NULL},
    {"f", BYZGD_OPTION_INT, 0, BYZGD_MSG_WORKERS_MAX - 1, "0", 0,
     "Byzantine workers declared (the rule's f)", "F", NULL},
    {"byzantine", BYZGD_OPTION_INT, 0, BYZGD_MSG_WORKERS_MAX - 1, NULL, 0, NULL, "F", NULL},
    {"model", BYZGD_OPTION_NAME, 0, 0, "mlp", 0, "mlp, convnet or logreg", "NAME", NULL},
    {"hidden", BYZGD_OPTION_TEXT, 0, 0, NULL, 0,
     "the two hidden widths (mlp units, convnet channels)", "A,B", NULL},
    {"dataset", BYZGD_OPTION_NAME, 0, 0, "fashion-mnist", 0,
     "fashion-mnist, mnist, spam or synthetic", "NAME", NULL},
    {"data-dir", BYZGD_OPTION_TEXT, 0, 0, NULL, 0,
     "where the dataset's files are (default: the dataset's own)", "DIR", NULL},
    {"alpha", BYZGD_OPTION_NUMBER, 0, 1e300, "0", 0,
     "Dirichlet alpha of the worker shards (0: iid)", "A", NULL},
    {"batch", BYZGD_OPTION_INT, 1, BYZGD_MSG_BATCH_MAX, "16", 0,
     "minibatch size of every worker", "B", NULL},
    {"lr", BYZGD_OPTION_NUMBER, 0, 1e300, "0.05", 0, "learning rate (> 0)", "LR", NULL},
    {"lr-schedule", BYZGD_OPTION_TEXT, 0, 0, "constant", 0,
     "constant, inv-sqrt or step:EVERY:FACTOR", "S", NULL},
    {"rounds", BYZGD_OPTION_INT, 1, S_U32_MAX, "100", 0, "training rounds", "R", NULL},
    {"seed", BYZGD_OPTION_INT, 0, S_U64_MAX, "1", 0, "seed of the whole run", "S", NULL},
    {"quorum", BYZGD_OPTION_INT, 1, BYZGD_MSG_WORKERS_MAX, NULL, 0,
     "proposals that close a round (default n)", "Q", NULL},
    {"deadline-ms", BYZGD_OPTION_INT, 1, 86400000, "10000", 0, "round deadline", "MS", NULL},
    {"max-wait-ms", BYZGD_OPTION_INT, 1, 86400000, NULL, 0,
     "extra wait when the rule's precondition fails (default 10 deadlines)", "MS", NULL},
    {"heartbeat-ms", BYZGD_OPTION_INT, 1, 600000, "1000", 0, "heartbeat period", "MS", NULL},
    {"heartbeat-timeout-ms", BYZGD_OPTION_INT, 2, 3600000, "30000", 0,
     "a worker silent this long is gone", "MS", NULL},
    {"eval-every", BYZGD_OPTION_INT, 0, S_U32_MAX, "10", 0,
     "test-set evaluation every K rounds (0: never)", "K", NULL},
    {"eval-examples", BYZGD_OPTION_INT, 0, S_U64_MAX, NULL, 0,
     "evaluate on the first N test examples (default all)", "N", NULL},
    {"metrics", BYZGD_OPTION_TEXT, 0, 0, NULL, 0, "one JSON object per round", "FILE", NULL},
    {"checkpoint", BYZGD_OPTION_TEXT, 0, 0, NULL, 0, "checkpoint file", "FILE", NULL},
    {"checkpoint-every", BYZGD_OPTION_INT, 0, S_U32_MAX, NULL, 0,
     "write the checkpoint every K rounds (0: at the end only)", "K", NULL},
    {"resume", BYZGD_OPTION_FLAG, 0, 0, NULL, 0, "continue from --checkpoint", NULL, NULL},
    {"keys", BYZGD_OPTION_TEXT, 0, 0, NULL, 0,
     "server certificate and allowed worker keys (CURVE)", "DIR", NULL},
    {"insecure", BYZGD_OPTION_FLAG, 0, 0, NULL, 0,
     "no CURVE; worker identity = routing id (unsafe)", NULL, NULL},
    {"deny-list", BYZGD_OPTION_TEXT, 0, 0, NULL, 0, "worker keys refused on every message",
     "FILE", NULL},
    {"quiet", BYZGD_OPTION_FLAG, 0, 0, NULL, 0, "no progress line", NULL, NULL},
};
// clang-format on

static const byzgd_option_section_t s_section =
    BYZGD_OPTION_SECTION(NULL, s_options, s_apply_option);

static const byzgd_option_section_t *const s_sections[] = {&s_section, &byzgd_gar_option_section,
                                                           NULL};

static const byzgd_program_t s_program = {
    "byzgd-server",
    "[options]",
    "the byzgd parameter server: aggregates the workers' proposals with a robust rule",
    s_sections,
    "Serves the model to n workers, closes each round on a quorum or a deadline, aggregates the "
    "proposals\nwith the rule and steps the model.\n",
    "Exit status: 0 all rounds done, 1 runtime failure, 2 bad flags or configuration.\n",
    0,
    0,
};

const byzgd_program_t *
byzgd_server_program(void)
{
    return &s_program;
}

int
byzgd_server_config_parse(byzgd_server_config_t *config, int argc, char **argv, char *error,
                          size_t error_size)
{
    s_parse_state_t state = {config, config->learning_rate.initial, NULL};
    void *states[] = {&state, &config->gar};
    int parsed = byzgd_options_parse(&s_program, argc, argv, states, NULL, error, error_size);
    if (parsed != 0)
        return parsed;
    if (byzgd_lr_schedule_parse(&config->learning_rate,
                                state.schedule ? state.schedule : "constant", state.lr, error,
                                error_size) != 0)
        return -1;
    config->gar.f = config->byzantine_count;
    config->gar.seed = config->seed;
    return byzgd_server_config_check(config, error, error_size);
}

int
byzgd_server_config_check(const byzgd_server_config_t *config, char *error, size_t error_size)
{
    size_t n = config->worker_count;
    size_t quorum = config->quorum ? config->quorum : n;
    if (n < 1 || n > BYZGD_MSG_WORKERS_MAX)
        return byzgd_set_error(error, error_size, "--workers must be in [1, %d]",
                               BYZGD_MSG_WORKERS_MAX);
    if (config->byzantine_count >= n)
        return byzgd_set_error(error, error_size, "-f %zu must be < n = %zu",
                               config->byzantine_count, n);
    if (config->gar.f != config->byzantine_count)
        return byzgd_set_error(error, error_size, "the rule's f differs from -f");
    if (quorum > n)
        return byzgd_set_error(error, error_size, "--quorum %zu exceeds n = %zu", quorum, n);
    char reason[256];
    if (byzgd_gar_check(&config->gar, quorum, reason, sizeof reason) != 0)
        return byzgd_set_error(error, error_size, "the rule cannot aggregate q = %zu proposals: %s",
                               quorum, reason);
    if (config->heartbeat_timeout_ms <= config->heartbeat_interval_ms)
        return byzgd_set_error(error, error_size,
                               "--heartbeat-timeout-ms must exceed --heartbeat-ms");
    if (config->resume && !config->checkpoint[0])
        return byzgd_set_error(error, error_size, "--resume needs --checkpoint FILE");
    if (!config->architecture[0] || strlen(config->architecture) > BYZGD_MSG_NAME_MAX)
        return byzgd_set_error(error, error_size, "bad --model");
    if (!config->dataset[0] || strlen(config->dataset) > BYZGD_MSG_DATASET_MAX)
        return byzgd_set_error(error, error_size, "bad --dataset");
    if (!config->insecure && !config->keys_dir[0])
        return byzgd_set_error(error, error_size,
                               "CURVE is on by default: give --keys DIR, or --insecure to run "
                               "without authentication");
    return 0;
}

byzgd_dataset_t *
byzgd_server_config_load_test_set(const byzgd_server_config_t *config, size_t limit,
                                  byzgd_model_spec_t *spec, char *error, size_t error_size)
{
    byzgd_dataset_options_t data_options = {0};
    data_options.data_dir = config->data_dir[0] ? config->data_dir : NULL;
    data_options.split = BYZGD_SPLIT_TEST;
    data_options.limit = limit;
    data_options.seed = config->seed;
    byzgd_dataset_t *test_set =
        byzgd_dataset_load(config->dataset, &data_options, error, error_size);
    if (test_set)
        *spec = byzgd_dataset_model_spec(test_set, config->architecture, config->hidden);
    return test_set;
}

int
byzgd_server_config_check_model(const byzgd_server_config_t *config, size_t *dimension_out,
                                char *error, size_t error_size)
{
    byzgd_model_spec_t spec;
    // One test example: the shape is all a check needs.
    byzgd_dataset_t *test_set =
        byzgd_server_config_load_test_set(config, 1, &spec, error, error_size);
    if (!test_set)
        return -1;
    byzgd_model_t *model = byzgd_model_new(&spec, 1, error, error_size);
    byzgd_dataset_destroy(&test_set);
    if (!model)
        return -1;
    size_t d = byzgd_model_dimension(model);
    byzgd_model_destroy(&model);
    if (d > BYZGD_MSG_DIMENSION_MAX)
        return byzgd_set_error(error, error_size, "model has d = %zu, the protocol allows %u", d,
                               BYZGD_MSG_DIMENSION_MAX);
    if (dimension_out)
        *dimension_out = d;
    return 0;
}

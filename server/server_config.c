/*  server_config.c — byzgd-server's defaults, command line and whole-configuration check. */
#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
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
s_parse_u64(uint64_t *out, const char *name, const char *value, uint64_t min, uint64_t max,
            char *error, size_t error_size)
{
    char *end = NULL;
    errno = 0;
    if (!value || !*value || *value == '-')
        return byzgd_set_error(error, error_size, "--%s needs a non-negative integer", name);
    unsigned long long parsed = strtoull(value, &end, 10);
    if (errno || *end || parsed < min || parsed > max)
        return byzgd_set_error(error, error_size,
                               "--%s %s: expected an integer in [%" PRIu64 ", %" PRIu64 "]", name,
                               value, min, max);
    *out = parsed;
    return 0;
}

static int
s_parse_size(size_t *out, const char *name, const char *value, uint64_t min, uint64_t max,
             char *error, size_t error_size)
{
    uint64_t parsed = 0;
    if (s_parse_u64(&parsed, name, value, min, max, error, error_size) != 0)
        return -1;
    *out = (size_t)parsed;
    return 0;
}

static int
s_parse_int(int *out, const char *name, const char *value, int min, int max, char *error,
            size_t error_size)
{
    uint64_t parsed = 0;
    if (s_parse_u64(&parsed, name, value, (uint64_t)min, (uint64_t)max, error, error_size) != 0)
        return -1;
    *out = (int)parsed;
    return 0;
}

static int
s_parse_double(double *out, const char *name, const char *value, char *error, size_t error_size)
{
    char *end = NULL;
    errno = 0;
    double parsed = value ? strtod(value, &end) : 0;
    if (!value || !*value || errno || *end || !(parsed == parsed) || parsed < 0 || parsed > 1e300)
        return byzgd_set_error(error, error_size, "--%s %s: expected a finite number >= 0", name,
                               value ? value : "");
    *out = parsed;
    return 0;
}

static int
s_copy(char *out, size_t out_size, const char *name, const char *value, char *error,
       size_t error_size)
{
    if (!value || !*value)
        return byzgd_set_error(error, error_size, "--%s needs a value", name);
    if (strlen(value) >= out_size)
        return byzgd_set_error(error, error_size, "--%s: value too long", name);
    snprintf(out, out_size, "%s", value);
    return 0;
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

static int
s_apply(byzgd_server_config_t *config, const char *name, const char *value, double *lr,
        const char **schedule, char *error, size_t error_size)
{
    char *e = error;
    size_t es = error_size;
    if (streq(name, "endpoint"))
        return s_copy(config->endpoint, sizeof config->endpoint, name, value, e, es);
    if (streq(name, "endpoint-file"))
        return s_copy(config->endpoint_file, sizeof config->endpoint_file, name, value, e, es);
    if (streq(name, "workers") || streq(name, "n"))
        return s_parse_size(&config->worker_count, name, value, 1, BYZGD_MSG_WORKERS_MAX, e, es);
    if (streq(name, "f") || streq(name, "byzantine"))
        return s_parse_size(&config->byzantine_count, name, value, 0, BYZGD_MSG_WORKERS_MAX - 1, e,
                            es);
    if (streq(name, "model"))
        return s_copy(config->architecture, sizeof config->architecture, name, value, e, es);
    if (streq(name, "hidden"))
        return s_parse_hidden(config->hidden, value, e, es);
    if (streq(name, "dataset"))
        return s_copy(config->dataset, sizeof config->dataset, name, value, e, es);
    if (streq(name, "data-dir"))
        return s_copy(config->data_dir, sizeof config->data_dir, name, value, e, es);
    if (streq(name, "alpha"))
        return s_parse_double(&config->dirichlet_alpha, name, value, e, es);
    if (streq(name, "batch"))
        return s_parse_size(&config->batch_size, name, value, 1, BYZGD_MSG_BATCH_MAX, e, es);
    if (streq(name, "lr")) {
        if (s_parse_double(lr, name, value, e, es) != 0)
            return -1;
        return *lr > 0 ? 0 : byzgd_set_error(e, es, "--lr must be > 0");
    }
    if (streq(name, "lr-schedule")) {
        *schedule = value;
        return 0;
    }
    if (streq(name, "rounds"))
        return s_parse_u64(&config->rounds, name, value, 1, UINT32_MAX, e, es);
    if (streq(name, "seed")) {
        if (s_parse_u64(&config->seed, name, value, 0, UINT64_MAX, e, es) != 0)
            return -1;
        config->gar.seed = config->seed;
        return 0;
    }
    if (streq(name, "quorum"))
        return s_parse_size(&config->quorum, name, value, 1, BYZGD_MSG_WORKERS_MAX, e, es);
    if (streq(name, "deadline-ms"))
        return s_parse_int(&config->deadline_ms, name, value, 1, 86400000, e, es);
    if (streq(name, "max-wait-ms"))
        return s_parse_int(&config->max_wait_ms, name, value, 1, 86400000, e, es);
    if (streq(name, "heartbeat-ms"))
        return s_parse_int(&config->heartbeat_interval_ms, name, value, 1, 600000, e, es);
    if (streq(name, "heartbeat-timeout-ms"))
        return s_parse_int(&config->heartbeat_timeout_ms, name, value, 2, 3600000, e, es);
    if (streq(name, "eval-every"))
        return s_parse_u64(&config->eval_every, name, value, 0, UINT32_MAX, e, es);
    if (streq(name, "eval-examples"))
        return s_parse_size(&config->eval_examples, name, value, 0, SIZE_MAX, e, es);
    if (streq(name, "metrics"))
        return s_copy(config->metrics, sizeof config->metrics, name, value, e, es);
    if (streq(name, "checkpoint"))
        return s_copy(config->checkpoint, sizeof config->checkpoint, name, value, e, es);
    if (streq(name, "checkpoint-every"))
        return s_parse_u64(&config->checkpoint_every, name, value, 0, UINT32_MAX, e, es);
    if (streq(name, "keys"))
        return s_copy(config->keys_dir, sizeof config->keys_dir, name, value, e, es);
    if (streq(name, "deny-list"))
        return s_copy(config->deny_list, sizeof config->deny_list, name, value, e, es);
    if (streq(name, "resume")) {
        config->resume = streq(value, "true");
        return 0;
    }
    if (streq(name, "insecure")) {
        config->insecure = streq(value, "true");
        return 0;
    }
    if (streq(name, "quiet")) {
        config->quiet = streq(value, "true");
        return 0;
    }
    // Everything else belongs to the aggregation rules (rule, m, tau, nnm, bucket, …).
    return byzgd_gar_config_parse_option(&config->gar, name, value ? value : "", e, es);
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
    return s_apply(parse->config, option->name, value, &parse->lr, &parse->schedule, error,
                   error_size);
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

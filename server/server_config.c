/*  server_config.c — byzgd-server's option table (its defaults and where each value goes),
    command line and whole-configuration check. */
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

// --hidden A,B: the two widths.
static int
s_hidden(void *state, const byzgd_option_t *option, const char *value, char *error,
         size_t error_size)
{
    (void)option;
    byzgd_server_config_t *config = state;
    unsigned long first = 0, second = 0;
    char tail = 0;
    if (sscanf(value, "%lu,%lu%c", &first, &second, &tail) != 2 || first == 0 || second == 0 ||
        first > BYZGD_MSG_HIDDEN_MAX || second > BYZGD_MSG_HIDDEN_MAX)
        return byzgd_set_error(error, error_size, "--hidden %s: expected A,B (two widths)", value);
    config->hidden[0] = first;
    config->hidden[1] = second;
    return 0;
}

static int
s_learning_rate(void *state, const byzgd_option_t *option, const char *value, char *error,
                size_t error_size)
{
    if (!(strtod(value, NULL) > 0))
        return byzgd_set_error(error, error_size, "--lr must be > 0");
    return byzgd_option_store(option, state, value, error, error_size);
}

// --lr-schedule S: kept with the initial rate, which --lr may still change (in either order).
static int
s_schedule(void *state, const byzgd_option_t *option, const char *value, char *error,
           size_t error_size)
{
    (void)option;
    byzgd_lr_schedule_t *schedule = &((byzgd_server_config_t *)state)->learning_rate;
    return byzgd_lr_schedule_parse(schedule, value, schedule->initial, error, error_size);
}

#define S_U32_MAX      4294967295.0
#define S_U64_MAX      18446744073709551615.0
#define S_FIELD(field) BYZGD_OPTION_FIELD(byzgd_server_config_t, field)

// clang-format off
static const byzgd_option_t s_options[] = {
    {"endpoint", BYZGD_OPTION_TEXT, 0, 0, "tcp://127.0.0.1:5555", 0,
     "ROUTER endpoint (port * = any free port)", "EP", NULL, S_FIELD(endpoint)},
    {"endpoint-file", BYZGD_OPTION_TEXT, 0, 0, NULL, 0, "write the bound endpoint there", "FILE",
     NULL, S_FIELD(endpoint_file)},
    {"workers", BYZGD_OPTION_INT, 1, BYZGD_MSG_WORKERS_MAX, "1", 0, "n, the workers expected",
     "N", NULL, S_FIELD(worker_count)},
    {"n", BYZGD_OPTION_INT, 1, BYZGD_MSG_WORKERS_MAX, NULL, 0, NULL, "N", NULL,
     S_FIELD(worker_count)},
    {"f", BYZGD_OPTION_INT, 0, BYZGD_MSG_WORKERS_MAX - 1, "0", 0,
     "Byzantine workers declared (the rule's f)", "F", NULL, S_FIELD(byzantine_count)},
    {"byzantine", BYZGD_OPTION_INT, 0, BYZGD_MSG_WORKERS_MAX - 1, NULL, 0, NULL, "F", NULL,
     S_FIELD(byzantine_count)},
    {"model", BYZGD_OPTION_NAME, 0, 0, "mlp", 0, "mlp, convnet or logreg", "NAME", NULL,
     S_FIELD(architecture)},
    {"hidden", BYZGD_OPTION_TEXT, 0, 0, NULL, 0,
     "the two hidden widths (mlp units, convnet channels)", "A,B", NULL, {0}, s_hidden},
    {"dataset", BYZGD_OPTION_NAME, 0, 0, "fashion-mnist", 0,
     "fashion-mnist, mnist, spam or synthetic", "NAME", NULL, S_FIELD(dataset)},
    {"data-dir", BYZGD_OPTION_TEXT, 0, 0, NULL, 0,
     "where the dataset's files are (default: the dataset's own)", "DIR", NULL, S_FIELD(data_dir)},
    {"alpha", BYZGD_OPTION_NUMBER, 0, 1e300, "0", 0,
     "Dirichlet alpha of the worker shards (0: iid)", "A", NULL, S_FIELD(dirichlet_alpha)},
    {"batch", BYZGD_OPTION_INT, 1, BYZGD_MSG_BATCH_MAX, "16", 0,
     "minibatch size of every worker", "B", NULL, S_FIELD(batch_size)},
    {"lr", BYZGD_OPTION_NUMBER, 0, 1e300, "0.05", 0, "learning rate (> 0)", "LR", NULL,
     S_FIELD(learning_rate.initial), s_learning_rate},
    {"lr-schedule", BYZGD_OPTION_TEXT, 0, 0, "constant", 0,
     "constant, inv-sqrt or step:EVERY:FACTOR", "S", NULL, {0}, s_schedule},
    {"rounds", BYZGD_OPTION_INT, 1, S_U32_MAX, "100", 0, "training rounds", "R", NULL,
     S_FIELD(rounds)},
    {"seed", BYZGD_OPTION_INT, 0, S_U64_MAX, "1", 0, "seed of the whole run", "S", NULL,
     S_FIELD(seed)},
    {"quorum", BYZGD_OPTION_INT, 1, BYZGD_MSG_WORKERS_MAX, NULL, 0,
     "proposals that close a round (default n)", "Q", NULL, S_FIELD(quorum)},
    {"deadline-ms", BYZGD_OPTION_INT, 1, 86400000, "10000", 0, "round deadline", "MS", NULL,
     S_FIELD(deadline_ms)},
    {"max-wait-ms", BYZGD_OPTION_INT, 1, 86400000, NULL, 0,
     "extra wait when the rule's precondition fails (default 10 deadlines)", "MS", NULL,
     S_FIELD(max_wait_ms)},
    {"heartbeat-ms", BYZGD_OPTION_INT, 1, 600000, "1000", 0, "heartbeat period", "MS", NULL,
     S_FIELD(heartbeat_interval_ms)},
    {"heartbeat-timeout-ms", BYZGD_OPTION_INT, 2, 3600000, "30000", 0,
     "a worker silent this long is gone", "MS", NULL, S_FIELD(heartbeat_timeout_ms)},
    {"eval-every", BYZGD_OPTION_INT, 0, S_U32_MAX, "10", 0,
     "test-set evaluation every K rounds (0: never)", "K", NULL, S_FIELD(eval_every)},
    {"eval-examples", BYZGD_OPTION_INT, 0, S_U64_MAX, NULL, 0,
     "evaluate on the first N test examples (default all)", "N", NULL, S_FIELD(eval_examples)},
    {"metrics", BYZGD_OPTION_TEXT, 0, 0, NULL, 0, "one JSON object per round", "FILE", NULL,
     S_FIELD(metrics)},
    {"checkpoint", BYZGD_OPTION_TEXT, 0, 0, NULL, 0, "checkpoint file", "FILE", NULL,
     S_FIELD(checkpoint)},
    {"checkpoint-every", BYZGD_OPTION_INT, 0, S_U32_MAX, NULL, 0,
     "write the checkpoint every K rounds (0: at the end only)", "K", NULL,
     S_FIELD(checkpoint_every)},
    {"resume", BYZGD_OPTION_FLAG, 0, 0, NULL, 0, "continue from --checkpoint", NULL, NULL,
     S_FIELD(resume)},
    {"keys", BYZGD_OPTION_TEXT, 0, 0, NULL, 0,
     "server certificate and allowed worker keys (CURVE)", "DIR", NULL, S_FIELD(keys_dir)},
    {"insecure", BYZGD_OPTION_FLAG, 0, 0, NULL, 0,
     "no CURVE; worker identity = routing id (unsafe)", NULL, NULL, S_FIELD(insecure)},
    {"deny-list", BYZGD_OPTION_TEXT, 0, 0, NULL, 0, "worker keys refused on every message",
     "FILE", NULL, S_FIELD(deny_list)},
    {"quiet", BYZGD_OPTION_FLAG, 0, 0, NULL, 0, "no progress line", NULL, NULL, S_FIELD(quiet)},
};
// clang-format on

static const byzgd_option_section_t s_section = BYZGD_OPTION_SECTION(NULL, s_options, NULL);

static const byzgd_option_section_t *const s_sections[] = {&s_section, &byzgd_gar_option_section,
                                                           NULL};

void
byzgd_server_config_init(byzgd_server_config_t *config)
{
    memset(config, 0, sizeof *config);
    // The rule's defaults include those no option row of the server sets (round 1).
    byzgd_gar_config_init(&config->gar);
    static const byzgd_option_section_t *const own[] = {&s_section, NULL};
    byzgd_options_apply_defaults(own, (void *const[]){config});
}

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
    void *states[] = {config, &config->gar};
    int parsed = byzgd_options_parse(&s_program, argc, argv, states, NULL, error, error_size);
    if (parsed != 0)
        return parsed;
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

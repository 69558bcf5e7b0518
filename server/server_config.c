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
#include "support/log.h"
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

const char *
byzgd_server_usage(void)
{
    return "usage: byzgd-server [options]\n"
           "  --endpoint EP          ROUTER endpoint (default tcp://127.0.0.1:5555; port * = any)\n"
           "  --endpoint-file FILE   write the bound endpoint there\n"
           "  --workers N            n workers expected\n"
           "  -f F                   Byzantine workers declared (the rule's f)\n"
           "  --rule NAME            average, krum, multi-krum, medoid, 1-p-krum, geomed, median,\n"
           "                         trimmed-mean, meamed, bulyan, mda, cclip\n"
           "  -m M, --tau T, --iterations K, --tolerance E, --smoothing S, --start S,\n"
           "  --bucket S, --nnm, --clip C   rule and pre-aggregator options (see byzgd-aggregate)\n"
           "  --model mlp|convnet|logreg [--hidden A,B]\n"
           "  --dataset fashion-mnist|mnist|spam|synthetic [--data-dir DIR] [--alpha A (0 = iid)]\n"
           "  --batch B              minibatch size of every worker (default 16)\n"
           "  --lr LR [--lr-schedule constant|inv-sqrt|step:EVERY:FACTOR]\n"
           "  --rounds R  --seed S\n"
           "  --quorum Q             proposals that close a round (default n)\n"
           "  --deadline-ms MS       round deadline (default 10000)\n"
           "  --max-wait-ms MS       extra wait when the rule's precondition fails (default 10x)\n"
           "  --heartbeat-ms MS  --heartbeat-timeout-ms MS   (defaults 1000, 30000)\n"
           "  --eval-every K         test-set evaluation every K rounds (default 10, 0 = never)\n"
           "  --eval-examples N      evaluate on the first N test examples (default all)\n"
           "  --metrics FILE         one JSON object per round\n"
           "  --checkpoint FILE [--checkpoint-every K] [--resume]\n"
           "  --keys DIR             server certificate and allowed worker keys (CURVE)\n"
           "  --insecure             no CURVE; worker identity = routing id (unsafe)\n"
           "  --deny-list FILE       worker keys refused on every message\n"
           "  --quiet                no progress line\n"
           "Exit status: 0 all rounds done, 1 runtime failure, 2 bad flags or configuration.\n";
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

// Flags without a value.
static bool
s_is_switch(const char *name)
{
    return streq(name, "resume") || streq(name, "insecure") || streq(name, "quiet") ||
           streq(name, "nnm") || streq(name, "help");
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
        config->resume = true;
        return 0;
    }
    if (streq(name, "insecure")) {
        config->insecure = true;
        return 0;
    }
    if (streq(name, "quiet")) {
        config->quiet = true;
        return 0;
    }
    // Everything else belongs to the aggregation rules (rule, m, tau, nnm, bucket, …).
    return byzgd_gar_config_parse_option(&config->gar, name, value ? value : "", e, es);
}

int
byzgd_server_config_parse(byzgd_server_config_t *config, int argc, char **argv, char *error,
                          size_t error_size)
{
    double lr = config->learning_rate.initial;
    const char *schedule = NULL;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!arg || arg[0] != '-' || arg[1] == '\0')
            return byzgd_set_error(error, error_size, "unexpected argument \"%s\"", arg);
        char name[64];
        const char *value = NULL;
        const char *body = arg[1] == '-' ? arg + 2 : arg + 1;
        const char *equals = strchr(body, '=');
        size_t name_size = equals ? (size_t)(equals - body) : strlen(body);
        if (name_size == 0 || name_size >= sizeof name)
            return byzgd_set_error(error, error_size, "bad option \"%s\"", arg);
        memcpy(name, body, name_size);
        name[name_size] = '\0';
        if (streq(name, "help") || streq(name, "h")) {
            fputs(byzgd_server_usage(), stdout);
            return 1;
        }
        if (equals)
            value = equals + 1;
        else if (!s_is_switch(name)) {
            if (i + 1 >= argc)
                return byzgd_set_error(error, error_size, "%s needs a value", arg);
            value = argv[++i];
        }
        if (s_apply(config, name, value, &lr, &schedule, error, error_size) != 0)
            return -1;
    }
    if (byzgd_lr_schedule_parse(&config->learning_rate, schedule ? schedule : "constant", lr, error,
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

int
byzgd_server_config_check_model(const byzgd_server_config_t *config, size_t *dimension_out,
                                char *error, size_t error_size)
{
    byzgd_dataset_options_t data_options = {0};
    data_options.data_dir = config->data_dir[0] ? config->data_dir : NULL;
    data_options.split = BYZGD_SPLIT_TEST;
    data_options.limit = 1; // the shape is all a check needs
    data_options.seed = config->seed;
    byzgd_dataset_t *test_set =
        byzgd_dataset_load(config->dataset, &data_options, error, error_size);
    if (!test_set)
        return -1;
    byzgd_model_spec_t spec = {.architecture = config->architecture,
                               .channels = test_set->channels,
                               .height = test_set->height,
                               .width = test_set->width,
                               .class_count = test_set->class_count,
                               .hidden = {config->hidden[0], config->hidden[1]}};
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

/*  cluster_config.c — byzgd-cluster's option tables (its own, plus the rule and attack
    tables it forwards), the store of given values, the cross-option check and the writer
    of the effective configuration. Value checks and the `name = value` parser are
    support/options.c's. */
#include "cluster_config.h"
#include "learning/attack.h"
#include "rules/gar_options.h"
#include "support/log.h"

#include <assert.h>
#include <pthread.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define S_INT_MAX 9007199254740992.0 // 2^53: every integer up to it is exact in a double

// clang-format off
static const byzgd_option_t s_run_options[] = {
    {"workers", BYZGD_OPTION_INT, 1, 1000, "20", BYZGD_CLUSTER_TO_SERVER,
     "n, all workers (honest and Byzantine)", NULL, NULL},
    {"byzantine", BYZGD_OPTION_INT, 0, 1000, "0", 0,
     "how many of the n workers attack", NULL, NULL},
    {"f", BYZGD_OPTION_INT, 0, 1000, NULL, BYZGD_CLUSTER_TO_SERVER,
     "f declared to the rule (default: --byzantine)", NULL, NULL},
    {"model", BYZGD_OPTION_NAME, 0, 0, "mlp", BYZGD_CLUSTER_TO_SERVER,
     "mlp, convnet or logreg", NULL, NULL},
    {"hidden", BYZGD_OPTION_LIST, 0, 0, NULL, BYZGD_CLUSTER_TO_SERVER,
     "the two hidden widths A,B (mlp units, convnet channels)", NULL, NULL},
    {"dataset", BYZGD_OPTION_NAME, 0, 0, "fashion-mnist", BYZGD_CLUSTER_TO_SERVER,
     "fashion-mnist, mnist, spam or synthetic", NULL, NULL},
    {"data-dir", BYZGD_OPTION_TEXT, 0, 0, NULL, BYZGD_CLUSTER_TO_SERVER | BYZGD_CLUSTER_TO_WORKERS,
     "where the dataset's files are (default: the dataset's own)", NULL, NULL},
    {"alpha", BYZGD_OPTION_NUMBER, 0, 1e6, NULL, BYZGD_CLUSTER_TO_SERVER,
     "Dirichlet alpha of the worker shards (0: iid)", NULL, NULL},
    {"rounds", BYZGD_OPTION_INT, 1, 1e7, "150", BYZGD_CLUSTER_TO_SERVER,
     "training rounds", NULL, NULL},
    {"batch", BYZGD_OPTION_INT, 1, 65536, "16", BYZGD_CLUSTER_TO_SERVER,
     "minibatch size of each worker", NULL, NULL},
    {"lr", BYZGD_OPTION_NUMBER, 0, 1e6, "0.05", BYZGD_CLUSTER_TO_SERVER,
     "learning rate", NULL, NULL},
    {"lr-schedule", BYZGD_OPTION_TEXT, 0, 0, NULL, BYZGD_CLUSTER_TO_SERVER,
     "learning-rate schedule, as byzgd-server --lr-schedule", NULL, NULL},
    {"seed", BYZGD_OPTION_INT, 0, S_INT_MAX, "1", BYZGD_CLUSTER_TO_SERVER,
     "seed of the whole run", NULL, NULL},
    {"quorum", BYZGD_OPTION_INT, 1, 1000, NULL, BYZGD_CLUSTER_TO_SERVER | BYZGD_CLUSTER_NETWORKED,
     "proposals that close a round (server default: n)", NULL, NULL},
    {"deadline-ms", BYZGD_OPTION_INT, 1, 3600000, NULL, BYZGD_CLUSTER_TO_SERVER | BYZGD_CLUSTER_NETWORKED,
     "round deadline in milliseconds", NULL, NULL},
    {"eval-every", BYZGD_OPTION_INT, 0, 1e7, NULL, BYZGD_CLUSTER_TO_SERVER,
     "evaluate on the test split every K rounds (and after the last)", NULL, NULL},
    {"eval-examples", BYZGD_OPTION_INT, 0, 1e7, NULL, BYZGD_CLUSTER_TO_SERVER,
     "test examples each evaluation uses (0: the whole test split)", NULL, NULL},
    {"max-wait-ms", BYZGD_OPTION_INT, 1, 86400000, NULL, BYZGD_CLUSTER_TO_SERVER | BYZGD_CLUSTER_NETWORKED,
     "how long past the deadline a round may wait for the rule's minimum", NULL, NULL},
    {"checkpoint-every", BYZGD_OPTION_INT, 0, 1e7, NULL, BYZGD_CLUSTER_TO_SERVER,
     "write RUN_DIR/checkpoint every K rounds (0: at the end only)", NULL, NULL},
};

static const byzgd_option_t s_process_options[] = {
    {"misbehave", BYZGD_OPTION_LIST, 0, 0, NULL, BYZGD_CLUSTER_NETWORKED,
     "protocol misbehaviour of the Byzantine workers, a list dealt out in turn", "MODE,...",
     byzgd_misbehaviour_names},
    {"endpoint", BYZGD_OPTION_TEXT, 0, 0, "tcp://127.0.0.1:*", BYZGD_CLUSTER_NETWORKED,
     "where the server binds: tcp://ADDRESS:PORT, ADDRESS an interface or 0.0.0.0 "
     "(default: a free local port)", NULL, NULL},
    // Across machines (docs/DEPLOY.md).
    {"serve", BYZGD_OPTION_FLAG, 0, 0, "false", BYZGD_CLUSTER_NETWORKED,
     "start only the server; worker hosts join it with --join", NULL, NULL},
    {"advertise", BYZGD_OPTION_TEXT, 0, 0, NULL, BYZGD_CLUSTER_NETWORKED,
     "--serve: tcp://HOST:PORT the workers dial, written to RUN_DIR/endpoint "
     "(default: --endpoint unless it binds 0.0.0.0)", NULL, NULL},
    {"keys", BYZGD_OPTION_TEXT, 0, 0, NULL, BYZGD_CLUSTER_NETWORKED,
     "existing key directory of byzgd-keygen (default: made in RUN_DIR/keys)", NULL, NULL},
    {"join", BYZGD_OPTION_TEXT, 0, 0, NULL, BYZGD_CLUSTER_NETWORKED,
     "tcp://HOST:PORT of a --serve server: start one worker per slot of --bundle", NULL, NULL},
    {"bundle", BYZGD_OPTION_TEXT, 0, 0, NULL, BYZGD_CLUSTER_NETWORKED,
     "--join: key bundle of this host (byzgd-keygen KEYS --bundle FILE --slots A-B)", NULL, NULL},
    {"join-timeout", BYZGD_OPTION_NUMBER, 1, 1e7, "600", BYZGD_CLUSTER_NETWORKED,
     "--serve: fail unless training starts within this many seconds; --join: workers "
     "give up after this long without the server", NULL, NULL},
    {"insecure", BYZGD_OPTION_FLAG, 0, 0, "false", BYZGD_CLUSTER_NETWORKED,
     "no CURVE encryption nor authentication (default: keys in RUN_DIR/keys)", NULL, NULL},
    {"no-supervise", BYZGD_OPTION_FLAG, 0, 0, "false", BYZGD_CLUSTER_NETWORKED,
     "run the server directly, not under byzgd-supervise (debugging)", NULL, NULL},
    {"server-memory-mb", BYZGD_OPTION_INT, 0, 1e7, "0", BYZGD_CLUSTER_NETWORKED,
     "supervisor's RSS cap on the server (0: 2048 + 8 per worker)", NULL, NULL},
    {"max-restarts", BYZGD_OPTION_INT, 0, 999999, "10", BYZGD_CLUSTER_NETWORKED,
     "server restarts the supervisor allows at once (one more every 6 s)", NULL, NULL},
    {"threads", BYZGD_OPTION_INT, 1, 64, "1", BYZGD_CLUSTER_TO_WORKERS,
     "compute threads per worker", NULL, NULL},
    {"run-dir", BYZGD_OPTION_TEXT, 0, 0, NULL, 0,
     "run directory (default: runs/<time>-<rule>-<attack>)", NULL, NULL},
    {"bin-dir", BYZGD_OPTION_TEXT, 0, 0, NULL, BYZGD_CLUSTER_NETWORKED,
     "directory of byzgd-server & co. (default: beside byzgd-cluster)", NULL, NULL},
    {"resume", BYZGD_OPTION_FLAG, 0, 0, "false", BYZGD_CLUSTER_NETWORKED,
     "continue the run in --run-dir from its checkpoint", NULL, NULL},
    {"timeout", BYZGD_OPTION_NUMBER, 0, 1e7, "0", BYZGD_CLUSTER_NETWORKED,
     "stop everything and fail after this many seconds (0: never)", NULL, NULL},
    {"quiet", BYZGD_OPTION_FLAG, 0, 0, "false", 0,
     "no progress lines, only the summary", NULL, NULL},
};
// clang-format on

// Stores a checked value in the configuration (every section's state).
static int s_store(void *state, const byzgd_option_section_t *section, const byzgd_option_t *option,
                   const char *value, char *error, size_t error_size);

static const byzgd_option_section_t s_run_section = {
    "Run options", s_run_options, sizeof s_run_options / sizeof s_run_options[0], 0, s_store};
static const byzgd_option_section_t s_process_section = {
    "Processes and transport", s_process_options,
    sizeof s_process_options / sizeof s_process_options[0], 0, s_store};

// The sections in order (written in this order by byzgd_cluster_config_format); the rule
// and attack sections are the tables of rules/gar_options.h and learning/attack.h, tagged
// with where byzgd-cluster forwards them. Built once (the tables live in other files).
static byzgd_option_section_t s_rule_section, s_attack_section;
static const byzgd_option_section_t *s_sections[5];
static size_t s_offsets[5], s_option_count;
static pthread_once_t s_sections_once = PTHREAD_ONCE_INIT;

static void
s_sections_init(void)
{
    s_rule_section = byzgd_gar_option_section;
    s_rule_section.tags = BYZGD_CLUSTER_TO_SERVER;
    s_rule_section.apply = s_store;
    s_attack_section = byzgd_attack_option_section;
    s_attack_section.tags = BYZGD_CLUSTER_TO_BYZANTINE;
    s_attack_section.apply = s_store;
    const byzgd_option_section_t *sections[] = {&s_run_section, &s_rule_section, &s_attack_section,
                                                &s_process_section};
    for (size_t i = 0; i < 4; i++) {
        s_sections[i] = sections[i];
        s_offsets[i] = s_option_count;
        s_option_count += sections[i]->count;
    }
}

const byzgd_option_section_t *const *
byzgd_cluster_sections(void)
{
    pthread_once(&s_sections_once, s_sections_init);
    return s_sections;
}

static int
s_load_file(void *state, const byzgd_option_section_t *section, const byzgd_option_t *option,
            const char *value, char *error, size_t error_size)
{
    (void)section;
    (void)option;
    return byzgd_cluster_config_load(state, value, error, error_size);
}

static const byzgd_option_t s_file_options[] = {
    {"config", BYZGD_OPTION_TEXT, 0, 0, NULL, 0,
     "read options from FILE (name = value lines, as in a run's RUN_DIR/config; later options "
     "win)",
     "FILE", NULL},
};

const byzgd_option_section_t byzgd_cluster_config_file_section =
    BYZGD_OPTION_SECTION("Configuration file", s_file_options, s_load_file);

struct byzgd_cluster_config_t {
    char **values; // given values (malloc'ed), NULL = default; one per option of every section
};

// byzgd-cluster's defaults: its own tables', and multi-krum. The embedded rule and attack
// tables' defaults are the server's and the workers' own: only given values are forwarded.
static const char *
s_default(const byzgd_option_t *option)
{
    if (strcmp(option->name, "rule") == 0)
        return "multi-krum";
    bool own =
        (option >= s_run_options && option < s_run_options + s_run_section.count) ||
        (option >= s_process_options && option < s_process_options + s_process_section.count);
    return own ? option->default_value : NULL;
}

static int
s_index(const char *name)
{
    size_t section = 0;
    const byzgd_option_t *option = byzgd_options_find(byzgd_cluster_sections(), name, &section);
    if (!option)
        return -1;
    return (int)(s_offsets[section] + (size_t)(option - s_sections[section]->options));
}

static const byzgd_option_t *
s_option_at(size_t index)
{
    size_t section = 0;
    while (section + 1 < 4 && index >= s_offsets[section + 1])
        section++;
    return &s_sections[section]->options[index - s_offsets[section]];
}

const byzgd_option_t *
byzgd_cluster_option_find(const char *name)
{
    return byzgd_options_find(byzgd_cluster_sections(), name, NULL);
}

unsigned
byzgd_cluster_option_tags(const char *name)
{
    size_t section = 0;
    const byzgd_option_t *option = byzgd_options_find(byzgd_cluster_sections(), name, &section);
    return option ? option->tags | s_sections[section]->tags : 0;
}

byzgd_cluster_config_t *
byzgd_cluster_config_new(void)
{
    byzgd_cluster_sections();
    byzgd_cluster_config_t *self = calloc(1, sizeof *self);
    if (!self || !(self->values = calloc(s_option_count, sizeof *self->values)))
        abort();
    return self;
}

void
byzgd_cluster_config_destroy(byzgd_cluster_config_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    for (size_t i = 0; i < s_option_count; i++)
        free((*self_p)->values[i]);
    free((*self_p)->values);
    free(*self_p);
    *self_p = NULL;
}

static int
s_store(void *state, const byzgd_option_section_t *section, const byzgd_option_t *option,
        const char *value, char *error, size_t error_size)
{
    (void)section;
    (void)error;
    (void)error_size;
    byzgd_cluster_config_t *self = state;
    int index = s_index(option->name);
    assert(index >= 0);
    char *copy = strdup(value);
    if (!copy)
        abort();
    free(self->values[index]);
    self->values[index] = copy;
    return 0;
}

int
byzgd_cluster_config_set(byzgd_cluster_config_t *self, const char *name, const char *value,
                         char *error, size_t error_size)
{
    assert(self && name && value);
    const byzgd_option_t *option = byzgd_cluster_option_find(name);
    if (!option)
        return byzgd_set_error(error, error_size, "unknown option '%.64s'", name);
    const char *checked = byzgd_option_check(option, value, error, error_size);
    if (!checked)
        return -1;
    return s_store(self, NULL, option, checked, error, error_size);
}

void
byzgd_cluster_config_unset(byzgd_cluster_config_t *self, const char *name)
{
    int index = s_index(name);
    assert(index >= 0);
    free(self->values[index]);
    self->values[index] = NULL;
}

const char *
byzgd_cluster_config_get(const byzgd_cluster_config_t *self, const char *name)
{
    int index = s_index(name);
    assert(index >= 0);
    return self->values[index] ? self->values[index] : s_default(s_option_at((size_t)index));
}

bool
byzgd_cluster_config_is_set(const byzgd_cluster_config_t *self, const char *name)
{
    int index = s_index(name);
    assert(index >= 0);
    return self->values[index] != NULL;
}

long long
byzgd_cluster_config_get_int(const byzgd_cluster_config_t *self, const char *name)
{
    const char *value = byzgd_cluster_config_get(self, name);
    assert(value && byzgd_cluster_option_find(name)->type == BYZGD_OPTION_INT);
    return strtoll(value, NULL, 10);
}

double
byzgd_cluster_config_get_number(const byzgd_cluster_config_t *self, const char *name)
{
    const char *value = byzgd_cluster_config_get(self, name);
    assert(value && byzgd_cluster_option_find(name)->type == BYZGD_OPTION_NUMBER);
    return strtod(value, NULL);
}

bool
byzgd_cluster_config_get_flag(const byzgd_cluster_config_t *self, const char *name)
{
    const char *value = byzgd_cluster_config_get(self, name);
    assert(byzgd_cluster_option_find(name)->type == BYZGD_OPTION_FLAG);
    return value && strcmp(value, "true") == 0;
}

int
byzgd_cluster_config_parse(byzgd_cluster_config_t *self, const char *text, size_t size,
                           const char *origin, char *error, size_t error_size)
{
    assert(self && (text || size == 0) && origin);
    // Parse into a scratch configuration so that an error applies nothing.
    byzgd_cluster_config_t *scratch = byzgd_cluster_config_new();
    void *states[] = {scratch, scratch, scratch, scratch};
    int result = byzgd_options_parse_lines(byzgd_cluster_sections(), text, size,
                                           BYZGD_CLUSTER_CONFIG_MAX_BYTES, origin, states, error,
                                           error_size);
    for (size_t i = 0; result == 0 && i < s_option_count; i++)
        if (scratch->values[i]) {
            free(self->values[i]);
            self->values[i] = scratch->values[i];
            scratch->values[i] = NULL;
        }
    byzgd_cluster_config_destroy(&scratch);
    return result;
}

int
byzgd_cluster_config_load(byzgd_cluster_config_t *self, const char *path, char *error,
                          size_t error_size)
{
    FILE *file = fopen(path, "rb");
    if (!file)
        return byzgd_set_error(error, error_size, "%s: %s", path, strerror(errno));
    struct stat info;
    if (fstat(fileno(file), &info) != 0 || !S_ISREG(info.st_mode)) {
        fclose(file);
        return byzgd_set_error(error, error_size, "%s: not a regular file", path);
    }
    // Read one byte more than allowed to tell "too large" from "exactly the limit".
    char *text = malloc(BYZGD_CLUSTER_CONFIG_MAX_BYTES + 1);
    if (!text)
        abort();
    size_t size = fread(text, 1, BYZGD_CLUSTER_CONFIG_MAX_BYTES + 1, file);
    int read_error = ferror(file);
    fclose(file);
    int result;
    if (read_error)
        result = byzgd_set_error(error, error_size, "%s: read error", path);
    else
        result = byzgd_cluster_config_parse(self, text, size, path, error, error_size);
    free(text);
    return result;
}

int
byzgd_cluster_config_check(const byzgd_cluster_config_t *self, char *error, size_t error_size)
{
    long long workers = byzgd_cluster_config_get_int(self, "workers");
    long long byzantine = byzgd_cluster_config_get_int(self, "byzantine");
    if (byzantine > workers)
        return byzgd_set_error(error, error_size, "--byzantine %lld exceeds --workers %lld",
                               byzantine, workers);
    if (byzgd_cluster_config_get(self, "f") && byzgd_cluster_config_get_int(self, "f") > workers)
        return byzgd_set_error(error, error_size, "-f %lld exceeds --workers %lld",
                               byzgd_cluster_config_get_int(self, "f"), workers);
    if (byzgd_cluster_config_get(self, "quorum") &&
        byzgd_cluster_config_get_int(self, "quorum") > workers)
        return byzgd_set_error(error, error_size, "--quorum %lld exceeds --workers %lld",
                               byzgd_cluster_config_get_int(self, "quorum"), workers);
    const char *attack = byzgd_cluster_config_get(self, "attack");
    const char *misbehave = byzgd_cluster_config_get(self, "misbehave");
    if (byzantine > 0 && !attack && !misbehave)
        return byzgd_set_error(error, error_size,
                               "--byzantine %lld needs --attack NAME or --misbehave MODE",
                               byzantine);
    if (byzantine == 0 && (attack || misbehave))
        return byzgd_set_error(error, error_size, "--%s needs --byzantine > 0",
                               attack ? "attack" : "misbehave");
    // Names the programs would refuse, refused here before any process starts.
    byzgd_gar_rule_t rule;
    if (byzgd_gar_rule_from_name(byzgd_cluster_config_get(self, "rule"), &rule) != 0) {
        char names[512];
        byzgd_options_join(byzgd_gar_rule_names(), names, sizeof names);
        return byzgd_set_error(error, error_size, "--rule: unknown rule '%s' (%s)",
                               byzgd_cluster_config_get(self, "rule"), names);
    }
    byzgd_attack_kind_t kind;
    if (attack && byzgd_attack_kind_from_name(attack, &kind) != 0)
        return byzgd_set_error(error, error_size,
                               "--attack: unknown attack '%s' (see "
                               "byzgd-byzantine --help)",
                               attack);
    for (const char *item = misbehave; item;) {
        const char *comma = strchr(item, ',');
        size_t length = comma ? (size_t)(comma - item) : strlen(item);
        char mode[64];
        snprintf(mode, sizeof mode, "%.*s", (int)length, item);
        byzgd_misbehaviour_t misbehaviour;
        if (byzgd_misbehaviour_from_name(mode, &misbehaviour) != 0) {
            char names[256];
            byzgd_options_join(byzgd_misbehaviour_names(), names, sizeof names);
            return byzgd_set_error(error, error_size, "--misbehave: unknown mode '%s' (%s)", mode,
                                   names);
        }
        item = comma ? comma + 1 : NULL;
    }
    bool serve = byzgd_cluster_config_get_flag(self, "serve");
    const char *join = byzgd_cluster_config_get(self, "join");
    if (serve && join)
        return byzgd_set_error(error, error_size, "--serve and --join exclude each other");
    if (join && !byzgd_cluster_config_get(self, "bundle"))
        return byzgd_set_error(error, error_size, "--join needs --bundle FILE (this host's keys)");
    if (!join && byzgd_cluster_config_get(self, "bundle"))
        return byzgd_set_error(error, error_size, "--bundle is for --join");
    if (join && byzgd_cluster_config_get(self, "keys"))
        return byzgd_set_error(error, error_size,
                               "--join takes its keys from --bundle, not --keys");
    if (serve && byzantine > 0)
        return byzgd_set_error(error, error_size,
                               "--serve starts no worker: give --byzantine to the --join hosts "
                               "and -f to the server");
    if (!serve && byzgd_cluster_config_get(self, "advertise"))
        return byzgd_set_error(error, error_size, "--advertise is for --serve");
    if (byzgd_cluster_config_is_set(self, "sigma") && byzgd_cluster_config_is_set(self, "variance"))
        return byzgd_set_error(error, error_size, "--sigma and --variance exclude each other");
    return 0;
}

char *
byzgd_cluster_config_format(const byzgd_cluster_config_t *self, const char *const *omit)
{
    size_t capacity = 4096, length = 0;
    char *text = malloc(capacity);
    if (!text)
        abort();
    text[0] = '\0';
    for (size_t i = 0; i < s_option_count; i++) {
        const byzgd_option_t *option = s_option_at(i);
        const char *value = byzgd_cluster_config_get(self, option->name);
        if (!value)
            continue;
        bool omitted = false;
        for (size_t j = 0; omit && omit[j] && !omitted; j++)
            omitted = strcmp(omit[j], option->name) == 0;
        size_t need = strlen(option->name) + strlen(value) + 8;
        while (length + need + 1 > capacity) {
            capacity *= 2;
            text = realloc(text, capacity);
            if (!text)
                abort();
        }
        length += (size_t)snprintf(text + length, capacity - length, "%s%s = %s\n",
                                   omitted ? "# " : "", option->name, value);
    }
    return text;
}

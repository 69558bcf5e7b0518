/*  cluster_config.c — the option table of byzgd-cluster, value checks, the strict
    `name = value` parser and the writer of the effective configuration. */
#include "cluster_config.h"
#include "learning/attack.h"
#include "rules/gar.h"
#include "support/log.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define S_INT_MAX 9007199254740992.0 // 2^53: every integer up to it is exact in a double

// clang-format off
static const byzgd_cluster_option_t s_options[] = {
    // The run.
    {"workers", BYZGD_CLUSTER_INT, 1, 1000, "20", BYZGD_CLUSTER_TO_SERVER,
     "n, all workers (honest and Byzantine)"},
    {"byzantine", BYZGD_CLUSTER_INT, 0, 1000, "0", 0,
     "how many of the n workers attack"},
    {"attack", BYZGD_CLUSTER_NAME, 0, 0, NULL, BYZGD_CLUSTER_TO_BYZANTINE,
     "attack of the Byzantine workers (gaussian, omniscient, signflip, alie, ipm, ...)"},
    {"f", BYZGD_CLUSTER_INT, 0, 1000, NULL, BYZGD_CLUSTER_TO_SERVER,
     "f declared to the rule (default: --byzantine)"},
    {"rule", BYZGD_CLUSTER_NAME, 0, 0, "multi-krum", BYZGD_CLUSTER_TO_SERVER,
     "aggregation rule (average, krum, multi-krum, medoid, geomed, ...)"},
    {"model", BYZGD_CLUSTER_NAME, 0, 0, "mlp", BYZGD_CLUSTER_TO_SERVER,
     "mlp, convnet or logreg"},
    {"hidden", BYZGD_CLUSTER_LIST, 0, 0, NULL, BYZGD_CLUSTER_TO_SERVER,
     "the two hidden widths A,B (mlp units, convnet channels)"},
    {"dataset", BYZGD_CLUSTER_NAME, 0, 0, "fashion-mnist", BYZGD_CLUSTER_TO_SERVER,
     "fashion-mnist, mnist, spam or synthetic"},
    {"data-dir", BYZGD_CLUSTER_TEXT, 0, 0, NULL, BYZGD_CLUSTER_TO_SERVER | BYZGD_CLUSTER_TO_WORKERS,
     "where the dataset's files are (default: the dataset's own)"},
    {"alpha", BYZGD_CLUSTER_NUMBER, 0, 1e6, NULL, BYZGD_CLUSTER_TO_SERVER,
     "Dirichlet alpha of the worker shards (0: iid)"},
    {"rounds", BYZGD_CLUSTER_INT, 1, 1e7, "150", BYZGD_CLUSTER_TO_SERVER,
     "training rounds"},
    {"batch", BYZGD_CLUSTER_INT, 1, 65536, "16", BYZGD_CLUSTER_TO_SERVER,
     "minibatch size of each worker"},
    {"lr", BYZGD_CLUSTER_NUMBER, 0, 1e6, "0.05", BYZGD_CLUSTER_TO_SERVER,
     "learning rate"},
    {"lr-schedule", BYZGD_CLUSTER_TEXT, 0, 0, NULL, BYZGD_CLUSTER_TO_SERVER,
     "learning-rate schedule, as byzgd-server --lr-schedule"},
    {"seed", BYZGD_CLUSTER_INT, 0, S_INT_MAX, "1", BYZGD_CLUSTER_TO_SERVER,
     "seed of the whole run"},
    {"quorum", BYZGD_CLUSTER_INT, 1, 1000, NULL, BYZGD_CLUSTER_TO_SERVER,
     "proposals that close a round (server default: n)"},
    {"deadline-ms", BYZGD_CLUSTER_INT, 1, 3600000, NULL, BYZGD_CLUSTER_TO_SERVER,
     "round deadline in milliseconds"},
    {"eval-every", BYZGD_CLUSTER_INT, 0, 1e7, NULL, BYZGD_CLUSTER_TO_SERVER,
     "evaluate on the test split every K rounds (and after the last)"},
    {"eval-examples", BYZGD_CLUSTER_INT, 0, 1e7, NULL, BYZGD_CLUSTER_TO_SERVER,
     "test examples each evaluation uses (0: the whole test split)"},
    {"max-wait-ms", BYZGD_CLUSTER_INT, 1, 86400000, NULL, BYZGD_CLUSTER_TO_SERVER,
     "how long past the deadline a round may wait for the rule's minimum"},
    {"checkpoint-every", BYZGD_CLUSTER_INT, 0, 1e7, NULL, BYZGD_CLUSTER_TO_SERVER,
     "write RUN_DIR/checkpoint every K rounds (0: at the end only)"},
    // Rule options (as byzgd-aggregate).
    {"m", BYZGD_CLUSTER_INT, 1, 1000, NULL, BYZGD_CLUSTER_TO_SERVER,
     "multi-krum: vectors averaged (default n - f)"},
    {"tau", BYZGD_CLUSTER_NUMBER, 0, 1e30, NULL, BYZGD_CLUSTER_TO_SERVER,
     "centered clipping radius"},
    {"iterations", BYZGD_CLUSTER_INT, 1, 1e6, NULL, BYZGD_CLUSTER_TO_SERVER,
     "geomed iteration cap / centered clipping iterations"},
    {"tolerance", BYZGD_CLUSTER_NUMBER, 0, 1, NULL, BYZGD_CLUSTER_TO_SERVER,
     "geomed tolerance"},
    {"bucket", BYZGD_CLUSTER_INT, 1, 1000, NULL, BYZGD_CLUSTER_TO_SERVER,
     "bucketing pre-aggregator: bucket size"},
    {"nnm", BYZGD_CLUSTER_FLAG, 0, 0, NULL, BYZGD_CLUSTER_TO_SERVER,
     "nearest-neighbour mixing pre-aggregator"},
    {"clip", BYZGD_CLUSTER_NUMBER, 0, 1e30, NULL, BYZGD_CLUSTER_TO_SERVER,
     "norm clipping pre-aggregator: largest L2 norm"},
    // Attack options (as byzgd-byzantine).
    {"sigma", BYZGD_CLUSTER_NUMBER, 0, 1e30, NULL, BYZGD_CLUSTER_TO_BYZANTINE,
     "gaussian: standard deviation (default sqrt(200))"},
    {"variance", BYZGD_CLUSTER_NUMBER, 0, 1e30, NULL, BYZGD_CLUSTER_TO_BYZANTINE,
     "gaussian: variance (the paper's 200), instead of --sigma"},
    {"kappa", BYZGD_CLUSTER_NUMBER, -1e30, 1e30, NULL, BYZGD_CLUSTER_TO_BYZANTINE,
     "omniscient: scale"},
    {"z", BYZGD_CLUSTER_NUMBER, -1e30, 1e30, NULL, BYZGD_CLUSTER_TO_BYZANTINE,
     "alie: z (default from n and f)"},
    {"epsilon", BYZGD_CLUSTER_NUMBER, -1e30, 1e30, NULL, BYZGD_CLUSTER_TO_BYZANTINE,
     "ipm: epsilon"},
    {"collude", BYZGD_CLUSTER_NAME, 0, 0, NULL, BYZGD_CLUSTER_TO_BYZANTINE,
     "yes, no or auto: colluders share one random stream"},
    {"misbehave", BYZGD_CLUSTER_LIST, 0, 0, NULL, 0,
     "protocol misbehaviour of the Byzantine workers, a list dealt out in turn: duplicate, "
     "stale, wrong-dimension, oversized, garbage, silence, slow"},
    // Processes and transport.
    {"endpoint", BYZGD_CLUSTER_TEXT, 0, 0, "tcp://127.0.0.1:*", 0,
     "server endpoint (default: a free local port)"},
    {"insecure", BYZGD_CLUSTER_FLAG, 0, 0, "false", 0,
     "no CURVE encryption nor authentication (default: keys in RUN_DIR/keys)"},
    {"no-supervise", BYZGD_CLUSTER_FLAG, 0, 0, "false", 0,
     "run the server directly, not under byzgd-supervise (debugging)"},
    {"server-memory-mb", BYZGD_CLUSTER_INT, 0, 1e7, "0", 0,
     "supervisor's RSS cap on the server (0: 2048 + 8 per worker)"},
    {"max-restarts", BYZGD_CLUSTER_INT, 0, 999999, "10", 0,
     "server restarts the supervisor allows at once (one more every 6 s)"},
    {"threads", BYZGD_CLUSTER_INT, 1, 64, "1", BYZGD_CLUSTER_TO_WORKERS,
     "compute threads per worker"},
    {"run-dir", BYZGD_CLUSTER_TEXT, 0, 0, NULL, 0,
     "run directory (default: runs/<time>-<rule>-<attack>)"},
    {"bin-dir", BYZGD_CLUSTER_TEXT, 0, 0, NULL, 0,
     "directory of byzgd-server & co. (default: beside byzgd-cluster)"},
    {"resume", BYZGD_CLUSTER_FLAG, 0, 0, "false", 0,
     "continue the run in --run-dir from its checkpoint"},
    {"timeout", BYZGD_CLUSTER_NUMBER, 0, 1e7, "0", 0,
     "stop everything and fail after this many seconds (0: never)"},
    {"quiet", BYZGD_CLUSTER_FLAG, 0, 0, "false", 0,
     "no progress lines, only the summary"},
};
// clang-format on

#define S_OPTION_COUNT (sizeof s_options / sizeof s_options[0])

struct byzgd_cluster_config_t {
    char *values[S_OPTION_COUNT]; // given values (malloc'ed), NULL = default
};

const byzgd_cluster_option_t *
byzgd_cluster_options(size_t *count_out)
{
    if (count_out)
        *count_out = S_OPTION_COUNT;
    return s_options;
}

static int
s_index(const char *name)
{
    for (size_t i = 0; i < S_OPTION_COUNT; i++)
        if (strcmp(s_options[i].name, name) == 0)
            return (int)i;
    return -1;
}

const byzgd_cluster_option_t *
byzgd_cluster_option_find(const char *name)
{
    int index = s_index(name);
    return index < 0 ? NULL : &s_options[index];
}

byzgd_cluster_config_t *
byzgd_cluster_config_new(void)
{
    byzgd_cluster_config_t *self = calloc(1, sizeof *self);
    if (!self)
        abort();
    return self;
}

void
byzgd_cluster_config_destroy(byzgd_cluster_config_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    for (size_t i = 0; i < S_OPTION_COUNT; i++)
        free((*self_p)->values[i]);
    free(*self_p);
    *self_p = NULL;
}

static bool
s_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

static bool
s_valid_name(const char *value, size_t length)
{
    if (length == 0 || length > 63 || value[0] == '.' || value[0] == '_' || value[0] == '-')
        return false;
    for (size_t i = 0; i < length; i++)
        if (!s_name_char(value[i]))
            return false;
    return true;
}

static bool
s_valid_list(const char *value)
{
    size_t length = strlen(value);
    if (length == 0 || length > 255)
        return false;
    const char *item = value;
    for (;;) {
        const char *comma = strchr(item, ',');
        size_t item_length = comma ? (size_t)(comma - item) : strlen(item);
        if (!s_valid_name(item, item_length))
            return false;
        if (!comma)
            return true;
        item = comma + 1;
    }
}

// Decimal numbers only: no hex, inf, nan or leading/trailing space that strtod accepts.
static bool
s_decimal_chars(const char *value, bool allow_fraction)
{
    if (!*value)
        return false;
    for (const char *c = value; *c; c++) {
        bool digit = *c >= '0' && *c <= '9';
        bool sign = *c == '-' || *c == '+';
        bool fraction = *c == '.' || *c == 'e' || *c == 'E';
        if (!digit && !sign && !(allow_fraction && fraction))
            return false;
    }
    return true;
}

// Checks `value` for `option`; writes the canonical stored form into *canonical (malloc'ed).
static int
s_check_value(const byzgd_cluster_option_t *option, const char *value, char **canonical,
              char *error, size_t error_size)
{
    const char *name = option->name;
    const char *dashes = strlen(name) == 1 ? "-" : "--";
    size_t length = strlen(value);
    switch (option->type) {
    case BYZGD_CLUSTER_INT: {
        char *end = NULL;
        errno = 0;
        long long number = s_decimal_chars(value, false) ? strtoll(value, &end, 10) : 0;
        if (!end || *end || errno)
            return byzgd_set_error(error, error_size, "%s%s: '%.64s' is not an integer", dashes,
                                   name, value);
        if ((double)number < option->min || (double)number > option->max)
            return byzgd_set_error(error, error_size, "%s%s: %lld is outside [%.0f, %.0f]", dashes,
                                   name, number, option->min, option->max);
        break;
    }
    case BYZGD_CLUSTER_NUMBER: {
        char *end = NULL;
        errno = 0;
        double number = s_decimal_chars(value, true) ? strtod(value, &end) : 0;
        if (!end || *end || errno || !isfinite(number))
            return byzgd_set_error(error, error_size, "%s%s: '%.64s' is not a number", dashes, name,
                                   value);
        if (number < option->min || number > option->max)
            return byzgd_set_error(error, error_size, "%s%s: %g is outside [%g, %g]", dashes, name,
                                   number, option->min, option->max);
        break;
    }
    case BYZGD_CLUSTER_NAME:
        if (!s_valid_name(value, length))
            return byzgd_set_error(error, error_size,
                                   "%s%s: '%.64s' is not a name (lower-case letters, digits, "
                                   "'-', '_', '.'; at most 63)",
                                   dashes, name, value);
        break;
    case BYZGD_CLUSTER_LIST:
        if (!s_valid_list(value))
            return byzgd_set_error(error, error_size,
                                   "%s%s: '%.64s' is not a comma-separated list of names", dashes,
                                   name, value);
        break;
    case BYZGD_CLUSTER_TEXT:
        if (length == 0 || length >= BYZGD_CLUSTER_CONFIG_MAX_LINE)
            return byzgd_set_error(error, error_size, "%s%s: empty or longer than %d bytes", dashes,
                                   name, BYZGD_CLUSTER_CONFIG_MAX_LINE - 1);
        for (size_t i = 0; i < length; i++)
            if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f)
                return byzgd_set_error(error, error_size, "%s%s: control character in value",
                                       dashes, name);
        break;
    case BYZGD_CLUSTER_FLAG: {
        static const char *const truths[] = {"true", "yes", "on", "1", NULL};
        static const char *const lies[] = {"false", "no", "off", "0", NULL};
        const char *stored = NULL;
        for (size_t i = 0; truths[i] && !stored; i++)
            if (strcmp(value, truths[i]) == 0)
                stored = "true";
        for (size_t i = 0; lies[i] && !stored; i++)
            if (strcmp(value, lies[i]) == 0)
                stored = "false";
        if (!stored)
            return byzgd_set_error(error, error_size, "--%s: '%.64s' is not true or false", name,
                                   value);
        value = stored;
        break;
    }
    }
    *canonical = strdup(value);
    if (!*canonical)
        abort();
    return 0;
}

int
byzgd_cluster_config_set(byzgd_cluster_config_t *self, const char *name, const char *value,
                         char *error, size_t error_size)
{
    assert(self && name && value);
    int index = s_index(name);
    if (index < 0)
        return byzgd_set_error(error, error_size, "unknown option '%.64s'", name);
    char *canonical = NULL;
    if (s_check_value(&s_options[index], value, &canonical, error, error_size) != 0)
        return -1;
    free(self->values[index]);
    self->values[index] = canonical;
    return 0;
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
    return self->values[index] ? self->values[index] : s_options[index].default_value;
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
    assert(value && byzgd_cluster_option_find(name)->type == BYZGD_CLUSTER_INT);
    return strtoll(value, NULL, 10);
}

double
byzgd_cluster_config_get_number(const byzgd_cluster_config_t *self, const char *name)
{
    const char *value = byzgd_cluster_config_get(self, name);
    assert(value && byzgd_cluster_option_find(name)->type == BYZGD_CLUSTER_NUMBER);
    return strtod(value, NULL);
}

bool
byzgd_cluster_config_get_flag(const byzgd_cluster_config_t *self, const char *name)
{
    const char *value = byzgd_cluster_config_get(self, name);
    assert(byzgd_cluster_option_find(name)->type == BYZGD_CLUSTER_FLAG);
    return value && strcmp(value, "true") == 0;
}

static bool
s_blank(char c)
{
    return c == ' ' || c == '\t';
}

int
byzgd_cluster_config_parse(byzgd_cluster_config_t *self, const char *text, size_t size,
                           const char *origin, char *error, size_t error_size)
{
    assert(self && (text || size == 0) && origin);
    if (size > BYZGD_CLUSTER_CONFIG_MAX_BYTES)
        return byzgd_set_error(error, error_size, "%s: larger than %d bytes", origin,
                               BYZGD_CLUSTER_CONFIG_MAX_BYTES);
    // Parse into a scratch configuration so that an error applies nothing.
    byzgd_cluster_config_t *scratch = byzgd_cluster_config_new();
    bool given[S_OPTION_COUNT] = {false};
    char line[BYZGD_CLUSTER_CONFIG_MAX_LINE + 1];
    char message[256];
    size_t position = 0, line_number = 0;
    int result = -1;
    while (position < size) {
        line_number++;
        const char *start = text + position;
        const char *newline = memchr(start, '\n', size - position);
        size_t length = newline ? (size_t)(newline - start) : size - position;
        position += length + (newline ? 1 : 0);
        if (length > 0 && start[length - 1] == '\r')
            length--;
        if (length > BYZGD_CLUSTER_CONFIG_MAX_LINE) {
            byzgd_set_error(error, error_size, "%s:%zu: line longer than %d bytes", origin,
                            line_number, BYZGD_CLUSTER_CONFIG_MAX_LINE);
            goto cleanup;
        }
        for (size_t i = 0; i < length; i++) {
            unsigned char c = (unsigned char)start[i];
            if ((c < 0x20 && c != '\t') || c == 0x7f) {
                byzgd_set_error(error, error_size, "%s:%zu: control character (byte 0x%02x)",
                                origin, line_number, c);
                goto cleanup;
            }
        }
        memcpy(line, start, length);
        line[length] = '\0';
        // Trim both ends.
        char *begin = line, *end = line + length;
        while (begin < end && s_blank(*begin))
            begin++;
        while (end > begin && s_blank(end[-1]))
            *--end = '\0';
        if (begin == end || *begin == '#')
            continue;
        char *equals = strchr(begin, '=');
        if (!equals) {
            byzgd_set_error(error, error_size, "%s:%zu: expected 'name = value'", origin,
                            line_number);
            goto cleanup;
        }
        char *name_end = equals;
        while (name_end > begin && s_blank(name_end[-1]))
            name_end--;
        *name_end = '\0';
        char *value = equals + 1;
        while (*value && s_blank(*value))
            value++;
        int index = s_index(begin);
        if (index < 0) {
            byzgd_set_error(error, error_size, "%s:%zu: unknown option '%.64s'", origin,
                            line_number, begin);
            goto cleanup;
        }
        if (given[index]) {
            byzgd_set_error(error, error_size, "%s:%zu: '%s' given twice", origin, line_number,
                            begin);
            goto cleanup;
        }
        if (!*value) {
            byzgd_set_error(error, error_size, "%s:%zu: '%s' has no value", origin, line_number,
                            begin);
            goto cleanup;
        }
        if (byzgd_cluster_config_set(scratch, begin, value, message, sizeof message) != 0) {
            byzgd_set_error(error, error_size, "%s:%zu: %s", origin, line_number, message);
            goto cleanup;
        }
        given[index] = true;
    }
    for (size_t i = 0; i < S_OPTION_COUNT; i++)
        if (scratch->values[i]) {
            free(self->values[i]);
            self->values[i] = scratch->values[i];
            scratch->values[i] = NULL;
        }
    result = 0;
cleanup:
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

// Appends the names of a NULL-terminated list to buffer, comma-separated.
static void
s_join(char *buffer, size_t size, const char *const *names)
{
    size_t length = 0;
    buffer[0] = '\0';
    for (size_t i = 0; names[i] && length < size; i++)
        length += (size_t)snprintf(buffer + length, size - length, "%s%s", i ? ", " : "", names[i]);
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
        s_join(names, sizeof names, byzgd_gar_rule_names());
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
        if (byzgd_misbehaviour_from_name(mode, &misbehaviour) != 0)
            return byzgd_set_error(error, error_size,
                                   "--misbehave: unknown mode '%s' (duplicate, stale, "
                                   "wrong-dimension, oversized, garbage, silence, slow)",
                                   mode);
        item = comma ? comma + 1 : NULL;
    }
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
    for (size_t i = 0; i < S_OPTION_COUNT; i++) {
        const char *value = byzgd_cluster_config_get(self, s_options[i].name);
        if (!value)
            continue;
        bool omitted = false;
        for (size_t j = 0; omit && omit[j] && !omitted; j++)
            omitted = strcmp(omit[j], s_options[i].name) == 0;
        size_t need = strlen(s_options[i].name) + strlen(value) + 8;
        while (length + need + 1 > capacity) {
            capacity *= 2;
            text = realloc(text, capacity);
            if (!text)
                abort();
        }
        length += (size_t)snprintf(text + length, capacity - length, "%s%s = %s\n",
                                   omitted ? "# " : "", s_options[i].name, value);
    }
    return text;
}

/*  cluster_config.h — the settings of byzgd-cluster: option tables (support/options.h)
    shared by the command line (`--name value`), the configuration file (`name = value` lines) and
    the effective configuration written to RUN_DIR/config, so that
    `byzgd-cluster --config RUN_DIR/config` reproduces a run.

    A configuration file is outside input and parsed strictly: at most
    BYZGD_CLUSTER_CONFIG_MAX_BYTES bytes and BYZGD_CLUSTER_CONFIG_MAX_LINE bytes per line, no
    NUL or control characters, `#` starts a comment line, blank lines are allowed, every
    other line is `name = value` with a known name given once, and every value is checked
    against its option's type and range. Errors name the origin and line:
    "run.conf:3: unknown option 'wokers'".

    byzgd_cluster_config_t *config = byzgd_cluster_config_new();
    byzgd_cluster_config_set(config, "workers", "20", error, sizeof error);
    byzgd_cluster_config_load(config, "run.conf", error, sizeof error);
    long long n = byzgd_cluster_config_get_int(config, "workers");
    byzgd_cluster_config_destroy(&config); */
#ifndef BYZGD_CLUSTER_CONFIG_H
#define BYZGD_CLUSTER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "support/options.h"

#define BYZGD_CLUSTER_CONFIG_MAX_BYTES (64 * 1024)
#define BYZGD_CLUSTER_CONFIG_MAX_LINE  (BYZGD_OPTION_VALUE_MAX + 1)

// Where byzgd-cluster forwards an option (the option's tags): as `--name value` (or
// `-n value` for one-letter names; a FLAG as `--name` when true). 0: the launcher itself
// uses it.
enum {
    BYZGD_CLUSTER_TO_SERVER = 1u << 0,
    BYZGD_CLUSTER_TO_WORKERS = 1u << 1,   // honest and Byzantine workers
    BYZGD_CLUSTER_TO_BYZANTINE = 1u << 2, // Byzantine workers only
    // Meaningful only with processes and a network (transport, supervision, timing of a
    // round, protocol misbehaviours): byzgd-simulate refuses it on its command line and
    // ignores it in configuration files (a cluster's RUN_DIR/config lists every option).
    BYZGD_CLUSTER_NETWORKED = 1u << 3,
};

typedef struct byzgd_cluster_config_t byzgd_cluster_config_t;

// The option sections, NULL-terminated: the run, the rule options (rules/gar_options.h),
// the attack options (learning/attack.h), processes and transport. A section's tags are
// OR'ed into its options' tags.
const byzgd_option_section_t *const *byzgd_cluster_sections(void);

// The `--config FILE` option of byzgd-cluster and byzgd-simulate (command line only): reads
// FILE with byzgd_cluster_config_load into the section's state, a byzgd_cluster_config_t.
extern const byzgd_option_section_t byzgd_cluster_config_file_section;

// The option called `name`, or NULL.
const byzgd_option_t *byzgd_cluster_option_find(const char *name);
// Where the option `name` is forwarded: BYZGD_CLUSTER_TO_* bits (0 for an unknown name).
unsigned byzgd_cluster_option_tags(const char *name);

// An empty configuration (every option at its default).
byzgd_cluster_config_t *byzgd_cluster_config_new(void);
void byzgd_cluster_config_destroy(byzgd_cluster_config_t **self_p);

// Sets option `name` to `value` after checking it; a later set replaces an earlier one.
// Returns 0, or -1 with a message such as "--workers: 'abc' is not an integer".
int byzgd_cluster_config_set(byzgd_cluster_config_t *self, const char *name, const char *value,
                             char *error, size_t error_size);

// Forgets a value given for `name` (its default applies again).
void byzgd_cluster_config_unset(byzgd_cluster_config_t *self, const char *name);

// The value given, else the default, else NULL (borrowed, valid until the next set).
const char *byzgd_cluster_config_get(const byzgd_cluster_config_t *self, const char *name);
// True if a value was given (not just the default).
bool byzgd_cluster_config_is_set(const byzgd_cluster_config_t *self, const char *name);
// Typed getters; the option must have a value (given or default) of that type.
long long byzgd_cluster_config_get_int(const byzgd_cluster_config_t *self, const char *name);
double byzgd_cluster_config_get_number(const byzgd_cluster_config_t *self, const char *name);
bool byzgd_cluster_config_get_flag(const byzgd_cluster_config_t *self, const char *name);

// Applies `name = value` lines from text[0..size) (not NUL-terminated); `origin` names the
// source in messages. A name given twice in one text is an error. On error nothing is
// applied. Returns 0, or -1 with "origin:line: problem".
int byzgd_cluster_config_parse(byzgd_cluster_config_t *self, const char *text, size_t size,
                               const char *origin, char *error, size_t error_size);

// Reads file `path` (at most BYZGD_CLUSTER_CONFIG_MAX_BYTES) and parses it.
// Returns 0, or -1 with a message.
int byzgd_cluster_config_load(byzgd_cluster_config_t *self, const char *path, char *error,
                              size_t error_size);

// Checks the options together: byzantine <= workers, f <= workers, quorum <= workers,
// Byzantine workers need an attack or a misbehaviour, misbehaviour modes are known and
// need Byzantine workers. Returns 0, or -1 with a message.
int byzgd_cluster_config_check(const byzgd_cluster_config_t *self, char *error, size_t error_size);

// The effective configuration as `name = value` lines (every option that has a value,
// given or default, in table order), except the options listed in `omit` (NULL-terminated,
// may be NULL), which are written as comments. Returns a malloc'ed string.
char *byzgd_cluster_config_format(const byzgd_cluster_config_t *self, const char *const *omit);

#endif

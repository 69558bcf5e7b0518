/*  byzgd-keygen — creates the CURVE keys of a byzgd cluster (layout in common/wire/security.h).

    byzgd-keygen DIR --workers N [--force]

    DIR/server.cert goes to every worker; DIR/workers/worker-NNN.cert(+_secret) to worker
    NNN; the server reads DIR/server.cert_secret and the allow-list DIR/allowed/. Secret
    files are mode 0600; never commit them. */
#include "support/log.h"
#include "support/options.h"
#include "wire/security.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    long workers;
    bool force;
} s_options_t;

static int
s_apply(void *state, const byzgd_option_section_t *section, const byzgd_option_t *option,
        const char *value, char *error, size_t error_size)
{
    (void)section;
    (void)error;
    (void)error_size;
    s_options_t *options = state;
    if (strcmp(option->name, "workers") == 0)
        options->workers = strtol(value, NULL, 10);
    else
        options->force = strcmp(value, "true") == 0;
    return 0;
}

static const byzgd_option_t s_table[] = {
    {"workers", BYZGD_OPTION_INT, 0, 100000, NULL, 0, "worker keys to create (required)", "N",
     NULL},
    {"force", BYZGD_OPTION_FLAG, 0, 0, NULL, 0, "overwrite existing keys", NULL, NULL},
};

int
main(int argc, char **argv)
{
    static const byzgd_option_section_t section = BYZGD_OPTION_SECTION(NULL, s_table, s_apply);
    static const byzgd_option_section_t *const sections[] = {&section, NULL};
    static const byzgd_program_t program = {
        "byzgd-keygen",
        "DIR --workers N [--force]",
        "creates the CURVE keys of a byzgd cluster",
        sections,
        "Creates DIR/server.cert(+_secret), DIR/workers/worker-NNN.cert(+_secret) for N "
        "workers and\nthe allow-list DIR/allowed/. Secret files are mode 0600. Refuses to "
        "overwrite existing keys\nunless --force.\n",
        "Exit status: 0 written, 1 a file could not be written, 2 bad flags.\n",
        1,
        1,
    };
    s_options_t options = {.workers = -1};
    void *states[] = {&options};
    int first = 0;
    int parsed = byzgd_options_main(&program, argc, argv, states, &first);
    if (parsed != BYZGD_OPTIONS_CONTINUE)
        return parsed;
    if (options.workers < 0) {
        byzgd_error("--workers N is required (see --help)");
        return 2;
    }
    const char *dir = argv[first];
    long workers = options.workers;
    bool force = options.force;
    char error[512];
    if (byzgd_keys_generate(dir, (size_t)workers, force, error, sizeof error) != 0) {
        byzgd_error("%s", error);
        return 1;
    }
    byzgd_info("wrote the server key and %ld worker keys to %s", workers, dir);
    return 0;
}

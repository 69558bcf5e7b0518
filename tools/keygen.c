/*  byzgd-keygen — creates the CURVE keys of a byzgd cluster (layout in common/wire/security.h)
    and the key bundles that carry one worker host's keys (common/wire/keybundle.h).

    byzgd-keygen DIR --workers N [--force]
    byzgd-keygen DIR --bundle FILE --slots A-B [--force]

    DIR/server.cert goes to every worker; DIR/workers/worker-NNN.cert(+_secret) to the host
    running slot NNN, best as a bundle; the server reads DIR/server.cert_secret and the
    allow-list DIR/allowed/. Secret files and bundles are mode 0600; never commit them. */
#include "support/log.h"
#include "support/options.h"
#include "wire/keybundle.h"
#include "wire/security.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    long workers;
    bool force;
    const char *bundle, *slots;
} s_options_t;

#define S_FIELD(field) BYZGD_OPTION_FIELD(s_options_t, field)

// clang-format off
static const byzgd_option_t s_table[] = {
    {"workers", BYZGD_OPTION_INT, 0, 100000, NULL, 0, "worker keys to create", "N", NULL,
     S_FIELD(workers)},
    {"bundle", BYZGD_OPTION_TEXT, 0, 0, NULL, 0,
     "write a key bundle for one worker host instead (needs --slots)", "FILE", NULL,
     S_FIELD(bundle)},
    {"slots", BYZGD_OPTION_TEXT, 0, 0, NULL, 0, "the bundle's slots, A-B or A", "A-B", NULL,
     S_FIELD(slots)},
    {"force", BYZGD_OPTION_FLAG, 0, 0, NULL, 0, "overwrite existing keys or bundle", NULL, NULL,
     S_FIELD(force)},
};
// clang-format on

static const byzgd_program_t s_program = {
    "byzgd-keygen",
    "DIR --workers N [--force] | DIR --bundle FILE --slots A-B [--force]",
    "creates the CURVE keys of a byzgd cluster and key bundles for worker hosts",
    BYZGD_OPTION_ONE_SECTION(s_table, NULL),
    "The first form creates DIR (and missing parents) with DIR/server.cert(+_secret),\n"
    "DIR/workers/worker-NNN.cert(+_secret) for N workers and the allow-list DIR/allowed/.\n"
    "The second writes FILE (mode 0600), a tar file for one worker host: the server's\n"
    "public certificate and the keys of slots A to B; the server's secret never leaves\n"
    "DIR. Secret files are mode 0600. Refuses to overwrite unless --force.\n",
    "Exit status: 0 written, 1 a file could not be written, 2 bad flags.\n",
    1,
    1,
};

int
main(int argc, char **argv)
{
    s_options_t options = {.workers = -1}; // -1: --workers not given
    int first = 0;
    int parsed = byzgd_options_main_one(&s_program, argc, argv, &options, &first);
    if (parsed != BYZGD_OPTIONS_CONTINUE)
        return parsed;
    const char *dir = argv[first];
    bool make_keys = options.workers >= 0 && !options.bundle && !options.slots;
    bool make_bundle = options.workers < 0 && options.bundle && options.slots;
    if (make_keys == make_bundle) {
        byzgd_error("give --workers N, or --bundle FILE --slots A-B (see --help)");
        return 2;
    }
    char error[512];
    if (make_bundle) {
        size_t low = 0, high = 0;
        if (byzgd_key_bundle_parse_range(options.slots, &low, &high) != 0) {
            byzgd_error("--slots: expected A-B with A <= B, got '%s'", options.slots);
            return 2;
        }
        if (byzgd_key_bundle_write(dir, low, high, options.bundle, options.force, error,
                                   sizeof error) != 0) {
            byzgd_error("%s", error);
            return 1;
        }
        byzgd_info("wrote the keys of slots %zu-%zu and the server's public certificate to %s", low,
                   high, options.bundle);
        return 0;
    }
    if (byzgd_keys_generate(dir, (size_t)options.workers, options.force, error, sizeof error) !=
        0) {
        byzgd_error("%s", error);
        return 1;
    }
    byzgd_info("wrote the server key and %ld worker keys to %s", options.workers, dir);
    return 0;
}

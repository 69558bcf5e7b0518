/*  byzgd-keygen — creates the CURVE keys of a byzgd cluster (layout in common/wire/security.h)
    and the key bundles that carry one worker host's keys (common/wire/keybundle.h).

    byzgd-keygen DIR --workers N [--force]
    byzgd-keygen DIR --bundle FILE --slots A-B [--force]

    DIR/server.cert goes to every worker; DIR/workers/worker-NNN.cert(+_secret) to the host
    running slot NNN, best as a bundle; the server reads DIR/server.cert_secret and the
    allow-list DIR/allowed/. Secret files and bundles are mode 0600; never commit them. */
#include "support/log.h"
#include "wire/keybundle.h"
#include "wire/security.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void
s_usage(FILE *out)
{
    fprintf(out,
            "usage: byzgd-keygen DIR --workers N [--force]\n"
            "       byzgd-keygen DIR --bundle FILE --slots A-B [--force]\n"
            "  The first form creates DIR (and missing parents) with DIR/server.cert(+_secret),\n"
            "  DIR/workers/worker-NNN.cert(+_secret) for N workers and the allow-list\n"
            "  DIR/allowed/. The second writes FILE (mode 0600), a tar file for one worker\n"
            "  host: the server's public certificate and the keys of slots A to B; the\n"
            "  server's secret never leaves DIR. Refuses to overwrite unless --force.\n");
}

int
main(int argc, char **argv)
{
    const char *dir = NULL, *bundle = NULL, *slots = NULL;
    long workers = -1;
    bool force = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--workers") == 0 && i + 1 < argc) {
            char *end = NULL;
            errno = 0;
            workers = strtol(argv[++i], &end, 10);
            if (errno || !end || *end || workers < 0 || workers > 100000) {
                byzgd_error("--workers: expected a count from 0 to 100000, got '%s'", argv[i]);
                return 2;
            }
        } else if (strcmp(argv[i], "--bundle") == 0 && i + 1 < argc)
            bundle = argv[++i];
        else if (strcmp(argv[i], "--slots") == 0 && i + 1 < argc)
            slots = argv[++i];
        else if (strcmp(argv[i], "--force") == 0)
            force = true;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            s_usage(stdout);
            return 0;
        } else if (argv[i][0] != '-' && !dir)
            dir = argv[i];
        else {
            s_usage(stderr);
            return 2;
        }
    }
    bool make_keys = workers >= 0 && !bundle && !slots;
    bool make_bundle = workers < 0 && bundle && slots;
    if (!dir || make_keys == make_bundle) {
        s_usage(stderr);
        return 2;
    }
    char error[512];
    if (make_bundle) {
        size_t first = 0, last = 0;
        if (byzgd_key_bundle_parse_range(slots, &first, &last) != 0) {
            byzgd_error("--slots: expected A-B with A <= B, got '%s'", slots);
            return 2;
        }
        if (byzgd_key_bundle_write(dir, first, last, bundle, force, error, sizeof error) != 0) {
            byzgd_error("%s", error);
            return 1;
        }
        byzgd_info("wrote the keys of slots %zu-%zu and the server's public certificate to %s",
                   first, last, bundle);
        return 0;
    }
    if (byzgd_keys_generate(dir, (size_t)workers, force, error, sizeof error) != 0) {
        byzgd_error("%s", error);
        return 1;
    }
    byzgd_info("wrote the server key and %ld worker keys to %s", workers, dir);
    return 0;
}

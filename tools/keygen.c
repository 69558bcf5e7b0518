/*  byzgd-keygen — creates the CURVE keys of a byzgd cluster (layout in common/wire/security.h).

    byzgd-keygen DIR --workers N [--force]

    DIR/server.cert goes to every worker; DIR/workers/worker-NNN.cert(+_secret) to worker
    NNN; the server reads DIR/server.cert_secret and the allow-list DIR/allowed/. Secret
    files are mode 0600; never commit them. */
#include "support/log.h"
#include "wire/security.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void
s_usage(FILE *out)
{
    fprintf(out, "usage: byzgd-keygen DIR --workers N [--force]\n"
                 "  Creates DIR/server.cert(+_secret), DIR/workers/worker-NNN.cert(+_secret)\n"
                 "  for N workers and the allow-list DIR/allowed/. Refuses to overwrite\n"
                 "  existing keys unless --force.\n");
}

int
main(int argc, char **argv)
{
    const char *dir = NULL;
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
        } else if (strcmp(argv[i], "--force") == 0)
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
    if (!dir || workers < 0) {
        s_usage(stderr);
        return 2;
    }
    char error[512];
    if (byzgd_keys_generate(dir, (size_t)workers, force, error, sizeof error) != 0) {
        byzgd_error("%s", error);
        return 1;
    }
    byzgd_info("wrote the server key and %ld worker keys to %s", workers, dir);
    return 0;
}

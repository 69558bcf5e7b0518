/*  byzgd-supervise — runs a server under a memory cap and restarts it after an abnormal
    end (a libzmq assertion, the cap), adding a resume flag (docs/SECURITY.md).

    byzgd-supervise [--memory-mb M | --bound N,D] [--resume-flag F] [--checkpoint FILE]
                    [--max-restarts K] [--restart-every S] [--backoff-ms MIN,MAX]
                    -- COMMAND [ARGS...]

    Restart budget (supervisor.h, docs/SECURITY.md §5): at most K restarts in a burst, one
    more allowed every S seconds, each after a back-off doubling from MIN to MAX ms while
    the server keeps dying within MAX ms of its start. Defaults: K = 10, S = 6,
    MIN,MAX = 500,3000: a server that dies at once ends the run after about 20 restarts
    (~1 minute); forced restarts at most one per 6 s on average never do.

    --bound N,D sets the cap to byzgd_security_memory_bound(N, D, 4): the memory a server
    for N workers and dimension D needs with the default high-water marks. */
#include "supervisor.h"
#include "support/log.h"
#include "wire/security.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void
s_usage(FILE *out)
{
    fprintf(out,
            "usage: byzgd-supervise [--memory-mb M | --bound N,D] [--resume-flag F]\n"
            "                       [--checkpoint FILE] [--max-restarts K] [--restart-every S]\n"
            "                       [--backoff-ms MIN,MAX] -- COMMAND...\n"
            "  Restarts COMMAND after a crash or when its RSS exceeds the cap, adding F\n"
            "  (default --resume) once FILE exists (always, without --checkpoint).\n"
            "  Budget: K restarts at once (10), one more every S seconds (6), each after\n"
            "  a back-off doubling from MIN to MAX ms (500,3000) while the server keeps\n"
            "  dying within MAX ms of its start.\n");
}

static int
s_parse_size(const char *text, size_t *value)
{
    char *end = NULL;
    errno = 0;
    unsigned long long parsed = strtoull(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-')
        return -1;
    *value = (size_t)parsed;
    return 0;
}

int
main(int argc, char **argv)
{
    byzgd_supervisor_options_t options = {.resume_argument = "--resume",
                                          .max_restarts = 10,
                                          .restart_every_s = 6,
                                          .backoff_min_ms = 500,
                                          .backoff_max_ms = 3000,
                                          .poll_interval_ms = 20};
    int i = 1;
    for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
        size_t value = 0;
        if (strcmp(argv[i], "--memory-mb") == 0 && i + 1 < argc &&
            s_parse_size(argv[i + 1], &value) == 0 && value > 0) {
            options.memory_limit_bytes = value << 20;
            i++;
        } else if (strcmp(argv[i], "--bound") == 0 && i + 1 < argc) {
            size_t n = 0, d = 0;
            char copy[64];
            snprintf(copy, sizeof copy, "%s", argv[++i]);
            char *comma = strchr(copy, ',');
            if (!comma || (*comma = '\0', s_parse_size(copy, &n) != 0) ||
                s_parse_size(comma + 1, &d) != 0 || n == 0 || d == 0) {
                byzgd_error("--bound: expected N,D");
                return 2;
            }
            options.memory_limit_bytes = byzgd_security_memory_bound(n, d, 4);
        } else if (strcmp(argv[i], "--checkpoint") == 0 && i + 1 < argc)
            options.checkpoint_path = argv[++i];
        else if (strcmp(argv[i], "--resume-flag") == 0 && i + 1 < argc)
            options.resume_argument = argv[++i][0] ? argv[i] : NULL;
        else if (strcmp(argv[i], "--max-restarts") == 0 && i + 1 < argc &&
                 s_parse_size(argv[i + 1], &value) == 0 && value < 1000000) {
            options.max_restarts = (unsigned)value;
            i++;
        } else if (strcmp(argv[i], "--restart-every") == 0 && i + 1 < argc) {
            char *end = NULL;
            options.restart_every_s = strtod(argv[++i], &end);
            if (!end || *end || !(options.restart_every_s >= 0 && options.restart_every_s < 1e7)) {
                byzgd_error("--restart-every: expected seconds >= 0");
                return 2;
            }
        } else if (strcmp(argv[i], "--backoff-ms") == 0 && i + 1 < argc) {
            size_t low = 0, high = 0;
            char copy[64];
            snprintf(copy, sizeof copy, "%s", argv[++i]);
            char *comma = strchr(copy, ',');
            if (!comma || (*comma = '\0', s_parse_size(copy, &low) != 0) ||
                s_parse_size(comma + 1, &high) != 0 || low > high || high > 3600000) {
                byzgd_error("--backoff-ms: expected MIN,MAX milliseconds, MIN <= MAX");
                return 2;
            }
            options.backoff_min_ms = (int)low;
            options.backoff_max_ms = (int)high;
        } else {
            s_usage(stderr);
            return 2;
        }
    }
    if (i + 1 >= argc) {
        s_usage(stderr);
        return 2;
    }
    if (options.memory_limit_bytes)
        byzgd_info("memory cap %zu MiB", options.memory_limit_bytes >> 20);
    int status = byzgd_supervisor_run(argv + i + 1, &options);
    return status < 0 ? 1 : status;
}

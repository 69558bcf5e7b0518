/*  byzgd-supervise — runs a server under a memory cap and restarts it after an abnormal
    end (a libzmq assertion, the cap), adding a resume flag (docs/SECURITY.md).

    byzgd-supervise [--memory-mb M | --bound N,D] [--resume-flag F | --no-resume-flag]
                    [--checkpoint FILE] [--max-restarts K] [--restart-every S]
                    [--backoff-ms MIN,MAX] -- COMMAND [ARGS...]

    Restart budget (supervisor.h, docs/SECURITY.md §5): at most K restarts in a burst, one
    more allowed every S seconds, each after a back-off doubling from MIN to MAX ms while
    the server keeps dying within MAX ms of its start. Defaults: K = 10, S = 6,
    MIN,MAX = 500,3000: a server that dies at once ends the run after about 20 restarts
    (~1 minute); forced restarts at most one per 6 s on average never do.

    --bound N,D sets the cap to byzgd_security_memory_bound(N, D, 4): the memory a server
    for N workers and dimension D needs with the default high-water marks. */
#include "supervisor.h"
#include "support/log.h"
#include "support/options.h"
#include "wire/security.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int
s_apply(void *state, const byzgd_option_section_t *section, const byzgd_option_t *option,
        const char *value, char *error, size_t error_size)
{
    (void)section;
    byzgd_supervisor_options_t *options = state;
    const char *name = option->name;
    if (strcmp(name, "memory-mb") == 0)
        options->memory_limit_bytes = (size_t)strtoull(value, NULL, 10) << 20;
    else if (strcmp(name, "bound") == 0) {
        unsigned long long n = 0, d = 0;
        char tail = 0;
        if (sscanf(value, "%llu,%llu%c", &n, &d, &tail) != 2 || n == 0 || d == 0 ||
            value[0] == '-' || strchr(value, ',')[1] == '-')
            return byzgd_set_error(error, error_size, "--bound: expected N,D");
        options->memory_limit_bytes = byzgd_security_memory_bound((size_t)n, (size_t)d, 4);
    } else if (strcmp(name, "checkpoint") == 0)
        options->checkpoint_path = value;
    else if (strcmp(name, "resume-flag") == 0)
        options->resume_argument = value;
    else if (strcmp(name, "no-resume-flag") == 0)
        options->resume_argument = strcmp(value, "true") == 0 ? NULL : options->resume_argument;
    else if (strcmp(name, "restart-every") == 0)
        options->restart_every_s = strtod(value, NULL);
    else if (strcmp(name, "backoff-ms") == 0) {
        unsigned long long low = 0, high = 0;
        char tail = 0;
        if (sscanf(value, "%llu,%llu%c", &low, &high, &tail) != 2 || value[0] == '-' ||
            strchr(value, ',')[1] == '-' || low > high || high > 3600000)
            return byzgd_set_error(error, error_size,
                                   "--backoff-ms: expected MIN,MAX milliseconds, MIN <= MAX");
        options->backoff_min_ms = (int)low;
        options->backoff_max_ms = (int)high;
    } else
        options->max_restarts = (unsigned)strtoul(value, NULL, 10);
    return 0;
}

static const byzgd_option_t s_table[] = {
    {"memory-mb", BYZGD_OPTION_INT, 1, 1e9, NULL, 0, "restart COMMAND when its RSS exceeds M MiB",
     "M", NULL},
    {"bound", BYZGD_OPTION_TEXT, 0, 0, NULL, 0,
     "cap: the memory a server for N workers of dimension D needs (instead of --memory-mb)", "N,D",
     NULL},
    {"resume-flag", BYZGD_OPTION_TEXT, 0, 0, "--resume", 0,
     "argument added to COMMAND when it is restarted", "F", NULL},
    {"no-resume-flag", BYZGD_OPTION_FLAG, 0, 0, NULL, 0, "restart COMMAND unchanged", NULL, NULL},
    {"checkpoint", BYZGD_OPTION_TEXT, 0, 0, NULL, 0,
     "add the resume flag only once FILE exists (always, without it)", "FILE", NULL},
    {"max-restarts", BYZGD_OPTION_INT, 0, 999999, "10", 0,
     "restarts allowed at once (a burst); the budget refills as --restart-every says", "K", NULL},
    {"restart-every", BYZGD_OPTION_NUMBER, 0, 1e7, "6", 0,
     "one more restart allowed every S seconds (0: no refill, K restarts in all)", "S", NULL},
    {"backoff-ms", BYZGD_OPTION_TEXT, 0, 0, "500,3000", 0,
     "wait before a restart, doubling from MIN to MAX ms while the server keeps dying within "
     "MAX ms of its start",
     "MIN,MAX", NULL},
};

static const byzgd_program_t s_program = {
    "byzgd-supervise",
    "[options] -- COMMAND [ARGS...]",
    "runs a command under a memory cap and restarts it after an abnormal end",
    BYZGD_OPTION_ONE_SECTION(s_table, s_apply),
    "Restarts COMMAND after a crash or when its RSS exceeds the cap, adding the resume flag "
    "once the\ncheckpoint exists (docs/SECURITY.md).\n"
    "Budget: K restarts at once (10), one more every S seconds (6), each after a back-off\n"
    "doubling from MIN to MAX ms (500,3000) while the server keeps dying within MAX ms of\n"
    "its start.\n",
    "Exit status: COMMAND's final status (1 if it cannot be supervised), 2 bad flags.\n",
    1,
    -1,
};

int
main(int argc, char **argv)
{
    byzgd_supervisor_options_t options = {.poll_interval_ms = 20};
    int first = 0;
    int parsed = byzgd_options_main_one(&s_program, argc, argv, &options, &first);
    if (parsed != BYZGD_OPTIONS_CONTINUE)
        return parsed;
    if (options.memory_limit_bytes)
        byzgd_info("memory cap %zu MiB", options.memory_limit_bytes >> 20);
    int status = byzgd_supervisor_run(argv + first, &options);
    return status < 0 ? 1 : status;
}

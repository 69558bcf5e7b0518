/*  byzgd-byzantine — the honest worker with an attack plugged in (byzantine.h). Glue only:
    the worker's flags plus the attack options of common/learning/attack.h, and
    --identities K: this process holds K consecutive identities (the given key or --slot
    and the K − 1 that follow it), one worker actor each, sharing one collusion object so
    that inputs common to the attackers (the full-training-set gradient, colluders'
    moments) are computed once per round instead of K times. */
#include <czmq.h>
#include <errno.h>
#include <libgen.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "learning/attack.h"
#include "byzantine.h"
#include "support/log.h"
#include "wire/security.h"
#include "worker/worker.h"

#define S_IDENTITIES_MAX 1024

typedef struct {
    byzgd_attack_config_t attack;
    long identities;
} s_options_t;

// The attack options of common/learning/attack.h, plus the misbehaviour names of the launcher's
// command-line contract ("wrong-dim", "silent") as aliases of attack.h's names.
static int
s_attack_option(void *state, const char *name, const char *value, char *error, size_t error_size)
{
    s_options_t *options = state;
    if (streq(name, "identities")) {
        char *end = NULL;
        errno = 0;
        options->identities = value ? strtol(value, &end, 10) : 0;
        if (!value || errno || *end || options->identities < 1 ||
            options->identities > S_IDENTITIES_MAX)
            return byzgd_set_error(error, error_size, "--identities: expected 1 to %d",
                                   S_IDENTITIES_MAX);
        return 0;
    }
    if (streq(name, "misbehave") && value && streq(value, "wrong-dim"))
        value = "wrong-dimension";
    else if (streq(name, "misbehave") && value && streq(value, "silent"))
        value = "silence";
    return byzgd_attack_config_parse_option(&options->attack, name, value, error, error_size);
}

// The configuration of identity i: the key worker-(N + i) beside worker-N, or slot + i.
static int
s_identity(byzgd_worker_config_t *config, const byzgd_worker_config_t *first, long i, char *error,
           size_t error_size)
{
    *config = *first;
    if (i == 0)
        return 0;
    if (first->insecure) {
        config->slot = first->slot + (int)i;
        return 0;
    }
    char directory[BYZGD_WORKER_PATH_MAX], base[BYZGD_WORKER_PATH_MAX];
    snprintf(directory, sizeof directory, "%s", first->cert);
    snprintf(base, sizeof base, "%s", first->cert);
    size_t slot = 0;
    if (byzgd_keys_slot_of_name(basename(base), &slot) != 0)
        return byzgd_set_error(error, error_size,
                               "--identities needs a --cert named worker-NNN.cert");
    char name[32];
    byzgd_keys_worker_name(name, sizeof name, slot + (size_t)i);
    if (snprintf(config->cert, sizeof config->cert, "%s/%s.cert", dirname(directory), name) >=
        (int)sizeof config->cert)
        return byzgd_set_error(error, error_size, "certificate path too long");
    return 0;
}

int
main(int argc, char **argv)
{
    mallopt(M_MMAP_THRESHOLD, 256 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 512 * 1024 * 1024);
    byzgd_worker_config_t config;
    byzgd_worker_config_init(&config);
    s_options_t options = {.identities = 1};
    byzgd_attack_config_init(&options.attack);
    char error[1024];
    int parsed = byzgd_worker_config_parse(&config, argc, argv, s_attack_option, &options, error,
                                           sizeof error);
    if (parsed == 1) {
        printf("usage: byzgd-byzantine [worker options] --attack NAME [attack options]\n%s"
               "  --identities K         hold K consecutive identities (keys or slots) in this\n"
               "                         process; shared attack inputs are computed once\n%s",
               byzgd_worker_usage(), byzgd_attack_usage());
        return 0;
    }
    if (parsed == 0 && options.identities > 1 && config.insecure && config.slot < 0)
        parsed = byzgd_set_error(error, sizeof error, "--identities with --insecure needs --slot");
    if (parsed != 0) {
        byzgd_error("%s (see --help)", error);
        return 2;
    }
    char description[256];
    byzgd_attack_config_describe(&options.attack, description, sizeof description);
    byzgd_info("%s", description);
    // The omniscient estimate and colluding attacks draw from the whole training set.
    config.keep_full_set = true;
    zsys_init();
    zsys_set_linger(200);
    byzgd_collusion_t *collusion = byzgd_collusion_new();
    byzgd_worker_t *workers[S_IDENTITIES_MAX] = {0};
    int status = 0;
    for (long i = 0; i < options.identities && status == 0; i++) {
        byzgd_worker_config_t identity;
        if (s_identity(&identity, &config, i, error, sizeof error) != 0 ||
            byzgd_byzantine_hooks(&identity.hooks, &options.attack, collusion, error,
                                  sizeof error) != 0) {
            byzgd_error("%s", error);
            status = 2;
            break;
        }
        workers[i] = byzgd_worker_new(&identity, error, sizeof error);
        if (!workers[i]) {
            byzgd_error("%s", error);
            status = 1;
        }
    }
    // The process ends when every identity has ended; its status is the worst of theirs.
    for (long i = 0; i < options.identities && workers[i]; i++) {
        int ended = -1;
        while (ended < 0 && !zsys_interrupted)
            ended = byzgd_worker_wait(workers[i], 200);
        if (ended > status)
            status = ended;
    }
    if (zsys_interrupted) {
        // Stopped by a signal (the launcher's SIGTERM): nothing here needs flushing, and
        // tearing down several actors mid-session can trip CZMQ's assertions.
        fflush(NULL);
        _exit(status);
    }
    unsigned long computed = 0, shared = 0;
    byzgd_collusion_counts(collusion, &computed, &shared);
    if (shared > 0)
        byzgd_info("shared attack inputs: computed %lu, reused %lu", computed, shared);
    for (long i = 0; i < options.identities; i++)
        byzgd_worker_destroy(&workers[i]);
    byzgd_collusion_release(&collusion);
    return status;
}

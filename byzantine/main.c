/*  byzgd-byzantine — the honest worker with an attack plugged in (byzantine.h). Glue only:
    the worker's options plus the attack and misbehaviour options of learning/attack.h
    (which also accepts the launcher's aliases wrong-dim and silent), and --identities K:
    this process holds K consecutive identities (the given key or --slot and the K − 1 that
    follow it), one worker actor each, sharing one collusion object so that inputs common
    to the attackers (the full-training-set gradient, colluders' moments) are computed once
    per round instead of K times. */
#include <czmq.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>

#include "learning/attack.h"
#include "byzantine.h"
#include "support/log.h"
#include "wire/security.h"
#include "worker/worker.h"

#define S_IDENTITIES_MAX 1024

// The options of this program beside the worker's and the attack's.
typedef struct {
    long identities;
} s_own_options_t;

// clang-format off
static const byzgd_option_t s_identity_options[] = {
    {"identities", BYZGD_OPTION_INT, 1, S_IDENTITIES_MAX, "1", 0,
     "hold K consecutive identities (keys or slots) in this process; shared attack inputs are "
     "computed once", "K", NULL, BYZGD_OPTION_FIELD(s_own_options_t, identities)},
};
// clang-format on

static const byzgd_option_section_t s_identity_section =
    BYZGD_OPTION_SECTION("Collusion options", s_identity_options, NULL);

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
    byzgd_worker_config_t config;
    byzgd_worker_config_init(&config);
    byzgd_attack_config_t attack;
    byzgd_attack_config_init(&attack);
    s_own_options_t own;
    byzgd_options_apply_defaults((const byzgd_option_section_t *const[]){&s_identity_section, NULL},
                                 (void *const[]){&own});
    static const byzgd_option_section_t *const sections[] = {
        &byzgd_worker_option_section, &byzgd_attack_option_section,
        &byzgd_misbehaviour_option_section, &s_identity_section, NULL};
    static const byzgd_program_t program = {
        "byzgd-byzantine",
        "[worker options] --attack NAME [attack options]",
        "a Byzantine byzgd worker: the honest worker with an attack plugged in",
        sections,
        NULL,
        "Exit status: 0 when the server says the run is done (BYE), 1 on errors or without a "
        "server, 2 for bad flags, 4 when the server stopped or failed before the run's end.\n",
        0,
        0,
    };
    void *states[] = {&config, &attack, &attack, &own};
    int parsed = byzgd_options_main(&program, argc, argv, states, NULL);
    if (parsed != BYZGD_OPTIONS_CONTINUE)
        return parsed;
    long identities = own.identities;
    char error[1024];
    int checked = byzgd_worker_config_check(&config, error, sizeof error);
    if (checked == 0 && identities > 1 && config.insecure && config.slot < 0)
        checked = byzgd_set_error(error, sizeof error, "--identities with --insecure needs --slot");
    if (checked != 0) {
        byzgd_error("%s (see --help)", error);
        return 2;
    }
    char description[256];
    byzgd_attack_config_describe(&attack, description, sizeof description);
    byzgd_info("%s", description);
    // The omniscient estimate and colluding attacks draw from the whole training set; the
    // ones that compute no gradient (gaussian) load no data at all.
    config.data = byzgd_byzantine_data(&attack);
    byzgd_collusion_t *collusion = byzgd_collusion_new();
    static byzgd_worker_config_t configs[S_IDENTITIES_MAX];
    int status = 0;
    long built = 0;
    for (; built < identities; built++) {
        if (s_identity(&configs[built], &config, built, error, sizeof error) != 0 ||
            byzgd_byzantine_hooks(&configs[built].hooks, &attack, collusion, error, sizeof error) !=
                0) {
            byzgd_error("%s", error);
            status = 2;
            break;
        }
    }
    if (status == 0)
        status = byzgd_worker_run(configs, (size_t)identities);
    else
        for (long i = 0; i < built; i++)
            if (configs[i].hooks.destroy)
                configs[i].hooks.destroy(configs[i].hooks.state);
    unsigned long computed = 0, shared = 0;
    byzgd_collusion_counts(collusion, &computed, &shared);
    if (shared > 0)
        byzgd_info("shared attack inputs: computed %lu, reused %lu", computed, shared);
    byzgd_collusion_release(&collusion);
    return status;
}

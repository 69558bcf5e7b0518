/*  byzgd-byzantine — the honest worker with an attack plugged in (byzantine.h). Glue only:
    the worker's options plus the attack and misbehaviour options of learning/attack.h
    (which also accepts the launcher's aliases wrong-dim and silent). */
#include <czmq.h>
#include <stdio.h>

#include "learning/attack.h"
#include "byzantine.h"
#include "support/log.h"
#include "worker/worker.h"

int
main(int argc, char **argv)
{
    byzgd_worker_config_t config;
    byzgd_worker_config_init(&config);
    byzgd_attack_config_t attack;
    byzgd_attack_config_init(&attack);
    static const byzgd_option_section_t *const sections[] = {
        &byzgd_worker_option_section, &byzgd_attack_option_section,
        &byzgd_misbehaviour_option_section, NULL};
    static const byzgd_program_t program = {
        "byzgd-byzantine",
        "[worker options] --attack NAME [attack options]",
        "a Byzantine byzgd worker: the honest worker with an attack plugged in",
        sections,
        NULL,
        "Exit status: 0 when the server says BYE, 1 on errors or without a server, 2 for bad "
        "flags.\n",
        0,
        0,
    };
    void *states[] = {&config, &attack, &attack};
    int parsed = byzgd_options_main(&program, argc, argv, states, NULL);
    if (parsed != BYZGD_OPTIONS_CONTINUE)
        return parsed;
    char error[1024];
    if (byzgd_worker_config_check(&config, error, sizeof error) != 0) {
        byzgd_error("%s (see --help)", error);
        return 2;
    }
    char description[256];
    byzgd_attack_config_describe(&attack, description, sizeof description);
    byzgd_info("%s", description);
    // The omniscient estimate and colluding attacks draw from the whole training set.
    config.keep_full_set = true;
    if (byzgd_byzantine_hooks(&config.hooks, &attack, error, sizeof error) != 0) {
        byzgd_error("%s", error);
        return 2;
    }
    return byzgd_worker_run(&config);
}

/*  byzgd-worker — an honest worker. Glue only: flags, the worker actor, wait for BYE or a
    signal. */
#include <czmq.h>
#include <stdio.h>

#include "support/log.h"
#include "worker.h"

int
main(int argc, char **argv)
{
    byzgd_worker_config_t config;
    byzgd_worker_config_init(&config);
    static const byzgd_option_section_t *const sections[] = {&byzgd_worker_option_section, NULL};
    static const byzgd_program_t program = {
        "byzgd-worker",
        "[options]",
        "an honest byzgd worker: computes minibatch gradients for the parameter server",
        sections,
        NULL,
        "Exit status: 0 when the server says the run is done (BYE), 1 on errors or without a "
        "server, 2 for bad flags, 4 when the server stopped or failed before the run's end.\n",
        0,
        0,
    };
    void *states[] = {&config};
    int parsed = byzgd_options_main(&program, argc, argv, states, NULL);
    if (parsed != BYZGD_OPTIONS_CONTINUE)
        return parsed;
    char error[1024];
    if (byzgd_worker_config_check(&config, error, sizeof error) != 0) {
        byzgd_error("%s (see --help)", error);
        return 2;
    }
    return byzgd_worker_run(&config, 1);
}

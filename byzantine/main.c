/*  byzgd-byzantine — the honest worker with an attack plugged in (byzantine.h). Glue only:
    the worker's flags plus the attack options of common/learning/attack.h. */
#include <czmq.h>
#include <malloc.h>
#include <stdio.h>

#include "learning/attack.h"
#include "byzantine.h"
#include "support/log.h"
#include "worker/worker.h"

// The attack options of common/learning/attack.h, plus the misbehaviour names of the launcher's
// command-line contract ("wrong-dim", "silent") as aliases of attack.h's names.
static int
s_attack_option(void *state, const char *name, const char *value, char *error, size_t error_size)
{
    if (streq(name, "misbehave") && value && streq(value, "wrong-dim"))
        value = "wrong-dimension";
    else if (streq(name, "misbehave") && value && streq(value, "silent"))
        value = "silence";
    return byzgd_attack_config_parse_option(state, name, value, error, error_size);
}

int
main(int argc, char **argv)
{
    mallopt(M_MMAP_THRESHOLD, 256 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 512 * 1024 * 1024);
    byzgd_worker_config_t config;
    byzgd_worker_config_init(&config);
    byzgd_attack_config_t attack;
    byzgd_attack_config_init(&attack);
    char error[1024];
    int parsed = byzgd_worker_config_parse(&config, argc, argv, s_attack_option, &attack, error,
                                           sizeof error);
    if (parsed == 1) {
        printf("usage: byzgd-byzantine [worker options] --attack NAME [attack options]\n%s%s",
               byzgd_worker_usage(), byzgd_attack_usage());
        return 0;
    }
    if (parsed != 0) {
        byzgd_error("%s (see --help)", error);
        return 2;
    }
    char description[256];
    byzgd_attack_config_describe(&attack, description, sizeof description);
    byzgd_info("%s", description);
    // The omniscient estimate and colluding attacks draw from the whole training set; the
    // others (gaussian needs no data at all) keep only their shard.
    config.keep_full_set = byzgd_attack_needs_training_set(&attack);
    if (byzgd_byzantine_hooks(&config.hooks, &attack, error, sizeof error) != 0) {
        byzgd_error("%s", error);
        return 2;
    }
    zsys_init();
    zsys_set_linger(200);
    byzgd_worker_t *worker = byzgd_worker_new(&config, error, sizeof error);
    if (!worker) {
        byzgd_error("%s", error);
        return 1;
    }
    int status = -1;
    while (status < 0 && !zsys_interrupted)
        status = byzgd_worker_wait(worker, 200);
    byzgd_worker_destroy(&worker);
    return status < 0 ? 0 : status;
}

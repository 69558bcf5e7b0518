/*  byzgd-worker — an honest worker. Glue only: flags, the worker actor, wait for BYE or a
    signal. */
#include <czmq.h>
#include <malloc.h>
#include <stdio.h>

#include "support/log.h"
#include "worker.h"

int
main(int argc, char **argv)
{
    // Received PARAMS and sent proposals are megabytes each (DESIGN.md §5).
    mallopt(M_MMAP_THRESHOLD, 256 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 512 * 1024 * 1024);
    byzgd_worker_config_t config;
    byzgd_worker_config_init(&config);
    char error[1024];
    int parsed = byzgd_worker_config_parse(&config, argc, argv, NULL, NULL, error, sizeof error);
    if (parsed == 1) {
        printf("usage: byzgd-worker [options]\n%s", byzgd_worker_usage());
        return 0;
    }
    if (parsed != 0) {
        byzgd_error("%s (see --help)", error);
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

/*  byzgd-server — the parameter server. Glue only: parse flags, start the actor, wait for
    the end of training or a signal (SIGINT/SIGTERM: final checkpoint, flushed metrics). */
#include <czmq.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "support/log.h"
#include "server.h"

int
main(int argc, char **argv)
{
    // Proposal rows, PARAMS buffers and received frames are megabytes each: keep freed
    // memory in the heap instead of mmap/munmap per round (docs/ARCHITECTURE.md §7).
    mallopt(M_MMAP_THRESHOLD, 256 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 512 * 1024 * 1024);
    mallopt(M_TOP_PAD, 64 * 1024 * 1024);

    byzgd_server_config_t config;
    byzgd_server_config_init(&config);
    char error[1024];
    int parsed = byzgd_server_config_parse(&config, argc, argv, error, sizeof error);
    if (parsed == 1)
        return 0;
    if (parsed != 0) {
        byzgd_error("%s (see --help)", error);
        return 2;
    }
    if (config.insecure)
        byzgd_warn("--insecure: no authentication, a worker's identity is its routing id "
                   "(anyone who can connect can join)");
    zsys_init();
    zsys_set_linger(0);
    // CURVE seals and opens every frame in ZeroMQ's I/O threads, each connection in one of
    // them: with one thread per core (at most one per worker) the server's crypto runs on
    // every core instead of one (docs/SECURITY.md §9). Plaintext needs one. The variable
    // ZSYS_IO_THREADS, when set, decides instead.
    if (!config.insecure && !getenv("ZSYS_IO_THREADS")) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        size_t threads = cores > 1 ? (size_t)cores : 1;
        if (threads > config.worker_count)
            threads = config.worker_count;
        zsys_set_io_threads(threads > 16 ? 16 : threads);
    }
    byzgd_server_t *server = byzgd_server_new(&config, error, sizeof error);
    if (!server) {
        byzgd_error("%s", error);
        return 1;
    }
    byzgd_info("listening on %s", byzgd_server_endpoint(server));
    int status = -1;
    while (status < 0) {
        status = byzgd_server_wait(server, 200);
        if (status < 0 && zsys_interrupted) {
            byzgd_info("interrupted: writing the final checkpoint and metrics");
            byzgd_server_stop(server);
            status = 0;
        }
    }
    // Everything is on disk and the workers were told BYE: a teardown that hangs (a peer
    // library waiting on a thread) must not keep the process, so a watchdog ends it.
    alarm(30);
    byzgd_server_destroy(&server);
    return status;
}

/*  supervisor.h — keeps a byzgd-server alive under a memory cap (byzgd-supervise). */
#ifndef BYZGD_SUPERVISOR_H
#define BYZGD_SUPERVISOR_H

#include <stddef.h>

// Runs a server as a child, kills it when its resident memory exceeds
// `memory_limit_bytes` (bounding the endless-multipart attack libzmq cannot stop) and
// restarts it after any abnormal end (signal, memory cap), appending `resume_argument`
// (e.g. "--resume") from the second start on. Returns the child's final exit status, or -1.

typedef struct {
    size_t memory_limit_bytes;   // 0: no cap
    const char *resume_argument; // NULL: restart with the same arguments
    const char *checkpoint_path; // if set, resume only once this file exists
    unsigned max_restarts;       // give up after this many restarts
    int poll_interval_ms;        // RSS polling interval (default 20)
} byzgd_supervisor_options_t;

int byzgd_supervisor_run(char *const argv[], const byzgd_supervisor_options_t *options);

// Resident memory (VmRSS) of process `pid` in bytes (0 for this process), or 0 if unknown.
size_t byzgd_process_rss_bytes(int pid);

#endif

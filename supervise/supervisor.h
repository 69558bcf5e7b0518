/*  supervisor.h — keeps a byzgd-server alive under a memory cap (byzgd-supervise). */
#ifndef BYZGD_SUPERVISOR_H
#define BYZGD_SUPERVISOR_H

#include <stddef.h>

// Runs a server as a child, kills it when its resident memory exceeds
// `memory_limit_bytes` (bounding the endless-multipart attack libzmq cannot stop) and
// restarts it after any abnormal end (signal, memory cap), appending `resume_argument`
// (e.g. "--resume") from the second start on. Returns the child's final exit status, or -1.
//
// Restarts are budgeted per time window, not per run (docs/SECURITY.md §5): a bucket of
// `max_restarts` restarts that refills by one every `restart_every_s` seconds, and a
// back-off before each restart that doubles from `backoff_min_ms` up to `backoff_max_ms`
// while the child keeps dying within `backoff_max_ms` of its start (reset once a child
// lived longer). A crash loop spends the bucket faster than it refills and ends the run;
// forced restarts spread over time (an endless multipart message now and then) do not.

typedef struct {
    size_t memory_limit_bytes;   // 0: no cap
    const char *resume_argument; // NULL: restart with the same arguments
    const char *checkpoint_path; // if set, resume only once this file exists
    unsigned max_restarts;       // the bucket: restarts allowed in a burst
    double restart_every_s;      // one restart more allowed per this many seconds (0: never)
    int backoff_min_ms;          // first back-off (0: restart at once)
    int backoff_max_ms;          // back-off ceiling
    int poll_interval_ms;        // RSS polling interval (default 20)
} byzgd_supervisor_options_t;

// The restart budget on its own (tests drive it with a fake clock).
typedef struct {
    double tokens;        // restarts available now
    double updated_s;     // when tokens was last brought up to date
    unsigned short_lives; // children in a row that died within backoff_max_ms
} byzgd_restart_budget_t;

void byzgd_restart_budget_init(byzgd_restart_budget_t *budget,
                               const byzgd_supervisor_options_t *options, double now_s);

// A child that lived `lived_s` seconds ended abnormally at `now_s`. Returns the back-off in
// milliseconds before restarting it, or -1 when the budget is spent (give up).
int byzgd_restart_budget_take(byzgd_restart_budget_t *budget,
                              const byzgd_supervisor_options_t *options, double now_s,
                              double lived_s);

int byzgd_supervisor_run(char *const argv[], const byzgd_supervisor_options_t *options);

// Resident memory (VmRSS) of process `pid` in bytes (0 for this process), or 0 if unknown.
size_t byzgd_process_rss_bytes(int pid);

#endif

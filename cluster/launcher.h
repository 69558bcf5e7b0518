/*  launcher.h — starts and supervises local child processes so that none outlives the
    launcher: each child runs in its own process group (so the terminal's Ctrl-C reaches
    only the launcher, which then stops the children in order), asks the kernel for
    SIGKILL when the launcher dies (PR_SET_PDEATHSIG, covers `kill -9` of the launcher),
    and is reaped here. SIGCHLD, SIGINT, SIGTERM and SIGHUP are blocked in the calling
    thread for the launcher's lifetime and taken synchronously by byzgd_launcher_wait(),
    so no signal handler and no global state are needed.

    byzgd_launcher_t *launcher = byzgd_launcher_new(error, sizeof error);
    int server = byzgd_launcher_spawn(launcher, "server", argv, NULL, "run/logs/server.log",
                                      error, sizeof error);
    for (;;) {
        int index, signal_number;
        byzgd_launcher_event_t event = byzgd_launcher_wait(launcher, 200, &index,
                                                           &signal_number);
        ...
    }
    byzgd_launcher_stop_all(launcher, 3000);   // TERM, grace period, then KILL
    byzgd_launcher_destroy(&launcher);

    Single-threaded use only: the kernel delivers PDEATHSIG when the forking *thread*
    ends, and the blocked signal mask is per thread. */
#ifndef BYZGD_LAUNCHER_H
#define BYZGD_LAUNCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct byzgd_launcher_t byzgd_launcher_t;

typedef enum {
    BYZGD_LAUNCHER_TIMEOUT = 0,     // nothing happened within the timeout
    BYZGD_LAUNCHER_CHILD_ENDED = 1, // a child ended; *index_out says which
    BYZGD_LAUNCHER_SIGNALED = 2,    // SIGINT, SIGTERM or SIGHUP arrived; *signal_out says which
} byzgd_launcher_event_t;

// Blocks SIGCHLD/SIGINT/SIGTERM/SIGHUP in the calling thread (the previous mask is
// restored by destroy and in every child). Returns NULL with a message on failure.
byzgd_launcher_t *byzgd_launcher_new(char *error, size_t error_size);

// Kills (SIGKILL) and reaps every child still running, restores the signal mask, frees
// the launcher and nulls *self_p. Call byzgd_launcher_stop_all() first for a clean stop.
void byzgd_launcher_destroy(byzgd_launcher_t **self_p);

// Starts argv[0] (a path, not searched in PATH) with arguments argv (NULL-terminated).
// env_overrides: NULL or a NULL-terminated list of "NAME=value" replacing or adding to the
// launcher's environment. log_path: NULL to inherit stdout/stderr, else both are appended
// to that file (created 0644). stdin is /dev/null. `name` labels the child in messages.
// Returns the child's index (0, 1, ... in spawn order), or -1 with a message when the
// program cannot be started (including exec failures such as a missing file).
int byzgd_launcher_spawn(byzgd_launcher_t *self, const char *name, const char *const argv[],
                         const char *const env_overrides[], const char *log_path, char *error,
                         size_t error_size);

// Waits up to timeout_ms (≥ 0) for the next event. Children that ended are reported one
// per call, in spawn order, each exactly once. index_out / signal_out may be NULL.
byzgd_launcher_event_t byzgd_launcher_wait(byzgd_launcher_t *self, int timeout_ms, int *index_out,
                                           int *signal_out);

// Sends signal_number to the process group of every running child.
void byzgd_launcher_signal_all(byzgd_launcher_t *self, int signal_number);

// Sends signal_number to one child's process group (no-op if it already ended).
void byzgd_launcher_signal(byzgd_launcher_t *self, int index, int signal_number);

// Stops every running child: SIGTERM, up to grace_ms for them to end, then SIGKILL, and
// reaps them all. A SIGINT/SIGTERM/SIGHUP arriving meanwhile cuts the grace short.
// Returns the number of children that had to be killed with SIGKILL.
int byzgd_launcher_stop_all(byzgd_launcher_t *self, int grace_ms);

// Like stop_all for one child. Returns 1 if it had to be killed, else 0.
int byzgd_launcher_stop(byzgd_launcher_t *self, int index, int grace_ms);

// Number of children spawned so far / still running (not yet reaped).
size_t byzgd_launcher_count(const byzgd_launcher_t *self);
size_t byzgd_launcher_running_count(const byzgd_launcher_t *self);

// The child's pid, name (borrowed), whether it still runs, and its wait status (only
// meaningful once it ended; see WIFEXITED etc.).
pid_t byzgd_launcher_pid(const byzgd_launcher_t *self, int index);
const char *byzgd_launcher_name(const byzgd_launcher_t *self, int index);
bool byzgd_launcher_running(const byzgd_launcher_t *self, int index);
int byzgd_launcher_status(const byzgd_launcher_t *self, int index);

// True if the child ended by exiting with status 0.
bool byzgd_launcher_succeeded(const byzgd_launcher_t *self, int index);

// "running", "exited with status 3" or "killed by signal 9 (Killed)" into buffer;
// returns buffer.
const char *byzgd_launcher_describe(const byzgd_launcher_t *self, int index, char *buffer,
                                    size_t buffer_size);

#endif

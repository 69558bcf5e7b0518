/*  actor.h — both sides of byzgd's actors (server, worker). The caller's side: calls and
    replies on the actor pipe, recording the actor's asynchronous "DONE <status>" event,
    which may arrive before the reply a caller waits for; the typed APIs
    (byzgd_server_stats, byzgd_worker_wait, ...) are one line each over these. The actor's
    side: its shell (the poll loop over pipe, socket and monitor, dispatching to the actor's
    handlers), its replies and DONE event on the pipe, and the socket monitor. */
#ifndef BYZGD_ACTOR_H
#define BYZGD_ACTOR_H

#include <czmq.h>
#include <stdbool.h>

// The caller's side of an actor: the zactor, and its DONE event once seen.
typedef struct {
    zactor_t *zactor;
    bool done;  // DONE has arrived
    int status; // its exit status (-1 until done)
} byzgd_actor_t;

// Receives from the actor until a message whose first frame is `expected` arrives, and
// returns it with that frame popped. Other messages are dropped, except that a "DONE"
// event sets done and status (its status frame, 1 if missing). Returns NULL when
// timeout_ms (negative: no limit) passes or on an interrupt (zsys_interrupted).
zmsg_t *byzgd_actor_recv_reply(byzgd_actor_t *actor, const char *expected, int timeout_ms);

// Waits up to timeout_ms (negative: no limit) for the actor's "DONE" event. Returns the
// actor's exit status once done (at once when it already is), or -1 while it still runs.
int byzgd_actor_wait(byzgd_actor_t *actor, int timeout_ms);

// Sends `command` and waits up to timeout_ms for its reply (a message starting with the same
// word) whose next frame must hold exactly `size` bytes, copied to `out`. Returns 0, or -1
// (no reply in time, a pipe error, or a reply of another size; `out` is then untouched).
int byzgd_actor_call(byzgd_actor_t *actor, const char *command, void *out, size_t size,
                     int timeout_ms);

// Ends the actor ("$TERM", then its thread's on_end) and waits for its thread (safe when
// it never started or has been stopped).
void byzgd_actor_stop(byzgd_actor_t *actor);

// The actor's reply to byzgd_actor_call: `command`, then data[0..size) in one frame.
// Returns 0, or -1 if the pipe refused it.
int byzgd_actor_reply(zsock_t *pipe, const char *command, const void *data, size_t size);

// The actor's shell (its thread's side): the pipe, its one network socket with that socket's
// monitor (NULL when libzmq cannot monitor it), an optional extra socket (the server's
// evaluator) and the poller over them, and the statistics the STATS command returns. The
// actor sets socket, monitor, extra and stats before it starts.
typedef struct {
    zsock_t *pipe;
    zsock_t *socket;
    zsock_t *monitor;
    void *extra; // a zsock_t or a libzmq socket
    zpoller_t *poller;
    const void *stats; // STATS is answered with stats[0..stats_size)
    size_t stats_size;
    bool terminated; // "$TERM", a broken pipe or the actor's own decision: the run ends
} byzgd_actor_shell_t;

// What the actor's thread calls back with the actor's state. Every handler is required
// except on_command and on_extra (only when shell->extra is set); on_timers runs after
// every wake-up, unless the actor has terminated; on_end last, with the sockets still open
// (it destroys the state, shell included).
typedef struct {
    int64_t (*wake_at)(const void *self, int64_t now); // next timer, zclock_mono() ms
    // A pipe command other than "$TERM"; STATS is answered after it returns.
    void (*on_command)(void *self, const char *command);
    void (*on_socket)(void *self);                  // the socket is readable
    void (*on_monitor)(void *self, unsigned event); // ZMQ_EVENT_* of the socket
    void (*on_extra)(void *self);                   // the extra socket is readable
    void (*on_timers)(void *self);
    void (*on_end)(void *self);
} byzgd_actor_handlers_t;

// Starts `actor`, a thread that takes `self` (which holds `shell`, socket and monitor set):
// it polls pipe, socket, monitor and extra at least once a second (wake_at is clamped to
// [now, now + 1000]) and dispatches to `handlers` until shell->terminated or an interrupted
// poll. Returns once the thread runs; byzgd_actor_stop ends it. Aborts if no thread starts.
void byzgd_actor_start(byzgd_actor_t *actor, byzgd_actor_shell_t *shell,
                       const byzgd_actor_handlers_t *handlers, void *self);

// The actor's "DONE <status>" event (byzgd_actor_wait receives it). Returns 0, or -1.
int byzgd_actor_shell_done(byzgd_actor_shell_t *shell, int status);

// Destroys the poller, the monitor and the socket (not the pipe, which zactor owns, nor the
// extra socket, which its owner destroys). Safe on a shell that never ran.
void byzgd_actor_shell_destroy(byzgd_actor_shell_t *shell);

// Starts monitoring `events` (ZMQ_EVENT_* bits) of `socket` on a new PAIR socket for the
// actor to poll. Returns it, or NULL if libzmq cannot monitor the socket.
zsock_t *byzgd_monitor_new(zsock_t *socket, int events);

// Stops monitoring `socket` and destroys *monitor_p, its monitor (NULL-safe; nulls it).
void byzgd_monitor_destroy(zsock_t **monitor_p, zsock_t *socket);

// Receives one event from a zmq_socket_monitor() PAIR socket and returns its event type
// (ZMQ_EVENT_*), or 0 if nothing valid arrived. The event message is consumed.
unsigned byzgd_monitor_event_recv(zsock_t *monitor);

#endif

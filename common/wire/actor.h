/*  actor.h — both sides of byzgd's actors (server, worker). The caller's side: calls and
    replies on the actor pipe, recording the actor's asynchronous "DONE <status>" event,
    which may arrive before the reply a caller waits for; the typed APIs
    (byzgd_server_stats, byzgd_worker_wait, ...) are one line each over these. The actor's
    side: its commands and replies on the pipe, and the socket monitor it polls. */
#ifndef BYZGD_ACTOR_H
#define BYZGD_ACTOR_H

#include <czmq.h>
#include <stdbool.h>

// Receives from `actor` until a message whose first frame is `expected` arrives, and
// returns it with that frame popped. Other messages are dropped, except that a "DONE"
// event sets *done and *status (its status frame, 1 if missing). Returns NULL when
// timeout_ms (negative: no limit) passes or on an interrupt (zsys_interrupted).
zmsg_t *byzgd_actor_recv_reply(zactor_t *actor, const char *expected, int timeout_ms, bool *done,
                               int *status);

// Waits up to timeout_ms (negative: no limit) for the actor's "DONE" event. Returns the
// actor's exit status once *done (at once when it already is), or -1 while it still runs.
int byzgd_actor_wait(zactor_t *actor, int timeout_ms, bool *done, int *status);

// Sends `command` and waits up to timeout_ms for its reply (a message starting with the same
// word) whose next frame must hold exactly `size` bytes, copied to `out`. Returns 0, or -1
// (no reply in time, a pipe error, or a reply of another size; `out` is then untouched).
int byzgd_actor_call(zactor_t *actor, const char *command, void *out, size_t size, int timeout_ms,
                     bool *done, int *status);

// The actor's side of the pipe: receives one command (its first frame; later frames are
// dropped). Returns the command, freed by the caller with zstr_free, or NULL when the actor
// must end: "$TERM" (zactor_destroy) or a broken pipe.
char *byzgd_actor_command_recv(zsock_t *pipe);

// The actor's reply to byzgd_actor_call: `command`, then data[0..size) in one frame.
// Returns 0, or -1 if the pipe refused it.
int byzgd_actor_reply(zsock_t *pipe, const char *command, const void *data, size_t size);

// Starts monitoring `events` (ZMQ_EVENT_* bits) of `socket` on a new PAIR socket for the
// actor to poll. Returns it, or NULL if libzmq cannot monitor the socket.
zsock_t *byzgd_monitor_new(zsock_t *socket, int events);

// Stops monitoring `socket` and destroys *monitor_p, its monitor (NULL-safe; nulls it).
void byzgd_monitor_destroy(zsock_t **monitor_p, zsock_t *socket);

// Receives one event from a zmq_socket_monitor() PAIR socket and returns its event type
// (ZMQ_EVENT_*), or 0 if nothing valid arrived. The event message is consumed.
unsigned byzgd_monitor_event_recv(zsock_t *monitor);

#endif

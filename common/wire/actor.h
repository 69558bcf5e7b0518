/*  actor.h — the caller's side of byzgd's actors (server, worker): calls and replies on
    the actor pipe, recording the actor's asynchronous "DONE <status>" event, which may
    arrive before the reply a caller waits for. The typed APIs (byzgd_server_stats,
    byzgd_worker_wait, ...) are one line each over these. */
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

// Receives one event from a zmq_socket_monitor() PAIR socket and returns its event type
// (ZMQ_EVENT_*), or 0 if nothing valid arrived. The event message is consumed.
unsigned byzgd_monitor_event_recv(zsock_t *monitor);

#endif

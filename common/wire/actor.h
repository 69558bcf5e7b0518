/*  actor.h — the caller's side of byzgd's actors (server, worker): waiting for a reply on
    the actor pipe while recording the actor's asynchronous "DONE <status>" event, which
    may arrive before the reply a caller waits for. */
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

// Receives one event from a zmq_socket_monitor() PAIR socket and returns its event type
// (ZMQ_EVENT_*), or 0 if nothing valid arrived. The event message is consumed.
unsigned byzgd_monitor_event_recv(zsock_t *monitor);

#endif

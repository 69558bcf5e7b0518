/*  actor.c — calls and replies on an actor pipe, with the DONE event recorded on the way;
    the actor's commands and its socket monitor. */
#include "actor.h"

zmsg_t *
byzgd_actor_recv_reply(zactor_t *actor, const char *expected, int timeout_ms, bool *done,
                       int *status)
{
    bool forever = timeout_ms < 0;
    int64_t end = forever ? INT64_MAX : zclock_mono() + timeout_ms;
    while (true) {
        int64_t left = forever ? -1 : end - zclock_mono();
        if (!forever && left < 0)
            return NULL;
        zsock_set_rcvtimeo(actor, (int)(left > INT32_MAX ? INT32_MAX : left));
        zmsg_t *reply = zmsg_recv(actor);
        if (!reply) {
            if (errno == EINTR && !zsys_interrupted)
                continue;
            return NULL; // timeout, interrupt or a closed pipe
        }
        char *tag = zmsg_popstr(reply);
        if (tag && streq(tag, "DONE")) {
            char *status_text = zmsg_popstr(reply);
            *done = true;
            *status = status_text ? atoi(status_text) : 1;
            zstr_free(&status_text);
        }
        bool match = tag && streq(tag, expected);
        zstr_free(&tag);
        if (match)
            return reply;
        zmsg_destroy(&reply);
    }
}

int
byzgd_actor_wait(zactor_t *actor, int timeout_ms, bool *done, int *status)
{
    if (!*done) {
        zmsg_t *reply = byzgd_actor_recv_reply(actor, "DONE", timeout_ms, done, status);
        zmsg_destroy(&reply);
    }
    return *done ? *status : -1;
}

int
byzgd_actor_call(zactor_t *actor, const char *command, void *out, size_t size, int timeout_ms,
                 bool *done, int *status)
{
    if (zstr_send(actor, command) != 0)
        return -1;
    zmsg_t *reply = byzgd_actor_recv_reply(actor, command, timeout_ms, done, status);
    zframe_t *frame = reply ? zmsg_first(reply) : NULL;
    int result = -1;
    if (frame && zframe_size(frame) == size) {
        memcpy(out, zframe_data(frame), size);
        result = 0;
    }
    zmsg_destroy(&reply);
    return result;
}

char *
byzgd_actor_command_recv(zsock_t *pipe)
{
    zmsg_t *request = zmsg_recv(pipe);
    char *command = request ? zmsg_popstr(request) : NULL;
    zmsg_destroy(&request);
    if (command && streq(command, "$TERM"))
        zstr_free(&command);
    return command;
}

int
byzgd_actor_reply(zsock_t *pipe, const char *command, const void *data, size_t size)
{
    return zsock_send(pipe, "sb", command, data, size);
}

zsock_t *
byzgd_monitor_new(zsock_t *socket, int events)
{
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "inproc://byzgd-monitor-%p", (void *)socket);
    if (zmq_socket_monitor(zsock_resolve(socket), endpoint, events) != 0)
        return NULL;
    return zsock_new_pair(endpoint);
}

void
byzgd_monitor_destroy(zsock_t **monitor_p, zsock_t *socket)
{
    if (!monitor_p || !*monitor_p)
        return;
    zmq_socket_monitor(zsock_resolve(socket), NULL, 0);
    zsock_destroy(monitor_p);
}

unsigned
byzgd_monitor_event_recv(zsock_t *monitor)
{
    zmsg_t *event = zmsg_recv(monitor);
    zframe_t *head = event ? zmsg_first(event) : NULL;
    unsigned type = 0;
    // The first frame starts with the event number, 16 bits little-endian.
    if (head && zframe_size(head) >= 2)
        type = (unsigned)(zframe_data(head)[0] | zframe_data(head)[1] << 8);
    zmsg_destroy(&event);
    return type;
}

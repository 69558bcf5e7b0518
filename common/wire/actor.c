/*  actor.c — calls and replies on an actor pipe, with the DONE event recorded on the way;
    the actor's shell (its poll loop and commands) and its socket monitor. */
#include "actor.h"

zmsg_t *
byzgd_actor_recv_reply(byzgd_actor_t *actor, const char *expected, int timeout_ms)
{
    bool forever = timeout_ms < 0;
    int64_t end = forever ? INT64_MAX : zclock_mono() + timeout_ms;
    while (true) {
        int64_t left = forever ? -1 : end - zclock_mono();
        if (!forever && left < 0)
            return NULL;
        zsock_set_rcvtimeo(actor->zactor, (int)(left > INT32_MAX ? INT32_MAX : left));
        zmsg_t *reply = zmsg_recv(actor->zactor);
        if (!reply) {
            if (errno == EINTR && !zsys_interrupted)
                continue;
            return NULL; // timeout, interrupt or a closed pipe
        }
        char *tag = zmsg_popstr(reply);
        if (tag && streq(tag, "DONE")) {
            char *status_text = zmsg_popstr(reply);
            actor->done = true;
            actor->status = status_text ? atoi(status_text) : 1;
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
byzgd_actor_wait(byzgd_actor_t *actor, int timeout_ms)
{
    if (!actor->done) {
        zmsg_t *reply = byzgd_actor_recv_reply(actor, "DONE", timeout_ms);
        zmsg_destroy(&reply);
    }
    return actor->done ? actor->status : -1;
}

int
byzgd_actor_call(byzgd_actor_t *actor, const char *command, void *out, size_t size, int timeout_ms)
{
    if (zstr_send(actor->zactor, command) != 0)
        return -1;
    zmsg_t *reply = byzgd_actor_recv_reply(actor, command, timeout_ms);
    zframe_t *frame = reply ? zmsg_first(reply) : NULL;
    int result = -1;
    if (frame && zframe_size(frame) == size) {
        memcpy(out, zframe_data(frame), size);
        result = 0;
    }
    zmsg_destroy(&reply);
    return result;
}

void
byzgd_actor_stop(byzgd_actor_t *actor)
{
    zactor_destroy(&actor->zactor);
}

int
byzgd_actor_reply(zsock_t *pipe, const char *command, const void *data, size_t size)
{
    return zsock_send(pipe, "sb", command, data, size);
}

typedef struct {
    byzgd_actor_shell_t *shell;
    const byzgd_actor_handlers_t *handlers;
    void *self;
} s_start_t;

// Receives one command (its first frame; later frames are dropped). Returns the command,
// freed by the caller with zstr_free, or NULL when the actor must end: "$TERM"
// (zactor_destroy) or a broken pipe.
static char *
s_command_recv(zsock_t *pipe)
{
    zmsg_t *request = zmsg_recv(pipe);
    char *command = request ? zmsg_popstr(request) : NULL;
    zmsg_destroy(&request);
    if (command && streq(command, "$TERM"))
        zstr_free(&command);
    return command;
}

// One command on the pipe: "$TERM" (or a broken pipe) ends the run; STATS is answered
// after the actor's own handler has seen it.
static void
s_on_pipe(byzgd_actor_shell_t *shell, const byzgd_actor_handlers_t *handlers, void *self)
{
    char *command = s_command_recv(shell->pipe);
    if (!command) {
        shell->terminated = true;
        return;
    }
    if (handlers->on_command)
        handlers->on_command(self, command);
    if (streq(command, "STATS"))
        byzgd_actor_reply(shell->pipe, "STATS", shell->stats, shell->stats_size);
    zstr_free(&command);
}

static void
s_actor(zsock_t *pipe, void *arg)
{
    s_start_t start = *(s_start_t *)arg; // on the caller's stack until the signal below
    byzgd_actor_shell_t *shell = start.shell;
    const byzgd_actor_handlers_t *handlers = start.handlers;
    void *self = start.self;
    shell->pipe = pipe;
    shell->poller = zpoller_new(pipe, shell->socket, NULL);
    if (shell->monitor)
        zpoller_add(shell->poller, shell->monitor);
    if (shell->extra)
        zpoller_add(shell->poller, shell->extra);
    zpoller_set_nonstop(shell->poller, true); // the caller decides what a signal means
    zsock_signal(pipe, 0);
    while (!shell->terminated) {
        int64_t now = zclock_mono();
        int64_t wait_ms = handlers->wake_at(self, now) - now;
        wait_ms = wait_ms < 0 ? 0 : wait_ms > 1000 ? 1000 : wait_ms;
        void *which = zpoller_wait(shell->poller, (int)wait_ms);
        if (which == pipe)
            s_on_pipe(shell, handlers, self);
        else if (which == shell->socket)
            handlers->on_socket(self);
        else if (shell->monitor && which == shell->monitor)
            handlers->on_monitor(self, byzgd_monitor_event_recv(shell->monitor));
        else if (shell->extra && which == shell->extra)
            handlers->on_extra(self);
        else if (zpoller_terminated(shell->poller))
            break;
        if (!shell->terminated)
            handlers->on_timers(self);
    }
    handlers->on_end(self);
}

void
byzgd_actor_start(byzgd_actor_t *actor, byzgd_actor_shell_t *shell,
                  const byzgd_actor_handlers_t *handlers, void *self)
{
    s_start_t start = {.shell = shell, .handlers = handlers, .self = self};
    actor->done = false;
    actor->status = -1;
    actor->zactor = zactor_new(s_actor, &start); // returns after s_actor's signal
    if (!actor->zactor)
        abort();
}

int
byzgd_actor_shell_done(byzgd_actor_shell_t *shell, int status)
{
    return zsock_send(shell->pipe, "si", "DONE", status);
}

void
byzgd_actor_shell_destroy(byzgd_actor_shell_t *shell)
{
    zpoller_destroy(&shell->poller);
    byzgd_monitor_destroy(&shell->monitor, shell->socket);
    zsock_destroy(&shell->socket);
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

/*  security.h — the security layer of byzgd: CURVE keys, the ZAP handler (allow-list,
    deny-list, handshake rate limit), socket hardening, peer identity from the `User-Id`
    metadata, per-identity message rate limits with strikes and bans. The deny-list is
    wire/denylist.h; the supervisor that restarts a server killed by its memory cap or by a
    libzmq assertion is supervise/supervisor.h.

    Threat model and design: docs/SECURITY.md. In short:
    - a worker's identity is the Z85 CURVE public key the ZAP handler authenticated
      (`User-Id`), never a message field and never the ROUTER routing id;
    - the server keys slots, per-round proposals, counters and bans by that identity and
      replies to the routing id the admitted message came from;
    - honest workers use a 16-byte random routing id (not zero-prefixed), so no peer can
      guess it to lock them out or steal their replies;
    - the libzmq abort on a zero-prefixed routing id collision cannot be prevented from the
      application; it is made improbable by the per-key handshake rate limit and contained by
      the supervisor (restart from checkpoint, persisted deny-list).

    Key directory layout (written by `byzgd-keygen DIR --workers N`):
        DIR/server.cert              server public certificate (give it to workers)
        DIR/server.cert_secret       server secret certificate, mode 0600
        DIR/workers/NAME.cert        worker public certificate
        DIR/workers/NAME.cert_secret worker secret certificate, mode 0600
        DIR/allowed/NAME.cert        public copies: the server's allow-list directory
        DIR/denied.txt               the persisted deny-list (default location)
    NAME is worker-000, worker-001, ... */
#ifndef BYZGD_SECURITY_H
#define BYZGD_SECURITY_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// Z85 public key (40 characters) or, in insecure mode, "insecure:" + hex routing id.
#define BYZGD_IDENTITY_SIZE 80
// Routing id length honest workers use (random, first byte never 0).
#define BYZGD_ROUTING_ID_SIZE 16

#define BYZGD_KEYS_SERVER_CERT "server.cert"
#define BYZGD_KEYS_WORKERS_DIR "workers"
#define BYZGD_KEYS_ALLOWED_DIR "allowed"
#define BYZGD_KEYS_DENY_LIST   "denied.txt"

// ---------------------------------------------------------------------------------------
// Keys

// Creates DIR (mode 0700, and its missing parents) with the server keypair and `worker_count`
// worker keypairs in zcert format (secret files 0600) and the allow-list directory. Refuses to
// overwrite an existing server.cert unless `force`. Returns 0, or -1 with a message.
int byzgd_keys_generate(const char *dir, size_t worker_count, bool force, char *error,
                        size_t error_size);

// Writes DIR/workers/worker-NNN.cert (the public file; zcert_load finds the _secret beside
// it) into `path`. Returns 0, or -1 when it does not fit.
int byzgd_keys_worker_cert_path(char *path, size_t path_size, const char *dir, size_t index);

// Slots are bound to keys: a worker's slot (its data shard and random stream) is the number
// in its key's name, `worker-007` → 7, never the order in which it joined.
// Writes the name of slot `index` ("worker-007") into name. Returns 0, or -1 when it does
// not fit.
int byzgd_keys_worker_name(char *name, size_t name_size, size_t index);
// Parses a key name "worker-NNN", optionally followed by ".cert" (NNN: 1 to 9 decimal
// digits). Returns 0 with *slot_out, or -1 for any other name.
int byzgd_keys_slot_of_name(const char *name, size_t *slot_out);

// Reads the certificate at `path` whole and checks it: a `public-key` of 40 Z85
// characters and, with `with_secret`, PATH_secret readable by its owner only (mode & 077
// == 0), holding a 40-character Z85 `secret-key` that derives that public key. Messages
// say what is wrong ("does not exist", "is 12 characters", "not Z85 at position 7",
// "accessible to group or others (mode 0644): chmod 600 ..."). Copies the public key into
// public_out (may be NULL). Returns 0, or -1 with a message.
int byzgd_keys_check_certificate(const char *path, bool with_secret, char public_out[41],
                                 char *error, size_t error_size);

#include "denylist.h"

// ---------------------------------------------------------------------------------------
// Server side

typedef struct {
    bool insecure;              // plaintext, identity = routing id (unsafe, warned)
    const char *keys_dir;       // server.cert(_secret) and allowed/ (ignored if insecure)
    const char *deny_list_path; // NULL: keys_dir/denied.txt (insecure: no deny-list)
    size_t max_frame_bytes;     // ZMQ_MAXMSGSIZE; byzgd_security_max_frame_bytes(d)
    size_t max_frames;          // body frames per message (default 1, PROTOCOL.md §1)
    int high_water_mark;        // SNDHWM and RCVHWM (default 4)
    double message_rate;        // messages per second per identity (default 1000)
    double message_burst;       // bucket size (default 2000)
    double byte_rate;           // bytes per second per identity (default max(64 MiB, 16 frames))
    double byte_burst;          // (default max(128 MiB, 32 frames)); 0 rate: no byte limit
    double rejected_byte_rate;  // bytes of rejected messages per second before a strike
    double rejected_byte_burst; // (defaults max(32 MiB, 8 frames) and max(64 MiB, 16 frames))
    unsigned strikes_to_ban;    // rate violations before a ban (default 1000; 0: never)
    double handshake_rate;      // CURVE handshakes per second per key (default 1/60)
    double handshake_burst;     // (default 16)
    int heartbeat_ivl_ms;       // ZMTP heartbeats (default 1000; timeout 5×)
} byzgd_security_options_t;

// Fills the defaults above for a model of dimension d (max_frame_bytes from d).
void byzgd_security_options_defaults(byzgd_security_options_t *options, size_t dimension);

// Largest frame a message for dimension d may need: 4·d bytes of float32 tensor plus
// 1 KiB (msgpack header; also the cap of every message without a tensor).
size_t byzgd_security_max_frame_bytes(size_t dimension);

// Memory bound of a server for n workers and dimension d, used by the supervisor's cap:
// 256 MiB + (high_water_mark + 4)·n·(4·d) bytes.
size_t byzgd_security_memory_bound(size_t worker_count, size_t dimension, int high_water_mark);

typedef struct {
    uint64_t admitted;              // messages handed to the protocol layer
    uint64_t no_identity;           // no User-Id (cannot happen with ZAP enforced; counted)
    uint64_t denied;                // identity on the deny-list
    uint64_t rate_limited;          // dropped by the per-identity token buckets (messages, bytes)
    uint64_t byte_limited;          // of which by the byte budget
    uint64_t rejected_byte_strikes; // strikes for rejected bytes over their budget
    uint64_t too_many_frames;       // more than max_frames (rest drained without keeping it)
    uint64_t empty;                 // a routing id with no content frame
    uint64_t zero_prefixed;         // routing id starting with 0 (auto-generated or planted)
    uint64_t strikes;               // byzgd_security_strike calls (malformed messages etc.)
    uint64_t bans;                  // identities banned by this process
    uint64_t handshakes_ok;         // ZAP: accepted
    uint64_t handshakes_unknown;    // ZAP: key not on the allow-list
    uint64_t handshakes_denied;     // ZAP: key on the deny-list
    uint64_t handshakes_limited;    // ZAP: handshake rate limit
} byzgd_security_stats_t;

typedef enum {
    BYZGD_ADMIT_OK = 0,
    BYZGD_ADMIT_NOTHING, // no message (timeout or interrupted)
    BYZGD_ADMIT_NO_IDENTITY,
    BYZGD_ADMIT_DENIED,
    BYZGD_ADMIT_RATE_LIMITED,
    BYZGD_ADMIT_TOO_MANY_FRAMES,
    BYZGD_ADMIT_EMPTY,
} byzgd_admit_t;

typedef struct byzgd_security_t byzgd_security_t;

// Loads keys and the deny-list and, unless insecure, starts the ZAP handler (in this
// process's CZMQ context). Call before creating/binding the server socket. Insecure mode
// logs a warning. Returns NULL with a message.
byzgd_security_t *byzgd_security_new(const byzgd_security_options_t *options, char *error,
                                     size_t error_size);
void byzgd_security_destroy(byzgd_security_t **self_p);

// Hardens a ROUTER before bind: CURVE server with ZAP domain "byzgd" and
// ZMQ_ZAP_ENFORCE_DOMAIN (via zmq_setsockopt), MAXMSGSIZE, small HWMs, no handover,
// ROUTER_MANDATORY with SNDTIMEO 0 (a send to a full or gone peer fails at once with
// EAGAIN / EHOSTUNREACH, never blocks), linger 0, heartbeats. Returns 0, or -1.
int byzgd_security_server_setup(byzgd_security_t *self, zsock_t *router, char *error,
                                size_t error_size);

// Receives one message from `router` (honouring its RCVTIMEO) frame by frame, and admits
// it: on BYZGD_ADMIT_OK, *message_p = [routing id, content frames...] (caller owns) and
// `identity` holds the peer's identity. Any other value: the message was dropped and
// counted (frames beyond max_frames are received and freed one at a time, never kept);
// on BYZGD_ADMIT_DENIED and BYZGD_ADMIT_RATE_LIMITED *message_p = [routing id] alone
// (caller owns), so that the caller can answer ERROR banned / rate_limited.
byzgd_admit_t byzgd_security_recv(byzgd_security_t *self, zsock_t *router, zmsg_t **message_p,
                                  char identity[BYZGD_IDENTITY_SIZE]);

// Records a protocol violation (malformed message, wrong round, duplicate...) by an
// admitted identity. Returns true when this strike banned it (only if strikes_to_ban > 0).
bool byzgd_security_strike(byzgd_security_t *self, const char *identity, const char *reason);

// Records that the protocol layer rejected the last message admitted from `identity`
// (stale round, other epoch, non-finite values ...: rejections honest workers also cause,
// hence no strike each). Its bytes are counted against a budget of rejected bytes; running
// out of it is a strike (so a peer streaming full-size proposals that are always rejected
// is banned in the end). Returns true when this strike banned it.
bool byzgd_security_rejected(byzgd_security_t *self, const char *identity, const char *reason);

// Bans `identity` now (deny-list persisted). Returns 0, or -1 with a message.
int byzgd_security_ban(byzgd_security_t *self, const char *identity, const char *reason,
                       char *error, size_t error_size);

// The slot bound to an admitted identity: with keys, the number in the name of the
// allowed/ certificate holding that public key (allowed/worker-007.cert → 7); in insecure
// mode, the routing id when it spells a key name ("worker-007", what `byzgd-worker --slot 7`
// sets). Returns 0 with *slot_out, or -1 when the identity names no slot.
int byzgd_security_slot(const byzgd_security_t *self, const char *identity, size_t *slot_out);
// True when `identity` is currently denied (re-reads the deny-list if it changed).
bool byzgd_security_is_denied(byzgd_security_t *self, const char *identity);

// Copies the counters (the ZAP ones are fetched from the handler).
void byzgd_security_stats(byzgd_security_t *self, byzgd_security_stats_t *stats);

// Human-readable name of a verdict.
const char *byzgd_admit_name(byzgd_admit_t verdict);

// ---------------------------------------------------------------------------------------
// Client side (workers)

// Hardens a DEALER before connect: CURVE client with the worker certificate
// (`worker_cert_path`, the public file; the _secret file beside it is loaded too) and the
// server's public certificate, a random 16-byte routing id (libsodium; never zero-prefixed),
// ZMQ_IMMEDIATE=1 (no queueing for a restarted server), small HWMs, MAXMSGSIZE, linger 0,
// heartbeats. With `insecure` the paths may be NULL and only hardening is applied.
// Returns 0, or -1 with a message.
int byzgd_security_client_setup(zsock_t *dealer, bool insecure, const char *worker_cert_path,
                                const char *server_cert_path, size_t max_frame_bytes, char *error,
                                size_t error_size);

#endif

/*  byzgd-hammer — a hostile client for testing a running byzgd server (docs/SECURITY.md).

    byzgd-hammer --endpoint EP [identity] [--seconds T] [--count N] [--seed S] MODE

    identity (how it connects):
      --plaintext                     no CURVE at all (an outsider)
      --random-key --server-cert F    CURVE with a fresh random key (an outsider who knows
                                      the server key)
      --cert F --server-cert F        CURVE with a worker certificate (an insider)
      --routing-id HEX                choose the routing id (spoofing); default: random
      --anonymous                     (with --cert) no routing id: the ROUTER makes one
      --connections K                 K connections with the same key (Sybil)

    modes:
      garbage      N random frames of 0..2048 bytes
      bombs        msgpack size/depth bombs (array32/map32/str32/bin32 headers, deep nesting)
      malformed    join, then a table of malformed messages (prints how many)
      flood        join, then HEARTBEATs as fast as possible for T seconds
      stall        join, then never read for T seconds
      multipart    a multipart message of N frames of 1 KiB (N = 0: endless, until killed)
      nonfinite    join, then each round a PROPOSAL of NaN/±Inf/huge/denormal values
      proposals    join, then each round a plausible PROPOSAL on every connection
      rawmultipart an endless multipart message over raw ZMTP/NULL (needs --plaintext and
                   an --insecure server; runs until the connection breaks)
      oversize     join, then a frame one byte over the server's frame cap

    Messages are packed by hand (msgpack-c's packer, raw bytes for the malformed ones), not
    with byzgd's codec, so the server is tested against an independent encoder. Prints one
    summary line: `hammer MODE: sent S, received R, errors E`. */
#include "support/log.h"
#include "support/options.h"
#include "support/rng.h"
#include "wire/security.h"

#include <arpa/inet.h>
#include <czmq.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <float.h>
#include <math.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#define S_CONNECTIONS_MAX 64

typedef struct {
    const char *endpoint, *cert, *server_cert, *mode, *routing_hex;
    bool plaintext, random_key, anonymous;
    double seconds;
    long count;
    uint64_t seed;
    int connections;
} s_options_t;

typedef struct {
    zsock_t *sockets[S_CONNECTIONS_MAX];
    int socket_count;
    uint64_t epoch, round, dimension;
    uint64_t sent, received, errors;
    byzgd_rng_t rng;
} s_hammer_t;

// ---------------------------------------------------------------------------------------
// Packing

typedef struct {
    msgpack_sbuffer buffer;
    msgpack_packer packer;
} s_pack_t;

// The common header into pack->buffer (initialised by the caller).
static void
s_pack_header(s_pack_t *pack, uint32_t count, uint64_t type, uint64_t epoch, uint64_t round)
{
    msgpack_packer_init(&pack->packer, &pack->buffer, msgpack_sbuffer_write);
    msgpack_pack_array(&pack->packer, count);
    msgpack_pack_uint64(&pack->packer, 1);
    msgpack_pack_uint64(&pack->packer, type);
    msgpack_pack_uint64(&pack->packer, epoch);
    msgpack_pack_uint64(&pack->packer, round);
}

static void
s_pack_begin(s_pack_t *pack, uint32_t count, uint64_t type, uint64_t epoch, uint64_t round)
{
    msgpack_sbuffer_init(&pack->buffer);
    s_pack_header(pack, count, type, epoch, round);
}

static void
s_free(void *data, void *hint)
{
    (void)hint;
    free(data);
}

static void
s_send_bytes(s_hammer_t *self, zsock_t *sock, const void *data, size_t size)
{
    // Blocking up to SNDTIMEO: with a high-water mark of 4 a burst would otherwise fail.
    zframe_t *frame = zframe_new(data, size);
    if (zframe_send(&frame, sock, 0) == 0)
        self->sent++;
    else {
        zframe_destroy(&frame);
        self->errors++;
    }
}

// Hands the packed buffer to libzmq as it is (no copy; freed after the send), blocking up
// to SNDTIMEO like s_send_bytes.
static void
s_send_pack(s_hammer_t *self, zsock_t *sock, s_pack_t *pack)
{
    size_t size = pack->buffer.size;
    zmq_msg_t message;
    zmq_msg_init_data(&message, msgpack_sbuffer_release(&pack->buffer), size, s_free, NULL);
    if (zmq_msg_send(&message, zsock_resolve(sock), 0) >= 0)
        self->sent++;
    else {
        zmq_msg_close(&message);
        self->errors++;
    }
}

static void
s_send_hello(s_hammer_t *self, zsock_t *sock)
{
    s_pack_t pack;
    s_pack_begin(&pack, 6, 1, 0, 0);
    msgpack_pack_str_with_body(&pack.packer, "byzgd-hammer", 12);
    msgpack_pack_uint64(&pack.packer, 0);
    s_send_pack(self, sock, &pack);
}

// A PROPOSAL for the current round whose gradient is `values` (d floats).
static void
s_send_proposal(s_hammer_t *self, zsock_t *sock, double loss, const float *values)
{
    s_pack_t pack;
    // Sized once for the whole message: the packer then never grows (and copies) it. A
    // load generator as frugal as the worker, which encodes once and sends without a copy.
    size_t payload = (size_t)(4 * self->dimension);
    msgpack_sbuffer_init(&pack.buffer);
    pack.buffer.alloc = payload + 64;
    pack.buffer.data = malloc(pack.buffer.alloc);
    assert(pack.buffer.data);
    s_pack_header(&pack, 6, 4, self->epoch, self->round);
    msgpack_pack_double(&pack.packer, loss);
    msgpack_pack_bin_with_body(&pack.packer, values, payload);
    s_send_pack(self, sock, &pack);
}

// ---------------------------------------------------------------------------------------
// Reading the server (trusted in a test; frames are capped by MAXMSGSIZE anyway)

// Reads one message if one arrives within timeout_ms; learns epoch/round/dimension from
// CONFIG and PARAMS. Returns the message type, 0 if none.
static int
s_receive(s_hammer_t *self, zsock_t *sock, int timeout_ms)
{
    zsock_set_rcvtimeo(sock, timeout_ms);
    zframe_t *frame = zframe_recv(sock);
    if (!frame)
        return 0;
    self->received++;
    int type = 0;
    msgpack_unpacked unpacked;
    msgpack_unpacked_init(&unpacked);
    if (msgpack_unpack_next(&unpacked, (const char *)zframe_data(frame), zframe_size(frame),
                            NULL) == MSGPACK_UNPACK_SUCCESS &&
        unpacked.data.type == MSGPACK_OBJECT_ARRAY && unpacked.data.via.array.size >= 4) {
        msgpack_object *items = unpacked.data.via.array.ptr;
        type = (int)items[1].via.u64;
        if (type == 2 || type == 3) {
            self->epoch = items[2].via.u64;
            self->round = items[3].via.u64;
        }
        if (type == 2 && unpacked.data.via.array.size > 7)
            self->dimension = items[7].via.u64;
    }
    msgpack_unpacked_destroy(&unpacked);
    zframe_destroy(&frame);
    return type;
}

// HELLO until CONFIG and PARAMS arrive. Returns 0, or -1 on timeout.
static int
s_join(s_hammer_t *self, zsock_t *sock)
{
    for (int attempt = 0; attempt < 20; attempt++) {
        s_send_hello(self, sock);
        int64_t until = zclock_mono() + 1000;
        while (zclock_mono() < until) {
            int type = s_receive(self, sock, 200);
            if (type == 3 && self->dimension)
                return 0;
            if (type == 6)
                break;
        }
    }
    return -1;
}

// ---------------------------------------------------------------------------------------
// Modes

static void
s_mode_garbage(s_hammer_t *self, long count)
{
    uint8_t buffer[2048];
    for (long i = 0; i < count && !zsys_interrupted; i++) {
        size_t size = (size_t)byzgd_rng_below(&self->rng, sizeof buffer + 1);
        for (size_t j = 0; j < size; j++)
            buffer[j] = (uint8_t)byzgd_rng_next(&self->rng);
        s_send_bytes(self, self->sockets[i % self->socket_count], buffer, size);
    }
}

static void
s_mode_bombs(s_hammer_t *self)
{
    static const uint8_t bombs[][16] = {
        {0xdd, 0xff, 0xff, 0xff, 0xff},             // array32 of 4 294 967 295
        {0xdf, 0xff, 0xff, 0xff, 0xff},             // map32
        {0xdb, 0xff, 0xff, 0xff, 0xff, 'a'},        // str32
        {0xc6, 0xff, 0xff, 0xff, 0xff, 0},          // bin32
        {0xc9, 0xff, 0xff, 0xff, 0xff, 1, 0},       // ext32
        {0x96, 0x01, 0x04, 0xcf, 0, 0, 0, 0, 0, 0}, // PROPOSAL header cut short
        {0xdc, 0xff, 0xff, 0x01},                   // array16 of 65535
    };
    for (size_t i = 0; i < sizeof bombs / sizeof bombs[0]; i++) {
        size_t size = 1;
        while (size < sizeof bombs[i] && (bombs[i][size] || size < 5))
            size++;
        s_send_bytes(self, self->sockets[i % self->socket_count], bombs[i], size);
    }
    // Nesting bomb: 1000 nested one-element arrays.
    uint8_t deep[1001];
    memset(deep, 0x91, 1000);
    deep[1000] = 0x01;
    s_send_bytes(self, self->sockets[0], deep, sizeof deep);
}

typedef struct {
    const char *name;
    size_t size;
    uint8_t bytes[48];
} s_raw_t;

// The malformed table: raw byte strings, then schema violations built around the learned
// epoch, round and d. Every entry must be rejected by the server.
static void
s_mode_malformed(s_hammer_t *self, zsock_t *sock)
{
    static const s_raw_t raw[] = {
        {"empty frame", 0, {0}},
        {"never-used byte 0xc1", 1, {0xc1}},
        {"positive fixint", 1, {0x05}},
        {"nil", 1, {0xc0}},
        {"fixmap", 3, {0x81, 0x01, 0x02}},
        {"empty array", 1, {0x90}},
        {"string", 4, {0xa3, 'a', 'b', 'c'}},
        {"array of 4 nils", 5, {0x94, 0xc0, 0xc0, 0xc0, 0xc0}},
        {"array32 bomb", 5, {0xdd, 0xff, 0xff, 0xff, 0xff}},
        {"map32 bomb", 5, {0xdf, 0xff, 0xff, 0xff, 0xff}},
        {"bin32 bomb", 6, {0xc6, 0xff, 0xff, 0xff, 0xff, 0x00}},
        {"str32 bomb", 6, {0xdb, 0xff, 0xff, 0xff, 0xff, 0x41}},
        {"truncated uint64", 4, {0x94, 0x01, 0x05, 0xcf}},
        {"float32 truncated", 3, {0x91, 0xca, 0x00}},
        {"deep nesting", 8, {0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91}},
        {"HELLO version 2", 8, {0x96, 0x02, 0x01, 0x00, 0x00, 0xa1, 'x', 0x00}},
        {"HELLO type 0", 8, {0x96, 0x01, 0x00, 0x00, 0x00, 0xa1, 'x', 0x00}},
        {"HELLO type 99", 8, {0x96, 0x01, 0x63, 0x00, 0x00, 0xa1, 'x', 0x00}},
        {"HELLO 5 elements", 7, {0x95, 0x01, 0x01, 0x00, 0x00, 0xa1, 'x'}},
        {"HELLO 7 elements", 9, {0x97, 0x01, 0x01, 0x00, 0x00, 0xa1, 'x', 0x00, 0x00}},
        {"HELLO software as bin", 9, {0x96, 0x01, 0x01, 0x00, 0x00, 0xc4, 0x01, 'x', 0x00}},
        {"HELLO non-printable", 8, {0x96, 0x01, 0x01, 0x00, 0x00, 0xa1, 0x07, 0x00}},
        {"HELLO negative caps", 8, {0x96, 0x01, 0x01, 0x00, 0x00, 0xa1, 'x', 0xff}},
        {"HELLO epoch 1", 8, {0x96, 0x01, 0x01, 0x01, 0x00, 0xa1, 'x', 0x00}},
        {"HELLO trailing byte", 9, {0x96, 0x01, 0x01, 0x00, 0x00, 0xa1, 'x', 0x00, 0x00}},
        {"HELLO version bool", 8, {0x96, 0xc3, 0x01, 0x00, 0x00, 0xa1, 'x', 0x00}},
        {"HELLO ext in place of str",
         10,
         {0x96, 0x01, 0x01, 0x00, 0x00, 0xd4, 0x01, 0x00, 0x00, 0x00}},
        {"CONFIG from a worker", 5, {0x94, 0x01, 0x02, 0x01, 0x01}},
        {"PARAMS from a worker", 7, {0x95, 0x01, 0x03, 0x01, 0x01, 0xc4, 0x00}},
        {"ERROR from a worker", 8, {0x96, 0x01, 0x06, 0x01, 0x00, 0x01, 0xa1, 'x'}},
    };
    for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++)
        s_send_bytes(self, sock, raw[i].bytes, raw[i].size);
    size_t count = sizeof raw / sizeof raw[0];

    size_t d = (size_t)self->dimension;
    float *gradient = calloc(d + 1, sizeof *gradient);
    assert(gradient);
    s_pack_t pack;
    // Proposals with wrong header values.
    uint64_t headers[][2] = {{0, self->round},
                             {self->epoch ^ 1, self->round},
                             {self->epoch, 0},
                             {self->epoch, self->round + 1000},
                             {self->epoch, UINT64_MAX}};
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        s_pack_begin(&pack, 6, 4, headers[i][0], headers[i][1]);
        msgpack_pack_double(&pack.packer, 0.5);
        msgpack_pack_bin_with_body(&pack.packer, gradient, 4 * d);
        s_send_pack(self, sock, &pack);
        count++;
    }
    // Tensor of the wrong length, as an array of floats, as a string; loss of wrong type.
    size_t lengths[] = {4 * d - 4, 4 * d + 4, 0, 3};
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        s_pack_begin(&pack, 6, 4, self->epoch, self->round);
        msgpack_pack_double(&pack.packer, 0.5);
        msgpack_pack_bin_with_body(&pack.packer, gradient, lengths[i]);
        s_send_pack(self, sock, &pack);
        count++;
    }
    s_pack_begin(&pack, 6, 4, self->epoch, self->round);
    msgpack_pack_double(&pack.packer, 0.5);
    msgpack_pack_array(&pack.packer, (uint32_t)d);
    for (size_t i = 0; i < d; i++)
        msgpack_pack_float(&pack.packer, 0.0f);
    s_send_pack(self, sock, &pack);
    s_pack_begin(&pack, 6, 4, self->epoch, self->round);
    msgpack_pack_double(&pack.packer, 0.5);
    msgpack_pack_str_with_body(&pack.packer, "gradient", 8);
    s_send_pack(self, sock, &pack);
    s_pack_begin(&pack, 6, 4, self->epoch, self->round);
    msgpack_pack_str_with_body(&pack.packer, "loss", 4);
    msgpack_pack_bin_with_body(&pack.packer, gradient, 4 * d);
    s_send_pack(self, sock, &pack);
    s_pack_begin(&pack, 6, 4, self->epoch, self->round);
    msgpack_pack_uint64(&pack.packer, 1); // an integer where a float is expected
    msgpack_pack_bin_with_body(&pack.packer, gradient, 4 * d);
    s_send_pack(self, sock, &pack);
    count += 4;
    // Non-finite loss, NaN and Inf inside the gradient, trailing bytes, 7 elements.
    double losses[] = {NAN, INFINITY};
    for (size_t i = 0; i < 2; i++) {
        s_pack_begin(&pack, 6, 4, self->epoch, self->round);
        msgpack_pack_double(&pack.packer, losses[i]);
        msgpack_pack_bin_with_body(&pack.packer, gradient, 4 * d);
        s_send_pack(self, sock, &pack);
        count++;
    }
    gradient[d / 2] = NAN;
    s_pack_begin(&pack, 6, 4, self->epoch, self->round);
    msgpack_pack_double(&pack.packer, 0.5);
    msgpack_pack_bin_with_body(&pack.packer, gradient, 4 * d);
    s_send_pack(self, sock, &pack);
    gradient[d / 2] = -INFINITY;
    s_pack_begin(&pack, 6, 4, self->epoch, self->round);
    msgpack_pack_double(&pack.packer, 0.5);
    msgpack_pack_bin_with_body(&pack.packer, gradient, 4 * d);
    s_send_pack(self, sock, &pack);
    gradient[d / 2] = 0;
    s_pack_begin(&pack, 6, 4, self->epoch, self->round);
    msgpack_pack_double(&pack.packer, 0.5);
    msgpack_pack_bin_with_body(&pack.packer, gradient, 4 * d);
    msgpack_pack_nil(&pack.packer); // trailing bytes
    s_send_pack(self, sock, &pack);
    s_pack_begin(&pack, 7, 4, self->epoch, self->round);
    msgpack_pack_double(&pack.packer, 0.5);
    msgpack_pack_bin_with_body(&pack.packer, gradient, 4 * d);
    msgpack_pack_nil(&pack.packer);
    s_send_pack(self, sock, &pack);
    count += 4;
    // A valid proposal cut in half; a two-frame message; HEARTBEAT/BYE schema errors.
    s_pack_begin(&pack, 6, 4, self->epoch, self->round);
    msgpack_pack_double(&pack.packer, 0.5);
    msgpack_pack_bin_with_body(&pack.packer, gradient, 4 * d);
    s_send_bytes(self, sock, pack.buffer.data, pack.buffer.size / 2);
    msgpack_sbuffer_destroy(&pack.buffer);
    zstr_sendm(sock, "first");
    zstr_send(sock, "second");
    self->sent++;
    s_pack_begin(&pack, 5, 5, self->epoch, self->round);
    msgpack_pack_nil(&pack.packer);
    s_send_pack(self, sock, &pack);
    s_pack_begin(&pack, 5, 7, self->epoch, self->round);
    msgpack_pack_uint64(&pack.packer, 99);
    s_send_pack(self, sock, &pack);
    count += 4;
    free(gradient);
    printf("malformed messages sent: %zu\n", count);
}

static void
s_mode_flood(s_hammer_t *self, double seconds)
{
    int64_t until = zclock_mono() + (int64_t)(seconds * 1000);
    while (zclock_mono() < until && !zsys_interrupted)
        for (int i = 0; i < self->socket_count; i++) {
            s_pack_t pack;
            s_pack_begin(&pack, 4, 5, self->epoch, self->round);
            s_send_pack(self, self->sockets[i], &pack);
            // Drain what the server sends so that this flood measures the server, not us.
            zframe_t *frame = zframe_recv_nowait(self->sockets[i]);
            if (frame) {
                self->received++;
                zframe_destroy(&frame);
            }
        }
}

static void
s_mode_multipart(s_hammer_t *self, long frames)
{
    // 1 KiB frames: under the server's frame cap whatever d is (4·d + 1024 bytes), so the
    // connection stays up while the message never ends.
    size_t size = 1024;
    uint8_t *chunk = calloc(1, size);
    assert(chunk);
    zsock_set_sndtimeo(self->sockets[0], -1);
    for (long i = 0; (frames == 0 || i < frames - 1) && !zsys_interrupted; i++) {
        zframe_t *frame = zframe_new(chunk, size);
        if (zframe_send(&frame, self->sockets[0], ZFRAME_MORE) != 0) {
            zframe_destroy(&frame);
            self->errors++;
            break;
        }
        self->sent++;
    }
    if (frames > 0)
        s_send_bytes(self, self->sockets[0], chunk, size);
    free(chunk);
}

// An endless multipart message written as raw ZMTP 3.0 (NULL mechanism) on a TCP socket.
// A libzmq DEALER cannot do this: it keeps the frames of an unfinished message in its own
// pipe, so they never leave the attacker. A hand-written peer streams them to the server,
// whose libzmq keeps them all until the (never sent) last frame (docs/SECURITY.md §5).
// Against a CURVE server the same needs a hand-written CurveZMQ client; where libzmq
// stores the frames does not depend on the mechanism, so the insecure server shows it.
static int
s_mode_raw_multipart(s_hammer_t *self, const char *endpoint)
{
    char host[256];
    int port = 0;
    if (sscanf(endpoint, "tcp://%255[^:]:%d", host, &port) != 2)
        return byzgd_set_error(NULL, 0, "bad endpoint");
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (fd < 0 || inet_pton(AF_INET, host, &address.sin_addr) != 1 ||
        connect(fd, (struct sockaddr *)&address, sizeof address) != 0) {
        byzgd_error("cannot connect to %s: %s", endpoint, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    uint8_t greeting[64] = {0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 0, 'N', 'U', 'L', 'L'};
    uint8_t peer[64];
    // READY with Socket-Type DEALER.
    static const uint8_t ready[] = {0x04, 28,  5,   'R', 'E', 'A', 'D', 'Y', 11,  'S',
                                    'o',  'c', 'k', 'e', 't', '-', 'T', 'y', 'p', 'e',
                                    0,    0,   0,   6,   'D', 'E', 'A', 'L', 'E', 'R'};
    if (write(fd, greeting, sizeof greeting) != (ssize_t)sizeof greeting ||
        recv(fd, peer, sizeof peer, MSG_WAITALL) != (ssize_t)sizeof peer ||
        write(fd, ready, sizeof ready) != (ssize_t)sizeof ready) {
        byzgd_error("ZMTP handshake failed");
        close(fd);
        return -1;
    }
    // 64 frames per write: MORE-flagged short frames of 255 bytes.
    enum { S_FRAMES_PER_WRITE = 64, S_FRAME = 2 + 255 };
    static uint8_t frames[S_FRAMES_PER_WRITE * S_FRAME];
    for (int i = 0; i < S_FRAMES_PER_WRITE; i++) {
        frames[i * S_FRAME] = 0x01; // MORE, short frame
        frames[i * S_FRAME + 1] = 255;
        memset(frames + i * S_FRAME + 2, 0x5a, 255);
    }
    while (!zsys_interrupted) {
        if (write(fd, frames, sizeof frames) != (ssize_t)sizeof frames)
            break; // the server went away (killed at its memory cap)
        self->sent += S_FRAMES_PER_WRITE;
    }
    close(fd);
    return 0;
}

// Plausible proposals (small random gradients) on every connection, every round: with
// several connections of one key, a Sybil.
static void
s_mode_proposals(s_hammer_t *self, double seconds)
{
    size_t d = (size_t)self->dimension;
    float *gradient = malloc(d * sizeof *gradient);
    assert(gradient);
    // One random vector, drawn once: the cost of a round is then the transport's (this mode
    // doubles as the load generator of bench/security_curve.sh).
    for (size_t i = 0; i < d; i++)
        gradient[i] = (float)(0.01 * byzgd_rng_gaussian(&self->rng));
    uint64_t last_round = 0;
    int64_t until = zclock_mono() + (int64_t)(seconds * 1000);
    while (zclock_mono() < until && !zsys_interrupted) {
        if (self->round != last_round) {
            last_round = self->round;
            for (int c = 0; c < self->socket_count; c++)
                s_send_proposal(self, self->sockets[c], 0.5, gradient);
        }
        // Wait a little for the next PARAMS, then take whatever else is queued, newest wins.
        for (int c = 0; c < self->socket_count; c++)
            if (s_receive(self, self->sockets[c], c == 0 ? 50 : 0))
                while (s_receive(self, self->sockets[c], 0))
                    ;
    }
    free(gradient);
}

static void
s_mode_nonfinite(s_hammer_t *self, double seconds)
{
    size_t d = (size_t)self->dimension;
    float *gradient = malloc(d * sizeof *gradient);
    assert(gradient);
    const float patterns[] = {NAN, INFINITY, -INFINITY, FLT_MAX, -FLT_MAX, 1e-45f, 1e38f};
    size_t pattern_count = sizeof patterns / sizeof patterns[0];
    uint64_t last_round = 0;
    int64_t until = zclock_mono() + (int64_t)(seconds * 1000);
    size_t step = 0;
    while (zclock_mono() < until && !zsys_interrupted) {
        if (self->round != last_round) {
            last_round = self->round;
            for (int c = 0; c < self->socket_count; c++, step++) {
                // Whole-vector patterns, then mixtures with finite coordinates.
                for (size_t i = 0; i < d; i++)
                    gradient[i] =
                        step % 2 == 0
                            ? patterns[step / 2 % pattern_count]
                            : (i % 3 == 0 ? patterns[(step / 2 + i) % pattern_count] : 0.01f);
                s_send_proposal(self, self->sockets[c],
                                step % 3 == 0 ? (double)NAN : 1e308 * (double)(step % 2), gradient);
            }
        }
        // Wait a little for the next PARAMS, then take whatever else is queued, newest wins.
        for (int c = 0; c < self->socket_count; c++)
            if (s_receive(self, self->sockets[c], c == 0 ? 50 : 0))
                while (s_receive(self, self->sockets[c], 0))
                    ;
    }
    free(gradient);
}

// ---------------------------------------------------------------------------------------

static int
s_hex(const char *text, uint8_t *out, size_t out_size, size_t *size)
{
    size_t length = strlen(text);
    if (length % 2 || length / 2 > out_size || length == 0)
        return -1;
    for (size_t i = 0; i < length / 2; i++) {
        unsigned value;
        if (sscanf(text + 2 * i, "%2x", &value) != 1)
            return -1;
        out[i] = (uint8_t)value;
    }
    *size = length / 2;
    return 0;
}

static zsock_t *
s_connect(const s_options_t *options, bool joins, size_t max_frame, char *error, size_t error_size)
{
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    assert(sock);
    int rc = 0;
    if (options->plaintext)
        rc = byzgd_security_client_setup(sock, true, NULL, NULL, max_frame, error, error_size);
    else if (options->random_key) {
        rc = byzgd_security_client_setup(sock, true, NULL, NULL, max_frame, error, error_size);
        zcert_t *mine = zcert_new(), *server = zcert_load(options->server_cert);
        if (!server)
            rc = byzgd_set_error(error, error_size, "cannot load %s", options->server_cert);
        else {
            zcert_apply(mine, sock);
            zsock_set_curve_serverkey(sock, zcert_public_txt(server));
        }
        zcert_destroy(&mine);
        zcert_destroy(&server);
    } else if (options->anonymous) {
        // No routing id at all: the ROUTER generates 0x00 + counter, the id a planted
        // zero-prefixed id may collide with (docs/SECURITY.md §4).
        zcert_t *mine = zcert_load(options->cert), *server = zcert_load(options->server_cert);
        if (!mine || !server)
            rc = byzgd_set_error(error, error_size, "cannot load the certificates");
        else {
            zcert_apply(mine, sock);
            zsock_set_curve_serverkey(sock, zcert_public_txt(server));
        }
        zcert_destroy(&mine);
        zcert_destroy(&server);
    } else
        rc = byzgd_security_client_setup(sock, false, options->cert, options->server_cert,
                                         max_frame, error, error_size);
    if (rc == 0 && options->routing_hex) {
        uint8_t id[255];
        size_t id_size = 0;
        if (s_hex(options->routing_hex, id, sizeof id, &id_size) != 0)
            rc = byzgd_set_error(error, error_size, "--routing-id: expected hex");
        else
            zmq_setsockopt(zsock_resolve(sock), ZMQ_ROUTING_ID, id, id_size);
    }
    // An outsider's handshake never completes: its sends only fill the queue, so do not
    // wait for room long. (A plaintext client of an --insecure server joins normally.)
    bool outsider = (options->plaintext || options->random_key) && !joins;
    if (rc == 0 && outsider)
        zsock_set_immediate(sock, 0);
    zsock_set_sndtimeo(sock, outsider ? 50 : 2000);
    if (rc == 0 && zsock_connect(sock, "%s", options->endpoint) != 0)
        rc = byzgd_set_error(error, error_size, "cannot connect to %s", options->endpoint);
    if (rc != 0)
        zsock_destroy(&sock);
    return sock;
}

#define S_FIELD(field) BYZGD_OPTION_FIELD(s_options_t, field)

// clang-format off
static const byzgd_option_t s_table[] = {
    {"endpoint", BYZGD_OPTION_TEXT, 0, 0, NULL, 0, "the server (required)", "EP", NULL,
     S_FIELD(endpoint)},
    {"plaintext", BYZGD_OPTION_FLAG, 0, 0, NULL, 0, "no CURVE", NULL, NULL,
     S_FIELD(plaintext)},
    {"random-key", BYZGD_OPTION_FLAG, 0, 0, NULL, 0, "CURVE with a key the server never allowed",
     NULL, NULL, S_FIELD(random_key)},
    {"anonymous", BYZGD_OPTION_FLAG, 0, 0, NULL, 0, "send without joining first", NULL, NULL,
     S_FIELD(anonymous)},
    {"cert", BYZGD_OPTION_TEXT, 0, 0, NULL, 0, "a worker certificate (joins as that worker)",
     "FILE", NULL,
     S_FIELD(cert)},
    {"server-cert", BYZGD_OPTION_TEXT, 0, 0, NULL, 0, "the server's public certificate", "FILE",
     NULL, S_FIELD(server_cert)},
    {"routing-id", BYZGD_OPTION_TEXT, 0, 0, NULL, 0, "ZeroMQ routing id of the connections",
     "HEX", NULL,
     S_FIELD(routing_hex)},
    {"connections", BYZGD_OPTION_INT, 1, S_CONNECTIONS_MAX, "1", 0, "connections opened", "K",
     NULL, S_FIELD(connections)},
    {"seconds", BYZGD_OPTION_NUMBER, 0, 1e7, "5", 0, "duration of the timed modes", "T", NULL,
     S_FIELD(seconds)},
    {"count", BYZGD_OPTION_INT, 0, 1e12, "100", 0, "messages of the counted modes", "N", NULL,
     S_FIELD(count)},
    {"seed", BYZGD_OPTION_INT, 0, 18446744073709551615.0, "1", 0, "seed of the random bytes",
     "S", NULL,
     S_FIELD(seed)},
};
// clang-format on

static const byzgd_program_t s_program = {
    "byzgd-hammer",
    "--endpoint EP [--plaintext | --random-key | --cert F] [--server-cert F] [options] MODE",
    "a test tool: hostile client traffic against a byzgd server",
    BYZGD_OPTION_ONE_SECTION(s_table, NULL),
    "Sends MODE traffic to the server and prints one summary line. Not installed: the "
    "security tests\nrun it from the build tree.\n",
    "MODE: garbage, bombs, malformed, flood, stall, multipart, rawmultipart, nonfinite, "
    "proposals, oversize.\nExit status: 0 done, 1 cannot connect, 2 bad flags, 3 could not "
    "join.\n",
    1,
    1,
};

int
main(int argc, char **argv)
{
    s_options_t options = {0};
    int first = 0;
    int parsed = byzgd_options_main_one(&s_program, argc, argv, &options, &first);
    if (parsed != BYZGD_OPTIONS_CONTINUE)
        return parsed;
    options.mode = argv[first];
    if (!options.endpoint || (!options.plaintext && !options.server_cert) ||
        (!options.plaintext && !options.random_key && !options.cert)) {
        byzgd_error("--endpoint, and --server-cert with --cert or --random-key (unless "
                    "--plaintext), are required (see --help)");
        return 2;
    }
    zsys_init();
    zsys_set_linger(0);
    s_hammer_t self = {0};
    byzgd_rng_seed(&self.rng, options.seed, 0);
    byzgd_info("seed %llu", (unsigned long long)options.seed);
    const char *mode = options.mode;
    bool needs_join = streq(mode, "malformed") || streq(mode, "flood") || streq(mode, "stall") ||
                      streq(mode, "nonfinite") || streq(mode, "oversize") ||
                      streq(mode, "proposals");
    char error[256];
    for (int i = 0; i < options.connections; i++) {
        // No receive cap: this client must be able to read whatever the server sends.
        self.sockets[i] = s_connect(&options, needs_join, 0, error, sizeof error);
        if (!self.sockets[i]) {
            byzgd_error("%s", error);
            return 1;
        }
        self.socket_count++;
    }
    if (needs_join)
        for (int i = 0; i < self.socket_count; i++)
            if (s_join(&self, self.sockets[i]) != 0) {
                byzgd_error("could not join (no CONFIG/PARAMS)");
                printf("hammer %s: sent %llu, received %llu, errors %llu, joined 0\n", mode,
                       (unsigned long long)self.sent, (unsigned long long)self.received,
                       (unsigned long long)self.errors);
                for (int j = 0; j < self.socket_count; j++)
                    zsock_destroy(&self.sockets[j]);
                return 3;
            }
    if (streq(mode, "garbage"))
        s_mode_garbage(&self, options.count);
    else if (streq(mode, "bombs"))
        s_mode_bombs(&self);
    else if (streq(mode, "malformed"))
        s_mode_malformed(&self, self.sockets[0]);
    else if (streq(mode, "flood"))
        s_mode_flood(&self, options.seconds);
    else if (streq(mode, "stall")) {
        // Never reads; wakes up only to notice a termination request.
        int64_t until = zclock_mono() + (int64_t)(options.seconds * 1000);
        while (zclock_mono() < until && !zsys_interrupted)
            zclock_sleep(100);
    } else if (streq(mode, "multipart"))
        s_mode_multipart(&self, options.count);
    else if (streq(mode, "nonfinite"))
        s_mode_nonfinite(&self, options.seconds);
    else if (streq(mode, "proposals"))
        s_mode_proposals(&self, options.seconds);
    else if (streq(mode, "rawmultipart"))
        s_mode_raw_multipart(&self, options.endpoint);
    else if (streq(mode, "oversize")) {
        size_t size = byzgd_security_max_frame_bytes((size_t)self.dimension) + 1;
        uint8_t *big = calloc(1, size);
        assert(big);
        s_send_bytes(&self, self.sockets[0], big, size);
        free(big);
    } else {
        byzgd_error("unknown mode '%s' (see --help)", mode);
        return 2;
    }
    // Let queued frames leave before the sockets close (linger is 0).
    if (!streq(mode, "stall"))
        for (int i = 0; i < self.socket_count; i++)
            s_receive(&self, self.sockets[i], 300);
    printf("hammer %s: sent %llu, received %llu, errors %llu, joined %d\n", mode,
           (unsigned long long)self.sent, (unsigned long long)self.received,
           (unsigned long long)self.errors, needs_join ? self.socket_count : 0);
    for (int i = 0; i < self.socket_count; i++)
        zsock_destroy(&self.sockets[i]);
    return 0;
}

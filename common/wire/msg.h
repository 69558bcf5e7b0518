/*  msg.h — the byzgd wire codec (docs/PROTOCOL.md is the specification).

    A message is one ZeroMQ frame holding one msgpack array
    [version, type, epoch, round, fields...]. Tensors are msgpack `bin` of d little-endian
    float32. This module knows nothing of ZeroMQ: it turns a byzgd_msg_t into bytes and
    untrusted bytes into a byzgd_msg_t or a rejection reason.

    Decoding (untrusted bytes; never asserts, never allocates, never calls msgpack-c):

        byzgd_msg_t msg;
        byzgd_msg_reject_t reason = byzgd_msg_decode(&msg, data, size,
                                                     BYZGD_MSG_FROM_WORKER, d);
        if (reason != BYZGD_MSG_OK) { counters[reason]++; drop; }
        else if (msg.type == BYZGD_MSG_PROPOSAL)
            byzgd_msg_tensor_copy(row, msg.proposal.gradient, d);  // the one copy

    msg.proposal.gradient / msg.params.parameters point INTO `data` (zero copy): valid as
    long as the received frame is, and possibly not 4-byte aligned (see
    byzgd_msg_tensor_floats). Strings are copied into fixed arrays in the struct.

    Encoding (trusted values; msgpack-c packer + one memcpy of the tensor):

        byzgd_msg_t msg = {.type = BYZGD_MSG_PARAMS, .epoch = epoch, .round = round,
                           .params = {.parameters = x, .dimension = d}};
        size_t size;
        void *buffer = byzgd_msg_encode_new(&msg, &size, error, sizeof error);

    To send one PARAMS buffer to every worker without a copy per worker, hand it to
    zmq_msg_init_data(&m, buffer, size, byzgd_msg_free_fn, NULL) once, then zmq_msg_copy()
    (a reference count, no data copy) into a fresh zmq_msg_t per worker and send that;
    close `m` at the end. libzmq frees the buffer after the last send.

    Identity is never a message field: the receiver takes it from the frame's `User-Id`
    metadata. Receivers reject a second body frame themselves (BYZGD_MSG_REJECT_EXTRA_FRAMES)
    by reading and closing the remaining frames one by one. The codec requires a
    little-endian host. */
#ifndef BYZGD_MSG_H
#define BYZGD_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BYZGD_MSG_VERSION       1
#define BYZGD_MSG_SMALL_MAX     1024       // bytes, any message without a tensor
#define BYZGD_MSG_HEADER_MAX    256        // bytes beyond a tensor's 4·d payload
#define BYZGD_MSG_DIMENSION_MAX (1u << 28) // parameters
#define BYZGD_MSG_WORKERS_MAX   4096       // n, shard_count
#define BYZGD_MSG_SOFTWARE_MAX  63         // characters of HELLO.software
#define BYZGD_MSG_NAME_MAX      15         // characters of CONFIG.architecture
#define BYZGD_MSG_DATASET_MAX   31         // characters of CONFIG.dataset
#define BYZGD_MSG_TEXT_MAX      255        // characters of ERROR.text
#define BYZGD_MSG_BATCH_MAX     65536      // CONFIG.batch_size
#define BYZGD_MSG_HIDDEN_MAX    (1u << 20) // CONFIG.hidden[i]
#define BYZGD_MSG_FIELDS_MAX    32         // array elements of any message

// Message types: the numbers are on the wire (never renumber; bump the version instead).
typedef enum {
    BYZGD_MSG_HELLO = 1,     // W→S join: software, capabilities
    BYZGD_MSG_CONFIG = 2,    // S→W session configuration (byzgd_msg_config_t)
    BYZGD_MSG_PARAMS = 3,    // S→W parameters of a round
    BYZGD_MSG_PROPOSAL = 4,  // W→S gradient of a round
    BYZGD_MSG_HEARTBEAT = 5, // both directions
    BYZGD_MSG_ERROR = 6,     // S→W code and text
    BYZGD_MSG_BYE = 7,       // both directions: leaving / training finished
} byzgd_msg_type_t;
#define BYZGD_MSG_TYPE_COUNT 8 // one more than the largest type, for tables

// Who sent the bytes being decoded: each type is valid from one side only (HEARTBEAT and
// BYE from both).
typedef enum {
    BYZGD_MSG_FROM_WORKER = 1,
    BYZGD_MSG_FROM_SERVER = 2,
} byzgd_msg_sender_t;

// ERROR codes (docs/PROTOCOL.md §3.2).
typedef enum {
    BYZGD_MSG_ERROR_VERSION = 1,      // unsupported protocol version: worker exits
    BYZGD_MSG_ERROR_NOT_ALLOWED = 2,  // identity not on the allow list: worker exits
    BYZGD_MSG_ERROR_BANNED = 3,       // identity denied or banned: worker exits
    BYZGD_MSG_ERROR_SERVER_FULL = 4,  // no free slot: worker exits
    BYZGD_MSG_ERROR_NOT_JOINED = 5,   // no session in this epoch: worker sends HELLO again
    BYZGD_MSG_ERROR_RATE_LIMITED = 6, // too many messages: worker backs off
} byzgd_msg_error_code_t;
#define BYZGD_MSG_ERROR_CODE_COUNT 7

// BYE codes.
typedef enum {
    BYZGD_MSG_BYE_DONE = 0,     // training finished / worker done
    BYZGD_MSG_BYE_SHUTDOWN = 1, // interrupted (signal, operator)
} byzgd_msg_bye_code_t;

// Why a received message was dropped. The codec sets the first group; receivers and the
// session layer use the rest, so one counter table keyed by byzgd_msg_reject_name()
// covers every drop.
typedef enum {
    BYZGD_MSG_OK = 0,
    // set by byzgd_msg_decode()
    BYZGD_MSG_REJECT_MALFORMED,      // not msgpack (0xc1 …), top level not an array
    BYZGD_MSG_REJECT_TRUNCATED,      // input ends early / a declared length exceeds it
    BYZGD_MSG_REJECT_TRAILING_BYTES, // bytes after the array
    BYZGD_MSG_REJECT_TOO_LARGE,      // frame, string or element count over its cap
    BYZGD_MSG_REJECT_VERSION,        // version != BYZGD_MSG_VERSION
    BYZGD_MSG_REJECT_TYPE,           // unknown type or wrong direction
    BYZGD_MSG_REJECT_SCHEMA,         // wrong element count or msgpack type of a field
    BYZGD_MSG_REJECT_VALUE,          // field out of range
    BYZGD_MSG_REJECT_DIMENSION,      // tensor length != 4·d
    BYZGD_MSG_REJECT_NON_FINITE,     // NaN/Inf in a tensor or train_loss
    // set by the receiver (transport)
    BYZGD_MSG_REJECT_EXTRA_FRAMES,    // more than one body frame
    BYZGD_MSG_REJECT_UNAUTHENTICATED, // no or unknown User-Id
    BYZGD_MSG_REJECT_DENIED,          // identity on the deny list
    // set by the session layer (server / worker state machines)
    BYZGD_MSG_REJECT_NOT_JOINED,   // needs a session the identity does not have
    BYZGD_MSG_REJECT_UNEXPECTED,   // valid, but not allowed in the current state
    BYZGD_MSG_REJECT_EPOCH,        // epoch != current epoch
    BYZGD_MSG_REJECT_STALE_ROUND,  // round < current round
    BYZGD_MSG_REJECT_FUTURE_ROUND, // round > current round
    BYZGD_MSG_REJECT_DUPLICATE,    // second PROPOSAL of an identity in a round
    BYZGD_MSG_REJECT_RATE_LIMITED, // over the per-identity rate
    BYZGD_MSG_REJECT_COUNT
} byzgd_msg_reject_t;

// Session configuration sent in CONFIG (docs/PROTOCOL.md §3.1 gives every range).
typedef struct {
    uint32_t slot;                                 // this worker's index, < worker_count
    uint32_t worker_count;                         // n
    uint32_t byzantine_count;                      // f declared, < n
    uint64_t dimension;                            // d, 1 … BYZGD_MSG_DIMENSION_MAX
    char architecture[BYZGD_MSG_NAME_MAX + 1];     // logreg | mlp | convnet, [a-z0-9_-]
    uint32_t hidden[2];                            // MLP hidden widths, 0 = model default
    uint32_t channels, height, width, class_count; // input shape and classes
    char dataset[BYZGD_MSG_DATASET_MAX + 1];       // fashion-mnist | mnist | spam | synthetic
    uint32_t shard_index, shard_count;             // this worker's shard of the training set
    double dirichlet_alpha;                        // 0 = iid shards, finite ≥ 0
    uint32_t batch_size;                           // 1 … BYZGD_MSG_BATCH_MAX
    uint64_t seed;                  // run seed, equal for all workers; sample with stream = slot
    uint32_t heartbeat_interval_ms; // 1 … 600000
    uint32_t heartbeat_timeout_ms;  // interval < timeout ≤ 3600000
} byzgd_msg_config_t;

// A decoded message, or one to encode. Tensor pointers are borrowed: when decoding they
// point into the input bytes (d little-endian float32, maybe unaligned); when encoding
// they are read once.
typedef struct {
    byzgd_msg_type_t type;
    uint32_t version; // decode: the version read (also set on a VERSION rejection)
    uint64_t epoch;   // 0 only in HELLO
    uint64_t round;   // 0 only in HELLO, HEARTBEAT, ERROR, BYE
    union {
        struct {
            char software[BYZGD_MSG_SOFTWARE_MAX + 1]; // printable ASCII, 1 … 63
            uint64_t capabilities;                     // bitmask, 0 in version 1
        } hello;
        byzgd_msg_config_t config;
        struct {
            const void *parameters; // d float32
            size_t dimension;       // d
        } params;
        struct {
            double train_loss;    // mean loss of the minibatch, finite
            const void *gradient; // d float32
            size_t dimension;     // d
        } proposal;
        struct {
            uint32_t code;                     // byzgd_msg_error_code_t
            char text[BYZGD_MSG_TEXT_MAX + 1]; // printable ASCII, may be empty
        } error;
        struct {
            uint32_t code; // byzgd_msg_bye_code_t
        } bye;
    };
    // decode: the field that caused the rejection ("version", "gradient", …; static), or
    // NULL on success.
    const char *reject_field;
} byzgd_msg_t;

// Largest frame accepted for a session of dimension d: max(SMALL_MAX, 4·d + HEADER_MAX);
// SMALL_MAX when d is 0 (not known yet). Also the right ZMQ_MAXMSGSIZE for the socket.
size_t byzgd_msg_max_size(size_t dimension);

// Decodes untrusted bytes sent by `sender`, for a session of dimension d (0 = not known:
// every tensor message is rejected). Returns BYZGD_MSG_OK and fills *msg, or a reason
// (msg->reject_field names the field). Never allocates; never reads outside data[0, size).
byzgd_msg_reject_t byzgd_msg_decode(byzgd_msg_t *msg, const void *data, size_t size,
                                    byzgd_msg_sender_t sender, size_t dimension);

// Short static name of a reason for metrics and logs ("truncated", "non_finite", …);
// "unknown" for values outside the enum.
const char *byzgd_msg_reject_name(byzgd_msg_reject_t reason);

// Static name of a message type ("hello", "params", …); "unknown" for others.
const char *byzgd_msg_type_name(byzgd_msg_type_t type);

// Static name of an ERROR code ("server_full", …); "unknown" for others.
const char *byzgd_msg_error_code_name(uint32_t code);

// Exact number of bytes byzgd_msg_encode() will write for `msg`, or 0 if the type is
// unknown. Cheap (no packing).
size_t byzgd_msg_encoded_size(const byzgd_msg_t *msg);

// Encodes `msg` into buffer[0, capacity), setting *size_out. The fields are checked as
// the decoder would (ranges, string caps and charset), except that tensor values and
// train_loss are not scanned for finiteness (the Byzantine worker must be able to send
// them). Returns 0, or -1 with a message in `error`.
int byzgd_msg_encode(void *buffer, size_t capacity, size_t *size_out, const byzgd_msg_t *msg,
                     char *error, size_t error_size);

// As byzgd_msg_encode() into a new malloc'd buffer of exactly *size_out bytes; release it
// with free() or byzgd_msg_free_fn(). Returns NULL with a message in `error` on failure.
void *byzgd_msg_encode_new(const byzgd_msg_t *msg, size_t *size_out, char *error,
                           size_t error_size);

// free(data): a deallocator with the signature of zmq_free_fn / zframe_destructor hints,
// so an encoded buffer can be handed to zmq_msg_init_data() without a copy.
void byzgd_msg_free_fn(void *data, void *hint);

// Copies d float32 of a received tensor into `out` (one memcpy; out must not overlap).
void byzgd_msg_tensor_copy(float *out, const void *tensor, size_t dimension);

// The received tensor as floats in place when it is 4-byte aligned, else NULL (then use
// byzgd_msg_tensor_copy).
const float *byzgd_msg_tensor_floats(const void *tensor);

// True when all d float32 of `tensor` (any alignment) are finite.
bool byzgd_msg_tensor_finite(const void *tensor, size_t dimension);

#endif

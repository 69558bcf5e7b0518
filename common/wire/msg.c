/*  msg.c — the byzgd wire codec (docs/PROTOCOL.md).

    Decoding is a hand-written, allocation-free, non-recursive reader for the fixed schema:
    every length is checked against the bytes left before it is used, and received bytes
    never reach msgpack-c (whose C API has no size or depth limits, msgpack-c#1013).
    Encoding uses msgpack-c's packer with a bounded write callback into the caller's
    buffer; a tensor costs one memcpy. */
#include "msg.h"

#include "support/log.h"

#include <math.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

// isfinite() is what keeps NaN and Inf out of the model; -ffast-math and -Ofast make it
// return true for NaN (docs/ARCHITECTURE.md §7), so such a build must not exist.
#if defined(__FAST_MATH__) || (defined(__FINITE_MATH_ONLY__) && __FINITE_MATH_ONLY__)
#error "byzgd must not be built with -ffast-math or -Ofast: isfinite() would accept NaN"
#endif

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "the wire carries little-endian float32; byzgd assumes a little-endian host");
_Static_assert(sizeof(float) == 4, "float must be IEEE-754 binary32");

// Array length of each type (common header of 4 + fields), 0 = no such type.
static const uint8_t s_field_count[BYZGD_MSG_TYPE_COUNT] = {
    [BYZGD_MSG_HELLO] = 6,    [BYZGD_MSG_CONFIG] = 23,   [BYZGD_MSG_PARAMS] = 5,
    [BYZGD_MSG_PROPOSAL] = 6, [BYZGD_MSG_HEARTBEAT] = 4, [BYZGD_MSG_ERROR] = 6,
    [BYZGD_MSG_BYE] = 5,
};

// Bit (1 << sender) set when `sender` may send the type.
static const uint8_t s_senders[BYZGD_MSG_TYPE_COUNT] = {
    [BYZGD_MSG_HELLO] = 1 << BYZGD_MSG_FROM_WORKER,
    [BYZGD_MSG_CONFIG] = 1 << BYZGD_MSG_FROM_SERVER,
    [BYZGD_MSG_PARAMS] = 1 << BYZGD_MSG_FROM_SERVER,
    [BYZGD_MSG_PROPOSAL] = 1 << BYZGD_MSG_FROM_WORKER,
    [BYZGD_MSG_HEARTBEAT] = 1 << BYZGD_MSG_FROM_WORKER | 1 << BYZGD_MSG_FROM_SERVER,
    [BYZGD_MSG_ERROR] = 1 << BYZGD_MSG_FROM_SERVER,
    [BYZGD_MSG_BYE] = 1 << BYZGD_MSG_FROM_WORKER | 1 << BYZGD_MSG_FROM_SERVER,
};

static const char *const s_reject_names[BYZGD_MSG_REJECT_COUNT] = {
    [BYZGD_MSG_OK] = "ok",
    [BYZGD_MSG_REJECT_MALFORMED] = "malformed",
    [BYZGD_MSG_REJECT_TRUNCATED] = "truncated",
    [BYZGD_MSG_REJECT_TRAILING_BYTES] = "trailing_bytes",
    [BYZGD_MSG_REJECT_TOO_LARGE] = "too_large",
    [BYZGD_MSG_REJECT_VERSION] = "version",
    [BYZGD_MSG_REJECT_TYPE] = "type",
    [BYZGD_MSG_REJECT_SCHEMA] = "schema",
    [BYZGD_MSG_REJECT_VALUE] = "value",
    [BYZGD_MSG_REJECT_DIMENSION] = "dimension",
    [BYZGD_MSG_REJECT_NON_FINITE] = "non_finite",
    [BYZGD_MSG_REJECT_EXTRA_FRAMES] = "extra_frames",
    [BYZGD_MSG_REJECT_UNAUTHENTICATED] = "unauthenticated",
    [BYZGD_MSG_REJECT_DENIED] = "denied",
    [BYZGD_MSG_REJECT_NOT_JOINED] = "not_joined",
    [BYZGD_MSG_REJECT_UNEXPECTED] = "unexpected",
    [BYZGD_MSG_REJECT_EPOCH] = "epoch",
    [BYZGD_MSG_REJECT_STALE_ROUND] = "stale_round",
    [BYZGD_MSG_REJECT_FUTURE_ROUND] = "future_round",
    [BYZGD_MSG_REJECT_DUPLICATE] = "duplicate",
    [BYZGD_MSG_REJECT_RATE_LIMITED] = "rate_limited",
};

static const char *const s_type_names[BYZGD_MSG_TYPE_COUNT] = {
    [BYZGD_MSG_HELLO] = "hello",
    [BYZGD_MSG_CONFIG] = "config",
    [BYZGD_MSG_PARAMS] = "params",
    [BYZGD_MSG_PROPOSAL] = "proposal",
    [BYZGD_MSG_HEARTBEAT] = "heartbeat",
    [BYZGD_MSG_ERROR] = "error",
    [BYZGD_MSG_BYE] = "bye",
};

static const char *const s_error_code_names[BYZGD_MSG_ERROR_CODE_COUNT] = {
    [BYZGD_MSG_ERROR_VERSION] = "version",       [BYZGD_MSG_ERROR_NOT_ALLOWED] = "not_allowed",
    [BYZGD_MSG_ERROR_BANNED] = "banned",         [BYZGD_MSG_ERROR_SERVER_FULL] = "server_full",
    [BYZGD_MSG_ERROR_NOT_JOINED] = "not_joined", [BYZGD_MSG_ERROR_RATE_LIMITED] = "rate_limited",
};

const char *
byzgd_msg_reject_name(byzgd_msg_reject_t reason)
{
    if ((unsigned)reason >= BYZGD_MSG_REJECT_COUNT)
        return "unknown";
    return s_reject_names[reason];
}

const char *
byzgd_msg_type_name(byzgd_msg_type_t type)
{
    if ((unsigned)type >= BYZGD_MSG_TYPE_COUNT || !s_type_names[type])
        return "unknown";
    return s_type_names[type];
}

const char *
byzgd_msg_error_code_name(uint32_t code)
{
    if (code >= BYZGD_MSG_ERROR_CODE_COUNT || !s_error_code_names[code])
        return "unknown";
    return s_error_code_names[code];
}

size_t
byzgd_msg_max_size(size_t dimension)
{
    if (dimension == 0 || dimension > BYZGD_MSG_DIMENSION_MAX)
        return BYZGD_MSG_SMALL_MAX;
    size_t size = 4 * dimension + BYZGD_MSG_HEADER_MAX;
    return size > BYZGD_MSG_SMALL_MAX ? size : BYZGD_MSG_SMALL_MAX;
}

// ---- tensors

bool
byzgd_msg_tensor_finite(const void *tensor, size_t dimension)
{
    const uint8_t *bytes = tensor;
    // An exponent of all ones is Inf or NaN. Blocks keep the inner loop branch-free (so
    // it vectorises) while a bad vector still stops early.
    const size_t block = 1024;
    for (size_t start = 0; start < dimension; start += block) {
        size_t end = dimension - start < block ? dimension : start + block;
        uint32_t bad = 0;
        for (size_t i = start; i < end; i++) {
            uint32_t bits;
            memcpy(&bits, bytes + 4 * i, 4);
            bad |= (uint32_t)((bits & 0x7f800000u) == 0x7f800000u);
        }
        if (bad)
            return false;
    }
    return true;
}

void
byzgd_msg_tensor_copy(float *out, const void *tensor, size_t dimension)
{
    memcpy(out, tensor, 4 * dimension);
}

const float *
byzgd_msg_tensor_floats(const void *tensor)
{
    if ((uintptr_t)tensor % _Alignof(float) != 0)
        return NULL;
    return tensor;
}

// ---- field checks shared by the decoder and the encoder

// Printable ASCII, no NUL.
static bool
s_printable(const char *text, size_t length)
{
    for (size_t i = 0; i < length; i++)
        if (text[i] < 0x20 || text[i] > 0x7e)
            return false;
    return true;
}

// 1 … cap characters of [a-z0-9_-].
static bool
s_name_ok(const char *name, size_t cap)
{
    size_t length = strnlen(name, cap + 1);
    if (length == 0 || length > cap)
        return false;
    for (size_t i = 0; i < length; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

// Ranges of docs/PROTOCOL.md §3 (header rules, CONFIG, codes). Tensor finiteness is not
// checked here. Returns BYZGD_MSG_OK or VALUE with *field set.
static byzgd_msg_reject_t
s_check_values(const byzgd_msg_t *msg, const char **field)
{
#define S_REQUIRE(cond, name)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            *field = (name);                                                                       \
            return BYZGD_MSG_REJECT_VALUE;                                                         \
        }                                                                                          \
    } while (0)
    if (msg->type == BYZGD_MSG_HELLO) {
        S_REQUIRE(msg->epoch == 0, "epoch");
        S_REQUIRE(msg->round == 0, "round");
    } else {
        S_REQUIRE(msg->epoch != 0, "epoch");
    }
    switch (msg->type) {
    case BYZGD_MSG_HELLO: {
        size_t length = strnlen(msg->hello.software, BYZGD_MSG_SOFTWARE_MAX + 1);
        S_REQUIRE(length >= 1 && length <= BYZGD_MSG_SOFTWARE_MAX, "software");
        S_REQUIRE(s_printable(msg->hello.software, length), "software");
        break;
    }
    case BYZGD_MSG_CONFIG: {
        const byzgd_msg_config_t *c = &msg->config;
        S_REQUIRE(msg->round >= 1, "round");
        S_REQUIRE(c->worker_count >= 1 && c->worker_count <= BYZGD_MSG_WORKERS_MAX, "worker_count");
        S_REQUIRE(c->slot < c->worker_count, "slot");
        S_REQUIRE(c->byzantine_count < c->worker_count, "byzantine_count");
        S_REQUIRE(c->dimension >= 1 && c->dimension <= BYZGD_MSG_DIMENSION_MAX, "dimension");
        S_REQUIRE(s_name_ok(c->architecture, BYZGD_MSG_NAME_MAX), "architecture");
        S_REQUIRE(c->hidden[0] <= BYZGD_MSG_HIDDEN_MAX, "hidden_0");
        S_REQUIRE(c->hidden[1] <= BYZGD_MSG_HIDDEN_MAX, "hidden_1");
        S_REQUIRE(c->channels >= 1 && c->channels <= 65535, "channels");
        S_REQUIRE(c->height >= 1 && c->height <= 65535, "height");
        S_REQUIRE(c->width >= 1 && c->width <= (1u << 24), "width");
        S_REQUIRE(c->class_count >= 2 && c->class_count <= 65535, "class_count");
        S_REQUIRE(s_name_ok(c->dataset, BYZGD_MSG_DATASET_MAX), "dataset");
        S_REQUIRE(c->shard_count >= 1 && c->shard_count <= BYZGD_MSG_WORKERS_MAX, "shard_count");
        S_REQUIRE(c->shard_index < c->shard_count, "shard_index");
        S_REQUIRE(isfinite(c->dirichlet_alpha) && c->dirichlet_alpha >= 0, "dirichlet_alpha");
        S_REQUIRE(c->batch_size >= 1 && c->batch_size <= BYZGD_MSG_BATCH_MAX, "batch_size");
        S_REQUIRE(c->heartbeat_interval_ms >= 1 && c->heartbeat_interval_ms <= 600000,
                  "heartbeat_interval_ms");
        S_REQUIRE(c->heartbeat_timeout_ms > c->heartbeat_interval_ms &&
                      c->heartbeat_timeout_ms <= 3600000,
                  "heartbeat_timeout_ms");
        break;
    }
    case BYZGD_MSG_PARAMS:
        S_REQUIRE(msg->round >= 1, "round");
        break;
    case BYZGD_MSG_PROPOSAL:
        S_REQUIRE(msg->round >= 1, "round");
        break;
    case BYZGD_MSG_HEARTBEAT:
        break;
    case BYZGD_MSG_ERROR: {
        S_REQUIRE(msg->error.code >= 1 && msg->error.code < BYZGD_MSG_ERROR_CODE_COUNT, "code");
        size_t length = strnlen(msg->error.text, BYZGD_MSG_TEXT_MAX + 1);
        S_REQUIRE(length <= BYZGD_MSG_TEXT_MAX, "text");
        S_REQUIRE(s_printable(msg->error.text, length), "text");
        break;
    }
    case BYZGD_MSG_BYE:
        S_REQUIRE(msg->bye.code == BYZGD_MSG_BYE_DONE || msg->bye.code == BYZGD_MSG_BYE_SHUTDOWN,
                  "code");
        break;
    }
    return BYZGD_MSG_OK;
#undef S_REQUIRE
}

// ---- decoder

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t position;
    const char *field; // the element being read, for reject_field
} s_reader_t;

// msgpack families the schema distinguishes.
typedef enum {
    S_INVALID,
    S_NIL,
    S_BOOL,
    S_INT,
    S_FLOAT,
    S_STR,
    S_BIN,
    S_ARRAY,
    S_MAP,
    S_EXT,
} s_family_t;

static s_family_t
s_family(uint8_t byte)
{
    if (byte <= 0x7f || byte >= 0xe0)
        return S_INT; // positive / negative fixint
    if (byte <= 0x8f)
        return S_MAP;
    if (byte <= 0x9f)
        return S_ARRAY;
    if (byte <= 0xbf)
        return S_STR;
    switch (byte) {
    case 0xc0:
        return S_NIL;
    case 0xc2:
    case 0xc3:
        return S_BOOL;
    case 0xc4:
    case 0xc5:
    case 0xc6:
        return S_BIN;
    case 0xc7:
    case 0xc8:
    case 0xc9:
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
        return S_EXT;
    case 0xca:
    case 0xcb:
        return S_FLOAT;
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf:
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3:
        return S_INT;
    case 0xd9:
    case 0xda:
    case 0xdb:
        return S_STR;
    case 0xdc:
    case 0xdd:
        return S_ARRAY;
    case 0xde:
    case 0xdf:
        return S_MAP;
    default:
        return S_INVALID; // 0xc1, never used by msgpack
    }
}

static size_t
s_left(const s_reader_t *r)
{
    return r->size - r->position;
}

// Big-endian unsigned of `width` bytes at the position (the caller checked they exist).
static uint64_t
s_be(const s_reader_t *r, size_t width)
{
    uint64_t value = 0;
    for (size_t i = 0; i < width; i++)
        value = value << 8 | r->data[r->position + i];
    return value;
}

// Reads the type byte of the next element and checks its family.
static byzgd_msg_reject_t
s_expect(s_reader_t *r, s_family_t family, uint8_t *byte_out)
{
    if (s_left(r) < 1)
        return BYZGD_MSG_REJECT_TRUNCATED;
    uint8_t byte = r->data[r->position];
    s_family_t found = s_family(byte);
    if (found == S_INVALID)
        return BYZGD_MSG_REJECT_MALFORMED;
    if (found != family)
        return BYZGD_MSG_REJECT_SCHEMA;
    r->position++;
    *byte_out = byte;
    return BYZGD_MSG_OK;
}

// Width in bytes of the argument that follows `byte` (length or value), 0 for fix formats.
static size_t
s_argument_width(uint8_t byte)
{
    switch (byte) {
    case 0xc4:
    case 0xcc:
    case 0xd0:
    case 0xd9:
        return 1;
    case 0xc5:
    case 0xcd:
    case 0xd1:
    case 0xda:
    case 0xdc:
        return 2;
    case 0xc6:
    case 0xca:
    case 0xce:
    case 0xd2:
    case 0xdb:
    case 0xdd:
        return 4;
    case 0xcb:
    case 0xcf:
    case 0xd3:
        return 8;
    default:
        return 0;
    }
}

// Any msgpack integer as a signed/unsigned pair: *negative is set for values below 0.
static byzgd_msg_reject_t
s_read_int(s_reader_t *r, uint64_t *value, bool *negative)
{
    uint8_t byte;
    byzgd_msg_reject_t reason = s_expect(r, S_INT, &byte);
    if (reason)
        return reason;
    *negative = false;
    if (byte <= 0x7f) {
        *value = byte;
        return BYZGD_MSG_OK;
    }
    if (byte >= 0xe0) {
        *negative = true;
        *value = 0;
        return BYZGD_MSG_OK;
    }
    size_t width = s_argument_width(byte);
    if (s_left(r) < width)
        return BYZGD_MSG_REJECT_TRUNCATED;
    uint64_t raw = s_be(r, width);
    r->position += width;
    if (byte >= 0xd0 &&
        width > 0) { // signed formats: negative when the top bit of the width is set
        uint64_t sign = (uint64_t)1 << (8 * width - 1);
        if (raw & sign) {
            *negative = true;
            raw = 0;
        }
    }
    *value = raw;
    return BYZGD_MSG_OK;
}

// An unsigned field of at most `max`.
static byzgd_msg_reject_t
s_read_uint(s_reader_t *r, const char *field, uint64_t max, uint64_t *value)
{
    r->field = field;
    bool negative;
    byzgd_msg_reject_t reason = s_read_int(r, value, &negative);
    if (reason)
        return reason;
    if (negative || *value > max)
        return BYZGD_MSG_REJECT_VALUE;
    return BYZGD_MSG_OK;
}

static byzgd_msg_reject_t
s_read_u32(s_reader_t *r, const char *field, uint32_t *value)
{
    uint64_t wide;
    byzgd_msg_reject_t reason = s_read_uint(r, field, UINT32_MAX, &wide);
    if (reason)
        return reason;
    *value = (uint32_t)wide;
    return BYZGD_MSG_OK;
}

static byzgd_msg_reject_t
s_read_double(s_reader_t *r, const char *field, double *value)
{
    r->field = field;
    uint8_t byte;
    byzgd_msg_reject_t reason = s_expect(r, S_FLOAT, &byte);
    if (reason)
        return reason;
    size_t width = s_argument_width(byte);
    if (s_left(r) < width)
        return BYZGD_MSG_REJECT_TRUNCATED;
    uint64_t raw = s_be(r, width);
    r->position += width;
    if (width == 4) {
        uint32_t bits = (uint32_t)raw;
        float single;
        memcpy(&single, &bits, 4);
        *value = single;
    } else {
        memcpy(value, &raw, 8);
    }
    return BYZGD_MSG_OK;
}

// Length header of a str/bin/array element of `family`; the length is checked against the
// bytes left (each array element takes at least one byte) before anything uses it.
static byzgd_msg_reject_t
s_read_length(s_reader_t *r, s_family_t family, size_t *length)
{
    uint8_t byte;
    byzgd_msg_reject_t reason = s_expect(r, family, &byte);
    if (reason)
        return reason;
    size_t width = s_argument_width(byte);
    uint64_t raw;
    if (width == 0) {
        raw = family == S_STR ? (byte & 0x1fu) : (byte & 0x0fu);
    } else {
        if (s_left(r) < width)
            return BYZGD_MSG_REJECT_TRUNCATED;
        raw = s_be(r, width);
        r->position += width;
    }
    if (raw > s_left(r))
        return BYZGD_MSG_REJECT_TRUNCATED;
    *length = (size_t)raw;
    return BYZGD_MSG_OK;
}

// A str of at most `cap` printable characters, copied NUL-terminated into out[cap + 1].
static byzgd_msg_reject_t
s_read_string(s_reader_t *r, const char *field, char *out, size_t cap)
{
    r->field = field;
    size_t length;
    byzgd_msg_reject_t reason = s_read_length(r, S_STR, &length);
    if (reason)
        return reason;
    if (length > cap)
        return BYZGD_MSG_REJECT_TOO_LARGE;
    const char *text = (const char *)r->data + r->position;
    if (!s_printable(text, length))
        return BYZGD_MSG_REJECT_VALUE;
    memcpy(out, text, length);
    out[length] = '\0';
    r->position += length;
    return BYZGD_MSG_OK;
}

// A bin of exactly 4·dimension bytes; *tensor points into the input.
static byzgd_msg_reject_t
s_read_tensor(s_reader_t *r, const char *field, size_t dimension, const void **tensor)
{
    r->field = field;
    size_t length;
    byzgd_msg_reject_t reason = s_read_length(r, S_BIN, &length);
    if (reason)
        return reason;
    if (dimension == 0 || dimension > BYZGD_MSG_DIMENSION_MAX || length != 4 * dimension)
        return BYZGD_MSG_REJECT_DIMENSION;
    *tensor = r->data + r->position;
    r->position += length;
    return BYZGD_MSG_OK;
}

static byzgd_msg_reject_t
s_read_config(s_reader_t *r, byzgd_msg_config_t *c)
{
    byzgd_msg_reject_t reason;
    uint64_t wide;
    if ((reason = s_read_u32(r, "slot", &c->slot)) ||
        (reason = s_read_u32(r, "worker_count", &c->worker_count)) ||
        (reason = s_read_u32(r, "byzantine_count", &c->byzantine_count)) ||
        (reason = s_read_uint(r, "dimension", UINT64_MAX, &wide)))
        return reason;
    c->dimension = wide;
    if ((reason = s_read_string(r, "architecture", c->architecture, BYZGD_MSG_NAME_MAX)) ||
        (reason = s_read_u32(r, "hidden_0", &c->hidden[0])) ||
        (reason = s_read_u32(r, "hidden_1", &c->hidden[1])) ||
        (reason = s_read_u32(r, "channels", &c->channels)) ||
        (reason = s_read_u32(r, "height", &c->height)) ||
        (reason = s_read_u32(r, "width", &c->width)) ||
        (reason = s_read_u32(r, "class_count", &c->class_count)) ||
        (reason = s_read_string(r, "dataset", c->dataset, BYZGD_MSG_DATASET_MAX)) ||
        (reason = s_read_u32(r, "shard_index", &c->shard_index)) ||
        (reason = s_read_u32(r, "shard_count", &c->shard_count)) ||
        (reason = s_read_double(r, "dirichlet_alpha", &c->dirichlet_alpha)) ||
        (reason = s_read_u32(r, "batch_size", &c->batch_size)) ||
        (reason = s_read_uint(r, "seed", UINT64_MAX, &c->seed)) ||
        (reason = s_read_u32(r, "heartbeat_interval_ms", &c->heartbeat_interval_ms)) ||
        (reason = s_read_u32(r, "heartbeat_timeout_ms", &c->heartbeat_timeout_ms)))
        return reason;
    return BYZGD_MSG_OK;
}

// Everything but the final value and finiteness checks.
static byzgd_msg_reject_t
s_decode_structure(s_reader_t *r, byzgd_msg_t *msg, byzgd_msg_sender_t sender, size_t dimension)
{
    r->field = "message";
    if (s_left(r) < 1)
        return BYZGD_MSG_REJECT_TRUNCATED;
    s_family_t top = s_family(r->data[0]);
    if (top != S_ARRAY)
        return BYZGD_MSG_REJECT_MALFORMED;
    size_t count;
    byzgd_msg_reject_t reason = s_read_length(r, S_ARRAY, &count);
    if (reason)
        return reason;
    if (count > BYZGD_MSG_FIELDS_MAX)
        return BYZGD_MSG_REJECT_TOO_LARGE;
    if (count < 2)
        return BYZGD_MSG_REJECT_SCHEMA;

    // The version is read whatever its encoding, so that any other version, even a
    // negative one, is reported as VERSION and the rest is not interpreted.
    r->field = "version";
    uint64_t version;
    bool negative;
    if ((reason = s_read_int(r, &version, &negative)))
        return reason;
    msg->version = negative || version > UINT32_MAX ? UINT32_MAX : (uint32_t)version;
    if (negative || version != BYZGD_MSG_VERSION)
        return BYZGD_MSG_REJECT_VERSION;

    r->field = "type";
    uint64_t type;
    if ((reason = s_read_int(r, &type, &negative)))
        return reason;
    if (negative || type >= BYZGD_MSG_TYPE_COUNT || s_field_count[type] == 0 ||
        !(s_senders[type] & (1u << sender)))
        return BYZGD_MSG_REJECT_TYPE;
    msg->type = (byzgd_msg_type_t)type;
    if (count != s_field_count[type]) {
        r->field = "message";
        return BYZGD_MSG_REJECT_SCHEMA;
    }
    if ((reason = s_read_uint(r, "epoch", UINT64_MAX, &msg->epoch)) ||
        (reason = s_read_uint(r, "round", UINT64_MAX, &msg->round)))
        return reason;

    switch (msg->type) {
    case BYZGD_MSG_HELLO:
        if ((reason = s_read_string(r, "software", msg->hello.software, BYZGD_MSG_SOFTWARE_MAX)) ||
            (reason = s_read_uint(r, "capabilities", UINT64_MAX, &msg->hello.capabilities)))
            return reason;
        break;
    case BYZGD_MSG_CONFIG:
        if ((reason = s_read_config(r, &msg->config)))
            return reason;
        break;
    case BYZGD_MSG_PARAMS:
        if ((reason = s_read_tensor(r, "parameters", dimension, &msg->params.parameters)))
            return reason;
        msg->params.dimension = dimension;
        break;
    case BYZGD_MSG_PROPOSAL:
        if ((reason = s_read_double(r, "train_loss", &msg->proposal.train_loss)) ||
            (reason = s_read_tensor(r, "gradient", dimension, &msg->proposal.gradient)))
            return reason;
        msg->proposal.dimension = dimension;
        break;
    case BYZGD_MSG_HEARTBEAT:
        break;
    case BYZGD_MSG_ERROR:
        if ((reason = s_read_u32(r, "code", &msg->error.code)) ||
            (reason = s_read_string(r, "text", msg->error.text, BYZGD_MSG_TEXT_MAX)))
            return reason;
        break;
    case BYZGD_MSG_BYE:
        if ((reason = s_read_u32(r, "code", &msg->bye.code)))
            return reason;
        break;
    }
    if (s_left(r) != 0) {
        r->field = "message";
        return BYZGD_MSG_REJECT_TRAILING_BYTES;
    }
    return BYZGD_MSG_OK;
}

byzgd_msg_reject_t
byzgd_msg_decode(byzgd_msg_t *msg, const void *data, size_t size, byzgd_msg_sender_t sender,
                 size_t dimension)
{
    memset(msg, 0, sizeof *msg);
    if (sender != BYZGD_MSG_FROM_WORKER && sender != BYZGD_MSG_FROM_SERVER) {
        msg->reject_field = "sender";
        return BYZGD_MSG_REJECT_TYPE;
    }
    if (size > byzgd_msg_max_size(dimension)) {
        msg->reject_field = "message";
        return BYZGD_MSG_REJECT_TOO_LARGE;
    }
    s_reader_t reader = {.data = data, .size = data ? size : 0};
    byzgd_msg_reject_t reason = s_decode_structure(&reader, msg, sender, dimension);
    if (reason) {
        msg->reject_field = reader.field;
        return reason;
    }
    const char *field = NULL;
    if ((reason = s_check_values(msg, &field))) {
        msg->reject_field = field;
        return reason;
    }
    // The finiteness scans come last: they read the whole tensor, everything else is cheap.
    if (msg->type == BYZGD_MSG_PROPOSAL) {
        if (!isfinite(msg->proposal.train_loss)) {
            msg->reject_field = "train_loss";
            return BYZGD_MSG_REJECT_NON_FINITE;
        }
        if (!byzgd_msg_tensor_finite(msg->proposal.gradient, dimension)) {
            msg->reject_field = "gradient";
            return BYZGD_MSG_REJECT_NON_FINITE;
        }
    }
    if (msg->type == BYZGD_MSG_PARAMS &&
        !byzgd_msg_tensor_finite(msg->params.parameters, dimension)) {
        msg->reject_field = "parameters";
        return BYZGD_MSG_REJECT_NON_FINITE;
    }
    return BYZGD_MSG_OK;
}

// ---- encoder

// msgpack-c write callback into a bounded buffer; with data == NULL it only counts, which
// gives byzgd_msg_encoded_size() the exact size msgpack-c will produce.
typedef struct {
    uint8_t *data;
    size_t capacity;
    size_t size;
} s_writer_t;

static int
s_write(void *data, const char *buf, size_t length)
{
    s_writer_t *writer = data;
    if (writer->data) {
        if (length > writer->capacity - writer->size)
            return -1;
        memcpy(writer->data + writer->size, buf, length);
    }
    writer->size += length;
    return 0;
}

static int
s_pack_string(msgpack_packer *packer, const char *text)
{
    size_t length = strlen(text);
    if (msgpack_pack_str(packer, length) != 0)
        return -1;
    return msgpack_pack_str_body(packer, text, length);
}

static int
s_pack_tensor(msgpack_packer *packer, const void *tensor, size_t dimension)
{
    if (msgpack_pack_bin(packer, 4 * dimension) != 0)
        return -1;
    return msgpack_pack_bin_body(packer, tensor, 4 * dimension); // the one memcpy
}

// Packs a message whose values were checked. Returns 0 or -1 (buffer too small).
static int
s_pack(msgpack_packer *packer, const byzgd_msg_t *msg)
{
    int status = 0;
    status |= msgpack_pack_array(packer, s_field_count[msg->type]);
    status |= msgpack_pack_uint32(packer, BYZGD_MSG_VERSION);
    status |= msgpack_pack_uint32(packer, (uint32_t)msg->type);
    status |= msgpack_pack_uint64(packer, msg->epoch);
    status |= msgpack_pack_uint64(packer, msg->round);
    const byzgd_msg_config_t *c = &msg->config;
    switch (msg->type) {
    case BYZGD_MSG_HELLO:
        status |= s_pack_string(packer, msg->hello.software);
        status |= msgpack_pack_uint64(packer, msg->hello.capabilities);
        break;
    case BYZGD_MSG_CONFIG:
        status |= msgpack_pack_uint32(packer, c->slot);
        status |= msgpack_pack_uint32(packer, c->worker_count);
        status |= msgpack_pack_uint32(packer, c->byzantine_count);
        status |= msgpack_pack_uint64(packer, c->dimension);
        status |= s_pack_string(packer, c->architecture);
        status |= msgpack_pack_uint32(packer, c->hidden[0]);
        status |= msgpack_pack_uint32(packer, c->hidden[1]);
        status |= msgpack_pack_uint32(packer, c->channels);
        status |= msgpack_pack_uint32(packer, c->height);
        status |= msgpack_pack_uint32(packer, c->width);
        status |= msgpack_pack_uint32(packer, c->class_count);
        status |= s_pack_string(packer, c->dataset);
        status |= msgpack_pack_uint32(packer, c->shard_index);
        status |= msgpack_pack_uint32(packer, c->shard_count);
        status |= msgpack_pack_double(packer, c->dirichlet_alpha);
        status |= msgpack_pack_uint32(packer, c->batch_size);
        status |= msgpack_pack_uint64(packer, c->seed);
        status |= msgpack_pack_uint32(packer, c->heartbeat_interval_ms);
        status |= msgpack_pack_uint32(packer, c->heartbeat_timeout_ms);
        break;
    case BYZGD_MSG_PARAMS:
        status |= s_pack_tensor(packer, msg->params.parameters, msg->params.dimension);
        break;
    case BYZGD_MSG_PROPOSAL:
        status |= msgpack_pack_double(packer, msg->proposal.train_loss);
        status |= s_pack_tensor(packer, msg->proposal.gradient, msg->proposal.dimension);
        break;
    case BYZGD_MSG_HEARTBEAT:
        break;
    case BYZGD_MSG_ERROR:
        status |= msgpack_pack_uint32(packer, msg->error.code);
        status |= s_pack_string(packer, msg->error.text);
        break;
    case BYZGD_MSG_BYE:
        status |= msgpack_pack_uint32(packer, msg->bye.code);
        break;
    }
    return status ? -1 : 0;
}

// The encoder's checks: a known type, tensors present with 1 ≤ d ≤ DIMENSION_MAX, and the
// decoder's value rules.
static int
s_check_encodable(const byzgd_msg_t *msg, char *error, size_t error_size)
{
    if ((unsigned)msg->type >= BYZGD_MSG_TYPE_COUNT || s_field_count[msg->type] == 0)
        return byzgd_set_error(error, error_size, "msg: unknown message type %d", (int)msg->type);
    const void *tensor = NULL;
    size_t dimension = 0;
    if (msg->type == BYZGD_MSG_PARAMS) {
        tensor = msg->params.parameters;
        dimension = msg->params.dimension;
    } else if (msg->type == BYZGD_MSG_PROPOSAL) {
        tensor = msg->proposal.gradient;
        dimension = msg->proposal.dimension;
    }
    if ((msg->type == BYZGD_MSG_PARAMS || msg->type == BYZGD_MSG_PROPOSAL) &&
        (!tensor || dimension == 0 || dimension > BYZGD_MSG_DIMENSION_MAX))
        return byzgd_set_error(error, error_size,
                               "msg: %s needs a tensor of 1 to %u parameters (got %zu)",
                               byzgd_msg_type_name(msg->type), BYZGD_MSG_DIMENSION_MAX, dimension);
    const char *field = NULL;
    if (s_check_values(msg, &field) != BYZGD_MSG_OK)
        return byzgd_set_error(error, error_size, "msg: %s field %s is out of range",
                               byzgd_msg_type_name(msg->type), field);
    return 0;
}

size_t
byzgd_msg_encoded_size(const byzgd_msg_t *msg)
{
    if ((unsigned)msg->type >= BYZGD_MSG_TYPE_COUNT || s_field_count[msg->type] == 0)
        return 0;
    s_writer_t counter = {0};
    msgpack_packer packer;
    msgpack_packer_init(&packer, &counter, s_write);
    // Strings must be terminated within their arrays for strlen(); a message that fails
    // this is not encodable, and 0 tells the caller so.
    if (msg->type == BYZGD_MSG_HELLO &&
        strnlen(msg->hello.software, sizeof msg->hello.software) == sizeof msg->hello.software)
        return 0;
    if (msg->type == BYZGD_MSG_ERROR &&
        strnlen(msg->error.text, sizeof msg->error.text) == sizeof msg->error.text)
        return 0;
    if (msg->type == BYZGD_MSG_CONFIG &&
        (strnlen(msg->config.architecture, sizeof msg->config.architecture) ==
             sizeof msg->config.architecture ||
         strnlen(msg->config.dataset, sizeof msg->config.dataset) == sizeof msg->config.dataset))
        return 0;
    s_pack(&packer, msg);
    return counter.size;
}

int
byzgd_msg_encode(void *buffer, size_t capacity, size_t *size_out, const byzgd_msg_t *msg,
                 char *error, size_t error_size)
{
    if (s_check_encodable(msg, error, error_size) != 0)
        return -1;
    s_writer_t writer = {.data = buffer, .capacity = capacity};
    msgpack_packer packer;
    msgpack_packer_init(&packer, &writer, s_write);
    if (!buffer || s_pack(&packer, msg) != 0)
        return byzgd_set_error(error, error_size, "msg: %s does not fit in %zu bytes (needs %zu)",
                               byzgd_msg_type_name(msg->type), capacity,
                               byzgd_msg_encoded_size(msg));
    *size_out = writer.size;
    return 0;
}

void *
byzgd_msg_encode_new(const byzgd_msg_t *msg, size_t *size_out, char *error, size_t error_size)
{
    if (s_check_encodable(msg, error, error_size) != 0)
        return NULL;
    size_t size = byzgd_msg_encoded_size(msg);
    void *buffer = size ? malloc(size) : NULL;
    if (!buffer) {
        byzgd_set_error(error, error_size, "msg: out of memory for %zu bytes", size);
        return NULL;
    }
    if (byzgd_msg_encode(buffer, size, size_out, msg, error, error_size) != 0) {
        free(buffer);
        return NULL;
    }
    return buffer;
}

void
byzgd_msg_free_fn(void *data, void *hint)
{
    (void)hint;
    free(data);
}

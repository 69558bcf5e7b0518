/*  test_msg.c — the wire codec: round trips of every message type, the examples of
    docs/PROTOCOL.md, a named table of malformed messages, truncation at every prefix
    length, size caps, zero-copy tensors and the encoder's own checks. */
#include "wire/msg.h"
#include "support/rng.h"
#include "test.h"

#include <float.h>
#include <stdint.h>

#define EPOCH_HEX "cf 11 22 33 44 55 66 77 88"
#define EPOCH     0x1122334455667788ull
#define ONE_HEX   "00 00 80 3f "
#define TENSOR4   "c4 10 " ONE_HEX ONE_HEX ONE_HEX ONE_HEX // d = 4, all 1.0f

// ---- helpers

// Parses "96 01 a3*2": hex bytes separated by spaces, `HH*N` repeats a byte N times.
// Returns a malloc'd buffer of exactly *size bytes (at least 1 allocated byte).
static uint8_t *
s_hex(const char *text, size_t *size)
{
    size_t capacity = 64, count = 0;
    uint8_t *bytes = malloc(capacity);
    ASSERT(bytes);
    const char *p = text;
    while (*p) {
        if (*p == ' ') {
            p++;
            continue;
        }
        char *end;
        unsigned long byte = strtoul(p, &end, 16);
        ASSERT_MSG(end == p + 2, "bad hex at \"%s\"", p);
        unsigned long repeat = 1;
        p = end;
        if (*p == '*') {
            repeat = strtoul(p + 1, &end, 10);
            p = end;
        }
        for (unsigned long i = 0; i < repeat; i++) {
            if (count == capacity) {
                capacity *= 2;
                bytes = realloc(bytes, capacity);
                ASSERT(bytes);
            }
            bytes[count++] = (uint8_t)byte;
        }
    }
    // Exact-size copy so that AddressSanitizer sees any read past the end.
    uint8_t *exact = malloc(count ? count : 1);
    ASSERT(exact);
    memcpy(exact, bytes, count);
    free(bytes);
    *size = count;
    return exact;
}

static byzgd_msg_reject_t
s_decode_copy(byzgd_msg_t *msg, const uint8_t *data, size_t size, byzgd_msg_sender_t sender,
              size_t d)
{
    uint8_t *exact = malloc(size ? size : 1);
    ASSERT(exact);
    memcpy(exact, data, size);
    byzgd_msg_reject_t reason = byzgd_msg_decode(msg, exact, size, sender, d);
    free(exact);
    return reason;
}

static byzgd_msg_config_t
s_config(void)
{
    byzgd_msg_config_t c = {
        .slot = 3,
        .worker_count = 20,
        .byzantine_count = 6,
        .dimension = 101770,
        .hidden = {128, 64},
        .channels = 1,
        .height = 28,
        .width = 28,
        .class_count = 10,
        .shard_index = 3,
        .shard_count = 20,
        .dirichlet_alpha = 0.5,
        .batch_size = 32,
        .seed = 0xfeedfacecafebeefull,
        .heartbeat_interval_ms = 1000,
        .heartbeat_timeout_ms = 5000,
    };
    strcpy(c.architecture, "mlp");
    strcpy(c.dataset, "fashion-mnist");
    return c;
}

static uint8_t *
s_encode(const byzgd_msg_t *msg, size_t *size)
{
    char error[256] = "";
    uint8_t *buffer = byzgd_msg_encode_new(msg, size, error, sizeof error);
    ASSERT_MSG(buffer, "encode %s: %s", byzgd_msg_type_name(msg->type), error);
    ASSERT_EQ_INT(*size, byzgd_msg_encoded_size(msg));
    return buffer;
}

// Every valid message type, d = 4 for tensors.
static size_t
s_valid_messages(byzgd_msg_t *out, byzgd_msg_sender_t *senders, const float *tensor)
{
    size_t count = 0;
    byzgd_msg_t m;

    m = (byzgd_msg_t){.type = BYZGD_MSG_HELLO, .hello.capabilities = 0};
    strcpy(m.hello.software, "byzgd-worker/0.1");
    senders[count] = BYZGD_MSG_FROM_WORKER, out[count++] = m;

    m = (byzgd_msg_t){.type = BYZGD_MSG_CONFIG, .epoch = EPOCH, .round = 1, .config = s_config()};
    m.config.dimension = 4;
    senders[count] = BYZGD_MSG_FROM_SERVER, out[count++] = m;

    m = (byzgd_msg_t){.type = BYZGD_MSG_PARAMS,
                      .epoch = EPOCH,
                      .round = 12,
                      .params = {.parameters = tensor, .dimension = 4}};
    senders[count] = BYZGD_MSG_FROM_SERVER, out[count++] = m;

    m = (byzgd_msg_t){.type = BYZGD_MSG_PROPOSAL,
                      .epoch = EPOCH,
                      .round = 12,
                      .proposal = {.train_loss = 2.25, .gradient = tensor, .dimension = 4}};
    senders[count] = BYZGD_MSG_FROM_WORKER, out[count++] = m;

    m = (byzgd_msg_t){.type = BYZGD_MSG_HEARTBEAT, .epoch = EPOCH, .round = 0};
    senders[count] = BYZGD_MSG_FROM_WORKER, out[count++] = m;
    senders[count] = BYZGD_MSG_FROM_SERVER, out[count++] = m;

    m = (byzgd_msg_t){.type = BYZGD_MSG_ERROR,
                      .epoch = EPOCH,
                      .round = 7,
                      .error.code = BYZGD_MSG_ERROR_SERVER_FULL};
    strcpy(m.error.text, "all 20 slots are taken");
    senders[count] = BYZGD_MSG_FROM_SERVER, out[count++] = m;

    m = (byzgd_msg_t){
        .type = BYZGD_MSG_BYE, .epoch = EPOCH, .round = 500, .bye.code = BYZGD_MSG_BYE_SHUTDOWN};
    senders[count] = BYZGD_MSG_FROM_WORKER, out[count++] = m;
    senders[count] = BYZGD_MSG_FROM_SERVER, out[count++] = m;
    return count;
}

static void
s_assert_same(const byzgd_msg_t *a, const byzgd_msg_t *b)
{
    ASSERT_EQ_INT(a->type, b->type);
    ASSERT_EQ_INT(b->version, BYZGD_MSG_VERSION);
    ASSERT(a->epoch == b->epoch);
    ASSERT(a->round == b->round);
    switch (a->type) {
    case BYZGD_MSG_HELLO:
        ASSERT_STR_EQ(a->hello.software, b->hello.software);
        ASSERT(a->hello.capabilities == b->hello.capabilities);
        break;
    case BYZGD_MSG_CONFIG: {
        const byzgd_msg_config_t *x = &a->config, *y = &b->config;
        ASSERT_EQ_INT(x->slot, y->slot);
        ASSERT_EQ_INT(x->worker_count, y->worker_count);
        ASSERT_EQ_INT(x->byzantine_count, y->byzantine_count);
        ASSERT(x->dimension == y->dimension);
        ASSERT_STR_EQ(x->architecture, y->architecture);
        ASSERT_EQ_INT(x->hidden[0], y->hidden[0]);
        ASSERT_EQ_INT(x->hidden[1], y->hidden[1]);
        ASSERT_EQ_INT(x->channels, y->channels);
        ASSERT_EQ_INT(x->height, y->height);
        ASSERT_EQ_INT(x->width, y->width);
        ASSERT_EQ_INT(x->class_count, y->class_count);
        ASSERT_STR_EQ(x->dataset, y->dataset);
        ASSERT_EQ_INT(x->shard_index, y->shard_index);
        ASSERT_EQ_INT(x->shard_count, y->shard_count);
        ASSERT(x->dirichlet_alpha == y->dirichlet_alpha);
        ASSERT_EQ_INT(x->batch_size, y->batch_size);
        ASSERT(x->seed == y->seed);
        ASSERT_EQ_INT(x->heartbeat_interval_ms, y->heartbeat_interval_ms);
        ASSERT_EQ_INT(x->heartbeat_timeout_ms, y->heartbeat_timeout_ms);
        break;
    }
    case BYZGD_MSG_PARAMS:
        ASSERT_EQ_INT(a->params.dimension, b->params.dimension);
        ASSERT(memcmp(a->params.parameters, b->params.parameters, 4 * a->params.dimension) == 0);
        break;
    case BYZGD_MSG_PROPOSAL:
        ASSERT(a->proposal.train_loss == b->proposal.train_loss);
        ASSERT_EQ_INT(a->proposal.dimension, b->proposal.dimension);
        ASSERT(memcmp(a->proposal.gradient, b->proposal.gradient, 4 * a->proposal.dimension) == 0);
        break;
    case BYZGD_MSG_HEARTBEAT:
        break;
    case BYZGD_MSG_ERROR:
        ASSERT_EQ_INT(a->error.code, b->error.code);
        ASSERT_STR_EQ(a->error.text, b->error.text);
        break;
    case BYZGD_MSG_BYE:
        ASSERT_EQ_INT(a->bye.code, b->bye.code);
        break;
    }
}

// ---- round trips

TEST(round_trip_every_type)
{
    const float tensor[4] = {1.0f, -2.0f, 3.5f, 0.0f};
    byzgd_msg_t messages[16];
    byzgd_msg_sender_t senders[16];
    size_t count = s_valid_messages(messages, senders, tensor);
    bool seen[BYZGD_MSG_TYPE_COUNT] = {false};
    for (size_t i = 0; i < count; i++) {
        size_t size;
        uint8_t *bytes = s_encode(&messages[i], &size);
        byzgd_msg_t decoded;
        byzgd_msg_reject_t reason = byzgd_msg_decode(&decoded, bytes, size, senders[i], 4);
        ASSERT_MSG(reason == BYZGD_MSG_OK, "%s: %s (%s)", byzgd_msg_type_name(messages[i].type),
                   byzgd_msg_reject_name(reason), decoded.reject_field);
        ASSERT(decoded.reject_field == NULL);
        s_assert_same(&messages[i], &decoded);
        seen[messages[i].type] = true;
        free(bytes);
    }
    for (int type = 1; type < BYZGD_MSG_TYPE_COUNT; type++)
        ASSERT_MSG(seen[type], "type %d not covered", type);
}

TEST(round_trip_extreme_values)
{
    // Denormal and huge finite values are the rules' business: the codec keeps them.
    const float tensor[6] = {FLT_MAX, -FLT_MAX, FLT_MIN / 4, -FLT_TRUE_MIN, 0.0f, -0.0f};
    byzgd_msg_t m = {.type = BYZGD_MSG_PROPOSAL,
                     .epoch = UINT64_MAX,
                     .round = UINT64_MAX,
                     .proposal = {.train_loss = DBL_MAX, .gradient = tensor, .dimension = 6}};
    size_t size;
    uint8_t *bytes = s_encode(&m, &size);
    byzgd_msg_t decoded;
    ASSERT_EQ_INT(byzgd_msg_decode(&decoded, bytes, size, BYZGD_MSG_FROM_WORKER, 6), BYZGD_MSG_OK);
    s_assert_same(&m, &decoded);
    float copy[6];
    byzgd_msg_tensor_copy(copy, decoded.proposal.gradient, 6);
    ASSERT(signbit(copy[5]) && copy[5] == 0.0f);
    ASSERT(copy[2] == FLT_MIN / 4 && fpclassify(copy[2]) == FP_SUBNORMAL);
    free(bytes);

    byzgd_msg_t hello = {.type = BYZGD_MSG_HELLO, .hello.capabilities = UINT64_MAX};
    memset(hello.hello.software, '~', BYZGD_MSG_SOFTWARE_MAX);
    bytes = s_encode(&hello, &size);
    ASSERT_EQ_INT(byzgd_msg_decode(&decoded, bytes, size, BYZGD_MSG_FROM_WORKER, 0), BYZGD_MSG_OK);
    s_assert_same(&hello, &decoded);
    free(bytes);

    byzgd_msg_t error = {.type = BYZGD_MSG_ERROR, .epoch = 1, .error.code = 1};
    memset(error.error.text, ' ', BYZGD_MSG_TEXT_MAX);
    bytes = s_encode(&error, &size);
    ASSERT_EQ_INT(byzgd_msg_decode(&decoded, bytes, size, BYZGD_MSG_FROM_SERVER, 0), BYZGD_MSG_OK);
    s_assert_same(&error, &decoded);
    free(bytes);
}

TEST(round_trip_large_tensor_zero_copy)
{
    // d = 10^6: the payload is the last 4·d bytes, the decoded pointer points into the
    // received buffer, the header is small.
    const size_t d = 1000000;
    float *tensor = malloc(d * sizeof *tensor);
    ASSERT(tensor);
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 1, 0);
    for (size_t i = 0; i < d; i++)
        tensor[i] = (float)byzgd_rng_gaussian(&rng);
    byzgd_msg_t m = {.type = BYZGD_MSG_PARAMS,
                     .epoch = EPOCH,
                     .round = 3,
                     .params = {.parameters = tensor, .dimension = d}};
    size_t size;
    uint8_t *bytes = s_encode(&m, &size);
    ASSERT(size > 4 * d && size - 4 * d <= 40);
    ASSERT(size <= byzgd_msg_max_size(d));
    ASSERT_EQ_INT(bytes[size - 4 * d - 5], 0xc6); // bin32
    byzgd_msg_t decoded;
    ASSERT_EQ_INT(byzgd_msg_decode(&decoded, bytes, size, BYZGD_MSG_FROM_SERVER, d), BYZGD_MSG_OK);
    ASSERT(decoded.params.parameters == bytes + size - 4 * d);
    ASSERT(memcmp(decoded.params.parameters, tensor, 4 * d) == 0);
    // The same bytes with d - 1 / d + 1 expected are a dimension mismatch.
    ASSERT_EQ_INT(byzgd_msg_decode(&decoded, bytes, size, BYZGD_MSG_FROM_SERVER, d - 1),
                  BYZGD_MSG_REJECT_DIMENSION);
    ASSERT_EQ_INT(byzgd_msg_decode(&decoded, bytes, size, BYZGD_MSG_FROM_SERVER, d + 1),
                  BYZGD_MSG_REJECT_DIMENSION);
    // One NaN at the very end is found.
    memcpy(bytes + size - 4, &(float){NAN}, 4);
    ASSERT_EQ_INT(byzgd_msg_decode(&decoded, bytes, size, BYZGD_MSG_FROM_SERVER, d),
                  BYZGD_MSG_REJECT_NON_FINITE);
    ASSERT_STR_EQ(decoded.reject_field, "parameters");
    free(bytes);
    free(tensor);
}

TEST(tensor_alignment_helpers)
{
    uint8_t storage[4 * 5 + 4];
    float values[4] = {1, 2, 3, 4};
    uint8_t *aligned = storage + (4 - (uintptr_t)storage % 4) % 4;
    memcpy(aligned, values, 16);
    ASSERT(byzgd_msg_tensor_floats(aligned) == (const float *)aligned);
    ASSERT(byzgd_msg_tensor_floats(aligned + 1) == NULL);
    memcpy(aligned + 1, values, 16);
    float out[4];
    byzgd_msg_tensor_copy(out, aligned + 1, 4);
    ASSERT(memcmp(out, values, 16) == 0);
    ASSERT(byzgd_msg_tensor_finite(aligned + 1, 4));
    for (int bad = 0; bad < 3; bad++) {
        const float specials[3] = {NAN, INFINITY, -INFINITY};
        float big[3000];
        for (int i = 0; i < 3000; i++)
            big[i] = (float)i;
        big[2999 - bad * 1000] = specials[bad];
        ASSERT(!byzgd_msg_tensor_finite(big, 3000));
        ASSERT(byzgd_msg_tensor_finite(big, (size_t)(2999 - bad * 1000)));
    }
}

// ---- the byte-exact examples of docs/PROTOCOL.md §9

static void
s_assert_bytes(const byzgd_msg_t *msg, const char *hex)
{
    size_t expected_size, size;
    uint8_t *expected = s_hex(hex, &expected_size);
    uint8_t *bytes = s_encode(msg, &size);
    ASSERT_EQ_INT(size, expected_size);
    for (size_t i = 0; i < size; i++)
        ASSERT_MSG(bytes[i] == expected[i], "byte %zu: %02x != %02x", i, bytes[i], expected[i]);
    free(bytes);
    free(expected);
}

TEST(protocol_examples)
{
    byzgd_msg_t hello = {.type = BYZGD_MSG_HELLO};
    strcpy(hello.hello.software, "byzgd-worker/0.1");
    s_assert_bytes(&hello, "96 01 01 00 00 b0 62 79 7a 67 64 2d 77 6f 72 6b 65 72 2f 30 2e 31 00");
    byzgd_msg_t heartbeat = {.type = BYZGD_MSG_HEARTBEAT, .epoch = EPOCH, .round = 7};
    s_assert_bytes(&heartbeat, "94 01 05 " EPOCH_HEX " 07");
    const float x[2] = {1.0f, -2.0f};
    byzgd_msg_t params = {.type = BYZGD_MSG_PARAMS,
                          .epoch = EPOCH,
                          .round = 1,
                          .params = {.parameters = x, .dimension = 2}};
    s_assert_bytes(&params, "95 01 03 " EPOCH_HEX " 01 c4 08 00 00 80 3f 00 00 00 c0");
}

TEST(non_minimal_encodings_accepted)
{
    // Any msgpack integer width, str8 for a short string, array16 for the header, bin32
    // for a small tensor, float32 for the loss: all valid msgpack, all accepted.
    const char *hex = "dc 00 06 cc 01 cd 00 04 d3 11 22 33 44 55 66 77 88 ce 00 00 00 05 "
                      "ca 3f 80 00 00 c6 00 00 00 10 " ONE_HEX ONE_HEX ONE_HEX ONE_HEX;
    size_t size;
    uint8_t *bytes = s_hex(hex, &size);
    byzgd_msg_t msg;
    byzgd_msg_reject_t reason = byzgd_msg_decode(&msg, bytes, size, BYZGD_MSG_FROM_WORKER, 4);
    ASSERT_MSG(reason == BYZGD_MSG_OK, "%s at %s", byzgd_msg_reject_name(reason), msg.reject_field);
    ASSERT_EQ_INT(msg.type, BYZGD_MSG_PROPOSAL);
    ASSERT(msg.epoch == EPOCH && msg.round == 5);
    ASSERT(msg.proposal.train_loss == 1.0);
    free(bytes);
}

// ---- malformed messages

// A case is either a raw message, or a valid base message (the elements below) with one
// element replaced / removed / appended, or bytes appended after it.
typedef enum { OP_RAW, OP_REPLACE, OP_REMOVE_LAST, OP_APPEND, OP_TRAILING } s_op_t;

typedef struct {
    const char *name;
    int base; // message type of the base elements (ignored for OP_RAW)
    s_op_t op;
    int index;       // element replaced by OP_REPLACE
    const char *hex; // replacement element, appended element or bytes, or the raw message
    byzgd_msg_sender_t sender;
    size_t dimension;
    byzgd_msg_reject_t expected;
    const char *field; // expected reject_field (NULL: not checked)
} s_malformed_t;

static const char *const s_base_hello[] = {"01", "01", "00", "00", "a5 62 79 7a 67 64", "00"};
static const char *const s_base_config[] = {"01",
                                            "02",
                                            EPOCH_HEX,
                                            "01",
                                            "01",
                                            "05",
                                            "01",
                                            "04",
                                            "a3 6d 6c 70",
                                            "00",
                                            "00",
                                            "01",
                                            "02",
                                            "02",
                                            "02",
                                            "a9 73 79 6e 74 68 65 74 69 63",
                                            "01",
                                            "05",
                                            "cb 00 00 00 00 00 00 00 00",
                                            "08",
                                            "2a",
                                            "cd 03 e8",
                                            "cd 0b b8"};
static const char *const s_base_params[] = {"01", "03", EPOCH_HEX, "02", TENSOR4};
static const char *const s_base_proposal[] = {
    "01", "04", EPOCH_HEX, "02", "cb 3f f0 00 00 00 00 00 00", TENSOR4};
static const char *const s_base_heartbeat[] = {"01", "05", EPOCH_HEX, "02"};
static const char *const s_base_error[] = {"01", "06", EPOCH_HEX, "00", "04", "a4 66 75 6c 6c"};
static const char *const s_base_bye[] = {"01", "07", EPOCH_HEX, "02", "00"};

#define W    BYZGD_MSG_FROM_WORKER
#define S    BYZGD_MSG_FROM_SERVER
#define R(x) BYZGD_MSG_REJECT_##x
#define NAN4 "00 00 c0 7f "
#define PINF "00 00 80 7f "
#define NINF "00 00 80 ff "

static const s_malformed_t s_malformed[] = {
    // not msgpack / not an array / size bombs
    {"empty", 0, OP_RAW, 0, "", W, 4, R(TRUNCATED), "message"},
    {"byte_c1", 0, OP_RAW, 0, "c1", W, 4, R(MALFORMED), "message"},
    {"top_nil", 0, OP_RAW, 0, "c0", W, 4, R(MALFORMED), "message"},
    {"top_map", 0, OP_RAW, 0, "82 01 01 02 04", W, 4, R(MALFORMED), "message"},
    {"top_str", 0, OP_RAW, 0, "a3 61 62 63", W, 4, R(MALFORMED), "message"},
    {"top_bin32_bomb", 0, OP_RAW, 0, "c6 ff ff ff ff", W, 4, R(MALFORMED), "message"},
    {"array32_bomb", 0, OP_RAW, 0, "dd ff ff ff ff", W, 4, R(TRUNCATED), "message"},
    {"array16_bomb", 0, OP_RAW, 0, "dc ff ff 01 01", W, 4, R(TRUNCATED), "message"},
    {"array_header_cut", 0, OP_RAW, 0, "dd 00 00", W, 4, R(TRUNCATED), "message"},
    {"array_count_40", 0, OP_RAW, 0, "dc 00 28 01*40", W, 4, R(TOO_LARGE), "message"},
    {"array_empty", 0, OP_RAW, 0, "90", W, 4, R(SCHEMA), "message"},
    {"array_one", 0, OP_RAW, 0, "91 01", W, 4, R(SCHEMA), "message"},
    {"deep_nesting_top", 0, OP_RAW, 0, "91*200 01", W, 4, R(SCHEMA), "message"},
    {"frame_over_cap", 0, OP_RAW, 0, "96 01 01 00 00 a1 61 00 00*1020", W, 4, R(TOO_LARGE),
     "message"},
    // version and type
    {"version_2", 0, OP_RAW, 0, "94 02 05 01 01", W, 4, R(VERSION), "version"},
    {"version_0", 0, OP_RAW, 0, "94 00 05 01 01", W, 4, R(VERSION), "version"},
    {"version_negative", 0, OP_RAW, 0, "94 ff 05 01 01", W, 4, R(VERSION), "version"},
    {"version_uint64", 0, OP_RAW, 0, "94 cf 00 00 00 01 00 00 00 01 05 01 01", W, 4, R(VERSION),
     "version"},
    {"version_str", BYZGD_MSG_HELLO, OP_REPLACE, 0, "a1 31", W, 4, R(SCHEMA), "version"},
    {"version_float", BYZGD_MSG_HELLO, OP_REPLACE, 0, "cb 3f f0 00 00 00 00 00 00", W, 4, R(SCHEMA),
     "version"},
    {"version_nil", BYZGD_MSG_HELLO, OP_REPLACE, 0, "c0", W, 4, R(SCHEMA), "version"},
    {"type_0", BYZGD_MSG_HEARTBEAT, OP_REPLACE, 1, "00", W, 4, R(TYPE), "type"},
    {"type_8", BYZGD_MSG_HEARTBEAT, OP_REPLACE, 1, "08", W, 4, R(TYPE), "type"},
    {"type_huge", BYZGD_MSG_HEARTBEAT, OP_REPLACE, 1, "cf ff ff ff ff ff ff ff 05", W, 4, R(TYPE),
     "type"},
    {"type_negative", BYZGD_MSG_HEARTBEAT, OP_REPLACE, 1, "fb", W, 4, R(TYPE), "type"},
    {"type_str", BYZGD_MSG_HEARTBEAT, OP_REPLACE, 1, "a1 35", W, 4, R(SCHEMA), "type"},
    {"config_from_worker", BYZGD_MSG_CONFIG, OP_TRAILING, 0, "", W, 4, R(TYPE), "type"},
    {"params_from_worker", BYZGD_MSG_PARAMS, OP_TRAILING, 0, "", W, 4, R(TYPE), "type"},
    {"error_from_worker", BYZGD_MSG_ERROR, OP_TRAILING, 0, "", W, 4, R(TYPE), "type"},
    {"hello_from_server", BYZGD_MSG_HELLO, OP_TRAILING, 0, "", S, 4, R(TYPE), "type"},
    {"proposal_from_server", BYZGD_MSG_PROPOSAL, OP_TRAILING, 0, "", S, 4, R(TYPE), "type"},
    // element count and trailing bytes
    {"hello_missing_field", BYZGD_MSG_HELLO, OP_REMOVE_LAST, 0, "", W, 4, R(SCHEMA), "message"},
    {"hello_extra_field", BYZGD_MSG_HELLO, OP_APPEND, 0, "00", W, 4, R(SCHEMA), "message"},
    {"heartbeat_extra_field", BYZGD_MSG_HEARTBEAT, OP_APPEND, 0, "c0", S, 4, R(SCHEMA), "message"},
    {"proposal_missing_tensor", BYZGD_MSG_PROPOSAL, OP_REMOVE_LAST, 0, "", W, 4, R(SCHEMA),
     "message"},
    {"hello_trailing_zero", BYZGD_MSG_HELLO, OP_TRAILING, 0, "00", W, 4, R(TRAILING_BYTES),
     "message"},
    {"hello_trailing_c1", BYZGD_MSG_HELLO, OP_TRAILING, 0, "c1", W, 4, R(TRAILING_BYTES),
     "message"},
    {"proposal_trailing_message", BYZGD_MSG_PROPOSAL, OP_TRAILING, 0, "94 01 05 " EPOCH_HEX " 02",
     W, 4, R(TRAILING_BYTES), "message"},
    // header fields
    {"hello_epoch_nonzero", BYZGD_MSG_HELLO, OP_REPLACE, 2, "01", W, 4, R(VALUE), "epoch"},
    {"hello_round_nonzero", BYZGD_MSG_HELLO, OP_REPLACE, 3, "01", W, 4, R(VALUE), "round"},
    {"heartbeat_epoch_zero", BYZGD_MSG_HEARTBEAT, OP_REPLACE, 2, "00", W, 4, R(VALUE), "epoch"},
    {"heartbeat_epoch_str", BYZGD_MSG_HEARTBEAT, OP_REPLACE, 2, "a8 31*8", W, 4, R(SCHEMA),
     "epoch"},
    {"heartbeat_epoch_negative", BYZGD_MSG_HEARTBEAT, OP_REPLACE, 2, "d3 ff*8", W, 4, R(VALUE),
     "epoch"},
    {"heartbeat_epoch_cut", 0, OP_RAW, 0, "94 01 05 cf 11 22", W, 4, R(TRUNCATED), "epoch"},
    {"heartbeat_round_float", BYZGD_MSG_HEARTBEAT, OP_REPLACE, 3, "ca 3f 80 00 00", W, 4, R(SCHEMA),
     "round"},
    {"heartbeat_round_bool", BYZGD_MSG_HEARTBEAT, OP_REPLACE, 3, "c3", W, 4, R(SCHEMA), "round"},
    {"heartbeat_round_ext", BYZGD_MSG_HEARTBEAT, OP_REPLACE, 3, "d4 01 02", W, 4, R(SCHEMA),
     "round"},
    {"heartbeat_round_c1", BYZGD_MSG_HEARTBEAT, OP_REPLACE, 3, "c1", W, 4, R(MALFORMED), "round"},
    {"proposal_round_zero", BYZGD_MSG_PROPOSAL, OP_REPLACE, 3, "00", W, 4, R(VALUE), "round"},
    {"params_round_zero", BYZGD_MSG_PARAMS, OP_REPLACE, 3, "00", S, 4, R(VALUE), "round"},
    // HELLO fields
    {"software_int", BYZGD_MSG_HELLO, OP_REPLACE, 4, "05", W, 4, R(SCHEMA), "software"},
    {"software_bin", BYZGD_MSG_HELLO, OP_REPLACE, 4, "c4 03 61 62 63", W, 4, R(SCHEMA), "software"},
    {"software_nested_arrays", BYZGD_MSG_HELLO, OP_REPLACE, 4, "91*100 01", W, 4, R(SCHEMA),
     "software"},
    {"software_map", BYZGD_MSG_HELLO, OP_REPLACE, 4, "81 a1 61 01", W, 4, R(SCHEMA), "software"},
    {"software_empty", BYZGD_MSG_HELLO, OP_REPLACE, 4, "a0", W, 4, R(VALUE), "software"},
    {"software_64_chars", BYZGD_MSG_HELLO, OP_REPLACE, 4, "d9 40 61*64", W, 4, R(TOO_LARGE),
     "software"},
    {"software_newline", BYZGD_MSG_HELLO, OP_REPLACE, 4, "a3 61 0a 62", W, 4, R(VALUE), "software"},
    {"software_nul", BYZGD_MSG_HELLO, OP_REPLACE, 4, "a3 61 00 62", W, 4, R(VALUE), "software"},
    {"software_utf8", BYZGD_MSG_HELLO, OP_REPLACE, 4, "a2 c3 a9", W, 4, R(VALUE), "software"},
    {"software_str32_bomb", BYZGD_MSG_HELLO, OP_REPLACE, 4, "db ff ff ff ff", W, 4, R(TRUNCATED),
     "software"},
    {"software_str_cut", 0, OP_RAW, 0, "96 01 01 00 00 a5 62 79", W, 4, R(TRUNCATED), "software"},
    {"capabilities_negative", BYZGD_MSG_HELLO, OP_REPLACE, 5, "ff", W, 4, R(VALUE), "capabilities"},
    {"capabilities_str", BYZGD_MSG_HELLO, OP_REPLACE, 5, "a1 30", W, 4, R(SCHEMA), "capabilities"},
    {"capabilities_c1", BYZGD_MSG_HELLO, OP_REPLACE, 5, "c1", W, 4, R(MALFORMED), "capabilities"},
    // PROPOSAL and PARAMS tensors
    {"gradient_dimension_plus_1", BYZGD_MSG_PROPOSAL, OP_REPLACE, 5,
     "c4 14 " ONE_HEX ONE_HEX ONE_HEX ONE_HEX ONE_HEX, W, 4, R(DIMENSION), "gradient"},
    {"gradient_dimension_minus_1", BYZGD_MSG_PROPOSAL, OP_REPLACE, 5,
     "c4 0c " ONE_HEX ONE_HEX ONE_HEX, W, 4, R(DIMENSION), "gradient"},
    {"gradient_odd_length", BYZGD_MSG_PROPOSAL, OP_REPLACE, 5, "c4 0f 00*15", W, 4, R(DIMENSION),
     "gradient"},
    {"gradient_empty", BYZGD_MSG_PROPOSAL, OP_REPLACE, 5, "c4 00", W, 4, R(DIMENSION), "gradient"},
    {"gradient_dimension_unknown", BYZGD_MSG_PROPOSAL, OP_TRAILING, 0, "", W, 0, R(DIMENSION),
     "gradient"},
    {"gradient_float_array", BYZGD_MSG_PROPOSAL, OP_REPLACE, 5,
     "94 ca 3f 80 00 00 ca 3f 80 00 00 ca 3f 80 00 00 ca 3f 80 00 00", W, 4, R(SCHEMA), "gradient"},
    {"gradient_str", BYZGD_MSG_PROPOSAL, OP_REPLACE, 5, "b0 41*16", W, 4, R(SCHEMA), "gradient"},
    {"gradient_ext", BYZGD_MSG_PROPOSAL, OP_REPLACE, 5, "c7 10 01 00*16", W, 4, R(SCHEMA),
     "gradient"},
    {"gradient_nil", BYZGD_MSG_PROPOSAL, OP_REPLACE, 5, "c0", W, 4, R(SCHEMA), "gradient"},
    {"gradient_bin32_bomb", BYZGD_MSG_PROPOSAL, OP_REPLACE, 5, "c6 ff ff ff ff", W, 4, R(TRUNCATED),
     "gradient"},
    {"gradient_bin16_cut", BYZGD_MSG_PROPOSAL, OP_REPLACE, 5, "c5 00 10 00*8", W, 4, R(TRUNCATED),
     "gradient"},
    {"gradient_nan", BYZGD_MSG_PROPOSAL, OP_REPLACE, 5, "c4 10 " ONE_HEX NAN4 ONE_HEX ONE_HEX, W, 4,
     R(NON_FINITE), "gradient"},
    {"gradient_negative_nan", BYZGD_MSG_PROPOSAL, OP_REPLACE, 5,
     "c4 10 " ONE_HEX ONE_HEX "01 00 80 ff " ONE_HEX, W, 4, R(NON_FINITE), "gradient"},
    {"gradient_plus_inf", BYZGD_MSG_PROPOSAL, OP_REPLACE, 5, "c4 10 " PINF ONE_HEX ONE_HEX ONE_HEX,
     W, 4, R(NON_FINITE), "gradient"},
    {"gradient_minus_inf", BYZGD_MSG_PROPOSAL, OP_REPLACE, 5, "c4 10 " ONE_HEX ONE_HEX ONE_HEX NINF,
     W, 4, R(NON_FINITE), "gradient"},
    {"train_loss_nan", BYZGD_MSG_PROPOSAL, OP_REPLACE, 4, "cb 7f f8 00 00 00 00 00 00", W, 4,
     R(NON_FINITE), "train_loss"},
    {"train_loss_inf_float32", BYZGD_MSG_PROPOSAL, OP_REPLACE, 4, "ca 7f 80 00 00", W, 4,
     R(NON_FINITE), "train_loss"},
    {"train_loss_int", BYZGD_MSG_PROPOSAL, OP_REPLACE, 4, "01", W, 4, R(SCHEMA), "train_loss"},
    {"train_loss_cut", 0, OP_RAW, 0, "96 01 04 " EPOCH_HEX " 02 cb 3f f0", W, 4, R(TRUNCATED),
     "train_loss"},
    {"params_nan", BYZGD_MSG_PARAMS, OP_REPLACE, 4, "c4 10 " NAN4 ONE_HEX ONE_HEX ONE_HEX, S, 4,
     R(NON_FINITE), "parameters"},
    {"params_dimension_plus_1", BYZGD_MSG_PARAMS, OP_REPLACE, 4, "c4 14 00*20", S, 4, R(DIMENSION),
     "parameters"},
    // CONFIG fields
    {"config_slot_ge_n", BYZGD_MSG_CONFIG, OP_REPLACE, 4, "05", S, 0, R(VALUE), "slot"},
    {"config_n_zero", BYZGD_MSG_CONFIG, OP_REPLACE, 5, "00", S, 0, R(VALUE), "worker_count"},
    {"config_n_over_u32", BYZGD_MSG_CONFIG, OP_REPLACE, 5, "cf 00 00 00 01 00 00 00 05", S, 0,
     R(VALUE), "worker_count"},
    {"config_f_ge_n", BYZGD_MSG_CONFIG, OP_REPLACE, 6, "05", S, 0, R(VALUE), "byzantine_count"},
    {"config_dimension_zero", BYZGD_MSG_CONFIG, OP_REPLACE, 7, "00", S, 0, R(VALUE), "dimension"},
    {"config_dimension_huge", BYZGD_MSG_CONFIG, OP_REPLACE, 7, "cf 00 00 00 01 00 00 00 00", S, 0,
     R(VALUE), "dimension"},
    {"config_architecture_upper", BYZGD_MSG_CONFIG, OP_REPLACE, 8, "a3 4d 4c 50", S, 0, R(VALUE),
     "architecture"},
    {"config_architecture_16", BYZGD_MSG_CONFIG, OP_REPLACE, 8, "b0 61*16", S, 0, R(TOO_LARGE),
     "architecture"},
    {"config_hidden_huge", BYZGD_MSG_CONFIG, OP_REPLACE, 10, "ce 00 10 00 01", S, 0, R(VALUE),
     "hidden_1"},
    {"config_class_count_1", BYZGD_MSG_CONFIG, OP_REPLACE, 14, "01", S, 0, R(VALUE), "class_count"},
    {"config_dataset_path", BYZGD_MSG_CONFIG, OP_REPLACE, 15, "a6 2e 2e 2f 65 74 63", S, 0,
     R(VALUE), "dataset"},
    {"config_dataset_32", BYZGD_MSG_CONFIG, OP_REPLACE, 15, "d9 20 61*32", S, 0, R(TOO_LARGE),
     "dataset"},
    {"config_shard_index_ge_count", BYZGD_MSG_CONFIG, OP_REPLACE, 16, "05", S, 0, R(VALUE),
     "shard_index"},
    {"config_alpha_nan", BYZGD_MSG_CONFIG, OP_REPLACE, 18, "cb 7f f8 00 00 00 00 00 00", S, 0,
     R(VALUE), "dirichlet_alpha"},
    {"config_alpha_negative", BYZGD_MSG_CONFIG, OP_REPLACE, 18, "cb bf f0 00 00 00 00 00 00", S, 0,
     R(VALUE), "dirichlet_alpha"},
    {"config_alpha_int", BYZGD_MSG_CONFIG, OP_REPLACE, 18, "00", S, 0, R(SCHEMA),
     "dirichlet_alpha"},
    {"config_batch_zero", BYZGD_MSG_CONFIG, OP_REPLACE, 19, "00", S, 0, R(VALUE), "batch_size"},
    {"config_seed_str", BYZGD_MSG_CONFIG, OP_REPLACE, 20, "a2 34 32", S, 0, R(SCHEMA), "seed"},
    {"config_timeout_le_interval", BYZGD_MSG_CONFIG, OP_REPLACE, 22, "cd 03 e8", S, 0, R(VALUE),
     "heartbeat_timeout_ms"},
    {"config_round_zero", BYZGD_MSG_CONFIG, OP_REPLACE, 3, "00", S, 0, R(VALUE), "round"},
    // ERROR and BYE
    {"error_code_zero", BYZGD_MSG_ERROR, OP_REPLACE, 4, "00", S, 0, R(VALUE), "code"},
    {"error_code_unknown", BYZGD_MSG_ERROR, OP_REPLACE, 4, "63", S, 0, R(VALUE), "code"},
    {"error_text_256", BYZGD_MSG_ERROR, OP_REPLACE, 5, "da 01 00 61*256", S, 0, R(TOO_LARGE),
     "text"},
    {"error_text_escape", BYZGD_MSG_ERROR, OP_REPLACE, 5, "a4 1b 5b 32 4a", S, 0, R(VALUE), "text"},
    {"bye_code_2", BYZGD_MSG_BYE, OP_REPLACE, 4, "02", W, 0, R(VALUE), "code"},
    {"bye_code_bin", BYZGD_MSG_BYE, OP_REPLACE, 4, "c4 01 00", W, 0, R(SCHEMA), "code"},
};

static const char *const *
s_base(int type, size_t *count)
{
#define S_BASE(array)                                                                              \
    do {                                                                                           \
        *count = sizeof(array) / sizeof(array[0]);                                                 \
        return array;                                                                              \
    } while (0)
    switch (type) {
    case BYZGD_MSG_HELLO:
        S_BASE(s_base_hello);
    case BYZGD_MSG_CONFIG:
        S_BASE(s_base_config);
    case BYZGD_MSG_PARAMS:
        S_BASE(s_base_params);
    case BYZGD_MSG_PROPOSAL:
        S_BASE(s_base_proposal);
    case BYZGD_MSG_HEARTBEAT:
        S_BASE(s_base_heartbeat);
    case BYZGD_MSG_ERROR:
        S_BASE(s_base_error);
    case BYZGD_MSG_BYE:
        S_BASE(s_base_bye);
    }
    byzgd_test_fail(__FILE__, __LINE__, "no base for type %d", type);
#undef S_BASE
}

// The bytes of a case, as an exact-size heap buffer.
static uint8_t *
s_case_bytes(const s_malformed_t *c, size_t *size)
{
    if (c->op == OP_RAW)
        return s_hex(c->hex, size);
    size_t count;
    const char *const *elements = s_base(c->base, &count);
    char text[8192] = "";
    size_t used = count - (c->op == OP_REMOVE_LAST) + (c->op == OP_APPEND);
    if (used < 16)
        snprintf(text, sizeof text, "%02zx", 0x90 + used);
    else
        snprintf(text, sizeof text, "dc 00 %02zx", used);
    for (size_t i = 0; i < count; i++) {
        if (c->op == OP_REMOVE_LAST && i == count - 1)
            break;
        const char *element = c->op == OP_REPLACE && (int)i == c->index ? c->hex : elements[i];
        strncat(text, " ", sizeof text - strlen(text) - 1);
        strncat(text, element, sizeof text - strlen(text) - 1);
    }
    if (c->op == OP_APPEND || c->op == OP_TRAILING) {
        strncat(text, " ", sizeof text - strlen(text) - 1);
        strncat(text, c->hex, sizeof text - strlen(text) - 1);
    }
    ASSERT(strlen(text) < sizeof text - 1);
    return s_hex(text, size);
}

TEST(malformed_bases_are_valid)
{
    // Each base decodes, so every case below fails because of its one change.
    const int types[] = {BYZGD_MSG_HELLO,    BYZGD_MSG_CONFIG,    BYZGD_MSG_PARAMS,
                         BYZGD_MSG_PROPOSAL, BYZGD_MSG_HEARTBEAT, BYZGD_MSG_ERROR,
                         BYZGD_MSG_BYE};
    const byzgd_msg_sender_t senders[] = {W, S, S, W, W, S, W};
    for (int i = 0; i < 7; i++) {
        s_malformed_t c = {"base", types[i], OP_TRAILING, 0, "", senders[i], 4, BYZGD_MSG_OK, NULL};
        size_t size;
        uint8_t *bytes = s_case_bytes(&c, &size);
        byzgd_msg_t msg;
        byzgd_msg_reject_t reason = byzgd_msg_decode(&msg, bytes, size, senders[i], 4);
        ASSERT_MSG(reason == BYZGD_MSG_OK, "base %s: %s at %s", byzgd_msg_type_name(types[i]),
                   byzgd_msg_reject_name(reason), msg.reject_field);
        ASSERT_EQ_INT(msg.type, types[i]);
        free(bytes);
    }
}

TEST(malformed_table)
{
    size_t count = sizeof s_malformed / sizeof s_malformed[0];
    ASSERT_MSG(count >= 40, "only %zu malformed cases", count);
    bool reason_seen[BYZGD_MSG_REJECT_COUNT] = {false};
    size_t failures = 0;
    for (size_t i = 0; i < count; i++) {
        const s_malformed_t *c = &s_malformed[i];
        size_t size;
        uint8_t *bytes = s_case_bytes(c, &size);
        byzgd_msg_t msg;
        byzgd_msg_reject_t reason = byzgd_msg_decode(&msg, bytes, size, c->sender, c->dimension);
        bool field_ok = !c->field || (msg.reject_field && !strcmp(msg.reject_field, c->field));
        if (reason != c->expected || !field_ok) {
            printf("  case %s: got %s at %s, want %s at %s\n", c->name,
                   byzgd_msg_reject_name(reason), msg.reject_field ? msg.reject_field : "-",
                   byzgd_msg_reject_name(c->expected), c->field ? c->field : "-");
            failures++;
        }
        reason_seen[reason] = true;
        free(bytes);
    }
    ASSERT_EQ_INT(failures, 0);
    for (int r = BYZGD_MSG_REJECT_MALFORMED; r <= BYZGD_MSG_REJECT_NON_FINITE; r++)
        ASSERT_MSG(reason_seen[r], "no case for reason %s", byzgd_msg_reject_name(r));
    printf("  %zu malformed cases\n", count);
}

TEST(malformed_names_unique)
{
    size_t count = sizeof s_malformed / sizeof s_malformed[0];
    for (size_t i = 0; i < count; i++)
        for (size_t j = i + 1; j < count; j++)
            ASSERT_MSG(strcmp(s_malformed[i].name, s_malformed[j].name) != 0, "duplicate %s",
                       s_malformed[i].name);
}

TEST(truncation_at_every_prefix)
{
    // Every proper prefix of every valid message is rejected as truncated; the prefix is
    // an exact-size heap copy, so any read past its end would trip AddressSanitizer.
    float tensor[300];
    for (int i = 0; i < 300; i++)
        tensor[i] = (float)i - 150.0f;
    byzgd_msg_t messages[16];
    byzgd_msg_sender_t senders[16];
    size_t count = s_valid_messages(messages, senders, tensor);
    size_t prefixes = 0;
    for (size_t i = 0; i < count; i++) {
        size_t d = 4;
        if (messages[i].type == BYZGD_MSG_PROPOSAL || messages[i].type == BYZGD_MSG_PARAMS) {
            d = 300; // bin16: exercises a two-byte length header
            if (messages[i].type == BYZGD_MSG_PROPOSAL)
                messages[i].proposal.dimension = d;
            else
                messages[i].params.dimension = d;
        }
        size_t size;
        uint8_t *bytes = s_encode(&messages[i], &size);
        for (size_t length = 0; length < size; length++) {
            byzgd_msg_t msg;
            byzgd_msg_reject_t reason = s_decode_copy(&msg, bytes, length, senders[i], d);
            ASSERT_MSG(reason == BYZGD_MSG_REJECT_TRUNCATED, "%s cut at %zu of %zu: %s",
                       byzgd_msg_type_name(messages[i].type), length, size,
                       byzgd_msg_reject_name(reason));
            prefixes++;
        }
        byzgd_msg_t msg;
        ASSERT_EQ_INT(s_decode_copy(&msg, bytes, size, senders[i], d), BYZGD_MSG_OK);
        free(bytes);
    }
    ASSERT(prefixes > 2000);
}

TEST(size_cap)
{
    ASSERT_EQ_INT(byzgd_msg_max_size(0), BYZGD_MSG_SMALL_MAX);
    ASSERT_EQ_INT(byzgd_msg_max_size(10), BYZGD_MSG_SMALL_MAX);
    ASSERT_EQ_INT(byzgd_msg_max_size(1000000), 4000000 + BYZGD_MSG_HEADER_MAX);
    ASSERT_EQ_INT(byzgd_msg_max_size((size_t)BYZGD_MSG_DIMENSION_MAX + 1), BYZGD_MSG_SMALL_MAX);
    // A frame one byte over the cap is refused before any byte is read (data is not even
    // valid msgpack here); one at the cap is parsed.
    size_t d = 1000, cap = byzgd_msg_max_size(d);
    uint8_t *junk = calloc(cap + 1, 1);
    ASSERT(junk);
    junk[0] = 0xc1;
    byzgd_msg_t msg;
    ASSERT_EQ_INT(byzgd_msg_decode(&msg, junk, cap + 1, W, d), BYZGD_MSG_REJECT_TOO_LARGE);
    ASSERT_EQ_INT(byzgd_msg_decode(&msg, junk, cap, W, d), BYZGD_MSG_REJECT_MALFORMED);
    free(junk);
}

TEST(version_reported)
{
    size_t size;
    uint8_t *bytes = s_hex("94 07 05 01 01", &size);
    byzgd_msg_t msg;
    ASSERT_EQ_INT(byzgd_msg_decode(&msg, bytes, size, W, 0), BYZGD_MSG_REJECT_VERSION);
    ASSERT_EQ_INT(msg.version, 7);
    free(bytes);
}

TEST(invalid_sender)
{
    size_t size;
    uint8_t *bytes = s_hex("94 01 05 01 01", &size);
    byzgd_msg_t msg;
    ASSERT_EQ_INT(byzgd_msg_decode(&msg, bytes, size, W, 0), BYZGD_MSG_OK);
    ASSERT_EQ_INT(byzgd_msg_decode(&msg, bytes, size, (byzgd_msg_sender_t)0, 0),
                  BYZGD_MSG_REJECT_TYPE);
    ASSERT_EQ_INT(byzgd_msg_decode(&msg, bytes, size, (byzgd_msg_sender_t)9, 0),
                  BYZGD_MSG_REJECT_TYPE);
    ASSERT_STR_EQ(msg.reject_field, "sender");
    free(bytes);
}

TEST(random_mutations_never_crash)
{
    // Byte flips of valid messages: the decoder returns a reason or a message that
    // re-encodes and decodes to the same fields.
    float tensor[4] = {1, 2, 3, 4};
    byzgd_msg_t messages[16];
    byzgd_msg_sender_t senders[16];
    size_t count = s_valid_messages(messages, senders, tensor);
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 2024, 0);
    size_t accepted = 0, rejected = 0;
    for (int iteration = 0; iteration < 20000; iteration++) {
        size_t which = byzgd_rng_below(&rng, count);
        size_t size;
        uint8_t *bytes = s_encode(&messages[which], &size);
        int flips = 1 + (int)byzgd_rng_below(&rng, 3);
        for (int f = 0; f < flips; f++)
            bytes[byzgd_rng_below(&rng, size)] = (uint8_t)byzgd_rng_next(&rng);
        size_t length = byzgd_rng_below(&rng, 8) == 0 ? byzgd_rng_below(&rng, size + 1) : size;
        uint8_t *exact = malloc(length ? length : 1);
        ASSERT(exact);
        memcpy(exact, bytes, length);
        byzgd_msg_t msg;
        byzgd_msg_reject_t reason = byzgd_msg_decode(&msg, exact, length, senders[which], 4);
        if (reason == BYZGD_MSG_OK) {
            size_t again_size;
            uint8_t *again = s_encode(&msg, &again_size);
            byzgd_msg_t msg2;
            ASSERT_EQ_INT(byzgd_msg_decode(&msg2, again, again_size, senders[which], 4),
                          BYZGD_MSG_OK);
            s_assert_same(&msg, &msg2);
            free(again);
            accepted++;
        } else {
            ASSERT(reason < BYZGD_MSG_REJECT_EXTRA_FRAMES);
            ASSERT(msg.reject_field != NULL);
            rejected++;
        }
        free(exact);
        free(bytes);
    }
    ASSERT(accepted > 100 && rejected > 1000);
}

// ---- the encoder

TEST(encoder_refuses_invalid_messages)
{
    char error[256];
    size_t size;
    const float tensor[2] = {0, 0};
    byzgd_msg_t m = {.type = BYZGD_MSG_CONFIG, .epoch = 1, .round = 1, .config = s_config()};
    m.config.slot = m.config.worker_count;
    ASSERT(byzgd_msg_encode_new(&m, &size, error, sizeof error) == NULL);
    ASSERT_STR_CONTAINS(error, "slot");

    m = (byzgd_msg_t){.type = BYZGD_MSG_HELLO, .epoch = 0};
    ASSERT(byzgd_msg_encode_new(&m, &size, error, sizeof error) == NULL); // empty software
    memset(m.hello.software, 'a', sizeof m.hello.software);               // not terminated
    ASSERT(byzgd_msg_encode_new(&m, &size, error, sizeof error) == NULL);
    ASSERT_EQ_INT(byzgd_msg_encoded_size(&m), 0);

    m = (byzgd_msg_t){.type = 0};
    ASSERT(byzgd_msg_encode_new(&m, &size, error, sizeof error) == NULL);
    ASSERT_STR_CONTAINS(error, "unknown message type");
    ASSERT_EQ_INT(byzgd_msg_encoded_size(&m), 0);
    m = (byzgd_msg_t){.type = 99};
    ASSERT(byzgd_msg_encode_new(&m, &size, error, sizeof error) == NULL);

    m = (byzgd_msg_t){.type = BYZGD_MSG_PARAMS,
                      .epoch = 1,
                      .round = 1,
                      .params = {.parameters = NULL, .dimension = 2}};
    ASSERT(byzgd_msg_encode_new(&m, &size, error, sizeof error) == NULL);
    m.params.parameters = tensor;
    m.params.dimension = 0;
    ASSERT(byzgd_msg_encode_new(&m, &size, error, sizeof error) == NULL);
    m.params.dimension = 2;
    m.epoch = 0; // only HELLO has epoch 0
    ASSERT(byzgd_msg_encode_new(&m, &size, error, sizeof error) == NULL);
    ASSERT_STR_CONTAINS(error, "epoch");
}

TEST(encoder_sends_non_finite_tensors)
{
    // The Byzantine worker must be able to send NaN; the receiver rejects it.
    const float tensor[3] = {NAN, INFINITY, 1};
    byzgd_msg_t m = {.type = BYZGD_MSG_PROPOSAL,
                     .epoch = 9,
                     .round = 1,
                     .proposal = {.train_loss = NAN, .gradient = tensor, .dimension = 3}};
    size_t size;
    uint8_t *bytes = s_encode(&m, &size);
    byzgd_msg_t msg;
    ASSERT_EQ_INT(byzgd_msg_decode(&msg, bytes, size, W, 3), BYZGD_MSG_REJECT_NON_FINITE);
    free(bytes);
}

TEST(encode_into_buffer)
{
    const float tensor[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    byzgd_msg_t m = {.type = BYZGD_MSG_PROPOSAL,
                     .epoch = 9,
                     .round = 1,
                     .proposal = {.train_loss = 0.5, .gradient = tensor, .dimension = 8}};
    size_t needed = byzgd_msg_encoded_size(&m);
    uint8_t buffer[128];
    char error[256];
    size_t size = 0;
    ASSERT_EQ_INT(byzgd_msg_encode(buffer, needed - 1, &size, &m, error, sizeof error), -1);
    ASSERT_STR_CONTAINS(error, "does not fit");
    ASSERT_EQ_INT(byzgd_msg_encode(buffer, sizeof buffer, &size, &m, error, sizeof error), 0);
    ASSERT_EQ_INT(size, needed);
    byzgd_msg_t msg;
    ASSERT_EQ_INT(byzgd_msg_decode(&msg, buffer, size, W, 8), BYZGD_MSG_OK);
    ASSERT(msg.proposal.gradient == buffer + size - 32);
    void *copy = byzgd_msg_encode_new(&m, &size, error, sizeof error);
    ASSERT(copy && memcmp(copy, buffer, size) == 0);
    byzgd_msg_free_fn(copy, NULL);
}

TEST(names)
{
    for (int r = 0; r < BYZGD_MSG_REJECT_COUNT; r++) {
        const char *name = byzgd_msg_reject_name(r);
        ASSERT(name && strcmp(name, "unknown") != 0);
        for (int s = r + 1; s < BYZGD_MSG_REJECT_COUNT; s++)
            ASSERT(strcmp(name, byzgd_msg_reject_name(s)) != 0);
    }
    ASSERT_STR_EQ(byzgd_msg_reject_name(BYZGD_MSG_REJECT_COUNT), "unknown");
    ASSERT_STR_EQ(byzgd_msg_reject_name((byzgd_msg_reject_t)-1), "unknown");
    ASSERT_STR_EQ(byzgd_msg_reject_name(BYZGD_MSG_REJECT_NON_FINITE), "non_finite");
    ASSERT_STR_EQ(byzgd_msg_reject_name(BYZGD_MSG_REJECT_EXTRA_FRAMES), "extra_frames");
    ASSERT_STR_EQ(byzgd_msg_type_name(BYZGD_MSG_PROPOSAL), "proposal");
    ASSERT_STR_EQ(byzgd_msg_type_name(0), "unknown");
    ASSERT_STR_EQ(byzgd_msg_error_code_name(BYZGD_MSG_ERROR_SERVER_FULL), "server_full");
    ASSERT_STR_EQ(byzgd_msg_error_code_name(0), "unknown");
    ASSERT_STR_EQ(byzgd_msg_error_code_name(1000), "unknown");
}

static const byzgd_test_case_t cases[] = {
    TEST_CASE(round_trip_every_type),
    TEST_CASE(round_trip_extreme_values),
    TEST_CASE(round_trip_large_tensor_zero_copy),
    TEST_CASE(tensor_alignment_helpers),
    TEST_CASE(protocol_examples),
    TEST_CASE(non_minimal_encodings_accepted),
    TEST_CASE(malformed_bases_are_valid),
    TEST_CASE(malformed_table),
    TEST_CASE(malformed_names_unique),
    TEST_CASE(truncation_at_every_prefix),
    TEST_CASE(size_cap),
    TEST_CASE(version_reported),
    TEST_CASE(invalid_sender),
    TEST_CASE(random_mutations_never_crash),
    TEST_CASE(encoder_refuses_invalid_messages),
    TEST_CASE(encoder_sends_non_finite_tensors),
    TEST_CASE(encode_into_buffer),
    TEST_CASE(names),
};
BYZGD_TEST_MAIN(cases)

/*  fuzz_msg.c — libFuzzer target for the wire decoder (byzgd_msg_decode).

    Input layout: one control byte, then the frame. Bit 0 of the control byte picks the
    sender (0 worker, 1 server), bits 1–7 the session dimension d (0 … 127), so the fuzzer
    explores tensor messages of every small size and both directions.

    Besides "never crashes, never reads out of bounds" (ASan/UBSan), it checks:
    - a rejection has a codec reason and names a field;
    - an accepted frame re-encodes to bytes that decode to the same message, and encoding
      that again gives identical bytes (the encoder is canonical);
    - msgpack-c agrees with every accepted frame: msgpack_unpack_next() parses it as one
      array of the type's length, consuming every byte, and sees the same tensor bytes.
      Only accepted frames reach msgpack-c (docs/PROTOCOL.md §6), as in production. */
#include "wire/msg.h"

#include <math.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define S_CHECK(cond)                                                                              \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static const void *
s_tensor(const byzgd_msg_t *msg)
{
    if (msg->type == BYZGD_MSG_PARAMS)
        return msg->params.parameters;
    if (msg->type == BYZGD_MSG_PROPOSAL)
        return msg->proposal.gradient;
    return NULL;
}

// msgpack-c parses an accepted frame to the same shape.
static void
s_check_with_msgpack(const uint8_t *frame, size_t size, const byzgd_msg_t *msg, size_t d)
{
    msgpack_unpacked unpacked;
    msgpack_unpacked_init(&unpacked);
    size_t offset = 0;
    msgpack_unpack_return status =
        msgpack_unpack_next(&unpacked, (const char *)frame, size, &offset);
    S_CHECK(status == MSGPACK_UNPACK_SUCCESS);
    S_CHECK(offset == size);
    const msgpack_object *root = &unpacked.data;
    S_CHECK(root->type == MSGPACK_OBJECT_ARRAY);
    S_CHECK(root->via.array.size >= 4);
    S_CHECK(root->via.array.ptr[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER);
    S_CHECK(root->via.array.ptr[0].via.u64 == BYZGD_MSG_VERSION);
    S_CHECK(root->via.array.ptr[1].via.u64 == (uint64_t)msg->type);
    S_CHECK(root->via.array.ptr[2].via.u64 == msg->epoch);
    S_CHECK(root->via.array.ptr[3].via.u64 == msg->round);
    const void *tensor = s_tensor(msg);
    if (tensor) {
        const msgpack_object *last = &root->via.array.ptr[root->via.array.size - 1];
        S_CHECK(last->type == MSGPACK_OBJECT_BIN);
        S_CHECK(last->via.bin.size == 4 * d);
        S_CHECK(memcmp(last->via.bin.ptr, tensor, 4 * d) == 0);
    }
    msgpack_unpacked_destroy(&unpacked);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    byzgd_msg_sender_t sender = (data[0] & 1) ? BYZGD_MSG_FROM_SERVER : BYZGD_MSG_FROM_WORKER;
    size_t d = data[0] >> 1;
    const uint8_t *frame = data + 1;
    size_t frame_size = size - 1;

    byzgd_msg_t msg;
    byzgd_msg_reject_t reason = byzgd_msg_decode(&msg, frame, frame_size, sender, d);
    if (reason != BYZGD_MSG_OK) {
        S_CHECK(reason > BYZGD_MSG_OK && reason <= BYZGD_MSG_REJECT_NON_FINITE);
        S_CHECK(msg.reject_field != NULL);
        return 0;
    }
    S_CHECK(msg.reject_field == NULL);
    const void *tensor = s_tensor(&msg);
    if (tensor) {
        const uint8_t *bytes = tensor;
        S_CHECK(bytes >= frame && bytes + 4 * d == frame + frame_size); // zero copy, at the end
        for (size_t i = 0; i < d; i++) {
            float value;
            memcpy(&value, bytes + 4 * i, 4);
            S_CHECK(isfinite(value));
        }
    }
    s_check_with_msgpack(frame, frame_size, &msg, d);

    // Canonical re-encoding round trip.
    char error[256];
    size_t first_size, second_size;
    uint8_t *first = byzgd_msg_encode_new(&msg, &first_size, error, sizeof error);
    S_CHECK(first != NULL);
    byzgd_msg_t again;
    S_CHECK(byzgd_msg_decode(&again, first, first_size, sender, d) == BYZGD_MSG_OK);
    S_CHECK(again.type == msg.type && again.epoch == msg.epoch && again.round == msg.round);
    uint8_t *second = byzgd_msg_encode_new(&again, &second_size, error, sizeof error);
    S_CHECK(second != NULL);
    S_CHECK(first_size == second_size && memcmp(first, second, first_size) == 0);
    free(second);
    free(first);
    return 0;
}

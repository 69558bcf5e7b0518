/*  bench_msg.c — cost of the wire codec for a d = 10^6 tensor, against memcpy of the
    same 4 MB measured in the same run (timings on a shared machine are noisy; compare the
    ratios). Prints the median of REPEATS runs of each operation. Also what CURVE adds per
    message: libzmq (4.3 with libsodium) seals every frame with crypto_box_easy_afternm
    (XSalsa20-Poly1305 under the connection's precomputed key) and opens it with
    crypto_box_open_easy_afternm; bench/security_curve.sh turns these rates into the
    crypto bound of a round (docs/SECURITY.md §9). */
#include "support/clock.h"
#include "wire/msg.h"
#include "support/rng.h"

#include <msgpack.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPEATS 60

static int
s_compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double
s_median(double *times, size_t count)
{
    qsort(times, count, sizeof *times, s_compare);
    return times[count / 2];
}

// The fastest of `count` times: what the CPU can do, for the crypto bound (a median on a
// shared machine also measures the other jobs).
static double
s_best(const double *times, size_t count)
{
    double best = times[0];
    for (size_t i = 1; i < count; i++)
        best = times[i] < best ? times[i] : best;
    return best;
}

static void
s_report(const char *name, double seconds, size_t bytes, double memcpy_seconds)
{
    printf("%-34s %8.3f ms  %6.2f GB/s  %5.2fx memcpy\n", name, seconds * 1e3,
           (double)bytes / seconds * 1e-9, seconds / memcpy_seconds);
}

int
main(void)
{
    const size_t d = 1000000;
    const size_t bytes = 4 * d;
    float *tensor = malloc(bytes);
    float *row = malloc(bytes);
    uint8_t *copy_target = malloc(bytes);
    if (!tensor || !row || !copy_target)
        return 1;
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 1, 0);
    for (size_t i = 0; i < d; i++)
        tensor[i] = (float)byzgd_rng_gaussian(&rng);
    memset(row, 0, bytes);
    memset(copy_target, 0, bytes);

    byzgd_msg_t msg = {.type = BYZGD_MSG_PROPOSAL,
                       .epoch = 1,
                       .round = 1,
                       .proposal = {.train_loss = 1.0, .gradient = tensor, .dimension = d}};
    size_t capacity = byzgd_msg_encoded_size(&msg), size = 0;
    uint8_t *frame = malloc(capacity);
    if (!frame)
        return 1;
    memset(frame, 0, capacity);
    char error[256];
    double times[REPEATS];

    for (int r = 0; r < REPEATS; r++) {
        double start = byzgd_monotonic_s();
        memcpy(copy_target, tensor, bytes);
        times[r] = byzgd_monotonic_s() - start;
    }
    double memcpy_time = s_median(times, REPEATS);
    s_report("memcpy 4 MB", memcpy_time, bytes, memcpy_time);

    for (int r = 0; r < REPEATS; r++) {
        double start = byzgd_monotonic_s();
        if (byzgd_msg_encode(frame, capacity, &size, &msg, error, sizeof error) != 0) {
            fprintf(stderr, "%s\n", error);
            return 1;
        }
        times[r] = byzgd_monotonic_s() - start;
    }
    s_report("encode proposal (caller buffer)", s_median(times, REPEATS), bytes, memcpy_time);

    for (int r = 0; r < REPEATS; r++) {
        double start = byzgd_monotonic_s();
        size_t new_size;
        void *buffer = byzgd_msg_encode_new(&msg, &new_size, error, sizeof error);
        times[r] = byzgd_monotonic_s() - start;
        if (!buffer)
            return 1;
        free(buffer);
    }
    s_report("encode_new (malloc + encode)", s_median(times, REPEATS), bytes, memcpy_time);

    byzgd_msg_t decoded;
    for (int r = 0; r < REPEATS; r++) {
        double start = byzgd_monotonic_s();
        byzgd_msg_reject_t reason =
            byzgd_msg_decode(&decoded, frame, size, BYZGD_MSG_FROM_WORKER, d);
        times[r] = byzgd_monotonic_s() - start;
        if (reason != BYZGD_MSG_OK)
            return 1;
    }
    s_report("decode (zero copy + finite scan)", s_median(times, REPEATS), bytes, memcpy_time);

    for (int r = 0; r < REPEATS; r++) {
        double start = byzgd_monotonic_s();
        byzgd_msg_reject_t reason =
            byzgd_msg_decode(&decoded, frame, size, BYZGD_MSG_FROM_WORKER, d);
        if (reason == BYZGD_MSG_OK)
            byzgd_msg_tensor_copy(row, decoded.proposal.gradient, d);
        times[r] = byzgd_monotonic_s() - start;
        if (reason != BYZGD_MSG_OK)
            return 1;
    }
    s_report("decode + copy into matrix row", s_median(times, REPEATS), bytes, memcpy_time);

    // CURVE's per-frame work, on the encoded PROPOSAL frame (one core).
    if (sodium_init() < 0)
        return 1;
    uint8_t *sealed = malloc(size + crypto_box_MACBYTES), *opened = malloc(size);
    uint8_t key[crypto_box_BEFORENMBYTES], nonce[crypto_box_NONCEBYTES] = {0};
    if (!sealed || !opened)
        return 1;
    randombytes_buf(key, sizeof key);
    for (int r = 0; r < REPEATS; r++) {
        double start = byzgd_monotonic_s();
        crypto_box_easy_afternm(sealed, frame, size, nonce, key);
        times[r] = byzgd_monotonic_s() - start;
    }
    s_report("CURVE encrypt (xsalsa20-poly1305)", s_median(times, REPEATS), size, memcpy_time);
    s_report("CURVE encrypt, fastest", s_best(times, REPEATS), size, memcpy_time);
    for (int r = 0; r < REPEATS; r++) {
        double start = byzgd_monotonic_s();
        int opened_ok =
            crypto_box_open_easy_afternm(opened, sealed, size + crypto_box_MACBYTES, nonce, key);
        times[r] = byzgd_monotonic_s() - start;
        if (opened_ok != 0)
            return 1;
    }
    s_report("CURVE decrypt (xsalsa20-poly1305)", s_median(times, REPEATS), size, memcpy_time);
    s_report("CURVE decrypt, fastest", s_best(times, REPEATS), size, memcpy_time);
    if (memcmp(opened, frame, size) != 0)
        return 1;
    free(sealed);
    free(opened);

    // For comparison only, what PROTOCOL.md forbids: the tensor as a msgpack array of d
    // float32 elements, packed by msgpack-c.
    for (int r = 0; r < 5; r++) {
        double start = byzgd_monotonic_s();
        msgpack_sbuffer sbuffer;
        msgpack_sbuffer_init(&sbuffer);
        msgpack_packer packer;
        msgpack_packer_init(&packer, &sbuffer, msgpack_sbuffer_write);
        msgpack_pack_array(&packer, d);
        for (size_t i = 0; i < d; i++)
            msgpack_pack_float(&packer, tensor[i]);
        times[r] = byzgd_monotonic_s() - start;
        msgpack_sbuffer_destroy(&sbuffer);
    }
    s_report("(float array, not used) pack", s_median(times, 5), bytes, memcpy_time);
    printf("frame %zu bytes for d = %zu (header %zu bytes)\n", size, d, size - bytes);
    if (memcmp(row, tensor, bytes) != 0)
        return 1;
    free(frame);
    free(copy_target);
    free(row);
    free(tensor);
    return 0;
}

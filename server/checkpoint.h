/*  checkpoint.h — the server's restart point: the round last completed and the parameters
    after it, for `byzgd-server --resume`.

    File layout (little-endian): "BYZGDCKP", u32 version (2), u32 description length L,
    u64 round, u64 seed, u64 d, u32 CRC-32 of the parameter bytes, f64 elapsed seconds of
    the run at that round, L bytes of model description (byzgd_model_description), then
    d float32. Version 1 (no elapsed field) still loads, with an elapsed time of 0. Written
    atomically and durably (support/files.h), so a crash leaves the old or the new
    checkpoint, never a torn one. Why not the parameter file format (support/param_file.h):
    see there. */
#ifndef BYZGD_CHECKPOINT_H
#define BYZGD_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t round; // rounds completed: training resumes at round + 1
    uint64_t seed;
    const char *description; // model description the parameters belong to
    double elapsed_s;        // run time up to `round` (a resumed run's elapsed_s goes on)
} byzgd_checkpoint_info_t;

// Writes params[d] with info atomically to path. Returns 0, or -1 with a message.
int byzgd_checkpoint_save(const char *path, const byzgd_checkpoint_info_t *info,
                          const float *params, size_t d, char *error, size_t error_size);

// Reads a checkpoint into params[d], *round_out and *elapsed_out (may be NULL). Refuses (with a
// message saying why) a missing or truncated file, a wrong magic or version, another model
// description or seed, another d, or a checksum mismatch; params is untouched then. Returns 0 or
// -1.
int byzgd_checkpoint_load(const char *path, const byzgd_checkpoint_info_t *expected, float *params,
                          size_t d, uint64_t *round_out, double *elapsed_out, char *error,
                          size_t error_size);

#endif

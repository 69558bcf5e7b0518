/*  byzantine_slots.h — which slots of a run were Byzantine, and how many Byzantine rows the
    rule kept each round. The server never knows the roles (it must not treat any slot
    differently); the side that assigned them does: byzgd-cluster writes RUN_DIR/
    byzantine-slots when it starts the workers and, once the server has ended, adds
    "selected_byzantine" to every metrics line that lists "selected"; byzgd-simulate
    writes both directly.

    RUN_DIR/byzantine-slots: one decimal slot number per line, ascending (empty file: no
    Byzantine worker). */
#ifndef BYZGD_BYZANTINE_SLOTS_H
#define BYZGD_BYZANTINE_SLOTS_H

#include <stdbool.h>
#include <stddef.h>

#define BYZGD_BYZANTINE_SLOTS_FILE "byzantine-slots"

// The launcher's assignment: honest workers take slots 0 … n − K − 1, the K Byzantine ones
// the last K slots. Fills is_byzantine[n].
void byzgd_byzantine_slots_assign(bool *is_byzantine, size_t n, size_t byzantine);

// Writes dir/byzantine-slots atomically. Returns 0, or -1 with a message.
int byzgd_byzantine_slots_write(const char *dir, const bool *is_byzantine, size_t n, char *error,
                                size_t error_size);

// Reads dir/byzantine-slots into is_byzantine[n] (cleared first). Returns 0, or -1 with a
// message (missing file, a line that is not a slot < n).
int byzgd_byzantine_slots_read(const char *dir, bool *is_byzantine, size_t n, char *error,
                               size_t error_size);

// Byzantine slots among selected[count].
int byzgd_byzantine_slots_count(const size_t *selected, size_t count, const bool *is_byzantine,
                                size_t n);

// Rewrites the metrics file at `path` (atomically) so that every line with a "selected"
// array and no "selected_byzantine" gets ,"selected_byzantine":K right after the array.
// Returns the number of lines annotated, or -1 with a message.
long byzgd_byzantine_slots_annotate(const char *path, const bool *is_byzantine, size_t n,
                                    char *error, size_t error_size);

#endif

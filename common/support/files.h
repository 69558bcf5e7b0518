/*  files.h — the one way byzgd checks and writes files it keeps: CRC-32 of a buffer, and
    atomic, durable replacement of a file, mkdir -p and the directory of this executable.

    Durability policy (every file written for later: checkpoints, parameter files, .npy
    outputs, deny-lists, dataset caches): the bytes go to a unique temporary file in the
    target's directory, the file is fsynced and closed, renamed over the target, and the
    directory is fsynced. A crash leaves the old file or the new one, never a mix; a failed
    write removes the temporary file and leaves the target untouched.

    byzgd_atomic_file_t *file = byzgd_atomic_file_open(path, 0644, error, sizeof error);
    byzgd_atomic_file_write(file, header, sizeof header);
    byzgd_atomic_file_write(file, data, size);
    if (byzgd_atomic_file_commit(&file, error, sizeof error) != 0) ... // file is NULL after */
#ifndef BYZGD_FILES_H
#define BYZGD_FILES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

// zlib's CRC-32 of data[0..size) (any size; zlib takes at most 4 GiB per call).
uint32_t byzgd_crc32(const void *data, size_t size);

typedef struct byzgd_atomic_file_t byzgd_atomic_file_t;

// Starts replacing `path`: creates the temporary file with permissions `mode`. Returns NULL
// with a message.
byzgd_atomic_file_t *byzgd_atomic_file_open(const char *path, mode_t mode, char *error,
                                            size_t error_size);

// Appends bytes. A failure is remembered and reported by the commit. Returns 0 or -1.
int byzgd_atomic_file_write(byzgd_atomic_file_t *self, const void *data, size_t size);

// Finishes: fsync, close, rename over the target, fsync the directory; frees *self_p and
// sets it to NULL. On any failure the temporary file is removed and the target is
// untouched. Returns 0, or -1 with a message.
int byzgd_atomic_file_commit(byzgd_atomic_file_t **self_p, char *error, size_t error_size);

// Gives up: removes the temporary file, frees *self_p. NULL-safe.
void byzgd_atomic_file_abort(byzgd_atomic_file_t **self_p);

// The three steps for one buffer. Returns 0, or -1 with a message.
int byzgd_atomic_write(const char *path, mode_t mode, const void *data, size_t size, char *error,
                       size_t error_size);

// mkdir -p with `mode` for the directories it creates; `path` must end as a directory.
// Returns 0, or -1 with a message.
int byzgd_mkdir_parents(const char *path, unsigned mode, char *error, size_t error_size);

// The directory holding the running executable (where its sibling programs are), into
// dir[0..size). Returns 0, or -1 with a message.
int byzgd_own_directory(char *dir, size_t size, char *error, size_t error_size);

#endif

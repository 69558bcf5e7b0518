/*  files.c — CRC-32 and the atomic, durable file replacement of files.h. */
#include "files.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

uint32_t
byzgd_crc32(const void *data, size_t size)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    const Bytef *bytes = data;
    while (size > 0) {
        uInt chunk = size > (1u << 30) ? (1u << 30) : (uInt)size;
        crc = crc32(crc, bytes, chunk);
        bytes += chunk;
        size -= chunk;
    }
    return (uint32_t)crc;
}

struct byzgd_atomic_file_t {
    int fd;
    int error_number; // first write error (errno), 0 if none
    char path[PATH_MAX];
    char temporary[PATH_MAX + 16];
};

byzgd_atomic_file_t *
byzgd_atomic_file_open(const char *path, mode_t mode, char *error, size_t error_size)
{
    byzgd_atomic_file_t *self = calloc(1, sizeof *self);
    if (!self)
        abort();
    if (snprintf(self->path, sizeof self->path, "%s", path) >= (int)sizeof self->path ||
        snprintf(self->temporary, sizeof self->temporary, "%s.tmp.XXXXXX", path) >=
            (int)sizeof self->temporary) {
        free(self);
        byzgd_set_error(error, error_size, "%.64s...: path too long", path);
        return NULL;
    }
    self->fd = mkostemp(self->temporary, O_CLOEXEC);
    // mkostemp creates the file 0600; give it the mode the caller asked for.
    if (self->fd < 0 || fchmod(self->fd, mode) != 0) {
        byzgd_set_error(error, error_size, "cannot write %s: %s", self->temporary, strerror(errno));
        if (self->fd >= 0) {
            close(self->fd);
            unlink(self->temporary);
        }
        free(self);
        return NULL;
    }
    return self;
}

int
byzgd_atomic_file_write(byzgd_atomic_file_t *self, const void *data, size_t size)
{
    const uint8_t *bytes = data;
    while (size > 0 && self->error_number == 0) {
        ssize_t written = write(self->fd, bytes, size);
        if (written < 0 && errno == EINTR)
            continue;
        if (written <= 0) {
            self->error_number = written < 0 ? errno : EIO;
            break;
        }
        bytes += written;
        size -= (size_t)written;
    }
    return self->error_number ? -1 : 0;
}

void
byzgd_atomic_file_abort(byzgd_atomic_file_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    byzgd_atomic_file_t *self = *self_p;
    if (self->fd >= 0)
        close(self->fd);
    unlink(self->temporary);
    free(self);
    *self_p = NULL;
}

int
byzgd_atomic_file_commit(byzgd_atomic_file_t **self_p, char *error, size_t error_size)
{
    byzgd_atomic_file_t *self = *self_p;
    if (self->error_number == 0 && fsync(self->fd) != 0)
        self->error_number = errno;
    int closed = close(self->fd);
    self->fd = -1;
    if (self->error_number == 0 && closed != 0)
        self->error_number = errno;
    if (self->error_number == 0 && rename(self->temporary, self->path) != 0)
        self->error_number = errno;
    if (self->error_number != 0) {
        byzgd_set_error(error, error_size, "cannot write %s: %s", self->path,
                        strerror(self->error_number));
        byzgd_atomic_file_abort(self_p);
        return -1;
    }
    // The rename is durable only once the directory entry is on disk. The new file is in
    // place already, so a directory that cannot be synced (some file systems refuse) is not
    // an error.
    char directory[PATH_MAX];
    snprintf(directory, sizeof directory, "%s", self->path);
    int directory_fd = open(dirname(directory), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (directory_fd >= 0) {
        (void)fsync(directory_fd);
        close(directory_fd);
    }
    free(self);
    *self_p = NULL;
    return 0;
}

int
byzgd_atomic_write(const char *path, mode_t mode, const void *data, size_t size, char *error,
                   size_t error_size)
{
    byzgd_atomic_file_t *file = byzgd_atomic_file_open(path, mode, error, error_size);
    if (!file)
        return -1;
    byzgd_atomic_file_write(file, data, size);
    return byzgd_atomic_file_commit(&file, error, error_size);
}

int
byzgd_mkdir_parents(const char *path, unsigned mode, char *error, size_t error_size)
{
    char partial[4096];
    if (snprintf(partial, sizeof partial, "%s", path) >= (int)sizeof partial)
        return byzgd_set_error(error, error_size, "path too long: %.64s...", path);
    for (char *slash = partial + 1;; slash++) {
        if (*slash != '/' && *slash != '\0')
            continue;
        char saved = *slash;
        *slash = '\0';
        if (mkdir(partial, (mode_t)mode) != 0 && errno != EEXIST)
            return byzgd_set_error(error, error_size, "cannot create %s: %s", partial,
                                   strerror(errno));
        *slash = saved;
        if (!saved)
            break;
    }
    struct stat info;
    if (stat(path, &info) != 0 || !S_ISDIR(info.st_mode))
        return byzgd_set_error(error, error_size, "%s is not a directory", path);
    return 0;
}

int
byzgd_own_directory(char *dir, size_t size, char *error, size_t error_size)
{
    char self[PATH_MAX];
    ssize_t length = readlink("/proc/self/exe", self, sizeof self - 1);
    if (length <= 0)
        return byzgd_set_error(error, error_size, "readlink /proc/self/exe: %s", strerror(errno));
    self[length] = '\0';
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = '\0';
    if (strlen(self) >= size)
        return byzgd_set_error(error, error_size, "installation path too long");
    memcpy(dir, self, strlen(self) + 1);
    return 0;
}

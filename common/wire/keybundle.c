/*  keybundle.c — key bundles (see keybundle.h): a restricted pax tar written and read with
    libarchive. The reader accepts a whitelist of names and regular files only, so path
    tricks (absolute names, "..", links, devices) are refused by construction rather than
    filtered. */
#include "keybundle.h"
#include "security.h"
#include "support/files.h"
#include "support/log.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_SECRET_SUFFIX "_secret"

typedef struct {
    char *certificate; // public file text
    char *secret;      // secret file text
} s_slot_keys_t;

struct byzgd_key_bundle_t {
    char *server_certificate;
    size_t *slots; // ascending
    s_slot_keys_t *keys;
    size_t count, capacity;
};

int
byzgd_key_bundle_parse_range(const char *text, size_t *first, size_t *last)
{
    char *end = NULL;
    if (!text || *text < '0' || *text > '9')
        return -1;
    errno = 0;
    unsigned long a = strtoul(text, &end, 10), b = a;
    if (errno)
        return -1;
    if (*end == '-') {
        const char *second = end + 1;
        if (*second < '0' || *second > '9')
            return -1;
        b = strtoul(second, &end, 10);
        if (errno)
            return -1;
    }
    if (*end || a > b || b >= BYZGD_KEY_BUNDLE_MAX_SLOTS)
        return -1;
    *first = a;
    *last = b;
    return 0;
}

// ---- writing

// Reads a small text file whole. Returns a malloc'ed string or NULL with a message.
static char *
s_read_small(const char *path, char *error, size_t error_size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        byzgd_set_error(error, error_size, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    char *text = malloc(BYZGD_KEY_BUNDLE_MAX_FILE + 1);
    if (!text)
        abort();
    size_t size = 0;
    ssize_t got;
    while ((got = read(fd, text + size, BYZGD_KEY_BUNDLE_MAX_FILE + 1 - size)) > 0)
        size += (size_t)got;
    close(fd);
    if (got < 0 || size > BYZGD_KEY_BUNDLE_MAX_FILE) {
        byzgd_set_error(error, error_size, "%s: %s", path,
                        got < 0 ? strerror(errno) : "larger than a certificate");
        free(text);
        return NULL;
    }
    text[size] = '\0';
    return text;
}

static int
s_add_entry(struct archive *archive, const char *name, const char *text, unsigned mode, char *error,
            size_t error_size)
{
    struct archive_entry *entry = archive_entry_new();
    if (!entry)
        abort();
    archive_entry_set_pathname(entry, name);
    archive_entry_set_filetype(entry, AE_IFREG);
    archive_entry_set_perm(entry, (mode_t)mode);
    archive_entry_set_size(entry, (la_int64_t)strlen(text));
    archive_entry_set_mtime(entry, 0, 0); // the same keys give the same bundle
    int rc = archive_write_header(archive, entry);
    archive_entry_free(entry);
    if (rc != ARCHIVE_OK ||
        archive_write_data(archive, text, strlen(text)) != (la_ssize_t)strlen(text))
        return byzgd_set_error(error, error_size, "writing %s: %s", name,
                               archive_error_string(archive));
    return 0;
}

// Adds the file `name` of keys_dir to the archive. Returns 0 or -1.
static int
s_add_file(struct archive *archive, const char *keys_dir, const char *name, unsigned mode,
           char *error, size_t error_size)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", keys_dir, name) >= (int)sizeof path)
        return byzgd_set_error(error, error_size, "path too long: %s", keys_dir);
    char *text = s_read_small(path, error, error_size);
    if (!text)
        return -1;
    int rc = s_add_entry(archive, name, text, mode, error, error_size);
    free(text);
    return rc;
}

int
byzgd_key_bundle_write(const char *keys_dir, size_t first, size_t last, const char *path,
                       bool force, char *error, size_t error_size)
{
    if (first > last || last >= BYZGD_KEY_BUNDLE_MAX_SLOTS)
        return byzgd_set_error(error, error_size, "bad slot range %zu-%zu", first, last);
    // Every file must exist before the bundle is created: no half bundle on a typo.
    for (size_t slot = first; slot <= last; slot++) {
        char cert[4096], secret[4200];
        if (byzgd_keys_worker_cert_path(cert, sizeof cert, keys_dir, slot) != 0)
            return byzgd_set_error(error, error_size, "path too long: %s", keys_dir);
        snprintf(secret, sizeof secret, "%s" S_SECRET_SUFFIX, cert);
        if (access(cert, R_OK) != 0 || access(secret, R_OK) != 0)
            return byzgd_set_error(error, error_size,
                                   "%s has no key for slot %zu (%s): make it with byzgd-keygen "
                                   "%s --workers N",
                                   keys_dir, slot, cert, keys_dir);
    }
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (force ? O_TRUNC : O_EXCL);
    int fd = open(path, flags, 0600);
    if (fd < 0)
        return byzgd_set_error(error, error_size, "cannot create %s: %s%s", path, strerror(errno),
                               errno == EEXIST ? " (use --force)" : "");
    if (fchmod(fd, 0600) != 0) {
        close(fd);
        return byzgd_set_error(error, error_size, "chmod %s: %s", path, strerror(errno));
    }
    struct archive *archive = archive_write_new();
    if (!archive)
        abort();
    int rc = -1;
    if (archive_write_set_format_pax_restricted(archive) != ARCHIVE_OK ||
        archive_write_open_fd(archive, fd) != ARCHIVE_OK) {
        byzgd_set_error(error, error_size, "%s: %s", path, archive_error_string(archive));
        goto done;
    }
    if (s_add_file(archive, keys_dir, BYZGD_KEYS_SERVER_CERT, 0644, error, error_size) != 0)
        goto done;
    for (size_t slot = first; slot <= last; slot++) {
        char name[64];
        snprintf(name, sizeof name, BYZGD_KEYS_WORKERS_DIR "/worker-%03zu.cert", slot);
        if (s_add_file(archive, keys_dir, name, 0644, error, error_size) != 0)
            goto done;
        strcat(name, S_SECRET_SUFFIX);
        if (s_add_file(archive, keys_dir, name, 0600, error, error_size) != 0)
            goto done;
    }
    if (archive_write_close(archive) != ARCHIVE_OK) {
        byzgd_set_error(error, error_size, "%s: %s", path, archive_error_string(archive));
        goto done;
    }
    rc = 0;
done:
    archive_write_free(archive);
    if (close(fd) != 0 && rc == 0)
        rc = byzgd_set_error(error, error_size, "%s: %s", path, strerror(errno));
    if (rc != 0)
        unlink(path);
    return rc;
}

// ---- reading

// The slot named by "workers/worker-NNN.cert" or "..._secret" (exactly as the writer
// spells it), or -1. *secret_out tells which of the two.
static long
s_slot_of_name(const char *name, bool *secret_out)
{
    static const char prefix[] = BYZGD_KEYS_WORKERS_DIR "/worker-";
    if (strncmp(name, prefix, sizeof prefix - 1) != 0)
        return -1;
    const char *digits = name + sizeof prefix - 1;
    if (*digits < '0' || *digits > '9')
        return -1;
    char *end = NULL;
    errno = 0;
    unsigned long slot = strtoul(digits, &end, 10);
    if (errno || slot >= BYZGD_KEY_BUNDLE_MAX_SLOTS)
        return -1;
    char canonical[64];
    snprintf(canonical, sizeof canonical, "%s%03lu.cert", prefix, slot);
    if (strcmp(name, canonical) == 0) {
        *secret_out = false;
        return (long)slot;
    }
    strcat(canonical, S_SECRET_SUFFIX);
    if (strcmp(name, canonical) == 0) {
        *secret_out = true;
        return (long)slot;
    }
    return -1;
}

// The keys of `slot`, added in order (a bundle lists slots ascending, as the writer does).
static s_slot_keys_t *
s_slot_keys(byzgd_key_bundle_t *self, size_t slot, char *error, size_t error_size)
{
    if (self->count && self->slots[self->count - 1] == slot)
        return &self->keys[self->count - 1];
    if (self->count && self->slots[self->count - 1] > slot) {
        byzgd_set_error(error, error_size, "slot %zu out of order", slot);
        return NULL;
    }
    if (self->count == self->capacity) {
        self->capacity = self->capacity ? 2 * self->capacity : 16;
        self->slots = realloc(self->slots, self->capacity * sizeof *self->slots);
        self->keys = realloc(self->keys, self->capacity * sizeof *self->keys);
        if (!self->slots || !self->keys)
            abort();
    }
    self->slots[self->count] = slot;
    self->keys[self->count] = (s_slot_keys_t){0};
    return &self->keys[self->count++];
}

void
byzgd_key_bundle_destroy(byzgd_key_bundle_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    byzgd_key_bundle_t *self = *self_p;
    free(self->server_certificate);
    for (size_t i = 0; i < self->count; i++) {
        free(self->keys[i].certificate);
        free(self->keys[i].secret);
    }
    free(self->keys);
    free(self->slots);
    free(self);
    *self_p = NULL;
}

// Reads the data of the current entry (at most BYZGD_KEY_BUNDLE_MAX_FILE, no NUL) into a
// malloc'ed string. Returns NULL with a message.
static char *
s_read_entry(struct archive *archive, const char *name, la_int64_t declared, char *error,
             size_t error_size)
{
    if (declared < 0 || declared > (la_int64_t)BYZGD_KEY_BUNDLE_MAX_FILE) {
        byzgd_set_error(error, error_size, "%s: %lld bytes is not a certificate", name,
                        (long long)declared);
        return NULL;
    }
    char *text = malloc((size_t)declared + 1);
    if (!text)
        abort();
    la_ssize_t got = archive_read_data(archive, text, (size_t)declared);
    if (got != declared) {
        byzgd_set_error(error, error_size, "%s: truncated (%s)", name,
                        got < 0 ? archive_error_string(archive) : "short read");
        free(text);
        return NULL;
    }
    text[declared] = '\0';
    if (memchr(text, '\0', (size_t)declared)) {
        byzgd_set_error(error, error_size, "%s: not a text file", name);
        free(text);
        return NULL;
    }
    return text;
}

// Stores one entry. Returns 0 or -1 with a message.
static int
s_take_entry(byzgd_key_bundle_t *self, struct archive *archive, struct archive_entry *entry,
             char *error, size_t error_size)
{
    const char *name = archive_entry_pathname(entry);
    if (!name)
        return byzgd_set_error(error, error_size, "an entry without a name");
    char shown[80];
    snprintf(shown, sizeof shown, "%s", name);
    for (char *c = shown; *c; c++)
        if (*c < 0x20 || *c == 0x7f)
            *c = '?';
    if (archive_entry_filetype(entry) != AE_IFREG || archive_entry_hardlink(entry) ||
        archive_entry_symlink(entry))
        return byzgd_set_error(error, error_size, "%s: only regular files may be in a bundle",
                               shown);
    char **target = NULL;
    bool secret = false;
    long slot = -1;
    if (strcmp(name, BYZGD_KEYS_SERVER_CERT) == 0)
        target = &self->server_certificate;
    else if ((slot = s_slot_of_name(name, &secret)) >= 0) {
        s_slot_keys_t *keys = s_slot_keys(self, (size_t)slot, error, error_size);
        if (!keys)
            return -1;
        target = secret ? &keys->secret : &keys->certificate;
    } else
        return byzgd_set_error(error, error_size,
                               "%s: not a bundle file (server.cert, workers/worker-NNN.cert"
                               "[_secret])",
                               shown);
    if (*target)
        return byzgd_set_error(error, error_size, "%s appears twice", shown);
    *target = s_read_entry(archive, shown, archive_entry_size(entry), error, error_size);
    return *target ? 0 : -1;
}

byzgd_key_bundle_t *
byzgd_key_bundle_parse(const void *data, size_t size, char *error, size_t error_size)
{
    if (size > BYZGD_KEY_BUNDLE_MAX_BYTES) {
        byzgd_set_error(error, error_size, "a bundle is at most %u bytes",
                        BYZGD_KEY_BUNDLE_MAX_BYTES);
        return NULL;
    }
    byzgd_key_bundle_t *self = calloc(1, sizeof *self);
    struct archive *archive = archive_read_new();
    if (!self || !archive)
        abort();
    int status = -1;
    // tar only: no decompression filter, so the bytes read are the bytes given.
    if (archive_read_support_format_tar(archive) != ARCHIVE_OK ||
        archive_read_open_memory(archive, data, size) != ARCHIVE_OK) {
        byzgd_set_error(error, error_size, "not a tar file: %s", archive_error_string(archive));
        goto done;
    }
    for (size_t entries = 0;; entries++) {
        struct archive_entry *entry = NULL;
        int rc = archive_read_next_header(archive, &entry);
        if (rc == ARCHIVE_EOF)
            break;
        if (rc != ARCHIVE_OK) {
            byzgd_set_error(error, error_size, "not a valid bundle: %s",
                            archive_error_string(archive));
            goto done;
        }
        if (entries > 2 * (size_t)BYZGD_KEY_BUNDLE_MAX_SLOTS) {
            byzgd_set_error(error, error_size, "too many entries");
            goto done;
        }
        if (s_take_entry(self, archive, entry, error, error_size) != 0)
            goto done;
    }
    if (!self->server_certificate) {
        byzgd_set_error(error, error_size, "no server.cert in the bundle");
        goto done;
    }
    if (self->count == 0) {
        byzgd_set_error(error, error_size, "no worker key in the bundle");
        goto done;
    }
    for (size_t i = 0; i < self->count; i++)
        if (!self->keys[i].certificate || !self->keys[i].secret) {
            byzgd_set_error(error, error_size, "slot %zu lacks its %s", self->slots[i],
                            self->keys[i].certificate ? "secret" : "certificate");
            goto done;
        }
    status = 0;
done:
    archive_read_free(archive);
    if (status != 0)
        byzgd_key_bundle_destroy(&self);
    return self;
}

byzgd_key_bundle_t *
byzgd_key_bundle_load(const char *path, char *error, size_t error_size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        byzgd_set_error(error, error_size, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    size_t capacity = BYZGD_KEY_BUNDLE_MAX_BYTES + 1, size = 0;
    char *data = malloc(capacity);
    if (!data)
        abort();
    ssize_t got;
    while (size < capacity && (got = read(fd, data + size, capacity - size)) > 0)
        size += (size_t)got;
    close(fd);
    char detail[512];
    byzgd_key_bundle_t *self = byzgd_key_bundle_parse(data, size, detail, sizeof detail);
    free(data);
    if (!self)
        byzgd_set_error(error, error_size, "%s: %s", path, detail);
    return self;
}

size_t
byzgd_key_bundle_slot_count(const byzgd_key_bundle_t *self)
{
    return self->count;
}

size_t
byzgd_key_bundle_slot(const byzgd_key_bundle_t *self, size_t index)
{
    return index < self->count ? self->slots[index] : 0;
}

// Creates dir/name (never replacing anything, never through a link) holding `text`.
static int
s_write_new(const char *dir, const char *name, const char *text, unsigned mode, char *error,
            size_t error_size)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return byzgd_set_error(error, error_size, "path too long: %s", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)mode);
    if (fd < 0)
        return byzgd_set_error(error, error_size, "cannot create %s: %s", path, strerror(errno));
    size_t length = strlen(text);
    bool ok = fchmod(fd, (mode_t)mode) == 0 && write(fd, text, length) == (ssize_t)length;
    ok = close(fd) == 0 && ok;
    if (!ok)
        return byzgd_set_error(error, error_size, "cannot write %s", path);
    return 0;
}

int
byzgd_key_bundle_extract(const byzgd_key_bundle_t *self, const char *dir, char *error,
                         size_t error_size)
{
    char workers[4096];
    if (snprintf(workers, sizeof workers, "%s/" BYZGD_KEYS_WORKERS_DIR, dir) >= (int)sizeof workers)
        return byzgd_set_error(error, error_size, "path too long: %s", dir);
    if (byzgd_mkdir_parents(workers, 0700, error, error_size) != 0)
        return -1;
    if (s_write_new(dir, BYZGD_KEYS_SERVER_CERT, self->server_certificate, 0644, error,
                    error_size) != 0)
        return -1;
    for (size_t i = 0; i < self->count; i++) {
        char name[64];
        snprintf(name, sizeof name, BYZGD_KEYS_WORKERS_DIR "/worker-%03zu.cert", self->slots[i]);
        if (s_write_new(dir, name, self->keys[i].certificate, 0644, error, error_size) != 0)
            return -1;
        strcat(name, S_SECRET_SUFFIX);
        if (s_write_new(dir, name, self->keys[i].secret, 0600, error, error_size) != 0)
            return -1;
    }
    return 0;
}

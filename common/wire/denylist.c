/*  denylist.c — the persisted deny-list of CURVE public keys (security.h).

    The file is the source of truth: every lookup first compares the file's identity
    (inode, size, modification time) with the one loaded, so an operator's edit or another
    process's ban is seen by the next message, and bans survive a restart. A ban rewrites
    the file with the one atomic, durable write (support/files.h), so a crash never leaves
    a half-written list. */
#include "denylist.h"
#include "support/files.h"
#include "support/log.h"
#include "security.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define S_KEY_LENGTH 40
// A deny-list is a few lines per revoked key; refuse to load anything absurd.
#define S_FILE_MAX (16u << 20)

struct byzgd_denylist_t {
    char *path;
    zhashx_t *keys;    // Z85 key -> (void *) 1, from the file
    zhashx_t *session; // bans that are not keys (insecure mode): this process only
    bool loaded;       // `signature` describes the file the keys came from
    bool present;      // the file existed at the last look
    bool failed;       // the version described below could not be read (logged once)
    dev_t device;
    ino_t inode;
    off_t size;
    struct timespec modified;
};

static bool
s_is_z85_key(const char *text, size_t length)
{
    static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   ".-:+=^!/*?&<>()[]{}@%$#";
    if (length != S_KEY_LENGTH)
        return false;
    for (size_t i = 0; i < length; i++)
        if (text[i] == '\0' || !strchr(alphabet, text[i]))
            return false;
    return true;
}

// Parses text into self->keys (replacing them). Returns the number of lines that are
// neither a key nor a comment nor blank; *first_bad_line (may be NULL) gets the first one's
// number (1-based, 0 if none).
static size_t
s_parse(byzgd_denylist_t *self, const char *text, size_t text_size, size_t *first_bad_line)
{
    zhashx_purge(self->keys);
    size_t skipped = 0, position = 0, line = 0;
    if (first_bad_line)
        *first_bad_line = 0;
    while (position < text_size) {
        line++;
        size_t end = position;
        while (end < text_size && text[end] != '\n')
            end++;
        // The line is [position, end). Its first word is a key, or the line is a comment
        // (starts with `#`), or garbage. Z85 keys may themselves start with `#`, so a key
        // is recognised before a comment; whatever follows the key is a comment.
        size_t start = position, stop = end;
        while (start < stop && (text[start] == ' ' || text[start] == '\t'))
            start++;
        size_t word_end = start;
        while (word_end < stop && text[word_end] != ' ' && text[word_end] != '\t' &&
               text[word_end] != '\r')
            word_end++;
        if (s_is_z85_key(text + start, word_end - start)) {
            char key[S_KEY_LENGTH + 1];
            memcpy(key, text + start, S_KEY_LENGTH);
            key[S_KEY_LENGTH] = '\0';
            zhashx_update(self->keys, key, (void *)1);
        } else if (word_end > start && text[start] != '#') {
            if (skipped++ == 0 && first_bad_line)
                *first_bad_line = line;
        }
        position = end + 1;
    }
    return skipped;
}

size_t
byzgd_denylist_parse(byzgd_denylist_t *self, const char *text, size_t text_size)
{
    assert(self);
    return s_parse(self, text, text_size, NULL);
}

// Reads the whole file (a regular file of at most S_FILE_MAX bytes) and parses it. On any
// problem the keys in force stay as they are and -1 comes back with a message: a list
// that cannot be read completely is never half-applied.
static int
s_load(byzgd_denylist_t *self, char *error, size_t error_size)
{
    int fd = open(self->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ELOOP)
        fd = open(self->path, O_RDONLY | O_CLOEXEC); // a symlink an operator made is fine
    if (fd < 0)
        return byzgd_set_error(error, error_size, "deny-list %s: %s", self->path, strerror(errno));
    struct stat info;
    int result = -1;
    char *text = NULL;
    if (fstat(fd, &info) != 0) {
        byzgd_set_error(error, error_size, "deny-list %s: %s", self->path, strerror(errno));
        goto done;
    }
    if (!S_ISREG(info.st_mode)) {
        byzgd_set_error(error, error_size, "deny-list %s: not a regular file (%s)", self->path,
                        S_ISDIR(info.st_mode) ? "a directory" : "a device, pipe or socket");
        goto done;
    }
    if ((size_t)info.st_size > S_FILE_MAX) {
        byzgd_set_error(error, error_size,
                        "deny-list %s: %lld bytes, more than the %u bytes a deny-list may hold "
                        "(one line per revoked key); clean it up",
                        self->path, (long long)info.st_size, S_FILE_MAX);
        goto done;
    }
    size_t size = (size_t)info.st_size;
    text = malloc(size + 1);
    assert(text);
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, text + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got != size) {
        byzgd_set_error(error, error_size, "deny-list %s: read %zu of %zu bytes", self->path, got,
                        size);
        goto done;
    }
    // Parse into a scratch table first: an error must leave the list in force untouched.
    zhashx_t *previous = self->keys;
    self->keys = zhashx_new();
    assert(self->keys);
    size_t bad_line = 0;
    if (s_parse(self, text, size, &bad_line) != 0) {
        zhashx_destroy(&self->keys);
        self->keys = previous;
        byzgd_set_error(error, error_size,
                        "deny-list %s:%zu: neither a 40-character Z85 key nor a # comment",
                        self->path, bad_line);
        goto done;
    }
    zhashx_destroy(&previous);
    self->loaded = self->present = true;
    self->device = info.st_dev;
    self->inode = info.st_ino;
    self->size = info.st_size;
    self->modified = info.st_mtim;
    result = 0;
done:
    free(text);
    close(fd);
    return result;
}

// Re-reads the file when it changed. On a read error the previous list stays in force
// (failing open would un-ban everyone) and the problem is logged once per file version.
static void
s_refresh(byzgd_denylist_t *self)
{
    if (!self->path[0])
        return; // in memory only
    struct stat info;
    if (stat(self->path, &info) != 0) {
        if (errno == ENOENT && (self->present || !self->loaded)) {
            zhashx_purge(self->keys);
            self->present = false;
            self->loaded = true;
        }
        return;
    }
    bool same = info.st_dev == self->device && info.st_ino == self->inode &&
                info.st_size == self->size && info.st_mtim.tv_sec == self->modified.tv_sec &&
                info.st_mtim.tv_nsec == self->modified.tv_nsec;
    if (self->loaded && self->present && same)
        return;
    if (self->failed && same)
        return; // this version was refused already
    char error[512];
    if (s_load(self, error, sizeof error) == 0) {
        self->failed = false;
        return;
    }
    byzgd_warn("%s; keeping the %zu keys in force", error, zhashx_size(self->keys));
    self->failed = true;
    self->device = info.st_dev;
    self->inode = info.st_ino;
    self->size = info.st_size;
    self->modified = info.st_mtim;
}

byzgd_denylist_t *
byzgd_denylist_new(const char *path, char *error, size_t error_size)
{
    assert(path);
    byzgd_denylist_t *self = calloc(1, sizeof *self);
    assert(self);
    self->path = strdup(path);
    self->keys = zhashx_new();
    self->session = zhashx_new();
    assert(self->path && self->keys && self->session);
    // At start a deny-list is read completely or the server does not start: a list that
    // is silently ignored admits every key an operator revoked.
    if (path[0] && access(path, F_OK) == 0 && s_load(self, error, error_size) != 0) {
        byzgd_denylist_destroy(&self);
        return NULL;
    }
    s_refresh(self);
    return self;
}

void
byzgd_denylist_destroy(byzgd_denylist_t **self_p)
{
    assert(self_p);
    byzgd_denylist_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy(&self->keys);
    zhashx_destroy(&self->session);
    free(self->path);
    free(self);
    *self_p = NULL;
}

bool
byzgd_denylist_contains(byzgd_denylist_t *self, const char *identity)
{
    assert(self);
    if (!identity)
        return false;
    s_refresh(self);
    return zhashx_lookup(self->keys, identity) || zhashx_lookup(self->session, identity);
}

size_t
byzgd_denylist_size(const byzgd_denylist_t *self)
{
    assert(self);
    return zhashx_size(self->keys) + zhashx_size(self->session);
}

int
byzgd_denylist_add(byzgd_denylist_t *self, const char *identity, const char *reason, char *error,
                   size_t error_size)
{
    assert(self && identity);
    s_refresh(self);
    if (!self->path[0] || !s_is_z85_key(identity, strlen(identity))) {
        // Insecure-mode identities are not keys: banned for this process only.
        zhashx_update(self->session, identity, (void *)1);
        return 0;
    }
    zhashx_update(self->keys, identity, (void *)1);

    // Rewrite = every old byte + one line, so an operator's comments and every earlier
    // revocation are kept: the old file is streamed whole into the atomic file, whatever its
    // size, and if it cannot be copied whole the atomic file is abandoned and the list on
    // disk stays as it was (the ban holds in memory). 0600: the list names who is banned
    // and why.
    char message[512];
    byzgd_atomic_file_t *out = byzgd_atomic_file_open(self->path, 0600, message, sizeof message);
    if (!out) {
        zhashx_update(self->session, identity, (void *)1); // holds until restart at least
        return byzgd_set_error(error, error_size, "deny-list: %s", message);
    }
    bool copied = true;
    int saved = 0;
    char last = '\n'; // the old file's last byte
    int old_fd = open(self->path, O_RDONLY | O_CLOEXEC);
    if (old_fd < 0 && errno != ENOENT) {
        copied = false;
        saved = errno;
    }
    if (old_fd >= 0) {
        struct stat info;
        if (fstat(old_fd, &info) != 0) {
            copied = false;
            saved = errno;
        } else if (!S_ISREG(info.st_mode)) {
            copied = false;
            saved = S_ISDIR(info.st_mode) ? EISDIR : EINVAL;
        }
        char buffer[65536];
        while (copied) {
            ssize_t n = read(old_fd, buffer, sizeof buffer);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                copied = false;
                saved = errno;
                break;
            }
            if (n == 0)
                break;
            last = buffer[n - 1];
            if (byzgd_atomic_file_write(out, buffer, (size_t)n) != 0)
                break; // the commit reports the write error and replaces nothing
        }
        close(old_fd);
    }
    if (!copied) {
        byzgd_atomic_file_abort(&out);
        zhashx_update(self->session, identity, (void *)1);
        return byzgd_set_error(error, error_size,
                               "deny-list %s: cannot copy the current list (%s); the ban holds "
                               "until this server ends",
                               self->path, strerror(saved));
    }
    char line[512];
    time_t now = time(NULL);
    struct tm utc;
    gmtime_r(&now, &utc);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &utc);
    // Reasons come from our own code, but keep the file one line per key whatever they say.
    char clean[256];
    snprintf(clean, sizeof clean, "%s", reason ? reason : "banned");
    for (char *c = clean; *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' ';
    int line_size = snprintf(line, sizeof line, "%s%s # %s %s\n", last != '\n' ? "\n" : "",
                             identity, stamp, clean);
    byzgd_atomic_file_write(out, line, (size_t)line_size);
    if (byzgd_atomic_file_commit(&out, message, sizeof message) != 0) {
        zhashx_update(self->session, identity, (void *)1); // holds until restart at least
        return byzgd_set_error(error, error_size, "deny-list: %s", message);
    }
    self->loaded = false; // re-read our own write on the next lookup (cheap, rare)
    return 0;
}

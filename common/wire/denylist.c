/*  denylist.c — the persisted deny-list of CURVE public keys (security.h).

    The file is the source of truth: every lookup first compares the file's identity
    (inode, size, modification time) with the one loaded, so an operator's edit or another
    process's ban is seen by the next message, and bans survive a restart. Writes go to a
    temporary file that is fsynced and renamed over the old one, so a crash never leaves a
    half-written list. */
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

size_t
byzgd_denylist_parse(byzgd_denylist_t *self, const char *text, size_t text_size)
{
    assert(self);
    zhashx_purge(self->keys);
    size_t skipped = 0, position = 0;
    while (position < text_size) {
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
        } else if (word_end > start && text[start] != '#')
            skipped++;
        position = end + 1;
    }
    return skipped;
}

// Re-reads the file when it changed. On a read error the previous list stays in force
// (failing open would un-ban everyone).
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
    if (self->loaded && self->present && info.st_dev == self->device &&
        info.st_ino == self->inode && info.st_size == self->size &&
        info.st_mtim.tv_sec == self->modified.tv_sec &&
        info.st_mtim.tv_nsec == self->modified.tv_nsec)
        return;
    if (!S_ISREG(info.st_mode) || (size_t)info.st_size > S_FILE_MAX) {
        byzgd_warn("deny-list %s: not a regular file of at most %u bytes; keeping %zu keys",
                   self->path, S_FILE_MAX, zhashx_size(self->keys));
        return;
    }
    FILE *file = fopen(self->path, "rb");
    if (!file)
        return;
    size_t capacity = (size_t)info.st_size + 1;
    char *text = malloc(capacity);
    assert(text);
    size_t size = fread(text, 1, capacity, file);
    fclose(file);
    if (size < capacity) {
        size_t skipped = byzgd_denylist_parse(self, text, size);
        if (skipped)
            byzgd_warn("deny-list %s: %zu lines are not Z85 keys", self->path, skipped);
        self->loaded = self->present = true;
        self->device = info.st_dev;
        self->inode = info.st_ino;
        self->size = info.st_size;
        self->modified = info.st_mtim;
    }
    // else: the file grew while we read it; the next lookup reads it again.
    free(text);
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
    struct stat info;
    if (path[0] && stat(path, &info) == 0 && access(path, R_OK) != 0) {
        byzgd_set_error(error, error_size, "deny-list %s: %s", path, strerror(errno));
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

    // Rewrite = old bytes + one line, so an operator's comments are kept.
    char *old = NULL;
    size_t old_size = 0;
    FILE *file = fopen(self->path, "rb");
    if (file) {
        struct stat info;
        if (fstat(fileno(file), &info) == 0 && S_ISREG(info.st_mode) &&
            (size_t)info.st_size <= S_FILE_MAX) {
            old = malloc((size_t)info.st_size + 1);
            assert(old);
            old_size = fread(old, 1, (size_t)info.st_size, file);
        }
        fclose(file);
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
    int line_size =
        snprintf(line, sizeof line, "%s%s # %s %s\n",
                 old_size && old[old_size - 1] != '\n' ? "\n" : "", identity, stamp, clean);
    // The old lines and the new one replace the file atomically and durably (0600: the
    // list names who is banned and why).
    char message[512];
    byzgd_atomic_file_t *out = byzgd_atomic_file_open(self->path, 0600, message, sizeof message);
    if (out) {
        byzgd_atomic_file_write(out, old, old_size);
        byzgd_atomic_file_write(out, line, (size_t)line_size);
    }
    free(old);
    if (!out || byzgd_atomic_file_commit(&out, message, sizeof message) != 0) {
        zhashx_update(self->session, identity, (void *)1); // holds until restart at least
        return byzgd_set_error(error, error_size, "deny-list: %s", message);
    }
    self->loaded = false; // re-read our own write on the next lookup (cheap, rare)
    return 0;
}

/*  denylist.h — the persisted deny-list of revoked and banned worker keys. */
#ifndef BYZGD_DENYLIST_H
#define BYZGD_DENYLIST_H

#include <stdbool.h>
#include <stddef.h>

// A text file of Z85 public keys, one per line, `#` starts a comment, blank lines allowed,
// at most 16 MiB. Checked on every message and every handshake; reloaded when the file
// changes (an operator's edit revokes an open connection). At start a file that cannot be
// read completely (too large, a directory, unreadable, a line that is neither a key nor a
// comment) is an error; later, such a version is logged once and the keys in force stay.
// A ban rewrites the file atomically as every byte it held plus one line (copy + fsync +
// rename), so a ban never loses an earlier revocation and survives a restart.

typedef struct byzgd_denylist_t byzgd_denylist_t;

// Opens (or prepares to create) the deny-list at `path`. A missing file is an empty list;
// an empty path keeps the list in memory only (insecure mode).
// Returns NULL with a message when the file exists but cannot be read completely.
byzgd_denylist_t *byzgd_denylist_new(const char *path, char *error, size_t error_size);
void byzgd_denylist_destroy(byzgd_denylist_t **self_p);

// True when `identity` is denied. Re-reads the file first if it changed on disk.
bool byzgd_denylist_contains(byzgd_denylist_t *self, const char *identity);

// Adds `identity` with a comment `reason` and persists the file atomically.
// Returns 0, or -1 with a message (the in-memory ban still holds).
int byzgd_denylist_add(byzgd_denylist_t *self, const char *identity, const char *reason,
                       char *error, size_t error_size);

// Number of denied identities currently loaded.
size_t byzgd_denylist_size(const byzgd_denylist_t *self);

// Replaces the in-memory list by the keys parsed from `text` (the file format). Lines that
// are not a 40-character Z85 key are skipped and counted. Returns the skipped count.
size_t byzgd_denylist_parse(byzgd_denylist_t *self, const char *text, size_t text_size);

#endif

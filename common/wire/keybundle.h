/*  keybundle.h — key bundles: one tar file that carries what one worker host needs from a
    key directory (common/wire/security.h), so that no host ever holds keys it does not use.

    A bundle holds, as regular files and nothing else:
        server.cert                      the server's PUBLIC certificate
        workers/worker-NNN.cert          the certificate of slot NNN
        workers/worker-NNN.cert_secret   its secret (the only secrets in a bundle)
    for every slot of one range A..B. The server's secret never goes into a bundle.

    Reading a bundle decodes outside bytes, so it is strict: at most
    BYZGD_KEY_BUNDLE_MAX_BYTES in all, BYZGD_KEY_BUNDLE_MAX_FILE per file, only the names
    above (no absolute path, no "..", no directory, link or device entry), each at most once,
    every slot with both of its files, a server certificate, text without NUL. Extraction
    writes into a fresh directory with O_EXCL|O_NOFOLLOW, secrets mode 0600.

    byzgd_key_bundle_write("run/keys", 0, 9, "h1.tar", false, error, sizeof error);
    byzgd_key_bundle_t *bundle = byzgd_key_bundle_load("h1.tar", error, sizeof error);
    byzgd_key_bundle_extract(bundle, "w1/keys", error, sizeof error);
    byzgd_key_bundle_destroy(&bundle); */
#ifndef BYZGD_KEYBUNDLE_H
#define BYZGD_KEYBUNDLE_H

#include <stdbool.h>
#include <stddef.h>

#define BYZGD_KEY_BUNDLE_MAX_BYTES (16u * 1024 * 1024)
#define BYZGD_KEY_BUNDLE_MAX_FILE  4096u
#define BYZGD_KEY_BUNDLE_MAX_SLOTS 100000u

typedef struct byzgd_key_bundle_t byzgd_key_bundle_t;

// Writes the bundle of slots first..last (inclusive) of key directory `keys_dir` to `path`
// (created with mode 0600; an existing file is refused unless `force`). Returns 0, or -1
// with a message (e.g. a slot without keys).
int byzgd_key_bundle_write(const char *keys_dir, size_t first, size_t last, const char *path,
                           bool force, char *error, size_t error_size);

// Decodes a bundle from memory. Returns NULL with a message when it is not a valid bundle.
byzgd_key_bundle_t *byzgd_key_bundle_parse(const void *data, size_t size, char *error,
                                           size_t error_size);

// Reads file `path` (at most BYZGD_KEY_BUNDLE_MAX_BYTES) and parses it.
byzgd_key_bundle_t *byzgd_key_bundle_load(const char *path, char *error, size_t error_size);

void byzgd_key_bundle_destroy(byzgd_key_bundle_t **self_p);

// The slots of the bundle, ascending.
size_t byzgd_key_bundle_slot_count(const byzgd_key_bundle_t *self);
size_t byzgd_key_bundle_slot(const byzgd_key_bundle_t *self, size_t index);

// Writes the bundle's files under `dir` (created 0700 with missing parents; DIR/server.cert,
// DIR/workers/...), refusing to replace any file. Returns 0, or -1 with a message.
int byzgd_key_bundle_extract(const byzgd_key_bundle_t *self, const char *dir, char *error,
                             size_t error_size);

// Parses "A-B" (or "A") into first <= last < BYZGD_KEY_BUNDLE_MAX_SLOTS. Returns 0 or -1.
int byzgd_key_bundle_parse_range(const char *text, size_t *first, size_t *last);

#endif

/*  security.c — keys, the ZAP handler, socket hardening and message admission
    (security.h; the reasoning is in docs/SECURITY.md). */
#include "security.h"
#include "support/clock.h"
#include "support/files.h"
#include "support/log.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

// Debian's libzmq is built without the draft API, where this option is declared; the
// library itself implements it (docs/ARCHITECTURE.md §7) and CZMQ's setter is a no-op.
#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93
#endif

#define S_ZAP_DOMAIN   "byzgd"
#define S_ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define S_KEY_LENGTH   40
// Identities tracked for rate limits. With CURVE they are allow-listed keys (bounded by the
// allow-list); in insecure mode routing ids are attacker-chosen, so the table is capped.
#define S_PEERS_MAX 65536

// A token bucket: `rate` tokens per second up to `burst`. Returns true if a token was taken.
typedef struct {
    double tokens;
    double updated_s;
} s_bucket_t;

static bool
s_bucket_take_amount(s_bucket_t *bucket, double rate, double burst, double now_s, double amount)
{
    bucket->tokens += (now_s - bucket->updated_s) * rate;
    if (bucket->tokens > burst)
        bucket->tokens = burst;
    bucket->updated_s = now_s;
    if (bucket->tokens < amount)
        return false;
    bucket->tokens -= amount;
    return true;
}

static bool
s_bucket_take(s_bucket_t *bucket, double rate, double burst, double now_s)
{
    return s_bucket_take_amount(bucket, rate, burst, now_s, 1.0);
}

// ---------------------------------------------------------------------------------------
// Keys

static int
s_join(char *path, size_t path_size, const char *dir, const char *name)
{
    int written = snprintf(path, path_size, "%s/%s", dir, name);
    return written < 0 || (size_t)written >= path_size ? -1 : 0;
}

int
byzgd_keys_worker_cert_path(char *path, size_t path_size, const char *dir, size_t index)
{
    int written =
        snprintf(path, path_size, "%s/" BYZGD_KEYS_WORKERS_DIR "/worker-%03zu.cert", dir, index);
    return written < 0 || (size_t)written >= path_size ? -1 : 0;
}

// The Z85 alphabet (ZeroMQ RFC 32).
static const char s_z85_alphabet[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    ".-:+=^!/*?&<>()[]{}@%$#";

// Reads `path` (at most 64 KiB) into a NUL-terminated buffer. Returns NULL with a message.
static char *
s_read_small_file(const char *path, const char *what, char *error, size_t error_size)
{
    FILE *file = fopen(path, "rb");
    if (!file) {
        if (errno == ENOENT)
            byzgd_set_error(error, error_size, "%s %s does not exist", what, path);
        else
            byzgd_set_error(error, error_size, "%s %s: %s", what, path, strerror(errno));
        return NULL;
    }
    enum { S_CERT_MAX = 64 * 1024 };
    char *text = malloc(S_CERT_MAX + 1);
    assert(text);
    size_t size = fread(text, 1, S_CERT_MAX + 1, file);
    bool failed = ferror(file) != 0;
    fclose(file);
    if (failed || size > S_CERT_MAX) {
        byzgd_set_error(error, error_size, "%s %s: %s", what, path,
                        failed ? "read error" : "larger than 64 KiB: not a certificate");
        free(text);
        return NULL;
    }
    text[size] = '\0';
    return text;
}

// Finds `name = "VALUE"` (the zpl line of a CURVE certificate) in text and checks VALUE is
// a 40-character Z85 key. Returns 0 with the key in key_out, or -1 with a message.
static int
s_cert_key(const char *text, const char *name, const char *path, char key_out[S_KEY_LENGTH + 1],
           char *error, size_t error_size)
{
    size_t name_length = strlen(name);
    for (const char *line = text; line && *line;
         line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        const char *c = line;
        while (*c == ' ' || *c == '\t')
            c++;
        if (strncmp(c, name, name_length) != 0)
            continue;
        c += name_length;
        while (*c == ' ' || *c == '\t')
            c++;
        if (*c++ != '=')
            continue;
        while (*c == ' ' || *c == '\t')
            c++;
        bool quoted = *c == '"';
        c += quoted;
        size_t length = 0;
        while (c[length] && c[length] != '\n' && c[length] != '\r' &&
               (quoted ? c[length] != '"' : c[length] != ' '))
            length++;
        if (length != S_KEY_LENGTH || (quoted && c[length] != '"'))
            return byzgd_set_error(error, error_size,
                                   "%s: %s is %zu characters, a Z85 key has 40 (truncated or "
                                   "edited?)",
                                   path, name, length);
        for (size_t i = 0; i < length; i++)
            if (!strchr(s_z85_alphabet, c[i]) || c[i] == '\0')
                return byzgd_set_error(error, error_size,
                                       "%s: %s has a character that is not Z85 at position %zu",
                                       path, name, i + 1);
        memcpy(key_out, c, S_KEY_LENGTH);
        key_out[S_KEY_LENGTH] = '\0';
        return 0;
    }
    return byzgd_set_error(error, error_size,
                           "%s: no %s line (not a CURVE certificate, or truncated)", path, name);
}

int
byzgd_keys_check_certificate(const char *path, bool with_secret, char public_out[41], char *error,
                             size_t error_size)
{
    assert(path);
    char public_key[S_KEY_LENGTH + 1];
    char *text = s_read_small_file(path, "certificate", error, error_size);
    if (!text)
        return -1;
    int status = s_cert_key(text, "public-key", path, public_key, error, error_size);
    free(text);
    if (status != 0)
        return -1;
    if (with_secret) {
        char secret_path[4096], secret_key[S_KEY_LENGTH + 1];
        if (snprintf(secret_path, sizeof secret_path, "%s_secret", path) >= (int)sizeof secret_path)
            return byzgd_set_error(error, error_size, "path too long: %s", path);
        struct stat info;
        if (stat(secret_path, &info) == 0 && (info.st_mode & 0077))
            return byzgd_set_error(error, error_size,
                                   "secret key %s is accessible to group or others (mode %04o): "
                                   "chmod 600 %s",
                                   secret_path, (unsigned)(info.st_mode & 07777), secret_path);
        text = s_read_small_file(secret_path, "secret key", error, error_size);
        if (!text)
            return -1;
        status = s_cert_key(text, "secret-key", secret_path, secret_key, error, error_size);
        free(text);
        if (status != 0)
            return -1;
        uint8_t secret[32];
        char derived[S_KEY_LENGTH + 1];
        if (!zmq_z85_decode(secret, secret_key) || zmq_curve_public(derived, secret_key) != 0) {
            sodium_memzero(secret, sizeof secret);
            return byzgd_set_error(error, error_size, "%s: secret-key does not decode",
                                   secret_path);
        }
        sodium_memzero(secret, sizeof secret);
        sodium_memzero(secret_key, sizeof secret_key);
        if (strcmp(derived, public_key) != 0)
            return byzgd_set_error(error, error_size,
                                   "%s: secret-key does not belong to the public-key of %s",
                                   secret_path, path);
    }
    if (public_out)
        memcpy(public_out, public_key, S_KEY_LENGTH + 1);
    return 0;
}

// A directory others may write to lets them plant keys (allowed/) or swap certificates.
static int
s_check_private_directory(const char *path, char *error, size_t error_size)
{
    struct stat info;
    if (stat(path, &info) != 0)
        return byzgd_set_error(error, error_size, "key directory %s: %s", path, strerror(errno));
    if (!S_ISDIR(info.st_mode))
        return byzgd_set_error(error, error_size, "key directory %s is not a directory", path);
    if (info.st_mode & 0022)
        return byzgd_set_error(error, error_size,
                               "key directory %s is writable by group or others (mode %04o): "
                               "chmod go-w %s",
                               path, (unsigned)(info.st_mode & 07777), path);
    return 0;
}

// Saves a certificate as PATH (public) and PATH_secret, both then chmod'ed: 0644 / 0600.
static int
s_cert_save(zcert_t *cert, const char *path, char *error, size_t error_size)
{
    char secret[4096];
    if (snprintf(secret, sizeof secret, "%s_secret", path) >= (int)sizeof secret)
        return byzgd_set_error(error, error_size, "path too long: %s", path);
    // zcert_save writes the secret file with the process umask; create it private first.
    mode_t old_mask = umask(0077);
    int rc = zcert_save(cert, path);
    umask(old_mask);
    if (rc != 0)
        return byzgd_set_error(error, error_size, "cannot write %s: %s", path, strerror(errno));
    if (chmod(secret, 0600) != 0 || chmod(path, 0644) != 0)
        return byzgd_set_error(error, error_size, "cannot chmod %s: %s", path, strerror(errno));
    return 0;
}

static int
s_mkdir(const char *path, mode_t mode, char *error, size_t error_size)
{
    if (mkdir(path, mode) != 0 && errno != EEXIST)
        return byzgd_set_error(error, error_size, "cannot create %s: %s", path, strerror(errno));
    struct stat info;
    if (stat(path, &info) != 0 || !S_ISDIR(info.st_mode))
        return byzgd_set_error(error, error_size, "%s is not a directory", path);
    return 0;
}

int
byzgd_keys_generate(const char *dir, size_t worker_count, bool force, char *error,
                    size_t error_size)
{
    assert(dir);
    char path[4096], public_path[4096];
    if (byzgd_mkdir_parents(dir, 0700, error, error_size) != 0)
        return -1;
    if (s_join(path, sizeof path, dir, BYZGD_KEYS_SERVER_CERT) != 0)
        return byzgd_set_error(error, error_size, "path too long: %s", dir);
    struct stat info;
    if (!force && stat(path, &info) == 0)
        return byzgd_set_error(error, error_size,
                               "%s exists: refusing to overwrite keys (use --force)", path);
    if (s_join(public_path, sizeof public_path, dir, BYZGD_KEYS_WORKERS_DIR) != 0 ||
        s_mkdir(public_path, 0700, error, error_size) != 0)
        return -1;
    if (s_join(public_path, sizeof public_path, dir, BYZGD_KEYS_ALLOWED_DIR) != 0 ||
        s_mkdir(public_path, 0755, error, error_size) != 0)
        return -1;

    zcert_t *server = zcert_new();
    assert(server);
    zcert_set_meta(server, "name", "byzgd-server");
    int rc = s_cert_save(server, path, error, error_size);
    zcert_destroy(&server);
    if (rc != 0)
        return -1;

    for (size_t i = 0; i < worker_count; i++) {
        zcert_t *worker = zcert_new();
        assert(worker);
        zcert_set_meta(worker, "name", "worker-%03zu", i);
        char name[64];
        snprintf(name, sizeof name, BYZGD_KEYS_ALLOWED_DIR "/worker-%03zu.cert", i);
        if (byzgd_keys_worker_cert_path(path, sizeof path, dir, i) != 0 ||
            s_join(public_path, sizeof public_path, dir, name) != 0) {
            zcert_destroy(&worker);
            return byzgd_set_error(error, error_size, "path too long: %s", dir);
        }
        rc = s_cert_save(worker, path, error, error_size);
        if (rc == 0 && zcert_save_public(worker, public_path) != 0)
            rc = byzgd_set_error(error, error_size, "cannot write %s: %s", public_path,
                                 strerror(errno));
        zcert_destroy(&worker);
        if (rc != 0)
            return -1;
    }
    return 0;
}

// ---------------------------------------------------------------------------------------
// The ZAP handler (RFC 27), an actor in the server's process. CZMQ's zauth would do for
// the allow-list, but it can only deny by IP address; this handler also refuses deny-listed
// keys at the handshake and rate-limits handshakes per key (which bounds how many ROUTER
// routing ids one key can plant; see docs/SECURITY.md, "routing ids").

typedef struct {
    char allowed_dir[4096];
    char deny_list_path[4096]; // empty: no deny-list
    double handshake_rate, handshake_burst;
    int status; // set by the actor before it signals: 0 ready, -1 failed
    char error[256];
} s_zap_args_t;

typedef struct {
    uint64_t ok, unknown, denied, limited;
} s_zap_counts_t;

static int
s_load_allowed(zhashx_t *allowed, const char *dir, char *error, size_t error_size)
{
    zdir_t *directory = zdir_new(dir, NULL);
    if (!directory)
        return byzgd_set_error(error, error_size, "cannot read allow-list directory %s", dir);
    zlist_t *files = zdir_list(directory);
    for (zfile_t *file = zlist_first(files); file; file = zlist_next(files)) {
        const char *name = zfile_filename(file, NULL);
        size_t length = strlen(name);
        if (length > 7 && strcmp(name + length - 7, "_secret") == 0)
            continue;
        // Every certificate is read whole and checked: a truncated one is an error, not a
        // worker silently locked out.
        char key[S_KEY_LENGTH + 1];
        if (byzgd_keys_check_certificate(name, false, key, error, error_size) != 0) {
            zlist_destroy(&files);
            zdir_destroy(&directory);
            return -1;
        }
        zhashx_update(allowed, key, (void *)1);
    }
    zlist_destroy(&files);
    zdir_destroy(&directory);
    return 0;
}

int
byzgd_keys_worker_name(char *name, size_t name_size, size_t index)
{
    return snprintf(name, name_size, "worker-%03zu", index) < (int)name_size ? 0 : -1;
}

int
byzgd_keys_slot_of_name(const char *name, size_t *slot_out)
{
    static const char prefix[] = "worker-";
    if (!name || strncmp(name, prefix, sizeof prefix - 1) != 0)
        return -1;
    const char *cursor = name + sizeof prefix - 1;
    size_t slot = 0, count = 0;
    for (; *cursor >= '0' && *cursor <= '9'; cursor++, count++)
        slot = slot * 10 + (size_t)(*cursor - '0');
    if (count == 0 || count > 9 || (*cursor && strcmp(cursor, ".cert") != 0))
        return -1;
    *slot_out = slot;
    return 0;
}

// Public key -> slot for every allowed/ certificate named after a slot (others keep no
// slot and cannot join).
static int
s_load_slots(zhashx_t *slots, const char *dir, char *error, size_t error_size)
{
    zdir_t *directory = zdir_new(dir, NULL);
    if (!directory)
        return byzgd_set_error(error, error_size, "cannot read allow-list directory %s", dir);
    zlist_t *files = zdir_list(directory);
    for (zfile_t *file = zlist_first(files); file; file = zlist_next(files)) {
        const char *path = zfile_filename(file, NULL);
        const char *base = strrchr(path, '/');
        size_t slot = 0;
        if (byzgd_keys_slot_of_name(base ? base + 1 : path, &slot) != 0)
            continue;
        zcert_t *cert = zcert_load(path);
        if (!cert)
            continue;
        zhashx_update(slots, zcert_public_txt(cert), (void *)(uintptr_t)(slot + 1));
        zcert_destroy(&cert);
    }
    zlist_destroy(&files);
    zdir_destroy(&directory);
    return 0;
}

static void
s_zap_reply(zsock_t *handler, const char *sequence, const char *status, const char *text,
            const char *user_id)
{
    zmsg_t *reply = zmsg_new();
    zmsg_addstr(reply, "1.0");
    zmsg_addstr(reply, sequence);
    zmsg_addstr(reply, status);
    zmsg_addstr(reply, text);
    zmsg_addstr(reply, user_id);
    zmsg_addmem(reply, NULL, 0); // metadata
    zmsg_send(&reply, handler);
}

static void
s_zap_handle(zsock_t *handler, zhashx_t *allowed, byzgd_denylist_t *denylist, zhashx_t *buckets,
             const s_zap_args_t *args, s_zap_counts_t *counts)
{
    zmsg_t *request = zmsg_recv(handler);
    if (!request)
        return;
    char *version = zmsg_popstr(request), *sequence = zmsg_popstr(request);
    char *domain = zmsg_popstr(request), *address = zmsg_popstr(request);
    char *routing = zmsg_popstr(request), *mechanism = zmsg_popstr(request);
    zframe_t *credentials = zmsg_pop(request);
    char key[S_KEY_LENGTH + 1] = "";
    const char *status = "400", *text = "denied";

    if (!version || strcmp(version, "1.0") != 0 || !sequence) {
        // Not a ZAP request we can answer; libzmq never sends one, drop it.
        zframe_destroy(&credentials);
        goto cleanup;
    }
    if (!mechanism || strcmp(mechanism, "CURVE") != 0 || !credentials ||
        zframe_size(credentials) != 32)
        text = "CURVE required";
    else {
        zmq_z85_encode(key, zframe_data(credentials), 32);
        if (!zhashx_lookup(allowed, key)) {
            counts->unknown++;
            text = "unknown key";
        } else if (denylist && byzgd_denylist_contains(denylist, key)) {
            counts->denied++;
            text = "key denied";
        } else {
            s_bucket_t *bucket = zhashx_lookup(buckets, key);
            double now_s = byzgd_monotonic_s();
            if (!bucket) {
                bucket = calloc(1, sizeof *bucket);
                assert(bucket);
                bucket->tokens = args->handshake_burst;
                bucket->updated_s = now_s;
                zhashx_insert(buckets, key, bucket);
            }
            if (!s_bucket_take(bucket, args->handshake_rate, args->handshake_burst, now_s)) {
                counts->limited++;
                text = "handshake rate limit";
            } else {
                counts->ok++;
                status = "200";
                text = "OK";
            }
        }
    }
    s_zap_reply(handler, sequence, status, text, strcmp(status, "200") == 0 ? key : "");
    zframe_destroy(&credentials);
cleanup:
    free(version);
    free(sequence);
    free(domain);
    free(address);
    free(routing);
    free(mechanism);
    zmsg_destroy(&request);
}

static void
s_bucket_free(void **item)
{
    free(*item);
    *item = NULL;
}

static void
s_zap_actor(zsock_t *pipe, void *arg)
{
    s_zap_args_t *args = arg;
    zhashx_t *allowed = zhashx_new(), *buckets = zhashx_new();
    assert(allowed && buckets);
    zhashx_set_destructor(buckets, s_bucket_free);
    byzgd_denylist_t *denylist = NULL;
    zsock_t *handler = NULL;
    zpoller_t *poller = NULL;
    s_zap_counts_t counts = {0};

    args->status = -1;
    if (s_load_allowed(allowed, args->allowed_dir, args->error, sizeof args->error) != 0)
        goto signal;
    if (args->deny_list_path[0] &&
        !(denylist = byzgd_denylist_new(args->deny_list_path, args->error, sizeof args->error)))
        goto signal;
    handler = zsock_new(ZMQ_REP);
    assert(handler);
    // A handler just destroyed in this process (a restart in one process, as in the tests)
    // releases the endpoint only when libzmq's reaper has closed its socket: retry briefly.
    int bound = zsock_bind(handler, S_ZAP_ENDPOINT);
    for (int retry = 0; bound != 0 && errno == EADDRINUSE && retry < 100; retry++) {
        zclock_sleep(20);
        bound = zsock_bind(handler, S_ZAP_ENDPOINT);
    }
    if (bound != 0) {
        byzgd_set_error(args->error, sizeof args->error,
                        "cannot bind %s (another ZAP handler in this process?)", S_ZAP_ENDPOINT);
        goto signal;
    }
    poller = zpoller_new(pipe, handler, NULL);
    assert(poller);
    args->status = 0;
signal:
    zsock_signal(pipe, 0);
    while (args->status == 0) {
        void *which = zpoller_wait(poller, -1);
        if (which == handler)
            s_zap_handle(handler, allowed, denylist, buckets, args, &counts);
        else if (which == pipe) {
            char *command = zstr_recv(pipe);
            if (!command || streq(command, "$TERM")) {
                free(command);
                break;
            }
            if (streq(command, "STATS"))
                zsock_send(pipe, "8888", counts.ok, counts.unknown, counts.denied, counts.limited);
            free(command);
        } else if (zpoller_terminated(poller))
            break;
    }
    if (args->status != 0) {
        // Wait for $TERM so zactor_destroy's handshake completes.
        char *command = zstr_recv(pipe);
        free(command);
    }
    zpoller_destroy(&poller);
    zsock_destroy(&handler);
    byzgd_denylist_destroy(&denylist);
    zhashx_destroy(&buckets);
    zhashx_destroy(&allowed);
}

// ---------------------------------------------------------------------------------------
// Server side

typedef struct {
    s_bucket_t bucket;   // messages
    s_bucket_t bytes;    // bytes of every message
    s_bucket_t rejected; // bytes of messages the protocol layer rejected
    size_t last_bytes;   // size of the last admitted message (the one a rejection is about)
    uint64_t strikes;
    bool warned, warned_bytes;
} s_peer_t;

struct byzgd_security_t {
    byzgd_security_options_t options;
    char keys_dir[4096];
    char deny_list_path[4096];
    zcert_t *server_cert;
    byzgd_denylist_t *denylist;
    s_zap_args_t *zap_args;
    zactor_t *zap;
    zhashx_t *peers; // identity -> s_peer_t
    zhashx_t *slots; // public key (Z85) -> slot + 1, from the names in allowed/
    byzgd_security_stats_t stats;
};

size_t
byzgd_security_max_frame_bytes(size_t dimension)
{
    return 4 * dimension + 1024;
}

size_t
byzgd_security_memory_bound(size_t worker_count, size_t dimension, int high_water_mark)
{
    size_t tensor = 4 * dimension;
    return ((size_t)256 << 20) + (size_t)(high_water_mark + 4) * worker_count * tensor;
}

static double
s_max_double(double a, double b)
{
    return a > b ? a : b;
}

void
byzgd_security_options_defaults(byzgd_security_options_t *options, size_t dimension)
{
    assert(options);
    *options = (byzgd_security_options_t){
        .max_frame_bytes = byzgd_security_max_frame_bytes(dimension),
        .max_frames = 1,
        .high_water_mark = 4,
        .message_rate = 1000,
        .message_burst = 2000,
        .byte_rate =
            s_max_double(64.0 * 1024 * 1024, 16.0 * byzgd_security_max_frame_bytes(dimension)),
        .byte_burst =
            s_max_double(128.0 * 1024 * 1024, 32.0 * byzgd_security_max_frame_bytes(dimension)),
        .rejected_byte_rate =
            s_max_double(32.0 * 1024 * 1024, 8.0 * byzgd_security_max_frame_bytes(dimension)),
        .rejected_byte_burst =
            s_max_double(64.0 * 1024 * 1024, 16.0 * byzgd_security_max_frame_bytes(dimension)),
        .strikes_to_ban = 1000,
        .handshake_rate = 1.0 / 60,
        .handshake_burst = 16,
        .heartbeat_ivl_ms = 1000,
    };
}

const char *
byzgd_admit_name(byzgd_admit_t verdict)
{
    switch (verdict) {
    case BYZGD_ADMIT_OK:
        return "ok";
    case BYZGD_ADMIT_NOTHING:
        return "nothing";
    case BYZGD_ADMIT_NO_IDENTITY:
        return "no_identity";
    case BYZGD_ADMIT_DENIED:
        return "denied";
    case BYZGD_ADMIT_RATE_LIMITED:
        return "rate_limited";
    case BYZGD_ADMIT_TOO_MANY_FRAMES:
        return "too_many_frames";
    case BYZGD_ADMIT_EMPTY:
        return "empty";
    }
    return "unknown";
}

static void
s_peer_free(void **item)
{
    free(*item);
    *item = NULL;
}

byzgd_security_t *
byzgd_security_new(const byzgd_security_options_t *options, char *error, size_t error_size)
{
    assert(options);
    byzgd_security_t *self = calloc(1, sizeof *self);
    assert(self);
    self->options = *options;
    if (self->options.max_frames == 0)
        self->options.max_frames = 1;
    if (self->options.high_water_mark <= 0)
        self->options.high_water_mark = 4;
    self->peers = zhashx_new();
    assert(self->peers);
    zhashx_set_destructor(self->peers, s_peer_free);
    // libzmq starts a ROUTER's auto-generated routing ids (0x00 + counter) at rand(): seed
    // it secretly, before the server creates its socket, so nobody can predict which id an
    // anonymous connection will get (SECURITY.md, routing ids). byzgd itself never uses
    // rand() (byzgd_rng_t), so this changes nothing else.
    if (sodium_init() < 0) {
        byzgd_set_error(error, error_size, "libsodium initialisation failed");
        goto failed;
    }
    srand(randombytes_random());

    if (options->insecure) {
        byzgd_warn("INSECURE MODE: no encryption, no authentication; a worker's identity is "
                   "its self-chosen routing id. Use only on a trusted test machine.");
        self->options.keys_dir = NULL;
        self->options.deny_list_path = NULL;
        // An in-memory deny-list still lets the server ban a routing id for this run.
        self->denylist = byzgd_denylist_new(self->deny_list_path, error, error_size);
        return self;
    }
    if (!options->keys_dir) {
        byzgd_set_error(error, error_size, "no key directory (or --insecure)");
        goto failed;
    }
    snprintf(self->keys_dir, sizeof self->keys_dir, "%s", options->keys_dir);
    self->options.keys_dir = self->keys_dir;
    if (options->deny_list_path)
        snprintf(self->deny_list_path, sizeof self->deny_list_path, "%s", options->deny_list_path);
    else if (s_join(self->deny_list_path, sizeof self->deny_list_path, self->keys_dir,
                    BYZGD_KEYS_DENY_LIST) != 0) {
        byzgd_set_error(error, error_size, "path too long: %s", self->keys_dir);
        goto failed;
    }
    self->options.deny_list_path = self->deny_list_path;

    char path[4096];
    if (s_join(path, sizeof path, self->keys_dir, BYZGD_KEYS_SERVER_CERT) != 0) {
        byzgd_set_error(error, error_size, "path too long: %s", self->keys_dir);
        goto failed;
    }
    // Key material is checked whole before use (truthful messages: a secret that does not
    // parse is not "missing"), and so are the permissions that keep it private.
    char allowed_path[4096];
    if (s_check_private_directory(self->keys_dir, error, error_size) != 0 ||
        s_join(allowed_path, sizeof allowed_path, self->keys_dir, BYZGD_KEYS_ALLOWED_DIR) != 0 ||
        s_check_private_directory(allowed_path, error, error_size) != 0 ||
        byzgd_keys_check_certificate(path, true, NULL, error, error_size) != 0)
        goto failed;
    self->server_cert = zcert_load(path);
    if (!self->server_cert) {
        byzgd_set_error(error, error_size, "cannot load server certificate %s", path);
        goto failed;
    }
    self->denylist = byzgd_denylist_new(self->deny_list_path, error, error_size);
    if (!self->denylist)
        goto failed;

    self->zap_args = calloc(1, sizeof *self->zap_args);
    assert(self->zap_args);
    if (s_join(self->zap_args->allowed_dir, sizeof self->zap_args->allowed_dir, self->keys_dir,
               BYZGD_KEYS_ALLOWED_DIR) != 0) {
        byzgd_set_error(error, error_size, "path too long: %s", self->keys_dir);
        goto failed;
    }
    snprintf(self->zap_args->deny_list_path, sizeof self->zap_args->deny_list_path, "%s",
             self->deny_list_path);
    self->zap_args->handshake_rate = options->handshake_rate;
    self->zap_args->handshake_burst = options->handshake_burst < 1 ? 1 : options->handshake_burst;
    self->slots = zhashx_new();
    assert(self->slots);
    if (s_load_slots(self->slots, self->zap_args->allowed_dir, error, error_size) != 0)
        goto failed;
    self->zap = zactor_new(s_zap_actor, self->zap_args);
    assert(self->zap);
    if (self->zap_args->status != 0) {
        byzgd_set_error(error, error_size, "ZAP handler: %s", self->zap_args->error);
        goto failed;
    }
    return self;
failed:
    byzgd_security_destroy(&self);
    return NULL;
}

void
byzgd_security_destroy(byzgd_security_t **self_p)
{
    assert(self_p);
    byzgd_security_t *self = *self_p;
    if (!self)
        return;
    zactor_destroy(&self->zap);
    free(self->zap_args);
    zcert_destroy(&self->server_cert);
    byzgd_denylist_destroy(&self->denylist);
    zhashx_destroy(&self->peers);
    zhashx_destroy(&self->slots);
    free(self);
    *self_p = NULL;
}

static int
s_setsockopt_int(zsock_t *sock, int option, int value, const char *name, char *error,
                 size_t error_size)
{
    if (zmq_setsockopt(zsock_resolve(sock), option, &value, sizeof value) != 0)
        return byzgd_set_error(error, error_size, "setsockopt %s: %s", name, zmq_strerror(errno));
    return 0;
}

// Options both ends share: size caps, small queues, no lingering, dead-peer detection.
static int
s_harden(zsock_t *sock, size_t max_frame_bytes, int high_water_mark, int heartbeat_ivl_ms,
         char *error, size_t error_size)
{
    int64_t max_size = max_frame_bytes ? (int64_t)max_frame_bytes : -1;
    if (zmq_setsockopt(zsock_resolve(sock), ZMQ_MAXMSGSIZE, &max_size, sizeof max_size) != 0)
        return byzgd_set_error(error, error_size, "setsockopt MAXMSGSIZE: %s", zmq_strerror(errno));
    if (s_setsockopt_int(sock, ZMQ_SNDHWM, high_water_mark, "SNDHWM", error, error_size) ||
        s_setsockopt_int(sock, ZMQ_RCVHWM, high_water_mark, "RCVHWM", error, error_size) ||
        s_setsockopt_int(sock, ZMQ_LINGER, 0, "LINGER", error, error_size))
        return -1;
    if (heartbeat_ivl_ms > 0 && (s_setsockopt_int(sock, ZMQ_HEARTBEAT_IVL, heartbeat_ivl_ms,
                                                  "HEARTBEAT_IVL", error, error_size) ||
                                 s_setsockopt_int(sock, ZMQ_HEARTBEAT_TIMEOUT, 5 * heartbeat_ivl_ms,
                                                  "HEARTBEAT_TIMEOUT", error, error_size) ||
                                 s_setsockopt_int(sock, ZMQ_HEARTBEAT_TTL, 5 * heartbeat_ivl_ms,
                                                  "HEARTBEAT_TTL", error, error_size)))
        return -1;
    return 0;
}

int
byzgd_security_server_setup(byzgd_security_t *self, zsock_t *router, char *error, size_t error_size)
{
    assert(self && router);
    if (!self->options.insecure) {
        zcert_apply(self->server_cert, router);
        zsock_set_curve_server(router, 1);
        zsock_set_zap_domain(router, S_ZAP_DOMAIN);
        // Without enforcement a CURVE handshake succeeds with an empty User-Id whenever no
        // ZAP handler answers (docs/ARCHITECTURE.md §7).
        if (s_setsockopt_int(router, ZMQ_ZAP_ENFORCE_DOMAIN, 1, "ZAP_ENFORCE_DOMAIN", error,
                             error_size))
            return -1;
        int check = 0;
        size_t check_size = sizeof check;
        if (zmq_getsockopt(zsock_resolve(router), ZMQ_ZAP_ENFORCE_DOMAIN, &check, &check_size) !=
                0 ||
            check != 1)
            return byzgd_set_error(error, error_size, "ZAP_ENFORCE_DOMAIN did not take effect");
    }
    if (s_harden(router, self->options.max_frame_bytes, self->options.high_water_mark,
                 self->options.heartbeat_ivl_ms, error, error_size) ||
        s_setsockopt_int(router, ZMQ_ROUTER_HANDOVER, 0, "ROUTER_HANDOVER", error, error_size) ||
        s_setsockopt_int(router, ZMQ_ROUTER_MANDATORY, 1, "ROUTER_MANDATORY", error, error_size) ||
        s_setsockopt_int(router, ZMQ_SNDTIMEO, 0, "SNDTIMEO", error, error_size))
        return -1;
    return 0;
}

bool
byzgd_security_is_denied(byzgd_security_t *self, const char *identity)
{
    assert(self);
    return byzgd_denylist_contains(self->denylist, identity);
}

int
byzgd_security_ban(byzgd_security_t *self, const char *identity, const char *reason, char *error,
                   size_t error_size)
{
    assert(self && identity);
    if (byzgd_denylist_contains(self->denylist, identity))
        return 0;
    self->stats.bans++;
    byzgd_warn("banning %s: %s", identity, reason ? reason : "banned");
    return byzgd_denylist_add(self->denylist, identity, reason, error, error_size);
}

static s_peer_t *
s_peer(byzgd_security_t *self, const char *identity, double now_s)
{
    s_peer_t *peer = zhashx_lookup(self->peers, identity);
    if (peer)
        return peer;
    if (zhashx_size(self->peers) >= S_PEERS_MAX)
        // Only reachable in insecure mode (keys are bounded by the allow-list): forgetting
        // refills buckets, which is the price of bounded memory there.
        zhashx_purge(self->peers);
    peer = calloc(1, sizeof *peer);
    assert(peer);
    peer->bucket.tokens = self->options.message_burst;
    peer->bucket.updated_s = now_s;
    peer->bytes.tokens = self->options.byte_burst;
    peer->bytes.updated_s = now_s;
    peer->rejected.tokens = self->options.rejected_byte_burst;
    peer->rejected.updated_s = now_s;
    zhashx_insert(self->peers, identity, peer);
    return peer;
}

bool
byzgd_security_strike(byzgd_security_t *self, const char *identity, const char *reason)
{
    assert(self && identity);
    self->stats.strikes++;
    s_peer_t *peer = s_peer(self, identity, byzgd_monotonic_s());
    peer->strikes++;
    if (self->options.strikes_to_ban == 0 || peer->strikes < self->options.strikes_to_ban)
        return false;
    char text[256], error[256];
    snprintf(text, sizeof text, "%llu strikes, last: %s", (unsigned long long)peer->strikes,
             reason ? reason : "?");
    if (byzgd_security_ban(self, identity, text, error, sizeof error) != 0)
        byzgd_warn("%s", error);
    return true;
}

bool
byzgd_security_rejected(byzgd_security_t *self, const char *identity, const char *reason)
{
    assert(self && identity);
    s_peer_t *peer = zhashx_lookup(self->peers, identity);
    if (!peer || self->options.rejected_byte_rate <= 0)
        return false;
    double now_s = byzgd_monotonic_s();
    if (s_bucket_take_amount(&peer->rejected, self->options.rejected_byte_rate,
                             self->options.rejected_byte_burst, now_s, (double)peer->last_bytes))
        return false;
    // Out of budget: this rejection is a strike, and the bucket starts over (one strike per
    // burst's worth of rejected bytes, not one per message).
    peer->rejected.tokens = self->options.rejected_byte_burst;
    self->stats.rejected_byte_strikes++;
    char text[160];
    snprintf(text, sizeof text, "rejected bytes over %.0f MiB/s (%s)",
             self->options.rejected_byte_rate / (1024 * 1024), reason ? reason : "?");
    return byzgd_security_strike(self, identity, text);
}

// The identity of a peer from a received body frame; "" if none.
static void
s_identity(byzgd_security_t *self, zframe_t *routing, zframe_t *body,
           char identity[BYZGD_IDENTITY_SIZE])
{
    identity[0] = '\0';
    if (self->options.insecure) {
        // Unsafe by construction: the peer chose this id. Hex, truncated to fit.
        static const char hex[] = "0123456789abcdef";
        int length = snprintf(identity, BYZGD_IDENTITY_SIZE, "insecure:");
        const byte *data = zframe_data(routing);
        for (size_t i = 0; i < zframe_size(routing) && length + 2 < BYZGD_IDENTITY_SIZE; i++) {
            identity[length++] = hex[data[i] >> 4];
            identity[length++] = hex[data[i] & 15];
        }
        identity[length] = '\0';
        return;
    }
    const char *user_id = body ? zframe_meta(body, "User-Id") : NULL;
    if (user_id && strlen(user_id) == S_KEY_LENGTH)
        memcpy(identity, user_id, S_KEY_LENGTH + 1);
}

// Admission of [routing, frames] whose body frame count is `frames` (maybe > those kept).
static byzgd_admit_t
s_admit(byzgd_security_t *self, zframe_t *routing, zframe_t *body, size_t frames,
        char identity[BYZGD_IDENTITY_SIZE])
{
    s_identity(self, routing, body, identity);
    if (zframe_size(routing) > 0 && zframe_data(routing)[0] == 0)
        // Auto-generated (anonymous DEALER) or planted by a peer; harmless here because
        // nothing is keyed by the routing id, counted for the operator (SECURITY.md).
        self->stats.zero_prefixed++;
    if (frames == 0) {
        self->stats.empty++;
        return BYZGD_ADMIT_EMPTY;
    }
    if (!identity[0]) {
        self->stats.no_identity++;
        return BYZGD_ADMIT_NO_IDENTITY;
    }
    if (byzgd_denylist_contains(self->denylist, identity)) {
        self->stats.denied++;
        return BYZGD_ADMIT_DENIED;
    }
    double now_s = byzgd_monotonic_s();
    s_peer_t *peer = s_peer(self, identity, now_s);
    if (!s_bucket_take(&peer->bucket, self->options.message_rate, self->options.message_burst,
                       now_s)) {
        self->stats.rate_limited++;
        if (!peer->warned) {
            byzgd_warn("%s exceeds %.0f messages/s: dropping", identity,
                       self->options.message_rate);
            peer->warned = true;
        }
        byzgd_security_strike(self, identity, "message rate");
        return BYZGD_ADMIT_RATE_LIMITED;
    }
    // Bytes, beside messages: full-size messages at the message rate would be gigabytes a
    // second at large d (SECURITY.md §6). An unset budget (0) does not limit.
    size_t bytes = body ? zframe_size(body) : 0;
    if (self->options.byte_rate > 0 &&
        !s_bucket_take_amount(&peer->bytes, self->options.byte_rate, self->options.byte_burst,
                              now_s, (double)bytes)) {
        self->stats.rate_limited++;
        self->stats.byte_limited++;
        if (!peer->warned_bytes) {
            byzgd_warn("%s exceeds %.0f MiB/s: dropping", identity,
                       self->options.byte_rate / (1024 * 1024));
            peer->warned_bytes = true;
        }
        byzgd_security_strike(self, identity, "byte rate");
        return BYZGD_ADMIT_RATE_LIMITED;
    }
    peer->last_bytes = bytes;
    if (frames > self->options.max_frames) {
        self->stats.too_many_frames++;
        byzgd_security_strike(self, identity, "too many frames");
        return BYZGD_ADMIT_TOO_MANY_FRAMES;
    }
    self->stats.admitted++;
    return BYZGD_ADMIT_OK;
}

byzgd_admit_t
byzgd_security_recv(byzgd_security_t *self, zsock_t *router, zmsg_t **message_p,
                    char identity[BYZGD_IDENTITY_SIZE])
{
    assert(self && router && message_p && identity);
    *message_p = NULL;
    identity[0] = '\0';
    zframe_t *routing = zframe_recv(router);
    if (!routing)
        return BYZGD_ADMIT_NOTHING;
    zmsg_t *message = zmsg_new();
    assert(message);
    bool more = zframe_more(routing);
    zmsg_append(message, &routing);
    size_t frames = 0;
    while (more) {
        // The rest of a message is already complete in libzmq's pipe (it hands over whole
        // messages only), so these receives never wait for the network.
        zframe_t *frame = zframe_recv(router);
        if (!frame)
            break;
        more = zframe_more(frame);
        frames++;
        if (frames <= self->options.max_frames)
            zmsg_append(message, &frame);
        else
            zframe_destroy(&frame);
    }
    // Two statements: the order of evaluation of function arguments is unspecified.
    zframe_t *routing_frame = zmsg_first(message);
    zframe_t *body = zmsg_next(message);
    byzgd_admit_t verdict = s_admit(self, routing_frame, body, frames, identity);
    if (verdict == BYZGD_ADMIT_DENIED || verdict == BYZGD_ADMIT_RATE_LIMITED) {
        // Only the return address is kept: the caller may answer with an ERROR.
        zframe_t *address = zmsg_pop(message);
        zmsg_destroy(&message);
        message = zmsg_new();
        assert(message);
        zmsg_append(message, &address);
    }
    if (verdict == BYZGD_ADMIT_OK || verdict == BYZGD_ADMIT_DENIED ||
        verdict == BYZGD_ADMIT_RATE_LIMITED)
        *message_p = message;
    else
        zmsg_destroy(&message);
    return verdict;
}

int
byzgd_security_slot(const byzgd_security_t *self, const char *identity, size_t *slot_out)
{
    static const char insecure_prefix[] = "insecure:";
    if (!self->options.insecure) {
        uintptr_t value = self->slots ? (uintptr_t)zhashx_lookup(self->slots, identity) : 0;
        if (value == 0)
            return -1;
        *slot_out = (size_t)(value - 1);
        return 0;
    }
    // Insecure identities are "insecure:" + the routing id in hex (s_identity).
    if (strncmp(identity, insecure_prefix, sizeof insecure_prefix - 1) != 0)
        return -1;
    const char *hex = identity + sizeof insecure_prefix - 1;
    char name[BYZGD_IDENTITY_SIZE / 2] = "";
    size_t length = strlen(hex) / 2;
    if (length >= sizeof name)
        return -1;
    for (size_t i = 0; i < length; i++) {
        unsigned byte = 0;
        if (sscanf(hex + 2 * i, "%2x", &byte) != 1 || byte == 0)
            return -1;
        name[i] = (char)byte;
    }
    name[length] = '\0';
    return byzgd_keys_slot_of_name(name, slot_out);
}

void
byzgd_security_stats(byzgd_security_t *self, byzgd_security_stats_t *stats)
{
    assert(self && stats);
    *stats = self->stats;
    if (self->zap) {
        zstr_send(self->zap, "STATS");
        uint64_t ok = 0, unknown = 0, denied = 0, limited = 0;
        if (zsock_recv(self->zap, "8888", &ok, &unknown, &denied, &limited) == 0) {
            stats->handshakes_ok = ok;
            stats->handshakes_unknown = unknown;
            stats->handshakes_denied = denied;
            stats->handshakes_limited = limited;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Client side

int
byzgd_security_client_setup(zsock_t *dealer, bool insecure, const char *worker_cert_path,
                            const char *server_cert_path, size_t max_frame_bytes, char *error,
                            size_t error_size)
{
    assert(dealer);
    if (!insecure) {
        if (!worker_cert_path || !server_cert_path)
            return byzgd_set_error(error, error_size,
                                   "a worker needs its certificate and the server's (or "
                                   "--insecure)");
        if (byzgd_keys_check_certificate(worker_cert_path, true, NULL, error, error_size) != 0 ||
            byzgd_keys_check_certificate(server_cert_path, false, NULL, error, error_size) != 0)
            return -1;
        zcert_t *worker = zcert_load(worker_cert_path);
        if (!worker)
            return byzgd_set_error(error, error_size, "cannot load certificate %s",
                                   worker_cert_path);
        zcert_t *server = zcert_load(server_cert_path);
        if (!server) {
            zcert_destroy(&worker);
            return byzgd_set_error(error, error_size, "cannot load server certificate %s",
                                   server_cert_path);
        }
        zcert_apply(worker, dealer);
        zsock_set_curve_serverkey(dealer, zcert_public_txt(server));
        zcert_destroy(&worker);
        zcert_destroy(&server);
    }
    // An unguessable routing id (a security token, hence libsodium rather than the seeded
    // byzgd_rng_t): nobody can claim it first to lock this worker out, and a nonzero first
    // byte keeps it out of libzmq's auto-generated id space (SECURITY.md, routing ids).
    if (sodium_init() < 0)
        return byzgd_set_error(error, error_size, "libsodium initialisation failed");
    unsigned char routing_id[BYZGD_ROUTING_ID_SIZE];
    randombytes_buf(routing_id, sizeof routing_id);
    if (routing_id[0] == 0)
        routing_id[0] = 1;
    if (zmq_setsockopt(zsock_resolve(dealer), ZMQ_ROUTING_ID, routing_id, sizeof routing_id) != 0)
        return byzgd_set_error(error, error_size, "setsockopt ROUTING_ID: %s", zmq_strerror(errno));
    // Messages are never queued for a server that is not (yet, or any more) connected, so a
    // restarted server never receives messages written for its predecessor.
    if (s_setsockopt_int(dealer, ZMQ_IMMEDIATE, 1, "IMMEDIATE", error, error_size))
        return -1;
    return s_harden(dealer, max_frame_bytes, 4, 1000, error, error_size);
}

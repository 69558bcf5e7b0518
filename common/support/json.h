/*  json.h — a small JSON writer for metrics lines and tool output (no reader: byzgd never
    parses JSON from peers). Commas are placed automatically; non-finite numbers are
    written as null, so every line stays valid JSON.

    byzgd_json_t *json = byzgd_json_new();
    byzgd_json_object_begin(json);
    byzgd_json_key_int(json, "round", 3);
    byzgd_json_key_array_begin(json, "selected");
    byzgd_json_int(json, 4);
    byzgd_json_array_end(json);
    byzgd_json_object_end(json);
    puts(byzgd_json_text(json));   // {"round":3,"selected":[4]}
    byzgd_json_destroy(&json); */
#ifndef BYZGD_JSON_H
#define BYZGD_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct byzgd_json_t byzgd_json_t;

byzgd_json_t *byzgd_json_new(void);
void byzgd_json_destroy(byzgd_json_t **self_p);
// Empties the text so the writer can build the next line without reallocating.
void byzgd_json_reset(byzgd_json_t *self);
// The text built so far (borrowed, valid until the next call on this writer).
const char *byzgd_json_text(const byzgd_json_t *self);
size_t byzgd_json_length(const byzgd_json_t *self);

void byzgd_json_object_begin(byzgd_json_t *self);
void byzgd_json_object_end(byzgd_json_t *self);
void byzgd_json_array_begin(byzgd_json_t *self);
void byzgd_json_array_end(byzgd_json_t *self);

// Values (inside an array, or after byzgd_json_key()).
void byzgd_json_key(byzgd_json_t *self, const char *key);
void byzgd_json_int(byzgd_json_t *self, int64_t value);
void byzgd_json_double(byzgd_json_t *self, double value);
void byzgd_json_string(byzgd_json_t *self, const char *value);
void byzgd_json_bool(byzgd_json_t *self, bool value);

// Key and value in one call, inside an object.
void byzgd_json_key_int(byzgd_json_t *self, const char *key, int64_t value);
void byzgd_json_key_double(byzgd_json_t *self, const char *key, double value);
void byzgd_json_key_string(byzgd_json_t *self, const char *key, const char *value);
void byzgd_json_key_bool(byzgd_json_t *self, const char *key, bool value);
void byzgd_json_key_array_begin(byzgd_json_t *self, const char *key);
void byzgd_json_key_object_begin(byzgd_json_t *self, const char *key);

#endif

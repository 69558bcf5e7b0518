/*  json.c — JSON writer. Nesting is tracked in a bit stack (depth ≤ 64): one bit per open
    container telling whether it already holds an element, i.e. whether a comma is due. */
#include "json.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct byzgd_json_t {
    char *text;
    size_t length, capacity;
    uint64_t has_element; // bit k: container at depth k already has an element
    unsigned depth;
    bool after_key; // a key was written; the next value needs no comma
};

byzgd_json_t *
byzgd_json_new(void)
{
    byzgd_json_t *self = calloc(1, sizeof *self);
    if (!self)
        abort();
    self->capacity = 256;
    self->text = malloc(self->capacity);
    if (!self->text)
        abort();
    self->text[0] = '\0';
    return self;
}

void
byzgd_json_destroy(byzgd_json_t **self_p)
{
    if (self_p && *self_p) {
        free((*self_p)->text);
        free(*self_p);
        *self_p = NULL;
    }
}

void
byzgd_json_reset(byzgd_json_t *self)
{
    self->length = 0;
    self->text[0] = '\0';
    self->has_element = 0;
    self->depth = 0;
    self->after_key = false;
}

const char *
byzgd_json_text(const byzgd_json_t *self)
{
    return self->text;
}

size_t
byzgd_json_length(const byzgd_json_t *self)
{
    return self->length;
}

static void
s_append(byzgd_json_t *self, const char *bytes, size_t count)
{
    if (self->length + count + 1 > self->capacity) {
        while (self->length + count + 1 > self->capacity)
            self->capacity *= 2;
        self->text = realloc(self->text, self->capacity);
        if (!self->text)
            abort();
    }
    memcpy(self->text + self->length, bytes, count);
    self->length += count;
    self->text[self->length] = '\0';
}

static void s_appendf(byzgd_json_t *self, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void
s_appendf(byzgd_json_t *self, const char *fmt, ...)
{
    char buffer[64];
    va_list args;
    va_start(args, fmt);
    int count = vsnprintf(buffer, sizeof buffer, fmt, args);
    va_end(args);
    assert(count >= 0 && (size_t)count < sizeof buffer);
    s_append(self, buffer, (size_t)count);
}

// Writes the comma due before a value, and marks the current container non-empty.
static void
s_before_value(byzgd_json_t *self)
{
    if (self->after_key) {
        self->after_key = false;
        return;
    }
    if (self->depth > 0) {
        uint64_t bit = 1ULL << (self->depth - 1);
        if (self->has_element & bit)
            s_append(self, ",", 1);
        self->has_element |= bit;
    }
}

static void
s_open(byzgd_json_t *self, char bracket)
{
    s_before_value(self);
    s_append(self, &bracket, 1);
    assert(self->depth < 64);
    self->depth++;
    self->has_element &= ~(1ULL << (self->depth - 1));
}

static void
s_close(byzgd_json_t *self, char bracket)
{
    assert(self->depth > 0);
    self->depth--;
    s_append(self, &bracket, 1);
}

void
byzgd_json_object_begin(byzgd_json_t *self)
{
    s_open(self, '{');
}

void
byzgd_json_object_end(byzgd_json_t *self)
{
    s_close(self, '}');
}

void
byzgd_json_array_begin(byzgd_json_t *self)
{
    s_open(self, '[');
}

void
byzgd_json_array_end(byzgd_json_t *self)
{
    s_close(self, ']');
}

static void
s_quoted(byzgd_json_t *self, const char *value)
{
    s_append(self, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char escaped[2] = {'\\', (char)*p};
            s_append(self, escaped, 2);
        } else if (*p < 0x20)
            s_appendf(self, "\\u%04x", *p);
        else
            s_append(self, (const char *)p, 1);
    }
    s_append(self, "\"", 1);
}

void
byzgd_json_key(byzgd_json_t *self, const char *key)
{
    s_before_value(self);
    s_quoted(self, key);
    s_append(self, ":", 1);
    self->after_key = true;
}

void
byzgd_json_int(byzgd_json_t *self, int64_t value)
{
    s_before_value(self);
    s_appendf(self, "%" PRId64, value);
}

void
byzgd_json_double(byzgd_json_t *self, double value)
{
    s_before_value(self);
    if (isfinite(value))
        s_appendf(self, "%.9g", value);
    else
        s_append(self, "null", 4);
}

void
byzgd_json_string(byzgd_json_t *self, const char *value)
{
    s_before_value(self);
    s_quoted(self, value ? value : "");
}

void
byzgd_json_bool(byzgd_json_t *self, bool value)
{
    s_before_value(self);
    s_append(self, value ? "true" : "false", value ? 4 : 5);
}

void
byzgd_json_key_int(byzgd_json_t *self, const char *key, int64_t value)
{
    byzgd_json_key(self, key);
    byzgd_json_int(self, value);
}

void
byzgd_json_key_double(byzgd_json_t *self, const char *key, double value)
{
    byzgd_json_key(self, key);
    byzgd_json_double(self, value);
}

void
byzgd_json_key_string(byzgd_json_t *self, const char *key, const char *value)
{
    byzgd_json_key(self, key);
    byzgd_json_string(self, value);
}

void
byzgd_json_key_bool(byzgd_json_t *self, const char *key, bool value)
{
    byzgd_json_key(self, key);
    byzgd_json_bool(self, value);
}

void
byzgd_json_key_array_begin(byzgd_json_t *self, const char *key)
{
    byzgd_json_key(self, key);
    byzgd_json_array_begin(self);
}

void
byzgd_json_key_object_begin(byzgd_json_t *self, const char *key)
{
    byzgd_json_key(self, key);
    byzgd_json_object_begin(self);
}

/*  metrics_line.c — a bounded recursive-descent JSON scanner for one metrics line. */
#include "metrics_line.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_DEPTH 16

typedef struct {
    const char *text;
    size_t length, position;
} s_scanner_t;

static void
s_skip_space(s_scanner_t *scanner)
{
    while (scanner->position < scanner->length) {
        char c = scanner->text[scanner->position];
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
            return;
        scanner->position++;
    }
}

static bool
s_peek(const s_scanner_t *scanner, char c)
{
    return scanner->position < scanner->length && scanner->text[scanner->position] == c;
}

// A string; its raw contents (escapes not decoded) are returned through start/size.
static int
s_string(s_scanner_t *scanner, const char **start, size_t *size)
{
    if (!s_peek(scanner, '"'))
        return -1;
    size_t begin = ++scanner->position;
    while (scanner->position < scanner->length) {
        unsigned char c = (unsigned char)scanner->text[scanner->position];
        if (c == '"') {
            if (start)
                *start = scanner->text + begin;
            if (size)
                *size = scanner->position - begin;
            scanner->position++;
            return 0;
        }
        if (c < 0x20)
            return -1;
        scanner->position += c == '\\' ? 2 : 1;
    }
    return -1;
}

static int
s_number(s_scanner_t *scanner, double *value)
{
    char buffer[64];
    size_t begin = scanner->position, count = 0;
    while (scanner->position < scanner->length) {
        char c = scanner->text[scanner->position];
        if (!((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'))
            break;
        scanner->position++;
        count++;
    }
    if (count == 0 || count >= sizeof buffer)
        return -1;
    memcpy(buffer, scanner->text + begin, count);
    buffer[count] = '\0';
    char *end = NULL;
    double number = strtod(buffer, &end);
    if (*end)
        return -1;
    if (value)
        *value = number;
    return 0;
}

static int
s_literal(s_scanner_t *scanner, const char *word)
{
    size_t length = strlen(word);
    if (scanner->length - scanner->position < length ||
        memcmp(scanner->text + scanner->position, word, length) != 0)
        return -1;
    scanner->position += length;
    return 0;
}

static int s_value(s_scanner_t *scanner, int depth, double *number, double *sum);

// An object or array; `sum` (may be NULL) accumulates the numbers directly inside it.
static int
s_container(s_scanner_t *scanner, int depth, double *sum)
{
    if (depth >= S_MAX_DEPTH)
        return -1;
    bool object = s_peek(scanner, '{');
    char close = object ? '}' : ']';
    scanner->position++;
    s_skip_space(scanner);
    if (s_peek(scanner, close)) {
        scanner->position++;
        return 0;
    }
    for (;;) {
        s_skip_space(scanner);
        if (object) {
            if (s_string(scanner, NULL, NULL) != 0)
                return -1;
            s_skip_space(scanner);
            if (!s_peek(scanner, ':'))
                return -1;
            scanner->position++;
            s_skip_space(scanner);
        }
        double number = NAN;
        if (s_value(scanner, depth + 1, &number, NULL) != 0)
            return -1;
        if (sum && isfinite(number))
            *sum += number;
        s_skip_space(scanner);
        if (s_peek(scanner, ',')) {
            scanner->position++;
            continue;
        }
        if (s_peek(scanner, close)) {
            scanner->position++;
            return 0;
        }
        return -1;
    }
}

// Any value. A number is stored in *number; a container's direct numbers are added to
// *sum when sum is given.
static int
s_value(s_scanner_t *scanner, int depth, double *number, double *sum)
{
    if (scanner->position >= scanner->length)
        return -1;
    switch (scanner->text[scanner->position]) {
    case '{':
    case '[':
        return s_container(scanner, depth, sum);
    case '"':
        return s_string(scanner, NULL, NULL);
    case 't':
        return s_literal(scanner, "true");
    case 'f':
        return s_literal(scanner, "false");
    case 'n':
        return s_literal(scanner, "null");
    default:
        return s_number(scanner, number);
    }
}

static bool
s_key_is(const char *key, size_t size, const char *name)
{
    return strlen(name) == size && memcmp(key, name, size) == 0;
}

int
byzgd_metrics_line_parse(byzgd_metrics_line_t *out, const char *line, size_t length)
{
    byzgd_metrics_line_t record = {NAN, NAN, NAN, NAN, NAN, NAN, 0, NAN};
    s_scanner_t scanner = {line, length, 0};
    s_skip_space(&scanner);
    if (!s_peek(&scanner, '{'))
        return -1;
    scanner.position++;
    s_skip_space(&scanner);
    if (s_peek(&scanner, '}'))
        scanner.position++;
    else
        for (;;) {
            s_skip_space(&scanner);
            const char *key = NULL;
            size_t key_size = 0;
            if (s_string(&scanner, &key, &key_size) != 0)
                return -1;
            s_skip_space(&scanner);
            if (!s_peek(&scanner, ':'))
                return -1;
            scanner.position++;
            s_skip_space(&scanner);
            double number = NAN, sum = 0;
            bool rejected = s_key_is(key, key_size, "rejected");
            if (s_value(&scanner, 1, &number, rejected ? &sum : NULL) != 0)
                return -1;
            if (rejected)
                record.rejected = isnan(number) ? sum : number;
            else if (s_key_is(key, key_size, "round"))
                record.round = number;
            else if (s_key_is(key, key_size, "elapsed_s"))
                record.elapsed_s = number;
            else if (s_key_is(key, key_size, "train_loss"))
                record.train_loss = number;
            else if (s_key_is(key, key_size, "test_accuracy"))
                record.test_accuracy = number;
            else if (s_key_is(key, key_size, "test_loss"))
                record.test_loss = number;
            else if (s_key_is(key, key_size, "accepted"))
                record.accepted = number;
            else if (s_key_is(key, key_size, "resilience_ratio"))
                record.resilience_ratio = number;
            s_skip_space(&scanner);
            if (s_peek(&scanner, ',')) {
                scanner.position++;
                continue;
            }
            if (s_peek(&scanner, '}')) {
                scanner.position++;
                break;
            }
            return -1;
        }
    s_skip_space(&scanner);
    if (scanner.position != scanner.length)
        return -1;
    *out = record;
    return 0;
}

/*  byzantine_slots.c — see byzantine_slots.h. */
#include "byzantine_slots.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/log.h"

void
byzgd_byzantine_slots_assign(bool *is_byzantine, size_t n, size_t byzantine)
{
    for (size_t slot = 0; slot < n; slot++)
        is_byzantine[slot] = slot + byzantine >= n;
}

int
byzgd_byzantine_slots_write(const char *dir, const bool *is_byzantine, size_t n, char *error,
                            size_t error_size)
{
    char path[4096], temporary[4200];
    snprintf(path, sizeof path, "%s/" BYZGD_BYZANTINE_SLOTS_FILE, dir);
    snprintf(temporary, sizeof temporary, "%s.tmp", path);
    FILE *file = fopen(temporary, "w");
    if (!file)
        return byzgd_set_error(error, error_size, "%s: %s", temporary, strerror(errno));
    bool ok = true;
    for (size_t slot = 0; slot < n; slot++)
        if (is_byzantine[slot])
            ok = fprintf(file, "%zu\n", slot) > 0 && ok;
    ok = fclose(file) == 0 && ok;
    if (!ok || rename(temporary, path) != 0) {
        unlink(temporary);
        return byzgd_set_error(error, error_size, "cannot write %s", path);
    }
    return 0;
}

int
byzgd_byzantine_slots_read(const char *dir, bool *is_byzantine, size_t n, char *error,
                           size_t error_size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/" BYZGD_BYZANTINE_SLOTS_FILE, dir);
    memset(is_byzantine, 0, n * sizeof *is_byzantine);
    FILE *file = fopen(path, "r");
    if (!file)
        return byzgd_set_error(error, error_size, "%s: %s", path, strerror(errno));
    char line[64];
    int status = 0;
    while (status == 0 && fgets(line, sizeof line, file)) {
        char *end = NULL;
        errno = 0;
        unsigned long long slot = strtoull(line, &end, 10);
        if (end == line || errno || (*end != '\n' && *end != '\0') || slot >= n)
            status = byzgd_set_error(error, error_size, "%s: bad line \"%.20s\"", path, line);
        else
            is_byzantine[slot] = true;
    }
    fclose(file);
    return status;
}

int
byzgd_byzantine_slots_count(const size_t *selected, size_t count, const bool *is_byzantine,
                            size_t n)
{
    int kept = 0;
    for (size_t i = 0; i < count; i++)
        kept += selected[i] < n && is_byzantine[selected[i]];
    return kept;
}

// Annotates one line (without its newline) into out. Returns 1 if annotated, else 0.
static int
s_annotate_line(FILE *out, const char *line, const bool *is_byzantine, size_t n)
{
    static const char key[] = "\"selected\":[";
    const char *array = strstr(line, key);
    if (!array || strstr(line, "\"selected_byzantine\"")) {
        fputs(line, out);
        return 0;
    }
    const char *cursor = array + sizeof key - 1;
    int kept = 0;
    while (*cursor && *cursor != ']') {
        char *end = NULL;
        unsigned long long slot = strtoull(cursor, &end, 10);
        if (end == cursor) {
            fputs(line, out); // not a list of slots: leave the line as it is
            return 0;
        }
        kept += slot < n && is_byzantine[slot];
        cursor = *end == ',' ? end + 1 : end;
    }
    if (*cursor != ']') {
        fputs(line, out);
        return 0;
    }
    fwrite(line, 1, (size_t)(cursor + 1 - line), out);
    fprintf(out, ",\"selected_byzantine\":%d", kept);
    fputs(cursor + 1, out);
    return 1;
}

long
byzgd_byzantine_slots_annotate(const char *path, const bool *is_byzantine, size_t n, char *error,
                               size_t error_size)
{
    FILE *in = fopen(path, "r");
    if (!in)
        return byzgd_set_error(error, error_size, "%s: %s", path, strerror(errno));
    char temporary[4200];
    snprintf(temporary, sizeof temporary, "%s.annotating", path);
    FILE *out = fopen(temporary, "w");
    if (!out) {
        fclose(in);
        return byzgd_set_error(error, error_size, "%s: %s", temporary, strerror(errno));
    }
    char *line = NULL;
    size_t capacity = 0;
    ssize_t length;
    long annotated = 0;
    while ((length = getline(&line, &capacity, in)) > 0) {
        bool newline = line[length - 1] == '\n';
        if (newline)
            line[length - 1] = '\0';
        annotated += s_annotate_line(out, line, is_byzantine, n);
        if (newline)
            fputc('\n', out);
    }
    free(line);
    fclose(in);
    bool ok = fflush(out) == 0 && fsync(fileno(out)) == 0;
    ok = fclose(out) == 0 && ok;
    if (!ok || rename(temporary, path) != 0) {
        unlink(temporary);
        return byzgd_set_error(error, error_size, "cannot rewrite %s", path);
    }
    return annotated;
}

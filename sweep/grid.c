/*  grid.c — parsing, expansion and checking of sweep grids (see grid.h). */
#include "grid.h"
#include "cluster/cluster_config.h"
#include "rules/gar.h"
#include "rules/gar_options.h"
#include "support/log.h"
#include "support/options.h"

#include <assert.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_ID_MAX 512

typedef struct {
    char *name;
    char **values;
    size_t value_count;
} s_entry_t;

// A block of lines: the shared lines (blocks[0]) or one [section].
typedef struct {
    char *name;
    s_entry_t *entries;
    size_t count;
} s_block_t;

struct byzgd_grid_t {
    s_block_t *blocks;
    size_t block_count;
    bool sectioned;
    byzgd_grid_run_t *runs;
    size_t run_count;
    byzgd_grid_setting_t **run_settings; // one array per run
    char **ids;
    const char **columns;
    size_t column_count;
};

static int s_error(char *error, size_t error_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

// byzgd_set_error, visibly returning -1 (the static analyser follows this file only).
static int
s_error(char *error, size_t error_size, const char *fmt, ...)
{
    if (error && error_size > 0) {
        va_list args;
        va_start(args, fmt);
        vsnprintf(error, error_size, fmt, args);
        va_end(args);
    }
    return -1;
}

static const char *const s_reserved[] = {"seed", "run-dir", "resume", "bin-dir", "quiet", NULL};

static void *
s_realloc(void *pointer, size_t size)
{
    void *grown = realloc(pointer, size ? size : 1);
    if (!grown)
        abort();
    return grown;
}

static char *
s_strndup(const char *text, size_t length)
{
    char *copy = strndup(text, length);
    if (!copy)
        abort();
    return copy;
}

static void
s_entry_free(s_entry_t *entry)
{
    free(entry->name);
    for (size_t i = 0; i < entry->value_count; i++)
        free(entry->values[i]);
    free(entry->values);
}

static s_entry_t *
s_block_find(s_block_t *block, const char *name)
{
    for (size_t i = 0; i < block->count; i++) {
        assert(block->entries[i].name && name);
        if (strcmp(block->entries[i].name, name) == 0)
            return &block->entries[i];
    }
    return NULL;
}

static void
s_block_remove(s_block_t *block, const char *name)
{
    s_entry_t *entry = s_block_find(block, name);
    if (!entry)
        return;
    s_entry_free(entry);
    size_t index = (size_t)(entry - block->entries);
    memmove(entry, entry + 1, (block->count - index - 1) * sizeof *entry);
    block->count--;
}

static bool
s_blank(char c)
{
    return c == ' ' || c == '\t';
}

// Splits `value` into the entry's values (a list option keeps its value whole) and checks
// each against the option table. Returns 0, or -1 with a message (without origin).
static int
s_entry_parse(s_entry_t *entry, const char *name, const char *value, char *error, size_t error_size)
{
    memset(entry, 0, sizeof *entry);
    for (size_t i = 0; s_reserved[i]; i++)
        if (strcmp(name, s_reserved[i]) == 0)
            return s_error(error, error_size, "'%s' is set by the sweep%s", name,
                           strcmp(name, "seed") == 0 ? " (use 'seeds = 1,2,3')" : "");
    bool seeds = strcmp(name, "seeds") == 0;
    const byzgd_option_t *option = byzgd_cluster_option_find(seeds ? "seed" : name);
    if (!option)
        return s_error(error, error_size, "unknown option '%.64s'", name);
    entry->name = strdup(name);
    if (!entry->name)
        abort();
    bool whole = option->type == BYZGD_OPTION_LIST;
    byzgd_cluster_config_t *scratch = byzgd_cluster_config_new();
    int status = 0;
    for (const char *item = value; item && status == 0;) {
        const char *comma = whole ? NULL : strchr(item, ',');
        size_t length = comma ? (size_t)(comma - item) : strlen(item);
        while (length > 0 && s_blank(*item))
            item++, length--;
        while (length > 0 && s_blank(item[length - 1]))
            length--;
        char *one = s_strndup(item, length);
        entry->values = s_realloc(entry->values, (entry->value_count + 1) * sizeof *entry->values);
        entry->values[entry->value_count++] = one;
        if (length == 0)
            status = s_error(error, error_size, "%s: empty item in '%.64s'", name, value);
        else
            status = byzgd_cluster_config_set(scratch, option->name, one, error, error_size);
        for (size_t i = 0; i + 1 < entry->value_count && status == 0; i++)
            if (strcmp(entry->values[i], one) == 0)
                status = s_error(error, error_size, "%s: '%s' listed twice", name, one);
        item = comma ? comma + 1 : NULL;
    }
    byzgd_cluster_config_destroy(&scratch);
    if (status != 0)
        s_entry_free(entry);
    return status;
}

static s_block_t *
s_add_block(byzgd_grid_t *self, const char *name)
{
    self->blocks = s_realloc(self->blocks, (self->block_count + 1) * sizeof *self->blocks);
    s_block_t *block = &self->blocks[self->block_count++];
    memset(block, 0, sizeof *block);
    block->name = strdup(name);
    if (!block->name)
        abort();
    return block;
}

static void
s_block_add(s_block_t *block, s_entry_t *entry)
{
    block->entries = s_realloc(block->entries, (block->count + 1) * sizeof *block->entries);
    block->entries[block->count++] = *entry;
}

static bool
s_section_name(const char *name)
{
    if (!*name || strlen(name) > 63)
        return false;
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' || *c == '.'))
            return false;
    return true;
}

static int
s_parse(byzgd_grid_t *self, const char *text, size_t size, const char *origin, char *error,
        size_t error_size)
{
    if (size > BYZGD_CLUSTER_CONFIG_MAX_BYTES)
        return s_error(error, error_size, "%s: larger than %d bytes", origin,
                       BYZGD_CLUSTER_CONFIG_MAX_BYTES);
    s_block_t *block = &self->blocks[0];
    char line[BYZGD_CLUSTER_CONFIG_MAX_LINE + 1], message[512];
    byzgd_option_lines_t lines = {text, size, 0, 0};
    char *begin = NULL;
    int got;
    while ((got = byzgd_option_lines_next(&lines, line, sizeof line, &begin, origin, error,
                                          error_size)) == 1) {
        size_t line_number = lines.number;
        if (*begin == '[') {
            size_t length = strlen(begin);
            if (begin[length - 1] != ']')
                return s_error(error, error_size, "%s:%zu: expected '[section]'", origin,
                               line_number);
            begin[length - 1] = '\0';
            if (!s_section_name(begin + 1))
                return s_error(error, error_size,
                               "%s:%zu: section name '%.64s' (a-z, 0-9, '-', '.')", origin,
                               line_number, begin + 1);
            for (size_t i = 1; i < self->block_count; i++)
                if (strcmp(self->blocks[i].name, begin + 1) == 0)
                    return s_error(error, error_size, "%s:%zu: section [%s] twice", origin,
                                   line_number, begin + 1);
            block = s_add_block(self, begin + 1);
            self->sectioned = true;
            continue;
        }
        char *value = NULL;
        if (byzgd_option_line_split(&lines, begin, &value, origin, error, error_size) != 0)
            return -1;
        if (s_block_find(block, begin))
            return s_error(error, error_size, "%s:%zu: '%s' given twice", origin, line_number,
                           begin);
        s_entry_t entry;
        if (s_entry_parse(&entry, begin, value, message, sizeof message) != 0)
            return s_error(error, error_size, "%s:%zu: %s", origin, line_number, message);
        s_block_add(block, &entry);
    }
    return got;
}

static int
s_apply_overrides(byzgd_grid_t *self, const char *const *overrides, size_t count, char *error,
                  size_t error_size)
{
    char message[512];
    for (size_t i = 0; i < count; i++) {
        assert(overrides[i]);
        const char *equals = strchr(overrides[i], '=');
        if (!equals || equals == overrides[i])
            return s_error(error, error_size, "--set %.64s: expected NAME=VALUE", overrides[i]);
        char *name = s_strndup(overrides[i], (size_t)(equals - overrides[i]));
        s_entry_t entry;
        int status = s_entry_parse(&entry, name, equals + 1, message, sizeof message);
        if (status == 0) {
            for (size_t b = 0; b < self->block_count; b++)
                s_block_remove(&self->blocks[b], name);
            s_block_add(&self->blocks[0], &entry);
        } else {
            s_error(error, error_size, "--set %s", message);
        }
        free(name);
        if (status != 0)
            return -1;
    }
    return 0;
}

const char *
byzgd_grid_value(const byzgd_grid_run_t *run, const char *name)
{
    if (strcmp(name, "section") == 0)
        return run->section;
    if (strcmp(name, "seed") == 0)
        return run->seed;
    for (size_t i = 0; i < run->setting_count; i++)
        if (strcmp(run->settings[i].name, name) == 0)
            return run->settings[i].value;
    return "";
}

// Adds the runs of one section (block index b; 0 without sections).
static int
s_expand_block(byzgd_grid_t *self, size_t b, char *error, size_t error_size)
{
    // The entries in force: shared ones not replaced by the section, then the section's.
    s_entry_t *entries[256];
    size_t count = 0;
    s_entry_t *seeds = NULL;
    s_block_t *shared = &self->blocks[0], *section = &self->blocks[b];
    for (size_t pass = 0; pass < 2; pass++) {
        s_block_t *block = pass == 0 ? shared : section;
        if (pass == 1 && b == 0)
            break;
        for (size_t i = 0; i < block->count; i++) {
            s_entry_t *entry = &block->entries[i];
            assert(entry->name);
            if (pass == 0 && b != 0 && s_block_find(section, entry->name))
                continue;
            if (strcmp(entry->name, "seeds") == 0) {
                seeds = entry;
                continue;
            }
            if (count == sizeof entries / sizeof entries[0])
                return s_error(error, error_size, "too many options");
            entries[count++] = entry;
        }
    }
    static const char *const default_seed[] = {"1"};
    const char *const *seed_values = seeds ? (const char *const *)seeds->values : default_seed;
    size_t seed_count = seeds ? seeds->value_count : 1;
    size_t combinations = seed_count;
    for (size_t i = 0; i < count; i++) {
        combinations *= entries[i]->value_count;
        if (combinations + self->run_count > BYZGD_GRID_MAX_RUNS)
            return s_error(error, error_size, "more than %d runs", BYZGD_GRID_MAX_RUNS);
    }
    size_t choice[256] = {0};
    for (size_t k = 0; k < combinations; k++) {
        // Odometer: the seed turns fastest, then the last option.
        size_t rest = k / seed_count;
        for (size_t i = count; i-- > 0;) {
            choice[i] = rest % entries[i]->value_count;
            rest /= entries[i]->value_count;
        }
        byzgd_grid_setting_t *settings = s_realloc(NULL, count * sizeof *settings);
        for (size_t i = 0; i < count; i++)
            settings[i] = (byzgd_grid_setting_t){entries[i]->name, entries[i]->values[choice[i]]};
        self->runs = s_realloc(self->runs, (self->run_count + 1) * sizeof *self->runs);
        self->run_settings =
            s_realloc(self->run_settings, (self->run_count + 1) * sizeof(byzgd_grid_setting_t *));
        self->run_settings[self->run_count] = settings;
        self->runs[self->run_count++] =
            (byzgd_grid_run_t){NULL, section->name, seed_values[k % seed_count], settings, count};
    }
    return 0;
}

static void
s_add_column(byzgd_grid_t *self, const char *name)
{
    for (size_t i = 0; i < self->column_count; i++)
        if (strcmp(self->columns[i], name) == 0)
            return;
    self->columns = s_realloc(self->columns, (self->column_count + 1) * sizeof *self->columns);
    self->columns[self->column_count++] = name;
}

static void
s_find_columns(byzgd_grid_t *self)
{
    if (self->sectioned)
        s_add_column(self, "section");
    for (size_t r = 0; r < self->run_count; r++)
        for (size_t i = 0; i < self->runs[r].setting_count; i++) {
            const char *name = self->runs[r].settings[i].name;
            const char *first = byzgd_grid_value(&self->runs[0], name);
            for (size_t other = 1; other < self->run_count; other++)
                if (strcmp(byzgd_grid_value(&self->runs[other], name), first) != 0) {
                    s_add_column(self, name);
                    break;
                }
        }
}

// Appends text, '+' standing for any character but [A-Za-z0-9.-] ('_' separates fields).
static void
s_id_append(char *id, size_t *length, const char *text)
{
    for (const char *c = text; *c && *length + 1 < S_ID_MAX; c++) {
        bool safe = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                    (*c >= '0' && *c <= '9') || *c == '.' || *c == '-';
        id[(*length)++] = safe ? *c : '+';
    }
    id[*length] = '\0';
}

static void
s_id_separate(char *id, size_t *length)
{
    if (*length + 1 < S_ID_MAX) {
        id[(*length)++] = '_';
        id[*length] = '\0';
    }
}

static int
s_compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
s_make_ids(byzgd_grid_t *self, char *error, size_t error_size)
{
    self->ids = s_realloc(NULL, self->run_count * sizeof *self->ids);
    for (size_t r = 0; r < self->run_count; r++) {
        char id[S_ID_MAX];
        size_t length = 0;
        id[0] = '\0';
        for (size_t c = 0; c < self->column_count; c++) {
            const char *name = self->columns[c];
            if (!*byzgd_grid_value(&self->runs[r], name))
                continue; // an option this run leaves at its default
            if (length > 0)
                s_id_separate(id, &length);
            if (strcmp(name, "section") != 0) {
                s_id_append(id, &length, name);
                s_id_append(id, &length, "-");
            }
            s_id_append(id, &length, byzgd_grid_value(&self->runs[r], name));
        }
        if (length > 0)
            s_id_separate(id, &length);
        s_id_append(id, &length, "seed-");
        s_id_append(id, &length, self->runs[r].seed);
        self->ids[r] = strdup(id);
        if (!self->ids[r])
            abort();
        self->runs[r].id = self->ids[r];
    }
    char **sorted = s_realloc(NULL, self->run_count * sizeof *sorted);
    memcpy(sorted, self->ids, self->run_count * sizeof *sorted);
    qsort(sorted, self->run_count, sizeof *sorted, s_compare_strings);
    int status = 0;
    for (size_t r = 1; r < self->run_count && status == 0; r++)
        if (strcmp(sorted[r - 1], sorted[r]) == 0)
            status = s_error(error, error_size,
                             "two runs would share the id '%s' (values differ only in "
                             "characters ids replace by '+')",
                             sorted[r]);
    free(sorted);
    return status;
}

// The rule's precondition for the rows a round aggregates (quorum, else n), with f
// defaulting to the Byzantine count as byzgd-cluster does.
static int
s_check_rule(const byzgd_cluster_config_t *config, char *error, size_t error_size)
{
    byzgd_gar_config_t gar;
    byzgd_gar_config_init(&gar);
    const byzgd_option_section_t *rules = &byzgd_gar_option_section;
    for (size_t i = 0; i < rules->count; i++) {
        const char *name = rules->options[i].name;
        const char *value = byzgd_cluster_config_get(config, name);
        if (value && byzgd_gar_config_parse_option(&gar, name, value, error, error_size) != 0)
            return -1;
    }
    const char *f = byzgd_cluster_config_get(config, "f");
    if (byzgd_gar_config_parse_option(&gar, "f",
                                      f ? f : byzgd_cluster_config_get(config, "byzantine"), error,
                                      error_size) != 0)
        return -1;
    const char *rows = byzgd_cluster_config_get(config, "quorum");
    long long n = strtoll(rows ? rows : byzgd_cluster_config_get(config, "workers"), NULL, 10);
    return byzgd_gar_check(&gar, (size_t)n, error, error_size);
}

// Every run's settings together pass byzgd-cluster's own checks and the rule's
// precondition.
static int
s_check_runs(const byzgd_grid_t *self, char *error, size_t error_size)
{
    char message[512];
    for (size_t r = 0; r < self->run_count; r++) {
        const byzgd_grid_run_t *run = &self->runs[r];
        byzgd_cluster_config_t *config = byzgd_cluster_config_new();
        int status = byzgd_cluster_config_set(config, "seed", run->seed, message, sizeof message);
        for (size_t i = 0; i < run->setting_count && status == 0; i++)
            status = byzgd_cluster_config_set(config, run->settings[i].name, run->settings[i].value,
                                              message, sizeof message);
        if (status == 0)
            status = byzgd_cluster_config_check(config, message, sizeof message);
        if (status == 0)
            status = s_check_rule(config, message, sizeof message);
        byzgd_cluster_config_destroy(&config);
        if (status != 0)
            return s_error(error, error_size, "run %s: %s", run->id, message);
    }
    return 0;
}

byzgd_grid_t *
byzgd_grid_new(const char *text, size_t size, const char *origin, const char *const *overrides,
               size_t override_count, char *error, size_t error_size)
{
    byzgd_grid_t *self = calloc(1, sizeof *self);
    if (!self)
        abort();
    s_add_block(self, ""); // the shared lines
    int status = s_parse(self, text, size, origin, error, error_size);
    if (status == 0)
        status = s_apply_overrides(self, overrides, override_count, error, error_size);
    for (size_t b = self->sectioned ? 1 : 0; b < self->block_count && status == 0; b++)
        status = s_expand_block(self, b, error, error_size);
    if (status == 0 && self->run_count == 0)
        status = s_error(error, error_size, "%s: no run", origin);
    if (status == 0) {
        s_find_columns(self);
        status = s_make_ids(self, error, error_size);
    }
    if (status == 0)
        status = s_check_runs(self, error, error_size);
    if (status != 0)
        byzgd_grid_destroy(&self);
    return self;
}

void
byzgd_grid_destroy(byzgd_grid_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    byzgd_grid_t *self = *self_p;
    for (size_t b = 0; b < self->block_count; b++) {
        for (size_t i = 0; i < self->blocks[b].count; i++)
            s_entry_free(&self->blocks[b].entries[i]);
        free(self->blocks[b].entries);
        free(self->blocks[b].name);
    }
    free(self->blocks);
    for (size_t r = 0; r < self->run_count; r++) {
        free(self->run_settings[r]);
        if (self->ids)
            free(self->ids[r]);
    }
    free(self->run_settings);
    free(self->ids);
    free(self->runs);
    free(self->columns);
    free(self);
    *self_p = NULL;
}

size_t
byzgd_grid_run_count(const byzgd_grid_t *self)
{
    return self->run_count;
}

const byzgd_grid_run_t *
byzgd_grid_run(const byzgd_grid_t *self, size_t index)
{
    assert(index < self->run_count);
    return &self->runs[index];
}

size_t
byzgd_grid_column_count(const byzgd_grid_t *self)
{
    return self->column_count;
}

const char *
byzgd_grid_column(const byzgd_grid_t *self, size_t index)
{
    assert(index < self->column_count);
    return self->columns[index];
}

char *
byzgd_grid_format_run(const byzgd_grid_run_t *run)
{
    size_t capacity = 64, length = 0;
    char *text = s_realloc(NULL, capacity);
    text[0] = '\0';
    for (size_t i = 0; i <= run->setting_count; i++) {
        const char *name = i < run->setting_count ? run->settings[i].name : "seed";
        const char *value = i < run->setting_count ? run->settings[i].value : run->seed;
        size_t need = strlen(name) + strlen(value) + 5;
        if (length + need >= capacity) {
            capacity = 2 * (length + need);
            text = s_realloc(text, capacity);
        }
        length += (size_t)snprintf(text + length, capacity - length, "%s = %s\n", name, value);
    }
    return text;
}

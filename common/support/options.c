/*  options.c — the option tables' value checks, the command-line and `name = value`
    parsers and the --help writer. */
#include "options.h"
#include "log.h"
#include "version.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *
byzgd_version(void)
{
    return BYZGD_VERSION;
}

const byzgd_option_t *
byzgd_options_find(const byzgd_option_section_t *const *sections, const char *name,
                   size_t *section_index)
{
    for (size_t s = 0; sections && sections[s]; s++)
        for (size_t i = 0; i < sections[s]->count; i++)
            if (strcmp(sections[s]->options[i].name, name) == 0) {
                if (section_index)
                    *section_index = s;
                return &sections[s]->options[i];
            }
    return NULL;
}

static const char *
s_dashes(const char *name)
{
    return strlen(name) == 1 ? "-" : "--";
}

static bool
s_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

static bool
s_valid_name(const char *value, size_t length)
{
    if (length == 0 || length > 63 || value[0] == '.' || value[0] == '_' || value[0] == '-')
        return false;
    for (size_t i = 0; i < length; i++)
        if (!s_name_char(value[i]))
            return false;
    return true;
}

static bool
s_valid_list(const char *value)
{
    size_t length = strlen(value);
    if (length == 0 || length > 255)
        return false;
    const char *item = value;
    for (;;) {
        const char *comma = strchr(item, ',');
        size_t item_length = comma ? (size_t)(comma - item) : strlen(item);
        if (!s_valid_name(item, item_length))
            return false;
        if (!comma)
            return true;
        item = comma + 1;
    }
}

// Decimal numbers only: no hex, inf, nan or leading/trailing space that strtod accepts.
static bool
s_decimal_chars(const char *value, bool allow_fraction)
{
    if (!*value)
        return false;
    for (const char *c = value; *c; c++) {
        bool digit = *c >= '0' && *c <= '9';
        bool sign = *c == '-' || *c == '+';
        bool fraction = *c == '.' || *c == 'e' || *c == 'E';
        if (!digit && !sign && !(allow_fraction && fraction))
            return false;
    }
    return true;
}

// Integers up to UINT64_MAX (seeds) and down to LLONG_MIN, compared with the range as
// doubles (every bound in a table is exact in a double).
static int
s_check_int(const byzgd_option_t *option, const char *value, char *error, size_t error_size)
{
    const char *name = option->name;
    char *end = NULL;
    errno = 0;
    double number = 0;
    if (s_decimal_chars(value, false)) {
        if (value[0] == '-')
            number = (double)strtoll(value, &end, 10);
        else
            number = (double)strtoull(value, &end, 10);
    }
    if (!end || *end || errno || end == value)
        return byzgd_set_error(error, error_size, "%s%s: '%.64s' is not an integer", s_dashes(name),
                               name, value);
    if (number < option->min || number > option->max)
        return byzgd_set_error(error, error_size, "%s%s: %s is outside [%.0f, %.0f]",
                               s_dashes(name), name, value, option->min, option->max);
    return 0;
}

const char *
byzgd_option_check(const byzgd_option_t *option, const char *value, char *error, size_t error_size)
{
    assert(option && value);
    const char *name = option->name;
    const char *dashes = s_dashes(name);
    size_t length = strlen(value);
    switch (option->type) {
    case BYZGD_OPTION_INT:
        if (s_check_int(option, value, error, error_size) != 0)
            return NULL;
        break;
    case BYZGD_OPTION_NUMBER: {
        char *end = NULL;
        errno = 0;
        double number = s_decimal_chars(value, true) ? strtod(value, &end) : 0;
        if (!end || *end || errno || !isfinite(number)) {
            byzgd_set_error(error, error_size, "%s%s: '%.64s' is not a number", dashes, name,
                            value);
            return NULL;
        }
        if (number < option->min || number > option->max) {
            byzgd_set_error(error, error_size, "%s%s: %g is outside [%g, %g]", dashes, name, number,
                            option->min, option->max);
            return NULL;
        }
        break;
    }
    case BYZGD_OPTION_NAME:
        if (!s_valid_name(value, length)) {
            byzgd_set_error(error, error_size,
                            "%s%s: '%.64s' is not a name (lower-case letters, digits, "
                            "'-', '_', '.'; at most 63)",
                            dashes, name, value);
            return NULL;
        }
        break;
    case BYZGD_OPTION_LIST:
        if (!s_valid_list(value)) {
            byzgd_set_error(error, error_size,
                            "%s%s: '%.64s' is not a comma-separated list of names", dashes, name,
                            value);
            return NULL;
        }
        break;
    case BYZGD_OPTION_TEXT:
        if (length == 0 || length > BYZGD_OPTION_VALUE_MAX) {
            byzgd_set_error(error, error_size, "%s%s: empty or longer than %d bytes", dashes, name,
                            BYZGD_OPTION_VALUE_MAX);
            return NULL;
        }
        for (size_t i = 0; i < length; i++)
            if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f) {
                byzgd_set_error(error, error_size, "%s%s: control character in value", dashes,
                                name);
                return NULL;
            }
        break;
    case BYZGD_OPTION_FLAG: {
        static const char *const truths[] = {"true", "yes", "on", "1", NULL};
        static const char *const lies[] = {"false", "no", "off", "0", NULL};
        for (size_t i = 0; truths[i]; i++)
            if (strcmp(value, truths[i]) == 0)
                return "true";
        for (size_t i = 0; lies[i]; i++)
            if (strcmp(value, lies[i]) == 0)
                return "false";
        byzgd_set_error(error, error_size, "%s%s: '%.64s' is not true or false", dashes, name,
                        value);
        return NULL;
    }
    }
    return value;
}

// Writes `number` into the integer field of `size` bytes at `target`. Returns false when it
// does not fit (a table whose range is wider than its field: a programmer error).
static bool
s_write_integer(void *target, size_t size, bool is_signed, long long number,
                unsigned long long unsigned_number)
{
    if (is_signed) {
        switch (size) {
        case sizeof(int):
            if (number < INT_MIN || number > INT_MAX)
                return false;
            *(int *)target = (int)number;
            return true;
        case sizeof(long long):
            *(long long *)target = number;
            return true;
        }
        return false;
    }
    switch (size) {
    case sizeof(unsigned):
        if (unsigned_number > UINT_MAX)
            return false;
        *(unsigned *)target = (unsigned)unsigned_number;
        return true;
    case sizeof(unsigned long long):
        *(unsigned long long *)target = unsigned_number;
        return true;
    }
    return false;
}

int
byzgd_option_store(const byzgd_option_t *option, void *state, const char *value, char *error,
                   size_t error_size)
{
    assert(option && state && value);
    const byzgd_option_field_t *field = &option->field;
    void *target = (char *)state + field->offset;
    bool is_signed = field->store == BYZGD_OPTION_STORE_SIGNED;
    switch (field->store) {
    case BYZGD_OPTION_STORE_NONE:
        break;
    case BYZGD_OPTION_STORE_BOOL:
        assert(option->type == BYZGD_OPTION_FLAG);
        *(bool *)target = strcmp(value, "true") == 0;
        return 0;
    case BYZGD_OPTION_STORE_SIGNED:
    case BYZGD_OPTION_STORE_UNSIGNED: {
        long long number = 0;
        unsigned long long unsigned_number = 0;
        errno = 0;
        if (option->type == BYZGD_OPTION_NAME && option->choices) {
            const char *const *names = option->choices();
            size_t index = 0;
            while (names[index] && strcmp(names[index], value) != 0)
                index++;
            if (!names[index]) {
                char list[512];
                byzgd_options_join(names, list, sizeof list);
                return byzgd_set_error(error, error_size, "unknown %s '%.64s' (%s)", option->name,
                                       value, list);
            }
            number = (long long)index;
            unsigned_number = index;
        } else {
            assert(option->type == BYZGD_OPTION_INT);
            if (is_signed)
                number = strtoll(value, NULL, 10);
            else if (value[0] != '-')
                unsigned_number = strtoull(value, NULL, 10);
            else
                errno = ERANGE; // a negative value for an unsigned field
        }
        bool fits = errno != ERANGE &&
                    s_write_integer(target, field->size, is_signed, number, unsigned_number);
        if (fits)
            return 0;
        assert(!"an option's range is wider than its field");
        return byzgd_set_error(error, error_size, "--%s: %s does not fit", option->name, value);
    }
    case BYZGD_OPTION_STORE_DOUBLE:
        assert(option->type == BYZGD_OPTION_NUMBER);
        *(double *)target = strtod(value, NULL);
        return 0;
    case BYZGD_OPTION_STORE_CHARS:
        if (strlen(value) >= field->size)
            return byzgd_set_error(error, error_size, "--%s: value too long", option->name);
        memcpy(target, value, strlen(value) + 1);
        return 0;
    case BYZGD_OPTION_STORE_STRING:
        *(const char **)target = value;
        return 0;
    }
    assert(!"an option row without a hook or a field in a section without an apply function");
    return byzgd_set_error(error, error_size, "--%s: nowhere to store it", option->name);
}

// A checked value into `state`: the option's hook, else its field.
static int
s_set(const byzgd_option_t *option, void *state, const char *value, char *error, size_t error_size)
{
    if (option->hook)
        return option->hook(state, option, value, error, error_size);
    return byzgd_option_store(option, state, value, error, error_size);
}

// Checks one value and applies it to the section's state: with the section's apply
// function if it has one, else with the option's hook or field.
static int
s_apply(const byzgd_option_section_t *const *sections, size_t section_index,
        const byzgd_option_t *option, const char *value, void *const *states, char *error,
        size_t error_size)
{
    const byzgd_option_section_t *section = sections[section_index];
    const char *checked = byzgd_option_check(option, value, error, error_size);
    if (!checked)
        return -1;
    void *state = states ? states[section_index] : NULL;
    if (section->apply)
        return section->apply(state, section, option, checked, error, error_size);
    return s_set(option, state, checked, error, error_size);
}

int
byzgd_options_set(const byzgd_option_section_t *const *sections, void *state, const char *name,
                  const char *value, char *error, size_t error_size)
{
    assert(sections && state && name);
    while (*name == '-')
        name++;
    const byzgd_option_t *option = byzgd_options_find(sections, name, NULL);
    if (!option)
        return 1;
    if (option->type == BYZGD_OPTION_FLAG && (!value || !*value))
        value = "true";
    const char *checked = byzgd_option_check(option, value ? value : "", error, error_size);
    if (!checked)
        return -1;
    return s_set(option, state, checked, error, error_size);
}

int
byzgd_options_parse(const byzgd_program_t *program, int argc, char **argv, void *const *states,
                    int *first_positional, char *error, size_t error_size)
{
    assert(program && argv && argc >= 1);
    // Positional arguments in order of appearance; moved behind the options at the end.
    char **positional = calloc((size_t)argc, sizeof *positional);
    if (!positional)
        abort();
    int count = 0, result = 0;
    for (int i = 1; i < argc && result == 0; i++) {
        char *argument = argv[i];
        if (strcmp(argument, "--") == 0) {
            while (++i < argc)
                positional[count++] = argv[i];
            break;
        }
        if (argument[0] != '-' || argument[1] == '\0') {
            positional[count++] = argument;
            continue;
        }
        if (strcmp(argument, "-h") == 0 || strcmp(argument, "--help") == 0) {
            byzgd_options_print_help(program, stdout);
            result = 1;
            break;
        }
        if (strcmp(argument, "--version") == 0) {
            printf("%s (byzgd) %s\n", program->name, byzgd_version());
            result = 1;
            break;
        }
        char name[64];
        const char *body = argument[1] == '-' ? argument + 2 : argument + 1;
        const char *equals = strchr(body, '=');
        size_t length = equals ? (size_t)(equals - body) : strlen(body);
        size_t section = 0;
        const byzgd_option_t *option = NULL;
        // "-x" only for one-letter names; "--name" for every name.
        if (length > 0 && length < sizeof name && (argument[1] == '-' || length == 1)) {
            memcpy(name, body, length);
            name[length] = '\0';
            option = byzgd_options_find(program->sections, name, &section);
        }
        const char *value = NULL;
        if (!option)
            result = byzgd_set_error(error, error_size, "unknown option %.64s", argument);
        else if (equals)
            value = equals + 1;
        else if (option->type == BYZGD_OPTION_FLAG)
            value = "true";
        else if (i + 1 < argc)
            value = argv[++i];
        else
            result = byzgd_set_error(error, error_size, "%s%s needs a value", s_dashes(name), name);
        if (value)
            result = s_apply(program->sections, section, option, value, states, error, error_size);
    }
    if (result == 0 && count < program->positional_min)
        result = byzgd_set_error(error, error_size, "missing argument (usage: %s %s)",
                                 program->name, program->synopsis);
    if (result == 0 && program->positional_max >= 0 && count > program->positional_max)
        result = byzgd_set_error(error, error_size, "unexpected argument '%.64s'",
                                 positional[program->positional_max]);
    if (result == 0) {
        memcpy(argv + argc - count, positional, (size_t)count * sizeof *positional);
        if (first_positional)
            *first_positional = argc - count;
    }
    free(positional);
    return result;
}

void
byzgd_options_apply_defaults(const byzgd_option_section_t *const *sections, void *const *states)
{
    assert(sections);
    char error[256];
    for (size_t s = 0; sections[s]; s++)
        for (size_t i = 0; i < sections[s]->count; i++) {
            const byzgd_option_t *option = &sections[s]->options[i];
            if (!option->default_value)
                continue;
            int status =
                s_apply(sections, s, option, option->default_value, states, error, sizeof error);
            assert(status == 0 && "an option table's default fails its own check");
            (void)status;
        }
}

int
byzgd_options_main(const byzgd_program_t *program, int argc, char **argv, void *const *states,
                   int *first_positional)
{
    char error[1024];
    int result =
        byzgd_options_parse(program, argc, argv, states, first_positional, error, sizeof error);
    if (result == 1)
        return 0;
    if (result != 0) {
        byzgd_error("%s (see --help)", error);
        return 2;
    }
    return BYZGD_OPTIONS_CONTINUE;
}

int
byzgd_options_main_one(const byzgd_program_t *program, int argc, char **argv, void *state,
                       int *first_positional)
{
    assert(program->sections[0] && !program->sections[1]);
    void *states[] = {state};
    byzgd_options_apply_defaults(program->sections, states);
    return byzgd_options_main(program, argc, argv, states, first_positional);
}

static bool
s_blank(char c)
{
    return c == ' ' || c == '\t';
}

int
byzgd_option_lines_next(byzgd_option_lines_t *lines, char *line, size_t line_size, char **out,
                        const char *origin, char *error, size_t error_size)
{
    assert(lines && line && line_size > 0 && out && origin);
    while (lines->position < lines->size) {
        lines->number++;
        const char *start = lines->text + lines->position;
        const char *newline = memchr(start, '\n', lines->size - lines->position);
        size_t length = newline ? (size_t)(newline - start) : lines->size - lines->position;
        lines->position += length + (newline ? 1 : 0);
        if (length > 0 && start[length - 1] == '\r')
            length--;
        // Explicit -1s: the static analyser reads this file alone (byzgd_set_error's -1 is
        // in log.c), and the callers rely on *out being set whenever 1 is returned.
        if (length >= line_size) {
            byzgd_set_error(error, error_size, "%s:%zu: line longer than %zu bytes", origin,
                            lines->number, line_size - 1);
            return -1;
        }
        for (size_t i = 0; i < length; i++) {
            unsigned char c = (unsigned char)start[i];
            if ((c < 0x20 && c != '\t') || c == 0x7f) {
                byzgd_set_error(error, error_size, "%s:%zu: control character (byte 0x%02x)",
                                origin, lines->number, c);
                return -1;
            }
        }
        memcpy(line, start, length);
        line[length] = '\0';
        char *begin = line, *end = line + length;
        while (begin < end && s_blank(*begin))
            begin++;
        while (end > begin && s_blank(end[-1]))
            *--end = '\0';
        if (begin == end || *begin == '#')
            continue;
        *out = begin;
        return 1;
    }
    return 0;
}

int
byzgd_option_line_split(const byzgd_option_lines_t *lines, char *line, char **value,
                        const char *origin, char *error, size_t error_size)
{
    char *equals = strchr(line, '=');
    if (!equals)
        return byzgd_set_error(error, error_size, "%s:%zu: expected 'name = value'", origin,
                               lines->number);
    char *name_end = equals;
    while (name_end > line && s_blank(name_end[-1]))
        name_end--;
    *name_end = '\0';
    *value = equals + 1;
    while (s_blank(**value))
        (*value)++;
    return 0;
}

int
byzgd_options_parse_lines(const byzgd_option_section_t *const *sections, const char *text,
                          size_t size, size_t max_bytes, const char *origin, void *const *states,
                          char *error, size_t error_size)
{
    assert((text || size == 0) && origin);
    if (size > max_bytes)
        return byzgd_set_error(error, error_size, "%s: larger than %zu bytes", origin, max_bytes);
    enum { LINE_MAX_BYTES = BYZGD_OPTION_VALUE_MAX + 1 };
    size_t option_count = 0;
    for (size_t s = 0; sections[s]; s++)
        option_count += sections[s]->count;
    // given[k]: option k (counting through the sections) was set, to refuse it twice.
    bool *given = calloc(option_count + 1, sizeof *given);
    if (!given)
        abort();
    char line[LINE_MAX_BYTES + 1];
    char message[256];
    byzgd_option_lines_t lines = {text, size, 0, 0};
    char *begin = NULL, *value = NULL;
    int result = 0;
    while (result == 0) {
        int got =
            byzgd_option_lines_next(&lines, line, sizeof line, &begin, origin, error, error_size);
        if (got <= 0) {
            result = got;
            break;
        }
        result = byzgd_option_line_split(&lines, begin, &value, origin, error, error_size);
        if (result != 0)
            break;
        size_t line_number = lines.number;
        size_t section = 0;
        const byzgd_option_t *option = byzgd_options_find(sections, begin, &section);
        size_t index = 0;
        for (size_t k = 0; option && k < section; k++)
            index += sections[k]->count;
        if (option)
            index += (size_t)(option - sections[section]->options);
        bool twice = option && given[index];
        if (!option)
            result = byzgd_set_error(error, error_size, "%s:%zu: unknown option '%.64s'", origin,
                                     line_number, begin);
        else if (twice)
            result = byzgd_set_error(error, error_size, "%s:%zu: '%s' given twice", origin,
                                     line_number, begin);
        else if (!*value)
            result = byzgd_set_error(error, error_size, "%s:%zu: '%s' has no value", origin,
                                     line_number, begin);
        else if (s_apply(sections, section, option, value, states, message, sizeof message) != 0)
            result = byzgd_set_error(error, error_size, "%s:%zu: %s", origin, line_number, message);
        else
            given[index] = true;
    }
    free(given);
    return result;
}

void
byzgd_options_join(const char *const *names, char *buffer, size_t size)
{
    size_t length = 0;
    if (size == 0)
        return;
    buffer[0] = '\0';
    for (size_t i = 0; names && names[i] && length < size; i++)
        length += (size_t)snprintf(buffer + length, size - length, "%s%s", i ? ", " : "", names[i]);
}

static const char *
s_value_name(const byzgd_option_t *option)
{
    if (option->value_name)
        return option->value_name;
    switch (option->type) {
    case BYZGD_OPTION_INT:
        return "N";
    case BYZGD_OPTION_NUMBER:
        return "X";
    case BYZGD_OPTION_NAME:
        return "NAME";
    case BYZGD_OPTION_LIST:
        return "A,B,...";
    case BYZGD_OPTION_TEXT:
        return "TEXT";
    case BYZGD_OPTION_FLAG:
        break;
    }
    return "";
}

static void
s_print_option(FILE *out, const char *flag, const char *help)
{
    // help2man reads "  -x, --name V   text" lines; long flags get their own line.
    if (strlen(flag) <= 24)
        fprintf(out, "  %-24s  %s\n", flag, help);
    else
        fprintf(out, "  %s\n  %-24s  %s\n", flag, "", help);
}

void
byzgd_options_print_help(const byzgd_program_t *program, FILE *out)
{
    fprintf(out, "Usage: %s %s\n%s.\n", program->name, program->synopsis, program->summary);
    if (program->description)
        fprintf(out, "\n%s", program->description);
    for (size_t s = 0; program->sections && program->sections[s]; s++) {
        const byzgd_option_section_t *section = program->sections[s];
        fprintf(out, "\n%s:\n", section->title ? section->title : "Options");
        for (size_t i = 0; i < section->count; i++) {
            const byzgd_option_t *option = &section->options[i];
            if (!option->help)
                continue;
            char flag[96], help[1024];
            bool flag_type = option->type == BYZGD_OPTION_FLAG;
            snprintf(flag, sizeof flag, "%s%s%s%s", s_dashes(option->name), option->name,
                     flag_type ? "" : " ", flag_type ? "" : s_value_name(option));
            size_t length = (size_t)snprintf(help, sizeof help, "%s", option->help);
            if (option->choices && length < sizeof help) {
                char names[512];
                byzgd_options_join(option->choices(), names, sizeof names);
                length +=
                    (size_t)snprintf(help + length, sizeof help - length, " (one of: %s)", names);
            }
            // A help line may state its default itself: "(default 0: all)".
            if (option->default_value && !flag_type && !strstr(option->help, "(default ") &&
                length < sizeof help)
                snprintf(help + length, sizeof help - length, " (default %s)",
                         option->default_value);
            s_print_option(out, flag, help);
        }
    }
    fprintf(out, "\nCommon options:\n");
    s_print_option(out, "-h, --help", "print this help and exit");
    s_print_option(out, "--version", "print the version and exit");
    if (program->epilog)
        fprintf(out, "\n%s", program->epilog);
}

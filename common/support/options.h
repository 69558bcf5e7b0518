/*  options.h — one table-driven option parser for every byzgd program and configuration
    file. An option is declared once in a table (name, type, range, default, help line,
    and where its value goes: a field of the program's state, or a hook); the same table
    parses the command line and `name = value` configuration lines, checks and stores each
    value, applies the defaults, and writes --help (which help2man turns into the man
    page). Tables are grouped in sections, so a family of options (the rule options of
    rules/gar_options.h, the attack options of learning/attack.h) is declared once and
    embedded by every program that takes it.

    Command line: `--name value`, `--name=value`, `-x value` for a one-letter name,
    a FLAG option without value (or `--name=true|false`), `--` ends the options. Every
    program answers -h/--help and --version on stdout with exit 0, and a bad command line
    with "PROGRAM: unknown option --x (see --help)" on stderr and exit 2.

    typedef struct { long workers; } s_state_t;
    static const byzgd_option_t s_options[] = {
        {"workers", BYZGD_OPTION_INT, 1, 1000, "20", 0, "n, all workers", "N", NULL,
         BYZGD_OPTION_FIELD(s_state_t, workers)},
    };
    static const byzgd_program_t s_program = {
        "byzgd-x", "[options]", "does x", BYZGD_OPTION_ONE_SECTION(s_options, NULL)};
    s_state_t state;  // starts from the table's defaults: workers = 20
    int first = 0, status = byzgd_options_main_one(&s_program, argc, argv, &state, &first);
    if (status != BYZGD_OPTIONS_CONTINUE) return status;

    A program that embeds other sections lists them ({&s_section, &byzgd_gar_option_section,
    NULL}) and calls byzgd_options_main() with one state per section.
*/
#ifndef BYZGD_OPTIONS_H
#define BYZGD_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

// Values of configuration lines and of TEXT options are at most this long.
#define BYZGD_OPTION_VALUE_MAX 1023

typedef enum {
    BYZGD_OPTION_INT,    // decimal integer in [min, max]
    BYZGD_OPTION_NUMBER, // finite decimal number in [min, max]
    BYZGD_OPTION_NAME,   // [a-z0-9][a-z0-9._-]*, at most 63 characters
    BYZGD_OPTION_LIST,   // names separated by single commas, at most 255 characters
    BYZGD_OPTION_TEXT,   // a path, endpoint or spec: 1..1023 bytes, no control characters
    BYZGD_OPTION_FLAG,   // true | false (also yes/no, on/off, 1/0); given as true/false
} byzgd_option_type_t;

typedef struct byzgd_option_t byzgd_option_t;

// How a checked value lands in its section's state (a struct): BOOL for FLAG options;
// SIGNED / UNSIGNED for INT options and for NAME options with choices (the name's index in
// the choices: an enum field); DOUBLE for NUMBER; CHARS copies a text into a char array
// ("--x: value too long" when it does not fit); STRING keeps the value's pointer (fine for
// argv, which outlives the state; a configuration line's value does not: use CHARS).
typedef enum {
    BYZGD_OPTION_STORE_NONE, // not stored: the option's hook or the section's apply does it
    BYZGD_OPTION_STORE_BOOL,
    BYZGD_OPTION_STORE_SIGNED,
    BYZGD_OPTION_STORE_UNSIGNED,
    BYZGD_OPTION_STORE_DOUBLE,
    BYZGD_OPTION_STORE_CHARS,
    BYZGD_OPTION_STORE_STRING,
} byzgd_option_store_t;

typedef struct {
    byzgd_option_store_t store;
    size_t offset, size; // of the field in the state
} byzgd_option_field_t;

// The store kind of a field, from its C type (an enum is an unsigned int here; a char
// array is told from a pointer by the type of its address).
#define BYZGD_OPTION_STORE_OF(lvalue)                                                              \
    _Generic(&(lvalue),                                                                            \
        char(*)[sizeof(lvalue)]: BYZGD_OPTION_STORE_CHARS,                                         \
        default: _Generic((lvalue),                                                                \
            bool: BYZGD_OPTION_STORE_BOOL,                                                         \
            int: BYZGD_OPTION_STORE_SIGNED,                                                        \
            long: BYZGD_OPTION_STORE_SIGNED,                                                       \
            long long: BYZGD_OPTION_STORE_SIGNED,                                                  \
            unsigned: BYZGD_OPTION_STORE_UNSIGNED,                                                 \
            unsigned long: BYZGD_OPTION_STORE_UNSIGNED,                                            \
            unsigned long long: BYZGD_OPTION_STORE_UNSIGNED,                                       \
            double: BYZGD_OPTION_STORE_DOUBLE,                                                     \
            const char *: BYZGD_OPTION_STORE_STRING,                                               \
            char *: BYZGD_OPTION_STORE_NONE)) // a char array is caught above; a pointer: none

// The field `field` of the state type `type`, for an option row:
// {"seconds", BYZGD_OPTION_NUMBER, 0, 1e7, "5", 0, "duration", "T", NULL,
//  BYZGD_OPTION_FIELD(s_options_t, seconds)}
#define BYZGD_OPTION_FIELD(type, field)                                                            \
    {                                                                                              \
        BYZGD_OPTION_STORE_OF(((type *)0)->field), offsetof(type, field),                          \
            sizeof(((type *)0)->field)                                                             \
    }

// An option whose effect is more than a store (a derived value, exclusive options, a name
// with aliases): gets the checked value instead of the plain store, and may call
// byzgd_option_store() itself. Returns 0, or -1 with a one-line message.
typedef int (*byzgd_option_hook_fn)(void *state, const byzgd_option_t *option, const char *value,
                                    char *error, size_t error_size);

struct byzgd_option_t {
    const char *name; // long name without "--"; a one-letter name is also spelled "-x"
    byzgd_option_type_t type;
    double min, max; // INT and NUMBER, inclusive
    // The one place the default is written: applied by byzgd_options_apply_defaults and
    // shown in --help as "(default X)" unless the help line says its default itself.
    const char *default_value;
    unsigned tags;          // the program's own bits (byzgd-cluster: where it forwards it)
    const char *help;       // one line for --help; NULL: an alias not listed
    const char *value_name; // placeholder in --help ("N", "FILE"); NULL: from the type
    // NAME and LIST options choosing from a name table: its NULL-terminated names, listed
    // in --help after the help line (the table stays the one place that spells them).
    const char *const *(*choices)(void);
    // Where the value goes when the section has no apply function: the hook if set, else
    // the field (rows that leave both out belong to a section with an apply function).
    byzgd_option_field_t field;
    byzgd_option_hook_fn hook;
};

typedef struct byzgd_option_section_t byzgd_option_section_t;

// Applies one checked value (FLAG: "true" or "false") to the program's state, for a section
// whose rows are not stored one by one (byzgd-cluster keeps every value as text). Set, it
// takes every option of its section; NULL: each option's hook or field does.
// Returns 0, or -1 with a one-line message.
typedef int (*byzgd_option_apply_fn)(void *state, const byzgd_option_section_t *section,
                                     const byzgd_option_t *option, const char *value, char *error,
                                     size_t error_size);

struct byzgd_option_section_t {
    const char *title; // heading in --help ("Rule options"); NULL: the program's own
    const byzgd_option_t *options;
    size_t count;
    unsigned tags; // OR'ed into each option's tags
    byzgd_option_apply_fn apply;
};

#define BYZGD_OPTION_SECTION(title, table, apply)                                                  \
    {                                                                                              \
        (title), (table), sizeof(table) / sizeof((table)[0]), 0, (apply)                           \
    }

// The NULL-terminated sections of a program whose options are one untitled table of its own,
// applied by `apply`, for the `sections` of a byzgd_program_t (a compound literal: static
// at file scope, alive for the enclosing block inside a function).
#define BYZGD_OPTION_ONE_SECTION(table, apply)                                                     \
    ((const byzgd_option_section_t *const[]){                                                      \
        &(const byzgd_option_section_t)BYZGD_OPTION_SECTION(NULL, table, apply), NULL})

typedef struct {
    const char *name;     // "byzgd-server"
    const char *synopsis; // what follows the name on the usage line: "[options] IN OUT"
    const char *summary;  // one line: what the program is (the man page's NAME line)
    const byzgd_option_section_t *const *sections; // NULL-terminated
    const char *description; // paragraphs printed after the usage line; may be NULL
    const char *epilog;      // printed after the options (exit status ...); may be NULL
    int positional_min;      // positional arguments required
    int positional_max;      // allowed (-1: any number)
} byzgd_program_t;

// The return value of byzgd_options_main() when the program should go on.
#define BYZGD_OPTIONS_CONTINUE (-1)

// The project's version (one string for every program).
const char *byzgd_version(void);

// The option called `name` in `sections` (NULL-terminated), or NULL. *section_index (may
// be NULL) receives the index of its section.
const byzgd_option_t *byzgd_options_find(const byzgd_option_section_t *const *sections,
                                         const char *name, size_t *section_index);

// Checks `value` against the option's type and range. Returns the value to store (the
// value itself, or the static "true"/"false" for a FLAG), or NULL with a message such as
// "--workers: 'abc' is not an integer".
const char *byzgd_option_check(const byzgd_option_t *option, const char *value, char *error,
                               size_t error_size);

// Stores the checked `value` of `option` in its field of `state` (a NAME with choices: the
// index of the name, "unknown NAME 'x' (a, b, c)" if it is none of them).
// Returns 0, or -1 with the message.
int byzgd_option_store(const byzgd_option_t *option, void *state, const char *value, char *error,
                       size_t error_size);

// Sets the option called `name` (leading dashes skipped) of `sections` (NULL-terminated,
// rows stored by field or hook) in the one `state` they share, checked as on the command
// line; a FLAG given NULL or "" is true. For modules offering a by-name setter.
// Returns 0, 1 when no section has `name` (state untouched), -1 with a message.
int byzgd_options_set(const byzgd_option_section_t *const *sections, void *state, const char *name,
                      const char *value, char *error, size_t error_size);

// `states` runs parallel to the sections: an option of sections[i] is applied with
// sections[i]->apply(states[i], ...), so each embedded section gets its own state.

// Parses argv[1..argc). Positional arguments are moved after the options, in order;
// *first_positional (may be NULL) receives the index of the first one (argc if none).
// Returns 0, 1 when --help or --version was printed on stdout, or -1 with a message.
int byzgd_options_parse(const byzgd_program_t *program, int argc, char **argv, void *const *states,
                        int *first_positional, char *error, size_t error_size);

// Applies the default value of every option of `sections` (NULL-terminated) that has one,
// through its section's apply function or its own hook or field, as if it were given: a program
// whose state starts from its table's defaults calls this before parsing, so each default is
// written once (in the table, which --help shows). A default that fails its own option's check or
// apply is a programmer error (assert).
void byzgd_options_apply_defaults(const byzgd_option_section_t *const *sections,
                                  void *const *states);

// byzgd_options_parse() for main(): returns BYZGD_OPTIONS_CONTINUE to go on, 0 after
// --help/--version, or 2 after printing "PROGRAM: message (see --help)" on stderr.
int byzgd_options_main(const byzgd_program_t *program, int argc, char **argv, void *const *states,
                       int *first_positional);

// byzgd_options_main() for a program with a single section (BYZGD_OPTION_ONE_SECTION) and
// its one state, which starts from the table's defaults (byzgd_options_apply_defaults).
int byzgd_options_main_one(const byzgd_program_t *program, int argc, char **argv, void *state,
                           int *first_positional);

// Applies `name = value` lines of text[0..size) (not NUL-terminated; at most
// `max_bytes`, lines at most BYZGD_OPTION_VALUE_MAX + 1 bytes): `#` starts a comment line,
// blank lines are allowed, a name may be given once, every value is checked. `origin`
// names the source in messages: "run.conf:3: unknown option 'wokers'". Stops at the
// first error. Returns 0, or -1 with the message.
int byzgd_options_parse_lines(const byzgd_option_section_t *const *sections, const char *text,
                              size_t size, size_t max_bytes, const char *origin,
                              void *const *states, char *error, size_t error_size);

// A cursor over `name = value` text (configuration files, grid files): its lines are read
// by byzgd_option_lines_next. Start with {text, size, 0, 0}.
typedef struct {
    const char *text;
    size_t size;
    size_t position; // bytes read so far
    size_t number;   // the number of the line read last (from 1), for messages
} byzgd_option_lines_t;

// The next line that is neither blank nor a `#` comment: copied into line[0..line_size)
// without its "\n" or "\r\n", blanks (space, tab) trimmed; *out points at its start.
// Returns 1, 0 at the end of the text, or -1 with "ORIGIN:N: line longer than ..." (more
// than line_size - 1 bytes) or "ORIGIN:N: control character (byte 0xHH)" (any but tab).
int byzgd_option_lines_next(byzgd_option_lines_t *lines, char *line, size_t line_size, char **out,
                            const char *origin, char *error, size_t error_size);

// Cuts a line of byzgd_option_lines_next at its first '=': the name stays in `line`
// (trimmed), *value points at the value (trimmed; may be empty). Returns 0, or -1 with
// "ORIGIN:N: expected 'name = value'".
int byzgd_option_line_split(const byzgd_option_lines_t *lines, char *line, char **value,
                            const char *origin, char *error, size_t error_size);

// Writes the --help text of `program` to `out`.
void byzgd_options_print_help(const byzgd_program_t *program, FILE *out);

// Joins a NULL-terminated name list as "a, b, c" into buffer (truncated to fit).
void byzgd_options_join(const char *const *names, char *buffer, size_t size);

#endif

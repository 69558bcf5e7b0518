/*  log.h — one-line messages on stderr, prefixed with the program's name.
    Errors from outside (files, flags, peers) are reported and returned as -1/NULL; only
    main.c decides to exit. Functions that hand their error text to the caller instead of
    printing it take a (char *error, size_t error_size) pair filled by byzgd_set_error(). */
#ifndef BYZGD_LOG_H
#define BYZGD_LOG_H

#include <stddef.h>

void byzgd_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void byzgd_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void byzgd_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// Formats into `buffer` (always terminated when buffer_size > 0; NULL is allowed).
// Returns -1 so that `return byzgd_set_error(...)` ends an error path.
int byzgd_set_error(char *buffer, size_t buffer_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif

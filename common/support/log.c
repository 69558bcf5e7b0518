/*  log.c — stderr messages, prefixed with the program name the C library keeps. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

static void
s_print(const char *level, const char *fmt, va_list args)
{
    char line[2048];
    vsnprintf(line, sizeof line, fmt, args);
    fprintf(stderr, "%s: %s%s\n", program_invocation_short_name, level, line);
}

void
byzgd_error(const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    s_print("error: ", fmt, args);
    va_end(args);
}

void
byzgd_warn(const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    s_print("warning: ", fmt, args);
    va_end(args);
}

void
byzgd_info(const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    s_print("", fmt, args);
    va_end(args);
}

int
byzgd_set_error(char *buffer, size_t buffer_size, const char *fmt, ...)
{
    if (buffer && buffer_size) {
        va_list args;
        va_start(args, fmt);
        vsnprintf(buffer, buffer_size, fmt, args);
        va_end(args);
    }
    return -1;
}

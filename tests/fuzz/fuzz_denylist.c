/*  fuzz_denylist.c — the deny-list file parser (a file an operator edits) on arbitrary
    bytes: never crashes, and every loaded entry is a 40-character Z85 key. */
#include "wire/security.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    byzgd_denylist_t *list = byzgd_denylist_new("", NULL, 0); // in memory only
    if (!list)
        return 0;
    size_t skipped = byzgd_denylist_parse(list, (const char *)data, size);
    size_t lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    // Each line yields at most one key or one skip.
    if (skipped + byzgd_denylist_size(list) > lines)
        __builtin_trap();
    byzgd_denylist_destroy(&list);
    return 0;
}

/*  fuzz_keybundle.c — the key bundle reader (a tar file that arrives from another host) on
    arbitrary bytes: never crashes, and an accepted bundle lists distinct ascending slots. */
#include "wire/keybundle.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char error[256];
    byzgd_key_bundle_t *bundle = byzgd_key_bundle_parse(data, size, error, sizeof error);
    if (!bundle)
        return 0;
    size_t count = byzgd_key_bundle_slot_count(bundle);
    if (count == 0)
        __builtin_trap();
    for (size_t i = 1; i < count; i++)
        if (byzgd_key_bundle_slot(bundle, i) <= byzgd_key_bundle_slot(bundle, i - 1))
            __builtin_trap();
    byzgd_key_bundle_destroy(&bundle);
    return 0;
}

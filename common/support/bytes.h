/*  bytes.h — little-endian integers in byte buffers, for byzgd's file formats (parameter
    files, checkpoints, the spam cache). Byte by byte, so alignment and host order do not
    matter; compilers turn each into a single load or store on little-endian hosts. */
#ifndef BYZGD_BYTES_H
#define BYZGD_BYTES_H

#include <stdint.h>

static inline void
byzgd_le_put_u32(uint8_t *out, uint32_t value)
{
    for (int i = 0; i < 4; i++)
        out[i] = (uint8_t)(value >> (8 * i));
}

static inline void
byzgd_le_put_u64(uint8_t *out, uint64_t value)
{
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(value >> (8 * i));
}

static inline uint32_t
byzgd_le_get_u32(const uint8_t *in)
{
    uint32_t value = 0;
    for (int i = 0; i < 4; i++)
        value |= (uint32_t)in[i] << (8 * i);
    return value;
}

static inline uint64_t
byzgd_le_get_u64(const uint8_t *in)
{
    uint64_t value = 0;
    for (int i = 0; i < 8; i++)
        value |= (uint64_t)in[i] << (8 * i);
    return value;
}

#endif

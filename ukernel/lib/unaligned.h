/* SPDX-License-Identifier: MIT */
/* unaligned: little-endian loads from byte buffers of unknown alignment (firmware tables, boot data). */
#ifndef HV_LIB_UNALIGNED_H
#define HV_LIB_UNALIGNED_H

#include <stdint.h>

#include "kstring.h"

static inline uint16_t rd16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static inline uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static inline uint64_t rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

#endif

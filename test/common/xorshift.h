/* SPDX-License-Identifier: MIT */
/* xorshift: the xorshift64* pseudo-random generator the randomized tests share (host unit and fuzz tests, freestanding user programs). */
#ifndef HV_TEST_COMMON_XORSHIFT_H
#define HV_TEST_COMMON_XORSHIFT_H

#include <stdint.h>

/*
 * xorshift64*: advances *state and returns its next value. Deterministic from the seed, so
 * a failing randomized run reproduces from it. Header-only (static inline): the host tests,
 * the fuzz target and the freestanding programs each compile it in. A zero state stays
 * zero (every value 0): seed it with a nonzero one.
 */
static inline uint64_t xorshift64s(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* The next value reduced to [0, n) (n > 0; modulo bias, fine for tests). */
static inline unsigned xorshift64s_below(uint64_t *state, unsigned n)
{
    return (unsigned)(xorshift64s(state) % n);
}

#endif

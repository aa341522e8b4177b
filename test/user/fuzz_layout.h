/* SPDX-License-Identifier: MIT */
/* fuzz_layout: what the fuzz root task and the hostile program agree on (slots, shared page). */
#ifndef HV_TEST_USER_FUZZ_LAYOUT_H
#define HV_TEST_USER_FUZZ_LAYOUT_H

#include <stdint.h>

#define HOSTILE_CNODE_RADIX 8u
enum hostile_slot {
    H_CNODE = 1,        /* its own CNode (guarded: cptr = slot) */
    H_EP = 2,           /* call-only cap to the echo server */
    H_NTFN = 3,
    H_UNTYPED = 4,      /* 256 KiB of its own */
    H_REPLY = 5,
    H_TCB = 6,          /* its own thread */
    H_FRAME = 7,
    H_PML4 = 8,         /* its own address space */
    H_FIRST_FREE = 9,
};

#define HOSTILE_SHARED_VA 0x0000100000000000ull
#define FUZZ_ERROR_KINDS 32u

/* One page both map: the hostile reports progress, the root reads it. */
struct fuzz_shared {
    volatile uint64_t iterations;
    volatile uint64_t seed;
    volatile uint64_t restarts;         /* written by the root before each (re)start */
    volatile uint64_t results[FUZZ_ERROR_KINDS];    /* how often each hv_error came back */
};

#endif

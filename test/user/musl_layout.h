/* SPDX-License-Identifier: MIT */
/* musl_layout: what the musl test root and the musl program agree on (the shared results page). */
#ifndef HV_TEST_USER_MUSL_LAYOUT_H
#define HV_TEST_USER_MUSL_LAYOUT_H

#include <stdint.h>

#define MUSL_SHARED_VA 0x0000100000000000ull   /* in the musl program */
#define MUSL_MAX_RESULTS 32u
#define MUSL_NAME_MAX 40u
#define MUSL_DETAIL_MAX 56u

/* One check the musl program made; the root turns each into an hvu_check. */
struct musl_result {
    char name[MUSL_NAME_MAX];
    char detail[MUSL_DETAIL_MAX];   /* shown on failure */
    uint64_t ok;
};

struct musl_shared {
    volatile uint64_t count;
    volatile uint64_t done;         /* main reached its end (just before exit) */
    struct musl_result results[MUSL_MAX_RESULTS];
};

_Static_assert(sizeof(struct musl_shared) <= 4096, "one page");

#endif

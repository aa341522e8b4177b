/* SPDX-License-Identifier: MIT */
/* assert: invariant checks of the core (always on: a broken invariant stops the machine). */
#ifndef HV_KERNEL_ASSERT_H
#define HV_KERNEL_ASSERT_H

#ifdef HV_HOSTED
#include <assert.h>
#define kassert(cond) assert(cond)
#else
#include "platform.h"
#define kassert(cond)                                                                  \
    do {                                                                               \
        if (!(cond))                                                                   \
            panic("assertion failed: %s (%s:%d)", #cond, __FILE__, __LINE__);          \
    } while (0)
#endif

#endif

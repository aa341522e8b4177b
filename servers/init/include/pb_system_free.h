/* SPDX-License-Identifier: MIT */
/* pb_system_free.h: nanopb's PB_SYSTEM_HEADER for freestanding code (compiler headers + include/libc). */
#ifndef HV_PB_SYSTEM_FREE_H
#define HV_PB_SYSTEM_FREE_H

/*
 * Force-included (-include) into everything that uses nanopb_free, so pb.h takes its
 * system declarations from here: the define carries no quotes on the command line.
 */
#define PB_SYSTEM_HEADER "pb_system_free.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* include/libc/string.h: the core's kstring (+ strnlen, memchr), never the host libc's. */
#include <string.h>

#endif

/* SPDX-License-Identifier: MIT */
/* untyped: raw memory and retype, the only way kernel objects come to exist. */
#ifndef HV_OBJECT_UNTYPED_H
#define HV_OBJECT_UNTYPED_H

#include <stdint.h>

#include "../include/hv/errors.h"
#include "cap.h"

#define UNTYPED_MAX_RETYPE_COUNT 256u   /* objects per retype: bounds the work of one call */

/* A cap covering [pa, pa + 2^size_bits). */
struct cap untyped_cap(uint64_t pa, unsigned size_bits, bool device);

/*
 * HV_INV_UNTYPED_RETYPE(type, size_bits, dest_cnode, dest_index, dest_depth, count):
 * creates `count` objects at the untyped's watermark, each naturally aligned, in
 * consecutive empty slots of the destination CNode, as children of the untyped.
 * Memory is never handed out twice: the watermark only moves forward while any
 * child exists, and resets to zero once all children are gone (after a revoke).
 */
enum hv_error untyped_invoke(const struct cap *root, struct cte *ut_slot, uint64_t label,
                             const uint64_t *args, unsigned nargs);

#endif

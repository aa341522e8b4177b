/* SPDX-License-Identifier: MIT */
/* object: what every object type does when a cap to it is made, derived or deleted. */
#ifndef HV_OBJECT_OBJECT_H
#define HV_OBJECT_OBJECT_H

#include <stdbool.h>
#include <stdint.h>

#include "../include/hv/errors.h"
#include "cap.h"

struct cnode_header;

/* Size in bytes of an object of `type` (size_bits: CNode radix / untyped size); 0 = not retypeable. */
uint64_t object_size(uint8_t type, unsigned size_bits);
/* Whether retype may create `type`, and with which size_bits. */
enum hv_error object_check_retype(uint8_t type, unsigned size_bits, bool device_memory);
/* Initializes zeroed memory at kernel address `mem` (physical `pa`) as `type`; returns its cap. */
struct cap object_create(uint8_t type, unsigned size_bits, void *mem, uint64_t pa);

/* Counts one more cap to the object. */
void object_ref(const struct cap *c);
/* Counts one cap fewer; true when it was the last (the object must be finalized). */
bool object_unref(const struct cap *c);
/* Unlinks an object whose last cap is gone from everything that points at it. */
void object_finalize(const struct cap *c);
/* Per-cap cleanup before the cap is erased (a frame cap's mapping). */
void object_cap_deleting(struct cap *c);
/* Adjusts a freshly copied/minted cap (a copy is never mapped). */
void object_cap_derived(struct cap *c);

/* CNode teardown is deferred to the outermost delete (see cnode.c). */
void cnode_schedule_reap(struct cnode_header *h);

#endif

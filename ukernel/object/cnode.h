/* SPDX-License-Identifier: MIT */
/* cnode: arrays of capability slots, capability addressing, and copy/mint/move/delete/revoke. */
#ifndef HV_OBJECT_CNODE_H
#define HV_OBJECT_CNODE_H

#include <stdbool.h>
#include <stdint.h>

#include "../include/hv/errors.h"
#include "cap.h"

/*
 * Slot 0 of every CNode is its header (never addressable, like seL4's null
 * capability pointer 0): it holds the CNode's reference count and its place on the
 * reaper list while it is being torn down.
 */
struct cnode_header {
    uint32_t caps;
    uint32_t dying;
    struct cnode_header *reap_next;
    uint64_t radix;
    uint64_t reserved[5];
};
_Static_assert(sizeof(struct cnode_header) == sizeof(struct cte), "header fills slot 0");

static inline struct cnode_header *cnode_header_of(const struct cap *cnode_cap);
static inline struct cte *cnode_slots(const struct cap *cnode_cap);

#include "../kernel/kmem.h"

static inline struct cnode_header *cnode_header_of(const struct cap *cnode_cap)
{
    return (struct cnode_header *)(uintptr_t)cnode_cap->object;
}

static inline struct cte *cnode_slots(const struct cap *cnode_cap)
{
    return (struct cte *)(uintptr_t)cnode_cap->object;
}

/*
 * Resolves `cptr`, consuming exactly `depth` bits (1..64) from the root CNode cap,
 * through guards and nested CNodes. On success stores the slot (which may be empty).
 */
enum hv_error cnode_lookup_slot(const struct cap *root, uint64_t cptr, unsigned depth,
                                struct cte **slot_out);
/* Resolves for an invocation: depth 64, stopping at the first non-CNode cap; slot not empty. */
enum hv_error cnode_lookup_cap(const struct cap *root, uint64_t cptr, struct cte **slot_out);

/* Initializes a freshly zeroed CNode of 2^radix slots. */
void cnode_init(void *mem, unsigned radix);

/* The CNode invocations (decode checks everything, then invoke cannot fail). */
enum hv_error cnode_invoke(const struct cap *root, struct cte *cnode_slot, uint64_t label,
                           const uint64_t *args, unsigned nargs);

/* Deletes the cap in `slot` (finalizing its object if it was the last cap). */
void cap_delete(struct cte *slot);
/* Deletes every cap derived from `slot`. */
void cap_revoke(struct cte *slot);
/* Writes `cap` into empty `dst` as a child of `parent` (NULL: root of a tree). */
void cap_insert(struct cte *dst, const struct cap *cap, struct cte *parent);

/* Whether a cap of this type may be copied or minted. */
bool cap_type_copyable(uint8_t type);
/* Whether two caps name the same object (for the object's reference count). */
void cap_object_ref(const struct cap *c);

#endif

/* SPDX-License-Identifier: MIT */
/* guest_memory: a guest-physical address space (gfn -> frame, rights) kept as nested page tables. */
#ifndef HV_OBJECT_GUEST_MEMORY_H
#define HV_OBJECT_GUEST_MEMORY_H

#include <stdbool.h>
#include <stdint.h>

#include "../include/hv/errors.h"
#include "../include/hv/syscall.h"
#include "cap.h"
#include "kobj.h"

#define GUEST_MEMORY_MAX 64u            /* live GuestMemory objects at once (ids 1..63) */

struct vcpu;

/*
 * Page 0 of the object. Page 1 is the root table, pages 2.. the table pool
 * (bump-allocated; a table stays until the object is destroyed, so a table
 * pointer taken during a walk never dangles). Invariants:
 *  - every present leaf entry (a 4 KiB leaf in a PT, or a 2 MiB leaf in a PD) maps
 *    exactly one frame cap of that size with CAP_FLAG_GUEST_MAPPED, data = gfn (the
 *    first gfn of a 2 MiB leaf, a multiple of 512), data2 = this object's id;
 *  - a present PD entry is either a 2 MiB leaf or a PT, never both over time while
 *    the PT exists (tables are kept: a 2 MiB region once mapped by 4 KiB frames stays so);
 *  - `vcpus` lists exactly the VCPUs whose kernel-held GuestMemory cap names this object.
 */
struct guest_memory {
    struct kobj hdr;
    uint32_t id;                /* index in the id table; frame caps name it */
    uint8_t format;             /* enum nested_format */
    uint64_t root_pa;
    uint64_t pool_pa;           /* first pool page */
    uint64_t pool_pages;
    uint64_t pool_used;
    uint64_t gfn_limit;         /* gfns [0, gfn_limit) are mappable */
    uint64_t mapped;            /* frames mapped */
    struct vcpu *vcpus;         /* bound vCPUs (struct vcpu.gm_next) */
};

static inline struct guest_memory *guest_memory_of(const struct cap *c)
{
    return (struct guest_memory *)(uintptr_t)c->object;
}

enum hv_error guest_memory_check_retype(unsigned size_bits);
struct cap guest_memory_create(void *mem, uint64_t pa, unsigned size_bits);
void guest_memory_finalize(struct guest_memory *gm);
/* A frame cap mapped into a GuestMemory is being deleted: unmap it, flush the guests. */
void guest_memory_frame_deleting(struct cap *frame);

enum hv_error guest_memory_invoke(const struct cap *root, struct cte *slot, uint64_t label,
                                  const uint64_t *args, unsigned nargs, struct hv_msg *reply_out);

/* The page mapped at gfn (hpa: a 4 KiB frame, or the page of a 2 MiB frame holding gfn)
 * and its NESTED_READ/WRITE/EXECUTE rights; false: none. */
bool guest_memory_lookup(const struct guest_memory *gm, uint64_t gfn, uint64_t *hpa,
                         unsigned *rights);

/* vCPU bookkeeping (object/vcpu.c): who must flush when a mapping goes. */
void guest_memory_add_vcpu(struct guest_memory *gm, struct vcpu *v);
void guest_memory_remove_vcpu(struct guest_memory *gm, struct vcpu *v);

#endif

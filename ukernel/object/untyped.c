/* SPDX-License-Identifier: MIT */
/* untyped: retype with watermark accounting. */
#include "untyped.h"

#include <stdbool.h>

#include "../include/hv/objects.h"
#include "../kernel/kmem.h"
#include "../lib/kstring.h"
#include "cnode.h"
#include "object.h"

struct cap untyped_cap(uint64_t pa, unsigned size_bits, bool device)
{
    struct cap c;
    memset(&c, 0, sizeof(c));
    c.type = HV_OBJ_UNTYPED;
    c.rights = HV_RIGHTS_ALL;
    c.size_bits = (uint8_t)size_bits;
    c.object = pa;
    c.data = 0;
    c.data2 = device ? 1 : 0;
    return c;
}

enum { ARG_TYPE = 0, ARG_SIZE_BITS, ARG_DEST_CNODE, ARG_DEST_INDEX, ARG_DEST_DEPTH, ARG_COUNT, RETYPE_ARGS };

struct retype_plan {
    uint8_t type;
    unsigned size_bits;
    uint64_t obj_size;
    uint64_t first_offset;  /* from the untyped's base */
    uint64_t count;
    struct cte *dest;       /* first destination slot; the others follow it */
};

static enum hv_error decode_retype(const struct cap *root, const struct cte *ut_slot,
                                   const uint64_t *args, unsigned nargs, struct retype_plan *p)
{
    const struct cap *ut = &ut_slot->cap;
    if (nargs < RETYPE_ARGS)
        return HV_ERR_TRUNCATED;
    if (args[ARG_TYPE] >= HV_OBJ_TYPE_COUNT || args[ARG_SIZE_BITS] > 64)
        return HV_ERR_INVALID_ARGUMENT;
    p->type = (uint8_t)args[ARG_TYPE];
    p->size_bits = (unsigned)args[ARG_SIZE_BITS];
    enum hv_error err = object_check_retype(p->type, p->size_bits, ut->data2 != 0);
    if (err != HV_OK)
        return err;
    p->obj_size = object_size(p->type, p->size_bits);
    if (args[ARG_COUNT] == 0 || args[ARG_COUNT] > UNTYPED_MAX_RETYPE_COUNT)
        return HV_ERR_RANGE;
    p->count = args[ARG_COUNT];

    /* Destination: count consecutive empty slots in one CNode. */
    struct cte *cnode;
    err = cnode_lookup_cap(root, args[ARG_DEST_CNODE], &cnode);
    if (err != HV_OK)
        return err;
    if (cnode->cap.type != HV_OBJ_CNODE)
        return HV_ERR_WRONG_TYPE;
    if (args[ARG_DEST_DEPTH] == 0 || args[ARG_DEST_DEPTH] > 64)
        return HV_ERR_RANGE;
    err = cnode_lookup_slot(&cnode->cap, args[ARG_DEST_INDEX], (unsigned)args[ARG_DEST_DEPTH], &p->dest);
    if (err != HV_OK)
        return err;
    /* The run of slots must stay inside the CNode that holds the first one. */
    struct cte *slots = p->dest;
    for (uint64_t i = 0; i < p->count; i++) {
        err = cnode_lookup_slot(&cnode->cap, args[ARG_DEST_INDEX] + i, (unsigned)args[ARG_DEST_DEPTH], &slots);
        if (err != HV_OK)
            return HV_ERR_RANGE;
        if (slots != p->dest + i)
            return HV_ERR_RANGE;    /* the run crossed into another CNode */
        if (!cte_is_empty(slots))
            return HV_ERR_SLOT_OCCUPIED;
    }

    /* Memory: from the watermark, or from the start once no child is alive. */
    uint64_t ut_size = 1ull << ut->size_bits;
    uint64_t watermark = cdt_has_children(ut_slot) ? ut->data : 0;
    uint64_t align = p->obj_size;   /* every object size is a power of two */
    uint64_t start = (watermark + align - 1) & ~(align - 1);
    if (start < watermark || start > ut_size || p->obj_size > ut_size ||
        p->count > (ut_size - start) / p->obj_size)
        return HV_ERR_NOT_ENOUGH_MEMORY;
    p->first_offset = start;
    return HV_OK;
}

static void invoke_retype(struct cte *ut_slot, const struct retype_plan *p)
{
    struct cap *ut = &ut_slot->cap;
    bool device = ut->data2 != 0;
    for (uint64_t i = 0; i < p->count; i++) {
        uint64_t pa = ut->object + p->first_offset + i * p->obj_size;
        void *mem = kmem_ptr(pa);
        /*
         * No stale data crosses from one owner to the next. An untyped child is not
         * cleared here: nothing reads untyped memory, and every object later made from
         * it is cleared when it is made (so a pool split off once costs nothing per use).
         */
        if (!device && p->type != HV_OBJ_UNTYPED)
            memset(mem, 0, p->obj_size);
        struct cap c = object_create(p->type, p->size_bits, mem, pa);
        if (p->type == HV_OBJ_UNTYPED)
            c.data2 = device ? 1 : 0;       /* a piece of device memory is device memory */
        cap_insert(p->dest + i, &c, ut_slot);
    }
    ut->data = p->first_offset + p->count * p->obj_size;
}

enum hv_error untyped_invoke(const struct cap *root, struct cte *ut_slot, uint64_t label,
                             const uint64_t *args, unsigned nargs)
{
    if (ut_slot->cap.type != HV_OBJ_UNTYPED)
        return HV_ERR_WRONG_TYPE;
    if (label != HV_INV_UNTYPED_RETYPE)
        return HV_ERR_UNKNOWN_INVOCATION;
    struct retype_plan plan;
    enum hv_error err = decode_retype(root, ut_slot, args, nargs, &plan);
    if (err != HV_OK)
        return err;
    invoke_retype(ut_slot, &plan);
    return HV_OK;
}

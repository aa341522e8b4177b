/* SPDX-License-Identifier: MIT */
/* object: per-type sizes, creation, reference counts and finalization. */
#include "object.h"

#include <stddef.h>

#include "../kernel/assert.h"
#include "../lib/kstring.h"
#include "cnode.h"
#include "endpoint.h"
#include "guest_memory.h"
#include "irq.h"
#include "kobj.h"
#include "notification.h"
#include "reply.h"
#include "sched_context.h"
#include "tcb.h"
#include "vcpu.h"
#include "vspace.h"

/* log2 size of the objects whose size is fixed; 0 = not made by retype (or size given). */
static const uint8_t fixed_size_bits[HV_OBJ_TYPE_COUNT] = {
    [HV_OBJ_TCB] = HV_TCB_BITS,
    [HV_OBJ_SCHED_CONTEXT] = HV_SCHED_CONTEXT_BITS,
    [HV_OBJ_ENDPOINT] = HV_ENDPOINT_BITS,
    [HV_OBJ_NOTIFICATION] = HV_NOTIFICATION_BITS,
    [HV_OBJ_REPLY] = HV_REPLY_BITS,
    [HV_OBJ_PML4] = HV_PAGE_TABLE_BITS,
    [HV_OBJ_PDPT] = HV_PAGE_TABLE_BITS,
    [HV_OBJ_PD] = HV_PAGE_TABLE_BITS,
    [HV_OBJ_PT] = HV_PAGE_TABLE_BITS,
    [HV_OBJ_FRAME] = HV_FRAME_BITS,
};

uint64_t object_size(uint8_t type, unsigned size_bits)
{
    if (type == HV_OBJ_UNTYPED)
        return 1ull << size_bits;
    if (type == HV_OBJ_CNODE)
        return 1ull << (size_bits + HV_CNODE_SLOT_BITS);
    if (type == HV_OBJ_GUEST_MEMORY || type == HV_OBJ_VCPU)
        return size_bits < 64 ? 1ull << size_bits : 0;   /* object + pool, checked at retype */
    if (type == HV_OBJ_FRAME && size_bits == HV_LARGE_FRAME_BITS)
        return 1ull << HV_LARGE_FRAME_BITS;
    if (type >= HV_OBJ_TYPE_COUNT || fixed_size_bits[type] == 0)
        return 0;
    return 1ull << fixed_size_bits[type];
}

_Static_assert(sizeof(struct endpoint) <= (1u << HV_ENDPOINT_BITS), "endpoint fits");
_Static_assert(sizeof(struct notification) <= (1u << HV_NOTIFICATION_BITS), "notification fits");
_Static_assert(sizeof(struct reply) <= (1u << HV_REPLY_BITS), "reply fits");

enum hv_error object_check_retype(uint8_t type, unsigned size_bits, bool device_memory)
{
    if (device_memory && (type == HV_OBJ_GUEST_MEMORY || type == HV_OBJ_VCPU))
        return HV_ERR_ILLEGAL_OPERATION;
    if (type == HV_OBJ_GUEST_MEMORY)
        return guest_memory_check_retype(size_bits);
    if (type == HV_OBJ_VCPU)
        return vcpu_check_retype(size_bits);
    if (object_size(type, 0) == 0 && type != HV_OBJ_UNTYPED)
        return HV_ERR_WRONG_TYPE;   /* NULL and the device-authority types are not made by retype */
    if (device_memory && type != HV_OBJ_FRAME && type != HV_OBJ_UNTYPED)
        return HV_ERR_ILLEGAL_OPERATION;    /* device memory never holds kernel objects */
    if (type == HV_OBJ_UNTYPED && (size_bits < HV_UNTYPED_MIN_BITS || size_bits > HV_UNTYPED_MAX_BITS))
        return HV_ERR_RANGE;
    if (type == HV_OBJ_FRAME && size_bits != 0 && size_bits != HV_FRAME_BITS && size_bits != HV_LARGE_FRAME_BITS)
        return HV_ERR_RANGE;
    if (type == HV_OBJ_CNODE && (size_bits < HV_CNODE_MIN_RADIX || size_bits > HV_CNODE_MAX_RADIX))
        return HV_ERR_RANGE;
    if (type == HV_OBJ_PML4 && !vspace_id_available(1))
        return HV_ERR_NOT_ENOUGH_MEMORY;
    return HV_OK;
}

struct cap object_create(uint8_t type, unsigned size_bits, void *mem, uint64_t pa)
{
    struct cap c;
    memset(&c, 0, sizeof(c));
    c.type = type;
    c.rights = HV_RIGHTS_ALL;
    c.object = (uint64_t)(uintptr_t)mem;
    switch (type) {
    case HV_OBJ_UNTYPED:
        c.object = pa;
        c.size_bits = (uint8_t)size_bits;
        break;
    case HV_OBJ_CNODE:
        cnode_init(mem, size_bits);
        c.size_bits = (uint8_t)size_bits;
        c.guard_bits = 0;
        break;
    case HV_OBJ_TCB:
        tcb_init(mem);
        break;
    case HV_OBJ_SCHED_CONTEXT:
    case HV_OBJ_ENDPOINT:
    case HV_OBJ_NOTIFICATION:
    case HV_OBJ_REPLY:
        ((struct kobj *)mem)->type = type;
        break;
    case HV_OBJ_PML4:
        return vspace_create_pml4(mem);
    case HV_OBJ_GUEST_MEMORY:
        return guest_memory_create(mem, pa, size_bits);
    case HV_OBJ_VCPU:
        return vcpu_create(mem, pa, size_bits);
    case HV_OBJ_FRAME:
        c.object = pa;
        c.size_bits = size_bits == HV_LARGE_FRAME_BITS ? HV_LARGE_FRAME_BITS : HV_FRAME_BITS;
        break;
    default:
        break;  /* PDPT, PD, PT: zeroed memory is an empty table */
    }
    return c;
}

static struct kobj *kobj_of(const struct cap *c)
{
    return (struct kobj *)(uintptr_t)c->object;
}

void object_ref(const struct cap *c)
{
    switch (c->type) {
    case HV_OBJ_CNODE:
        cnode_header_of(c)->caps++;
        break;
    case HV_OBJ_TCB:
    case HV_OBJ_SCHED_CONTEXT:
    case HV_OBJ_ENDPOINT:
    case HV_OBJ_NOTIFICATION:
    case HV_OBJ_REPLY:
    case HV_OBJ_IRQ_HANDLER:    /* counted on its line (irq.c) */
    case HV_OBJ_GUEST_MEMORY:
    case HV_OBJ_VCPU:
        kobj_of(c)->caps++;
        break;
    case HV_OBJ_PML4:
        vspace_ref(c);
        break;
    default:
        break;
    }
}

bool object_unref(const struct cap *c)
{
    switch (c->type) {
    case HV_OBJ_CNODE: {
        struct cnode_header *h = cnode_header_of(c);
        kassert(h->caps > 0);
        return --h->caps == 0;
    }
    case HV_OBJ_TCB:
    case HV_OBJ_SCHED_CONTEXT:
    case HV_OBJ_ENDPOINT:
    case HV_OBJ_NOTIFICATION:
    case HV_OBJ_REPLY:
    case HV_OBJ_IRQ_HANDLER:
    case HV_OBJ_GUEST_MEMORY:
    case HV_OBJ_VCPU: {
        struct kobj *o = kobj_of(c);
        kassert(o->caps > 0);
        return --o->caps == 0;
    }
    case HV_OBJ_PML4:
        return vspace_unref(c);
    default:
        return false;   /* no shared state to tear down */
    }
}

void object_finalize(const struct cap *c)
{
    switch (c->type) {
    case HV_OBJ_CNODE:
        cnode_schedule_reap(cnode_header_of(c));
        break;
    case HV_OBJ_TCB:
        tcb_finalize(tcb_of(c));
        break;
    case HV_OBJ_SCHED_CONTEXT:
        sched_context_finalize(sched_context_of(c));
        break;
    case HV_OBJ_ENDPOINT:
        endpoint_finalize(endpoint_of(c));
        break;
    case HV_OBJ_NOTIFICATION:
        notification_finalize(notification_of(c));
        break;
    case HV_OBJ_REPLY:
        reply_finalize(reply_of(c));
        break;
    case HV_OBJ_PML4:
        vspace_finalize_pml4(c);
        break;
    case HV_OBJ_IRQ_HANDLER:
        irq_handler_finalize(irq_line_of(c));
        break;
    case HV_OBJ_GUEST_MEMORY:
        guest_memory_finalize(guest_memory_of(c));
        break;
    case HV_OBJ_VCPU:
        vcpu_finalize(vcpu_of(c));
        break;
    default:
        break;
    }
}

void object_cap_deleting(struct cap *c)
{
    switch (c->type) {
    case HV_OBJ_FRAME:
        if (c->flags & CAP_FLAG_GUEST_MAPPED)
            guest_memory_frame_deleting(c);
        else
            vspace_cap_deleting(c);
        break;
    case HV_OBJ_GUEST_MEMORY:
        vcpu_guest_memory_cap_deleting(c);     /* only the copy a vCPU holds does anything */
        break;
    case HV_OBJ_PDPT:
    case HV_OBJ_PD:
    case HV_OBJ_PT:
        vspace_cap_deleting(c);
        break;
    default:
        break;
    }
}

void object_cap_derived(struct cap *c)
{
    if (c->type == HV_OBJ_GUEST_MEMORY)
        c->data = 0;    /* a copy is never the one a vCPU holds */
    if (c->type == HV_OBJ_FRAME) {
        c->flags &= ~(CAP_FLAG_MAPPED | CAP_FLAG_GUEST_MAPPED);
        c->data = 0;
        c->data2 = 0;
    }
}

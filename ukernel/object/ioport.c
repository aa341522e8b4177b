/* SPDX-License-Identifier: MIT */
/* ioport: issuing port ranges and performing port I/O on behalf of their holders. */
#include "ioport.h"

#include "../arch/x86_64/cpu.h"
#include "../lib/kstring.h"
#include "cnode.h"

#define PORT_MAX 0xffffu

struct cap ioport_control_cap(void)
{
    struct cap c;
    memset(&c, 0, sizeof(c));
    c.type = HV_OBJ_IOPORT_CONTROL;
    c.rights = HV_RIGHTS_ALL;
    return c;
}

static uint64_t range_first(const struct cap *c) { return c->data & PORT_MAX; }
static uint64_t range_last(const struct cap *c) { return (c->data >> 16) & PORT_MAX; }

static enum hv_error issue(const struct cap *root, struct cte *slot, const uint64_t *args, unsigned nargs)
{
    /* (first, last, dest_cnode, dest_index, dest_depth) */
    if (nargs < 5)
        return HV_ERR_TRUNCATED;
    if (args[0] > args[1] || args[1] > PORT_MAX)
        return HV_ERR_RANGE;
    struct cte *cnode, *dest;
    enum hv_error err = cnode_lookup_cap(root, args[2], &cnode);
    if (err != HV_OK)
        return err;
    if (cnode->cap.type != HV_OBJ_CNODE)
        return HV_ERR_WRONG_TYPE;
    if (args[4] == 0 || args[4] > 64)
        return HV_ERR_RANGE;
    err = cnode_lookup_slot(&cnode->cap, args[3], (unsigned)args[4], &dest);
    if (err != HV_OK)
        return err;
    if (!cte_is_empty(dest))
        return HV_ERR_SLOT_OCCUPIED;
    struct cap c;
    memset(&c, 0, sizeof(c));
    c.type = HV_OBJ_IOPORT;
    c.rights = HV_RIGHT_READ | HV_RIGHT_WRITE;
    c.data = args[0] | (args[1] << 16);
    cap_insert(dest, &c, slot);
    return HV_OK;
}

static enum hv_error port_io(const struct cap *c, uint64_t label, const uint64_t *args,
                             unsigned nargs, struct hv_msg *reply_out)
{
    /* IN: (port, width); OUT: (port, width, value) */
    if (nargs < (label == HV_INV_IOPORT_OUT ? 3u : 2u))
        return HV_ERR_TRUNCATED;
    uint64_t port = args[0], width = args[1];
    if (width != 1 && width != 2 && width != 4)
        return HV_ERR_INVALID_ARGUMENT;
    if (port < range_first(c) || port > PORT_MAX || port + width - 1 > range_last(c))
        return HV_ERR_RANGE;
    if (label == HV_INV_IOPORT_OUT) {
        if (!cap_has_rights(c, HV_RIGHT_WRITE))
            return HV_ERR_INSUFFICIENT_RIGHTS;
        uint16_t p = (uint16_t)port;
        if (width == 1)
            outb(p, (uint8_t)args[2]);
        else if (width == 2)
            outw(p, (uint16_t)args[2]);
        else
            outl(p, (uint32_t)args[2]);
        return HV_OK;
    }
    if (!cap_has_rights(c, HV_RIGHT_READ))
        return HV_ERR_INSUFFICIENT_RIGHTS;
    uint16_t p = (uint16_t)port;
    uint64_t v;
    if (width == 1) {
        v = inb(p);
    } else if (width == 2) {
        uint16_t w;
        __asm__ volatile("inw %1, %0" : "=a"(w) : "Nd"(p));
        v = w;
    } else {
        uint32_t l;
        __asm__ volatile("inl %1, %0" : "=a"(l) : "Nd"(p));
        v = l;
    }
    reply_out->w[0] = v;
    reply_out->tag = hv_tag(0, 1, 0);
    return HV_OK;
}

enum hv_error ioport_invoke(const struct cap *root, struct cte *slot, uint64_t label,
                            const uint64_t *args, unsigned nargs, struct hv_msg *reply_out)
{
    const struct cap *c = &slot->cap;
    if (c->type == HV_OBJ_IOPORT_CONTROL) {
        if (label != HV_INV_IOPORT_CONTROL_ISSUE)
            return HV_ERR_UNKNOWN_INVOCATION;
        return issue(root, slot, args, nargs);
    }
    if (label != HV_INV_IOPORT_IN && label != HV_INV_IOPORT_OUT)
        return HV_ERR_UNKNOWN_INVOCATION;
    return port_io(c, label, args, nargs, reply_out);
}

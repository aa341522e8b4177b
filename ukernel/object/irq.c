/* SPDX-License-Identifier: MIT */
/* irq: IRQ_CONTROL_GET, the IRQHandler invocations, and the interrupt path that signals the bound notification. */
#include "irq.h"

#include <stddef.h>

#include "../arch/x86_64/ioapic.h"
#include "../arch/x86_64/trap.h"
#include "../kernel/assert.h"
#include "../kernel/klock.h"
#include "../lib/kstring.h"
#include "cnode.h"
#include "notification.h"

#define WORD_BITS 64u

static struct irq_line lines[IOAPIC_MAX_GSI];

static uint32_t gsi_of(const struct irq_line *l)
{
    return (uint32_t)(l - lines);
}

/* The bound notification cap's badge, or bit (irq mod 64) if it has none. */
static uint64_t signal_badge(const struct irq_line *l)
{
    uint64_t badge = l->binding.cap.data;
    return badge != 0 ? badge : 1ull << (l->irq % WORD_BITS);
}

/*
 * Every device vector lands here, with interrupts off. From user mode the entry
 * already holds the kernel lock (this is a re-entry); from the idle loop it does
 * not, so take it around the notification (as sched_tick does).
 */
static void irq_interrupt(struct trap_frame *f)
{
    uint64_t gsi = f->vector - IOAPIC_VECTOR_BASE;
    kassert(gsi < IOAPIC_MAX_GSI);
    klock_acquire();
    struct irq_line *l = &lines[gsi];
    /* A line the core masked may still have had one interrupt in flight: dropped. */
    if (l->hdr.caps > 0 && !l->masked) {
        if (l->level) {
            /* Until the driver has served the device and acknowledged. */
            ioapic_mask((uint32_t)gsi);
            l->masked = 1;
        }
        if (!cte_is_empty(&l->binding))
            notification_signal(notification_of(&l->binding.cap), signal_badge(l));
    }
    ioapic_eoi();
    klock_release();
}

static void line_mask(struct irq_line *l)
{
    ioapic_mask(gsi_of(l));
    l->masked = 1;
}

void irq_handler_finalize(struct irq_line *l)
{
    kassert(l->hdr.caps == 0);
    line_mask(l);
    cap_delete(&l->binding);    /* may finalize the notification: no cap of ours names it now */
}

/* ---------------------------------------------------------------- IRQControl */

enum { GET_IRQ = 0, GET_DEST_CNODE, GET_DEST_INDEX, GET_DEST_DEPTH, GET_ARGS };

static enum hv_error control_get(const struct cap *root, struct cte *control, const uint64_t *args,
                                 unsigned nargs, struct hv_msg *reply_out)
{
    if (nargs < GET_ARGS)
        return HV_ERR_TRUNCATED;
    struct ioapic_line line;
    if (!ioapic_resolve(args[GET_IRQ], &line))
        return HV_ERR_RANGE;
    struct irq_line *l = &lines[line.gsi];
    if (l->hdr.caps > 0)
        return HV_ERR_ILLEGAL_OPERATION;    /* one handler per line; copy that cap instead */
    struct cte *cnode, *dest;
    enum hv_error err = cnode_lookup_cap(root, args[GET_DEST_CNODE], &cnode);
    if (err != HV_OK)
        return err;
    if (cnode->cap.type != HV_OBJ_CNODE)
        return HV_ERR_WRONG_TYPE;
    if (args[GET_DEST_DEPTH] == 0 || args[GET_DEST_DEPTH] > WORD_BITS)
        return HV_ERR_RANGE;
    err = cnode_lookup_slot(&cnode->cap, args[GET_DEST_INDEX], (unsigned)args[GET_DEST_DEPTH], &dest);
    if (err != HV_OK)
        return err;
    if (!cte_is_empty(dest))
        return HV_ERR_SLOT_OCCUPIED;

    /* A free line is masked and unbound (initial state, or left so by finalize). */
    kassert(cte_is_empty(&l->binding));
    l->hdr.type = HV_OBJ_IRQ_HANDLER;
    l->irq = (uint32_t)args[GET_IRQ];
    l->level = line.level ? 1 : 0;
    l->masked = 1;
    trap_set_irq_handler(ioapic_gsi_vector(line.gsi), irq_interrupt);
    ioapic_route(&line);
    struct cap c;
    memset(&c, 0, sizeof(c));
    c.type = HV_OBJ_IRQ_HANDLER;
    c.rights = HV_RIGHT_READ | HV_RIGHT_WRITE;
    c.object = (uint64_t)(uintptr_t)l;
    c.data = args[GET_IRQ];
    cap_insert(dest, &c, control);
    reply_out->w[0] = line.gsi;
    reply_out->tag = hv_tag(0, 1, 0);
    return HV_OK;
}

/* ---------------------------------------------------------------- IRQHandler */

static enum hv_error handler_invoke(const struct cap *root, const struct cap *c, uint64_t label,
                                    const uint64_t *args, unsigned nargs)
{
    struct irq_line *l = irq_line_of(c);
    switch (label) {
    case HV_INV_IRQ_HANDLER_SET_NOTIFICATION: {
        if (nargs < 1)
            return HV_ERR_TRUNCATED;
        if (!cap_has_rights(c, HV_RIGHT_WRITE))
            return HV_ERR_INSUFFICIENT_RIGHTS;
        struct cte *n;
        enum hv_error err = cnode_lookup_cap(root, args[0], &n);
        if (err != HV_OK)
            return err;
        if (n->cap.type != HV_OBJ_NOTIFICATION)
            return HV_ERR_WRONG_TYPE;
        if (!cap_has_rights(&n->cap, HV_RIGHT_WRITE))
            return HV_ERR_INSUFFICIENT_RIGHTS;  /* the core signals through it */
        /* n names a live notification, so dropping the old binding cannot finalize it. */
        cap_delete(&l->binding);
        cap_insert(&l->binding, &n->cap, n);
        return HV_OK;
    }
    case HV_INV_IRQ_HANDLER_ACK:
        if (!cap_has_rights(c, HV_RIGHT_WRITE))
            return HV_ERR_INSUFFICIENT_RIGHTS;
        if (cte_is_empty(&l->binding))
            return HV_ERR_ILLEGAL_OPERATION;    /* nobody would hear the next one */
        l->masked = 0;
        ioapic_unmask(gsi_of(l));
        return HV_OK;
    case HV_INV_IRQ_HANDLER_CLEAR:
        if (!cap_has_rights(c, HV_RIGHT_WRITE))
            return HV_ERR_INSUFFICIENT_RIGHTS;
        line_mask(l);
        cap_delete(&l->binding);
        return HV_OK;
    default:
        return HV_ERR_UNKNOWN_INVOCATION;
    }
}

enum hv_error irq_invoke(const struct cap *root, struct cte *slot, uint64_t label,
                         const uint64_t *args, unsigned nargs, struct hv_msg *reply_out)
{
    if (slot->cap.type == HV_OBJ_IRQ_CONTROL) {
        if (label != HV_INV_IRQ_CONTROL_GET)
            return HV_ERR_UNKNOWN_INVOCATION;
        return control_get(root, slot, args, nargs, reply_out);
    }
    if (slot->cap.type != HV_OBJ_IRQ_HANDLER)
        return HV_ERR_WRONG_TYPE;
    return handler_invoke(root, &slot->cap, label, args, nargs);
}

/* SPDX-License-Identifier: MIT */
/* irq: IRQControl and IRQHandler: claiming a device interrupt line and delivering it as a notification signal. */
#ifndef HV_OBJECT_IRQ_H
#define HV_OBJECT_IRQ_H

#include <stdint.h>

#include "../include/hv/errors.h"
#include "../include/hv/syscall.h"
#include "cap.h"
#include "kobj.h"

/*
 * One per I/O APIC input (GSI), in a static table: the object every IRQ_HANDLER
 * cap for that line names. `hdr.caps` counts those caps; 0 means the line is free
 * for IRQ_CONTROL_GET. The bound notification is held as a kernel-owned copy of
 * the cap SET_NOTIFICATION was given, a child of it in the derivation tree (as a
 * TCB holds its slots): the notification cannot be finalized while bound, and a
 * revoke that reaches the copy simply unbinds the line.
 */
struct irq_line {
    struct kobj hdr;
    uint32_t irq;           /* the number it was claimed by (the caps' data) */
    uint8_t level;          /* level-triggered: masked at each interrupt until ACK */
    uint8_t masked;         /* masked at the I/O APIC (the core's view) */
    uint8_t reserved[6];
    struct cte binding;     /* the bound notification cap, or empty */
};

static inline struct irq_line *irq_line_of(const struct cap *c)
{
    return (struct irq_line *)(uintptr_t)c->object;
}

/* The last IRQ_HANDLER cap is gone: mask the line, drop the binding, free the line. */
void irq_handler_finalize(struct irq_line *l);

/* IRQ_CONTROL_GET on an IRQControl cap; SET_NOTIFICATION / ACK / CLEAR on an IRQHandler cap. */
enum hv_error irq_invoke(const struct cap *root, struct cte *slot, uint64_t label,
                         const uint64_t *args, unsigned nargs, struct hv_msg *reply_out);

#endif

/* SPDX-License-Identifier: MIT */
/* pic: the 8259A programmable interrupt controller pair (master 0x20, slave 0xa0 on IRQ2, ELCR 0x4d0/0x4d1). */
#include "pic.h"

#include <assert.h>
#include <string.h>

/*
 * Priorities: IR `lowest` has the lowest priority and (lowest + 1) & 7 the highest
 * (fully nested mode after ICW1: lowest = 7, IR0 highest). Rotation moves `lowest`.
 */
static unsigned prio_of(const struct vpic_chip *c, unsigned ir)
{
    return (ir - c->lowest - 1u) & 7u;     /* 0 = highest */
}

/* The highest-priority IR set in `mask`, or 8. */
static unsigned highest(const struct vpic_chip *c, uint8_t mask)
{
    for (unsigned p = 0; p < 8; p++) {
        unsigned ir = (c->lowest + 1u + p) & 7u;
        if (mask & (1u << ir))
            return ir;
    }
    return 8;
}

/* The IR this chip would present to INTA, or 8: an unmasked request above everything in service. */
static unsigned chip_pending(const struct vpic_chip *c, bool master)
{
    unsigned req = highest(c, c->irr & (uint8_t)~c->imr);
    if (req == 8)
        return 8;
    uint8_t in_service = c->isr;
    if (c->special_mask)
        in_service &= (uint8_t)~c->imr;      /* masked levels do not block others */
    if (master && c->sfnm)
        in_service &= (uint8_t)~(1u << VPIC_CASCADE_IRQ);   /* slave requests nest */
    unsigned cur = highest(c, in_service);
    if (cur != 8 && prio_of(c, req) >= prio_of(c, cur))
        return 8;
    return req;
}

static void chip_set_line(struct vpic_chip *c, unsigned ir, bool level)
{
    uint8_t bit = (uint8_t)(1u << ir);
    if (c->elcr & bit) {
        /* Level: the request follows the line. */
        if (level)
            c->irr |= bit;
        else
            c->irr &= (uint8_t)~bit;
    } else if (level && !(c->lines & bit)) {
        c->irr |= bit;                      /* edge: latch the rising edge */
    }
    if (level)
        c->lines |= bit;
    else
        c->lines &= (uint8_t)~bit;
}

/* The slave's INT output is the master's IR2 input. */
static void update_cascade(struct vpic *pic)
{
    chip_set_line(&pic->chip[0], VPIC_CASCADE_IRQ, chip_pending(&pic->chip[1], false) != 8);
}

static void chip_reset(struct vpic_chip *c, uint8_t elcr_mask)
{
    memset(c, 0, sizeof(*c));
    c->elcr_mask = elcr_mask;
    c->lowest = 7;
}

void vpic_init(struct vpic *pic)
{
    /* IRQ 0, 1, 2 (master) and 8, 13 (slave) are always edge (PIIX ELCR). */
    chip_reset(&pic->chip[0], 0xf8);
    chip_reset(&pic->chip[1], 0xde);
}

void vpic_set_irq(struct vpic *pic, unsigned irq, bool level)
{
    assert(irq < 16);
    if (irq == VPIC_CASCADE_IRQ)
        return;                     /* IR2 is wired to the slave, not to a device */
    chip_set_line(&pic->chip[irq >> 3], irq & 7u, level);
    update_cascade(pic);
}

bool vpic_has_intr(const struct vpic *pic)
{
    return chip_pending(&pic->chip[0], true) != 8;
}

/* Non-specific EOI: the highest-priority IR in service. */
static unsigned eoi_highest(struct vpic_chip *c)
{
    unsigned ir = highest(c, c->isr);
    if (ir != 8)
        c->isr &= (uint8_t)~(1u << ir);
    return ir;
}

/* Acknowledge `ir` on chip `c`: ISR set (unless auto-EOI), edge request consumed. */
static void chip_ack(struct vpic_chip *c, unsigned ir)
{
    uint8_t bit = (uint8_t)(1u << ir);
    if (!(c->elcr & bit))
        c->irr &= (uint8_t)~bit;
    if (c->auto_eoi) {
        if (c->rotate_aeoi)
            c->lowest = (uint8_t)ir;
    } else {
        c->isr |= bit;
    }
}

uint8_t vpic_intack(struct vpic *pic)
{
    struct vpic_chip *m = &pic->chip[0];
    struct vpic_chip *s = &pic->chip[1];
    unsigned ir = chip_pending(m, true);
    uint8_t vector;
    if (ir == 8) {
        vector = (uint8_t)(m->vector_base | 7u);            /* spurious IRQ7 */
    } else if (ir == VPIC_CASCADE_IRQ && !m->single) {
        chip_ack(m, ir);
        unsigned sir = chip_pending(s, false);
        if (sir == 8) {
            vector = (uint8_t)(s->vector_base | 7u);        /* spurious IRQ15 */
        } else {
            chip_ack(s, sir);
            vector = (uint8_t)(s->vector_base | sir);
        }
    } else {
        chip_ack(m, ir);
        vector = (uint8_t)(m->vector_base | ir);
    }
    update_cascade(pic);
    return vector;
}

static void write_command(struct vpic_chip *c, uint8_t val)
{
    if (val & VPIC_ICW1) {
        /* ICW1: edge sense reset, IMR cleared, IR7 lowest, SMM off, reads return IRR. */
        uint8_t elcr = c->elcr;
        uint8_t mask = c->elcr_mask;
        uint8_t lines = c->lines;
        chip_reset(c, mask);
        c->elcr = elcr;
        /* Level inputs still high are requests; edge inputs must see a new rising edge. */
        c->irr = lines & elcr;
        c->lines = lines & elcr;
        c->icw4_needed = (val & VPIC_ICW1_IC4) != 0;
        c->single = (val & VPIC_ICW1_SNGL) != 0;
        c->step = VPIC_ICW2;
    } else if (val & VPIC_OCW3) {
        if (val & VPIC_OCW3_P)
            c->poll = true;
        if (val & VPIC_OCW3_RR)
            c->read_isr = (val & VPIC_OCW3_RIS) != 0;
        if (val & VPIC_OCW3_ESMM)
            c->special_mask = (val & VPIC_OCW3_SMM) != 0;
    } else {
        /* OCW2: R SL EOI in D7-D5, level in D2-D0. */
        unsigned level = val & 7u;
        unsigned ir;
        switch (val >> 5) {
        case 1:                     /* non-specific EOI */
            (void)eoi_highest(c);
            break;
        case 3:                     /* specific EOI */
            c->isr &= (uint8_t)~(1u << level);
            break;
        case 5:                     /* rotate on non-specific EOI */
            ir = eoi_highest(c);
            if (ir != 8)
                c->lowest = (uint8_t)ir;
            break;
        case 4:                     /* rotate in auto-EOI mode (set) */
            c->rotate_aeoi = true;
            break;
        case 0:                     /* rotate in auto-EOI mode (clear) */
            c->rotate_aeoi = false;
            break;
        case 7:                     /* rotate on specific EOI */
            c->isr &= (uint8_t)~(1u << level);
            c->lowest = (uint8_t)level;
            break;
        case 6:                     /* set priority: `level` becomes the lowest */
            c->lowest = (uint8_t)level;
            break;
        default:                    /* 2: no operation */
            break;
        }
    }
}

static void write_data(struct vpic_chip *c, uint8_t val)
{
    switch (c->step) {
    case VPIC_ICW2:
        c->vector_base = val & 0xf8u;
        c->step = !c->single ? VPIC_ICW3 : c->icw4_needed ? VPIC_ICW4 : VPIC_READY;
        break;
    case VPIC_ICW3:
        c->icw3 = val;
        c->step = c->icw4_needed ? VPIC_ICW4 : VPIC_READY;
        break;
    case VPIC_ICW4:
        c->auto_eoi = (val & VPIC_ICW4_AEOI) != 0;
        c->sfnm = (val & VPIC_ICW4_SFNM) != 0;
        c->step = VPIC_READY;
        break;
    default:
        c->imr = val;               /* OCW1 */
        break;
    }
}

/* Poll: an INTA on this chip alone; reads 0x80 | IR if a request was pending, else 0. */
static uint8_t poll_chip(struct vpic *pic, unsigned idx)
{
    struct vpic_chip *c = &pic->chip[idx];
    unsigned ir = chip_pending(c, idx == 0);
    c->poll = false;
    if (ir == 8)
        return 0;
    chip_ack(c, ir);
    update_cascade(pic);
    return (uint8_t)(0x80u | ir);
}

uint8_t vpic_read(struct vpic *pic, uint16_t port)
{
    if (port == VPIC_ELCR_PORT || port == VPIC_ELCR_PORT + 1u)
        return pic->chip[port - VPIC_ELCR_PORT].elcr;
    unsigned idx = (port & 0x80u) ? 1u : 0u;
    struct vpic_chip *c = &pic->chip[idx];
    if (c->poll)
        return poll_chip(pic, idx);
    if (port & 1u)
        return c->imr;
    return c->read_isr ? c->isr : c->irr;
}

void vpic_write(struct vpic *pic, uint16_t port, uint8_t val)
{
    if (port == VPIC_ELCR_PORT || port == VPIC_ELCR_PORT + 1u) {
        struct vpic_chip *c = &pic->chip[port - VPIC_ELCR_PORT];
        c->elcr = val & c->elcr_mask;
    } else {
        struct vpic_chip *c = &pic->chip[(port & 0x80u) ? 1 : 0];
        if (port & 1u)
            write_data(c, val);
        else
            write_command(c, val);
    }
    update_cascade(pic);
}

uint64_t vpic_bus_read(void *dev, unsigned cpu, uint64_t port, unsigned size)
{
    (void)cpu;
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)vpic_read(dev, (uint16_t)(port + i)) << (8 * i);
    return v;
}

void vpic_bus_write(void *dev, unsigned cpu, uint64_t port, unsigned size, uint64_t val)
{
    (void)cpu;
    for (unsigned i = 0; i < size; i++)
        vpic_write(dev, (uint16_t)(port + i), (uint8_t)(val >> (8 * i)));
}

/* SPDX-License-Identifier: MIT */
/* ioapic: the 82093AA-style I/O APIC (24 pins, IOREGSEL/IOWIN at 0xfec00000) sending to the local APICs. */
#include "ioapic.h"

#include <assert.h>

void vioapic_init(struct vioapic *io, uint8_t id, struct apic_bus bus)
{
    io->id = id & 0xfu;
    io->regsel = 0;
    io->lines = 0;
    io->bus = bus;
    for (unsigned i = 0; i < VIOAPIC_PINS; i++)
        io->rte[i] = VIOAPIC_RTE_MASK;      /* reset: every pin masked */
}

static void send(struct vioapic *io, unsigned pin)
{
    uint64_t e = io->rte[pin];
    struct apic_msg m = {
        .vector = (uint8_t)(e & VIOAPIC_RTE_VECTOR),
        .delivery = (uint8_t)((e >> VIOAPIC_RTE_DM_SHIFT) & 7u),
        .dest = (uint8_t)(e >> VIOAPIC_RTE_DEST_SHIFT),
        .shorthand = APIC_SH_NONE,
        .logical = (e & VIOAPIC_RTE_DESTMODE) != 0,
        .level = (e & VIOAPIC_RTE_LEVEL) != 0,
        .assert = true,
        .src = 0,
    };
    if (m.level)
        io->rte[pin] |= VIOAPIC_RTE_REMOTE_IRR;
    if (io->bus.deliver != 0)
        io->bus.deliver(io->bus.ctx, &m);
}

/* A level pin that is asserted, unmasked and not awaiting an EOI is (re)sent. */
static void service_level(struct vioapic *io, unsigned pin)
{
    uint64_t e = io->rte[pin];
    if ((e & VIOAPIC_RTE_LEVEL) && !(e & (VIOAPIC_RTE_MASK | VIOAPIC_RTE_REMOTE_IRR)) &&
        (io->lines & (1u << pin)))
        send(io, pin);
}

void vioapic_set_irq(struct vioapic *io, unsigned pin, bool asserted)
{
    assert(pin < VIOAPIC_PINS);
    uint32_t bit = 1u << pin;
    bool was = (io->lines & bit) != 0;
    if (asserted)
        io->lines |= bit;
    else
        io->lines &= ~bit;
    uint64_t e = io->rte[pin];
    if (e & VIOAPIC_RTE_LEVEL)
        service_level(io, pin);
    else if (asserted && !was && !(e & VIOAPIC_RTE_MASK))
        send(io, pin);                      /* edges on a masked pin are lost */
}

void vioapic_eoi(struct vioapic *io, uint8_t vector)
{
    for (unsigned pin = 0; pin < VIOAPIC_PINS; pin++) {
        uint64_t e = io->rte[pin];
        if ((e & VIOAPIC_RTE_VECTOR) != vector || !(e & VIOAPIC_RTE_REMOTE_IRR))
            continue;
        io->rte[pin] &= ~VIOAPIC_RTE_REMOTE_IRR;
        service_level(io, pin);
    }
}

uint32_t vioapic_read(struct vioapic *io, uint64_t offset)
{
    if (offset == VIOAPIC_IOREGSEL)
        return io->regsel;
    if (offset != VIOAPIC_IOWIN)
        return 0;
    unsigned r = io->regsel;
    switch (r) {
    case VIOAPIC_REG_ID:
    case VIOAPIC_REG_ARB:
        return (uint32_t)io->id << 24;
    case VIOAPIC_REG_VER:
        return VIOAPIC_VERSION | ((VIOAPIC_PINS - 1u) << 16);
    default:
        if (r >= VIOAPIC_REG_REDTBL && r < VIOAPIC_REG_REDTBL + 2u * VIOAPIC_PINS) {
            uint64_t e = io->rte[(r - VIOAPIC_REG_REDTBL) / 2u];
            return (uint32_t)((r & 1u) ? e >> 32 : e);
        }
        return 0;
    }
}

void vioapic_write(struct vioapic *io, uint64_t offset, uint32_t val)
{
    if (offset == VIOAPIC_IOREGSEL) {
        io->regsel = (uint8_t)val;
        return;
    }
    if (offset != VIOAPIC_IOWIN)
        return;
    unsigned r = io->regsel;
    if (r == VIOAPIC_REG_ID) {
        io->id = (uint8_t)((val >> 24) & 0xfu);
        return;
    }
    if (r < VIOAPIC_REG_REDTBL || r >= VIOAPIC_REG_REDTBL + 2u * VIOAPIC_PINS)
        return;                             /* version, arbitration: read-only */
    unsigned pin = (r - VIOAPIC_REG_REDTBL) / 2u;
    uint64_t e = io->rte[pin];
    if (r & 1u) {
        e = (e & 0xffffffffull) | ((uint64_t)val << 32);
    } else {
        /* Keep the high dword and the read-only bits, take the rest of the low dword. */
        e = (e & (~0xffffffffull | VIOAPIC_RTE_RO)) | ((uint64_t)val & ~VIOAPIC_RTE_RO);
    }
    /* Without an EOI register, Linux ends a stuck level interrupt by switching the
     * entry to edge and back: an edge entry has no remote IRR. */
    if (!(e & VIOAPIC_RTE_LEVEL))
        e &= ~VIOAPIC_RTE_REMOTE_IRR;
    io->rte[pin] = e;
    service_level(io, pin);                 /* unmasking an asserted level pin sends it */
}

uint64_t vioapic_bus_read(void *dev, unsigned cpu, uint64_t gpa, unsigned size)
{
    (void)cpu;
    uint64_t off = (gpa - VIOAPIC_BASE) & (VIOAPIC_SIZE - 1u);
    uint32_t v = vioapic_read(dev, off & ~3ull);
    return (uint64_t)(v >> (8u * (off & 3u))) & ((size >= 4) ? 0xffffffffull : ((1ull << (8u * size)) - 1u));
}

void vioapic_bus_write(void *dev, unsigned cpu, uint64_t gpa, unsigned size, uint64_t val)
{
    (void)cpu;
    uint64_t off = (gpa - VIOAPIC_BASE) & (VIOAPIC_SIZE - 1u);
    /* Dword writes; byte writes to IOREGSEL are common too. */
    if ((size == 4 && (off & 3u) == 0) || (size == 1 && off == VIOAPIC_IOREGSEL))
        vioapic_write(dev, off, (uint32_t)val);
    /* Other widths are undefined for the 82093AA; dropped. */
}

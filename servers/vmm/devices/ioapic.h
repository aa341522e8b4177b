/* SPDX-License-Identifier: MIT */
/* ioapic: the 82093AA-style I/O APIC (24 pins, IOREGSEL/IOWIN at 0xfec00000) sending to the local APICs. */
#ifndef VMM_IOAPIC_H
#define VMM_IOAPIC_H

#include <stdbool.h>
#include <stdint.h>

#include "apic_msg.h"

#define VIOAPIC_BASE 0xfec00000ull
#define VIOAPIC_SIZE 0x1000ull
#define VIOAPIC_PINS 24u
#define VIOAPIC_VERSION 0x11u       /* 82093AA: no EOI register */

/* Memory-mapped registers (offsets from the base). */
#define VIOAPIC_IOREGSEL 0x00u
#define VIOAPIC_IOWIN 0x10u

/* Indirect registers. */
#define VIOAPIC_REG_ID 0x00u        /* bits 27:24 */
#define VIOAPIC_REG_VER 0x01u       /* version 7:0, max redirection entry 23:16 */
#define VIOAPIC_REG_ARB 0x02u
#define VIOAPIC_REG_REDTBL 0x10u    /* entry n: low dword 0x10 + 2n, high 0x11 + 2n */

/* Redirection-entry bits. */
#define VIOAPIC_RTE_VECTOR 0xffull
#define VIOAPIC_RTE_DM_SHIFT 8
#define VIOAPIC_RTE_DESTMODE (1ull << 11)
#define VIOAPIC_RTE_DELIVS (1ull << 12)     /* read-only */
#define VIOAPIC_RTE_POLARITY (1ull << 13)   /* 1 = active low */
#define VIOAPIC_RTE_REMOTE_IRR (1ull << 14) /* read-only */
#define VIOAPIC_RTE_LEVEL (1ull << 15)
#define VIOAPIC_RTE_MASK (1ull << 16)
#define VIOAPIC_RTE_DEST_SHIFT 56
#define VIOAPIC_RTE_RO (VIOAPIC_RTE_DELIVS | VIOAPIC_RTE_REMOTE_IRR)

struct vioapic {
    uint8_t id;
    uint8_t regsel;
    uint32_t lines;                 /* asserted inputs, bit per pin */
    uint64_t rte[VIOAPIC_PINS];
    struct apic_bus bus;
};

void vioapic_init(struct vioapic *io, uint8_t id, struct apic_bus bus);
/*
 * Pin `pin` asserted or not. Polarity is the guest's description of the wire (from
 * ACPI); sources report assertion, as in KVM and QEMU, so it is stored, not applied.
 * Edge: a rising assertion on an unmasked pin sends one message. Level: an asserted,
 * unmasked pin with remote IRR clear sends and sets remote IRR until the EOI.
 */
void vioapic_set_irq(struct vioapic *io, unsigned pin, bool asserted);
/* A local APIC's EOI broadcast for a level-triggered vector. */
void vioapic_eoi(struct vioapic *io, uint8_t vector);

uint32_t vioapic_read(struct vioapic *io, uint64_t offset);
void vioapic_write(struct vioapic *io, uint64_t offset, uint32_t val);

uint64_t vioapic_bus_read(void *dev, unsigned cpu, uint64_t gpa, unsigned size);
void vioapic_bus_write(void *dev, unsigned cpu, uint64_t gpa, unsigned size, uint64_t val);

#endif

/* SPDX-License-Identifier: MIT */
/* ioapic: the I/O APICs and ISA interrupt source overrides of the ACPI MADT; routing device lines to the boot CPU. */
#ifndef HV_ARCH_IOAPIC_H
#define HV_ARCH_IOAPIC_H

#include <stdbool.h>
#include <stdint.h>

#include "trap.h"

/*
 * Device interrupt lines are named by their global system interrupt (GSI), the
 * input number across all I/O APICs. GSI g is delivered on vector
 * IOAPIC_VECTOR_BASE + g, fixed delivery, to the boot CPU (physical destination:
 * CPU 0's APIC id). Only GSIs below IOAPIC_MAX_GSI are used.
 */
#define IOAPIC_VECTOR_BASE 0x30         /* above the legacy PIC's 0x20-0x2f */
#define IOAPIC_MAX_GSI 64               /* vectors 0x30-0x6f */
#define IOAPIC_ISA_IRQS 16

_Static_assert(IOAPIC_VECTOR_BASE >= VECTOR_LEGACY_PIC_BASE + 16, "device vectors clear of the 8259's");
_Static_assert(IOAPIC_VECTOR_BASE + IOAPIC_MAX_GSI <= VECTOR_RESCHEDULE, "device vectors below the core's own");

/* How one line is wired: which GSI, and its trigger mode and polarity. */
struct ioapic_line {
    uint32_t gsi;
    bool level;         /* level-triggered (else edge) */
    bool active_low;
};

/*
 * Finds every I/O APIC and interrupt source override in the MADT smp_boot_aps()
 * validated, maps their registers (uncached physmap window) and masks every
 * redirection entry. Without a trusted MADT there are no lines. Boot CPU, once,
 * after smp_boot_aps().
 */
void ioapic_init(void);
/* I/O APICs in use. */
unsigned ioapic_count(void);

/*
 * The line of device interrupt `irq`: 0-15 are ISA IRQs, translated through the
 * MADT's source overrides (default: same GSI, edge, active high; an ISA IRQ whose
 * GSI another ISA IRQ was moved onto has no line); 16 and up are GSIs (level,
 * active low unless an override says otherwise). False if no I/O APIC input
 * below IOAPIC_MAX_GSI carries it.
 */
bool ioapic_resolve(uint64_t irq, struct ioapic_line *out);

static inline uint8_t ioapic_gsi_vector(uint32_t gsi)
{
    return (uint8_t)(IOAPIC_VECTOR_BASE + gsi);
}

/* Programs the redirection entry of `line` (vector, trigger, polarity, CPU 0), masked. */
void ioapic_route(const struct ioapic_line *line);
void ioapic_mask(uint32_t gsi);
void ioapic_unmask(uint32_t gsi);
/*
 * End of interrupt for a device vector: the local APIC's EOI (which, for a
 * level-triggered vector, also clears the I/O APIC's remote IRR).
 */
void ioapic_eoi(void);

#endif

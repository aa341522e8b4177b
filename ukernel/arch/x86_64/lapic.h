/* SPDX-License-Identifier: MIT */
/* lapic: the local APIC of each CPU: enable, EOI, and the calibrated periodic timer. */
#ifndef HV_ARCH_LAPIC_H
#define HV_ARCH_LAPIC_H

#include <stdbool.h>
#include <stdint.h>

struct lapic_timer_info {
    uint64_t bus_hz;        /* timer input clock after the divider, measured against the PIT */
    uint64_t tsc_hz;        /* TSC rate measured in the same window */
    uint32_t hz;            /* periodic interrupt rate */
    uint32_t initial_count;
};

/* Masks the legacy 8259 PICs (remapped away from the exception vectors first). */
void legacy_pic_disable(void);

void lapic_init(void);      /* enables this CPU's local APIC */
uint32_t lapic_id(void);
void lapic_eoi(void);

/*
 * Calibrates against the PIT (once, on the boot CPU) and starts this CPU's periodic
 * timer; the other CPUs call it after the boot CPU and reuse its calibration.
 */
void lapic_timer_start(uint32_t hz);
const struct lapic_timer_info *lapic_timer_info(void);
/* Timer interrupts taken on this CPU since lapic_timer_start(). */
uint64_t lapic_timer_ticks(void);
/* The same for CPU `cpu` (by index), read from any CPU. */
uint64_t lapic_timer_ticks_of(unsigned cpu);

/*
 * Inter-processor interrupts to one local APIC (physical destination). Each
 * returns false if the APIC did not accept the command (delivery stayed pending).
 */
bool lapic_send_ipi(uint32_t apic_id, uint8_t vector);
/* An NMI (delivery mode NMI): taken even with interrupts off; see trap.h for what it does. */
bool lapic_send_nmi(uint32_t apic_id);
bool lapic_send_init(uint32_t apic_id);
/* Startup IPI: the target starts in real mode at CS:IP = start_page << 8 : 0. */
bool lapic_send_startup(uint32_t apic_id, uint8_t start_page);

#endif

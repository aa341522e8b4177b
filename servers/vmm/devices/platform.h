/* SPDX-License-Identifier: MIT */
/* platform: one VM's device set wired together — port/MMIO dispatch, ISA IRQ routing to PIC and I/O APIC, interrupt queries per vCPU. */
#ifndef VMM_PLATFORM_H
#define VMM_PLATFORM_H

#include <stdbool.h>
#include <stdint.h>

#include "ioapic.h"
#include "kbc.h"
#include "lapic.h"
#include "pci.h"
#include "pic.h"
#include "pit.h"
#include "pm.h"
#include "rtc.h"
#include "uart.h"
#include "vbus.h"
#include "vdev.h"

#define VMM_MAX_VCPUS 8u
#define VMM_PLATFORM_PIC_PIN 0u       /* I/O APIC pin driven by the 8259A's INT */

/*
 * Interrupt routing (what the MADT tells the guest):
 *   ISA IRQ n drives 8259A input n and I/O APIC pin n, except IRQ 0 -> pin 2
 *   (interrupt source override); the 8259A's INT goes to vCPU 0's LINT0 and to I/O
 *   APIC pin 0 (ExtINT virtual wire), and is acknowledged by the vCPU it reaches.
 *   GSIs 16-23 are free for PCI devices (vmm_platform_set_gsi).
 * The vmm's loop per vCPU:
 *   - after any device access or vmm_platform_tick(): vmm_platform_intr_pending(cpu)?
 *     -> if the guest can take it now, vmm_platform_intr_take(cpu) gives the vector to
 *        inject (IRR -> ISR done), else request an interrupt window;
 *   - vmm_platform_take_nmi / take_init / take_sipi for the other events;
 *   - vmm_platform_next_deadline(): program one wakeup, then vmm_platform_tick().
 */
struct vmm_platform_config {
    unsigned cpus;
    const struct vclock *clock;
    int64_t wall_time;              /* RTC: seconds since 1970 at VM time "now" */
    uint64_t ram;                   /* bytes (CMOS memory-size bytes) */
    void (*console)(void *ctx, uint8_t byte);
    void *console_ctx;
};

struct vmm_platform {
    struct vmm_platform_config cfg; /* as given to vmm_platform_init (vmm_platform_reset reuses it) */
    unsigned cpus;
    const struct vclock *clock;
    struct vpic pic;
    struct vioapic ioapic;
    struct vlapic lapic[VMM_MAX_VCPUS];
    struct vpit pit;
    struct vrtc rtc;
    struct vuart com1;
    struct vpci pci;
    struct vkbc kbc;
    struct vpm pm;
    struct vbus pio;
    struct vbus mmio;
    uint32_t events;                /* VDEV_EVENT_* not yet taken by the vmm */
};

enum vmm_platform_error { VMM_PLATFORM_OK = 0, VMM_PLATFORM_ERR_CPUS, VMM_PLATFORM_ERR_BUS };

enum vmm_platform_error vmm_platform_init(struct vmm_platform *p, const struct vmm_platform_config *cfg);
/*
 * A PC's reset line (the vmm's answer to VDEV_EVENT_RESET): every device back to its
 * power-on state, as vmm_platform_init left it, except the RTC, which a reset does not
 * reach on a PC (battery-backed): its clock and CMOS NVRAM are kept and vrtc_reset clears
 * its interrupt enables and flags. Events not yet taken are dropped. Cannot fail: the
 * configuration was accepted at init.
 */
void vmm_platform_reset(struct vmm_platform *p);

/* An ISA IRQ line (0-15) or I/O APIC GSI (16-23, later PCI devices). */
void vmm_platform_set_isa_irq(struct vmm_platform *p, unsigned irq, bool level);
void vmm_platform_set_gsi(struct vmm_platform *p, unsigned gsi, bool level);

/* Guest accesses (false: nothing there; reads got all-ones). */
bool vmm_platform_pio_read(struct vmm_platform *p, unsigned cpu, uint16_t port, unsigned size, uint32_t *val);
bool vmm_platform_pio_write(struct vmm_platform *p, unsigned cpu, uint16_t port, unsigned size, uint32_t val);
bool vmm_platform_mmio_read(struct vmm_platform *p, unsigned cpu, uint64_t gpa, unsigned size, uint64_t *val);
bool vmm_platform_mmio_write(struct vmm_platform *p, unsigned cpu, uint64_t gpa, unsigned size, uint64_t val);

/* Timers. */
uint64_t vmm_platform_next_deadline(const struct vmm_platform *p);
void vmm_platform_tick(struct vmm_platform *p);

/* Interrupts for vCPU `cpu`. */
bool vmm_platform_intr_pending(const struct vmm_platform *p, unsigned cpu);
bool vmm_platform_intr_take(struct vmm_platform *p, unsigned cpu, uint8_t *vector);
bool vmm_platform_take_nmi(struct vmm_platform *p, unsigned cpu);
bool vmm_platform_take_init(struct vmm_platform *p, unsigned cpu);
bool vmm_platform_take_sipi(struct vmm_platform *p, unsigned cpu, uint8_t *vector);
/* Whole-VM events (VDEV_EVENT_RESET, VDEV_EVENT_POWEROFF), cleared by taking them. */
uint32_t vmm_platform_take_events(struct vmm_platform *p);

#endif

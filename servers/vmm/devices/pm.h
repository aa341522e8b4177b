/* SPDX-License-Identifier: MIT */
/* pm: the ACPI fixed hardware — PM1a event/control blocks (S5 power-off), the PM timer, the SCI on IRQ9. */
#ifndef VMM_PM_H
#define VMM_PM_H

#include <stdbool.h>
#include <stdint.h>

#include "vdev.h"

/* Port layout (the FADT points at these; the QEMU Q35 ICH9 layout at 0x600). */
#define VPM_BASE 0x600u
#define VPM_PM1A_EVT 0x600u         /* PM1 status (2 bytes) + PM1 enable (2 bytes) */
#define VPM_PM1_EVT_LEN 4u
#define VPM_PM1A_CNT 0x604u
#define VPM_PM1_CNT_LEN 2u
#define VPM_PM_TMR 0x608u
#define VPM_PM_TMR_LEN 4u
#define VPM_SIZE 0x0cu
#define VPM_SCI_IRQ 9u

#define VPM_TMR_HZ 3579545ull       /* ACPI PM timer frequency */

/* PM1 status / enable bits (ACPI 6.x, 4.8.3.1). */
#define VPM1_TMR 0x0001u
#define VPM1_GBL 0x0020u
#define VPM1_PWRBTN 0x0100u
#define VPM1_SLPBTN 0x0200u
#define VPM1_RTC 0x0400u
#define VPM1_WAK 0x8000u
#define VPM1_STS_W1C 0x8731u        /* status bits the guest clears by writing 1 */
#define VPM1_EN_MASK 0x0721u

/* PM1 control. */
#define VPM1_CNT_SCI_EN 0x0001u
#define VPM1_CNT_SLP_TYP_SHIFT 10
#define VPM1_CNT_SLP_TYP_MASK 0x1c00u
#define VPM1_CNT_SLP_EN 0x2000u

/* The SLP_TYP the DSDT's \_S5 package names: writing it with SLP_EN powers the VM off. */
#define VPM_SLP_TYP_S5 5u

struct vpm {
    uint16_t sts, en, cnt;
    uint64_t tmr_epoch_ns;          /* the TMR_STS edge last accounted (bit 31 toggles) */
    const struct vclock *clock;
    struct vdev_irq sci;
    struct vdev_events events;
};

void vpm_init(struct vpm *pm, const struct vclock *clock, struct vdev_irq sci, struct vdev_events events);
/* The vmm asks the guest to shut down (ACPI fixed power button). */
void vpm_press_power_button(struct vpm *pm);
uint32_t vpm_timer(const struct vpm *pm);
void vpm_tick(struct vpm *pm);
uint64_t vpm_next_deadline(const struct vpm *pm);

uint64_t vpm_bus_read(void *dev, unsigned cpu, uint64_t port, unsigned size);
void vpm_bus_write(void *dev, unsigned cpu, uint64_t port, unsigned size, uint64_t val);

#endif

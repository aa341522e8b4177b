/* SPDX-License-Identifier: MIT */
/* pm: the ACPI fixed hardware — PM1a event/control blocks (S5 power-off), the PM timer, the SCI on IRQ9. */
#include "pm.h"

#include <string.h>

/*
 * SMI_CMD is 0 in the FADT, so the platform is always in ACPI mode: SCI_EN reads 1.
 * The PM timer is 32 bits (FADT TMR_VAL_EXT); TMR_STS is set whenever its bit 31 toggles.
 * SCI is level-triggered, active high (MADT interrupt source override for IRQ 9).
 */

static uint64_t ticks(uint64_t ns)
{
    return vdev_muldiv(ns, VPM_TMR_HZ, VDEV_NS_PER_SEC);
}

uint32_t vpm_timer(const struct vpm *pm)
{
    return (uint32_t)ticks(vclock_now(pm->clock));
}

static void update_sci(struct vpm *pm)
{
    vdev_irq_set(&pm->sci, (pm->sts & pm->en & VPM1_EN_MASK) != 0);
}

/* Half a 2^32 wrap: how often bit 31 toggles. */
static uint64_t toggle_index(uint64_t ns)
{
    return ticks(ns) >> 31;
}

void vpm_tick(struct vpm *pm)
{
    uint64_t now = vclock_now(pm->clock);
    if (toggle_index(now) != toggle_index(pm->tmr_epoch_ns)) {
        pm->sts |= VPM1_TMR;
        pm->tmr_epoch_ns = now;
    }
    update_sci(pm);
}

uint64_t vpm_next_deadline(const struct vpm *pm)
{
    if (!(pm->en & VPM1_TMR) || (pm->sts & VPM1_TMR))
        return VDEV_NO_DEADLINE;
    uint64_t next_tick = (toggle_index(pm->tmr_epoch_ns) + 1u) << 31;
    return vdev_muldiv(next_tick, VDEV_NS_PER_SEC, VPM_TMR_HZ) + 1u;
}

void vpm_init(struct vpm *pm, const struct vclock *clock, struct vdev_irq sci, struct vdev_events events)
{
    memset(pm, 0, sizeof(*pm));
    pm->clock = clock;
    pm->sci = sci;
    pm->events = events;
    pm->cnt = VPM1_CNT_SCI_EN;
    pm->tmr_epoch_ns = vclock_now(clock);
}

void vpm_press_power_button(struct vpm *pm)
{
    pm->sts |= VPM1_PWRBTN;
    update_sci(pm);
}

static void write_cnt(struct vpm *pm, uint16_t v)
{
    /* SLP_EN is write-only: it starts the transition to the SLP_TYP state. */
    pm->cnt = (uint16_t)((v & ~VPM1_CNT_SLP_EN & ~VPM1_CNT_SCI_EN) | VPM1_CNT_SCI_EN);
    unsigned typ = (v & VPM1_CNT_SLP_TYP_MASK) >> VPM1_CNT_SLP_TYP_SHIFT;
    if ((v & VPM1_CNT_SLP_EN) && typ == VPM_SLP_TYP_S5)
        vdev_event_raise(&pm->events, VDEV_EVENT_POWEROFF);
    /* Other sleep types are not offered by the DSDT: ignored. */
}

/* Byte view of the 12-byte block, for any access width. */
static uint8_t read_byte(struct vpm *pm, unsigned off)
{
    uint32_t v;
    switch (off & ~1u) {
    case 0: v = pm->sts; break;
    case 2: v = pm->en; break;
    case 4: v = pm->cnt; break;
    case 8: case 10: v = vpm_timer(pm) >> (8u * (off & 2u)); break;
    default: return 0xff;
    }
    return (uint8_t)(v >> (8u * (off & 1u)));
}

uint64_t vpm_bus_read(void *dev, unsigned cpu, uint64_t port, unsigned size)
{
    (void)cpu;
    struct vpm *pm = dev;
    vpm_tick(pm);
    unsigned off = (unsigned)(port - VPM_BASE);
    if (off == 8u && size == 4u)
        return vpm_timer(pm);                       /* one consistent sample */
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)read_byte(pm, off + i) << (8 * i);
    return v;
}

void vpm_bus_write(void *dev, unsigned cpu, uint64_t port, unsigned size, uint64_t val)
{
    (void)cpu;
    struct vpm *pm = dev;
    vpm_tick(pm);
    unsigned off = (unsigned)(port - VPM_BASE);
    for (unsigned i = 0; i < size; i++) {
        unsigned o = off + i;
        uint8_t b = (uint8_t)(val >> (8 * i));
        unsigned sh = 8u * (o & 1u);
        switch (o & ~1u) {
        case 0:                                     /* status: write 1 to clear */
            pm->sts &= (uint16_t)~((unsigned)(b << sh) & VPM1_STS_W1C);
            break;
        case 2:
            pm->en = (uint16_t)(((pm->en & ~(0xffu << sh)) | (unsigned)(b << sh)) & VPM1_EN_MASK);
            break;
        case 4:
            /* A word write applies both bytes at once so SLP_TYP and SLP_EN arrive together. */
            if (size >= 2 && (o & 1u) == 0 && i + 1 < size) {
                write_cnt(pm, (uint16_t)(b | (uint16_t)((val >> (8 * (i + 1))) & 0xffu) << 8));
                i++;
            } else {
                write_cnt(pm, (uint16_t)((pm->cnt & ~(0xffu << sh)) | (unsigned)(b << sh)));
            }
            break;
        default:                                    /* the timer is read-only */
            break;
        }
    }
    update_sci(pm);
}

/* SPDX-License-Identifier: MIT */
/* vdev: what every device model shares with the vmm — time source, interrupt lines, VM events. */
#ifndef VMM_VDEV_H
#define VMM_VDEV_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Device models are plain structs the vmm embeds (no allocation). They never read a
 * clock themselves: the vmm supplies "now" in nanoseconds of VM time through a vclock,
 * and a device with timers reports its next deadline (absolute ns, VDEV_NO_DEADLINE if
 * none) so the vmm can program one wakeup and call the device's tick when it passes.
 */
#define VDEV_NO_DEADLINE UINT64_MAX
#define VDEV_NS_PER_SEC 1000000000ull

struct vclock {
    uint64_t (*now_ns)(void *ctx);
    void *ctx;
};

static inline uint64_t vclock_now(const struct vclock *c)
{
    return c->now_ns(c->ctx);
}

/*
 * An interrupt output: the device drives a logical level (true = asserted). What that
 * means for edge or level delivery is the interrupt controller's business (vpic, vioapic):
 * an edge-triggered input latches the rising edge, so a device that wants one interrupt
 * per event pulses (raise, then lower).
 */
struct vdev_irq {
    void (*set)(void *ctx, unsigned line, bool asserted);
    void *ctx;
    unsigned line;
};

static inline void vdev_irq_set(const struct vdev_irq *irq, bool asserted)
{
    if (irq->set != 0)
        irq->set(irq->ctx, irq->line, asserted);
}

static inline void vdev_irq_pulse(const struct vdev_irq *irq)
{
    vdev_irq_set(irq, true);
    vdev_irq_set(irq, false);
}

/* Whole-VM events a device raises for the vmm (reset line, ACPI S5). */
enum vdev_event {
    VDEV_EVENT_RESET_KBC = 1u << 0, /* keyboard controller: 0xfe pulse or output-port bit 0 low */
    VDEV_EVENT_POWEROFF = 1u << 1,  /* PM1a control: SLP_EN with the S5 sleep type */
    VDEV_EVENT_RESET_RCR = 1u << 2, /* PIIX reset control 0xcf9 (also the FADT's RESET_REG) */
};
/* Either reset line: the vmm resets the whole VM (the source only goes to the log). */
#define VDEV_EVENT_RESET ((uint32_t)VDEV_EVENT_RESET_KBC | (uint32_t)VDEV_EVENT_RESET_RCR)

struct vdev_events {
    void (*raise)(void *ctx, enum vdev_event ev);
    void *ctx;
};

static inline void vdev_event_raise(const struct vdev_events *e, enum vdev_event ev)
{
    if (e->raise != 0)
        e->raise(e->ctx, ev);
}

/* The bytes of `v` an access of `size` at byte offset `off` within a register sees. */
static inline uint64_t vdev_size_mask(unsigned size)
{
    return size >= 8 ? ~0ull : (1ull << (size * 8u)) - 1u;
}

/* t * num / den without overflowing 64 bits for the ranges we use (VM time in ns). */
static inline uint64_t vdev_muldiv(uint64_t t, uint64_t num, uint64_t den)
{
    return (uint64_t)(((unsigned __int128)t * num) / den);
}

#endif

/* SPDX-License-Identifier: MIT */
/* pit: the 8254 programmable interval timer (ports 0x40-0x43, IRQ0) and port 0x61's channel-2 gate and OUT2. */
#include "pit.h"

#include <assert.h>
#include <string.h>

/*
 * Time model: a counter is a function of VM time. `d` is the number of CLK pulses since
 * the count was written (or the trigger); the first pulse only loads the counter (8254
 * datasheet: "this CLK pulse does not decrement the count"), so e = d - 1 counts have
 * elapsed. Gate low pauses modes 0, 2, 3, 4 (d frozen in paused_ticks).
 */

static uint64_t ns_to_ticks(uint64_t ns) { return vdev_muldiv(ns, VPIT_HZ, VDEV_NS_PER_SEC); }

/* First ns at which `ticks` pulses have happened since `base`. */
static uint64_t ticks_to_ns(uint64_t base, uint64_t ticks)
{
    return base + (uint64_t)(((unsigned __int128)ticks * VDEV_NS_PER_SEC + VPIT_HZ - 1u) / VPIT_HZ);
}

static unsigned eff_mode(const struct vpit_channel *c)
{
    return c->mode > 5 ? c->mode - 4u : c->mode;
}

static uint64_t pulses(const struct vpit_channel *c, uint64_t now)
{
    if (c->paused)
        return c->paused_ticks;
    return c->paused_ticks + ns_to_ticks(now - c->load_ns);
}

/* Counts elapsed: e = d - 1, or -1 before the loading pulse. */
static int64_t elapsed(const struct vpit_channel *c, uint64_t now)
{
    return (int64_t)pulses(c, now) - 1;
}

static bool counting(const struct vpit_channel *c)
{
    unsigned m = eff_mode(c);
    return c->loaded && ((m != 1 && m != 5) || c->armed);
}

static uint32_t modulus(const struct vpit_channel *c)
{
    return c->bcd ? 10000u : 0x10000u;
}

static uint32_t counter_value(const struct vpit_channel *c, uint64_t now)
{
    if (!counting(c))
        return c->count % modulus(c);
    int64_t e = elapsed(c, now);
    if (e < 0)
        return c->count % modulus(c);
    uint64_t n = c->count;
    uint64_t ue = (uint64_t)e;
    switch (eff_mode(c)) {
    case 2:
        return (uint32_t)((n - ue % n) % modulus(c));
    case 3:
        /* Decrements by two; each half period reloads (odd counts: within one clock). */
        return (uint32_t)(((n - (2u * ue) % n) & ~1ull) % modulus(c));
    default:    /* 0, 1, 4, 5: count down once, then wrap and keep counting */
        return (uint32_t)((n + (uint64_t)modulus(c) * (ue / modulus(c) + 1u) - ue) % modulus(c));
    }
}

static bool out_level(const struct vpit_channel *c, uint64_t now)
{
    unsigned m = eff_mode(c);
    if (!c->loaded)
        return m != 0;                      /* mode 0: low after the control word; others high */
    if ((m == 1 || m == 5) && !c->armed)
        return true;
    if ((m == 2 || m == 3) && !c->gate)
        return true;                        /* gate low forces OUT high */
    int64_t e = elapsed(c, now);
    uint64_t n = c->count;
    switch (m) {
    case 0:
    case 1:                                 /* mode 1: low from the trigger to terminal count */
        return e >= (int64_t)n;
    case 2:
        return e < 0 || (uint64_t)e % n != n - 1u;   /* low while the counter is 1 */
    case 3:
        return e < 0 || (uint64_t)e % n < (n + 1u) / 2u;
    default:    /* 4, 5: one CLK low at terminal count */
        return e != (int64_t)n;
    }
}

/* ---- IRQ0: channel 0's OUT rising edges ---- */

static uint64_t irq_edge_ns(const struct vpit_channel *c, uint64_t e_edge)
{
    /* e counts are d - 1 pulses: the edge happens at pulse e_edge + 1 (after the pause offset). */
    uint64_t d = e_edge + 1u;
    if (d <= c->paused_ticks)
        return c->load_ns;
    return ticks_to_ns(c->load_ns, d - c->paused_ticks);
}

static void irq_schedule(struct vpit *pit, uint64_t now)
{
    struct vpit_channel *c = &pit->ch[0];
    c->irq_next_ns = VDEV_NO_DEADLINE;
    if (!counting(c) || c->paused)
        return;
    uint64_t n = c->count;
    int64_t e = elapsed(c, now);
    uint64_t ue = e < 0 ? 0 : (uint64_t)e;
    switch (eff_mode(c)) {
    case 2:
    case 3:
        /* OUT rises at every reload: e = kN, k >= 1. */
        c->irq_next_ns = irq_edge_ns(c, (ue / n + 1u) * n);
        break;
    case 0:
    case 1:
        if (e < (int64_t)n)
            c->irq_next_ns = irq_edge_ns(c, n);
        break;
    default:    /* 4, 5: OUT returns high one count after terminal count */
        if (e < (int64_t)n + 1)
            c->irq_next_ns = irq_edge_ns(c, n + 1u);
        break;
    }
}

void vpit_tick(struct vpit *pit)
{
    uint64_t now = vclock_now(pit->clock);
    struct vpit_channel *c = &pit->ch[0];
    if (c->irq_next_ns == VDEV_NO_DEADLINE || now < c->irq_next_ns)
        return;
    vdev_irq_pulse(&pit->irq0);             /* missed periods coalesce into one edge */
    irq_schedule(pit, now);
}

uint64_t vpit_next_deadline(const struct vpit *pit)
{
    return pit->ch[0].irq_next_ns;
}

/* ---- gate (channel 2 from port 0x61; channels 0 and 1 are tied high) ---- */

static void set_gate(struct vpit *pit, unsigned idx, bool gate)
{
    struct vpit_channel *c = &pit->ch[idx];
    uint64_t now = vclock_now(pit->clock);
    if (gate == c->gate)
        return;
    unsigned m = eff_mode(c);
    if (!gate) {
        if (m != 1 && m != 5) {
            c->paused_ticks = pulses(c, now);
            c->paused = true;
        }
    } else if (m == 1 || m == 5) {
        c->armed = true;                    /* trigger: restart from the count */
        c->paused_ticks = 0;
        c->paused = false;
        c->load_ns = now;
    } else {
        if (m == 2 || m == 3)
            c->paused_ticks = 0;            /* a rising gate reloads */
        c->paused = false;
        c->load_ns = now;
    }
    c->gate = gate;
    if (idx == 0)
        irq_schedule(pit, now);
}

void vpit_init(struct vpit *pit, const struct vclock *clock, struct vdev_irq irq0)
{
    memset(pit, 0, sizeof(*pit));
    pit->clock = clock;
    pit->irq0 = irq0;
    for (unsigned i = 0; i < 3; i++) {
        struct vpit_channel *c = &pit->ch[i];
        c->gate = i != 2;                   /* gate 2 follows port 0x61 bit 0 (reset 0) */
        c->rw = VPIT_RW_WORD;
        c->count = 0x10000u;
        c->irq_next_ns = VDEV_NO_DEADLINE;
    }
}

uint16_t vpit_counter(const struct vpit *pit, unsigned c)
{
    assert(c < 3);
    uint32_t v = counter_value(&pit->ch[c], vclock_now(pit->clock));
    if (pit->ch[c].bcd)
        v = (v % 10u) | ((v / 10u % 10u) << 4) | ((v / 100u % 10u) << 8) | ((v / 1000u % 10u) << 12);
    return (uint16_t)v;
}

bool vpit_out(const struct vpit *pit, unsigned c)
{
    assert(c < 3);
    return out_level(&pit->ch[c], vclock_now(pit->clock));
}

static uint8_t status_byte(const struct vpit *pit, unsigned idx)
{
    const struct vpit_channel *c = &pit->ch[idx];
    return (uint8_t)((vpit_out(pit, idx) ? 0x80u : 0u) | (c->loaded ? 0u : 0x40u) |
                     (unsigned)(c->rw << 4) | (unsigned)(c->mode << 1) | (c->bcd ? 1u : 0u));
}

static void latch_count(struct vpit *pit, unsigned idx)
{
    struct vpit_channel *c = &pit->ch[idx];
    if (c->count_latched)
        return;                             /* a second latch before the read is ignored */
    c->latch = vpit_counter(pit, idx);
    c->count_latched = true;
    c->latch_msb_next = false;
}

static void load_count(struct vpit *pit, unsigned idx, uint16_t raw)
{
    struct vpit_channel *c = &pit->ch[idx];
    uint64_t now = vclock_now(pit->clock);
    uint32_t v = raw;
    if (c->bcd)
        v = (raw & 0xfu) + ((raw >> 4) & 0xfu) * 10u + ((raw >> 8) & 0xfu) * 100u + ((raw >> 12) & 0xfu) * 1000u;
    if (v == 0)
        v = modulus(c);                     /* 0 is the largest count: 2^16 or 10^4 */
    c->count = v;
    c->loaded = true;
    c->load_ns = now;
    c->paused_ticks = 0;
    unsigned m = eff_mode(c);
    c->armed = false;                       /* modes 1, 5 wait for a gate trigger */
    c->paused = (m != 1 && m != 5) && !c->gate;
    if (idx == 0)
        irq_schedule(pit, now);
}

static void write_control(struct vpit *pit, uint8_t val)
{
    unsigned sc = val >> 6;
    if (sc == VPIT_READBACK) {
        for (unsigned i = 0; i < 3; i++) {
            if (!(val & (2u << i)))
                continue;
            if (!(val & 0x20u))
                latch_count(pit, i);
            if (!(val & 0x10u) && !pit->ch[i].status_latched) {
                pit->ch[i].status = status_byte(pit, i);
                pit->ch[i].status_latched = true;
            }
        }
        return;
    }
    struct vpit_channel *c = &pit->ch[sc];
    unsigned rw = (val >> 4) & 3u;
    if (rw == VPIT_RW_LATCH) {
        latch_count(pit, sc);
        return;
    }
    c->rw = (uint8_t)rw;
    c->mode = (uint8_t)((val >> 1) & 7u);
    c->bcd = (val & 1u) != 0;
    c->loaded = false;                      /* NULL count until a count is written */
    c->armed = false;
    c->paused = false;
    c->paused_ticks = 0;
    c->write_msb_next = false;
    c->read_msb_next = false;
    c->count_latched = false;
    c->status_latched = false;
    if (sc == 0)
        irq_schedule(pit, vclock_now(pit->clock));
}

static uint8_t read_counter(struct vpit *pit, unsigned idx)
{
    struct vpit_channel *c = &pit->ch[idx];
    if (c->status_latched) {
        c->status_latched = false;
        return c->status;
    }
    uint16_t v;
    bool msb;
    if (c->count_latched) {
        v = c->latch;
        if (c->rw == VPIT_RW_WORD) {
            msb = c->latch_msb_next;
            c->latch_msb_next = !msb;
            if (msb)
                c->count_latched = false;
        } else {
            msb = c->rw == VPIT_RW_MSB;
            c->count_latched = false;
        }
    } else {
        v = vpit_counter(pit, idx);
        if (c->rw == VPIT_RW_WORD) {
            msb = c->read_msb_next;
            c->read_msb_next = !msb;
        } else {
            msb = c->rw == VPIT_RW_MSB;
        }
    }
    return (uint8_t)(msb ? v >> 8 : v);
}

static void write_counter(struct vpit *pit, unsigned idx, uint8_t val)
{
    struct vpit_channel *c = &pit->ch[idx];
    switch (c->rw) {
    case VPIT_RW_LSB:
        load_count(pit, idx, val);
        break;
    case VPIT_RW_MSB:
        load_count(pit, idx, (uint16_t)(val << 8));
        break;
    default:
        if (!c->write_msb_next) {
            c->write_lsb = val;
            c->write_msb_next = true;
            if (eff_mode(c) == 0) {
                c->loaded = false;          /* mode 0: the first byte stops the count, OUT low */
                if (idx == 0)
                    irq_schedule(pit, vclock_now(pit->clock));
            }
        } else {
            c->write_msb_next = false;
            load_count(pit, idx, (uint16_t)(c->write_lsb | (val << 8)));
        }
        break;
    }
}

uint8_t vpit_read(struct vpit *pit, uint16_t port)
{
    if (port == VPIT_PORT_B) {
        uint64_t now = vclock_now(pit->clock);
        uint8_t v = pit->port_b & 0x0fu;
        if ((now / 15085u) & 1u)
            v |= VPIT_B_REFRESH;
        if (vpit_out(pit, 2))
            v |= VPIT_B_OUT2;
        return v;
    }
    if (port >= VPIT_PORT && port < VPIT_PORT + 3u)
        return read_counter(pit, port - VPIT_PORT);
    return 0xff;                            /* the control word register is write-only */
}

void vpit_write(struct vpit *pit, uint16_t port, uint8_t val)
{
    if (port == VPIT_PORT_B) {
        pit->port_b = val & 0x0fu;
        set_gate(pit, 2, (val & VPIT_B_GATE2) != 0);
    } else if (port == VPIT_PORT + 3u) {
        write_control(pit, val);
    } else if (port >= VPIT_PORT && port < VPIT_PORT + 3u) {
        write_counter(pit, port - VPIT_PORT, val);
    }
}

uint64_t vpit_bus_read(void *dev, unsigned cpu, uint64_t port, unsigned size)
{
    (void)cpu;
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)vpit_read(dev, (uint16_t)(port + i)) << (8 * i);
    return v;
}

void vpit_bus_write(void *dev, unsigned cpu, uint64_t port, unsigned size, uint64_t val)
{
    (void)cpu;
    for (unsigned i = 0; i < size; i++)
        vpit_write(dev, (uint16_t)(port + i), (uint8_t)(val >> (8 * i)));
}

/* SPDX-License-Identifier: MIT */
/* lapic: one vCPU's local APIC in xAPIC mode (MMIO 0xfee00000): priorities, IRR/ISR/TMR, EOI, IPIs, LVT timer. */
#include "lapic.h"

#include <assert.h>
#include <string.h>

/* Writable bits of each LVT (delivery status and remote IRR are read-only). */
static const uint32_t lvt_wmask[VLAPIC_LVT_COUNT] = {
    [VLAPIC_LVT_IDX_TIMER] = 0x000700ffu,     /* vector, mask, timer mode 18:17 */
    [VLAPIC_LVT_IDX_THERMAL] = 0x000107ffu,   /* vector, delivery mode, mask */
    [VLAPIC_LVT_IDX_PERF] = 0x000107ffu,
    [VLAPIC_LVT_IDX_LINT0] = 0x0001a7ffu,     /* + polarity 13, trigger 15 */
    [VLAPIC_LVT_IDX_LINT1] = 0x0001a7ffu,
    [VLAPIC_LVT_IDX_ERROR] = 0x000100ffu,
};

static bool bit_test(const uint32_t *r, unsigned v) { return (r[v >> 5] >> (v & 31u)) & 1u; }
static void bit_set(uint32_t *r, unsigned v) { r[v >> 5] |= 1u << (v & 31u); }
static void bit_clear(uint32_t *r, unsigned v) { r[v >> 5] &= ~(1u << (v & 31u)); }

/* The highest set bit of a 256-bit register, or -1. */
static int highest(const uint32_t *r)
{
    for (int i = 7; i >= 0; i--)
        if (r[i] != 0)
            return i * 32 + (31 - __builtin_clz(r[i]));
    return -1;
}

void vlapic_reset(struct vlapic *l)
{
    l->tpr = 0;
    l->ldr = 0;
    l->dfr = 0xffffffffu;
    l->svr = 0xffu;                 /* spurious vector 0xff, software-disabled */
    l->esr = l->esr_pending = 0;
    l->icr_lo = l->icr_hi = 0;
    for (unsigned i = 0; i < VLAPIC_LVT_COUNT; i++)
        l->lvt[i] = VLAPIC_LVT_MASKED;
    memset(l->irr, 0, sizeof(l->irr));
    memset(l->isr, 0, sizeof(l->isr));
    memset(l->tmr, 0, sizeof(l->tmr));
    l->timer_initial = 0;
    l->timer_dcr = 0;
    l->timer_start = 0;
    l->timer_next = VDEV_NO_DEADLINE;
    l->extint_pending = false;
}

void vlapic_init(struct vlapic *l, unsigned cpu, uint8_t id, bool bsp, const struct vclock *clock,
                 struct apic_bus bus, void (*eoi_broadcast)(void *, uint8_t), void *eoi_ctx)
{
    memset(l, 0, sizeof(*l));
    l->cpu = cpu;
    l->id = id;
    l->base_msr = VLAPIC_BASE | VLAPIC_BASE_ENABLE | (bsp ? VLAPIC_BASE_BSP : 0);
    l->clock = clock;
    l->bus = bus;
    l->eoi_broadcast = eoi_broadcast;
    l->eoi_ctx = eoi_ctx;
    vlapic_reset(l);
}

bool vlapic_hw_enabled(const struct vlapic *l)
{
    return (l->base_msr & VLAPIC_BASE_ENABLE) != 0;
}

bool vlapic_sw_enabled(const struct vlapic *l)
{
    return vlapic_hw_enabled(l) && (l->svr & VLAPIC_SVR_ENABLE);
}

uint64_t vlapic_read_base(const struct vlapic *l)
{
    return l->base_msr;
}

void vlapic_write_base(struct vlapic *l, uint64_t val)
{
    /* The BSP flag is read-only; the base stays at 0xfee00000 (relocation is not modelled). */
    bool was = vlapic_hw_enabled(l);
    l->base_msr = (l->base_msr & ~VLAPIC_BASE_ENABLE) | (val & VLAPIC_BASE_ENABLE);
    if (was && !vlapic_hw_enabled(l))
        vlapic_reset(l);            /* a global disable loses the state (SDM 11.4.3) */
}

/* ---- priorities ---- */

uint8_t vlapic_ppr(const struct vlapic *l)
{
    int isrv = highest(l->isr);
    uint32_t isr_class = isrv < 0 ? 0u : ((uint32_t)isrv & 0xf0u);
    return (uint8_t)(((l->tpr & 0xf0u) >= isr_class) ? l->tpr & 0xffu : isr_class);
}

static uint8_t apr(const struct vlapic *l)
{
    int isrv = highest(l->isr);
    int irrv = highest(l->irr);
    uint32_t isr_class = isrv < 0 ? 0u : ((uint32_t)isrv & 0xf0u);
    uint32_t irr_class = irrv < 0 ? 0u : ((uint32_t)irrv & 0xf0u);
    uint32_t tpr_class = l->tpr & 0xf0u;
    if (tpr_class >= irr_class && tpr_class > isr_class)
        return (uint8_t)l->tpr;
    uint32_t m = tpr_class > isr_class ? tpr_class : isr_class;
    return (uint8_t)(m > irr_class ? m : irr_class);
}

int vlapic_pending(const struct vlapic *l)
{
    if (!vlapic_hw_enabled(l))
        return -1;
    int v = highest(l->irr);
    if (v < 0 || ((unsigned)v & 0xf0u) <= (vlapic_ppr(l) & 0xf0u))
        return -1;
    return v;
}

void vlapic_ack(struct vlapic *l, uint8_t vector)
{
    assert(bit_test(l->irr, vector));
    bit_clear(l->irr, vector);
    bit_set(l->isr, vector);
}

static void eoi(struct vlapic *l)
{
    int v = highest(l->isr);
    if (v < 0)
        return;
    bit_clear(l->isr, (unsigned)v);
    if (bit_test(l->tmr, (unsigned)v) && l->eoi_broadcast != 0)
        l->eoi_broadcast(l->eoi_ctx, (uint8_t)v);
}

/* ---- accepting interrupts ---- */

static void raise_error(struct vlapic *l, uint32_t bits);

static void set_irr(struct vlapic *l, uint8_t vector, bool level)
{
    if (vector < 16) {
        raise_error(l, VLAPIC_ESR_RECV_ILLEGAL);
        return;
    }
    bit_set(l->irr, vector);
    if (level)
        bit_set(l->tmr, vector);
    else
        bit_clear(l->tmr, vector);
}

/* Local interrupts (LVT) are delivered only while the APIC is software-enabled and the entry unmasked. */
static void deliver_lvt(struct vlapic *l, unsigned idx)
{
    uint32_t lvt = l->lvt[idx];
    if ((lvt & VLAPIC_LVT_MASKED) || !vlapic_sw_enabled(l))
        return;
    unsigned dm = (lvt >> VLAPIC_LVT_DM_SHIFT) & 7u;
    if (idx == VLAPIC_LVT_IDX_TIMER || idx == VLAPIC_LVT_IDX_ERROR)
        dm = APIC_DM_FIXED;
    if (dm == APIC_DM_NMI)
        l->nmi_pending++;
    else if (dm == APIC_DM_EXTINT)
        l->extint_pending = true;
    else if (dm == APIC_DM_FIXED)
        set_irr(l, (uint8_t)(lvt & VLAPIC_LVT_VECTOR), (lvt >> 15) & 1u);
}

static void raise_error(struct vlapic *l, uint32_t bits)
{
    bool first = (l->esr_pending & bits) != bits;
    l->esr_pending |= bits;
    /* The error LVT's own vector must be legal, or this would recurse. */
    if (first && (l->lvt[VLAPIC_LVT_IDX_ERROR] & VLAPIC_LVT_VECTOR) >= 16)
        deliver_lvt(l, VLAPIC_LVT_IDX_ERROR);
}

bool vlapic_match(const struct vlapic *l, const struct apic_msg *m)
{
    if (!vlapic_hw_enabled(l))
        return false;
    switch (m->shorthand) {
    case APIC_SH_SELF:
        return l->cpu == m->src;
    case APIC_SH_ALL:
        return true;
    case APIC_SH_OTHERS:
        return l->cpu != m->src;
    default:
        break;
    }
    if (!m->logical)
        return m->dest == 0xffu || m->dest == l->id;
    if (m->dest == 0xffu)
        return true;                /* logical broadcast */
    uint8_t ld = (uint8_t)(l->ldr >> 24);
    if ((l->dfr >> 28) == 0xfu)     /* flat model: 8-bit mask */
        return (ld & m->dest) != 0;
    /* cluster model: cluster in 7:4, member mask in 3:0 */
    return (ld >> 4) == (m->dest >> 4) && (ld & m->dest & 0xfu) != 0;
}

void vlapic_accept(struct vlapic *l, const struct apic_msg *m)
{
    switch (m->delivery) {
    case APIC_DM_FIXED:
    case APIC_DM_LOWEST:
        /* A software-disabled APIC takes no fixed interrupts (as KVM). */
        if (vlapic_sw_enabled(l))
            set_irr(l, m->vector, m->level);
        break;
    case APIC_DM_NMI:
        l->nmi_pending++;
        break;
    case APIC_DM_INIT:
        if (m->level && !m->assert)
            break;                  /* INIT level de-assert: no effect on current CPUs */
        if ((l->base_msr & VLAPIC_BASE_BSP) != 0)
            break;                  /* the BSP ignores INIT here: the VM resets through VDEV_EVENT_RESET */
        vlapic_reset(l);
        l->init_pending = true;
        l->sipi_pending = false;
        break;
    case APIC_DM_STARTUP:
        l->sipi_pending = true;
        l->sipi_vector = m->vector;
        break;
    case APIC_DM_EXTINT:
        l->extint_pending = true;
        break;
    default:                        /* SMI: no SMM in this VM */
        break;
    }
}

/* ---- timer ---- */

static uint64_t timer_divisor(const struct vlapic *l)
{
    unsigned v = (l->timer_dcr & 3u) | ((l->timer_dcr & 8u) >> 1);    /* bits 0, 1, 3 */
    return 1ull << ((v + 1u) & 7u);                 /* 0 -> 2, ..., 6 -> 128, 7 -> 1 */
}

static unsigned timer_mode(const struct vlapic *l)
{
    return (l->lvt[VLAPIC_LVT_IDX_TIMER] >> VLAPIC_LVT_TIMER_MODE_SHIFT) & 3u;
}

static uint64_t timer_period_ns(const struct vlapic *l)
{
    return vdev_muldiv((uint64_t)l->timer_initial * timer_divisor(l), VDEV_NS_PER_SEC, VLAPIC_TIMER_HZ);
}

static bool timer_running(const struct vlapic *l)
{
    unsigned mode = timer_mode(l);
    return l->timer_initial != 0 && (mode == VLAPIC_TIMER_ONESHOT || mode == VLAPIC_TIMER_PERIODIC);
}

static uint32_t timer_current(const struct vlapic *l)
{
    if (!timer_running(l))
        return 0;
    uint64_t now = vclock_now(l->clock);
    uint64_t elapsed = now - l->timer_start;
    uint64_t period = timer_period_ns(l);
    if (timer_mode(l) == VLAPIC_TIMER_ONESHOT && elapsed >= period)
        return 0;
    elapsed %= period;
    uint64_t counts = vdev_muldiv(elapsed, VLAPIC_TIMER_HZ, VDEV_NS_PER_SEC) / timer_divisor(l);
    return (uint32_t)(l->timer_initial - counts);
}

void vlapic_tick(struct vlapic *l)
{
    uint64_t now = vclock_now(l->clock);
    if (l->timer_next == VDEV_NO_DEADLINE || now < l->timer_next)
        return;
    deliver_lvt(l, VLAPIC_LVT_IDX_TIMER);   /* missed periods coalesce into one, as IRR does */
    if (timer_mode(l) == VLAPIC_TIMER_PERIODIC && timer_running(l)) {
        uint64_t period = timer_period_ns(l);
        l->timer_next += period * ((now - l->timer_next) / period + 1u);
    } else {
        l->timer_next = VDEV_NO_DEADLINE;
    }
}

uint64_t vlapic_next_deadline(const struct vlapic *l)
{
    if (l->lvt[VLAPIC_LVT_IDX_TIMER] & VLAPIC_LVT_MASKED)
        return VDEV_NO_DEADLINE;    /* expiries then have no effect; vlapic_tick catches up */
    return l->timer_next;
}

static void timer_start(struct vlapic *l, uint64_t start)
{
    l->timer_start = start;
    l->timer_next = timer_running(l) ? start + timer_period_ns(l) : VDEV_NO_DEADLINE;
}

/* ---- registers ---- */

bool vlapic_lint0_extint(const struct vlapic *l)
{
    if (!vlapic_hw_enabled(l))
        return true;                /* a disabled APIC passes INTR straight to the CPU */
    uint32_t lvt = l->lvt[VLAPIC_LVT_IDX_LINT0];
    return !(lvt & VLAPIC_LVT_MASKED) && vlapic_sw_enabled(l) &&
           ((lvt >> VLAPIC_LVT_DM_SHIFT) & 7u) == APIC_DM_EXTINT;
}

uint32_t vlapic_read(struct vlapic *l, unsigned off)
{
    if (off >= VLAPIC_ISR && off < VLAPIC_ISR + 0x80u && (off & 0xfu) == 0)
        return l->isr[(off - VLAPIC_ISR) >> 4];
    if (off >= VLAPIC_TMR && off < VLAPIC_TMR + 0x80u && (off & 0xfu) == 0)
        return l->tmr[(off - VLAPIC_TMR) >> 4];
    if (off >= VLAPIC_IRR && off < VLAPIC_IRR + 0x80u && (off & 0xfu) == 0)
        return l->irr[(off - VLAPIC_IRR) >> 4];
    if (off >= VLAPIC_LVT_TIMER && off <= VLAPIC_LVT_ERROR && (off & 0xfu) == 0)
        return l->lvt[(off - VLAPIC_LVT_TIMER) >> 4];
    switch (off) {
    case VLAPIC_ID: return (uint32_t)l->id << 24;
    case VLAPIC_VERSION: return VLAPIC_VERSION_VALUE;
    case VLAPIC_TPR: return l->tpr;
    case VLAPIC_APR: return apr(l);
    case VLAPIC_PPR: return vlapic_ppr(l);
    case VLAPIC_LDR: return l->ldr;
    case VLAPIC_DFR: return l->dfr;
    case VLAPIC_SVR: return l->svr;
    case VLAPIC_ESR: return l->esr;
    case VLAPIC_ICR_LO: return l->icr_lo;   /* delivery status 0: sent at once */
    case VLAPIC_ICR_HI: return l->icr_hi;
    case VLAPIC_TIMER_INITIAL: return l->timer_initial;
    case VLAPIC_TIMER_CURRENT: return timer_current(l);
    case VLAPIC_TIMER_DCR: return l->timer_dcr;
    default:
        return 0;                   /* EOI and RRD (write-only / unused) and reserved offsets */
    }
}

static void send_ipi(struct vlapic *l)
{
    struct apic_msg m = {
        .vector = (uint8_t)l->icr_lo,
        .delivery = (uint8_t)((l->icr_lo >> VLAPIC_ICR_DM_SHIFT) & 7u),
        .dest = (uint8_t)(l->icr_hi >> 24),
        .shorthand = (uint8_t)((l->icr_lo >> VLAPIC_ICR_SH_SHIFT) & 3u),
        .logical = (l->icr_lo & VLAPIC_ICR_LOGICAL) != 0,
        .level = (l->icr_lo & VLAPIC_ICR_LEVEL) != 0,
        .assert = (l->icr_lo & VLAPIC_ICR_ASSERT) != 0,
        .src = l->cpu,
    };
    if ((m.delivery == APIC_DM_FIXED || m.delivery == APIC_DM_LOWEST) && m.vector < 16) {
        raise_error(l, VLAPIC_ESR_SEND_ILLEGAL);
        return;
    }
    if (l->bus.deliver != 0)
        l->bus.deliver(l->bus.ctx, &m);
}

void vlapic_write(struct vlapic *l, unsigned off, uint32_t val)
{
    if (off >= VLAPIC_LVT_TIMER && off <= VLAPIC_LVT_ERROR && (off & 0xfu) == 0) {
        unsigned idx = (off - VLAPIC_LVT_TIMER) >> 4;
        if (idx == VLAPIC_LVT_IDX_TIMER)
            vlapic_tick(l);         /* expiries before the change follow the old entry */
        uint32_t v = (l->lvt[idx] & ~lvt_wmask[idx]) | (val & lvt_wmask[idx]);
        if (!vlapic_sw_enabled(l))
            v |= VLAPIC_LVT_MASKED; /* cannot unmask while software-disabled */
        unsigned old_mode = timer_mode(l);
        l->lvt[idx] = v;
        if (idx == VLAPIC_LVT_IDX_TIMER && timer_mode(l) != old_mode) {
            l->timer_initial = 0;   /* a mode change stops the timer (SDM 11.5.4.1) */
            timer_start(l, vclock_now(l->clock));
        }
        return;
    }
    switch (off) {
    case VLAPIC_TPR:
        l->tpr = val & 0xffu;
        break;
    case VLAPIC_EOI:
        eoi(l);
        break;
    case VLAPIC_LDR:
        l->ldr = val & 0xff000000u;
        break;
    case VLAPIC_DFR:
        l->dfr = val | 0x0fffffffu;
        break;
    case VLAPIC_SVR:
        l->svr = val & 0x3ffu;
        if (!(l->svr & VLAPIC_SVR_ENABLE))
            for (unsigned i = 0; i < VLAPIC_LVT_COUNT; i++)
                l->lvt[i] |= VLAPIC_LVT_MASKED;
        break;
    case VLAPIC_ESR:
        l->esr = l->esr_pending;    /* a write latches the errors seen since the last one */
        l->esr_pending = 0;
        break;
    case VLAPIC_ICR_HI:
        l->icr_hi = val & 0xff000000u;
        break;
    case VLAPIC_ICR_LO:
        l->icr_lo = val & 0x000ccfffu;
        send_ipi(l);
        break;
    case VLAPIC_TIMER_INITIAL:
        l->timer_initial = val;
        timer_start(l, vclock_now(l->clock));
        break;
    case VLAPIC_TIMER_DCR: {
        /* Keep the current count; it runs on at the new rate. */
        vlapic_tick(l);
        uint64_t now = vclock_now(l->clock);
        uint32_t cur = timer_current(l);
        bool running = timer_running(l) && l->timer_next != VDEV_NO_DEADLINE;
        l->timer_dcr = val & 0xbu;
        if (running) {
            uint64_t done = vdev_muldiv((uint64_t)(l->timer_initial - cur) * timer_divisor(l),
                                        VDEV_NS_PER_SEC, VLAPIC_TIMER_HZ);
            timer_start(l, now - done);
        }
        break;
    }
    case VLAPIC_ID:             /* read-only here: routing follows the ACPI MADT */
    case VLAPIC_VERSION:
    case VLAPIC_APR:
    case VLAPIC_PPR:
    case VLAPIC_RRD:
    case VLAPIC_TIMER_CURRENT:
        break;
    default:
        if (off >= VLAPIC_ISR && off < VLAPIC_IRR + 0x80u)
            break;              /* ISR, TMR, IRR are read-only */
        raise_error(l, VLAPIC_ESR_ILLEGAL_REG);
        break;
    }
}

uint64_t vlapic_bus_read(void *dev, unsigned cpu, uint64_t gpa, unsigned size)
{
    struct vlapic *l = &((struct vlapic *)dev)[cpu];
    unsigned off = (unsigned)(gpa & (VLAPIC_SIZE - 1u));
    uint32_t v = vlapic_read(l, off & ~0xfu);
    unsigned shift = 8u * (off & 0xfu);
    return shift >= 32 ? 0 : (uint64_t)(v >> shift) & vdev_size_mask(size);
}

void vlapic_bus_write(void *dev, unsigned cpu, uint64_t gpa, unsigned size, uint64_t val)
{
    struct vlapic *l = &((struct vlapic *)dev)[cpu];
    unsigned off = (unsigned)(gpa & (VLAPIC_SIZE - 1u));
    if ((off & 0xfu) == 0 && size >= 4)
        vlapic_write(l, off, (uint32_t)val);
    /* Narrower or unaligned writes are undefined (SDM 11.4.1); dropped. */
}

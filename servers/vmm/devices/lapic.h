/* SPDX-License-Identifier: MIT */
/* lapic: one vCPU's local APIC in xAPIC mode (MMIO 0xfee00000): priorities, IRR/ISR/TMR, EOI, IPIs, LVT timer. */
#ifndef VMM_LAPIC_H
#define VMM_LAPIC_H

#include <stdbool.h>
#include <stdint.h>

#include "apic_msg.h"
#include "vdev.h"

#define VLAPIC_BASE 0xfee00000ull
#define VLAPIC_SIZE 0x1000ull
#define VLAPIC_MSR_BASE 0x1bu           /* IA32_APIC_BASE */
#define VLAPIC_BASE_BSP (1ull << 8)
#define VLAPIC_BASE_ENABLE (1ull << 11)

/* Register offsets (Intel SDM Vol. 3A, Table 11-1 "Local APIC Register Address Map"). */
#define VLAPIC_ID 0x020u
#define VLAPIC_VERSION 0x030u
#define VLAPIC_TPR 0x080u
#define VLAPIC_APR 0x090u
#define VLAPIC_PPR 0x0a0u
#define VLAPIC_EOI 0x0b0u
#define VLAPIC_RRD 0x0c0u
#define VLAPIC_LDR 0x0d0u
#define VLAPIC_DFR 0x0e0u
#define VLAPIC_SVR 0x0f0u
#define VLAPIC_ISR 0x100u               /* 8 registers, 16 bytes apart */
#define VLAPIC_TMR 0x180u
#define VLAPIC_IRR 0x200u
#define VLAPIC_ESR 0x280u
#define VLAPIC_ICR_LO 0x300u
#define VLAPIC_ICR_HI 0x310u
#define VLAPIC_LVT_TIMER 0x320u
#define VLAPIC_LVT_THERMAL 0x330u
#define VLAPIC_LVT_PERF 0x340u
#define VLAPIC_LVT_LINT0 0x350u
#define VLAPIC_LVT_LINT1 0x360u
#define VLAPIC_LVT_ERROR 0x370u
#define VLAPIC_TIMER_INITIAL 0x380u
#define VLAPIC_TIMER_CURRENT 0x390u
#define VLAPIC_TIMER_DCR 0x3e0u

#define VLAPIC_LVT_COUNT 6u             /* timer, thermal, perf, LINT0, LINT1, error */
enum { VLAPIC_LVT_IDX_TIMER, VLAPIC_LVT_IDX_THERMAL, VLAPIC_LVT_IDX_PERF,
       VLAPIC_LVT_IDX_LINT0, VLAPIC_LVT_IDX_LINT1, VLAPIC_LVT_IDX_ERROR };

/* Version register: integrated APIC (0x14), max LVT entry in 23:16; no EOI-broadcast suppression. */
#define VLAPIC_VERSION_VALUE (0x14u | ((VLAPIC_LVT_COUNT - 1u) << 16))

#define VLAPIC_SVR_ENABLE (1u << 8)
#define VLAPIC_LVT_VECTOR 0xffu
#define VLAPIC_LVT_DM_SHIFT 8
#define VLAPIC_LVT_MASKED (1u << 16)
#define VLAPIC_LVT_TIMER_MODE_SHIFT 17
#define VLAPIC_TIMER_ONESHOT 0u
#define VLAPIC_TIMER_PERIODIC 1u
#define VLAPIC_TIMER_TSC_DEADLINE 2u    /* not advertised in CPUID: behaves as stopped */

#define VLAPIC_ICR_DM_SHIFT 8
#define VLAPIC_ICR_LOGICAL (1u << 11)
#define VLAPIC_ICR_ASSERT (1u << 14)
#define VLAPIC_ICR_LEVEL (1u << 15)
#define VLAPIC_ICR_SH_SHIFT 18

#define VLAPIC_ESR_SEND_ILLEGAL (1u << 5)
#define VLAPIC_ESR_RECV_ILLEGAL (1u << 6)
#define VLAPIC_ESR_ILLEGAL_REG (1u << 7)

/* The timer counts at 1 GHz before the divider (KVM's choice): a count is 1 ns x divisor. */
#define VLAPIC_TIMER_HZ 1000000000ull

struct vlapic {
    unsigned cpu;
    uint8_t id;
    uint64_t base_msr;
    uint32_t tpr, ldr, dfr, svr;
    uint32_t esr, esr_pending;
    uint32_t icr_lo, icr_hi;
    uint32_t lvt[VLAPIC_LVT_COUNT];
    uint32_t irr[8], isr[8], tmr[8];
    uint32_t timer_initial, timer_dcr;
    uint64_t timer_start;           /* ns at which the current count was timer_initial */
    uint64_t timer_next;            /* next expiry not yet handled, or VDEV_NO_DEADLINE */
    /* Reported to the vmm (vlapic_take_*): */
    bool init_pending;
    bool sipi_pending;
    uint8_t sipi_vector;
    unsigned nmi_pending;
    bool extint_pending;            /* an ExtINT message: the vector comes from the 8259A */
    const struct vclock *clock;
    struct apic_bus bus;            /* IPIs out */
    void (*eoi_broadcast)(void *ctx, uint8_t vector);
    void *eoi_ctx;
};

void vlapic_init(struct vlapic *l, unsigned cpu, uint8_t id, bool bsp, const struct vclock *clock,
                 struct apic_bus bus, void (*eoi_broadcast)(void *, uint8_t), void *eoi_ctx);
/* INIT (from an INIT IPI or reset): everything but the ID and the base MSR to power-up state. */
void vlapic_reset(struct vlapic *l);

uint32_t vlapic_read(struct vlapic *l, unsigned offset);
void vlapic_write(struct vlapic *l, unsigned offset, uint32_t val);
uint64_t vlapic_read_base(const struct vlapic *l);
void vlapic_write_base(struct vlapic *l, uint64_t val);
bool vlapic_hw_enabled(const struct vlapic *l);
bool vlapic_sw_enabled(const struct vlapic *l);

/* Does this APIC accept `msg` (destination, mode, shorthand relative to msg->src)? */
bool vlapic_match(const struct vlapic *l, const struct apic_msg *msg);
/* Accept a message addressed to this APIC. INIT resets an AP's APIC and sets init_pending
 * (a BSP ignores it); SIPI sets sipi_pending/sipi_vector: the vmm decides what they do to
 * the vCPU (an AP not waiting for SIPI ignores it). */
void vlapic_accept(struct vlapic *l, const struct apic_msg *msg);

uint8_t vlapic_ppr(const struct vlapic *l);
/* The highest IRR vector whose priority class beats the PPR, or -1. */
int vlapic_pending(const struct vlapic *l);
/* The vCPU took `vector`: IRR -> ISR. */
void vlapic_ack(struct vlapic *l, uint8_t vector);

/* Timer: deliver expiries up to now; the next one (ns) the vmm must wake for. */
void vlapic_tick(struct vlapic *l);
uint64_t vlapic_next_deadline(const struct vlapic *l);

/* LINT0/LINT1 inputs as the LVT programs them (LINT0: the 8259A's INTR, LINT1: NMI). */
bool vlapic_lint0_extint(const struct vlapic *l);

uint64_t vlapic_bus_read(void *dev, unsigned cpu, uint64_t gpa, unsigned size);
void vlapic_bus_write(void *dev, unsigned cpu, uint64_t gpa, unsigned size, uint64_t val);

#endif

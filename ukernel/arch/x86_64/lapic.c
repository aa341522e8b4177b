/* SPDX-License-Identifier: MIT */
/* lapic: xAPIC (MMIO) local APIC and its timer. */
#include "lapic.h"

#include "../../kernel/config.h"
#include "../../kernel/console.h"
#include "../../kernel/platform.h"
#include "../../kernel/spinlock.h"
#include "cpu.h"
#include "layout.h"
#include "percpu.h"
#include "pit.h"
#include "trap.h"

#define APIC_BASE_ENABLE (1ull << 11)
#define APIC_BASE_ADDR_MASK 0x000ffffffffff000ull

/* Register offsets (SDM Vol. 3A, table 11-1). */
#define LAPIC_ID 0x020
#define LAPIC_TPR 0x080
#define LAPIC_EOI 0x0b0
#define LAPIC_SVR 0x0f0
#define LAPIC_ICR_LOW 0x300     /* writing it sends the IPI */
#define LAPIC_ICR_HIGH 0x310
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_LINT1 0x360
#define LAPIC_LVT_ERROR 0x370
#define LAPIC_TIMER_INITIAL 0x380
#define LAPIC_TIMER_CURRENT 0x390
#define LAPIC_TIMER_DIVIDE 0x3e0

#define SVR_APIC_ENABLE (1u << 8)
#define LVT_MASKED (1u << 16)
#define LVT_TIMER_PERIODIC (1u << 17)
#define TIMER_DIVIDE_BY_16 0x3

/* Interrupt command register (SDM Vol. 3A, 11.6.1). */
#define ICR_DELIVERY_FIXED (0u << 8)
#define ICR_DELIVERY_NMI (4u << 8)      /* the vector field is ignored: vector 2 */
#define ICR_DELIVERY_INIT (5u << 8)
#define ICR_DELIVERY_STARTUP (6u << 8)
#define ICR_SEND_PENDING (1u << 12)
#define ICR_LEVEL_ASSERT (1u << 14)
#define ICR_TRIGGER_LEVEL (1u << 15)
#define ICR_DEST_SHIFT 24           /* physical destination: APIC ID in ICR_HIGH[31:24] */
/* A healthy APIC accepts an IPI within microseconds; this only stops a hang. */
#define ICR_IDLE_SPIN_LIMIT 1000000u

#define PIC1_CMD 0x20
#define PIC1_DATA 0x21
#define PIC2_CMD 0xa0
#define PIC2_DATA 0xa1

#define CALIBRATION_US 10000u

static volatile uint32_t *lapic_mmio;
static struct lapic_timer_info timer_info;
static volatile uint64_t timer_ticks[CONFIG_MAX_CPUS];    /* by cpu index */

static uint32_t lapic_read(uint32_t reg)
{
    return lapic_mmio[reg / 4];
}

static void lapic_write(uint32_t reg, uint32_t v)
{
    lapic_mmio[reg / 4] = v;
}

void legacy_pic_disable(void)
{
    /* ICW1..ICW4: remap to 0x20..0x2f so a stray IRQ is not mistaken for an exception. */
    outb(PIC1_CMD, 0x11);
    outb(PIC2_CMD, 0x11);
    outb(PIC1_DATA, VECTOR_LEGACY_PIC_BASE);
    outb(PIC2_DATA, VECTOR_LEGACY_PIC_BASE + 8);
    outb(PIC1_DATA, 0x04);
    outb(PIC2_DATA, 0x02);
    outb(PIC1_DATA, 0x01);
    outb(PIC2_DATA, 0x01);
    outb(PIC1_DATA, 0xff);
    outb(PIC2_DATA, 0xff);
}

void lapic_init(void)
{
    uint64_t base = rdmsr(MSR_APIC_BASE);
    if (!(base & APIC_BASE_ENABLE)) {
        base |= APIC_BASE_ENABLE;
        wrmsr(MSR_APIC_BASE, base);
    }
    lapic_mmio = (volatile uint32_t *)(uintptr_t)(PHYSMAP_BASE + (base & APIC_BASE_ADDR_MASK));
    lapic_write(LAPIC_TPR, 0);
    lapic_write(LAPIC_LVT_LINT0, LVT_MASKED);
    lapic_write(LAPIC_LVT_LINT1, LVT_MASKED);
    lapic_write(LAPIC_LVT_ERROR, LVT_MASKED);
    lapic_write(LAPIC_LVT_TIMER, LVT_MASKED);
    lapic_write(LAPIC_SVR, SVR_APIC_ENABLE | VECTOR_SPURIOUS);
}

uint32_t lapic_id(void)
{
    return lapic_read(LAPIC_ID) >> 24;
}

void lapic_eoi(void)
{
    lapic_write(LAPIC_EOI, 0);
}

static void timer_interrupt(struct trap_frame *frame)
{
    (void)frame;
    timer_ticks[this_cpu_index()]++;
    lapic_eoi();
}

static void calibrate(void)
{
    lapic_write(LAPIC_TIMER_DIVIDE, TIMER_DIVIDE_BY_16);
    lapic_write(LAPIC_LVT_TIMER, LVT_MASKED);

    pit_oneshot_start(CALIBRATION_US);
    uint64_t tsc0 = rdtsc();
    lapic_write(LAPIC_TIMER_INITIAL, 0xffffffffu);
    while (!pit_oneshot_done())
        cpu_relax();
    uint32_t remaining = lapic_read(LAPIC_TIMER_CURRENT);
    uint64_t tsc1 = rdtsc();
    lapic_write(LAPIC_TIMER_INITIAL, 0);

    uint64_t elapsed = 0xffffffffu - (uint64_t)remaining;
    if (elapsed == 0)
        panic("lapic: timer did not count during calibration");
    timer_info.bus_hz = elapsed * (1000000u / CALIBRATION_US);
    timer_info.tsc_hz = (tsc1 - tsc0) * (1000000u / CALIBRATION_US);
}

void lapic_timer_start(uint32_t hz)
{
    /* Only the boot CPU calibrates (the PIT is one shared device); the others reuse it. */
    if (timer_info.bus_hz == 0)
        calibrate();
    uint64_t count = timer_info.bus_hz / hz;
    if (count == 0 || count > 0xffffffffu)
        panic("lapic: cannot program %u Hz from a %lu Hz timer clock", hz, timer_info.bus_hz);
    timer_info.hz = hz;
    timer_info.initial_count = (uint32_t)count;
    timer_ticks[this_cpu_index()] = 0;
    trap_set_irq_handler(VECTOR_LAPIC_TIMER, timer_interrupt);
    lapic_write(LAPIC_TIMER_DIVIDE, TIMER_DIVIDE_BY_16);
    lapic_write(LAPIC_LVT_TIMER, LVT_TIMER_PERIODIC | VECTOR_LAPIC_TIMER);
    lapic_write(LAPIC_TIMER_INITIAL, timer_info.initial_count);
}

const struct lapic_timer_info *lapic_timer_info(void)
{
    return &timer_info;
}

uint64_t lapic_timer_ticks(void)
{
    return timer_ticks[this_cpu_index()];
}

uint64_t lapic_timer_ticks_of(unsigned cpu)
{
    return cpu < CONFIG_MAX_CPUS ? timer_ticks[cpu] : 0;
}

static bool icr_wait_idle(void)
{
    for (unsigned i = 0; i < ICR_IDLE_SPIN_LIMIT; i++) {
        if (!(lapic_read(LAPIC_ICR_LOW) & ICR_SEND_PENDING))
            return true;
        cpu_relax();
    }
    return false;
}

/* The two ICR writes must not be split by an interrupt handler sending its own IPI. */
static bool icr_send(uint32_t apic_id, uint32_t command)
{
    bool irqs = irq_save();
    bool idle = icr_wait_idle();
    if (idle) {
        lapic_write(LAPIC_ICR_HIGH, apic_id << ICR_DEST_SHIFT);
        lapic_write(LAPIC_ICR_LOW, command);
        idle = icr_wait_idle();
    }
    irq_restore(irqs);
    return idle;
}

bool lapic_send_ipi(uint32_t apic_id, uint8_t vector)
{
    return icr_send(apic_id, ICR_DELIVERY_FIXED | ICR_LEVEL_ASSERT | vector);
}

bool lapic_send_nmi(uint32_t apic_id)
{
    return icr_send(apic_id, ICR_DELIVERY_NMI | ICR_LEVEL_ASSERT);
}

bool lapic_send_init(uint32_t apic_id)
{
    /* Assert, then de-assert: only old (discrete 82489DX) APICs need the second, the rest ignore it. */
    return icr_send(apic_id, ICR_DELIVERY_INIT | ICR_TRIGGER_LEVEL | ICR_LEVEL_ASSERT) &&
           icr_send(apic_id, ICR_DELIVERY_INIT | ICR_TRIGGER_LEVEL);
}

bool lapic_send_startup(uint32_t apic_id, uint8_t start_page)
{
    return icr_send(apic_id, ICR_DELIVERY_STARTUP | ICR_LEVEL_ASSERT | start_page);
}

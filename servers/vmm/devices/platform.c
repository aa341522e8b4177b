/* SPDX-License-Identifier: MIT */
/* platform: one VM's device set wired together — port/MMIO dispatch, ISA IRQ routing to PIC and I/O APIC, interrupt queries per vCPU. */
#include "platform.h"

#include <assert.h>
#include <string.h>

#include "e820.h"

static unsigned isa_to_gsi(unsigned irq)
{
    return irq == 0 ? 2u : irq;     /* MADT interrupt source override */
}

/* The 8259A's INT output is also wired to I/O APIC pin 0 (the ExtINT "virtual wire"). */
static void sync_pic_output(struct vmm_platform *p)
{
    vioapic_set_irq(&p->ioapic, VMM_PLATFORM_PIC_PIN, vpic_has_intr(&p->pic));
}

void vmm_platform_set_isa_irq(struct vmm_platform *p, unsigned irq, bool level)
{
    assert(irq < 16);
    vpic_set_irq(&p->pic, irq, level);
    vioapic_set_irq(&p->ioapic, isa_to_gsi(irq), level);
    sync_pic_output(p);
}

static uint64_t pic_read(void *dev, unsigned cpu, uint64_t port, unsigned size)
{
    struct vmm_platform *p = dev;
    uint64_t v = vpic_bus_read(&p->pic, cpu, port, size);    /* a poll acknowledges */
    sync_pic_output(p);
    return v;
}

static void pic_write(void *dev, unsigned cpu, uint64_t port, unsigned size, uint64_t val)
{
    struct vmm_platform *p = dev;
    vpic_bus_write(&p->pic, cpu, port, size, val);
    sync_pic_output(p);
}

void vmm_platform_set_gsi(struct vmm_platform *p, unsigned gsi, bool level)
{
    assert(gsi < VIOAPIC_PINS && gsi != VMM_PLATFORM_PIC_PIN);
    vioapic_set_irq(&p->ioapic, gsi, level);
}

static void irq_line(void *ctx, unsigned line, bool level)
{
    vmm_platform_set_isa_irq(ctx, line, level);
}

static void raise_event(void *ctx, enum vdev_event ev)
{
    struct vmm_platform *p = ctx;
    p->events |= (uint32_t)ev;
}

/* The APIC bus: fixed and NMI/INIT/SIPI to every match, lowest priority to the lowest PPR. */
static void apic_deliver(void *ctx, const struct apic_msg *m)
{
    struct vmm_platform *p = ctx;
    if (m->delivery == APIC_DM_LOWEST && m->shorthand == APIC_SH_NONE) {
        struct vlapic *best = 0;
        for (unsigned i = 0; i < p->cpus; i++) {
            struct vlapic *l = &p->lapic[i];
            if (vlapic_match(l, m) && (best == 0 || vlapic_ppr(l) < vlapic_ppr(best)))
                best = l;
        }
        if (best != 0)
            vlapic_accept(best, m);
        return;
    }
    for (unsigned i = 0; i < p->cpus; i++)
        if (vlapic_match(&p->lapic[i], m))
            vlapic_accept(&p->lapic[i], m);
}

static void eoi_broadcast(void *ctx, uint8_t vector)
{
    struct vmm_platform *p = ctx;
    vioapic_eoi(&p->ioapic, vector);
}

enum vmm_platform_error vmm_platform_init(struct vmm_platform *p, const struct vmm_platform_config *cfg)
{
    if (cfg->cpus == 0 || cfg->cpus > VMM_MAX_VCPUS)
        return VMM_PLATFORM_ERR_CPUS;
    memset(p, 0, sizeof(*p));
    p->cfg = *cfg;
    p->cpus = cfg->cpus;
    p->clock = cfg->clock;
    struct apic_bus bus = { apic_deliver, p };
    struct vdev_events ev = { raise_event, p };
    vpic_init(&p->pic);
    vioapic_init(&p->ioapic, (uint8_t)cfg->cpus, bus);
    for (unsigned i = 0; i < cfg->cpus; i++)
        vlapic_init(&p->lapic[i], i, (uint8_t)i, i == 0, cfg->clock, bus, eoi_broadcast, p);
    vpit_init(&p->pit, cfg->clock, (struct vdev_irq){ irq_line, p, 0 });
    vrtc_init(&p->rtc, cfg->clock, cfg->wall_time, (struct vdev_irq){ irq_line, p, 8 });
    vrtc_set_memory(&p->rtc, e820_ram_below_4g(cfg->ram), e820_ram_above_4g(cfg->ram), cfg->cpus);
    vuart_init(&p->com1, cfg->clock, (struct vdev_irq){ irq_line, p, VUART_COM1_IRQ },
               cfg->console, cfg->console_ctx);
    vpci_init(&p->pci, ev);
    vkbc_init(&p->kbc, (struct vdev_irq){ irq_line, p, 1 }, (struct vdev_irq){ irq_line, p, 12 }, ev);
    vpm_init(&p->pm, cfg->clock, (struct vdev_irq){ irq_line, p, VPM_SCI_IRQ }, ev);

    vbus_init(&p->pio);
    vbus_init(&p->mmio);
    bool ok =
        vbus_add(&p->pio, VPIC_MASTER_PORT, 2, pic_read, pic_write, p) == VBUS_OK &&
        vbus_add(&p->pio, VPIC_SLAVE_PORT, 2, pic_read, pic_write, p) == VBUS_OK &&
        vbus_add(&p->pio, VPIC_ELCR_PORT, 2, pic_read, pic_write, p) == VBUS_OK &&
        vbus_add(&p->pio, VPIT_PORT, 4, vpit_bus_read, vpit_bus_write, &p->pit) == VBUS_OK &&
        vbus_add(&p->pio, VPIT_PORT_B, 1, vpit_bus_read, vpit_bus_write, &p->pit) == VBUS_OK &&
        vbus_add(&p->pio, VKBC_DATA, 1, vkbc_bus_read, vkbc_bus_write, &p->kbc) == VBUS_OK &&
        vbus_add(&p->pio, VKBC_STATUS, 1, vkbc_bus_read, vkbc_bus_write, &p->kbc) == VBUS_OK &&
        vbus_add(&p->pio, VRTC_PORT, 2, vrtc_bus_read, vrtc_bus_write, &p->rtc) == VBUS_OK &&
        vbus_add(&p->pio, VUART_COM1, 8, vuart_bus_read, vuart_bus_write, &p->com1) == VBUS_OK &&
        vbus_add(&p->pio, VPCI_CONFIG_ADDRESS, 8, vpci_bus_read, vpci_bus_write, &p->pci) == VBUS_OK &&
        vbus_add(&p->pio, VPM_BASE, VPM_SIZE, vpm_bus_read, vpm_bus_write, &p->pm) == VBUS_OK &&
        vbus_add(&p->mmio, VIOAPIC_BASE, VIOAPIC_SIZE, vioapic_bus_read, vioapic_bus_write, &p->ioapic) == VBUS_OK &&
        vbus_add(&p->mmio, VLAPIC_BASE, VLAPIC_SIZE, vlapic_bus_read, vlapic_bus_write, p->lapic) == VBUS_OK;
    return ok ? VMM_PLATFORM_OK : VMM_PLATFORM_ERR_BUS;
}

void vmm_platform_reset(struct vmm_platform *p)
{
    struct vmm_platform_config cfg = p->cfg;
    struct vrtc rtc = p->rtc;       /* its irq8 and clock point into *p and cfg: still valid */
    enum vmm_platform_error err = vmm_platform_init(p, &cfg);
    assert(err == VMM_PLATFORM_OK);
    (void)err;
    p->rtc = rtc;
    vrtc_reset(&p->rtc);
}

bool vmm_platform_pio_read(struct vmm_platform *p, unsigned cpu, uint16_t port, unsigned size, uint32_t *val)
{
    uint64_t v;
    bool hit = vbus_read(&p->pio, cpu, port, size, &v);
    *val = (uint32_t)v;
    return hit;
}

bool vmm_platform_pio_write(struct vmm_platform *p, unsigned cpu, uint16_t port, unsigned size, uint32_t val)
{
    return vbus_write(&p->pio, cpu, port, size, val);
}

bool vmm_platform_mmio_read(struct vmm_platform *p, unsigned cpu, uint64_t gpa, unsigned size, uint64_t *val)
{
    assert(cpu < p->cpus);
    return vbus_read(&p->mmio, cpu, gpa, size, val);
}

bool vmm_platform_mmio_write(struct vmm_platform *p, unsigned cpu, uint64_t gpa, unsigned size, uint64_t val)
{
    assert(cpu < p->cpus);
    return vbus_write(&p->mmio, cpu, gpa, size, val);
}

static uint64_t min64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

uint64_t vmm_platform_next_deadline(const struct vmm_platform *p)
{
    uint64_t d = min64(vpit_next_deadline(&p->pit), vrtc_next_deadline(&p->rtc));
    d = min64(d, vuart_next_deadline(&p->com1));
    d = min64(d, vpm_next_deadline(&p->pm));
    for (unsigned i = 0; i < p->cpus; i++)
        d = min64(d, vlapic_next_deadline(&p->lapic[i]));
    return d;
}

void vmm_platform_tick(struct vmm_platform *p)
{
    vpit_tick(&p->pit);
    vrtc_tick(&p->rtc);
    vuart_tick(&p->com1);
    vpm_tick(&p->pm);
    for (unsigned i = 0; i < p->cpus; i++)
        vlapic_tick(&p->lapic[i]);
}

/* Does the 8259A's INT reach this vCPU (LINT0 in ExtINT mode on the BSP, or an ExtINT message)? */
static bool pic_routed(const struct vmm_platform *p, unsigned cpu)
{
    const struct vlapic *l = &p->lapic[cpu];
    return (cpu == 0 && vlapic_lint0_extint(l)) || l->extint_pending;
}

bool vmm_platform_intr_pending(const struct vmm_platform *p, unsigned cpu)
{
    assert(cpu < p->cpus);
    if (pic_routed(p, cpu) && vpic_has_intr(&p->pic))
        return true;
    return vlapic_pending(&p->lapic[cpu]) >= 0;
}

bool vmm_platform_intr_take(struct vmm_platform *p, unsigned cpu, uint8_t *vector)
{
    assert(cpu < p->cpus);
    struct vlapic *l = &p->lapic[cpu];
    if (pic_routed(p, cpu) && vpic_has_intr(&p->pic)) {
        l->extint_pending = false;
        *vector = vpic_intack(&p->pic);     /* the INTA cycle: not the local APIC's */
        /* INT drops during INTA and rises again if more requests wait: a new edge on pin 0. */
        vioapic_set_irq(&p->ioapic, VMM_PLATFORM_PIC_PIN, false);
        sync_pic_output(p);
        return true;
    }
    int v = vlapic_pending(l);
    if (v < 0)
        return false;
    vlapic_ack(l, (uint8_t)v);
    *vector = (uint8_t)v;
    return true;
}

bool vmm_platform_take_nmi(struct vmm_platform *p, unsigned cpu)
{
    assert(cpu < p->cpus);
    struct vlapic *l = &p->lapic[cpu];
    if (l->nmi_pending == 0)
        return false;
    l->nmi_pending--;
    return true;
}

bool vmm_platform_take_init(struct vmm_platform *p, unsigned cpu)
{
    assert(cpu < p->cpus);
    bool v = p->lapic[cpu].init_pending;
    p->lapic[cpu].init_pending = false;
    return v;
}

bool vmm_platform_take_sipi(struct vmm_platform *p, unsigned cpu, uint8_t *vector)
{
    assert(cpu < p->cpus);
    struct vlapic *l = &p->lapic[cpu];
    if (!l->sipi_pending)
        return false;
    l->sipi_pending = false;
    *vector = l->sipi_vector;
    return true;
}

uint32_t vmm_platform_take_events(struct vmm_platform *p)
{
    uint32_t e = p->events;
    p->events = 0;
    return e;
}

/* SPDX-License-Identifier: MIT */
/* ioapic: I/O APIC discovery from the MADT, redirection entries, masking and EOI. */
#include "ioapic.h"

#include "../../kernel/console.h"
#include "../../kernel/spinlock.h"
#include "../../lib/kstring.h"
#include "../../lib/unaligned.h"
#include "kernel_paging.h"
#include "lapic.h"
#include "smp.h"

/* ---- MADT entries (ACPI 6.5, 5.2.12.3 and 5.2.12.5) ---- */
#define MADT_TYPE_IOAPIC 1
#define MADT_IOAPIC_LENGTH 12       /* type, length, id, reserved, address (4), GSI base (4) */
#define MADT_IOAPIC_OFF_ID 2
#define MADT_IOAPIC_OFF_ADDRESS 4
#define MADT_IOAPIC_OFF_GSI_BASE 8
#define MADT_TYPE_OVERRIDE 2
#define MADT_OVERRIDE_LENGTH 10     /* type, length, bus, source, GSI (4), flags (2) */
#define MADT_OVERRIDE_OFF_BUS 2
#define MADT_OVERRIDE_OFF_SOURCE 3
#define MADT_OVERRIDE_OFF_GSI 4
#define MADT_OVERRIDE_OFF_FLAGS 8
#define MADT_BUS_ISA 0
/* MPS INTI flags: polarity bits 1:0, trigger bits 3:2; 0 = "conforms to the bus". */
#define INTI_POLARITY_MASK 0x3u
#define INTI_POLARITY_HIGH 0x1u
#define INTI_POLARITY_LOW 0x3u
#define INTI_TRIGGER_SHIFT 2
#define INTI_TRIGGER_MASK 0x3u
#define INTI_TRIGGER_EDGE 0x1u
#define INTI_TRIGGER_LEVEL 0x3u

/* ---- registers (82093AA datasheet; the same on every I/O APIC since) ---- */
#define IOREGSEL 0x00               /* byte offsets of the index and data windows */
#define IOWIN 0x10
#define IOAPIC_MMIO_SIZE 0x20
#define IOAPIC_REG_ID 0x00
#define IOAPIC_REG_VERSION 0x01
#define IOAPIC_VERSION_MAX_ENTRY_SHIFT 16
#define IOAPIC_REG_REDIR_LOW(n) (0x10u + 2u * (n))
#define IOAPIC_REG_REDIR_HIGH(n) (0x11u + 2u * (n))
#define REDIR_DELIVERY_FIXED (0u << 8)
#define REDIR_DEST_PHYSICAL (0u << 11)
#define REDIR_ACTIVE_LOW (1u << 13)
#define REDIR_LEVEL (1u << 15)
#define REDIR_MASKED (1u << 16)
#define REDIR_DEST_SHIFT 24         /* physical destination: APIC id in the high word's bits 31:24 */
#define XAPIC_MAX_ID 0xfe

/* The physmap maps [3 GiB, 4 GiB) uncached: device registers must lie there. */
#define MMIO_WINDOW_START 0xc0000000ull
#define MMIO_WINDOW_END 0x100000000ull

#define IOAPIC_MAX 8

struct ioapic {
    volatile uint32_t *mmio;
    uint32_t gsi_base;
    uint32_t entries;       /* redirection entries: GSIs gsi_base .. gsi_base + entries - 1 */
    uint8_t id;
};

struct isa_override {
    uint32_t gsi;
    uint16_t flags;         /* INTI flags */
    bool present;
};

static struct ioapic ioapics[IOAPIC_MAX];
static unsigned ioapic_n;
static struct isa_override overrides[IOAPIC_ISA_IRQS];
static uint32_t dest_apic_id;
/* Register access is an index write then a data access: one CPU at a time. */
static struct spinlock reg_lock = SPINLOCK_INIT;

/* Caller holds reg_lock (or runs alone at boot). */
static uint32_t reg_read(const struct ioapic *io, uint32_t reg)
{
    io->mmio[IOREGSEL / 4] = reg;
    return io->mmio[IOWIN / 4];
}

static void reg_write(const struct ioapic *io, uint32_t reg, uint32_t v)
{
    io->mmio[IOREGSEL / 4] = reg;
    io->mmio[IOWIN / 4] = v;
}

/* The I/O APIC with input `gsi` (and that input's index), or NULL. */
static const struct ioapic *ioapic_of(uint32_t gsi, uint32_t *pin)
{
    for (unsigned i = 0; i < ioapic_n; i++) {
        const struct ioapic *io = &ioapics[i];
        if (gsi >= io->gsi_base && gsi - io->gsi_base < io->entries) {
            *pin = gsi - io->gsi_base;
            return io;
        }
    }
    return NULL;
}

static void add_ioapic(const uint8_t *e, uint8_t length)
{
    if (length < MADT_IOAPIC_LENGTH) {
        kprintf("ioapic: MADT I/O APIC entry too short (%u bytes); ignored\n", length);
        return;
    }
    uint8_t id = e[MADT_IOAPIC_OFF_ID];
    uint64_t pa = rd32(e + MADT_IOAPIC_OFF_ADDRESS);
    uint32_t gsi_base = rd32(e + MADT_IOAPIC_OFF_GSI_BASE);
    if (pa < MMIO_WINDOW_START || pa + IOAPIC_MMIO_SIZE > MMIO_WINDOW_END || (pa & 0xf) != 0) {
        kprintf("ioapic: I/O APIC %u at 0x%lx is outside the uncached 3-4 GiB window; not used\n", id, pa);
        return;
    }
    if (ioapic_n == IOAPIC_MAX) {
        kprintf("ioapic: more than %u I/O APICs; I/O APIC %u not used\n", IOAPIC_MAX, id);
        return;
    }
    struct ioapic *io = &ioapics[ioapic_n];
    io->mmio = phys_to_virt(pa);
    io->id = id;
    io->gsi_base = gsi_base;
    uint32_t version = reg_read(io, IOAPIC_REG_VERSION);
    io->entries = ((version >> IOAPIC_VERSION_MAX_ENTRY_SHIFT) & 0xffu) + 1;
    for (unsigned i = 0; i < ioapic_n; i++) {
        const struct ioapic *other = &ioapics[i];
        if (gsi_base < other->gsi_base + other->entries && other->gsi_base < gsi_base + io->entries) {
            kprintf("ioapic: I/O APIC %u (GSI %u-%u) overlaps I/O APIC %u; not used\n", id, gsi_base,
                    gsi_base + io->entries - 1, other->id);
            return;
        }
    }
    ioapic_n++;
    kprintf("ioapic: I/O APIC %u at 0x%lx, version 0x%x, GSI %u-%u\n", id, pa, version & 0xffu,
            gsi_base, gsi_base + io->entries - 1);
}

static const char *polarity_name(uint16_t flags)
{
    switch (flags & INTI_POLARITY_MASK) {
    case INTI_POLARITY_HIGH: return "active high";
    case INTI_POLARITY_LOW: return "active low";
    case 0: return "bus polarity";
    default: return "reserved polarity";
    }
}

static const char *trigger_name(uint16_t flags)
{
    switch ((flags >> INTI_TRIGGER_SHIFT) & INTI_TRIGGER_MASK) {
    case INTI_TRIGGER_EDGE: return "edge";
    case INTI_TRIGGER_LEVEL: return "level";
    case 0: return "bus trigger";
    default: return "reserved trigger";
    }
}

static void add_override(const uint8_t *e, uint8_t length)
{
    if (length < MADT_OVERRIDE_LENGTH) {
        kprintf("ioapic: MADT interrupt source override too short (%u bytes); ignored\n", length);
        return;
    }
    uint8_t bus = e[MADT_OVERRIDE_OFF_BUS];
    uint8_t source = e[MADT_OVERRIDE_OFF_SOURCE];
    uint32_t gsi = rd32(e + MADT_OVERRIDE_OFF_GSI);
    uint16_t flags = rd16(e + MADT_OVERRIDE_OFF_FLAGS);
    if (bus != MADT_BUS_ISA || source >= IOAPIC_ISA_IRQS) {
        kprintf("ioapic: override of bus %u source %u ignored (only ISA IRQs 0-15)\n", bus, source);
        return;
    }
    overrides[source].present = true;
    overrides[source].gsi = gsi;
    overrides[source].flags = flags;
    kprintf("ioapic: ISA IRQ %u -> GSI %u (%s, %s)\n", source, gsi, trigger_name(flags),
            polarity_name(flags));
}

static void collect(void *ctx, uint8_t type, const uint8_t *entry, uint8_t length)
{
    (void)ctx;
    if (type == MADT_TYPE_IOAPIC)
        add_ioapic(entry, length);
    else if (type == MADT_TYPE_OVERRIDE)
        add_override(entry, length);
}

void ioapic_init(void)
{
    memset(overrides, 0, sizeof(overrides));
    ioapic_n = 0;
    dest_apic_id = smp_cpu_apic_id(0);
    if (smp_madt_foreach(collect, NULL) == 0) {
        kprintf("ioapic: no trusted MADT; no device interrupts\n");
        return;
    }
    if (dest_apic_id > XAPIC_MAX_ID) {
        kprintf("ioapic: the boot CPU's APIC id %u is not addressable in physical mode\n", dest_apic_id);
        ioapic_n = 0;
        return;
    }
    /* Nothing is delivered until a line is routed and unmasked. */
    for (unsigned i = 0; i < ioapic_n; i++) {
        for (uint32_t pin = 0; pin < ioapics[i].entries; pin++) {
            reg_write(&ioapics[i], IOAPIC_REG_REDIR_LOW(pin), REDIR_MASKED);
            reg_write(&ioapics[i], IOAPIC_REG_REDIR_HIGH(pin), 0);
        }
    }
    if (ioapic_n == 0)
        kprintf("ioapic: the MADT lists no usable I/O APIC; no device interrupts\n");
}

unsigned ioapic_count(void)
{
    return ioapic_n;
}

/* ISA IRQ `irq` is not overridden but another ISA IRQ was moved onto its GSI. */
static bool isa_pin_taken(uint32_t irq)
{
    for (uint32_t s = 0; s < IOAPIC_ISA_IRQS; s++) {
        if (s != irq && overrides[s].present && overrides[s].gsi == irq)
            return true;
    }
    return false;
}

/* The override (if any) that moves an ISA IRQ onto `gsi`. */
static const struct isa_override *override_onto(uint32_t gsi)
{
    for (uint32_t s = 0; s < IOAPIC_ISA_IRQS; s++) {
        if (overrides[s].present && overrides[s].gsi == gsi)
            return &overrides[s];
    }
    return NULL;
}

/* Trigger and polarity from INTI flags, "conforms to the bus" meaning the bus's default. */
static void apply_flags(uint16_t flags, bool isa, struct ioapic_line *out)
{
    uint16_t pol = flags & INTI_POLARITY_MASK;
    uint16_t trig = (flags >> INTI_TRIGGER_SHIFT) & INTI_TRIGGER_MASK;
    out->active_low = pol == INTI_POLARITY_LOW || (pol != INTI_POLARITY_HIGH && !isa);
    out->level = trig == INTI_TRIGGER_LEVEL || (trig != INTI_TRIGGER_EDGE && !isa);
}

bool ioapic_resolve(uint64_t irq, struct ioapic_line *out)
{
    const struct isa_override *o;
    bool isa;
    if (irq < IOAPIC_ISA_IRQS) {
        o = overrides[irq].present ? &overrides[irq] : NULL;
        if (o == NULL && isa_pin_taken((uint32_t)irq))
            return false;
        out->gsi = o != NULL ? o->gsi : (uint32_t)irq;
        isa = true;
    } else {
        if (irq >= IOAPIC_MAX_GSI)
            return false;
        out->gsi = (uint32_t)irq;
        o = override_onto(out->gsi);
        isa = o != NULL;    /* an ISA IRQ moved up here keeps its bus's defaults */
    }
    uint32_t pin;
    if (out->gsi >= IOAPIC_MAX_GSI || ioapic_of(out->gsi, &pin) == NULL)
        return false;
    apply_flags(o != NULL ? o->flags : 0, isa, out);
    return true;
}

void ioapic_route(const struct ioapic_line *line)
{
    uint32_t pin;
    const struct ioapic *io = ioapic_of(line->gsi, &pin);
    if (io == NULL)
        return;
    uint32_t low = REDIR_MASKED | REDIR_DELIVERY_FIXED | REDIR_DEST_PHYSICAL | ioapic_gsi_vector(line->gsi);
    if (line->level)
        low |= REDIR_LEVEL;
    if (line->active_low)
        low |= REDIR_ACTIVE_LOW;
    bool irqs = spin_lock_irqsave(&reg_lock);
    reg_write(io, IOAPIC_REG_REDIR_LOW(pin), REDIR_MASKED);     /* masked while it changes */
    reg_write(io, IOAPIC_REG_REDIR_HIGH(pin), dest_apic_id << REDIR_DEST_SHIFT);
    reg_write(io, IOAPIC_REG_REDIR_LOW(pin), low);
    spin_unlock_irqrestore(&reg_lock, irqs);
}

static void set_mask(uint32_t gsi, bool masked)
{
    uint32_t pin;
    const struct ioapic *io = ioapic_of(gsi, &pin);
    if (io == NULL)
        return;
    bool irqs = spin_lock_irqsave(&reg_lock);
    uint32_t low = reg_read(io, IOAPIC_REG_REDIR_LOW(pin));
    low = masked ? (low | REDIR_MASKED) : (low & ~REDIR_MASKED);
    reg_write(io, IOAPIC_REG_REDIR_LOW(pin), low);
    spin_unlock_irqrestore(&reg_lock, irqs);
}

void ioapic_mask(uint32_t gsi)
{
    set_mask(gsi, true);
}

void ioapic_unmask(uint32_t gsi)
{
    set_mask(gsi, false);
}

void ioapic_eoi(void)
{
    lapic_eoi();
}

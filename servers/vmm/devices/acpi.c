/* SPDX-License-Identifier: MIT */
/* acpi: the ACPI tables the vmm writes into guest memory — RSDP v2, RSDT/XSDT, FADT, FACS, MADT and a minimal DSDT. */
#include "acpi.h"

#include <assert.h>
#include <string.h>

#include "ioapic.h"
#include "lapic.h"
#include "pci.h"
#include "pm.h"
#include "rtc.h"

#define OEM_ID "HVHV  "             /* 6 bytes */
#define OEM_TABLE_ID "HVPLATFM"     /* 8 bytes */
#define CREATOR_ID "HVVM"
#define CREATOR_REV 1u

/* Fixed-width name fields (no NUL): signatures, OEM IDs. */
static void put_chars(uint8_t *dst, const char *src, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        dst[i] = (uint8_t)src[i];
}

static void put8(uint8_t *p, unsigned off, uint8_t v) { p[off] = v; }
static void put16(uint8_t *p, unsigned off, uint16_t v) { p[off] = (uint8_t)v; p[off + 1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, unsigned off, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++)
        p[off + i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, unsigned off, uint64_t v)
{
    for (unsigned i = 0; i < 8; i++)
        p[off + i] = (uint8_t)(v >> (8 * i));
}

uint8_t acpi_checksum(const uint8_t *p, uint64_t len)
{
    uint8_t sum = 0;
    for (uint64_t i = 0; i < len; i++)
        sum = (uint8_t)(sum + p[i]);
    return sum;
}

/* The common 36-byte header; the checksum (offset 9) is set by finish(). */
static void header(uint8_t *t, const char sig[4], uint32_t len, uint8_t revision)
{
    put_chars(t, sig, 4);
    put32(t, 4, len);
    put8(t, 8, revision);
    put8(t, 9, 0);
    put_chars(t + 10, OEM_ID, 6);
    put_chars(t + 16, OEM_TABLE_ID, 8);
    put32(t, 24, 1);                /* OEM revision */
    put_chars(t + 28, CREATOR_ID, 4);
    put32(t, 32, CREATOR_REV);
}

static void finish(uint8_t *t, uint32_t len)
{
    t[9] = (uint8_t)(0u - acpi_checksum(t, len));
}

/* Generic Address Structure for an I/O port block. */
static void gas_io(uint8_t *p, unsigned off, uint16_t port, uint8_t bytes, uint8_t access_size)
{
    put8(p, off, ACPI_GAS_IO);
    put8(p, off + 1, (uint8_t)(bytes * 8u));       /* register bit width */
    put8(p, off + 2, 0);                            /* bit offset */
    put8(p, off + 3, access_size);                  /* 1 byte, 2 word, 3 dword */
    put64(p, off + 4, port);
}

/*
 * DSDT body: one object, the \_S5 sleep package Linux evaluates for poweroff.
 *   Name (_S5, Package (4) { SLP_TYPa, SLP_TYPb, 0, 0 })
 */
static unsigned dsdt_aml(uint8_t *p, uint8_t slp_typ)
{
    const uint8_t aml[] = {
        0x08,                       /* NameOp */
        '_', 'S', '5', '_',         /* NameSeg "_S5_" (root scope) */
        0x12,                       /* PackageOp */
        0x08,                       /* PkgLength: 8 bytes from here to the package's end */
        0x04,                       /* NumElements */
        0x0a, slp_typ,              /* BytePrefix SLP_TYP for PM1a_CNT */
        0x0a, slp_typ,              /* BytePrefix SLP_TYP for PM1b_CNT (none here) */
        0x00,                       /* ZeroOp (reserved) */
        0x00,                       /* ZeroOp (reserved) */
    };
    memcpy(p, aml, sizeof(aml));
    return (unsigned)sizeof(aml);
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1u) & ~(a - 1u);
}

void acpi_default_config(struct acpi_config *cfg, unsigned cpus)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->cpus = cpus;
    cfg->ioapic_id = (uint8_t)cpus;                 /* after the local APIC IDs */
    cfg->ioapic_addr = (uint32_t)VIOAPIC_BASE;
    cfg->lapic_addr = (uint32_t)VLAPIC_BASE;
    cfg->sci_irq = VPM_SCI_IRQ;
    cfg->pm1a_evt = VPM_PM1A_EVT;
    cfg->pm1a_cnt = VPM_PM1A_CNT;
    cfg->pm_tmr = VPM_PM_TMR;
    cfg->reset_port = VPCI_RESET_CONTROL;
    cfg->reset_value = VPCI_RCR_RST_CPU | VPCI_RCR_SYS_RST;
    cfg->slp_typ_s5 = VPM_SLP_TYP_S5;
    cfg->rtc_century = VRTC_CENTURY;
}

static unsigned madt(uint8_t *t, const struct acpi_config *cfg)
{
    unsigned off = MADT_ENTRIES;
    put32(t, MADT_LAPIC_ADDR, cfg->lapic_addr);
    put32(t, MADT_FLAGS, MADT_PCAT_COMPAT);         /* dual 8259s present (Linux masks them) */
    for (unsigned i = 0; i < cfg->cpus; i++) {
        put8(t, off, MADT_TYPE_LAPIC);
        put8(t, off + 1, 8);
        put8(t, off + 2, (uint8_t)i);               /* ACPI processor UID */
        put8(t, off + 3, (uint8_t)i);               /* APIC ID */
        put32(t, off + 4, 1);                       /* enabled */
        off += 8;
    }
    put8(t, off, MADT_TYPE_IOAPIC);
    put8(t, off + 1, 12);
    put8(t, off + 2, cfg->ioapic_id);
    put8(t, off + 3, 0);
    put32(t, off + 4, cfg->ioapic_addr);
    put32(t, off + 8, 0);                           /* GSI base */
    off += 12;
    /* ISA IRQ 0 (PIT) is wired to I/O APIC pin 2; bus-conforming flags (edge, high). */
    put8(t, off, MADT_TYPE_ISO);
    put8(t, off + 1, 10);
    put8(t, off + 2, 0);                            /* bus: ISA */
    put8(t, off + 3, 0);                            /* source IRQ */
    put32(t, off + 4, 2);                           /* GSI */
    put16(t, off + 8, 0);
    off += 10;
    /* The SCI: level-triggered, active high. */
    put8(t, off, MADT_TYPE_ISO);
    put8(t, off + 1, 10);
    put8(t, off + 2, 0);
    put8(t, off + 3, cfg->sci_irq);
    put32(t, off + 4, cfg->sci_irq);
    put16(t, off + 8, MADT_ISO_ACTIVE_HIGH | MADT_ISO_LEVEL);
    off += 10;
    /* LINT1 of every processor is the NMI input. */
    put8(t, off, MADT_TYPE_LAPIC_NMI);
    put8(t, off + 1, 6);
    put8(t, off + 2, 0xff);                         /* all processors */
    put16(t, off + 3, 0);
    put8(t, off + 5, 1);                            /* LINT1 */
    off += 6;
    return off;
}

static void fadt(uint8_t *t, const struct acpi_config *cfg, uint64_t facs, uint64_t dsdt)
{
    put32(t, FADT_FIRMWARE_CTRL, (uint32_t)facs);  /* X_FIRMWARE_CTRL stays 0: below 4 GiB */
    put32(t, FADT_DSDT, (uint32_t)dsdt);
    put8(t, FADT_PREFERRED_PM_PROFILE, 0);          /* unspecified */
    put16(t, FADT_SCI_INT, cfg->sci_irq);
    put32(t, FADT_SMI_CMD, 0);                      /* no SMI: always in ACPI mode */
    put32(t, FADT_PM1A_EVT_BLK, cfg->pm1a_evt);
    put32(t, FADT_PM1A_CNT_BLK, cfg->pm1a_cnt);
    put32(t, FADT_PM_TMR_BLK, cfg->pm_tmr);
    put32(t, FADT_GPE0_BLK, 0);
    put8(t, FADT_PM1_EVT_LEN, VPM_PM1_EVT_LEN);
    put8(t, FADT_PM1_CNT_LEN, VPM_PM1_CNT_LEN);
    put8(t, FADT_PM_TMR_LEN, VPM_PM_TMR_LEN);
    put8(t, FADT_CENTURY, cfg->rtc_century);
    put16(t, FADT_IAPC_BOOT_ARCH, FADT_BOOT_LEGACY_DEVICES | FADT_BOOT_8042 | FADT_BOOT_NO_VGA);
    put32(t, FADT_FLAGS, FADT_F_WBINVD | FADT_F_PROC_C1 | FADT_F_SLP_BUTTON | FADT_F_TMR_VAL_EXT |
                         FADT_F_RESET_REG_SUP);    /* HW_REDUCED_ACPI off */
    gas_io(t, FADT_RESET_REG, cfg->reset_port, 1, 1);
    put8(t, FADT_RESET_VALUE, cfg->reset_value);
    put8(t, FADT_MINOR_VERSION, 0);
    put64(t, FADT_X_DSDT, dsdt);
    gas_io(t, FADT_X_PM1A_EVT_BLK, cfg->pm1a_evt, VPM_PM1_EVT_LEN, 2);
    gas_io(t, FADT_X_PM1A_CNT_BLK, cfg->pm1a_cnt, VPM_PM1_CNT_LEN, 2);
    gas_io(t, FADT_X_PM_TMR_BLK, cfg->pm_tmr, VPM_PM_TMR_LEN, 3);
    put_chars(t + FADT_HYPERVISOR_ID, "hv\0\0\0\0\0\0", 8);
}

enum acpi_error acpi_build(const struct gmem *gm, uint64_t base, uint64_t size,
                           const struct acpi_config *cfg, struct acpi_layout *out)
{
    if (cfg->cpus == 0 || cfg->cpus > ACPI_MAX_CPUS)
        return ACPI_ERR_CPUS;
    if ((base & 15u) != 0 || base + size > 0x100000000ull)
        return ACPI_ERR_SPACE;
    unsigned madt_len = MADT_ENTRIES + 8u * cfg->cpus + 12u + 2u * 10u + 6u;
    uint8_t aml[64];
    unsigned dsdt_len = ACPI_HEADER_LEN + dsdt_aml(aml, cfg->slp_typ_s5);
    struct acpi_layout l;
    l.rsdp = base;
    l.rsdt = align_up(l.rsdp + ACPI_RSDP_LEN, 16);
    l.xsdt = align_up(l.rsdt + ACPI_HEADER_LEN + 8u, 16);
    l.fadt = align_up(l.xsdt + ACPI_HEADER_LEN + 16u, 16);
    l.facs = align_up(l.fadt + ACPI_FADT_LEN, 64);  /* FACS: 64-byte aligned */
    l.dsdt = align_up(l.facs + ACPI_FACS_LEN, 16);
    l.madt = align_up(l.dsdt + dsdt_len, 16);
    l.end = l.madt + madt_len;
    if (l.end - base > size)
        return ACPI_ERR_SPACE;
    uint8_t *p = gmem_ptr(gm, base, l.end - base);
    if (p == 0)
        return ACPI_ERR_MEMORY;
    memset(p, 0, l.end - base);
#define AT(gpa) (p + ((gpa) - base))

    /* RSDP (ACPI 6.x 5.2.5.3): the v1 checksum covers 20 bytes, the extended one all 36. */
    uint8_t *r = AT(l.rsdp);
    put_chars(r, "RSD PTR ", 8);
    put_chars(r + 9, OEM_ID, 6);
    put8(r, 15, 2);                                 /* revision: ACPI 2.0+ */
    put32(r, 16, (uint32_t)l.rsdt);
    put32(r, 20, ACPI_RSDP_LEN);
    put64(r, 24, l.xsdt);
    r[8] = (uint8_t)(0u - acpi_checksum(r, ACPI_RSDP_V1_LEN));
    r[32] = (uint8_t)(0u - acpi_checksum(r, ACPI_RSDP_LEN));

    uint8_t *t = AT(l.rsdt);
    header(t, "RSDT", ACPI_HEADER_LEN + 8u, 1);
    put32(t, ACPI_HEADER_LEN, (uint32_t)l.fadt);
    put32(t, ACPI_HEADER_LEN + 4u, (uint32_t)l.madt);
    finish(t, ACPI_HEADER_LEN + 8u);

    t = AT(l.xsdt);
    header(t, "XSDT", ACPI_HEADER_LEN + 16u, 1);
    put64(t, ACPI_HEADER_LEN, l.fadt);
    put64(t, ACPI_HEADER_LEN + 8u, l.madt);
    finish(t, ACPI_HEADER_LEN + 16u);

    t = AT(l.fadt);
    header(t, "FACP", ACPI_FADT_LEN, 6);
    fadt(t, cfg, l.facs, l.dsdt);
    finish(t, ACPI_FADT_LEN);

    t = AT(l.facs);                                 /* no checksum */
    put_chars(t, "FACS", 4);
    put32(t, 4, ACPI_FACS_LEN);
    put8(t, 32, 2);                                 /* version */

    t = AT(l.dsdt);
    header(t, "DSDT", dsdt_len, 2);                 /* revision 2: 64-bit AML integers */
    memcpy(t + ACPI_HEADER_LEN, aml, dsdt_len - ACPI_HEADER_LEN);
    finish(t, dsdt_len);

    t = AT(l.madt);
    header(t, "APIC", madt_len, 5);
    unsigned used = madt(t, cfg);
    assert(used == madt_len);
    (void)used;
    finish(t, madt_len);
#undef AT
    *out = l;
    return ACPI_OK;
}

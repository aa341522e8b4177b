/* SPDX-License-Identifier: MIT */
/* acpi: the ACPI tables the vmm writes into guest memory — RSDP v2, RSDT/XSDT, FADT, FACS, MADT and a minimal DSDT. */
#ifndef VMM_ACPI_H
#define VMM_ACPI_H

#include <stdint.h>

#include "gmem.h"

#define ACPI_MAX_CPUS 16u

/* Table sizes (ACPI 6.x). */
#define ACPI_HEADER_LEN 36u
#define ACPI_RSDP_LEN 36u
#define ACPI_RSDP_V1_LEN 20u
#define ACPI_FADT_LEN 276u      /* revision 6 */
#define ACPI_FACS_LEN 64u

/* FADT field offsets (ACPI 6.x, Table 5.9 "FADT Format"). */
#define FADT_FIRMWARE_CTRL 36u
#define FADT_DSDT 40u
#define FADT_PREFERRED_PM_PROFILE 45u
#define FADT_SCI_INT 46u
#define FADT_SMI_CMD 48u
#define FADT_PM1A_EVT_BLK 56u
#define FADT_PM1A_CNT_BLK 64u
#define FADT_PM_TMR_BLK 76u
#define FADT_GPE0_BLK 80u
#define FADT_PM1_EVT_LEN 88u
#define FADT_PM1_CNT_LEN 89u
#define FADT_PM_TMR_LEN 91u
#define FADT_CENTURY 108u
#define FADT_IAPC_BOOT_ARCH 109u
#define FADT_FLAGS 112u
#define FADT_RESET_REG 116u
#define FADT_RESET_VALUE 128u
#define FADT_MINOR_VERSION 131u
#define FADT_X_FIRMWARE_CTRL 132u
#define FADT_X_DSDT 140u
#define FADT_X_PM1A_EVT_BLK 148u
#define FADT_X_PM1A_CNT_BLK 172u
#define FADT_X_PM_TMR_BLK 208u
#define FADT_HYPERVISOR_ID 268u

/* FADT flags and IA-PC boot architecture flags. */
#define FADT_F_WBINVD (1u << 0)
#define FADT_F_PROC_C1 (1u << 2)
#define FADT_F_SLP_BUTTON (1u << 5)     /* no fixed-feature sleep button */
#define FADT_F_TMR_VAL_EXT (1u << 8)    /* 32-bit PM timer */
#define FADT_F_RESET_REG_SUP (1u << 10)
#define FADT_F_HW_REDUCED (1u << 20)
#define FADT_BOOT_LEGACY_DEVICES (1u << 0)
#define FADT_BOOT_8042 (1u << 1)
#define FADT_BOOT_NO_VGA (1u << 2)

/* MADT. */
#define MADT_LAPIC_ADDR 36u
#define MADT_FLAGS 40u
#define MADT_ENTRIES 44u
#define MADT_PCAT_COMPAT 1u
#define MADT_TYPE_LAPIC 0u
#define MADT_TYPE_IOAPIC 1u
#define MADT_TYPE_ISO 2u
#define MADT_TYPE_LAPIC_NMI 4u
#define MADT_ISO_ACTIVE_HIGH 0x1u
#define MADT_ISO_LEVEL 0xcu

/* Generic Address Structure. */
#define ACPI_GAS_LEN 12u
#define ACPI_GAS_IO 1u

struct acpi_config {
    unsigned cpus;                  /* local APIC IDs 0 .. cpus - 1 */
    uint8_t ioapic_id;
    uint32_t ioapic_addr;
    uint32_t lapic_addr;
    uint8_t sci_irq;
    uint16_t pm1a_evt, pm1a_cnt, pm_tmr;
    uint16_t reset_port;
    uint8_t reset_value;
    uint8_t slp_typ_s5;
    uint8_t rtc_century;            /* CMOS index of the century byte */
};

struct acpi_layout {
    uint64_t rsdp, rsdt, xsdt, fadt, facs, dsdt, madt;
    uint64_t end;                   /* first byte after the tables */
};

enum acpi_error { ACPI_OK = 0, ACPI_ERR_SPACE, ACPI_ERR_CPUS, ACPI_ERR_MEMORY };

/* Write the tables into [base, base + size) of guest memory (base 16-byte aligned, below 4 GiB). */
enum acpi_error acpi_build(const struct gmem *gm, uint64_t base, uint64_t size,
                           const struct acpi_config *cfg, struct acpi_layout *out);
/* The default configuration for this platform (devices/platform.h ports and IRQs). */
void acpi_default_config(struct acpi_config *cfg, unsigned cpus);
/* Byte sum (a table is valid when its sum over `len` bytes is 0). */
uint8_t acpi_checksum(const uint8_t *p, uint64_t len);

#endif

/* SPDX-License-Identifier: MIT */
/* e820: the guest's BIOS memory map (the layout the vmm gives a VM) as Linux reads it from boot_params. */
#ifndef VMM_E820_H
#define VMM_E820_H

#include <stdint.h>

#define E820_RAM 1u
#define E820_RESERVED 2u
#define E820_ACPI 3u
#define E820_NVS 4u
#define E820_UNUSABLE 5u

#define E820_MAX 32u

/*
 * The VM's physical layout:
 *   [0, 0x9fc00)            RAM (conventional memory)
 *   [0x9fc00, 0xa0000)      reserved (EBDA)
 *   [0xa0000, 0xe0000)      hole (legacy VGA / option ROMs): not described
 *   [0xe0000, 0x100000)     reserved: the ACPI tables and the RSDP (BIOS area, found by scanning)
 *   [0x100000, low_top)     RAM, low_top = min(ram, E820_PCI_HOLE)
 *   [E820_PCI_HOLE, 4 GiB)  gap: PCI MMIO, I/O APIC, local APIC (Linux puts PCI BARs in the largest gap)
 *   [4 GiB, 4 GiB + rest)   RAM above the hole
 */
#define E820_EBDA 0x9fc00ull
#define E820_BIOS_AREA 0xe0000ull
#define E820_HIGH_MEM 0x100000ull
#define E820_PCI_HOLE 0xc0000000ull
#define E820_4G 0x100000000ull

struct e820_entry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;
};

struct e820_map {
    unsigned count;
    struct e820_entry e[E820_MAX];
};

enum e820_error { E820_OK = 0, E820_ERR_FULL, E820_ERR_EMPTY, E820_ERR_OVERLAP, E820_ERR_SMALL };

void e820_init(struct e820_map *m);
/* Insert keeping the map sorted; adjacent ranges of one type merge; overlaps are refused. */
enum e820_error e820_add(struct e820_map *m, uint64_t addr, uint64_t size, uint32_t type);
/* The layout above for `ram` bytes of guest RAM (at least 2 MiB). */
enum e820_error e820_build(struct e820_map *m, uint64_t ram);
/* RAM below / above the 4 GiB hole for `ram` bytes (what gmem slots and CMOS need). */
uint64_t e820_ram_below_4g(uint64_t ram);
uint64_t e820_ram_above_4g(uint64_t ram);

#endif

/* SPDX-License-Identifier: MIT */
/* kernel_paging: the core's own address space (image with W^X, physmap), built at boot. */
#ifndef HV_ARCH_KERNEL_PAGING_H
#define HV_ARCH_KERNEL_PAGING_H

#include <stdbool.h>
#include <stdint.h>

#include "paging.h"

/*
 * Replaces the boot tables: maps the image at KERNEL_VMA with text R-X, rodata R--,
 * data/bss RW- (4 KiB pages), and physical memory [0, max(4 GiB, phys_top)) at
 * PHYSMAP_BASE RW- with large pages (the 3-4 GiB MMIO window uncached). The
 * identity mapping of low memory is gone afterwards.
 */
void kernel_paging_init(uint64_t phys_top, int allow_1g);

uint64_t kernel_pml4_pa(void);
/* The environment describing the running tables (for pt_translate). */
const struct pt_env *kernel_pt_env(void);
uint64_t kernel_physmap_size(void);

/*
 * Maps one page below 1 MiB at its own physical address, read + execute, so an
 * application processor can keep fetching from its start-up page while it turns
 * paging on; and removes it again (this CPU's TLB only: the caller flushes the
 * others). False if the page is not a low page or is already mapped.
 */
bool kernel_paging_map_identity_page(uint64_t pa);
void kernel_paging_unmap_identity_page(uint64_t pa);

static inline void *phys_to_virt(uint64_t pa)
{
    return (void *)(uintptr_t)(0xffff800000000000ull + pa);
}

#endif

/* SPDX-License-Identifier: MIT */
/* layout: the core's virtual address layout, shared by C, assembly and the linker script. */
#ifndef HV_ARCH_LAYOUT_H
#define HV_ARCH_LAYOUT_H

/* The core is linked in the top 2 GiB (-mcmodel=kernel); physical = virtual - KERNEL_VMA. */
#define KERNEL_VMA 0xffffffff80000000
/* All physical memory (and the low 4 GiB of MMIO) is mapped here, read/write, never executable. */
#define PHYSMAP_BASE 0xffff800000000000
/* Physical load address of the image (just above the legacy 1 MiB hole). */
#define KERNEL_PHYS_LOAD 0x100000

#define KERNEL_STACK_SIZE 16384
#define IST_STACK_SIZE 4096

#endif

/* SPDX-License-Identifier: MIT */
/* linux: the x86 64-bit Linux boot protocol — a bzImage, initrd and command line placed in guest memory, and the vCPU state at startup_64. */
#ifndef VMM_LINUX_H
#define VMM_LINUX_H

#include <stddef.h>
#include <stdint.h>

#include "e820.h"
#include "gmem.h"
#include "hv/vcpu.h"

/*
 * Setup header fields (Documentation/arch/x86/boot.rst, "The Real-Mode Kernel Header"),
 * as offsets in the bzImage file and, identically, in struct boot_params.
 */
#define LINUX_HDR_SETUP_SECTS 0x1f1u
#define LINUX_HDR_SYSSIZE 0x1f4u
#define LINUX_HDR_VID_MODE 0x1fau
#define LINUX_HDR_BOOT_FLAG 0x1feu      /* 0xaa55 */
#define LINUX_HDR_JUMP 0x200u           /* short jump; its byte at 0x201 = header end - 0x202 */
#define LINUX_HDR_MAGIC 0x202u          /* "HdrS" */
#define LINUX_HDR_VERSION 0x206u
#define LINUX_HDR_TYPE_OF_LOADER 0x210u
#define LINUX_HDR_LOADFLAGS 0x211u
#define LINUX_HDR_CODE32_START 0x214u
#define LINUX_HDR_RAMDISK_IMAGE 0x218u
#define LINUX_HDR_RAMDISK_SIZE 0x21cu
#define LINUX_HDR_HEAP_END_PTR 0x224u
#define LINUX_HDR_CMD_LINE_PTR 0x228u
#define LINUX_HDR_INITRD_ADDR_MAX 0x22cu
#define LINUX_HDR_KERNEL_ALIGNMENT 0x230u
#define LINUX_HDR_RELOCATABLE 0x234u
#define LINUX_HDR_XLOADFLAGS 0x236u
#define LINUX_HDR_CMDLINE_SIZE 0x238u
#define LINUX_HDR_PREF_ADDRESS 0x258u
#define LINUX_HDR_INIT_SIZE 0x260u
#define LINUX_HDR_END_MAX 0x290u        /* boot_params: edd_mbr_sig_buffer follows */

#define LINUX_BOOT_FLAG 0xaa55u
#define LINUX_MAGIC 0x53726448u         /* "HdrS" little-endian */
#define LINUX_MIN_VERSION 0x020cu       /* 2.12: xloadflags, 64-bit entry */
#define LINUX_LOADED_HIGH 0x01u
#define LINUX_CAN_USE_HEAP 0x80u
#define LINUX_XLF_KERNEL_64 0x0001u
#define LINUX_TYPE_OF_LOADER 0xffu      /* undefined loader */
#define LINUX_VID_MODE_NORMAL 0xffffu
#define LINUX_HEAP_END 0xde00u          /* boot.rst's example: 0xe000 - 0x200 */
#define LINUX_ENTRY_64 0x200u           /* startup_64 = load address + 0x200 */

/* boot_params fields outside the setup header (arch/x86/include/uapi/asm/bootparam.h). */
#define LINUX_BP_ACPI_RSDP_ADDR 0x070u
#define LINUX_BP_EXT_RAMDISK_IMAGE 0x0c0u
#define LINUX_BP_EXT_RAMDISK_SIZE 0x0c4u
#define LINUX_BP_EXT_CMD_LINE_PTR 0x0c8u
#define LINUX_BP_E820_ENTRIES 0x1e8u
#define LINUX_BP_SENTINEL 0x1efu
#define LINUX_BP_E820_TABLE 0x2d0u
#define LINUX_BP_E820_MAX 128u
#define LINUX_BP_E820_ENTRY_LEN 20u
#define LINUX_BP_SIZE 0x1000u

/* Guest-physical layout of what the loader writes below 1 MiB. */
#define LINUX_GDT_GPA 0x500ull
#define LINUX_PML4_GPA 0x1000ull
#define LINUX_PDPT_GPA 0x2000ull
#define LINUX_PD_GPA 0x3000ull          /* 4 page directories of 2 MiB pages: 0-4 GiB */
#define LINUX_IDENTITY_GIB 4u
#define LINUX_BOOT_PARAMS_GPA 0x7000ull
#define LINUX_STACK_TOP 0x9000ull
#define LINUX_CMDLINE_GPA 0x20000ull
#define LINUX_CMDLINE_MAX 0x10000ull

/* The boot GDT: Linux's __BOOT_CS / __BOOT_DS selectors (GDT entries 2 and 3). */
#define LINUX_BOOT_CS 0x10u
#define LINUX_BOOT_DS 0x18u
#define LINUX_GDT_CODE64 0x00af9b000000ffffull   /* base 0, limit 4G, L, P, DPL0, exec/read, accessed */
#define LINUX_GDT_DATA 0x00cf93000000ffffull     /* base 0, limit 4G, D/B, P, DPL0, read/write, accessed */

/* Page-table entry bits (Intel SDM Vol. 3A, 4.5). */
#define LINUX_PTE_P 0x1ull
#define LINUX_PTE_RW 0x2ull
#define LINUX_PTE_PS 0x80ull

/* Control registers at entry. */
#define LINUX_CR0 0x80000031ull         /* PG NE ET PE */
#define LINUX_CR4 0x20ull               /* PAE */
#define LINUX_EFER 0x500ull             /* LMA LME */
#define LINUX_PAT_DEFAULT 0x0007040600070406ull

struct linux_boot_config {
    const uint8_t *kernel;
    size_t kernel_size;
    const uint8_t *initrd;          /* may be 0 */
    size_t initrd_size;
    const char *cmdline;            /* may be 0 */
    const struct e820_map *e820;
    uint64_t acpi_rsdp;             /* boot_params.acpi_rsdp_addr (0: the kernel scans) */
};

struct linux_boot_info {
    uint16_t version;
    uint64_t kernel_gpa;            /* protected-mode kernel */
    uint64_t kernel_end;            /* kernel_gpa + init_size */
    uint64_t entry;
    uint64_t initrd_gpa;
    uint64_t boot_params_gpa;
    uint64_t cmdline_gpa;
};

enum linux_boot_error {
    LINUX_OK = 0,
    LINUX_ERR_NOT_BZIMAGE,          /* no 0xaa55 / "HdrS", or not loaded high */
    LINUX_ERR_PROTOCOL_TOO_OLD,     /* boot protocol below 2.12 */
    LINUX_ERR_NOT_64BIT,            /* XLF_KERNEL_64 clear */
    LINUX_ERR_TRUNCATED,            /* setup_sects / syssize beyond the file */
    LINUX_ERR_KERNEL_TOO_BIG,       /* no RAM range holds init_size at an allowed address */
    LINUX_ERR_INITRD_TOO_BIG,       /* no RAM below initrd_addr_max above the kernel */
    LINUX_ERR_CMDLINE_TOO_LONG,     /* longer than the kernel's cmdline_size */
    LINUX_ERR_E820_TOO_BIG,         /* more entries than boot_params holds */
    LINUX_ERR_MEMORY,               /* a target range is not backed by guest memory */
};

const char *linux_boot_strerror(enum linux_boot_error err);

/*
 * Check the image and write everything into guest memory: the protected-mode kernel,
 * initrd, command line, boot_params (zero page), GDT and identity page tables; fill
 * `vcpu` with the 64-bit entry state (all groups but TSC in vcpu->mtd). Nothing is
 * written unless every check passed.
 */
enum linux_boot_error linux_boot_load(const struct gmem *gm, const struct linux_boot_config *cfg,
                                      struct hv_vcpu_state *vcpu, struct linux_boot_info *info);

#endif

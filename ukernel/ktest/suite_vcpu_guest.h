/* SPDX-License-Identifier: MIT */
/* suite_vcpu_guest: the contract between the vcpu suite and its guest programs (ports, addresses, values). */
#ifndef HV_KTEST_SUITE_VCPU_GUEST_H
#define HV_KTEST_SUITE_VCPU_GUEST_H

/* Guest-physical layout (the suite's nested table maps [0, GUEST_RAM_SIZE) and the reset page). */
#define GUEST_RAM_SIZE 0x80000
#define GUEST_CODE_GPA 0x1000
#define GUEST_STACK_TOP 0x7000
#define GUEST_PT_GPA 0x10000        /* the modes program's page tables */
#define GUEST_HOLE_GPA 0x9f000      /* outside guest RAM: mapped only after the exit */
#define GUEST_HOLE_OFFSET 0x10
#define GUEST_RESET_PAGE_GPA 0xfffff000
#define GUEST_UNMAPPED_GVA 0x40000000   /* the modes program maps only the first 2 MiB */
#define GUEST_SHADOW_IDT_GPA 0x30000    /* the shadow program's IDT (vector 14 only) */
#define GUEST_SHADOW_HOLE_GVA 0x100000  /* beyond the suite's shadow table (guest RAM only) */
#define GUEST_PAE_PDPT_GPA 0x40000      /* PDPT A here, PDPT B 32 bytes on (same page) */
#define GUEST_PAE_GVA 0x200000          /* mapped to a different frame by A and B */
#define GUEST_PAE_UNMAPPED_GPA 0x200000 /* no frame: a PDPT there is a GPA exit */

/* Values the guest uses or the host checks. */
#define GUEST_CPUID_LEAF 0x4b4d5654
#define GUEST_IRQ_VECTOR 0x40
#define GUEST_LOOP_COUNT 12000000
#define GUEST_PM_MAGIC 0x50524f54   /* "PROT" */
#define GUEST_LM_MAGIC 0x4c4f4e47   /* "LONG" */
#define GUEST_NMI_TICK 256          /* the NMI program's iterations between OUTs (a power of 2) */
#define GUEST_NMI_SEED_A 0x9e3779b9
#define GUEST_NMI_SEED_BP 0x12345678

/* I/O ports the guest reports on. */
#define PORT_REPORT 0x10
#define PORT_ECHO 0x11
#define PORT_IRQ 0x12
#define PORT_DE 0x13
#define PORT_HOLE 0x14
#define PORT_WINDOW 0x15
#define PORT_WINDOW_DONE 0x16
#define PORT_LOOP 0x17
#define PORT_MODE 0x18
#define PORT_NMI 0x19
#define PORT_HOLE_REMAP 0x1a
#define PORT_SHADOW 0x1b
#define PORT_PAE 0x1c
#define PORT_NMI_TICK 0x1d
#define PORT_IN 0x1234

#ifndef __ASSEMBLER__
extern const unsigned char vcpu_guest_main[], vcpu_guest_main_end[];
extern const unsigned char vcpu_guest_bench[], vcpu_guest_bench_end[];
extern const unsigned char vcpu_guest_modes[], vcpu_guest_modes_end[];
extern const unsigned char vcpu_guest_shadow[], vcpu_guest_shadow_pf[], vcpu_guest_shadow_end[];
extern const unsigned char vcpu_guest_pae[], vcpu_guest_pae_end[];
extern const unsigned char vcpu_guest_nmi[], vcpu_guest_nmi_end[];
extern const unsigned char vcpu_guest_nmi64[], vcpu_guest_nmi64_handler[], vcpu_guest_nmi64_end[];
#endif

#endif

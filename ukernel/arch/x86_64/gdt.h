/* SPDX-License-Identifier: MIT */
/* gdt: segment descriptors and the task-state segment (interrupt stacks) of each CPU. */
#ifndef HV_ARCH_GDT_H
#define HV_ARCH_GDT_H

#include <stdint.h>

/*
 * Selector order is fixed by SYSCALL/SYSRET: STAR[47:32] = KERNEL_CS (SS = +8),
 * STAR[63:48] = USER_CS32 (SYSRET to 64-bit loads CS = +16, SS = +8).
 */
#define GDT_KERNEL_CS 0x08
#define GDT_KERNEL_DS 0x10
#define GDT_USER_CS32 0x18
#define GDT_USER_DS 0x20
#define GDT_USER_CS 0x28
#define GDT_TSS 0x30
#define GDT_ENTRIES 8           /* TSS descriptor takes two slots */

_Static_assert(GDT_KERNEL_DS == GDT_KERNEL_CS + 8, "SYSCALL loads SS = CS + 8");
_Static_assert(GDT_USER_DS == GDT_USER_CS32 + 8, "SYSRET loads SS = base + 8");
_Static_assert(GDT_USER_CS == GDT_USER_CS32 + 16, "SYSRET (64-bit) loads CS = base + 16");

/* Interrupt stack table slots (TSS.IST1..3) for faults that must not use a broken stack. */
#define IST_DOUBLE_FAULT 1
#define IST_NMI 2
#define IST_MACHINE_CHECK 3

struct __attribute__((packed)) tss64 {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
};
_Static_assert(sizeof(struct tss64) == 104, "TSS layout (SDM 8.7)");

/* Loads this CPU's GDT and TSS and reloads the segment registers. */
void gdt_init_cpu(unsigned cpu);

/*
 * The CPU whose IST stack `ist` (IST_*) holds address `addr`, or -1. Lets a handler
 * that runs on an IST stack (the NMI's) know its CPU without trusting the GS base,
 * which an NMI can find still holding the user's value (between SWAPGS and IRETQ).
 */
int gdt_ist_owner(unsigned ist, uint64_t addr);

/* The TSS of CPU `cpu` (rsp0 is set when user threads arrive). */
struct tss64 *gdt_tss(unsigned cpu);

#endif

/* SPDX-License-Identifier: MIT */
/* gdt: per-CPU GDT, TSS and IST stacks. */
#include "gdt.h"

#include "../../kernel/config.h"
#include "../../lib/kstring.h"
#include "cpu.h"
#include "layout.h"

#define DESC_CODE64_KERNEL 0x00af9a000000ffffull
#define DESC_DATA_KERNEL 0x00cf92000000ffffull
#define DESC_CODE32_USER 0x00cffa000000ffffull
#define DESC_DATA_USER 0x00cff2000000ffffull
#define DESC_CODE64_USER 0x00affa000000ffffull
#define DESC_TSS_AVAILABLE 0x89ull

struct cpu_segments {
    uint64_t gdt[GDT_ENTRIES];
    struct tss64 tss;
    uint8_t ist_stacks[3][IST_STACK_SIZE] __attribute__((aligned(16)));
};

static struct cpu_segments segments[CONFIG_MAX_CPUS] __attribute__((aligned(64)));

struct tss64 *gdt_tss(unsigned cpu)
{
    return &segments[cpu].tss;
}

int gdt_ist_owner(unsigned ist, uint64_t addr)
{
    if (ist < 1 || ist > 3)
        return -1;
    for (unsigned cpu = 0; cpu < CONFIG_MAX_CPUS; cpu++) {
        uint64_t low = (uint64_t)(uintptr_t)segments[cpu].ist_stacks[ist - 1];
        if (addr >= low && addr < low + IST_STACK_SIZE)
            return (int)cpu;
    }
    return -1;
}

void gdt_init_cpu(unsigned cpu)
{
    struct cpu_segments *s = &segments[cpu];
    memset(&s->tss, 0, sizeof(s->tss));
    for (unsigned i = 0; i < 3; i++)
        s->tss.ist[i] = (uint64_t)(uintptr_t)(s->ist_stacks[i] + IST_STACK_SIZE);
    s->tss.iomap_base = sizeof(struct tss64);   /* no I/O bitmap: user port access faults */

    uint64_t tss_base = (uint64_t)(uintptr_t)&s->tss;
    uint64_t tss_limit = sizeof(struct tss64) - 1;
    s->gdt[0] = 0;
    s->gdt[GDT_KERNEL_CS / 8] = DESC_CODE64_KERNEL;
    s->gdt[GDT_KERNEL_DS / 8] = DESC_DATA_KERNEL;
    s->gdt[GDT_USER_CS32 / 8] = DESC_CODE32_USER;
    s->gdt[GDT_USER_DS / 8] = DESC_DATA_USER;
    s->gdt[GDT_USER_CS / 8] = DESC_CODE64_USER;
    s->gdt[GDT_TSS / 8] = (tss_limit & 0xffff) | ((tss_base & 0xffffff) << 16) |
                          (DESC_TSS_AVAILABLE << 40) | (((tss_base >> 24) & 0xff) << 56);
    s->gdt[GDT_TSS / 8 + 1] = tss_base >> 32;

    struct descriptor_table_ptr ptr = { sizeof(s->gdt) - 1, (uint64_t)(uintptr_t)s->gdt };
    __asm__ volatile(
        "lgdt %0\n\t"
        "pushq %1\n\t"
        "leaq 1f(%%rip), %%rax\n\t"
        "pushq %%rax\n\t"
        "lretq\n"
        "1:\n\t"
        "movw %w2, %%ds\n\t"
        "movw %w2, %%es\n\t"
        "movw %w2, %%ss\n\t"
        "ltr %w3\n\t"
        :
        : "m"(ptr), "i"(GDT_KERNEL_CS), "r"(GDT_KERNEL_DS), "r"(GDT_TSS)
        : "rax", "memory");
}

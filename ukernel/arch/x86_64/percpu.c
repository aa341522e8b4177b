/* SPDX-License-Identifier: MIT */
/* percpu: the static per-CPU blocks and their installation as each CPU's GS base. */
#include "percpu.h"

#include "../../kernel/config.h"
#include "../../kernel/platform.h"
#include "../../lib/kstring.h"
#include "cpu.h"

/* Cache-line aligned so one CPU's writes never bounce another CPU's line. */
static struct percpu blocks[CONFIG_MAX_CPUS] __attribute__((aligned(64)));

volatile bool percpu_boot_cpu_installed;

void percpu_install(unsigned index, uint32_t apic_id, uint64_t kernel_stack_top)
{
    if (index >= CONFIG_MAX_CPUS)
        panic("percpu: cpu index %u beyond CONFIG_MAX_CPUS (%u)", index, CONFIG_MAX_CPUS);
    struct percpu *p = &blocks[index];
    memset(p, 0, sizeof(*p));
    p->self = p;
    p->index = index;
    p->apic_id = apic_id;
    p->kernel_stack_top = kernel_stack_top;
    /* In the core GS_BASE holds the block; KERNEL_GS_BASE gets the user value on swapgs. */
    wrmsr(MSR_GS_BASE, (uint64_t)(uintptr_t)p);
    if (index == 0)
        percpu_boot_cpu_installed = true;
}

struct percpu *percpu_of(unsigned index)
{
    return index < CONFIG_MAX_CPUS ? &blocks[index] : NULL;
}

/* SPDX-License-Identifier: MIT */
/* main: the boot CPU's path from the multiboot2 hand-off to a running core. */
#include <stdbool.h>
#include <stdint.h>

#include "../arch/x86_64/cpu.h"
#include "../arch/x86_64/cpu_features.h"
#include "../arch/x86_64/gdt.h"
#include "../arch/x86_64/ioapic.h"
#include "../arch/x86_64/kernel_paging.h"
#include "../arch/x86_64/lapic.h"
#include "../arch/x86_64/layout.h"
#include "../arch/x86_64/smp.h"
#include "../arch/x86_64/trap.h"
#include "../arch/x86_64/vcpu_arch.h"
#include "../ktest/ktest.h"
#include "bootinfo.h"
#include "config.h"
#include "console.h"
#include "fastpath.h"
#include "klock.h"
#include "platform.h"
#include "root_task.h"
#include "sched.h"
#include "syscall.h"
#include "../lib/kstring.h"

/* The boot tables map only the first 1 GiB; the information structure must lie there. */
#define BOOT_WINDOW_BYTES (1ull << 30)

static struct boot_info boot_info;

void kernel_main(uint32_t magic, uint64_t info_pa);

static void parse_boot_info(uint32_t magic, uint64_t info_pa)
{
    if (info_pa == 0 || info_pa + 8 > BOOT_WINDOW_BYTES)
        panic("boot: multiboot2 information at 0x%lx is outside the boot window", info_pa);
    const void *info = phys_to_virt(info_pa);
    enum mb2_error err = mb2_parse(magic, info, BOOT_WINDOW_BYTES - info_pa, &boot_info);
    if (err != MB2_OK)
        panic("boot: multiboot2 information rejected: %s", mb2_strerror(err));
}

/*
 * Highest RAM the physmap must cover: usable and ACPI memory. Reserved windows
 * far above RAM (QEMU reports a HyperTransport hole at 1 TiB) are not RAM.
 */
static uint64_t highest_ram_address(const struct boot_info *bi)
{
    uint64_t top = 0;
    for (size_t i = 0; i < bi->region_count; i++) {
        const struct mem_region *r = &bi->regions[i];
        bool ram = r->type == MEM_USABLE || r->type == MEM_ACPI_RECLAIMABLE ||
                   r->type == MEM_ACPI_NVS;
        if (ram && r->base + r->length > top)
            top = r->base + r->length;
    }
    return top;
}

static void print_boot_info(const struct boot_info *bi)
{
    kprintf("boot: loader \"%s\", command line \"%s\"\n", bi->loader_name, bi->cmdline);
    kprintf("mem: %lu regions, %lu KiB usable (top 0x%lx)%s\n", bi->region_count,
            bootinfo_usable_bytes(bi) >> 10, bootinfo_usable_top(bi),
            bi->regions_truncated ? " [map truncated]" : "");
    for (size_t i = 0; i < bi->region_count; i++) {
        const struct mem_region *r = &bi->regions[i];
        kprintf("mem:   [0x%012lx-0x%012lx) %s\n", r->base, r->base + r->length,
                mem_type_name(r->type));
    }
    for (size_t i = 0; i < bi->module_count; i++) {
        const struct boot_module *m = &bi->modules[i];
        kprintf("module: \"%s\" [0x%lx-0x%lx) %lu bytes\n", m->cmdline, m->start, m->end,
                m->end - m->start);
    }
}

void kernel_main(uint32_t magic, uint64_t info_pa)
{
    console_init();
    kprintf("\nhv core %s (x86-64): capability microkernel hypervisor\n", HV_VERSION);
    parse_boot_info(magic, info_pa);

    const struct cpu_features *cpu = cpu_features();
    kernel_paging_init(highest_ram_address(&boot_info), cpu->pdpe1gb);
    gdt_init_cpu(0);
    idt_init();
    idt_load();

    print_boot_info(&boot_info);
    cpu_features_print(cpu);

    legacy_pic_disable();
    lapic_init();
    lapic_timer_start(CONFIG_TIMER_HZ);
    irq_enable();
    const struct lapic_timer_info *ti = lapic_timer_info();
    kprintf("timer: local APIC %u, clock %lu kHz, %u Hz periodic; TSC %lu kHz\n", lapic_id(),
            ti->bus_hz / 1000, ti->hz, ti->tsc_hz / 1000);
    sched_init();
    /* Before the APs start: each enables the chosen backend on itself in ap_main. */
    if (vcpu_arch_init() && !vcpu_arch_cpu_enable(0))
        kprintf("vcpu: cpu 0 could not enable %s\n", vcpu_arch_name());
    smp_boot_aps(&boot_info);
    ioapic_init();

    char suite[32];
    if (bootinfo_cmdline_get(&boot_info, "test", suite, sizeof(suite)))
        ktest_run(suite, &boot_info);

    char init_name[BOOTINFO_NAME_MAX];
    if (!bootinfo_cmdline_get(&boot_info, "init", init_name, sizeof(init_name)))
        kstrlcpy(init_name, "init", sizeof(init_name));
    char fastpath[8];
    if (bootinfo_cmdline_get(&boot_info, "fastpath", fastpath, sizeof(fastpath)) && strcmp(fastpath, "off") == 0) {
        fastpath_enabled = false;
        kprintf("core: IPC fast path off (fastpath=off): every IPC takes the general path\n");
    }
    if (bootinfo_find_module(&boot_info, init_name) != NULL) {
        syscall_init_cpu();
        klock_acquire();
        root_task_create(&boot_info, init_name);
        trap_timer_hook = sched_tick;
        sched_exit_to_user();
    }

    kprintf("core: ready; no servers in this build yet, idling\n");
    for (;;)
        cpu_idle_once();
}

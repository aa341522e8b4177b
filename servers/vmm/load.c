/* SPDX-License-Identifier: MIT */
/* load: the guest's boot image into guest RAM — ACPI tables, the Linux kernel, initrd, command line and boot_params — at setup and at every reset. */
#include <stdio.h>
#include <string.h>

#include "acpi.h"
#include "hv/objects.h"
#include "linux.h"
#include "vmm.h"

#define ACPI_BASE 0xe0000ull
#define ACPI_SIZE 0x20000ull

/*
 * The kernel and initrd windows are read-only copies of init's boot modules, so the image
 * can be loaded again after the guest overwrote RAM (the decompressed kernel lands on its
 * own bzImage copy). Only what the loader writes is renewed: RAM elsewhere keeps what the
 * guest left, as a PC's reset does not clear memory (the firmware would rebuild its
 * tables and reload the boot loader, which is what this does).
 */
static void build_cmdline(struct vmm *v)
{
    const struct hv_vm_info *info = v->info;
    /* The TSC's rate for the guest (its TSC is the host's): Linux calibrates it against the
     * PIT or the PM timer with reads that must be close together, which trapped port I/O
     * under an emulator is not, and would then fall back to the PM timer as its clock (an
     * exit per read). Like firmware telling the rate, the command line does (unless set);
     * tsc=reliable: its rate is constant, so no watchdog (jiffies, which lose ticks when the
     * vCPU runs late) may demote it. */
    if (info->tsc_hz != 0 && strstr(info->cmdline, "tsc_early_khz=") == 0)
        (void)snprintf(v->cmdline, sizeof(v->cmdline), "%s tsc_early_khz=%lu tsc=reliable", info->cmdline,
                       (unsigned long)(info->tsc_hz / 1000u));
    else
        (void)snprintf(v->cmdline, sizeof(v->cmdline), "%s", info->cmdline);
}

int vmm_load_guest(struct vmm *v, bool log)
{
    const struct hv_vm_info *info = v->info;
    struct acpi_config ac;
    struct acpi_layout al;
    acpi_default_config(&ac, v->ncpus);
    if (acpi_build(&v->gm, ACPI_BASE, ACPI_SIZE, &ac, &al) != ACPI_OK) {
        vmm_log(v, "setup failed: ACPI tables");
        return VMM_STOP_SETUP;
    }
    build_cmdline(v);
    struct linux_boot_config lc = {
        .kernel = (const uint8_t *)(uintptr_t)HV_VM_KERNEL_VA, .kernel_size = info->kernel_size,
        .initrd = info->initrd_size != 0 ? (const uint8_t *)(uintptr_t)HV_VM_INITRD_VA : 0,
        .initrd_size = info->initrd_size, .cmdline = v->cmdline, .e820 = &v->e820, .acpi_rsdp = al.rsdp,
    };
    struct linux_boot_info li;
    enum linux_boot_error le = linux_boot_load(&v->gm, &lc, &v->boot, &li);
    if (le != LINUX_OK) {
        vmm_log(v, "cannot load the kernel: %s", linux_boot_strerror(le));
        return VMM_STOP_SETUP;
    }
    v->boot.mtd = HV_MTD_ALL & ~HV_MTD_TSC;
    if (log) {
        vmm_log(v, "%lu MiB, %u vCPU, %s paging; Linux boot protocol %u.%02u, kernel at 0x%lx, initrd %lu KiB at 0x%lx",
                (unsigned long)(v->ram_bytes >> 20), v->ncpus,
                info->paging == HV_VCPU_MODE_SHADOW ? "shadow" : "nested", li.version >> 8, li.version & 0xffu,
                (unsigned long)li.kernel_gpa, (unsigned long)(info->initrd_size >> 10),
                (unsigned long)li.initrd_gpa);
        vmm_log(v, "command line \"%s\"", v->cmdline);
    }
    return VMM_RUNNING;
}

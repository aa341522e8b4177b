/* SPDX-License-Identifier: MIT */
/* platform: emulator exit ports and panic. */
#include "platform.h"

#include <stdarg.h>

#include "../arch/x86_64/cpu.h"
#include "../arch/x86_64/smp.h"
#include "../drivers/uart16550.h"
#include "console.h"

#define QEMU_DEBUG_EXIT_PORT 0xf4
#define QEMU_EXIT_PASS 0x10     /* QEMU exits with (0x10 << 1) | 1 = 33 */
#define QEMU_EXIT_FAIL 0x11     /* 35 */
#define BOCHS_SHUTDOWN_PORT 0x8900

void platform_exit(bool success)
{
    irq_disable();
    kprintf("core: %s, stopping the machine\n", success ? "run passed" : "run failed");
    /* Bochs drops bytes still in the emulated transmitter when it exits. */
    uart_flush();
    outl(QEMU_DEBUG_EXIT_PORT, success ? QEMU_EXIT_PASS : QEMU_EXIT_FAIL);
    for (const char *p = "Shutdown"; *p != '\0'; p++)
        outb(BOCHS_SHUTDOWN_PORT, (unsigned char)*p);
    for (;;)
        cpu_halt();
}

void panic(const char *fmt, ...)
{
    va_list ap;
    irq_disable();
    /* The other CPUs stop first (an NMI each): nothing changes under the report. */
    unsigned others = 0;
    unsigned stopped = smp_stop_others(&others);
    if (others != 0)
        console_take_over();
    kprintf("PANIC: ");
    va_start(ap, fmt);
    kvprintf(fmt, ap);
    va_end(ap);
    kprintf("\n");
    if (others != 0)
        kprintf("panic: stopped %u of %u other CPUs\n", stopped, others);
    platform_exit(false);
}

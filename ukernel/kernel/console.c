/* SPDX-License-Identifier: MIT */
/* console: kprintf over the 16550 UART. */
#include "console.h"

#include <stdbool.h>

#include "../arch/x86_64/percpu.h"
#include "../drivers/uart16550.h"
#include "../lib/format.h"
#include "spinlock.h"

#define CONSOLE_NO_OWNER (~0u)

/*
 * One kprintf at a time, so lines from different CPUs do not mix. Interrupts are
 * off while it is held (a handler on the same CPU may print), and a CPU that
 * faults while printing reaches the console again through the fault report: the
 * owner check lets that nested print through instead of deadlocking.
 */
static struct spinlock console_lock = SPINLOCK_INIT;
static volatile unsigned console_owner = CONSOLE_NO_OWNER;

void console_init(void)
{
    uart_init();
}

static void console_sink(void *ctx, char c)
{
    (void)ctx;
    uart_putc(c);
}

void kvprintf(const char *fmt, va_list ap)
{
    bool irqs = irq_save();
    unsigned self = this_cpu_index();
    bool nested = console_owner == self;
    if (!nested) {
        spin_lock(&console_lock);
        console_owner = self;
    }
    format_v(console_sink, NULL, fmt, ap);
    if (!nested) {
        console_owner = CONSOLE_NO_OWNER;
        spin_unlock(&console_lock);
    }
    irq_restore(irqs);
}

void console_take_over(void)
{
    console_owner = this_cpu_index();   /* kvprintf() then prints as a nested owner */
}

void kprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kvprintf(fmt, ap);
    va_end(ap);
}

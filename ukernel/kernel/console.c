/* SPDX-License-Identifier: MIT */
/* console: kprintf over the 16550 UART. */
#include "console.h"

#include "../drivers/uart16550.h"
#include "../lib/format.h"

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
    format_v(console_sink, NULL, fmt, ap);
}

void kprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kvprintf(fmt, ap);
    va_end(ap);
}

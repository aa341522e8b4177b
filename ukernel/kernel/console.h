/* SPDX-License-Identifier: MIT */
/* console: formatted output of the core (serial). */
#ifndef HV_KERNEL_CONSOLE_H
#define HV_KERNEL_CONSOLE_H

#include <stdarg.h>

void console_init(void);
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void kvprintf(const char *fmt, va_list ap);

#endif

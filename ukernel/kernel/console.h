/* SPDX-License-Identifier: MIT */
/* console: formatted output of the core (serial). */
#ifndef HV_KERNEL_CONSOLE_H
#define HV_KERNEL_CONSOLE_H

#include <stdarg.h>

void console_init(void);
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void kvprintf(const char *fmt, va_list ap);
/*
 * For panic(), once the other CPUs are stopped: the console becomes this CPU's,
 * even if a stopped CPU held it mid-line (its lock would never be released).
 */
void console_take_over(void);

#endif

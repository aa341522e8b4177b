/* SPDX-License-Identifier: MIT */
/* platform: ending the machine (emulator exit ports, halt) and fatal errors. */
#ifndef HV_KERNEL_PLATFORM_H
#define HV_KERNEL_PLATFORM_H

#include <stdbool.h>

/*
 * Ends the run. Under QEMU (isa-debug-exit at 0xf4) the exit status is 33 for a
 * pass and 35 for a failure; under Bochs the 0x8900 shutdown port ends it (its
 * status is always 1, so the serial log is the verdict). On real hardware it halts.
 */
__attribute__((noreturn)) void platform_exit(bool success);

/* Prints "PANIC: <message>" and ends the run as a failure. */
__attribute__((noreturn, format(printf, 1, 2))) void panic(const char *fmt, ...);

#endif

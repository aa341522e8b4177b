/* SPDX-License-Identifier: MIT */
/* stdio.h for init's freestanding build: only vsnprintf (libipc's error messages), on the core's formatter. */
#ifndef HV_INIT_LIBC_STDIO_H
#define HV_INIT_LIBC_STDIO_H

#include <stdarg.h>
#include <stddef.h>

/* servers/init/libc_shim.c */
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);

#endif

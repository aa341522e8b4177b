/* SPDX-License-Identifier: MIT */
/* format: printf-style formatting into a caller-supplied sink (no heap, no libc). */
#ifndef HV_LIB_FORMAT_H
#define HV_LIB_FORMAT_H

#include <stdarg.h>
#include <stddef.h>

/*
 * A sink receives each formatted character. The formatter never allocates and
 * never reads past the arguments the format string names.
 *
 * Supported conversions: %% %c %s %d %i %u %x %X %p, length modifiers l, ll, z,
 * flags '0' and '-', a decimal field width and '*' width. Anything else is
 * printed literally so a bad format string is visible, not fatal.
 */
typedef void (*format_sink_fn)(void *ctx, char c);

/* Returns the number of characters produced. */
size_t format_v(format_sink_fn sink, void *ctx, const char *fmt, va_list ap);

/* snprintf-like: always NUL-terminates when size > 0; returns the full length. */
size_t format_buf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
size_t format_buf_v(char *buf, size_t size, const char *fmt, va_list ap);

#endif

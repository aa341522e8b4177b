/* SPDX-License-Identifier: MIT */
/* libc_shim: the few libc functions nanopb and libipc use beyond kstring (vsnprintf, strnlen, memchr). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lib/format.h"

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    return (int)format_buf_v(buf, size, fmt, ap);
}

size_t strnlen(const char *s, size_t max)
{
    size_t n = 0;
    while (n < max && s[n] != '\0')
        n++;
    return n;
}

void *memchr(const void *s, int c, size_t n)
{
    const unsigned char *p = s;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == (unsigned char)c)
            return (void *)(uintptr_t)(p + i);
    }
    return NULL;
}

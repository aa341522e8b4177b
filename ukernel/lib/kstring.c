/* SPDX-License-Identifier: MIT */
/* kstring: freestanding memory and string primitives for the core. */
#include "kstring.h"

#include <stdint.h>

#ifndef HV_HOSTED
/* Word access that may alias anything (memcpy/memset serve every type). */
typedef uint64_t __attribute__((may_alias)) kstring_word;
#define WORD_ALIGNED(p) (((uintptr_t)(p) & (sizeof(kstring_word) - 1u)) == 0)

void *memcpy(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    /* Whole words while both sides are aligned: VM-exit state and IPC words are. */
    if (WORD_ALIGNED(d) && WORD_ALIGNED(s)) {
        for (; n >= sizeof(kstring_word); n -= sizeof(kstring_word)) {
            *(kstring_word *)(void *)d = *(const kstring_word *)(const void *)s;
            d += sizeof(kstring_word);
            s += sizeof(kstring_word);
        }
    }
    while (n--)
        *d++ = *s++;
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if ((uintptr_t)d < (uintptr_t)s) {
        while (n--)
            *d++ = *s++;
    } else {
        while (n--)
            d[n] = s[n];
    }
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    unsigned char *d = dst;
    if (WORD_ALIGNED(d)) {
        kstring_word w = (unsigned char)c * 0x0101010101010101ull;
        for (; n >= sizeof(kstring_word); n -= sizeof(kstring_word)) {
            *(kstring_word *)(void *)d = w;
            d += sizeof(kstring_word);
        }
    }
    while (n--)
        *d++ = (unsigned char)c;
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a;
    const unsigned char *y = b;
    for (size_t i = 0; i < n; i++) {
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    }
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n] != '\0')
        n++;
    return n;
}

int strcmp(const char *a, const char *b)
{
    while (*a != '\0' && *a == *b) {
        a++;
        b++;
    }
    return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i] != b[i] || a[i] == '\0')
            return (unsigned char)a[i] - (unsigned char)b[i];
    }
    return 0;
}
#endif

size_t kstrlcpy(char *dst, const char *src, size_t size)
{
    size_t len = 0;
    while (src[len] != '\0')
        len++;
    if (size > 0) {
        size_t n = len < size - 1 ? len : size - 1;
        for (size_t i = 0; i < n; i++)
            dst[i] = src[i];
        dst[n] = '\0';
    }
    return len;
}

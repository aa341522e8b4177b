/* SPDX-License-Identifier: MIT */
/* kstring: the few C string/memory functions the core uses (libc's own on the host). */
#ifndef HV_LIB_KSTRING_H
#define HV_LIB_KSTRING_H

#include <stddef.h>

#ifdef HV_HOSTED
#include <string.h>
#else
/* Standard prototypes: gcc may emit calls to these itself. */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
#endif

/* Copies at most size-1 characters and always NUL-terminates (size > 0). */
size_t kstrlcpy(char *dst, const char *src, size_t size);

#endif

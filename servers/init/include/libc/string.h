/* SPDX-License-Identifier: MIT */
/* string.h for init's freestanding build: the core's kstring plus the two more nanopb and libipc use. */
#ifndef HV_INIT_LIBC_STRING_H
#define HV_INIT_LIBC_STRING_H

#include <stddef.h>

#include "lib/kstring.h"

/* servers/init/libc_shim.c */
size_t strnlen(const char *s, size_t max);
void *memchr(const void *s, int c, size_t n);

#endif

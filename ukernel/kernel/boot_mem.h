/* SPDX-License-Identifier: MIT */
/* boot_mem: the free physical memory at boot, carved for the root task, the rest handed out as untyped. */
#ifndef HV_KERNEL_BOOT_MEM_H
#define HV_KERNEL_BOOT_MEM_H

#include <stdbool.h>
#include <stdint.h>

#include "bootinfo.h"

#define BOOT_MEM_MAX_RANGES 64

struct boot_mem {
    uint64_t base[BOOT_MEM_MAX_RANGES];
    uint64_t end[BOOT_MEM_MAX_RANGES];
    unsigned count;
};

/* Usable RAM from the map, page-aligned inward, minus everything below `low_limit`. */
void boot_mem_init(struct boot_mem *m, const struct boot_info *bi, uint64_t low_limit);
/* Removes [base, end) (e.g. the core's image, boot modules); splits ranges as needed. */
bool boot_mem_reserve(struct boot_mem *m, uint64_t base, uint64_t end);
/* Allocates `size` bytes aligned to `align` (power of two) from the lowest fitting range; 0 if none. */
uint64_t boot_mem_alloc(struct boot_mem *m, uint64_t size, uint64_t align);
uint64_t boot_mem_total(const struct boot_mem *m);

/*
 * Splits [base, end) into the largest naturally aligned power-of-two blocks (the
 * shape untyped caps need), at least 2^min_bits each. Calls emit(pa, bits) per
 * block; returns how many blocks there were (emit may be NULL to count).
 */
unsigned boot_mem_blocks(uint64_t base, uint64_t end, unsigned min_bits,
                         void (*emit)(void *ctx, uint64_t pa, unsigned bits), void *ctx);

#endif

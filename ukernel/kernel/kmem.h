/* SPDX-License-Identifier: MIT */
/* kmem: how the core reaches physical memory holding kernel objects (physmap; a test arena on the host). */
#ifndef HV_KERNEL_KMEM_H
#define HV_KERNEL_KMEM_H

#include <stdint.h>

#ifdef HV_HOSTED
/* Host unit tests point this at an arena standing in for physical memory. */
extern uint8_t *hosted_phys_base;
static inline void *kmem_ptr(uint64_t pa)
{
    return hosted_phys_base + pa;
}
static inline uint64_t kmem_pa(const void *p)
{
    return (uint64_t)((const uint8_t *)p - hosted_phys_base);
}
#else
#define KMEM_PHYSMAP_BASE 0xffff800000000000ull
static inline void *kmem_ptr(uint64_t pa)
{
    return (void *)(uintptr_t)(KMEM_PHYSMAP_BASE + pa);
}
static inline uint64_t kmem_pa(const void *p)
{
    return (uint64_t)(uintptr_t)p - KMEM_PHYSMAP_BASE;
}
#endif

#endif

/* SPDX-License-Identifier: MIT */
/* guest_long: what the long-mode test guests (guest_paging, guest_pfbench) share: 4-level entry bits, a table chain builder, control registers, the IDT, numbers as text. */
#ifndef HV_TEST_GUEST_LONG_H
#define HV_TEST_GUEST_LONG_H

#include <stdint.h>

/* Both are entered by guest_long_entry.S, which calls this in long mode. */
void guest_main(void);

/* 4-level paging entries (SDM 4.5). */
#define PTE_P 0x1ull
#define PTE_RW 0x2ull
#define PTE_US 0x4ull
#define PTE_A 0x20ull
#define PTE_D 0x40ull
#define PTE_PS 0x80ull
#define PTE_G 0x100ull
#define PTE_XD (1ull << 63)
#define PTE_TABLE (PTE_P | PTE_RW | PTE_US)     /* a link that restricts nothing */
#define PFEC_P 1u
#define PFEC_W 2u
#define PFEC_U 4u
#define PFEC_ID 16u
#define CR4_PGE 0x80ull
#define GB (1ull << 30)
#define GUEST_SEL_CODE64 0x18                   /* guest_long_entry.S's GDT */

_Static_assert(PTE_XD == 0x8000000000000000ull && PTE_TABLE == 7, "4-level entry bits");

/* The guests run identity-mapped: a pointer is its gpa. */
static inline uint64_t pa(const void *p)
{
    return (uint64_t)(uintptr_t)p;
}

/*
 * The table chain both guests give their second 512 GiB region: pml4[index] -> pdpt ->
 * pd -> pt, each link the first entry of its table and PTE_TABLE, so `pt` holds the
 * 4 KiB leaves of gva index * 512 GiB + [0, 2 MiB).
 */
static inline void guest_chain_pt(uint64_t *pml4, unsigned index, uint64_t *pdpt, uint64_t *pd, const uint64_t *pt)
{
    pml4[index] = pa(pdpt) | PTE_TABLE;
    pdpt[0] = pa(pd) | PTE_TABLE;
    pd[0] = pa(pt) | PTE_TABLE;
}

static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void invlpg(uint64_t a)
{
    __asm__ volatile("invlpg (%0)" : : "r"(a) : "memory");
}

static inline void write_cr3(uint64_t v)
{
    __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory");
}

static inline uint64_t read_cr3(void)
{
    uint64_t v;
    __asm__ volatile("mov %%cr3, %0" : "=r"(v));
    return v;
}

static inline uint64_t read_cr0(void)
{
    uint64_t v;
    __asm__ volatile("mov %%cr0, %0" : "=r"(v));
    return v;
}

static inline uint64_t read_cr4(void)
{
    uint64_t v;
    __asm__ volatile("mov %%cr4, %0" : "=r"(v));
    return v;
}

static inline void write_cr4(uint64_t v)
{
    __asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory");
}

/* A 64-bit interrupt gate at `idt` (two quadwords a vector) to `handler`, callable from ring `dpl`. */
static inline void guest_set_gate(uint64_t *idt, unsigned vec, void *handler, unsigned dpl)
{
    uint64_t h = (uint64_t)(uintptr_t)handler;
    idt[vec * 2] = (h & 0xffffull) | ((uint64_t)GUEST_SEL_CODE64 << 16) | ((uint64_t)(0x8e | (dpl << 5)) << 40) |
                   ((h >> 16) & 0xffffull) << 48;
    idt[vec * 2 + 1] = h >> 32;
}

static inline void guest_load_idt(const uint64_t *idt, uint16_t bytes)
{
    struct __attribute__((packed)) { uint16_t limit; uint64_t base; } d = { (uint16_t)(bytes - 1), pa(idt) };
    __asm__ volatile("lidt %0" : : "m"(d));
}

/* v in hex without leading zeros, into b; returns where it starts. */
static inline const char *guest_hex(uint64_t v, char b[17])
{
    for (int i = 15; i >= 0; i--) {
        b[i] = "0123456789abcdef"[v & 15];
        v >>= 4;
    }
    b[16] = 0;
    const char *p = b;
    while (*p == '0' && p[1] != 0)
        p++;
    return p;
}

/* v in decimal, into b; returns where it starts. */
static inline const char *guest_dec(uint64_t v, char b[21])
{
    char *p = b + 20;
    *p = 0;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return p;
}

#endif

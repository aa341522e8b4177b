/* SPDX-License-Identifier: MIT */
/* paging: x86-64 4-level page-table entry layout and table construction helpers. */
#ifndef HV_ARCH_PAGING_H
#define HV_ARCH_PAGING_H

#include <stdbool.h>
#include <stdint.h>

/* Page-table entry bits (Intel SDM Vol. 3A, 4.5; AMD APM Vol. 2, 5.3). */
#define PTE_P (1ull << 0)       /* present */
#define PTE_W (1ull << 1)       /* writable */
#define PTE_U (1ull << 2)       /* user accessible */
#define PTE_PWT (1ull << 3)     /* write-through */
#define PTE_PCD (1ull << 4)     /* cache disable */
#define PTE_A (1ull << 5)       /* accessed */
#define PTE_D (1ull << 6)       /* dirty (leaf only) */
#define PTE_PS (1ull << 7)      /* large page (PDPTE: 1 GiB, PDE: 2 MiB) */
#define PTE_G (1ull << 8)       /* global (leaf only) */
#define PTE_NX (1ull << 63)     /* no execute (needs EFER.NXE) */
#define PTE_ADDR_MASK 0x000ffffffffff000ull
#define PTE_LARGE_ADDR_MASK_2M 0x000fffffffe00000ull
#define PTE_LARGE_ADDR_MASK_1G 0x000fffffc0000000ull

/* The flags a caller may ask for on a leaf; the helper sets P and PS itself. */
/* Highest physical address any x86-64 CPU can address (MAXPHYADDR <= 52). */
#define PT_MAX_PHYS_ADDR ((1ull << 52) - 1)

#define PTE_LEAF_FLAGS (PTE_W | PTE_U | PTE_PWT | PTE_PCD | PTE_G | PTE_NX)

#define PAGE_SHIFT 12
#define PAGE_SIZE (1ull << PAGE_SHIFT)
#define LARGE_PAGE_SIZE_2M (1ull << 21)
#define LARGE_PAGE_SIZE_1G (1ull << 30)
#define PT_ENTRIES 512
#define PT_LEVELS 4             /* PML4 = level 4 ... PT = level 1 */

_Static_assert(PAGE_SIZE == 4096, "x86-64 base page is 4 KiB");
_Static_assert((PTE_ADDR_MASK & PTE_LEAF_FLAGS) == 0, "address and flag bits overlap");
_Static_assert((PTE_ADDR_MASK & (PTE_P | PTE_PS | PTE_A | PTE_D)) == 0, "address and flag bits overlap");
_Static_assert(PT_ENTRIES * sizeof(uint64_t) == PAGE_SIZE, "a table fills one page");

/* Index into the table at `level` (1..4) for a virtual address. */
static inline unsigned pt_index(uint64_t va, unsigned level)
{
    return (unsigned)(va >> (PAGE_SHIFT + 9 * (level - 1))) & (PT_ENTRIES - 1);
}

static inline bool va_is_canonical(uint64_t va)
{
    uint64_t top = va >> 47;
    return top == 0 || top == 0x1ffff;
}

/*
 * How the helpers reach and allocate table memory. The core passes its boot pool
 * and physmap; host tests pass a simulated memory.
 */
struct pt_env {
    /* Returns a zeroed, 4 KiB-aligned table's physical address, or 0 when out of memory. */
    uint64_t (*alloc_table)(void *ctx);
    /* Returns a pointer through which the table at physical address `pa` can be accessed. */
    uint64_t *(*table_ptr)(void *ctx, uint64_t pa);
    void *ctx;
    bool allow_1g;          /* CPU supports 1 GiB pages (CPUID 0x80000001 EDX.26) */
};

enum pt_error {
    PT_OK = 0,
    PT_ERR_ALIGN,           /* va, pa or size not 4 KiB aligned */
    PT_ERR_NONCANONICAL,    /* range leaves the canonical half it starts in */
    PT_ERR_NOMEM,           /* alloc_table returned 0 */
    PT_ERR_EXISTS,          /* part of the range is already mapped */
    PT_ERR_FLAGS,           /* flags outside PTE_LEAF_FLAGS */
    PT_ERR_BAD_PHYS,        /* pa + size exceeds the architectural 52-bit physical limit */
};

/*
 * Maps [va, va+size) to [pa, pa+size) with `flags`, using the largest pages that
 * alignment allows (1 GiB only when allow_1g). Intermediate entries get P|W, plus U
 * when the leaf is user-accessible, and never NX, so the leaf alone decides rights.
 * On error the tables may hold part of the range; the caller's boot fails anyway.
 */
enum pt_error pt_map_range(const struct pt_env *env, uint64_t root_pa, uint64_t va,
                           uint64_t pa, uint64_t size, uint64_t flags);

/* Walks the tables: on success stores the physical address and the leaf entry. */
bool pt_translate(const struct pt_env *env, uint64_t root_pa, uint64_t va,
                  uint64_t *pa_out, uint64_t *leaf_out);

const char *pt_strerror(enum pt_error err);

#endif

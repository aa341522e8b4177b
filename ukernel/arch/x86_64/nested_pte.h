/* SPDX-License-Identifier: MIT */
/* nested_pte: entry encoding of the two nested page-table formats, AMD NPT and Intel EPT. */
#ifndef HV_ARCH_NESTED_PTE_H
#define HV_ARCH_NESTED_PTE_H

#include <stdbool.h>
#include <stdint.h>

/*
 * A GuestMemory's tables are 4-level radix trees of 512 8-byte entries indexed by
 * gpa bits 47-39, 38-30, 29-21, 20-12 in both formats; only the entry bits differ:
 *
 *   NPT (x86-64 page-table format; every guest access counts as a user access):
 *     table: P | RW | US            leaf: P | US [| RW] [| NX]   (PAT 0 = write-back)
 *   EPT (Intel SDM 29.3.2):
 *     table: R | W | X              leaf: R [| W] [| X] | memory type WB << 3
 *
 * Rights are the HV_GUEST_* bits (read 1, write 2, execute 4); read is always
 * present in a leaf (neither format maps write- or execute-only memory).
 */
enum nested_format {
    NESTED_NPT = 0,
    NESTED_EPT = 1,
};

#define NESTED_LEVELS 4u
#define NESTED_ENTRIES 512u
#define NESTED_ADDR_MASK 0x000ffffffffff000ull

#define NPT_P (1ull << 0)
#define NPT_RW (1ull << 1)
#define NPT_US (1ull << 2)
#define NPT_PS (1ull << 7)
#define NPT_NX (1ull << 63)

#define EPT_R (1ull << 0)
#define EPT_W (1ull << 1)
#define EPT_X (1ull << 2)
#define EPT_MT_SHIFT 3
#define EPT_MT_WB 6ull
#define EPT_PS (1ull << 7)

/*
 * 2 MiB leaves: an entry of a level-2 table (PD) with bit 7 set maps the 2 MiB at its
 * address (bits 20:12 zero; NPT bit 12 is the PAT bit, 0 = write-back) instead of
 * pointing to a PT. Both formats use bit 7 (NPT: PDE.PS, APM 5.3.4; EPT: "page size"
 * bit of an EPT PDE, SDM 29.3.2, only if the EPT capability MSR allows 2 MiB pages).
 */
#define NESTED_PDE_LARGE (1ull << 7)    /* = NPT_PS = EPT_PS */
#define NESTED_LARGE_LEVEL 2u
#define NESTED_LARGE_SIZE (1ull << 21)
#define NESTED_LARGE_GFNS 512u
#define NESTED_LARGE_MASK 0x000fffffffe00000ull

#define NESTED_READ 1u
#define NESTED_WRITE 2u
#define NESTED_EXECUTE 4u

_Static_assert((NPT_P | NPT_RW | NPT_US | NPT_NX) == 0x8000000000000007ull, "NPT bits (APM 5.3)");
_Static_assert((EPT_R | EPT_W | EPT_X) == 7ull && (EPT_MT_WB << EPT_MT_SHIFT) == 0x30ull,
               "EPT bits and WB memory type (SDM 29.3.2)");
_Static_assert((NESTED_ADDR_MASK & (NPT_NX | NPT_PS | 0xfffull)) == 0, "address bits clear of flags");

_Static_assert(NPT_PS == 0x80ull && EPT_PS == 0x80ull && NESTED_PDE_LARGE == 0x80ull,
               "bit 7 makes a PD entry a 2 MiB leaf in both formats");
_Static_assert(NESTED_LARGE_SIZE == NESTED_LARGE_GFNS * 4096ull && NESTED_LARGE_GFNS == NESTED_ENTRIES,
               "a 2 MiB leaf covers what one PT would");
_Static_assert(NESTED_LARGE_MASK == (NESTED_ADDR_MASK & ~(NESTED_LARGE_SIZE - 1)), "2 MiB leaf address bits");

/* Index of `gpa` in a table at `level` (4 = root ... 1 = leaf table). */
static inline unsigned nested_index(uint64_t gpa, unsigned level)
{
    return (unsigned)(gpa >> (12u + 9u * (level - 1u))) & (NESTED_ENTRIES - 1u);
}

/* An entry pointing to the next-level table at `table_pa`. */
static inline uint64_t nested_table_entry(enum nested_format f, uint64_t table_pa)
{
    if (f == NESTED_EPT)
        return (table_pa & NESTED_ADDR_MASK) | EPT_R | EPT_W | EPT_X;
    return (table_pa & NESTED_ADDR_MASK) | NPT_P | NPT_RW | NPT_US;
}

/* A leaf mapping the 4 KiB frame at `hpa` with NESTED_* rights (read implied). */
static inline uint64_t nested_leaf_entry(enum nested_format f, uint64_t hpa, unsigned rights)
{
    uint64_t e = hpa & NESTED_ADDR_MASK;
    if (f == NESTED_EPT) {
        e |= EPT_R | (EPT_MT_WB << EPT_MT_SHIFT);
        if (rights & NESTED_WRITE)
            e |= EPT_W;
        if (rights & NESTED_EXECUTE)
            e |= EPT_X;
        return e;
    }
    e |= NPT_P | NPT_US;
    if (rights & NESTED_WRITE)
        e |= NPT_RW;
    if (!(rights & NESTED_EXECUTE))
        e |= NPT_NX;
    return e;
}

/* A 2 MiB leaf (in a PD) mapping the 2 MiB frame at `hpa` with NESTED_* rights. */
static inline uint64_t nested_large_leaf_entry(enum nested_format f, uint64_t hpa, unsigned rights)
{
    return (nested_leaf_entry(f, hpa, rights) & ~NESTED_ADDR_MASK) | (hpa & NESTED_LARGE_MASK) |
           NESTED_PDE_LARGE;
}

/* Whether a present entry of a PD is a 2 MiB leaf (else it points to a PT). */
static inline bool nested_is_large(uint64_t e)
{
    return (e & NESTED_PDE_LARGE) != 0;
}

/* The base of the 2 MiB a large leaf maps. */
static inline uint64_t nested_large_pa(uint64_t e)
{
    return e & NESTED_LARGE_MASK;
}

static inline bool nested_present(enum nested_format f, uint64_t e)
{
    return f == NESTED_EPT ? (e & (EPT_R | EPT_W | EPT_X)) != 0 : (e & NPT_P) != 0;
}

static inline uint64_t nested_entry_pa(uint64_t e)
{
    return e & NESTED_ADDR_MASK;
}

/* The NESTED_* rights of a present leaf. */
static inline unsigned nested_leaf_rights(enum nested_format f, uint64_t e)
{
    if (f == NESTED_EPT)
        return ((e & EPT_R) ? NESTED_READ : 0u) | ((e & EPT_W) ? NESTED_WRITE : 0u) |
               ((e & EPT_X) ? NESTED_EXECUTE : 0u);
    return NESTED_READ | ((e & NPT_RW) ? NESTED_WRITE : 0u) | ((e & NPT_NX) ? 0u : NESTED_EXECUTE);
}

#endif

/* SPDX-License-Identifier: MIT */
/* guest_walk: the guest page-table walker — gva to gpa exactly as the CPU walks. */
#ifndef HV_VTLB_GUEST_WALK_H
#define HV_VTLB_GUEST_WALK_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Pure logic over an environment of callbacks (guest-physical reads and compare-and-
 * exchange), so the same file links into the core and into host unit tests.
 *
 * Architecture: Intel SDM Vol. 3A ch. 4 (4.3 32-bit, 4.4 PAE, 4.5 4-level paging,
 * 4.6 access rights, 4.7 page-fault error code, 4.8 accessed and dirty flags) and
 * AMD APM Vol. 2 ch. 5. Not modelled: 5-level paging (CR4.LA57), protection keys
 * (CR4.PKE/PKS), PCIDs, CET shadow-stack accesses, SGX, HLAT. Those CR4 bits are
 * ignored; the VCPU must not expose them to a shadow-paged guest.
 *
 * Decisions:
 * - A and D bits are set only after the walk found a present, well-formed leaf and
 *   the access passed every permission check: a faulting access changes no guest
 *   entry (as KVM's walker; the SDM sets A/D only for translations it completes).
 *   A is set on every entry walked that has an A bit (PAE PDPTEs have none), D on
 *   the leaf when the access is a write; each update is one compare-and-exchange of
 *   the whole entry. If the entry changed under us the walk restarts from the root
 *   (at most GW_MAX_RESTARTS times, then GW_RETRY: re-enter the guest, it refaults).
 * - PAE PDPTEs: real CPUs (Intel always, AMD in legacy mode too) load the four
 *   PDPTEs when CR3 is loaded (MOV CR3, or a CR0/CR4 write that enables PAE paging),
 *   checking their reserved bits then (#GP on a violation), and never re-read them
 *   during walks. gw_load_pdptes() does that load for the caller to keep with the
 *   VCPU; gw_walk() uses those copies when gw_regs.pdptes is non-NULL. With NULL it
 *   reads the PDPTE from guest memory on every walk (reserved bits then give a #PF
 *   with RSVD), which is how a nested-paging walker that never caches them behaves.
 *   The shadow MMU (shadow.c) uses the load-at-CR3 semantics.
 * - The error code's I/D bit is set for an instruction fetch only when CR4.SMEP = 1
 *   or (CR4.PAE = 1 and EFER.NXE = 1): SDM 4.7.
 * - SMEP and SMAP are supported. SMAP needs to know EFLAGS.AC and whether a
 *   supervisor access is implicit (GW_ACC_AC, GW_ACC_IMPLICIT).
 * - 32-bit paging with CR4.PSE = 1: 4 MiB pages with PSE-36 high address bits 20:13
 *   holding gpa bits (M-1):32, M = min(MAXPHYADDR, 40); bits 21:(M-19) reserved.
 *   A CPU with MAXPHYADDR = 32 is one without PSE-36 (bits 21:13 all reserved).
 * - Paging off: gpa = gva truncated to 32 bits (linear addresses outside long mode),
 *   reported as a 4 KiB page with every right.
 */

/* Control-register and EFER bits the walk reads (SDM Vol. 3A 2.5, 2.2.1). */
#define GW_CR0_WP (1ull << 16)
#define GW_CR0_PG (1ull << 31)
#define GW_CR4_PSE (1ull << 4)
#define GW_CR4_PAE (1ull << 5)
#define GW_CR4_PGE (1ull << 7)
#define GW_CR4_SMEP (1ull << 20)
#define GW_CR4_SMAP (1ull << 21)
#define GW_EFER_LME (1ull << 8)
#define GW_EFER_LMA (1ull << 10)
#define GW_EFER_NXE (1ull << 11)

/* Guest paging-structure entry bits (SDM Vol. 3A Tables 4-4..4-20). */
#define GPTE_P (1ull << 0)
#define GPTE_RW (1ull << 1)
#define GPTE_US (1ull << 2)
#define GPTE_PWT (1ull << 3)
#define GPTE_PCD (1ull << 4)
#define GPTE_A (1ull << 5)
#define GPTE_D (1ull << 6)
#define GPTE_PS (1ull << 7)
#define GPTE_G (1ull << 8)
#define GPTE_LARGE_PAT (1ull << 12)        /* PAT bit of a large-page entry */
#define GPTE_XD (1ull << 63)               /* PAE and 4-level only, with EFER.NXE = 1 */
#define GPTE_ADDR_MASK 0x000ffffffffff000ull /* 51:12 (PAE / 4-level) */
#define GPTE32_ADDR_MASK 0xfffff000ull     /* 31:12 (32-bit paging) */
#define GPTE32_4M_ADDR_LO 0xffc00000ull    /* 31:22 of a 4 MiB page */
#define GPTE32_4M_HI_SHIFT 13              /* bits 20:13 hold gpa bits 39:32 */
#define GPTE32_4M_HI_MASK 0xffull
#define GPTE_PAE_PDPTE_RSVD 0x1e6ull       /* PAE PDPTE bits 8:5 and 2:1 */
#define GW_CR3_PAE_MASK 0xffffffe0ull      /* PAE: PDPT address, 32-byte aligned */

_Static_assert(GPTE_P == 1 && GPTE_RW == 2 && GPTE_US == 4, "low entry bits");
_Static_assert(GPTE_A == 0x20 && GPTE_D == 0x40 && GPTE_PS == 0x80 && GPTE_G == 0x100,
               "A D PS G bits");
_Static_assert((GPTE_ADDR_MASK & 0xfffull) == 0 && (GPTE_ADDR_MASK >> 52) == 0,
               "address bits 51:12");
_Static_assert(GPTE_PAE_PDPTE_RSVD == ((0xfull << 5) | (0x3ull << 1)),
               "PAE PDPTE reserved bits 8:5 and 2:1");
_Static_assert(GPTE32_4M_ADDR_LO == (0x3ffull << 22), "4 MiB frame bits 31:22");

/* Page-fault error code (SDM Vol. 3A 4.7, Figure 4-12). */
#define GW_PFEC_P (1u << 0)      /* 0: not-present page; 1: protection violation */
#define GW_PFEC_W (1u << 1)      /* the access was a write */
#define GW_PFEC_U (1u << 2)      /* the access was a user-mode access */
#define GW_PFEC_RSVD (1u << 3)   /* a reserved bit was set in some paging-structure entry */
#define GW_PFEC_ID (1u << 4)     /* instruction fetch (only with SMEP or PAE+NXE) */
_Static_assert(GW_PFEC_ID == 0x10, "I/D is bit 4");

/* The access being translated (bitwise or). */
#define GW_ACC_WRITE (1u << 0)     /* data write */
#define GW_ACC_FETCH (1u << 1)     /* instruction fetch (never with WRITE) */
#define GW_ACC_USER (1u << 2)      /* user-mode access: CPL 3 and not implicit */
#define GW_ACC_IMPLICIT (1u << 3)  /* implicit supervisor access (GDT, IDT, TSS...); not with USER */
#define GW_ACC_AC (1u << 4)        /* EFLAGS.AC was 1 (SMAP override for explicit accesses) */

enum gw_paging_mode {
    GW_PAGING_OFF = 0,
    GW_PAGING_32 = 1,     /* CR0.PG, !CR4.PAE: 2 levels of 4-byte entries */
    GW_PAGING_PAE = 2,    /* CR0.PG, CR4.PAE, !EFER.LMA: PDPTEs + 2 levels */
    GW_PAGING_4LEVEL = 3, /* CR0.PG, CR4.PAE, EFER.LMA: 4 levels */
};

/* Result of a guest-physical memory access callback. */
enum gw_mem {
    GW_MEM_OK = 0,
    GW_MEM_MISSING,   /* no frame at that gpa (or, for cmpxchg, no write right) */
    GW_MEM_CHANGED,   /* cmpxchg only: the entry no longer held `old` */
};

struct gw_env {
    /* Reads a naturally aligned 4- or 8-byte little-endian value at gpa. */
    enum gw_mem (*read)(void *ctx, uint64_t gpa, unsigned size, uint64_t *val);
    /* Atomically replaces the 4/8-byte value at gpa by new_val if it still equals old. */
    enum gw_mem (*cmpxchg)(void *ctx, uint64_t gpa, unsigned size, uint64_t old,
                           uint64_t new_val);
    void *ctx;
    unsigned maxphyaddr;  /* the guest CPU's MAXPHYADDR, 32..52 (CPUID 0x80000008 EAX[7:0]) */
    bool gbpages;         /* 1 GiB pages supported (CPUID 0x80000001 EDX.26) */
    bool amd;             /* AMD: bit 8 of a PML4E is reserved (APM Vol. 2 5.3.3; Intel ignores it) */
};

/* The guest's paging controls. */
struct gw_regs {
    uint64_t cr0, cr3, cr4, efer;
    /* PAE paging: the four PDPTEs loaded at CR3 load (gw_load_pdptes), or NULL to read
     * them from guest memory on every walk. Ignored in other modes. */
    const uint64_t *pdptes;
};

enum gw_status {
    GW_OK = 0,           /* translated: gpa, page_size, rights */
    GW_FAULT,            /* the guest takes #PF: error_code, cr2 */
    GW_GPA_MISSING,      /* a table entry's gpa has no frame: missing_gpa, missing_write */
    GW_NONCANONICAL,     /* 4-level paging, non-canonical gva: #GP/#SS, not #PF */
    GW_RETRY,            /* entries kept changing under the A/D update: re-enter the guest */
};

#define GW_MAX_LEVELS 4
#define GW_MAX_RESTARTS 8

struct gw_result {
    enum gw_status status;
    /* GW_OK */
    uint64_t gpa;
    uint64_t page_size;     /* 4 KiB, 2 MiB, 4 MiB or 1 GiB */
    bool writable;          /* R/W = 1 in every entry that has it */
    bool user;              /* U/S = 1 in every entry that has it */
    bool executable;        /* no XD in any entry (always true unless PAE/4-level with NXE) */
    bool global;            /* the leaf's G with CR4.PGE = 1 */
    bool dirty;             /* the leaf's D after the walk */
    /* GW_FAULT */
    uint32_t error_code;
    uint64_t cr2;
    /* GW_GPA_MISSING */
    uint64_t missing_gpa;
    bool missing_write;     /* the missing access was the A/D update */
    /* Every guest entry the walk read, root level first (also on faults): the
     * tables a write-protecting shadow would protect. PDPTEs taken from
     * gw_regs.pdptes are not listed (they were read at CR3 load). */
    unsigned nr_entries;
    unsigned leaf_level;    /* 1 = PTE, 2 = PDE, 3 = PDPTE, 4 = PML4E */
    uint64_t entry_gpa[GW_MAX_LEVELS];
    uint64_t entry[GW_MAX_LEVELS];   /* values as left by the walk (A/D included) */
    unsigned entry_size;    /* 4 (32-bit paging) or 8 */
};

enum gw_paging_mode gw_paging_mode(const struct gw_regs *regs);

/* Translates gva for `access` (GW_ACC_*); fills *out (status first). */
void gw_walk(const struct gw_env *env, const struct gw_regs *regs, uint64_t gva,
             unsigned access, struct gw_result *out);

/*
 * PAE paging: loads the four PDPTEs from the PDPT at cr3 (as MOV CR3 does) into
 * pdptes[4]. GW_OK; GW_FAULT when a present PDPTE has a reserved bit set (the guest
 * takes #GP(0), error_code 0); GW_GPA_MISSING when the PDPT's gpa has no frame.
 */
enum gw_status gw_load_pdptes(const struct gw_env *env, uint64_t cr3, uint64_t pdptes[4],
                              uint64_t *missing_gpa);

#endif

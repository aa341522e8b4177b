/* SPDX-License-Identifier: MIT */
/* shadow: the shadow page-table manager — a per-VCPU virtual TLB over guest page tables. */
#ifndef HV_VTLB_SHADOW_H
#define HV_VTLB_SHADOW_H

#include <stdbool.h>
#include <stdint.h>

#include "guest_walk.h"

/*
 * The shadow tables the CPU walks while the guest runs without nested paging map
 * gva -> hpa with 4 KiB sptes; the guest's own tables are only read (by the walker).
 *
 * COHERENCE: THE SHADOW TABLES ARE A TLB. An spte is a cached translation, filled
 * on a guest access that faulted, and dropped exactly when a hardware TLB entry
 * must be dropped:
 *   - INVLPG gva: the spte(s) for the guest page containing gva, in every cached
 *     root (hardware drops global entries too, and a global entry filled under
 *     another CR3 would still be in the hardware TLB);
 *   - MOV CR3 (to any value, the same one included): every non-global translation.
 *     Roots are cached per guest CR3 (SHADOW_ROOTS, least recently used evicted),
 *     but switching to a cached root drops its non-global sptes first — hardware
 *     would have flushed them at the CR3 write, and keeping them would honour a
 *     stale mapping past a CR3 reload. Only global sptes (guest G with CR4.PGE)
 *     survive, as in hardware, plus the shadow tables themselves (no rebuild);
 *   - a #PF injected into the guest: the sptes for that address (a page fault
 *     invalidates the TLB entries for the faulting linear address, SDM 4.10.4.1);
 *   - CR0.PG/WP, CR4.PAE/PSE/PGE/SMEP/SMAP, EFER.NXE/LMA changes: everything.
 * A guest page-table change without INVLPG therefore stays invisible exactly as
 * long as hardware may keep using the old translation, and no longer. This is the
 * alternative to KVM's design (write-protect every guest page-table page so the
 * cached roots stay coherent with the guest tables at all times): that needs a
 * reverse map from gfns to sptes, unsync tracking and write emulation — far more
 * core code — and buys only the non-global translations of recently used CR3s.
 *
 * Other decisions:
 *   - sptes are always 4 KiB, also for guest 2 MiB / 4 MiB / 1 GiB pages; such sptes
 *     carry SPTE_SW_LARGE so INVLPG anywhere in the guest's large page drops all of
 *     them (it invalidates the whole large translation);
 *   - rights = guest rights (R/W and U/S at every level, XD at any) AND GuestMemory
 *     rights; a writable guest page whose guest D bit is clear is mapped read-only,
 *     so the first write faults and the walker sets D;
 *   - CR0.WP = 0 in the guest: the hardware runs with WP = 1 (or read-only sptes
 *     would not protect anything), and a supervisor write to a guest-read-only page
 *     gets an spte that is writable but supervisor-only (plus NX with SMEP, so the
 *     page turned supervisor cannot be executed by the kernel); a later user access
 *     faults and gets the read-only user spte back (KVM does the same). Known gap,
 *     as in KVM: with CR4.SMAP = 1 and CR0.WP = 0, while such a supervisor-only spte
 *     exists, supervisor reads of that user page with EFLAGS.AC = 0 do not fault;
 *   - a hardware error code does not say whether a supervisor access was implicit
 *     (descriptor tables, TSS): shadow_access() calls it explicit. Under SMAP, a fault
 *     on an spte that already allows the access as explicit is re-walked as implicit
 *     (the only explanation) and injected; that first walk may have set guest A/D
 *     bits a faulting implicit access would not have set;
 *   - guest caching attributes (PWT/PCD/PAT) are not copied: guest RAM is write-back;
 *   - no reverse map: when GuestMemory loses a frame or a right, call
 *     shadow_flush_all() on every VCPU shadowing it.
 *
 * Shadow format: 4-level tables while the guest is in long mode (EFER.LMA); PAE
 * tables (a 4-entry PDPT root, PDs, PTs) otherwise, paging off included (identity
 * map of the 32-bit space). The hardware therefore must run the guest with CR0.PG
 * and CR0.WP set, CR4.PAE set, CR4.PGE clear (sptes never carry G), EFER.NXE set,
 * EFER.LMA as the guest's, CR4.SMEP/SMAP as the guest's. A PAE root's PDPTEs are
 * loaded by the CPU at VM entry; the pool must lie below 4 GiB (legacy-mode CR3 is
 * 32 bits), which shadow_pool_ok() checks.
 *
 * Hardware TLB: whenever this module drops or narrows an spte or switches roots it
 * records a flush (shadow_tlb_take); the backend performs it (INVLPGA / VPID or ASID
 * flush) before the next VM entry.
 *
 * Memory: a fixed pool of 4 KiB pages (from untyped memory given with the VCPU);
 * running out evicts the least recently used other root, then the current root's
 * tables — never fails the guest (SHADOW_POOL_MIN pages hold any one translation).
 */

/* Hardware spte bits (SDM Vol. 3A Tables 4-14..4-20; PAE Table 4-8..4-11). */
#define SPTE_P (1ull << 0)
#define SPTE_RW (1ull << 1)
#define SPTE_US (1ull << 2)
#define SPTE_A (1ull << 5)
#define SPTE_D (1ull << 6)
#define SPTE_SW_GLOBAL (1ull << 9)   /* software: from a global guest translation */
#define SPTE_SW_LARGE (1ull << 10)   /* software: part of a guest large page */
#define SPTE_NX (1ull << 63)
#define SPTE_ADDR_MASK 0x000ffffffffff000ull
#define SPTE_TABLE (SPTE_P | SPTE_RW | SPTE_US | SPTE_A)   /* non-leaf entry */
#define SPTE_PAE_PDPTE SPTE_P                               /* PAE root entry: P only */
_Static_assert(SPTE_SW_GLOBAL == 0x200 && SPTE_SW_LARGE == 0x400,
               "software bits in 11:9, ignored by the CPU in every paging entry");
_Static_assert((SPTE_ADDR_MASK & (SPTE_SW_GLOBAL | SPTE_SW_LARGE | SPTE_NX)) == 0,
               "software bits outside the address");

/* GuestMemory rights of a frame (R is needed for any mapping). */
#define SHADOW_MEM_R (1u << 0)
#define SHADOW_MEM_W (1u << 1)
#define SHADOW_MEM_X (1u << 2)

#define SHADOW_ROOTS 4            /* cached roots (guest CR3s) */
#define SHADOW_POOL_MAX 512       /* pool pages tracked (2 MiB of tables) */
#define SHADOW_POOL_MIN 4         /* a root and one table per lower level */
#define SHADOW_NONE 0xffffu
_Static_assert(SHADOW_POOL_MAX < SHADOW_NONE, "page indices fit 16 bits");

struct shadow_env {
    struct gw_env guest;     /* guest-physical memory for the walker */
    /* GuestMemory: the frame at gfn and its SHADOW_MEM_* rights; false: no frame. */
    bool (*gfn_to_hpa)(void *ctx, uint64_t gfn, uint64_t *hpa, unsigned *rights);
    /* The core's view of a pool page (physmap). */
    uint64_t *(*page_ptr)(void *ctx, uint64_t hpa);
    void *ctx;
};

/* Per pool page. Invariant: used pages form each root's tree; a page is on the free
 * list exactly when !used; level-1 pages are on their root's l1 list. */
struct shadow_page {
    uint16_t parent;      /* pool index of the parent table; SHADOW_NONE for a root */
    uint16_t slot;        /* index of the entry in the parent */
    uint16_t next, prev;  /* free list (next only) or the root's level-1 list */
    uint16_t present;     /* present entries */
    uint16_t nonglobal;   /* level 1: present sptes without SPTE_SW_GLOBAL */
    uint16_t large;       /* level 1: present sptes with SPTE_SW_LARGE */
    uint8_t level;        /* 1 = PT, 2 = PD, 3 = PDPT, 4 = PML4 */
    uint8_t root;         /* owning root slot */
    bool used;
};

struct shadow_root {
    bool valid;
    bool pae;             /* format: PAE (3 levels) or 4-level */
    uint16_t page;        /* pool index of the root table */
    uint16_t l1_head;     /* first level-1 table of this root */
    uint64_t key;         /* guest CR3 address bits (SHADOW_KEY_PAGING_OFF) */
    uint64_t last_used;
};

#define SHADOW_KEY_PAGING_OFF (~0ull)

enum shadow_tlb { SHADOW_TLB_NONE = 0, SHADOW_TLB_GVA, SHADOW_TLB_ALL };

struct shadow_stats {
    uint64_t faults, installs, injected, gpa_exits, root_hits, root_misses;
    uint64_t root_evictions, self_evictions, flush_all;
};

/* Lives in place (regs.pdptes points into it); env must outlive it. */
struct shadow {
    const struct shadow_env *env;
    struct gw_regs regs;          /* guest CR0/CR3/CR4/EFER; regs.pdptes -> pdptes */
    uint64_t pdptes[4];           /* PAE: loaded at the last CR3 load */
    uint64_t pool_hpa;
    unsigned pool_pages;
    uint16_t free_head;
    unsigned free_count;
    unsigned current;             /* root slot in use (roots[current].valid) */
    uint64_t clock;
    enum shadow_tlb tlb;
    uint64_t tlb_gva;
    struct shadow_stats stats;
    struct shadow_root roots[SHADOW_ROOTS];
    struct shadow_page pages[SHADOW_POOL_MAX];
};

/* What the VCPU does next. */
enum shadow_action {
    SHADOW_RESUME = 0,    /* re-enter the guest (after the recorded TLB flush) */
    SHADOW_INJECT_PF,     /* inject #PF(error_code) with CR2 = cr2 */
    SHADOW_INJECT_GP,     /* inject #GP(0): bad PDPTEs at a CR3/CR0/CR4 load, non-canonical */
    SHADOW_GPA_EXIT,      /* VM exit to the memory handler: no frame / right at gpa */
};

struct shadow_outcome {
    enum shadow_action action;
    uint32_t error_code;  /* INJECT_PF */
    uint64_t cr2;         /* INJECT_PF */
    uint64_t gpa;         /* GPA_EXIT */
    unsigned gpa_access;  /* GPA_EXIT: the access made, SHADOW_MEM_R, _W or _X */
};

/* Decode check for the pool: page aligned, within SHADOW_POOL_MIN..MAX pages, below 4 GiB. */
bool shadow_pool_ok(uint64_t pool_hpa, unsigned pool_pages);

/*
 * Sets up an empty shadow for a guest with the given controls (as at VCPU start).
 * Needs shadow_pool_ok(pool_hpa, pool_pages). If the controls select PAE paging with
 * bad PDPTEs the outcome says so and the shadow starts as if PDPTEs were all absent.
 */
void shadow_init(struct shadow *s, const struct shadow_env *env, uint64_t pool_hpa,
                 unsigned pool_pages, uint64_t cr0, uint64_t cr3, uint64_t cr4, uint64_t efer,
                 struct shadow_outcome *out);

/* Hardware CR3 for the guest: the current root's hpa; and whether it is a PAE root. */
uint64_t shadow_root_hpa(const struct shadow *s);
bool shadow_root_pae(const struct shadow *s);

/* GW_ACC_* for a hardware #PF error code and the guest's EFLAGS.AC. */
unsigned shadow_access(uint32_t hw_error_code, bool eflags_ac);

/* A #PF the hardware took at gva (the guest's CR2) while running on the shadow. */
void shadow_page_fault(struct shadow *s, uint64_t gva, unsigned access,
                       struct shadow_outcome *out);

/* Guest MOV CR3 (also task switches). On RESUME the guest's CR3 is cr3; on
 * INJECT_GP / GPA_EXIT (PAE PDPT) nothing changed. */
void shadow_write_cr3(struct shadow *s, uint64_t cr3, struct shadow_outcome *out);

/* Guest writes of CR0, CR4 or EFER (pass all three, changed or not; EFER with LMA as
 * the CPU leaves it, e.g. set by a MOV CR0 that enables paging with LME). Any change of
 * CR0.PG/WP, CR4.PAE/PSE/PGE/SMEP/SMAP or EFER.NXE/LMA drops every spte and root; if
 * the new mode is PAE paging the PDPTEs are loaded from CR3 (INJECT_GP / GPA_EXIT as
 * for shadow_write_cr3, and then nothing changed). */
void shadow_write_ctrl(struct shadow *s, uint64_t cr0, uint64_t cr4, uint64_t efer,
                       struct shadow_outcome *out);

/* Guest INVLPG gva. */
void shadow_invlpg(struct shadow *s, uint64_t gva);

/* Drops every spte and cached root (GuestMemory changed, or to start over). */
void shadow_flush_all(struct shadow *s);

/* The hardware TLB flush owed before the next VM entry; resets it. *gva for GVA. */
enum shadow_tlb shadow_tlb_take(struct shadow *s, uint64_t *gva);

#endif

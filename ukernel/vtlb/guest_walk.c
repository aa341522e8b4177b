/* SPDX-License-Identifier: MIT */
/* guest_walk: the guest page-table walker — gva to gpa exactly as the CPU walks. */
#include "guest_walk.h"

#include <stddef.h>

#define KIB4 0x1000ull
#define MIB2 0x200000ull
#define MIB4 0x400000ull
#define GIB1 0x40000000ull

/* Bits hi..lo (inclusive) set; empty when hi < lo. */
static uint64_t bit_range(unsigned hi, unsigned lo)
{
    if (hi < lo)
        return 0;
    uint64_t top = hi >= 63 ? ~0ull : (1ull << (hi + 1)) - 1;
    return top & ~((1ull << lo) - 1);
}

static unsigned phys_bits(const struct gw_env *env)
{
    unsigned m = env->maxphyaddr;
    return m < 32 ? 32 : m > 52 ? 52 : m;
}

enum gw_paging_mode gw_paging_mode(const struct gw_regs *regs)
{
    if (!(regs->cr0 & GW_CR0_PG))
        return GW_PAGING_OFF;
    if (!(regs->cr4 & GW_CR4_PAE))
        return GW_PAGING_32;
    return (regs->efer & GW_EFER_LMA) ? GW_PAGING_4LEVEL : GW_PAGING_PAE;
}

/* XD is an attribute (not a reserved bit) only with PAE/4-level paging and EFER.NXE. */
static bool xd_enabled(enum gw_paging_mode mode, const struct gw_regs *regs)
{
    return (mode == GW_PAGING_PAE || mode == GW_PAGING_4LEVEL) && (regs->efer & GW_EFER_NXE);
}

/* Reserved bits of the present entry `e` at `level` (SDM Tables 4-4..4-20). */
static uint64_t reserved_bits(const struct gw_env *env, const struct gw_regs *regs,
                              enum gw_paging_mode mode, unsigned level, uint64_t e)
{
    unsigned m = phys_bits(env);
    uint64_t xd = xd_enabled(mode, regs) ? 0 : GPTE_XD;
    bool ps = (e & GPTE_PS) != 0;

    switch (mode) {
    case GW_PAGING_32:
        /* Only a 4 MiB PDE has reserved bits: 21:(M-19), M = min(MAXPHYADDR, 40). */
        if (level == 2 && ps && (regs->cr4 & GW_CR4_PSE))
            return bit_range(21, (m > 40 ? 40 : m) - 19);
        return 0;
    case GW_PAGING_PAE:
        if (level == 3)
            return GPTE_PAE_PDPTE_RSVD | bit_range(63, m);
        return bit_range(62, m) | xd | (level == 2 && ps ? bit_range(20, 13) : 0);
    case GW_PAGING_4LEVEL: {
        uint64_t r = bit_range(51, m) | xd;
        if (level == 4)
            r |= GPTE_PS | (env->amd ? GPTE_G : 0);
        else if (level == 3 && ps)
            r |= env->gbpages ? bit_range(29, 13) : GPTE_PS;
        else if (level == 2 && ps)
            r |= bit_range(20, 13);
        return r;
    }
    case GW_PAGING_OFF:
        break;
    }
    return 0;
}

static bool is_canonical48(uint64_t gva)
{
    uint64_t top = gva >> 47;
    return top == 0 || top == 0x1ffff;
}

/* Error code for `access` on top of `base` (P, RSVD). */
static uint32_t error_code(const struct gw_regs *regs, unsigned access, uint32_t base)
{
    uint32_t ec = base;
    if (access & GW_ACC_WRITE)
        ec |= GW_PFEC_W;
    if ((access & GW_ACC_USER) && !(access & GW_ACC_IMPLICIT))
        ec |= GW_PFEC_U;
    if ((access & GW_ACC_FETCH) &&
        ((regs->cr4 & GW_CR4_SMEP) || ((regs->cr4 & GW_CR4_PAE) && (regs->efer & GW_EFER_NXE))))
        ec |= GW_PFEC_ID;
    return ec;
}

/*
 * Access rights (SDM 4.6.1): is `access` to a page with the combined attributes
 * allowed? user_page = U/S set at every level; writable = R/W set at every level;
 * xd = XD set at some level (only when XD is enabled).
 */
static bool access_allowed(const struct gw_regs *regs, unsigned access, bool user_page,
                           bool writable, bool xd)
{
    bool write = (access & GW_ACC_WRITE) != 0;
    bool fetch = (access & GW_ACC_FETCH) != 0;
    bool implicit = (access & GW_ACC_IMPLICIT) != 0;
    bool user_mode = (access & GW_ACC_USER) && !implicit;

    if (user_mode) {
        if (!user_page)
            return false;
        if (write && !writable)
            return false;
        return !(fetch && xd);
    }
    /* Supervisor-mode access. */
    if (fetch)
        return !xd && !(user_page && (regs->cr4 & GW_CR4_SMEP));
    if (user_page && (regs->cr4 & GW_CR4_SMAP) && (implicit || !(access & GW_ACC_AC)))
        return false;
    return !(write && (regs->cr0 & GW_CR0_WP) && !writable);
}

enum walk_step { WALK_DONE, WALK_RESTART };

struct walked {
    uint64_t gpa;
    uint64_t val;
    int slot;           /* index in out->entry[], -1 for a PDPTE from regs->pdptes */
    bool has_a;         /* the entry has an accessed flag */
};

static void set_fault(struct gw_result *out, const struct gw_regs *regs, unsigned access,
                      uint64_t gva, uint32_t base)
{
    out->status = GW_FAULT;
    out->error_code = error_code(regs, access, base);
    out->cr2 = gva;
}

static uint64_t table_index(enum gw_paging_mode mode, unsigned level, uint64_t gva)
{
    if (mode == GW_PAGING_32)
        return (gva >> (level == 2 ? 22 : 12)) & 0x3ff;
    if (mode == GW_PAGING_PAE && level == 3)
        return (gva >> 30) & 3;
    return (gva >> (12 + 9 * (level - 1))) & 0x1ff;
}

static enum walk_step walk_once(const struct gw_env *env, const struct gw_regs *regs,
                                enum gw_paging_mode mode, uint64_t gva, unsigned access,
                                struct gw_result *out)
{
    unsigned esize = mode == GW_PAGING_32 ? 4 : 8;
    unsigned level = mode == GW_PAGING_4LEVEL ? 4 : mode == GW_PAGING_PAE ? 3 : 2;
    uint64_t table = mode == GW_PAGING_32    ? regs->cr3 & GPTE32_ADDR_MASK
                     : mode == GW_PAGING_PAE ? regs->cr3 & GW_CR3_PAE_MASK
                                             : regs->cr3 & GPTE_ADDR_MASK;
    bool xd_on = xd_enabled(mode, regs);
    bool writable = true, user_page = true, xd = false;
    struct walked w[GW_MAX_LEVELS];
    unsigned n = 0;
    uint64_t e;

    out->nr_entries = 0;
    out->entry_size = esize;
    for (;; level--) {
        uint64_t egpa = table + table_index(mode, level, gva) * esize;
        w[n].gpa = egpa;
        w[n].has_a = !(mode == GW_PAGING_PAE && level == 3);
        if (mode == GW_PAGING_PAE && level == 3 && regs->pdptes != NULL) {
            e = regs->pdptes[table_index(mode, level, gva)];
            w[n].slot = -1;
        } else {
            if (env->read(env->ctx, egpa, esize, &e) != GW_MEM_OK) {
                out->status = GW_GPA_MISSING;
                out->missing_gpa = egpa;
                out->missing_write = false;
                return WALK_DONE;
            }
            w[n].slot = (int)out->nr_entries;
            out->entry_gpa[out->nr_entries] = egpa;
            out->entry[out->nr_entries++] = e;
        }
        w[n++].val = e;

        if (!(e & GPTE_P)) {
            set_fault(out, regs, access, gva, 0);
            return WALK_DONE;
        }
        if (e & reserved_bits(env, regs, mode, level, e)) {
            set_fault(out, regs, access, gva, GW_PFEC_P | GW_PFEC_RSVD);
            return WALK_DONE;
        }
        if (w[n - 1].has_a) {           /* PAE PDPTEs carry no R/W, U/S, XD */
            writable = writable && (e & GPTE_RW);
            user_page = user_page && (e & GPTE_US);
            xd = xd || (xd_on && (e & GPTE_XD));
        }
        bool large = (e & GPTE_PS) &&
                     ((level == 2 && (mode != GW_PAGING_32 || (regs->cr4 & GW_CR4_PSE))) ||
                      (level == 3 && mode == GW_PAGING_4LEVEL));
        if (level == 1 || large)
            break;
        table = mode == GW_PAGING_32 ? e & GPTE32_ADDR_MASK : e & GPTE_ADDR_MASK;
    }

    out->leaf_level = level;
    if (!access_allowed(regs, access, user_page, writable, xd)) {
        set_fault(out, regs, access, gva, GW_PFEC_P);
        return WALK_DONE;
    }

    /* The access is allowed: set A on each level walked, D on the leaf for a write. */
    for (unsigned i = 0; i < n; i++) {
        if (!w[i].has_a)
            continue;
        uint64_t want = w[i].val | GPTE_A;
        if (i == n - 1 && (access & GW_ACC_WRITE))
            want |= GPTE_D;
        if (want == w[i].val)
            continue;
        enum gw_mem r = env->cmpxchg(env->ctx, w[i].gpa, esize, w[i].val, want);
        if (r == GW_MEM_CHANGED)
            return WALK_RESTART;
        if (r != GW_MEM_OK) {
            out->status = GW_GPA_MISSING;
            out->missing_gpa = w[i].gpa;
            out->missing_write = true;
            return WALK_DONE;
        }
        w[i].val = want;
        if (w[i].slot >= 0)
            out->entry[w[i].slot] = want;
    }
    e = w[n - 1].val;

    switch (level) {
    case 1:
        out->page_size = KIB4;
        out->gpa = (e & (mode == GW_PAGING_32 ? GPTE32_ADDR_MASK : GPTE_ADDR_MASK)) |
                   (gva & (KIB4 - 1));
        break;
    case 2:
        if (mode == GW_PAGING_32) {
            out->page_size = MIB4;
            out->gpa = (e & GPTE32_4M_ADDR_LO) |
                       (((e >> GPTE32_4M_HI_SHIFT) & GPTE32_4M_HI_MASK) << 32) |
                       (gva & (MIB4 - 1));
        } else {
            out->page_size = MIB2;
            out->gpa = (e & GPTE_ADDR_MASK & ~(MIB2 - 1)) | (gva & (MIB2 - 1));
        }
        break;
    default:
        out->page_size = GIB1;
        out->gpa = (e & GPTE_ADDR_MASK & ~(GIB1 - 1)) | (gva & (GIB1 - 1));
        break;
    }
    out->status = GW_OK;
    out->writable = writable;
    out->user = user_page;
    out->executable = !xd;
    out->global = (regs->cr4 & GW_CR4_PGE) && (e & GPTE_G);
    out->dirty = (e & GPTE_D) != 0;
    return WALK_DONE;
}

void gw_walk(const struct gw_env *env, const struct gw_regs *regs, uint64_t gva,
             unsigned access, struct gw_result *out)
{
    *out = (struct gw_result){0};
    enum gw_paging_mode mode = gw_paging_mode(regs);

    if (mode == GW_PAGING_OFF) {
        out->status = GW_OK;
        out->gpa = gva & 0xffffffffull;
        out->page_size = KIB4;
        out->writable = out->user = out->executable = out->dirty = true;
        return;
    }
    if (mode == GW_PAGING_4LEVEL && !is_canonical48(gva)) {
        out->status = GW_NONCANONICAL;
        return;
    }
    if (mode != GW_PAGING_4LEVEL)
        gva &= 0xffffffffull;   /* linear addresses are 32 bits outside long mode */
    for (unsigned tries = 0; tries <= GW_MAX_RESTARTS; tries++) {
        if (walk_once(env, regs, mode, gva, access, out) == WALK_DONE)
            return;
    }
    *out = (struct gw_result){0};
    out->status = GW_RETRY;
}

enum gw_status gw_load_pdptes(const struct gw_env *env, uint64_t cr3, uint64_t pdptes[4],
                              uint64_t *missing_gpa)
{
    uint64_t base = cr3 & GW_CR3_PAE_MASK;
    uint64_t loaded[4];
    uint64_t rsvd = GPTE_PAE_PDPTE_RSVD | bit_range(63, phys_bits(env));

    for (unsigned i = 0; i < 4; i++) {
        if (env->read(env->ctx, base + 8ull * i, 8, &loaded[i]) != GW_MEM_OK) {
            *missing_gpa = base + 8ull * i;
            return GW_GPA_MISSING;
        }
        if ((loaded[i] & GPTE_P) && (loaded[i] & rsvd))
            return GW_FAULT;
    }
    for (unsigned i = 0; i < 4; i++)
        pdptes[i] = loaded[i];
    return GW_OK;
}

/* SPDX-License-Identifier: MIT */
/* gpt: the guest's own page tables walked through the RAM window — gva to gpa with the guest's permissions, #PF as the CPU would raise it. */
#include "gpt.h"

#include "vmm/emulate.h"

/* Page-table entry bits (Intel SDM Vol. 3A, 4.3-4.5; the same in AMD's APM). */
#define PTE_P (1ull << 0)
#define PTE_RW (1ull << 1)
#define PTE_US (1ull << 2)
#define PTE_A (1ull << 5)
#define PTE_D (1ull << 6)
#define PTE_PS (1ull << 7)
#define PTE_NX (1ull << 63)
#define PTE_ADDR_MASK 0x000ffffffffff000ull
#define CR0_WP (1ull << 16)
#define CR4_PSE (1ull << 4)
#define EFER_NXE (1ull << 11)
#define PAE_PDPTE_SHIFT 30
#define CR3_PAE_MASK 0xffffffe0ull

/* #PF error code bits. */
#define PFEC_P (1u << 0)
#define PFEC_W (1u << 1)
#define PFEC_U (1u << 2)
#define PFEC_I (1u << 4)

static uint8_t *ram_ptr(const struct gmem *gm, uint64_t gpa, uint64_t len)
{
    return gmem_ptr(gm, gpa, len);
}

static int page_fault(struct emu_exception *exc, uint64_t la, uint32_t code)
{
    exc->vector = EMU_VEC_PF;
    exc->has_error_code = true;
    exc->error_code = code;
    exc->cr2 = la;
    return EMU_EXCEPTION;
}

int gpt_translate(const struct gmem *gm, const struct emu_regs *r, uint64_t la, enum emu_access acc, bool user,
                  uint64_t *gpa, struct emu_exception *exc)
{
    if ((r->cr0 & EMU_CR0_PG) == 0) {
        *gpa = la & 0xffffffffull;
        return EMU_OK;
    }
    bool nxe = (r->efer & EFER_NXE) != 0;
    uint32_t code = (acc == EMU_ACC_WRITE ? PFEC_W : 0u) | (user ? PFEC_U : 0u) |
                    (acc == EMU_ACC_FETCH && nxe ? PFEC_I : 0u);
    unsigned levels, width;                 /* entries per walk, entry size */
    uint64_t table;
    if ((r->efer & EMU_EFER_LMA) != 0) {
        levels = 4;
        width = 8;
        table = r->cr3 & PTE_ADDR_MASK;
    } else if ((r->cr4 & EMU_CR4_PAE) != 0) {
        /* The PDPTE: 4 entries at CR3[31:5]. */
        const uint8_t *p = ram_ptr(gm, (r->cr3 & CR3_PAE_MASK) + ((la >> PAE_PDPTE_SHIFT) & 3u) * 8u, 8);
        if (p == 0)
            return page_fault(exc, la, code);
        uint64_t pdpte = *(const uint64_t *)(const void *)p;
        if ((pdpte & PTE_P) == 0)
            return page_fault(exc, la, code);
        levels = 2;
        width = 8;
        table = pdpte & PTE_ADDR_MASK;
    } else {
        levels = 2;
        width = 4;
        table = r->cr3 & 0xfffff000ull;
        la &= 0xffffffffull;
    }

    bool writable = true, user_ok = true, exec_ok = true;
    for (unsigned level = levels; level >= 1; level--) {
        unsigned shift = width == 8 ? 12u + 9u * (level - 1u) : 12u + 10u * (level - 1u);
        uint64_t index = (la >> shift) & (width == 8 ? 0x1ffu : 0x3ffu);
        uint8_t *p = ram_ptr(gm, table + index * width, width);
        if (p == 0)
            return page_fault(exc, la, code);   /* a table outside RAM: nothing to walk */
        uint64_t e = width == 8 ? *(volatile uint64_t *)(void *)p : *(volatile uint32_t *)(void *)p;
        if ((e & PTE_P) == 0)
            return page_fault(exc, la, code);
        writable = writable && (e & PTE_RW) != 0;
        user_ok = user_ok && (e & PTE_US) != 0;
        if (width == 8 && nxe && (e & PTE_NX) != 0)
            exec_ok = false;
        bool leaf = level == 1 ||
                    ((e & PTE_PS) != 0 && (width == 8 ? level <= 3u : (r->cr4 & CR4_PSE) != 0));
        /* Accessed on every level, dirty on the leaf of a write (the CPU does both). */
        uint64_t set = PTE_A | (leaf && acc == EMU_ACC_WRITE ? PTE_D : 0u);
        if ((e & set) != set) {
            if (width == 8)
                __atomic_fetch_or((uint64_t *)(void *)p, set, __ATOMIC_SEQ_CST);
            else
                __atomic_fetch_or((uint32_t *)(void *)p, (uint32_t)set, __ATOMIC_SEQ_CST);
        }
        if (leaf) {
            if (user && !user_ok)
                return page_fault(exc, la, code | PFEC_P);
            if (acc == EMU_ACC_WRITE && !writable && (user || (r->cr0 & CR0_WP) != 0))
                return page_fault(exc, la, code | PFEC_P);
            if (acc == EMU_ACC_FETCH && !exec_ok)
                return page_fault(exc, la, code | PFEC_P);
            uint64_t page_mask = (1ull << shift) - 1u;
            uint64_t frame;
            if (width == 4 && level == 2)   /* 4 MiB page: bits 20:13 are address bits 39:32 */
                frame = (e & 0xffc00000ull) | ((e & 0x1fe000ull) << 19);
            else
                frame = e & PTE_ADDR_MASK & ~page_mask;
            *gpa = frame | (la & page_mask);
            return EMU_OK;
        }
        table = e & PTE_ADDR_MASK;
    }
    return page_fault(exc, la, code);   /* not reached: level 1 is always a leaf */
}

/* SPDX-License-Identifier: MIT */
/* vcpu_shadow: shadow paging on a VCPU — the vTLB (vtlb/) wired to the exit path, backend-neutral. */
#include "vcpu_shadow.h"

#include <stddef.h>

#include "../arch/x86_64/cpu.h"
#include "../arch/x86_64/cpu_features.h"
#include "../arch/x86_64/nested_pte.h"
#include "../lib/kstring.h"
#include "../object/guest_memory.h"
#include "../object/vcpu.h"
#include "../vtlb/shadow.h"
#include "assert.h"
#include "kmem.h"

/*
 * Where the state lives: the VCPU object's pages after the backend's (vcpu.c reserves
 * them by the retype size) start with struct vcpu_shadow, the shadow table pool follows.
 * Both the walker's environment and struct shadow stay in place for the vCPU's life
 * in shadow mode (struct shadow points into itself).
 *
 * Exits handled here never reach the handler: #PF (spte installed, or the guest's own
 * fault injected), MOV to/from CR0/CR3/CR4, CLTS, INVLPG, RDMSR/WRMSR of EFER. The
 * backend gives no operands (SVM without decode assists, as QEMU): the instruction is
 * fetched through the guest's paging and decoded here — only the forms listed; any
 * other (LMSW, 16-bit addressing, prefixes beyond operand/address size, segment and REX)
 * goes to the handler as HV_EXIT_CR_ACCESS / HV_EXIT_INVLPG.
 */
struct vcpu_shadow {
    struct shadow_env env;
    struct guest_memory *gm;
    bool flush_pending;             /* GuestMemory changed: shadow_flush_all before entry */
    uint64_t counts[VSH_COUNT];
    struct shadow s;
};

#define PAGE 4096ull
#define HDR_PAGES ((sizeof(struct vcpu_shadow) + PAGE - 1) / PAGE)
#define PF_VECTOR 14u
#define GP_VECTOR 13u
#define CR0_ET (1ull << 4)
#define CR0_NW (1ull << 29)
#define CR0_CD (1ull << 30)
#define CR4_PSE (1ull << 4)
/* CR4 bits a shadow-paged guest may set: 11:0, FSGSBASE, OSXSAVE, SMEP, SMAP (the walker
 * models no PCIDs, LA57, protection keys or CET; no nested VMX/SMX). */
#define CR4_ALLOWED (0xfffull | (1ull << 16) | (1ull << 18) | (1ull << 20) | (1ull << 21))
#define EFER_ALLOWED (EFER_SCE | EFER_LME | EFER_NXE)
#define SEG_ATTR_L (1u << 9)
#define SEG_ATTR_DB (1u << 10)
#define RFLAGS_AC (1ull << 18)

_Static_assert(SHADOW_MEM_R == NESTED_READ && SHADOW_MEM_W == NESTED_WRITE &&
               SHADOW_MEM_X == NESTED_EXECUTE, "GuestMemory rights are the shadow's");
_Static_assert(HV_GPA_READ == 1u && HV_GPA_WRITE == 2u && HV_GPA_EXECUTE == 4u,
               "a GPA exit's access bits are the shadow's (NESTED_* = 1, 2, 4)");

static struct vcpu_shadow *vsh(const struct vcpu *v)
{
    return kmem_ptr(v->shadow_pool_pa);
}

static unsigned pool_pages(const struct vcpu *v)
{
    uint64_t n = v->shadow_pool_pages - HDR_PAGES;
    return n > SHADOW_POOL_MAX ? SHADOW_POOL_MAX : (unsigned)n;
}

enum hv_error vcpu_shadow_check(const struct vcpu *v)
{
    if (!vcpu_arch_shadow_supported())
        return HV_ERR_NOT_SUPPORTED;
    if (v->shadow_pool_pages < HDR_PAGES + SHADOW_POOL_MIN)
        return HV_ERR_NOT_ENOUGH_MEMORY;
    if (!shadow_pool_ok(v->shadow_pool_pa + HDR_PAGES * PAGE, pool_pages(v)))
        return HV_ERR_RANGE;
    return HV_OK;
}

/* --- guest-physical memory through GuestMemory --- */

static bool gfn_to_hpa(void *ctx, uint64_t gfn, uint64_t *hpa, unsigned *rights)
{
    const struct vcpu_shadow *sh = ctx;
    return guest_memory_lookup(sh->gm, gfn, hpa, rights);
}

static enum gw_mem gpa_read(void *ctx, uint64_t gpa, unsigned size, uint64_t *val)
{
    uint64_t hpa;
    unsigned rights;
    if (!gfn_to_hpa(ctx, gpa >> 12, &hpa, &rights) || !(rights & SHADOW_MEM_R))
        return GW_MEM_MISSING;
    const void *p = kmem_ptr(hpa + (gpa & (PAGE - 1)));
    if (size == 8) {
        *val = __atomic_load_n((const uint64_t *)p, __ATOMIC_RELAXED);
    } else if (size == 4) {
        *val = __atomic_load_n((const uint32_t *)p, __ATOMIC_RELAXED);
    } else {
        *val = *(const uint8_t *)p;
    }
    return GW_MEM_OK;
}

static enum gw_mem gpa_cmpxchg(void *ctx, uint64_t gpa, unsigned size, uint64_t old,
                               uint64_t new_val)
{
    uint64_t hpa;
    unsigned rights;
    if (!gfn_to_hpa(ctx, gpa >> 12, &hpa, &rights) || !(rights & SHADOW_MEM_W))
        return GW_MEM_MISSING;
    void *p = kmem_ptr(hpa + (gpa & (PAGE - 1)));
    bool ok;
    if (size == 8) {
        uint64_t expect = old;
        ok = __atomic_compare_exchange_n((uint64_t *)p, &expect, new_val, false,
                                         __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    } else {
        uint32_t expect = (uint32_t)old;
        ok = __atomic_compare_exchange_n((uint32_t *)p, &expect, (uint32_t)new_val, false,
                                         __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    }
    return ok ? GW_MEM_OK : GW_MEM_CHANGED;
}

static uint64_t *page_ptr(void *ctx, uint64_t hpa)
{
    (void)ctx;
    return kmem_ptr(hpa);
}

static unsigned host_maxphyaddr(void)
{
    if (cpu_features()->max_ext_leaf < 0x80000008u)
        return 36;
    unsigned m = cpuid(0x80000008u, 0).eax & 0xffu;
    return m < 32 ? 32 : (m > 52 ? 52 : m);
}

/* --- hardware state --- */

/* What the CPU runs the guest with (shadow.h: PG, WP, PAE, NXE forced, PGE clear). */
static void load_hw(struct vcpu *v, struct vcpu_shadow *sh)
{
    const struct gw_regs *r = &sh->s.regs;
    bool lma = (r->efer & EFER_LMA) != 0;
    uint64_t cr0 = r->cr0 | CR0_PG | CR0_WP;
    uint64_t cr4 = (r->cr4 | CR4_PAE) & ~CR4_PGE;
    uint64_t efer = (r->efer & ~(EFER_LME | EFER_LMA)) | EFER_NXE | (lma ? EFER_LME | EFER_LMA : 0);
    kassert(shadow_root_pae(&sh->s) == !lma);
    vcpu_arch_shadow_load(&v->arch, cr0, cr4, efer, r->cr0, r->cr4);
    vcpu_arch_set_shadow_root(&v->arch, shadow_root_hpa(&sh->s));
}

static void init_shadow(struct vcpu *v, struct vcpu_shadow *sh, uint64_t cr0, uint64_t cr3,
                        uint64_t cr4, uint64_t efer)
{
    struct shadow_outcome o;
    /* Bad PAE PDPTEs here start the shadow as if they were absent (shadow_init). */
    shadow_init(&sh->s, &sh->env, v->shadow_pool_pa + HDR_PAGES * PAGE, pool_pages(v), cr0, cr3,
                cr4 & CR4_ALLOWED, efer & (EFER_ALLOWED | EFER_LMA), &o);
    load_hw(v, sh);
}

void vcpu_shadow_start(struct vcpu *v, struct guest_memory *gm)
{
    kassert(vcpu_shadow_check(v) == HV_OK);
    struct vcpu_shadow *sh = vsh(v);
    memset(sh, 0, sizeof(*sh));
    sh->gm = gm;
    sh->env.guest.read = gpa_read;
    sh->env.guest.cmpxchg = gpa_cmpxchg;
    sh->env.guest.ctx = sh;
    sh->env.guest.maxphyaddr = host_maxphyaddr();
    sh->env.guest.gbpages = cpu_features()->pdpe1gb;
    sh->env.guest.amd = vcpu_arch_backend() == VCPU_BACKEND_SVM;
    sh->env.gfn_to_hpa = gfn_to_hpa;
    sh->env.page_ptr = page_ptr;
    sh->env.ctx = sh;
    struct hv_vcpu_state st;
    vcpu_arch_state_read(&v->arch, HV_MTD_CR, &st);
    vcpu_arch_shadow_mode(&v->arch, true);
    init_shadow(v, sh, st.cr0, st.cr3, st.cr4, st.efer);
    vcpu_arch_set_exception_intercepts(&v->arch, v->exception_intercepts | (1u << PF_VECTOR));
}

void vcpu_shadow_stop(struct vcpu *v)
{
    const struct gw_regs *r = &vsh(v)->s.regs;
    struct hv_vcpu_state st;
    vcpu_arch_state_read(&v->arch, HV_MTD_CR, &st);
    st.cr0 = r->cr0;
    st.cr3 = r->cr3;
    st.cr4 = r->cr4;
    st.efer = r->efer;
    vcpu_arch_shadow_mode(&v->arch, false);
    vcpu_arch_state_write(&v->arch, &st);
    vcpu_arch_set_exception_intercepts(&v->arch, v->exception_intercepts);
}

void vcpu_shadow_state_read(const struct vcpu *v, struct hv_vcpu_state *s)
{
    if (!(s->mtd & HV_MTD_CR))
        return;
    const struct gw_regs *r = &vsh(v)->s.regs;
    s->cr0 = r->cr0;
    s->cr3 = r->cr3;
    s->cr4 = r->cr4;
    s->efer = r->efer;
}

void vcpu_shadow_state_written(struct vcpu *v, const struct hv_vcpu_state *s)
{
    if (!(s->mtd & HV_MTD_CR))
        return;
    struct vcpu_shadow *sh = vsh(v);
    const struct gw_regs *r = &sh->s.regs;
    if (s->cr0 == r->cr0 && s->cr3 == r->cr3 && s->cr4 == r->cr4 && s->efer == r->efer)
        load_hw(v, sh);     /* the same guest view: keep the shadow */
    else
        init_shadow(v, sh, s->cr0, s->cr3, s->cr4, s->efer);
}

uint32_t vcpu_shadow_exception_intercepts(const struct vcpu *v, uint32_t asked)
{
    (void)v;
    return asked | (1u << PF_VECTOR);
}

void vcpu_shadow_mapping_changed(struct vcpu *v)
{
    vsh(v)->flush_pending = true;
}

void vcpu_shadow_before_entry(struct vcpu *v, uint32_t me_bit)
{
    struct vcpu_shadow *sh = vsh(v);
    if (sh->flush_pending) {
        sh->flush_pending = false;
        shadow_flush_all(&sh->s);
    }
    vcpu_arch_set_shadow_root(&v->arch, shadow_root_hpa(&sh->s));
    uint64_t gva;
    switch (shadow_tlb_take(&sh->s, &gva)) {
    case SHADOW_TLB_ALL:
        vcpu_arch_flush_tlb(&v->arch);
        v->tlb_clean_cpus = me_bit;         /* other CPUs flush when it runs there */
        break;
    case SHADOW_TLB_GVA:
        vcpu_arch_flush_tlb_gva(&v->arch, gva);     /* this CPU, now */
        v->tlb_clean_cpus &= me_bit;
        break;
    case SHADOW_TLB_NONE:
        break;
    }
}

/* --- exits --- */

static void inject(struct vcpu *v, struct vcpu_shadow *sh, unsigned vector, uint32_t ec,
                   uint64_t cr2)
{
    vcpu_arch_inject_exception(&v->arch, vector, true, ec, cr2);
    sh->counts[vector == PF_VECTOR ? VSH_PF_INJECTED : VSH_GP_INJECTED]++;
}

/* Acts on an outcome; `done` counts a resolved one. true: resolved in the core. */
static bool outcome(struct vcpu *v, struct vcpu_shadow *sh, const struct shadow_outcome *o,
                    struct vcpu_exit *e, enum vcpu_shadow_count done)
{
    switch (o->action) {
    case SHADOW_RESUME:
        sh->counts[done]++;
        return true;
    case SHADOW_INJECT_PF:
        if (v->exception_intercepts & (1u << PF_VECTOR)) {
            /* The handler asked for the guest's page faults: it gets this one. */
            e->reason = HV_EXIT_EXCEPTION;
            e->qualification = PF_VECTOR | ((uint64_t)o->error_code << 32);
            e->address = o->cr2;
            e->instruction_length = 0;
            return false;
        }
        inject(v, sh, PF_VECTOR, o->error_code, o->cr2);
        return true;
    case SHADOW_INJECT_GP:
        inject(v, sh, GP_VECTOR, 0, 0);
        return true;
    case SHADOW_GPA_EXIT:
        /* The handler maps a frame (or stops the VM); the instruction is retried. */
        e->reason = HV_EXIT_GPA;
        e->address = o->gpa;
        e->qualification = o->gpa_access;
        e->instruction_length = 0;
        return false;
    }
    return false;
}

/* The guest's registers around an instruction the core emulates. */
struct insn_ctx {
    struct hv_vcpu_state st;
    bool mode64;        /* 64-bit code segment */
    bool def32;         /* default operand/address size 32 (not 64-bit mode) */
    unsigned cpl;
    uint8_t bytes[15];
    unsigned len;       /* bytes fetched and consumed */
};

#define INSN_STATE (HV_MTD_GPR | HV_MTD_RSP_RIP_RFLAGS | HV_MTD_SEG)

/* The register a ModRM/REX number names (0 rax, 1 rcx, ... 4 rsp, ... 15 r15). */
#define GPR(r) offsetof(struct hv_vcpu_state, r)
static const size_t gpr_offset[16] = { GPR(rax), GPR(rcx), GPR(rdx), GPR(rbx), GPR(rsp), GPR(rbp),
                                       GPR(rsi), GPR(rdi), GPR(r8),  GPR(r9),  GPR(r10), GPR(r11),
                                       GPR(r12), GPR(r13), GPR(r14), GPR(r15) };

static uint64_t *gpr_slot(struct hv_vcpu_state *s, unsigned n)
{
    return (uint64_t *)(void *)((uint8_t *)s + gpr_offset[n & 15u]);
}

static void load_ctx(struct vcpu *v, const struct vcpu_shadow *sh, struct insn_ctx *c)
{
    vcpu_arch_state_read(&v->arch, INSN_STATE, &c->st);
    bool lma = (sh->s.regs.efer & EFER_LMA) != 0;
    c->mode64 = lma && (c->st.cs.attr & SEG_ATTR_L);
    c->def32 = !c->mode64 && (sh->s.regs.cr0 & CR0_PE) && (c->st.cs.attr & SEG_ATTR_DB);
    c->cpl = (c->st.ss.attr >> 5) & 3u;
    c->len = 0;
}

/* The next instruction byte, fetched through the guest's paging; false if unreadable. */
static bool next_byte(const struct vcpu_shadow *sh, struct insn_ctx *c, uint8_t *b)
{
    if (c->len >= sizeof(c->bytes))
        return false;
    uint64_t lin = (c->mode64 ? 0 : c->st.cs.base) + c->st.rip + c->len;
    if (!c->mode64)
        lin &= 0xffffffffull;
    struct gw_result r;
    gw_walk(&sh->env.guest, &sh->s.regs, lin, GW_ACC_FETCH | (c->cpl == 3 ? GW_ACC_USER : 0), &r);
    if (r.status != GW_OK)
        return false;   /* the handler sees the exit (a fetch fault would refault anyway) */
    uint64_t v;
    if (gpa_read((void *)(uintptr_t)sh, r.gpa, 1, &v) != GW_MEM_OK)
        return false;
    *b = (uint8_t)v;
    c->bytes[c->len++] = *b;
    return true;
}

/* Skips the emulated instruction and writes the registers back. */
static void retire(struct vcpu *v, struct insn_ctx *c)
{
    c->st.rip += c->len;
    if (!c->mode64)
        c->st.rip &= 0xffffffffull;
    c->st.mtd = INSN_STATE & ~(uint64_t)HV_MTD_SEG;
    vcpu_arch_state_write(&v->arch, &c->st);
}

/* A decoded instruction. */
struct decoded {
    enum { D_MOV_FROM_CR, D_MOV_TO_CR, D_CLTS, D_INVLPG } op;
    unsigned cr, gpr;
    uint64_t gva;
};

/* The linear address of a ModRM memory operand (32/64-bit addressing only). */
static bool mem_operand(const struct vcpu_shadow *sh, struct insn_ctx *c, uint8_t modrm,
                        unsigned rex, bool addr32, int seg, uint64_t *lin)
{
    unsigned mod = modrm >> 6, rm = modrm & 7u;
    uint64_t ea = 0;
    bool rip_rel = false, stack = false;
    if (rm == 4) {
        uint8_t sib;
        if (!next_byte(sh, c, &sib))
            return false;
        unsigned base = sib & 7u, index = ((sib >> 3) & 7u) | ((rex & 2u) << 2);
        if (index != 4)
            ea += *gpr_slot(&c->st, index) << (sib >> 6);
        if (base == 5 && mod == 0) {
            mod = 2;    /* disp32, no base */
        } else {
            base |= (rex & 1u) << 3;
            ea += *gpr_slot(&c->st, base);
            stack = base == 4 || base == 5;
        }
    } else if (rm == 5 && mod == 0) {
        rip_rel = c->mode64;
        mod = 2;
    } else {
        unsigned base = rm | ((rex & 1u) << 3);
        ea += *gpr_slot(&c->st, base);
        stack = base == 5;
    }
    if (mod == 1) {
        uint8_t d;
        if (!next_byte(sh, c, &d))
            return false;
        ea += (uint64_t)(int64_t)(int8_t)d;
    } else if (mod == 2) {
        uint32_t d = 0;
        for (unsigned i = 0; i < 4; i++) {
            uint8_t b;
            if (!next_byte(sh, c, &b))
                return false;
            d |= (uint32_t)b << (8 * i);
        }
        ea += (uint64_t)(int64_t)(int32_t)d;
    }
    if (rip_rel)
        ea += c->st.rip + c->len;
    if (addr32)
        ea &= 0xffffffffull;
    const struct hv_segment *segs[6] = { &c->st.es, &c->st.cs, &c->st.ss,
                                         &c->st.ds, &c->st.fs, &c->st.gs };
    if (seg < 0)
        seg = stack ? 2 : 3;
    uint64_t base = segs[seg]->base;
    if (c->mode64 && seg < 4)
        base = 0;
    *lin = base + ea;
    if (!c->mode64)
        *lin &= 0xffffffffull;
    return true;
}

/* Decodes MOV CRn, r / MOV r, CRn / CLTS / INVLPG m at the guest's RIP. */
static bool decode(const struct vcpu_shadow *sh, struct insn_ctx *c, struct decoded *d)
{
    bool addr32 = !c->mode64 ? c->def32 : false;
    bool addr_override = false;
    int seg = -1;
    unsigned rex = 0;
    uint8_t b;
    for (;;) {
        if (!next_byte(sh, c, &b))
            return false;
        if (b == 0x66) {
            continue;   /* operand size: MOV CR and INVLPG ignore it */
        } else if (b == 0x67) {
            addr_override = true;
        } else if (b == 0x26 || b == 0x2e || b == 0x36 || b == 0x3e) {
            seg = (b >> 3) & 3;     /* es cs ss ds */
        } else if (b == 0x64 || b == 0x65) {
            seg = 4 + (b & 1);      /* fs gs */
        } else {
            break;
        }
    }
    if (c->mode64 && (b & 0xf0u) == 0x40) {
        rex = b & 0xfu;
        if (!next_byte(sh, c, &b))
            return false;
    }
    if (b != 0x0f || !next_byte(sh, c, &b))
        return false;
    bool a32 = c->mode64 ? addr_override : (addr32 != addr_override);
    if (b == 0x06) {
        d->op = D_CLTS;
        return true;
    }
    uint8_t modrm;
    if ((b != 0x20 && b != 0x22 && b != 0x01) || !next_byte(sh, c, &modrm))
        return false;
    if (b == 0x01) {
        if (((modrm >> 3) & 7u) != 7 || (modrm >> 6) == 3)
            return false;   /* not INVLPG (LMSW, SMSW...): the handler's */
        if (!c->mode64 && !a32)
            return false;   /* 16-bit addressing: not decoded here */
        d->op = D_INVLPG;
        return mem_operand(sh, c, modrm, rex, a32, seg, &d->gva);
    }
    /* MOV to/from CR: always a register operand, whatever mod says. */
    d->op = b == 0x22 ? D_MOV_TO_CR : D_MOV_FROM_CR;
    d->cr = ((modrm >> 3) & 7u) | ((rex & 4u) << 1);
    d->gpr = (modrm & 7u) | ((rex & 1u) << 3);
    return d->cr == 0 || d->cr == 3 || d->cr == 4;
}

/* MOV to CR0 / CR4 / CLTS: the guest-visible value after the architecture's checks. */
static bool ctrl_write(struct vcpu *v, struct vcpu_shadow *sh, struct insn_ctx *c,
                       struct vcpu_exit *e, unsigned cr, uint64_t val)
{
    const struct gw_regs *r = &sh->s.regs;
    uint64_t cr0 = r->cr0, cr4 = r->cr4, efer = r->efer;
    bool gp = false;
    if (cr == 0) {
        val |= CR0_ET;
        gp = (val >> 32) != 0 || ((val & CR0_PG) && !(val & CR0_PE)) ||
             ((val & CR0_NW) && !(val & CR0_CD));
        if (!gp && (val & CR0_PG) && !(cr0 & CR0_PG) && (efer & EFER_LME)) {
            gp = !(cr4 & CR4_PAE);
            efer |= EFER_LMA;       /* long mode activates */
        }
        if (!gp && !(val & CR0_PG) && (cr0 & CR0_PG) && (efer & EFER_LMA)) {
            gp = c->mode64;         /* leave long mode only from compatibility mode */
            efer &= ~EFER_LMA;
        }
        cr0 = val;
    } else {
        gp = (val & ~CR4_ALLOWED) != 0 || ((efer & EFER_LMA) && !(val & CR4_PAE));
        cr4 = val;
    }
    if (gp) {
        inject(v, sh, GP_VECTOR, 0, 0);
        return true;
    }
    struct shadow_outcome o;
    shadow_write_ctrl(&sh->s, cr0, cr4, efer, &o);
    if (o.action == SHADOW_RESUME) {
        load_hw(v, sh);
        retire(v, c);
    }
    return outcome(v, sh, &o, e, VSH_CR_WRITE);
}

static bool cr_access(struct vcpu *v, struct vcpu_shadow *sh, struct vcpu_exit *e)
{
    struct insn_ctx c;
    struct decoded d;
    load_ctx(v, sh, &c);
    if (!decode(sh, &c, &d) || d.op == D_INVLPG)
        return false;
    const struct gw_regs *r = &sh->s.regs;
    uint64_t mask = c.mode64 ? ~0ull : 0xffffffffull;
    if (c.cpl != 0) {
        inject(v, sh, GP_VECTOR, 0, 0);
        return true;
    }
    if (d.op == D_MOV_FROM_CR) {
        uint64_t val = d.cr == 0 ? r->cr0 : d.cr == 3 ? r->cr3 : r->cr4;
        *gpr_slot(&c.st, d.gpr) = val & mask;
        retire(v, &c);
        sh->counts[VSH_CR_READ]++;
        return true;
    }
    if (d.op == D_CLTS)
        return ctrl_write(v, sh, &c, e, 0, r->cr0 & ~CR0_TS);
    uint64_t val = *gpr_slot(&c.st, d.gpr) & mask;
    if (d.cr != 3)
        return ctrl_write(v, sh, &c, e, d.cr, val);
    struct shadow_outcome o;
    shadow_write_cr3(&sh->s, val, &o);
    if (o.action == SHADOW_RESUME) {
        load_hw(v, sh);
        retire(v, &c);
    }
    return outcome(v, sh, &o, e, VSH_CR_WRITE);
}

static bool invlpg_exit(struct vcpu *v, struct vcpu_shadow *sh)
{
    struct insn_ctx c;
    struct decoded d;
    load_ctx(v, sh, &c);
    if (!decode(sh, &c, &d) || d.op != D_INVLPG)
        return false;
    shadow_invlpg(&sh->s, d.gva);
    retire(v, &c);
    sh->counts[VSH_INVLPG]++;
    return true;
}

/* RDMSR / WRMSR of EFER (2-byte instructions; the vmm never sees EFER in shadow mode). */
static bool efer_access(struct vcpu *v, struct vcpu_shadow *sh, struct vcpu_exit *e)
{
    struct insn_ctx c;
    load_ctx(v, sh, &c);
    c.len = 2;
    const struct gw_regs *r = &sh->s.regs;
    if (e->reason == HV_EXIT_MSR_READ) {
        c.st.rax = r->efer & 0xffffffffull;
        c.st.rdx = r->efer >> 32;
        retire(v, &c);
        sh->counts[VSH_EFER]++;
        return true;
    }
    uint64_t val = (c.st.rdx << 32) | (c.st.rax & 0xffffffffull);
    bool pg = (r->cr0 & CR0_PG) != 0;
    if ((val & ~(EFER_ALLOWED | EFER_LMA)) || (pg && ((val ^ r->efer) & EFER_LME))) {
        inject(v, sh, GP_VECTOR, 0, 0);
        return true;
    }
    uint64_t efer = (val & EFER_ALLOWED) | (r->efer & EFER_LMA);
    struct shadow_outcome o;
    shadow_write_ctrl(&sh->s, r->cr0, r->cr4, efer, &o);
    if (o.action == SHADOW_RESUME) {
        load_hw(v, sh);
        retire(v, &c);
    }
    return outcome(v, sh, &o, e, VSH_EFER);
}

bool vcpu_shadow_exit(struct vcpu *v, struct vcpu_exit *e)
{
    struct vcpu_shadow *sh = vsh(v);
    switch (e->reason) {
    case HV_EXIT_EXCEPTION: {
        if ((e->qualification & 0xffu) != PF_VECTOR)
            return false;
        struct hv_vcpu_state st;
        vcpu_arch_state_read(&v->arch, HV_MTD_RSP_RIP_RFLAGS, &st);
        struct shadow_outcome o;
        shadow_page_fault(&sh->s, e->address,
                          shadow_access((uint32_t)(e->qualification >> 32),
                                        (st.rflags & RFLAGS_AC) != 0),
                          &o);
        return outcome(v, sh, &o, e, VSH_PF_RESOLVED);
    }
    case HV_EXIT_CR_ACCESS:
        return cr_access(v, sh, e);
    case HV_EXIT_INVLPG:
        return invlpg_exit(v, sh);
    case HV_EXIT_MSR_READ:
    case HV_EXIT_MSR_WRITE:
        return e->qualification == MSR_EFER && efer_access(v, sh, e);
    default:
        return false;
    }
}

/* SPDX-License-Identifier: MIT */
/* insn: one trapped guest instruction through the emulator — the vCPU state in and out, guest memory, MMIO and ports as its callbacks. */
#include <string.h>

#include "gpt.h"
#include "hv/errors.h"
#include "vmm.h"
#include "vmm/emulate.h"

#define LOG_LIMIT 8u            /* unclaimed-MMIO and undecodable-instruction reports per VM */

struct insn_ctx {
    struct emu_ctx emu;         /* first: the callbacks get &emu */
    struct vmm *v;
    struct vmm_vcpu *c;
    struct hv_vcpu_vec vec;     /* as VCPU_READ_VEC gave it (load_vec) */
    uint64_t vec_err;           /* a failed READ_VEC: the VM stops */
};

static struct insn_ctx *outer(struct emu_ctx *e)
{
    return (struct insn_ctx *)(void *)e;
}

static int cb_translate(struct emu_ctx *e, uint64_t la, enum emu_access acc, bool user, struct emu_xlate *out,
                        struct emu_exception *exc)
{
    struct insn_ctx *x = outer(e);
    uint64_t gpa;
    int r = gpt_translate(&x->v->gm, &e->regs, la, acc, user, &gpa, exc);
    if (r != EMU_OK)
        return r;
    out->gpa = gpa;
    /* RAM: the rest of the 4 KiB page is in the window too. */
    out->hva = gmem_ptr(&x->v->gm, gpa, 4096u - (gpa & 4095u));
    return EMU_OK;
}

static void unclaimed(struct insn_ctx *x, const char *what, uint64_t gpa)
{
    if (x->v->unclaimed_mmio++ < LOG_LIMIT)
        vmm_log(x->v, "vcpu %u: MMIO %s at gpa 0x%lx (rip 0x%lx): no device there", x->c->index, what,
                (unsigned long)gpa, (unsigned long)x->c->st.rip);
}

static int cb_mmio_read(struct emu_ctx *e, uint64_t gpa, unsigned width, uint64_t *val)
{
    struct insn_ctx *x = outer(e);
    if (!vmm_platform_mmio_read(&x->v->plat, x->c->index, gpa, width, val))
        unclaimed(x, "read", gpa);
    return EMU_OK;
}

static int cb_mmio_write(struct emu_ctx *e, uint64_t gpa, unsigned width, uint64_t val)
{
    struct insn_ctx *x = outer(e);
    if (!vmm_platform_mmio_write(&x->v->plat, x->c->index, gpa, width, val))
        unclaimed(x, "write", gpa);
    return EMU_OK;
}

static int cb_pio_in(struct emu_ctx *e, uint16_t port, unsigned width, uint32_t *val)
{
    struct insn_ctx *x = outer(e);
    (void)vmm_platform_pio_read(&x->v->plat, x->c->index, port, width, val);
    return EMU_OK;
}

static int cb_pio_out(struct emu_ctx *e, uint16_t port, unsigned width, uint32_t val)
{
    struct insn_ctx *x = outer(e);
    (void)vmm_platform_pio_write(&x->v->plat, x->c->index, port, width, val);
    return EMU_OK;
}

/*
 * The guest's vector registers, fetched only when an instruction needs them (an SSE move
 * to or from MMIO: movdqu, movaps, movd/movq ...), from its thread's FXSAVE area. XMM0-15
 * only: cpuid.c hides AVX and XSAVE, so XCR0 is x87|SSE and the VEX forms are #UD, as on
 * a CPU without AVX. A changed register goes back with VCPU_WRITE_VEC (vmm_emulate).
 */
#define XCR0_X87 1ull

static int cb_load_vec(struct emu_ctx *e)
{
    struct insn_ctx *x = outer(e);
    x->vec_err = vmm_vcpu_vec_read(x->c->vcpu_cap, &x->vec);
    if (x->vec_err != HV_OK)
        return EMU_ABORT;
    for (unsigned i = 0; i < 16; i++) {
        memcpy(e->regs.vec[i].b, x->vec.xmm[i], 16);
        memset(&e->regs.vec[i].b[16], 0, 16);
    }
    e->regs.xcr0 = XCR0_X87 | EMU_XCR0_SSE;
    e->regs.vec_valid = true;
    return EMU_OK;
}

static const struct emu_ops ops = { cb_translate, cb_mmio_read, cb_mmio_write, cb_pio_in, cb_pio_out };

static void seg_in(struct emu_seg *d, const struct hv_segment *s)
{
    d->sel = s->selector;
    d->attr = s->attr;
    d->limit = s->limit;
    d->base = s->base;
}

static bool seg_out(struct hv_segment *d, const struct emu_seg *s)
{
    struct hv_segment n = { s->sel, (uint16_t)(s->attr & 0xffffu), s->limit, s->base };
    bool changed = memcmp(d, &n, sizeof(n)) != 0;
    *d = n;
    return changed;
}

static void regs_in(struct emu_regs *r, const struct hv_vcpu_state *s)
{
    memset(r, 0, sizeof(*r));
    const uint64_t g[EMU_NGPR] = { s->rax, s->rcx, s->rdx, s->rbx, s->rsp, s->rbp, s->rsi, s->rdi,
                                   s->r8,  s->r9,  s->r10, s->r11, s->r12, s->r13, s->r14, s->r15 };
    memcpy(r->gpr, g, sizeof(g));
    r->rip = s->rip;
    r->rflags = s->rflags;
    const struct hv_segment *segs[EMU_NSREG] = { &s->es, &s->cs, &s->ss, &s->ds, &s->fs, &s->gs };
    for (unsigned i = 0; i < EMU_NSREG; i++)
        seg_in(&r->seg[i], segs[i]);
    seg_in(&r->tr, &s->tr);
    seg_in(&r->ldtr, &s->ldtr);
    r->gdtr = (struct emu_dtr){ s->gdtr.base, (uint16_t)s->gdtr.limit };
    r->idtr = (struct emu_dtr){ s->idtr.base, (uint16_t)s->idtr.limit };
    r->cr0 = s->cr0;
    r->cr2 = s->cr2;
    r->cr3 = s->cr3;
    r->cr4 = s->cr4;
    r->efer = s->efer;
    r->cpl = (uint8_t)((s->ss.attr & EMU_SEG_DPL_MASK) >> EMU_SEG_DPL_SHIFT);
}

static void regs_out(struct hv_vcpu_state *s, const struct emu_regs *r)
{
    uint64_t *g[EMU_NGPR] = { &s->rax, &s->rcx, &s->rdx, &s->rbx, &s->rsp, &s->rbp, &s->rsi, &s->rdi,
                              &s->r8,  &s->r9,  &s->r10, &s->r11, &s->r12, &s->r13, &s->r14, &s->r15 };
    for (unsigned i = 0; i < EMU_NGPR; i++)
        *g[i] = r->gpr[i];
    s->rip = r->rip;
    s->rflags = r->rflags;
    s->mtd |= HV_MTD_GPR | HV_MTD_RSP_RIP_RFLAGS;
    struct hv_segment *segs[EMU_NSREG] = { &s->es, &s->cs, &s->ss, &s->ds, &s->fs, &s->gs };
    bool seg = false;
    for (unsigned i = 0; i < EMU_NSREG; i++)
        seg = seg_out(segs[i], &r->seg[i]) || seg;
    if (seg)
        s->mtd |= HV_MTD_SEG;
    if (s->gdtr.base != r->gdtr.base || s->gdtr.limit != r->gdtr.limit || s->idtr.base != r->idtr.base ||
        s->idtr.limit != r->idtr.limit) {
        s->gdtr = (struct hv_dtable){ r->gdtr.base, r->gdtr.limit };
        s->idtr = (struct hv_dtable){ r->idtr.base, r->idtr.limit };
        s->mtd |= HV_MTD_SYS_SEG;
    }
    if (s->cr0 != r->cr0 || s->cr3 != r->cr3 || s->cr4 != r->cr4 || s->efer != r->efer || s->cr2 != r->cr2) {
        s->cr0 = r->cr0;
        s->cr2 = r->cr2;
        s->cr3 = r->cr3;
        s->cr4 = r->cr4;
        s->efer = r->efer;
        s->mtd |= HV_MTD_CR;
    }
}

bool vmm_emulate(struct vmm *v, struct vmm_vcpu *c)
{
    struct insn_ctx x;
    memset(&x, 0, sizeof(x));
    x.v = v;
    x.c = c;
    x.emu.ops = &ops;
    x.emu.load_vec = cb_load_vec;
    regs_in(&x.emu.regs, &c->st);
    int r = emulate_one(&x.emu);
    if (x.vec_err != HV_OK) {
        vmm_log(v, "vcpu %u: VCPU_READ_VEC failed (error %lu)", c->index, (unsigned long)x.vec_err);
        vmm_stop_vm(v, VMM_STOP_FAULT, c, "the guest's vector registers cannot be read");
        return false;
    }
    switch (r) {
    case EMU_OK:
        if (x.emu.regs.vec_dirty) {
            for (unsigned i = 0; i < 16; i++)
                memcpy(x.vec.xmm[i], x.emu.regs.vec[i].b, 16);
            uint64_t err = vmm_vcpu_vec_write(c->vcpu_cap, &x.vec);
            if (err != HV_OK) {
                vmm_log(v, "vcpu %u: VCPU_WRITE_VEC failed (error %lu)", c->index, (unsigned long)err);
                vmm_stop_vm(v, VMM_STOP_FAULT, c, "the guest's vector registers cannot be written");
                return false;
            }
        }
        regs_out(&c->st, &x.emu.regs);
        /* An emulated instruction ends any STI/MOV SS shadow, as executing it would. */
        if ((c->st.intr_state & HV_INTR_SHADOW) != 0) {
            c->st.intr_state &= ~(uint64_t)HV_INTR_SHADOW;
            c->st.mtd |= HV_MTD_INJECT;
        }
        return true;
    case EMU_EXCEPTION:
        if (x.emu.exc.vector == EMU_VEC_UD && v->unclaimed_mmio++ < LOG_LIMIT)
            vmm_log(v, "vcpu %u: cannot emulate the instruction at rip 0x%lx (exit %s, gpa 0x%lx): #UD injected",
                    c->index, (unsigned long)c->st.rip, vmm_exit_name(c->reason), (unsigned long)c->addr);
        if (x.emu.exc.vector == EMU_VEC_PF) {
            c->st.cr2 = x.emu.exc.cr2;
            c->st.mtd |= HV_MTD_CR;
        }
        vmm_inject_exception(c, x.emu.exc.vector, x.emu.exc.has_error_code, x.emu.exc.error_code);
        return true;
    default:
        return true;    /* EMU_ABORT: our callbacks never abort; re-run the instruction */
    }
}

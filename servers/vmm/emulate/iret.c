/* SPDX-License-Identifier: MIT */
/* iret: iret/iretd/iretq — real mode, virtual-8086 with IOPL 3, protected-mode returns to the same or an outer privilege level, and long mode. */
#include "emu_internal.h"

/* RFLAGS bits IRET loads whatever the privilege: CF PF AF ZF SF TF DF OF NT; plus RF AC ID
 * with a 32/64-bit operand size. IF needs CPL <= IOPL; IOPL, VIF and VIP need CPL 0. */
#define IRET_FLAGS16 (EMU_FL_ARITH | EMU_FL_TF | EMU_FL_DF | EMU_FL_NT)
#define IRET_FLAGS32 (IRET_FLAGS16 | EMU_FL_RF | EMU_FL_AC | EMU_FL_ID)
#define FLAGS_RESERVED_ONE EMU_FL_FIXED1

static int gp(struct emu_ctx *ctx, uint16_t sel)
{
    return emu_raise(ctx, EMU_VEC_GP, true, sel & 0xfffcu);
}

/* real: real or virtual-8086 mode, where VIF and VIP are kept. */
static uint64_t new_flags(const struct emu_ctx *ctx, uint64_t popped, unsigned osz, unsigned cpl, bool real)
{
    uint64_t old = ctx->regs.rflags;
    unsigned iopl = (unsigned)((old & EMU_FL_IOPL) >> EMU_FL_IOPL_SHIFT);
    uint64_t m = osz == 2 ? IRET_FLAGS16 : IRET_FLAGS32;
    if (cpl <= iopl)
        m |= EMU_FL_IF;
    if (cpl == 0) {
        m |= EMU_FL_IOPL;
        if (osz != 2 && !real)
            m |= EMU_FL_VIF | EMU_FL_VIP;
    }
    return (old & ~m) | (popped & m) | FLAGS_RESERVED_ONE;
}

/* Real mode, or virtual-8086 mode with IOPL 3 (IOPL < 3 there is #GP(0)). */
static int iret_real(struct emu_ctx *ctx, const struct emu_insn *insn, bool v86)
{
    struct emu_regs *r = &ctx->regs;
    unsigned osz = insn->opsize;
    uint64_t sm = emu_size_mask(insn->stacksize), sp = r->gpr[EMU_RSP], v[3];
    if (v86 && (r->rflags & EMU_FL_IOPL) != EMU_FL_IOPL)
        return gp(ctx, 0);
    for (unsigned i = 0; i < 3; i++) {
        int rc = emu_read(ctx, (struct emu_addr){ EMU_SS, (sp + (uint64_t)i * osz) & sm }, osz, &v[i]);
        if (rc != EMU_OK)
            return rc;
    }
    if (v[0] > 0xffff || v[0] > r->seg[EMU_CS].limit)
        return gp(ctx, 0);
    r->rflags = new_flags(ctx, v[2], osz, v86 ? 3 : 0, true);
    r->seg[EMU_CS].sel = (uint16_t)v[1];
    r->seg[EMU_CS].base = (uint64_t)(uint16_t)v[1] << 4;
    r->rip = v[0];
    r->gpr[EMU_RSP] = (sp & ~sm) | ((sp + 3ull * osz) & sm);
    return EMU_OK;
}

/* The stack segment an outer-level (or 64-bit mode) return loads. */
static int load_ss(struct emu_ctx *ctx, uint16_t sel, unsigned rpl, bool to64, struct emu_seg *ss)
{
    uint64_t d = 0, at = 0;
    int rc;
    if ((sel & 0xfffc) == 0) {
        if (!to64 || rpl == 3)
            return gp(ctx, 0);
        *ss = (struct emu_seg){ .sel = sel, .attr = EMU_SEG_UNUSABLE | ((uint32_t)rpl << EMU_SEG_DPL_SHIFT) };
        return EMU_OK;
    }
    if ((rc = emu_read_desc(ctx, sel, &d, &at)) != EMU_OK)
        return rc;
    struct emu_seg s = emu_seg_from_desc(sel, d);
    unsigned dpl = (s.attr & EMU_SEG_DPL_MASK) >> EMU_SEG_DPL_SHIFT;
    if ((sel & 3) != rpl || dpl != rpl || !(s.attr & EMU_SEG_S) || (s.attr & EMU_SEG_TYPE_CODE) ||
        !(s.attr & EMU_SEG_TYPE_WR))
        return gp(ctx, sel);
    if (!(s.attr & EMU_SEG_P))
        return emu_raise(ctx, EMU_VEC_SS, true, sel & 0xfffcu);
    if ((rc = emu_mark_accessed(ctx, &d, at)) != EMU_OK)
        return rc;
    *ss = emu_seg_from_desc(sel, d);
    return EMU_OK;
}

/* Returning to an outer level: data segments the new CPL may not use become null. */
static void null_inaccessible(struct emu_regs *r)
{
    static const enum emu_sreg segs[] = { EMU_ES, EMU_DS, EMU_FS, EMU_GS };
    for (unsigned i = 0; i < 4; i++) {
        struct emu_seg *s = &r->seg[segs[i]];
        unsigned dpl = (s->attr & EMU_SEG_DPL_MASK) >> EMU_SEG_DPL_SHIFT;
        bool conforming_code = (s->attr & EMU_SEG_TYPE_CODE) && (s->attr & EMU_SEG_TYPE_EXPDN);
        if (!(s->attr & EMU_SEG_UNUSABLE) && !conforming_code && dpl < r->cpl) {
            s->sel = 0;
            s->attr = EMU_SEG_UNUSABLE;
        }
    }
}

static int iret_prot(struct emu_ctx *ctx, const struct emu_insn *insn, enum emu_mode mode)
{
    struct emu_regs *r = &ctx->regs;
    unsigned osz = insn->opsize, cpl = r->cpl;
    bool lma = (r->efer & EMU_EFER_LMA) != 0;
    uint64_t sm = emu_size_mask(insn->stacksize), sp = r->gpr[EMU_RSP], v[5] = { 0 };
    uint64_t d = 0, at = 0;
    int rc;

    if (r->rflags & EMU_FL_NT)
        return lma ? gp(ctx, 0) : emu_raise(ctx, EMU_VEC_UD, false, 0);   /* task return: not emulated */
    for (unsigned i = 0; i < 3; i++)
        if ((rc = emu_read(ctx, (struct emu_addr){ EMU_SS, (sp + (uint64_t)i * osz) & sm }, osz, &v[i])) != EMU_OK)
            return rc;
    if (!lma && osz == 4 && (v[2] & EMU_FL_VM) && cpl == 0)
        return emu_raise(ctx, EMU_VEC_UD, false, 0);   /* return to virtual-8086 mode: not emulated */
    uint16_t sel = (uint16_t)v[1];
    unsigned rpl = sel & 3;
    if ((sel & 0xfffc) == 0)
        return gp(ctx, 0);
    if ((rc = emu_read_desc(ctx, sel, &d, &at)) != EMU_OK)
        return rc;
    struct emu_seg cs = emu_seg_from_desc(sel, d);
    unsigned dpl = (cs.attr & EMU_SEG_DPL_MASK) >> EMU_SEG_DPL_SHIFT;
    if (rpl < cpl || !(cs.attr & EMU_SEG_S) || !(cs.attr & EMU_SEG_TYPE_CODE))
        return gp(ctx, sel);
    if ((cs.attr & EMU_SEG_TYPE_EXPDN) ? dpl > rpl : dpl != rpl)
        return gp(ctx, sel);
    if (!(cs.attr & EMU_SEG_P))
        return emu_raise(ctx, EMU_VEC_NP, true, sel & 0xfffcu);
    bool to64 = lma && (cs.attr & EMU_SEG_L);
    if (lma && (cs.attr & EMU_SEG_L) && (cs.attr & EMU_SEG_DB))
        return gp(ctx, sel);
    uint64_t rip = v[0] & emu_size_mask(osz);
    bool outer = rpl > cpl || mode == EMU_MODE_LONG64;   /* 64-bit mode always pops SS:RSP */
    struct emu_seg ss = r->seg[EMU_SS];
    if (outer) {
        for (unsigned i = 3; i < 5; i++)
            if ((rc = emu_read(ctx, (struct emu_addr){ EMU_SS, (sp + (uint64_t)i * osz) & sm }, osz, &v[i])) != EMU_OK)
                return rc;
        if ((rc = load_ss(ctx, (uint16_t)v[4], rpl, to64, &ss)) != EMU_OK)
            return rc;
    }
    if (to64 ? (uint64_t)((int64_t)(rip << 16) >> 16) != rip : rip > cs.limit)
        return gp(ctx, 0);
    if ((rc = emu_mark_accessed(ctx, &d, at)) != EMU_OK)
        return rc;
    r->rflags = new_flags(ctx, v[2], osz, cpl, false);
    cs.attr |= 1u;   /* accessed */
    r->seg[EMU_CS] = cs;
    r->rip = rip;
    if (outer) {
        r->seg[EMU_SS] = ss;
        r->gpr[EMU_RSP] = mode == EMU_MODE_LONG64 || osz == 8 ? v[3] & emu_size_mask(osz)
                                                                : (sp & ~emu_size_mask(osz)) | (v[3] & emu_size_mask(osz));
        r->cpl = (uint8_t)rpl;
        if (rpl > cpl)
            null_inaccessible(r);
    } else {
        r->gpr[EMU_RSP] = (sp & ~sm) | ((sp + 3ull * osz) & sm);
    }
    return EMU_OK;
}

int emu_exec_iret(struct emu_ctx *ctx, const struct emu_insn *insn, enum emu_mode mode)
{
    if (insn->opsize != 2 && insn->opsize != 4 && insn->opsize != 8)
        return emu_raise(ctx, EMU_VEC_UD, false, 0);
    if (mode == EMU_MODE_REAL || mode == EMU_MODE_VM86)
        return iret_real(ctx, insn, mode == EMU_MODE_VM86);
    return iret_prot(ctx, insn, mode);
}

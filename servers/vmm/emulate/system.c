/* SPDX-License-Identifier: MIT */
/* system: what a guest runs to leave real mode — CR moves, lgdt/lidt, segment loads, far jumps — and the I/O permission check. */
#include "emu_internal.h"

#define CR0_TS   (1ull << 3)
#define CR0_NW   (1ull << 29)
#define CR0_CD   (1ull << 30)
#define CR0_MBZ  0xffffffff00000000ull
#define CR4_MBZ  0xffffffffff800000ull   /* bits 23..63 (CET and later left out: refused) */
#define CR4_UMIP (1ull << 11)
#define CR8_MBZ  0xfffffffffffffff0ull
#define TSS_IOMAP_OFF 102u
#define TSS_MIN_LIMIT 103u

/* Descriptor fields (bits of the 8-byte descriptor). */
#define DESC_ATTR(d)  ((uint32_t)(((d) >> 40) & 0xff) | (uint32_t)(((d) >> 44) & 0xf00))
#define DESC_LIMIT(d) ((uint32_t)(((d) & 0xffff) | (((d) >> 32) & 0xf0000)))
#define DESC_BASE(d)  ((((d) >> 16) & 0xffffff) | (((d) >> 32) & 0xff000000))
#define DESC_ACCESSED (1ull << 40)

static bool privileged_ok(const struct emu_ctx *ctx, enum emu_mode mode)
{
    return mode == EMU_MODE_REAL || (mode != EMU_MODE_VM86 && ctx->regs.cpl == 0);
}

/* CPL > IOPL (or virtual-8086 mode): the TSS I/O permission bitmap decides. */
int emu_port_allowed(struct emu_ctx *ctx, enum emu_mode mode, uint16_t port, unsigned width)
{
    const struct emu_regs *r = &ctx->regs;
    unsigned iopl = (unsigned)((r->rflags & EMU_FL_IOPL) >> EMU_FL_IOPL_SHIFT);
    uint8_t b[2] = { 0 };
    int rc;
    if (mode == EMU_MODE_REAL || (mode != EMU_MODE_VM86 && r->cpl <= iopl))
        return EMU_OK;
    unsigned type = r->tr.attr & EMU_SEG_TYPE_MASK;
    if ((r->tr.attr & EMU_SEG_UNUSABLE) || (type != 9 && type != 11) || r->tr.limit < TSS_MIN_LIMIT)
        return emu_raise(ctx, EMU_VEC_GP, true, 0);
    if ((rc = emu_read_la(ctx, r->tr.base + TSS_IOMAP_OFF, b, 2, EMU_ACC_READ, false)) != EMU_OK)
        return rc;
    uint64_t off = (uint64_t)(b[0] | (b[1] << 8)) + port / 8;
    if (off + 1 > r->tr.limit)
        return emu_raise(ctx, EMU_VEC_GP, true, 0);
    if ((rc = emu_read_la(ctx, r->tr.base + off, b, 2, EMU_ACC_READ, false)) != EMU_OK)
        return rc;
    unsigned bits = (unsigned)(b[0] | (b[1] << 8)) >> (port & 7);
    if (bits & ((1u << width) - 1))
        return emu_raise(ctx, EMU_VEC_GP, true, 0);
    return EMU_OK;
}

static int gp0(struct emu_ctx *ctx)
{
    return emu_raise(ctx, EMU_VEC_GP, true, 0);
}

static int write_cr(struct emu_ctx *ctx, unsigned cr, uint64_t v, enum emu_mode mode)
{
    struct emu_regs *r = &ctx->regs;
    switch (cr) {
    case 0: {
        if (v & CR0_MBZ)
            return gp0(ctx);
        v |= 1ull << 4;   /* ET is hardwired to 1 */
        if (((v & EMU_CR0_PG) && !(v & EMU_CR0_PE)) || ((v & CR0_NW) && !(v & CR0_CD)))
            return gp0(ctx);
        bool pg_on = (v & EMU_CR0_PG) && !(r->cr0 & EMU_CR0_PG);
        bool pg_off = !(v & EMU_CR0_PG) && (r->cr0 & EMU_CR0_PG);
        if (pg_on && (r->efer & EMU_EFER_LME)) {
            if (!(r->cr4 & EMU_CR4_PAE))
                return gp0(ctx);
            r->efer |= EMU_EFER_LMA;
        }
        if (pg_off && (r->efer & EMU_EFER_LMA)) {
            if (mode == EMU_MODE_LONG64)
                return gp0(ctx);
            r->efer &= ~EMU_EFER_LMA;
        }
        r->cr0 = v;
        return EMU_OK;
    }
    case 2:
        r->cr2 = v;
        return EMU_OK;
    case 3:
        r->cr3 = v;   /* reserved physical-address bits: the vmm checks against its MAXPHYADDR */
        return EMU_OK;
    case 4:
        if ((v & CR4_MBZ) || ((r->efer & EMU_EFER_LMA) && !(v & EMU_CR4_PAE)))
            return gp0(ctx);
        r->cr4 = v;
        return EMU_OK;
    case 8:
        if (v & CR8_MBZ)
            return gp0(ctx);
        r->cr8 = v;
        return EMU_OK;
    default:
        return emu_raise(ctx, EMU_VEC_UD, false, 0);
    }
}

static int mov_cr(struct emu_ctx *ctx, const struct emu_insn *insn, enum emu_mode mode)
{
    const struct emu_opnd *d = &insn->o[0], *s = &insn->o[1];
    unsigned size = mode == EMU_MODE_LONG64 ? 8 : 4;
    unsigned cr = d->kind == OPND_CR ? d->reg : s->reg;
    if (cr == 1 || (cr > 4 && cr != 8) || (cr == 8 && mode != EMU_MODE_LONG64))
        return emu_raise(ctx, EMU_VEC_UD, false, 0);
    if (!privileged_ok(ctx, mode))
        return gp0(ctx);
    if (d->kind == OPND_CR)
        return write_cr(ctx, cr, emu_get_reg(ctx, s->reg, false, size), mode);
    const uint64_t *src[] = { &ctx->regs.cr0, NULL, &ctx->regs.cr2, &ctx->regs.cr3, &ctx->regs.cr4,
                              NULL, NULL, NULL, &ctx->regs.cr8 };
    emu_set_reg(ctx, d->reg, false, size, *src[cr]);
    return EMU_OK;
}

static int load_dtr(struct emu_ctx *ctx, const struct emu_insn *insn, enum emu_mode mode,
                    struct emu_dtr *dtr)
{
    uint8_t b[10] = { 0 };
    uint64_t la;
    unsigned bsize = mode == EMU_MODE_LONG64 ? 8 : 4;
    int rc;
    if (insn->o[0].kind != OPND_MEM)
        return emu_raise(ctx, EMU_VEC_UD, false, 0);
    if (!privileged_ok(ctx, mode))
        return gp0(ctx);
    if ((rc = emu_linear(ctx, emu_ea(ctx, insn, &insn->o[0]), 2 + bsize, EMU_ACC_READ, &la)) != EMU_OK ||
        (rc = emu_read_la(ctx, la, b, 2 + bsize, EMU_ACC_READ, ctx->regs.cpl == 3)) != EMU_OK)
        return rc;
    uint64_t base = 0;
    for (unsigned i = 0; i < bsize; i++)
        base |= (uint64_t)b[2 + i] << (8 * i);
    if (insn->opsize == 2 && mode != EMU_MODE_LONG64)
        base &= 0xffffff;   /* 16-bit operand size: a 24-bit base */
    dtr->limit = (uint16_t)(b[0] | (b[1] << 8));
    dtr->base = base;
    return EMU_OK;
}

/* Reads the descriptor a non-null selector names (#GP(selector) if outside its table). */
int emu_read_desc(struct emu_ctx *ctx, uint16_t sel, uint64_t *desc, uint64_t *at)
{
    const struct emu_regs *r = &ctx->regs;
    uint64_t base = r->gdtr.base, limit = r->gdtr.limit;
    uint8_t b[8] = { 0 };
    int rc;
    if (sel & 4) {
        if (r->ldtr.attr & EMU_SEG_UNUSABLE)
            return emu_raise(ctx, EMU_VEC_GP, true, sel & 0xfffc);
        base = r->ldtr.base;
        limit = r->ldtr.limit;
    }
    if ((uint64_t)(sel & 0xfff8) + 7 > limit)
        return emu_raise(ctx, EMU_VEC_GP, true, sel & 0xfffc);
    *at = base + (sel & 0xfff8);
    if (emu_mode(r) != EMU_MODE_LONG64)
        *at &= 0xffffffffull;
    if ((rc = emu_read_la(ctx, *at, b, 8, EMU_ACC_READ, false)) != EMU_OK)
        return rc;
    *desc = 0;
    for (unsigned i = 0; i < 8; i++)
        *desc |= (uint64_t)b[i] << (8 * i);
    return EMU_OK;
}

/* Sets the accessed bit as the CPU does when it loads a descriptor. */
int emu_mark_accessed(struct emu_ctx *ctx, uint64_t *desc, uint64_t at)
{
    if (*desc & DESC_ACCESSED)
        return EMU_OK;
    *desc |= DESC_ACCESSED;
    uint8_t b = (uint8_t)(*desc >> 40);
    return emu_write_la(ctx, at + 5, &b, 1, false);
}

struct emu_seg emu_seg_from_desc(uint16_t sel, uint64_t d)
{
    uint32_t attr = DESC_ATTR(d), limit = DESC_LIMIT(d);
    if (attr & EMU_SEG_G)
        limit = (limit << 12) | 0xfff;
    return (struct emu_seg){ .sel = sel, .attr = attr, .limit = limit, .base = DESC_BASE(d) };
}

static int load_sreg(struct emu_ctx *ctx, enum emu_sreg s, uint16_t sel, enum emu_mode mode)
{
    struct emu_regs *r = &ctx->regs;
    uint64_t d = 0, at = 0;
    int rc;
    if (mode == EMU_MODE_REAL || mode == EMU_MODE_VM86) {
        r->seg[s].sel = sel;
        r->seg[s].base = (uint64_t)sel << 4;
        return EMU_OK;
    }
    unsigned rpl = sel & 3, cpl = r->cpl;
    if ((sel & 0xfffc) == 0) {
        if (s == EMU_SS && !(mode == EMU_MODE_LONG64 && cpl < 3 && rpl == cpl))
            return gp0(ctx);
        r->seg[s] = (struct emu_seg){ .sel = sel, .attr = EMU_SEG_UNUSABLE };
        return EMU_OK;
    }
    if ((rc = emu_read_desc(ctx, sel, &d, &at)) != EMU_OK)
        return rc;
    uint32_t attr = DESC_ATTR(d);
    unsigned dpl = (attr & EMU_SEG_DPL_MASK) >> EMU_SEG_DPL_SHIFT;
    bool code = attr & EMU_SEG_TYPE_CODE, wr = attr & EMU_SEG_TYPE_WR;
    bool conforming = code && (attr & EMU_SEG_TYPE_EXPDN);
    if (!(attr & EMU_SEG_S))
        return emu_raise(ctx, EMU_VEC_GP, true, sel & 0xfffc);
    if (s == EMU_SS) {
        if (rpl != cpl || code || !wr || dpl != cpl)
            return emu_raise(ctx, EMU_VEC_GP, true, sel & 0xfffc);
        if (!(attr & EMU_SEG_P))
            return emu_raise(ctx, EMU_VEC_SS, true, sel & 0xfffc);
    } else {
        if (code && !wr)
            return emu_raise(ctx, EMU_VEC_GP, true, sel & 0xfffc);
        if (!conforming && (dpl < cpl || dpl < rpl))
            return emu_raise(ctx, EMU_VEC_GP, true, sel & 0xfffc);
        if (!(attr & EMU_SEG_P))
            return emu_raise(ctx, EMU_VEC_NP, true, sel & 0xfffc);
    }
    if ((rc = emu_mark_accessed(ctx, &d, at)) != EMU_OK)
        return rc;
    r->seg[s] = emu_seg_from_desc(sel, d);
    return EMU_OK;
}

static int mov_sreg(struct emu_ctx *ctx, const struct emu_insn *insn, enum emu_mode mode)
{
    const struct emu_opnd *d = &insn->o[0], *s = &insn->o[1];
    uint64_t v = 0;
    if (d->kind == OPND_SREG) {
        if (d->reg == EMU_CS || d->reg >= EMU_NSREG)
            return emu_raise(ctx, EMU_VEC_UD, false, 0);
        if (s->kind == OPND_REG) {
            v = emu_get_reg(ctx, s->reg, false, 2);
        } else {
            int rc = emu_read(ctx, emu_ea(ctx, insn, s), 2, &v);
            if (rc != EMU_OK)
                return rc;
        }
        return load_sreg(ctx, (enum emu_sreg)d->reg, (uint16_t)v, mode);
    }
    if (s->reg >= EMU_NSREG)
        return emu_raise(ctx, EMU_VEC_UD, false, 0);
    v = ctx->regs.seg[s->reg].sel;
    if (d->kind == OPND_REG) {
        emu_set_reg(ctx, d->reg, false, insn->opsize < 2 ? 2 : insn->opsize, v);
        return EMU_OK;
    }
    return emu_write(ctx, emu_ea(ctx, insn, d), 2, v);
}

static int jmp_far(struct emu_ctx *ctx, const struct emu_insn *insn, enum emu_mode mode)
{
    struct emu_regs *r = &ctx->regs;
    const struct emu_opnd *o = &insn->o[0];
    unsigned osz = insn->opsize;
    uint64_t off = 0, d = 0, at = 0;
    uint16_t sel;
    int rc;
    if (o->kind == OPND_PTR) {
        off = o->imm;
        sel = o->ptr_sel;
    } else {
        uint64_t v = 0;
        struct emu_addr a = emu_ea(ctx, insn, o);
        if ((rc = emu_read(ctx, a, osz, &off)) != EMU_OK)
            return rc;
        a.ea = (a.ea + osz) & emu_addr_mask(insn->addrsize);
        if ((rc = emu_read(ctx, a, 2, &v)) != EMU_OK)
            return rc;
        sel = (uint16_t)v;
    }
    off &= emu_size_mask(osz);
    if (mode == EMU_MODE_REAL || mode == EMU_MODE_VM86) {
        if (off > r->seg[EMU_CS].limit)
            return gp0(ctx);
        r->seg[EMU_CS].sel = sel;
        r->seg[EMU_CS].base = (uint64_t)sel << 4;
        r->rip = off;
        return EMU_OK;
    }
    if ((sel & 0xfffc) == 0)
        return gp0(ctx);
    if ((rc = emu_read_desc(ctx, sel, &d, &at)) != EMU_OK)
        return rc;
    uint32_t attr = DESC_ATTR(d);
    unsigned dpl = (attr & EMU_SEG_DPL_MASK) >> EMU_SEG_DPL_SHIFT, rpl = sel & 3;
    if (!(attr & EMU_SEG_S) || !(attr & EMU_SEG_TYPE_CODE))
        return emu_raise(ctx, EMU_VEC_UD, false, 0);   /* call gates and task switches: not emulated */
    if (attr & EMU_SEG_TYPE_EXPDN) {
        if (dpl > r->cpl)
            return emu_raise(ctx, EMU_VEC_GP, true, sel & 0xfffc);
    } else if (rpl > r->cpl || dpl != r->cpl) {
        return emu_raise(ctx, EMU_VEC_GP, true, sel & 0xfffc);
    }
    if (!(attr & EMU_SEG_P))
        return emu_raise(ctx, EMU_VEC_NP, true, sel & 0xfffc);
    bool lma = r->efer & EMU_EFER_LMA;
    if (lma && (attr & EMU_SEG_L) && (attr & EMU_SEG_DB))
        return emu_raise(ctx, EMU_VEC_GP, true, sel & 0xfffc);
    struct emu_seg cs = emu_seg_from_desc((uint16_t)((sel & ~3u) | r->cpl), d);
    bool to64 = lma && (attr & EMU_SEG_L);
    if (!to64 && off > cs.limit)
        return gp0(ctx);
    if (to64 && (uint64_t)((int64_t)(off << 16) >> 16) != off)
        return gp0(ctx);
    if ((rc = emu_mark_accessed(ctx, &d, at)) != EMU_OK)
        return rc;
    cs.attr |= (uint32_t)(DESC_ACCESSED >> 40);
    r->seg[EMU_CS] = cs;
    r->rip = off;
    return EMU_OK;
}

int emu_system(struct emu_ctx *ctx, const struct emu_insn *insn, enum emu_mode mode)
{
    struct emu_regs *r = &ctx->regs;
    switch (insn->op) {
    case OP_MOV_CR:
        return mov_cr(ctx, insn, mode);
    case OP_LGDT:
        return load_dtr(ctx, insn, mode, &r->gdtr);
    case OP_LIDT:
        return load_dtr(ctx, insn, mode, &r->idtr);
    case OP_MOV_SREG:
        return mov_sreg(ctx, insn, mode);
    case OP_JMP_FAR:
        return jmp_far(ctx, insn, mode);
    case OP_CLTS:
        if (!privileged_ok(ctx, mode))
            return gp0(ctx);
        r->cr0 &= ~CR0_TS;
        return EMU_OK;
    case OP_LMSW: {
        uint64_t v = 0;
        int rc;
        if (!privileged_ok(ctx, mode))
            return gp0(ctx);
        if (insn->o[0].kind == OPND_REG)
            v = emu_get_reg(ctx, insn->o[0].reg, false, 2);
        else if ((rc = emu_read(ctx, emu_ea(ctx, insn, &insn->o[0]), 2, &v)) != EMU_OK)
            return rc;
        /* Bits 0..3 (PE, MP, EM, TS); PE can be set, not cleared. */
        r->cr0 = (r->cr0 & ~0xeull) | (v & 0xe) | ((v | r->cr0) & 1);
        return EMU_OK;
    }
    case OP_SMSW:
        if ((r->cr4 & CR4_UMIP) && r->cpl > 0 && mode != EMU_MODE_REAL)
            return gp0(ctx);
        if (insn->o[0].kind == OPND_REG) {
            emu_set_reg(ctx, insn->o[0].reg, false, insn->opsize, r->cr0);
            return EMU_OK;
        }
        return emu_write(ctx, emu_ea(ctx, insn, &insn->o[0]), 2, r->cr0 & 0xffff);
    default:
        return emu_raise(ctx, EMU_VEC_UD, false, 0);
    }
}

/* SPDX-License-Identifier: MIT */
/* regs: the execution mode, the register file's read and write rules, and operand access. */
#include "emu_internal.h"

enum emu_mode emu_mode(const struct emu_regs *r)
{
    if (!(r->cr0 & EMU_CR0_PE))
        return EMU_MODE_REAL;
    if ((r->efer & EMU_EFER_LMA) && (r->seg[EMU_CS].attr & EMU_SEG_L))
        return EMU_MODE_LONG64;
    if (!(r->efer & EMU_EFER_LMA) && (r->rflags & EMU_FL_VM))
        return EMU_MODE_VM86;
    return (r->seg[EMU_CS].attr & EMU_SEG_DB) ? EMU_MODE_PROT32 : EMU_MODE_PROT16;
}

uint64_t emu_get_reg(const struct emu_ctx *ctx, unsigned reg, bool high8, unsigned size)
{
    uint64_t v = ctx->regs.gpr[reg & 15];
    if (high8)
        return (v >> 8) & 0xff;
    return v & emu_size_mask(size);
}

/* Writes as the CPU does: 8/16-bit writes merge, 32-bit writes zero-extend. */
void emu_set_reg(struct emu_ctx *ctx, unsigned reg, bool high8, unsigned size, uint64_t val)
{
    uint64_t *p = &ctx->regs.gpr[reg & 15];
    if (high8)
        *p = (*p & ~0xff00ull) | ((val & 0xff) << 8);
    else if (size == 1)
        *p = (*p & ~0xffull) | (val & 0xff);
    else if (size == 2)
        *p = (*p & ~0xffffull) | (val & 0xffff);
    else if (size == 4)
        *p = val & 0xffffffffull;
    else
        *p = val;
}

int emu_read_opnd(struct emu_ctx *ctx, const struct emu_insn *insn, const struct emu_opnd *o,
                     unsigned size, uint64_t *val)
{
    switch (o->kind) {
    case OPND_REG:
        *val = emu_get_reg(ctx, o->reg, o->high8, size);
        return EMU_OK;
    case OPND_IMM:
        *val = o->imm & emu_size_mask(size);
        return EMU_OK;
    case OPND_MEM:
        return emu_read(ctx, emu_ea(ctx, insn, o), size, val);
    default:
        return emu_raise(ctx, EMU_VEC_UD, false, 0);
    }
}

int emu_write_opnd(struct emu_ctx *ctx, const struct emu_insn *insn, const struct emu_opnd *o,
                      unsigned size, uint64_t val)
{
    switch (o->kind) {
    case OPND_REG:
        emu_set_reg(ctx, o->reg, o->high8, size, val);
        return EMU_OK;
    case OPND_MEM:
        return emu_write(ctx, emu_ea(ctx, insn, o), size, val);
    default:
        return emu_raise(ctx, EMU_VEC_UD, false, 0);
    }
}

/* --- read-modify-write through emu_rmw (atomic when locked) --- */
